// The unit's log lines (systemd's own messages about it and the service's output) since a time.
import { run } from './exec.js';

export async function unitLogsSince(unit: string, since: Date, max = 200): Promise<string[]> {
  const r = await run('journalctl', [
    '--no-pager', '-q', '-o', 'cat', '-n', String(max), '-u', unit, `--since=@${(since.getTime() / 1000).toFixed(6)}`,
  ]);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '') : [];
}

/** The unit's last lines, whatever their time: the baseline of what it logs when healthy. */
export async function recentUnitLogs(unit: string, max = 1000): Promise<string[]> {
  const r = await run('journalctl', ['--no-pager', '-q', '-o', 'cat', '-n', String(max), '-u', unit]);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '') : [];
}
