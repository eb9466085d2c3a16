// Cost measurement against a real systemd (issue 6): the bundled cost sample, whose requests make
// millions of socket() calls, measured unsandboxed (A) and under a setting (B) by restarting the
// unit with and without a drop-in, alternating A B | B A | …, read by runWorkload and judged by
// the decision rule. No timing is asserted: only what the rule decides from real readings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload } from '../../src/adapters/workload.js';
import { CostMeasurement, describeCost, parseWorkloadSpec, type Config, type CostDecision } from '../../src/core/cost.js';
import { BOX_SH, BURNER_BIN_IN_BOX, BURNER_UNIT, type Box, boxName, startBox, waitFor } from '../harness/box.js';

const DROPIN = `/run/systemd/system/${BURNER_UNIT}.d/zz-cost-test.conf`;
/** ~0.2–0.4 s per request on the 2-vCPU test machine, unsandboxed. */
const ROUNDS = 2_000_000;
/** RestrictAddressFamilies= installs a filter that inspects socket()'s family argument. */
const COSTLY = ['RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'];
/** A mount namespace setting: no seccomp filter at all. */
const FREE = ['PrivateTmp=yes'];

let box: Box;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installBurner();
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

/** Restart the unit into A (no drop-in) or B (the drop-in with `lines`) and wait until it answers. */
async function restartInto(config: Config, lines: string[]): Promise<void> {
  if (config === 'B') await box.writeFile(DROPIN, `[Service]\n${lines.join('\n')}\n`);
  else await box.check(['rm', '-f', DROPIN]);
  await box.check(['systemctl', 'daemon-reload']);
  await box.check(['systemctl', 'restart', BURNER_UNIT]);
  await waitFor(async () => (await box.exec([BURNER_BIN_IN_BOX, 'client', '1', 'getppid'], { timeoutMs: 5000 })).code === 0,
    10_000, { what: `${BURNER_UNIT} answers`, intervalMs: 50 });
  const shown = await box.show(BURNER_UNIT, ['RestrictAddressFamilies', 'PrivateTmp']);
  const inForce = config === 'B' ? lines.every((l) => setIn(l, shown)) : ['', '~'].includes(shown.RestrictAddressFamilies!) && shown.PrivateTmp === 'no';
  expect(inForce, `${config}: ${JSON.stringify(shown)}`).toBe(true);
}

function setIn(line: string, shown: Record<string, string>): boolean {
  const [key, value] = line.split('=') as [string, string];
  if (key === 'PrivateTmp') return shown.PrivateTmp === 'yes';
  return value.split(' ').every((f) => shown[key]!.split(' ').includes(f));
}

/** Measure B = `lines` against the unsandboxed unit until the rule decides. */
async function measure(lines: string[], budget: number, op = 'socket-fast') {
  // time mode: the wall time of one request, entered through box.sh (the burner listens in the box)
  const spec = parseWorkloadSpec(`exec:bash ${BOX_SH} exec ${box.name} ${BURNER_BIN_IN_BOX} client ${ROUNDS} ${op}`);
  await restartInto('A', lines);
  const m = new CostMeasurement({ budget, higherIsBetter: false, maxPairs: 12 }, 'A');
  const readings: string[] = [];
  for (let steps = m.next(); steps.length; steps = m.next()) {
    for (const s of steps) {
      if (s.restart) await restartInto(s.config, lines);
      const v = await runWorkload(spec, 30_000);
      readings.push(`${s.config}${v.toFixed(3)}`);
      m.record(s, v);
    }
  }
  const d = m.decision() as CostDecision;
  console.log(`[cost-measure] ${lines.join('; ')} budget ${budget * 100}%: ${d.verdict} ${describeCost(d)} restarts=${m.restarts}\n  ${readings.join(' ')}`);
  return { d, restarts: m.restarts, pairs: m.pairs.length };
}

describe('the cost sample under a filter that inspects socket() arguments', () => {
  it('is judged over a 1 % budget', async () => {
    const { d, restarts, pairs } = await measure(COSTLY, 0.01);
    expect(d.verdict).toBe('over');
    expect(d.ratio).toBeGreaterThan(1.01);
    expect(restarts).toBeLessThanOrEqual(pairs + 1);
  }, 120_000);

  // it makes this loop 1.5–1.8 × slower on the test machine (bench/cost.sh, burner-fast)
  it('is judged within a 200 % budget', async () => {
    const { d } = await measure(COSTLY, 2);
    expect(d.verdict).toBe('within');
  }, 120_000);

  it('a setting without seccomp is judged within a 5 % budget, noise notwithstanding', async () => {
    const { d } = await measure(FREE, 0.05);
    expect(d.verdict).toBe('within');
  }, 120_000);
});

describe('runWorkload', () => {
  it('reads a figure the workload prints and fails clearly when the service is gone', async () => {
    const figure = parseWorkloadSpec(`lower:/ns=(\\d+)/:bash ${BOX_SH} exec ${box.name} ${BURNER_BIN_IN_BOX} client 1000 getppid`);
    expect(await runWorkload(figure, 30_000)).toBeGreaterThan(0);
    await box.check(['systemctl', 'stop', BURNER_UNIT]);
    const time = parseWorkloadSpec(`exec:bash ${BOX_SH} exec ${box.name} ${BURNER_BIN_IN_BOX} client 1000 getppid`);
    await expect(runWorkload(time, 30_000)).rejects.toThrow(/exited with status 1: .*connect 127\.0\.0\.1:82/);
    await expect(runWorkload(parseWorkloadSpec('exec:sleep 5'), 300)).rejects.toThrow(/timed out after 300 ms/);
    await expect(runWorkload(parseWorkloadSpec('higher:/(\\d+) rps/:echo no figure'), 5000)).rejects.toThrow(/matched nothing/);
  }, 60_000);
});
