// --max-restarts and --max-time: the pure stop rule, the engine stopping at a safe point against a
// simulated service (no systemd, a virtual clock), and the planners' estimates of what is left.
import { describe, expect, it } from 'vitest';
import { acceptedSet, unfinishedTrial } from '../../src/core/journal.js';
import { OneAtATime, type Planner } from '../../src/core/plan.js';
import { Adaptive } from '../../src/core/search.js';
import { breaks, makeInstance, prng, type SimInstance } from '../../src/core/searchSim.js';
import { limitsFrom, msPerRestart, stopReason, type TuneLimits } from '../../src/core/tuneLimits.js';
import type { OptionSpec } from '../../src/core/types.js';
import type { ProgressEvent } from '../../src/engine/ports.js';
import { TuneSession, tune } from '../../src/engine/tune.js';
import { simulatedService } from '../fakes/simService.js';

describe('stopReason (pure)', () => {
  const at = (restarts: number, elapsedMs = 0, ms = 1000) => ({ restarts, elapsedMs, msPerRestart: ms });
  const trial = { restarts: 2, reserve: 1 };

  it('goes without limits, whatever has been spent', () => {
    expect(stopReason({}, at(10_000, 1e9), trial)).toBeUndefined();
  });

  it('stops when the trial, its revert and what the finish owes would pass --max-restarts', () => {
    expect(stopReason({ maxRestarts: 10 }, at(7), trial)).toBeUndefined(); // 7 + 2 + 1 = 10
    expect(stopReason({ maxRestarts: 10 }, at(8), trial)).toMatch(/^--max-restarts 10 reached \(2 left; the next step needs 2 and the finish \d+ more\)$/);
    expect(stopReason({ maxRestarts: 3 }, at(0), { restarts: 2, reserve: 2 })).toBe('--max-restarts 3 reached (3 left; the next step needs 2 and the finish 2 more)');
    expect(stopReason({ maxRestarts: 1 }, at(0), { restarts: 0, reserve: 1 })).toBeUndefined();
  });

  it('stops when the restarts ahead, at the time one takes, would pass --max-time', () => {
    // 3 restarts of 2 s each and 4 s more for the confirmation's longer settle: 10 s
    expect(stopReason({ maxTimeMs: 60_000 }, at(0, 50_000, 2000), { ...trial, reserveMs: 4000 })).toBeUndefined();
    expect(stopReason({ maxTimeMs: 60_000 }, at(0, 50_001, 2000), { ...trial, reserveMs: 4000 })).toBe('--max-time 1min reached');
  });

  it('names the restart limit first when both are reached', () => {
    expect(stopReason({ maxRestarts: 1, maxTimeMs: 1000 }, at(5, 5000), trial)).toMatch(/^--max-restarts/);
  });

  it('expects a restart to take at least the settle period, more when measured so', () => {
    expect(msPerRestart(2000, { ms: 0, restarts: 0 })).toBe(2000);
    expect(msPerRestart(2000, { ms: 3000, restarts: 3 })).toBe(2000);
    expect(msPerRestart(2000, { ms: 9000, restarts: 3 })).toBe(3000);
  });

  it('takes the limits of a request only when given', () => {
    expect(limitsFrom({})).toEqual({});
    expect(limitsFrom({ maxRestarts: 4, maxTimeMs: undefined })).toEqual({ limits: { maxRestarts: 4 } });
  });
});

// ---- the engine against a simulated service ------------------------------------------------------

const option = (name: string, weight: number, prior = 0.9): OptionSpec => ({
  name, family: 'filesystem', weight, cost: 'free', safety: 'verifiable', confinesSessions: false, prior, minSystemd: 200,
  properties: [name], exitStatuses: [226], logHints: [], summary: name,
  ladder: [{ value: 'yes', lines: [`${name}=yes`], residual: 0, inForce: (eff) => eff[name] === true }],
});
// G is enforced again only by a restart after a daemon-reload (SocketBindDeny): its restart is owed too
const CATALOG = [option('A', 900), option('B', 800), option('C', 700), option('D', 600), option('E', 500, 0.4), option('F', 650), { ...option('G', 550), lostOnReload: true }];

/** A service that fails to start under any of `breaking`, and dies a while after start under any
 * of `late`; each restart takes `restartMs` of virtual time. */
const simulated = (breaking: string[], restartMs = 0, late: string[] = []) => simulatedService({ breaks: breaking, late, restartMs });

const run = (s: ReturnType<typeof simulated>, strategy: 'one-at-a-time' | 'adaptive', limits?: TuneLimits, persist = false) =>
  tune(s.ports, {
    unit: 'sim.service', probes: [], settleMs: 100, strategy, persist, declarations: { allowNet: [], localOnly: false, confineSessions: false },
    ...(limits ? { limits } : {}),
  }, CATALOG);

