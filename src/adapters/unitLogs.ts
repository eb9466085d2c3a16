// The unit's log lines (systemd's own messages about it and the service's output) since a time.
import { run } from './exec.js';

export async function unitLogsSince(unit: string, since: Date, max = 200): Promise<string[]> {
  const r = await run('journalctl', [
    '--no-pager', '-q', '-o', 'cat', '-n', String(max), '-u', unit, `--since=@${(since.getTime() / 1000).toFixed(6)}`,
  ]);
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '') : [];
}
