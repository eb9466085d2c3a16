// The exposure score, exactly as `systemd-analyze security UNIT` prints it (online, as systemd
// sees the loaded unit), and the checks behind it with their weights.
import { AutohardenError } from '../core/errors.js';
import { parseAnalyzeRows, type AnalyzeRows } from '../core/analyzeRows.js';
import { parseOverallExposure } from '../core/score.js';
import { run } from './exec.js';

export async function exposure(unit: string): Promise<number> {
  const r = await run('systemd-analyze', ['security', '--no-pager', unit], { LANG: 'C.UTF-8', SYSTEMD_COLORS: '0' });
  const score = parseOverallExposure(r.stdout);
  if (score === undefined) {
    throw new AutohardenError('Failed', `systemd-analyze security ${unit} printed no overall score: ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}`);
  }
  return score;
}

const ROWS_TIMEOUT_MS = 30_000;
/** 252–262 print about 16 KiB; more is not read. */
const ROWS_MAX_BYTES = 1 << 20;

/** The running analyze's checks for this unit with their effective weights (a local policy file
 * included): SYSTEMD_ANALYZE_DEBUG=1 adds weight, badness and range to every JSON row. Undefined
 * when it fails or prints anything unreadable (parsing is the core's, core/analyzeRows.ts). */
export async function exposureRows(unit: string): Promise<AnalyzeRows | undefined> {
  const r = await run(
    'systemd-analyze', ['security', '--no-pager', '--json=short', unit],
    { LANG: 'C.UTF-8', SYSTEMD_COLORS: '0', SYSTEMD_ANALYZE_DEBUG: '1' }, ROWS_TIMEOUT_MS, ROWS_MAX_BYTES,
  );
  return r.code === 0 ? parseAnalyzeRows(r.stdout) : undefined;
}
