// The engine driven by a simulated service (no systemd): which options break it, and one that
// breaks only after a while. Checks the verdicts, the journal and the confirmation's bisection.
import { describe, expect, it } from 'vitest';
import { acceptedSet, unfinishedTrial } from '../../src/core/journal.js';
import type { OptionSpec } from '../../src/core/types.js';
import type { Ports } from '../../src/engine/ports.js';
import { TuneSession, tune } from '../../src/engine/tune.js';
import { simulatedService } from '../fakes/simService.js';

const option = (name: string, weight: number): OptionSpec => ({
  name, family: 'filesystem', weight, cost: 'free', safety: 'verifiable', confinesSessions: false, prior: 0.9, minSystemd: 200,
  properties: [name], exitStatuses: [226], logHints: [], summary: name,
  ladder: [{ value: 'yes', lines: [`${name}=yes`], residual: 0, inForce: (eff) => eff[name] === true }],
});
const CATALOG = [option('A', 900), option('B', 800), option('C', 700), option('D', 600), option('F', 650)];

/** A service that fails to start under `breaks`, and dies a while after start under `late`. */
const simulated = (breaks: string[], late: string[] = [], logsAtStart?: (inEffect: string[], n: number) => string[]) =>
  simulatedService({ breaks, late, ...(logsAtStart ? { logsAtStart } : {}) });