describe('a tune with limits, against a simulated service', () => {
  it.each(['one-at-a-time', 'adaptive'] as const)('%s: --max-restarts 4 stops early with a verified set, journaled and said', async (strategy) => {
    const s = simulated(['B']);
    const report = await run(s, strategy, { maxRestarts: 4 });
    expect(s.sim.restarts).toBeLessThanOrEqual(4);
    expect(report.restarts).toBe(s.sim.restarts);
    expect(report.complete).toBe(false);
    expect(report.stoppedBy).toMatch(/^--max-restarts 4 reached \(/);
    expect(s.healthy()).toBe(true);
    // what is in force is what the journal and the report say was accepted
    const recs = s.ports.journal.read();
    expect(unfinishedTrial(recs)).toBeUndefined();
    expect(acceptedSet(recs).map((x) => x.option).sort()).toEqual(s.accepted());
    expect(report.accepted.map((a) => a.option).sort()).toEqual(s.accepted());
    expect(s.accepted()).not.toContain('B');
    const end = recs.at(-1);
    expect(end).toMatchObject({ kind: 'tune-end', complete: false, stoppedBy: expect.stringMatching(/^--max-restarts 4 reached \(/) });
    expect(recs.some((r) => r.kind === 'phase' && r.phase === 'search' && r.state === 'end' && r.detail?.startsWith('stopped: --max-restarts 4 reached ('))).toBe(true);
    const said = s.sim.events.filter((e) => e.type === 'info' && /stopping early: --max-restarts 4 reached/.test(e.message));
    expect(said).toHaveLength(1);
  });

  it.each(['one-at-a-time', 'adaptive'] as const)('%s: never passes --max-restarts N, and keeps the unit healthy, for any N', async (strategy) => {
    for (const [breaking, persist] of [[[], false], [[], true], [['B'], false], [['A', 'E'], true], [['A', 'B', 'C', 'D', 'E', 'F'], false]] as const) {
      const full = simulated([...breaking]);
      const whole = await run(full, strategy, undefined, persist);
      expect(whole.complete).toBe(true);
      for (let n = 1; n <= full.sim.restarts + 2; n++) {
        const s = simulated([...breaking]);
        const report = await run(s, strategy, { maxRestarts: n }, persist);
        expect(s.sim.restarts, `${strategy} ${breaking.join('')} N=${n}`).toBeLessThanOrEqual(n);
        expect(s.healthy()).toBe(true);
        expect(acceptedSet(s.ports.journal.read()).map((x) => x.option).sort()).toEqual(s.accepted());
        for (const b of breaking) expect(s.accepted()).not.toContain(b);
        // it stops only when it has to: with room for the whole tune and one revert it did not need, it is complete
        if (n > full.sim.restarts) expect(report.complete, `${strategy} ${breaking.join('')} N=${n}`).toBe(true);
        else expect(report.accepted.length).toBeLessThanOrEqual(whole.accepted.length);
      }
    }
  });

  it('a confirmation that fails still bisects past --max-restarts, and the report says so', async () => {
    const s = simulated([], 0, ['F']);
    const report = await run(s, 'adaptive', { maxRestarts: 3 });
    expect(s.accepted()).not.toContain('F');
    expect(s.accepted().length).toBeGreaterThan(0);
    expect(s.healthy()).toBe(true);
    expect(s.sim.restarts).toBeGreaterThan(3);
    expect(report.warnings.join('\n')).toMatch(/took \d+ restarts past --max-restarts 3/);
  });

  describe('resumed (the daemon restarted mid-tune)', () => {
    // real directive names: recovery renders the journaled set into a drop-in
    const REAL = ['PrivateTmp', 'PrivateDevices', 'ProtectClock', 'LockPersonality', 'ProtectHostname', 'ProtectKernelLogs'].map((n, i) => option(n, 900 - 50 * i));
    const o = (limits: TuneLimits, resume = false) => ({
      unit: 'sim.service', probes: [], settleMs: 100, strategy: 'one-at-a-time' as const, persist: false, limits, resume,
      declarations: { allowNet: [], localOnly: false, confineSessions: false },
    });
    const resumed = async (s: ReturnType<typeof simulated>, limits: TuneLimits) => {
      const session = new TuneSession(s.ports, o(limits, true), REAL);
      await session.begin();
      while (await session.step()) { /* one trial per step */ }
      return session.finish();
    };

    it('counts the trials of the run before against --max-restarts', async () => {
      const s = simulated([]);
      let dropins = 0;
      // killed in its third trial, after two that restarted the unit
      const killed = { ...s.ports, fault: (step: string) => { if (step === 'after-dropin' && ++dropins === 3) throw new Error('killed'); } };
      await expect(tune(killed, o({ maxRestarts: 5 }), REAL)).rejects.toThrow(/killed/);
      expect(s.sim.restarts).toBe(2);
      const report = await resumed(s, { maxRestarts: 5 });
      expect(report.complete).toBe(false);
      // without the two before, five restarts would have left room for more trials than this
      const ends = s.ports.journal.read().filter((r) => r.kind === 'trial-end');
      expect(ends.length).toBeLessThanOrEqual(4);
      expect(s.healthy()).toBe(true);
    });

    it('ends as stopped when the run before stopped and died before its end', async () => {
      const s = simulated([]);
      const killed = { ...s.ports, fault: (step: string) => { if (step === 'minimise' || step === 'persist') throw new Error('killed'); } };
      await expect(tune(killed, { ...o({ maxRestarts: 3 }), persist: true }, REAL)).rejects.toThrow(/killed/);
      const report = await resumed(s, { maxRestarts: 3 });
      expect(report).toMatchObject({ complete: false, stoppedBy: expect.stringMatching(/^--max-restarts 3 reached \(/) });
      expect(s.ports.journal.read().at(-1)).toMatchObject({ kind: 'tune-end', complete: false });
    });
  });

  it('a tune that fits its limits is complete, and its tune-end says so', async () => {
    const s = simulated([]);
    const report = await run(s, 'adaptive', { maxRestarts: 100, maxTimeMs: 3_600_000 });
    expect(report.complete).toBe(true);
    expect(report.stoppedBy).toBeUndefined();
    expect(s.ports.journal.read().at(-1)).toMatchObject({ kind: 'tune-end', complete: true });
    expect(s.ports.journal.read().at(-1)).not.toHaveProperty('stoppedBy');
  });

  it('--max-time stops before a trial whose restarts would not fit, at the pace measured so far', async () => {
    const s = simulated(['B'], 5000); // each restart takes 5 s of virtual time
    const report = await run(s, 'one-at-a-time', { maxTimeMs: 30_000 });
    expect(report.complete).toBe(false);
    expect(report.stoppedBy).toBe('--max-time 30s reached');
    expect(s.healthy()).toBe(true);
    expect(s.sim.restarts).toBeGreaterThan(0);
    expect(s.sim.restarts * 5000).toBeLessThanOrEqual(30_000);
  });

  it('progress events carry the restarts so far, the elapsed time and an estimate that holds the trial', async () => {
    const s = simulated(['B']);
    await run(s, 'adaptive');
    const counted = s.sim.events.filter((e): e is Extract<ProgressEvent, { type: 'trial' | 'verdict' }> => e.type !== 'info');
    expect(counted.length).toBeGreaterThan(0);
    let last = 0;
    for (const e of counted) {
      expect(e.restarts).toBeGreaterThanOrEqual(last);
      last = e.restarts!;
      expect(e.estimatedTrials).toBeGreaterThanOrEqual(e.trial);
      expect(e.elapsedMs).toBeGreaterThanOrEqual(0);
    }
    const verdicts = counted.filter((e) => e.type === 'verdict');
    expect(verdicts.at(-1)!.restarts).toBeGreaterThan(verdicts[0]!.restarts! - 1);
  });
});

// ---- the planners' estimates -----------------------------------------------------------------------

/** Drives a planner to its end, recording its estimate before each next() and at the end. */
function estimates(planner: Planner, inst: SimInstance): { before: number[]; trials: number; end: number } {
  const before: number[] = [];
  let trials = 0;
  for (;;) {
    before.push(planner.estimateRemaining());
    const s = planner.next();
    if (!s) break;
    expect(planner.estimateRemaining()).toBeGreaterThanOrEqual(0); // pending
    trials++;
    planner.report(!breaks(inst, [...planner.accepted(), ...s]));
  }
  return { before, trials, end: planner.estimateRemaining() };
}

describe('estimateRemaining', () => {
  const planners = { 'one-at-a-time': (i: SimInstance) => new OneAtATime(i.cands), adaptive: (i: SimInstance) => new Adaptive(i.cands) };

  it.each(Object.keys(planners) as Array<keyof typeof planners>)('%s: ends at 0, is never negative, and starts near the trials it takes', (name) => {
    const rng = prng(7);
    let estimated = 0;
    let taken = 0;
    for (let i = 0; i < 60; i++) {
      // priors that are right on average (calibrated): the estimate rests on them
      const inst = makeInstance(rng, { n: 20, k: 1 + (i % 6), calibrated: true });
      const r = estimates(planners[name](inst), inst);
      expect(r.end).toBe(0);
      expect(r.before.at(-1)).toBe(0);
      for (const e of r.before) expect(e).toBeGreaterThanOrEqual(0);
      // before the last trial, something is still expected
      if (r.trials > 0) expect(r.before[r.trials - 1]).toBeGreaterThan(0);
      estimated += r.before[0]!;
      taken += r.trials;
    }
    // an estimate, not a promise: within a factor of two on average
    expect(estimated / taken).toBeGreaterThan(0.5);
    expect(estimated / taken).toBeLessThan(2);
  });

  it('one-at-a-time counts down by one per passing trial of a one-rung ladder', () => {
    const inst = makeInstance(prng(3), { n: 8, k: 0, maxRungs: 1 });
    const r = estimates(new OneAtATime(inst.cands), inst);
    expect(r.before).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(r.trials).toBe(8);
  });

  it('adaptive: an empty search expects nothing', () => {
    expect(new Adaptive([]).estimateRemaining()).toBe(0);
    expect(new OneAtATime([]).estimateRemaining()).toBe(0);
  });
});

// ---- requests, the journal, the report's text --------------------------------------------------------

describe('the limits in requests, the journal and the report', async () => {
  const { TUNE } = await import('../../src/app/tune.js');
  const { parseEnrollSpec } = await import('../../src/daemon/spec.js');
  const { recordSchema } = await import('../../src/core/journal.js');
  const { formatRecord, formatTuneReport } = await import('../../src/cli/format.js');
  const { buildProgram } = await import('../../src/cli/program.js');

  it('tune takes both, within their bounds', () => {
    expect(TUNE.parse({ unit: 'web', maxRestarts: 4, maxTimeMs: 5000 })).toMatchObject({ maxRestarts: 4, maxTimeMs: 5000 });
    expect(TUNE.parse({ unit: 'web' })).not.toHaveProperty('maxRestarts');
    for (const bad of [{ maxRestarts: 0 }, { maxRestarts: 2.5 }, { maxTimeMs: 10 }, { maxRestarts: -1 }]) {
      expect(() => TUNE.parse({ unit: 'web', ...bad })).toThrow();
    }
  });

  it('an enrollment keeps them (the daemon stores the spec) and refuses nonsense', () => {
    expect(parseEnrollSpec({ unit: 'web', maxRestarts: 10, maxTimeMs: 600_000 })).toMatchObject({ maxRestarts: 10, maxTimeMs: 600_000 });
    expect(parseEnrollSpec(JSON.stringify({ unit: 'web' }))).not.toHaveProperty('maxTimeMs');
    expect(() => parseEnrollSpec({ unit: 'web', maxRestarts: '10' })).toThrow(/maxRestarts/);
    expect(() => parseEnrollSpec({ unit: 'web', maxTimeMs: 1e15 })).toThrow(/maxTimeMs/);
  });

  it('the command line parses --max-restarts and --max-time as a time span', () => {
    const parse = (...args: string[]) => {
      const p = buildProgram();
      const tune = p.commands.find((c) => c.name() === 'tune')!;
      tune.action(() => {});
      p.parse(['tune', 'web', ...args], { from: 'user' });
      return tune.opts();
    };
    expect(parse('--max-restarts', '10', '--max-time', '1min 30s')).toMatchObject({ maxRestarts: 10, maxTime: 90_000 });
    expect(() => parse('--max-time', '90')).toThrow(/no unit/);
    expect(() => parse('--max-restarts', '0')).toThrow(/--max-restarts/);
  });

  it('a tune-end of an old journal (no complete) still reads; a stopped one says so in `journal`', () => {
    const old = { t: '2026-01-01T00:00:00Z', unit: 'web.service', kind: 'tune-end', exposureBefore: 9, exposureAfter: 5, trials: 3, restarts: 4, durationMs: 1000 };
    expect(recordSchema.parse(old)).not.toHaveProperty('complete');
    const stopped = recordSchema.parse({ ...old, complete: false, stoppedBy: '--max-restarts 4 reached' });
    expect(formatRecord(stopped)).toMatch(/stopped early: --max-restarts 4 reached; what was kept is verified/);
    expect(formatRecord(recordSchema.parse(old))).not.toMatch(/stopped/);
  });

  it('the report says it stopped early, in one line', () => {
    const r = { unit: 'web.service', exposureBefore: 9, exposureAfter: 5, trials: 3, restarts: 4, durationMs: 1000, accepted: [], rejected: [], skipped: [], warnings: [] };
    expect(formatTuneReport({ ...r, complete: false, stoppedBy: '--max-restarts 10 reached' })).toContain('stopped early: --max-restarts 10 reached; what was kept is verified');
    expect(formatTuneReport({ ...r, complete: true })).not.toContain('stopped early');
  });
});
