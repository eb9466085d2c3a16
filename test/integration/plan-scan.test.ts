// `autoharden plan` and `scan` on a real systemd (issue 13, items 4 and 6): what plan prints for
// the bundled sample, and that neither command changes anything — the unit keeps its invocation
// and restart count, no zz-autoharden file appears, the state directory stays as it was. Then
// scan's ranking, its --threshold exit and --ignore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_UNIT, SAMPLE_URL, type Box, boxName, startBox } from '../harness/box.js';

let box: Box;

interface Plan {
  unit: string;
  exposureNow: number;
  exposureAfter: { expected: number; best: number } | null;
  ladders: Array<{ option: string; rungs: string[]; prior: number }>;
  skipped: Array<{ option: string; reason: string }>;
  batches: Array<{ trial: number; settings: string[]; passChance: number }>;
  batchesTotal: number;
  restarts: { runs: number; seed: number; restarts: { expected: number; low: number; high: number }; trials: { expected: number }; allPass: { restarts: number } };
  probes: Array<{ probe: string; ok: boolean }>;
}
interface Scan {
  units: Array<{ unit: string; exposure: number; predicted: number | null; state: string; protected?: string; ignored?: boolean; note?: string }>;
  over: string[];
}

/** Everything plan and scan must leave alone. */
async function untouched(): Promise<string> {
  const show = await box.show(SAMPLE_UNIT, ['InvocationID', 'NRestarts', 'ActiveState', 'DropInPaths']);
  const files = await box.sh('find /run/systemd/system /etc/systemd/system -name "zz-autoharden*" 2>/dev/null; find /var/lib/autoharden 2>/dev/null | sort; true');
  return JSON.stringify({ show, files: files.stdout });
}

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installSample();
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

describe('plan', () => {
  it('prints the ladders, skips, first trials, restarts and exposure after, and changes nothing', async () => {
    const before = await untouched();
    expect(before).toContain('"ActiveState":"active"');
    const r = await box.cli(['plan', SAMPLE_UNIT, '--probe', SAMPLE_URL, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout) as Plan;
    expect(p.unit).toBe(SAMPLE_UNIT);
    expect(p.probes).toEqual([expect.objectContaining({ probe: SAMPLE_URL, ok: true })]);
    const ps = p.ladders.find((l) => l.option === 'ProtectSystem');
    expect(ps?.rungs[0]).toMatch(/^strict/);
    expect(ps?.rungs.at(-1)).toBe('yes');
    // policy and platform skips carry their reason
    expect(p.skipped.length).toBeGreaterThan(0);
    expect(p.skipped.every((s) => s.reason.length > 10)).toBe(true);
    expect(p.skipped.find((s) => s.option === 'User')?.reason).toMatch(/person/);
    // the first trial is the prediction: every option the planner gives at least even odds
    expect(p.batches[0]!.trial).toBe(1);
    expect([...p.batches[0]!.settings.map((s) => s.split('=')[0])].sort()).toEqual(p.ladders.filter((l) => l.prior >= 0.5).map((l) => l.option).sort());
    expect(p.batchesTotal).toBeGreaterThanOrEqual(p.batches.length);
    const { restarts } = p.restarts;
    expect(p.restarts.allPass.restarts).toBeLessThanOrEqual(restarts.expected);
    expect(restarts.low).toBeLessThanOrEqual(restarts.expected);
    expect(restarts.expected).toBeLessThanOrEqual(restarts.high);
    expect(p.restarts.seed).toBe(1);
    expect(p.exposureNow).toBeGreaterThan(9);
    expect(p.exposureAfter!.best).toBeLessThan(p.exposureAfter!.expected);
    expect(p.exposureAfter!.expected).toBeLessThan(p.exposureNow);

    const text = await box.cli(['plan', SAMPLE_UNIT, '--probe', SAMPLE_URL]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/nothing was restarted or written/);
    expect(text.stdout).toMatch(/^restarts: ≈\d+ \(\d+ trials\) if the priors hold/m);
    expect(text.stdout).toMatch(/^would try \(\d+ options/m);
    expect(text.stdout).toMatch(/^ {2}trial 1: \d+ settings, passes with ≈\d+%/m);
    expect(await untouched()).toBe(before);
  }, 60_000);

  it('refuses what tune refuses, changing nothing', async () => {
    const before = await untouched();
    const bus = await box.cli(['plan', 'dbus.service']);
    expect(bus.code).toBe(2);
    expect(bus.stderr).toMatch(/refusing to tune dbus\.service/);
    const stopped = await box.cli(['plan', 'nginx.service']); // installed, not running in a fresh box
    expect(stopped.code).toBe(6);
    expect(await untouched()).toBe(before);
  }, 30_000);
});

describe('scan', () => {
  it('ranks every service worst first with its prediction and state, and gates on --threshold', async () => {
    const before = await untouched();
    const r = await box.cli(['scan', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as Scan;
    const exposures = s.units.map((u) => u.exposure);
    expect(exposures).toEqual([...exposures].sort((a, b) => b - a));
    const sample = s.units.find((u) => u.unit === SAMPLE_UNIT)!;
    expect(sample.state).toBe('never-tuned');
    expect(sample.predicted).toBeLessThan(sample.exposure);
    expect(s.units.find((u) => u.unit === 'dbus.service')?.protected).toMatch(/bus/);
    expect(s.units.some((u) => u.unit === 'autoharden.service')).toBe(false);
    expect(s.over).toEqual([]);

    // only the sample is gated ([!a]* ignores every unit whose name does not start with "a")
    const gate = await box.cli(['scan', '--threshold', '1', '--ignore', '[!a]*']);
    expect(gate.code).toBe(3);
    expect(gate.stderr).toContain(`${SAMPLE_UNIT}: exposure`);
    expect(gate.stderr).not.toMatch(/nginx|ssh/);
    const ignored = await box.cli(['scan', '--threshold', '1', '--ignore', '[!a]*', '--ignore', SAMPLE_UNIT, '--json']);
    expect(ignored.code, ignored.stderr).toBe(0);
    expect((JSON.parse(ignored.stdout) as Scan).units.find((u) => u.unit === SAMPLE_UNIT)?.ignored).toBe(true);
    const bad = await box.cli(['scan', '--threshold', '11']);
    expect(bad.code).toBe(2);
    expect(await untouched()).toBe(before);
  }, 90_000);
});
