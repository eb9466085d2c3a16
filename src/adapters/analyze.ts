// The exposure score, exactly as `systemd-analyze security UNIT` prints it (online, as systemd
// sees the loaded unit).
import { AutohardenError } from '../core/errors.js';
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
