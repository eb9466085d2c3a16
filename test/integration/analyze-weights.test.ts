// The running systemd-analyze's checks on a real systemd (the machine's, 252 on Debian 12): its
// debug JSON parses online and recomputes the score it prints; a tune reads it (no fallback
// message), reports the accepted settings the score does not count, and journals its platform.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exposureFromRows, parseAnalyzeRows } from '../../src/core/analyzeRows.js';
import { optionByName } from '../../src/core/catalog.js';
import { parseOverallExposure } from '../../src/core/score.js';
import { type Box, SAMPLE_UNIT, SAMPLE_URL, boxName, startBox } from '../harness/box.js';

interface Outcome { option: string; value: string }
interface Report { accepted: Outcome[]; unscored?: Array<Outcome & { scoredAs?: string }>; exposureAfter: number }

let box: Box;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installSample();
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

describe('systemd-analyze security with SYSTEMD_ANALYZE_DEBUG=1, online', () => {
  it('parses, and its rows give the score analyze prints', async () => {
    const json = await box.check(['env', 'SYSTEMD_ANALYZE_DEBUG=1', 'systemd-analyze', 'security', '--no-pager', '--json=short', SAMPLE_UNIT]);
    const text = await box.check(['env', 'LANG=C.UTF-8', 'systemd-analyze', 'security', '--no-pager', SAMPLE_UNIT]);
    const rows = parseAnalyzeRows(json);
    expect(rows?.length).toBeGreaterThan(70);
    expect(exposureFromRows(rows!)).toBe(parseOverallExposure(text));
  });
});

describe('tune on the real systemd', () => {
  let report: Report;
  let stderr: string;

  beforeAll(async () => {
    const r = await box.cli(['tune', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--settle', '1000ms', '--json'], { timeoutMs: 400_000 });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    report = JSON.parse(r.stdout) as Report;
    stderr = r.stderr;
  }, 420_000);

  it('reads the weights (no fallback) and lists exactly the accepted settings no check scores', () => {
    expect(stderr).not.toMatch(/check weights/);
    const unscoredByCatalog = report.accepted.filter((a) => optionByName(a.option)?.weight === 0).map((a) => ({ option: a.option, value: a.value }));
    expect(report.unscored).toEqual(unscoredByCatalog);
    // the sample keeps its IPC to itself: PrivateIPC=yes is accepted and not scored by 252
    expect(report.unscored).toContainEqual({ option: 'PrivateIPC', value: 'yes' });
  });

  it('journals the platform it ran on', async () => {
    const r = await box.cli(['journal', SAMPLE_UNIT]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tune +start \(adaptive\) exposure [\d.]+; probes: \S+; on systemd 252, kernel \d+\.\d+, \+APPARMOR \+SECCOMP \+SELINUX/);
  });
});
