// The unit's log lines (systemd's own messages about it and the service's output).
import { run } from './exec.js';

async function journalLines(unit: string, max: number, extra: string[] = []): Promise<string[]> {
  const r = await run('journalctl', ['--no-pager', '-q', '-o', 'cat', '-n', String(max), '-u', unit, ...extra]);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '') : [];
}

/** Lines since a time: what one trial made the unit log. */
export function unitLogsSince(unit: string, since: Date, max = 200): Promise<string[]> {
  return journalLines(unit, max, [`--since=@${(since.getTime() / 1000).toFixed(6)}`]);
}

/** The unit's last lines, whatever their time: the baseline of what it logs when healthy. */
export function recentUnitLogs(unit: string, max = 1000): Promise<string[]> {
  return journalLines(unit, max);
}
