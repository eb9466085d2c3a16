// Cost-aware tuning end to end (issue 6): `tune --workload --budget` on the bundled cost sample,
// whose hot path is socket() calls that RestrictAddressFamilies= inspects. A tight budget drops
// the argument-inspecting options as too-costly; a loose one keeps them and journals the cost.
// Nothing here times anything: the assertions are the decisions taken from real measurements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BURNER_BIN_IN_BOX, BURNER_UNIT, type Box, boxName, startBox } from '../harness/box.js';

interface Outcome { option: string; value: string; reason: string }
interface Report { accepted: Outcome[]; rejected: Outcome[]; restarts: number; trials: number; cost?: { verdict: string; ratio: number; description: string } }
type Rec = { kind: string; outcome?: string; settings?: Outcome[]; verdict?: string; options?: string[] };

let box: Box;
const WORKLOAD = `exec:${BURNER_BIN_IN_BOX} client 1000000 socket-fast`;

beforeAll(async () => {
  box = await startBox(boxName(import.meta.url));
  await box.installBurner();
}, 60_000);

afterAll(async () => {
  await box?.stop();
});

async function tune(budget: string): Promise<{ report: Report; journal: Rec[] }> {
  await box.cli(['rollback', BURNER_UNIT, '--all']); // the same untuned start for each budget
  const r = await box.cli(['tune', BURNER_UNIT, '--probe', 'tcp://127.0.0.1:82', '--settle', '800ms', '--json',
    '--workload', WORKLOAD, '--budget', budget, '--measure-restarts', '60'], { timeoutMs: 400_000 });
  expect(r.code, r.stderr.slice(-1500)).toBe(0);
  const journal = JSON.parse((await box.cli(['journal', BURNER_UNIT, '--json'])).stdout) as Rec[];
  return { report: JSON.parse(r.stdout) as Report, journal: journal.slice(journal.map((x) => x.kind).lastIndexOf('tune-begin')) };
}

describe('tune --workload --budget', () => {
  it('drops argument-inspecting options that take the set past a tight budget, with the figures', async () => {
    const { report, journal } = await tune('1%');
    const tooCostly = journal.filter((x) => x.kind === 'trial-end' && x.outcome === 'too-costly').map((x) => x.settings![0]!.option);
    expect(tooCostly).toContain('RestrictAddressFamilies');
    expect(report.accepted.map((a) => a.option)).not.toContain('RestrictAddressFamilies');
    expect(report.rejected.find((r) => r.option === 'RestrictAddressFamilies')?.reason).toMatch(/too-costly: the whole set costs \+\d/);
    const costs = journal.filter((x) => x.kind === 'cost');
    expect(costs[0]!.verdict).toBe('over');
    expect(costs.length).toBe(tooCostly.length + 1);
    const drop = await box.readFile(`/etc/systemd/system/${BURNER_UNIT}.d/zz-autoharden-50-accepted.conf`);
    expect(drop).not.toContain('RestrictAddressFamilies');
    expect(report.cost?.description).toMatch(/pairs/);
  }, 420_000);

  it('keeps them within a loose budget and journals the measured cost of the accepted set', async () => {
    const { report, journal } = await tune('1000%');
    expect(journal.some((x) => x.kind === 'trial-end' && x.outcome === 'too-costly')).toBe(false);
    const costs = journal.filter((x) => x.kind === 'cost');
    expect(costs).toHaveLength(1);
    expect(costs[0]!.verdict).toBe('within');
    expect(report.accepted.map((a) => a.option)).toContain('RestrictAddressFamilies');
    expect(report.cost?.verdict).toBe('within');
    const text = (await box.cli(['journal', BURNER_UNIT])).stdout;
    expect(text).toMatch(/cost\s+within \+/);
    const status = JSON.parse((await box.cli(['status', BURNER_UNIT, '--json'])).stdout) as Array<{ cost?: string }>;
    expect(status[0]!.cost).toMatch(/^within /);
  }, 420_000);
});
