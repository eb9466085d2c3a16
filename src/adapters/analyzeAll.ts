// Every service systemd has loaded, with its exposure: `systemd-analyze security --json=short`
// with no unit scores them all in one run. Parsing is the core's (core/scan.ts).
import { AutohardenError } from '../core/errors.js';
import { parseAnalyzeListing, type ListedUnit } from '../core/scan.js';
import { run } from './exec.js';

const TIMEOUT_MS = 120_000;
const MAX_BYTES = 4 << 20;

export async function exposureListing(): Promise<ListedUnit[]> {
  const r = await run('systemd-analyze', ['security', '--no-pager', '--json=short'], { LANG: 'C.UTF-8', SYSTEMD_COLORS: '0' }, TIMEOUT_MS, MAX_BYTES);
  const rows = r.code === 0 ? parseAnalyzeListing(r.stdout) : undefined;
  if (!rows) throw new AutohardenError('Failed', `systemd-analyze security printed no readable listing: ${(r.stderr || r.stdout).trim().split('\n').at(-1)?.slice(0, 200) ?? ''}`);
  return rows;
}
