// Downtime as the tune measures it, the confirmation on the running invocation, and probes cut
// short when systemd shows the unit failed.
import { describe, expect, it } from 'vitest';
import type { OptionSpec, ProbeResult, ProbeSpec } from '../../src/core/types.js';
import { DowntimeMeter } from '../../src/engine/downtime.js';
import { restartAndJudge } from '../../src/engine/settle.js';
import { tune } from '../../src/engine/tune.js';
import { RUNNING, fakePorts } from '../fakes/ports.js';
import { simulatedService } from '../fakes/simService.js';

const option = (name: string, weight: number): OptionSpec => ({
  name, family: 'filesystem', weight, cost: 'free', safety: 'verifiable', confinesSessions: false, prior: 0.9, minSystemd: 200,
  properties: [name], exitStatuses: [226], logHints: [], summary: name,
  ladder: [{ value: 'yes', lines: [`${name}=yes`], residual: 0, inForce: (eff) => eff[name] === true }],
});
const CATALOG = [option('A', 900), option('B', 800), option('C', 700), option('D', 600)];
const RESTART_MS = 1000;
const SETTLE_MS = 1000;

const run = (breaks: string[], late: string[] = []) => {
  const s = simulatedService({ breaks, late, restartMs: RESTART_MS });
  const done = tune(s.ports, { unit: 'sim.service', probes: [], settleMs: SETTLE_MS, strategy: 'adaptive', persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, CATALOG);
  return { s, done };
};

describe('DowntimeMeter', () => {
  it('counts from a restart until the service serves, once per outage, and an open outage up to now', () => {
    const m = new DowntimeMeter();
    m.serving(5); // serving already: nothing
    m.restarting(10);
    m.restarting(20); // still down: the outage began at 10
    m.serving(35);
    expect(m.ms(100)).toBe(25);
    m.restarting(100);
    expect(m.ms(140)).toBe(65);
  });
});

describe('a tune measures its downtime', () => {
  it('is the restarts when every trial passes: each until the service answers in its settle', async () => {
    const { done } = run([]);
    const r = await done;
    expect(r.downtimeMs).toBeGreaterThanOrEqual(r.restarts * RESTART_MS);
    // the service answers at the first sample of each settle, not at its end
    expect(r.downtimeMs).toBeLessThan(r.restarts * (RESTART_MS + SETTLE_MS));
  });

  it('adds the time a rejected trial left the unit down, until the next restart served', async () => {
    const ok = await run([]).done;
    const broken = await run(['B']).done;
    expect(broken.rejected.map((x) => x.option)).toContain('B');
    // every restart is down for its own length at least, and the failed one stays down until the
    // next restart serves
    expect(broken.downtimeMs).toBeGreaterThanOrEqual(broken.restarts * RESTART_MS);
    expect(broken.downtimeMs).toBeGreaterThan(ok.downtimeMs!);
  });
});

describe('the confirmation', () => {
  it('watches the invocation that runs the accepted set: no restart of its own', async () => {
    const { s, done } = run([]);
    const r = await done;
    expect(r.restarts).toBe(r.trials);
    expect(s.sim.restarts).toBe(r.trials);
    const phases = s.ports.journal.read().filter((x) => x.kind === 'phase' && x.phase === 'confirm');
    expect(phases.map((x) => x.kind === 'phase' && x.state)).toEqual(['begin', 'end']);
    expect(s.sim.events.some((e) => e.type === 'info' && /no restart/.test(e.message))).toBe(true);
  });

  it('still catches a setting that breaks the unit only after a while', async () => {
    const { s, done } = run([], ['C']);
    const r = await done;
    expect(s.accepted()).not.toContain('C');
    expect(r.accepted.map((x) => x.option)).not.toContain('C');
    expect(s.healthy()).toBe(true);
  });
});

describe('probes cut short', () => {
  it('when systemd shows the unit failed while a probe waits, the probe is cut short, not waited out', async () => {
    let snapshots = 0;
    let aborted = false;
    const ports = fakePorts('x.service', {
      systemd: {
        restart: async () => 'done',
        // up through the settle, failed once the probe waits
        snapshot: async () => (++snapshots > 2 ? { ...RUNNING, activeState: 'failed', subState: 'failed', result: 'signal', execMainCode: 2, execMainStatus: 31 } : { ...RUNNING }),
      },
      probe: (specs: readonly ProbeSpec[], o?: { signal?: AbortSignal; timeoutMs?: number }) => {
        // a quick settle probe answers nothing; the verdict's probe hangs until it is cut short
        if (o?.timeoutMs !== undefined) return Promise.resolve(specs.map((p): ProbeResult => ({ probe: p.raw, ok: false, detail: 'refused' })));
        return new Promise<ProbeResult[]>((resolve) => {
          o?.signal?.addEventListener('abort', () => {
            aborted = true;
            resolve(specs.map((p) => ({ probe: p.raw, ok: false, detail: 'cut short' })));
          });
        });
      },
    });
    const probe: ProbeSpec = { kind: 'tcp', host: '127.0.0.1', port: 1, raw: 'tcp://127.0.0.1:1' };
    const v = await restartAndJudge(ports, 'x.service', { settleMs: 200, probes: [probe] });
    expect(aborted).toBe(true);
    expect(v.ok).toBe(false);
    expect(v.reason).toMatch(/SIGSYS|signal|failed/);
  });
});