const run = (ports: Ports, strategy: 'one-at-a-time' | 'adaptive') =>
  tune(ports, { unit: 'sim.service', probes: [], settleMs: 100, strategy, persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, CATALOG);

describe('TuneSession against a simulated service', () => {
  it.each(['one-at-a-time', 'adaptive'] as const)('%s keeps exactly what works and journals every trial', async (strategy) => {
    const s = simulated(['B']);
    const report = await run(s.ports, strategy);
    expect(s.accepted()).toEqual(['A', 'C', 'D', 'F']);
    expect(report.accepted.map((a) => a.option).sort()).toEqual(['A', 'C', 'D', 'F']);
    expect(report.rejected.map((r) => r.option)).toContain('B');
    const recs = s.ports.journal.read();
    expect(unfinishedTrial(recs)).toBeUndefined();
    expect(acceptedSet(recs).map((x) => x.option).sort()).toEqual(['A', 'C', 'D', 'F']);
    expect(report.restarts).toBe(s.sim.restarts);
  });

  it('adaptive needs fewer restarts than one-at-a-time when little breaks', async () => {
    const one = simulated([]);
    const ada = simulated([]);
    await run(one.ports, 'one-at-a-time');
    await run(ada.ports, 'adaptive');
    expect(ada.sim.restarts).toBeLessThan(one.sim.restarts);
  });

  it('bisects a confirmation failure to the one setting that fails late, losing no other', async () => {
    const s = simulated([], ['F']);
    const report = await run(s.ports, 'adaptive');
    expect(s.accepted()).toEqual(['A', 'B', 'C', 'D']);
    const guard = s.ports.journal.read().filter((r) => r.kind === 'rollback');
    expect(guard).toHaveLength(1);
    expect(guard[0]).toMatchObject({ by: 'guard', phase: 'confirm', options: ['F'] }); // the tune's own rollback, labelled
    expect(report.rejected.find((r) => r.option === 'F')?.reason).toMatch(/confirmation failed/);
    expect(acceptedSet(s.ports.journal.read()).map((x) => x.option).sort()).toEqual(['A', 'B', 'C', 'D']);
  });

  describe('log evidence must be attributable (trust)', () => {
    // C breaks a code path no probe reaches: the service logs EROFS under it, and only under it.
    const genuine = (inEffect: string[]) => (inEffect.includes('C') ? ["web: cannot write /etc/web.state: EROFS: read-only file system"] : []);
    // A hostile client gets EPERM lines with ever new paths into the same log at every start.
    // (letters, not digits: a signature ignores numbers, and the attacker knows it)
    const word = (n: number) => 'abcdefghij'[n % 10]! + 'klmnopqrst'[Math.floor(n / 10) % 10]!;
    const noise = (_e: string[], n: number) => [`web: client sent x open() "//etc/cron.d/${word(n)}" failed (1: Operation not permitted)`];

    it.each(['one-at-a-time', 'adaptive'] as const)('%s: client noise makes tuning keep exactly what it keeps in quiet', async (strategy) => {
      const quiet = simulated([], [], genuine);
      const quietReport = await run(quiet.ports, strategy);
      expect(quiet.accepted()).toEqual(['A', 'B', 'D', 'F']);
      expect(quietReport.rejected.find((r) => r.option === 'C')?.reason).toMatch(/new error in the unit's logs: .*EROFS/);

      const noisy = simulated([], [], (e, n) => [...genuine(e), ...noise(e, n)]);
      await run(noisy.ports, strategy);
      expect(noisy.accepted()).toEqual(quiet.accepted());
      expect(noisy.sim.restarts).toBeGreaterThan(quiet.sim.restarts); // noise costs restarts, not settings
    });

    it('judges a candidate again when its only evidence also shows up without it, and journals one trial for it', async () => {
      const s = simulated([], [], noise);
      const report = await run(s.ports, 'one-at-a-time');
      expect(s.accepted()).toEqual(['A', 'B', 'C', 'D', 'F']);
      expect(report.rejected).toEqual([]);
      const ends = s.ports.journal.read().filter((r) => r.kind === 'trial-end');
      expect(ends.every((r) => r.kind === 'trial-end' && r.outcome === 'accepted')).toBe(true);
    });
  });
});

describe('a tune stopped during its confirmation, then resumed (journaled phases)', () => {
  // real directive names: recovery renders the journaled set into a drop-in
  const REAL = [option('PrivateTmp', 900), option('PrivateDevices', 800), option('ProtectClock', 700), option('LockPersonality', 600), option('ProtectHostname', 650)];
  it('confirms again on the journaled accepted set and persists only what passes', async () => {
    const s = simulated([], ['ProtectHostname']);
    const o = { unit: 'sim.service', probes: [], settleMs: 100, strategy: 'adaptive' as const, persist: true, declarations: { allowNet: [], localOnly: false, confineSessions: false } };
    // the crash: the first bisection restart throws (as kill -9 would stop it there)
    const killed = { ...s.ports, fault: (step: string) => { if (step === 'bisect') throw new Error('killed at bisect'); } };
    await expect(tune(killed, o, REAL)).rejects.toThrow(/killed at bisect/);
    expect(s.ports.journal.read().filter((r) => r.kind === 'persisted')).toEqual([]);
    // resumed (the daemon's next start): no candidate is left, yet the confirmation runs again
    const session = new TuneSession(s.ports, { ...o, resume: true }, REAL);
    await session.begin();
    while (await session.step()) { /* nothing left to search */ }
    await session.finish();
    const recs = s.ports.journal.read();
    expect(recs.filter((r) => r.kind === 'phase' && r.phase === 'confirm').map((r) => r.kind === 'phase' && r.state)).toEqual(['begin', 'begin', 'end']);
    expect(recs.filter((r) => r.kind === 'rollback')).toMatchObject([{ by: 'guard', options: ['ProtectHostname'] }]);
    expect(s.accepted()).toEqual(['LockPersonality', 'PrivateDevices', 'PrivateTmp', 'ProtectClock']);
    expect(recs.filter((r) => r.kind === 'phase' && r.phase === 'persist').map((r) => r.kind === 'phase' && r.state)).toEqual(['begin', 'end']);
    expect(recs.filter((r) => r.kind === 'tune-begin')).toHaveLength(1);
    expect(recs.at(-1)?.kind).toBe('tune-end');
  });
});

describe('a setting systemd stops enforcing at a daemon-reload (lostOnReload)', () => {
  /** The simulated service, with the order of reloads and restarts recorded. */
  function traced(persist: boolean, strategy: 'one-at-a-time' | 'adaptive', fragile: boolean) {
    const s = simulated([]);
    const ops: string[] = [];
    const { reload, restart } = s.ports.systemd;
    s.ports.systemd.reload = async () => { ops.push('reload'); await reload.call(s.ports.systemd); };
    s.ports.systemd.restart = async (...a: Parameters<typeof restart>) => { ops.push('restart'); return restart.apply(s.ports.systemd, a); };
    const catalog = CATALOG.map((o) => (o.name === 'C' && fragile ? { ...o, lostOnReload: true } : o));
    const done = tune(s.ports, { unit: 'sim.service', probes: [], settleMs: 100, strategy, persist, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, catalog);
    return { s, ops, done };
  }

  it('restarts once more after persisting, so the last thing systemd did to the unit is a restart', async () => {
    const plain = traced(true, 'adaptive', false);
    const withFragile = traced(true, 'adaptive', true);
    const [a, b] = [await plain.done, await withFragile.done];
    expect(plain.ops.at(-1)).toBe('reload'); // persisting reloads after the confirmation's restart
    expect(withFragile.ops.at(-1)).toBe('restart');
    // the fragile set is confirmed by a restart (the plain one on the invocation that runs it) and
    // restarted once more after persisting
    expect(b.restarts).toBe(a.restarts + 2);
    expect(b.restarts).toBe(withFragile.s.sim.restarts);
    expect(b.accepted.map((x) => x.option)).toContain('C');
  });

  it('is confirmed by a restart, and needs no other when that restart came after the last reload', async () => {
    const t = traced(false, 'adaptive', true);
    const plain = traced(false, 'adaptive', false);
    // the plain set is confirmed on the invocation that runs it, the fragile one by a restart
    expect((await t.done).restarts).toBe((await plain.done).restarts + 1);
    expect(plain.ops.at(-1)).toBe('reload');
    expect(t.ops.at(-1)).toBe('restart');
  });

  it('one-at-a-time (no confirmation) ends with a restart too', async () => {
    const t = traced(false, 'one-at-a-time', true);
    await t.done;
    expect(t.ops.at(-1)).toBe('restart');
  });
});

describe('an accepted setting a later candidate takes out of force (OptionSpec.judgedWith)', () => {
  // X is judged with Y and read back out of force once Z is in force (as NoExecPaths=/tmp under
  // ProtectSystem=strict without PrivateTmp=): one at a time, Y, X, then Z
  const X: OptionSpec = { ...option('X', 800), judgedWith: ['Y'], ladder: [{ value: 'yes', lines: ['X=yes'], residual: 0, inForce: (eff) => eff.X === true && eff.Z !== true }] };
  const catalog = [option('Y', 900), X, option('Z', 700)];
  const go = (s: ReturnType<typeof simulated>) =>
    tune(s.ports, { unit: 'sim.service', probes: [], settleMs: 100, strategy: 'one-at-a-time', persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, catalog);

  it('Z passes without it: it is rolled back by the search, journaled, and absent from the set', async () => {
    const s = simulated([]);
    const report = await go(s);
    expect(s.accepted()).toEqual(['Y', 'Z']);
    expect(s.ports.journal.read().filter((r) => r.kind === 'rollback')).toEqual([expect.objectContaining({ by: 'guard', phase: 'search', options: ['X'] })]);
    expect(report.accepted.map((a) => a.option).sort()).toEqual(['Y', 'Z']);
    expect(acceptedSet(s.ports.journal.read()).map((x) => x.option).sort()).toEqual(['Y', 'Z']);
  });

  it('Z fails: it stays, and the accepted drop-in holds it again', async () => {
    const s = simulated(['Z']);
    await go(s);
    expect(s.accepted()).toEqual(['X', 'Y']);
    expect(s.ports.journal.read().some((r) => r.kind === 'rollback')).toBe(false);
    expect(s.healthy()).toBe(true);
  });
});
