// enroll --max-restarts/--max-time: the limits travel in the stored spec to the daemon's tune
// session, and a tuning they stopped early ends in guarding what it kept, said and stored.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon/daemon.js';
import { EnrollmentStore } from '../../src/daemon/store.js';
import type { TuneLimits } from '../../src/core/tuneLimits.js';
import { daemonDeps, simPorts, simSystemd, simUnits, stubSession, until } from './daemon-fakes.js';

const live: Daemon[] = [];
afterEach(async () => {
  for (const d of live.splice(0)) await d.stop();
});

function harness(stoppedBy?: string) {
  const stateDir = mkdtempSync(join(tmpdir(), 'ah-limits-'));
  const { unitOf } = simUnits();
  const seen: Array<TuneLimits | undefined> = [];
  const signals: string[] = [];
  const daemon = new Daemon(daemonDeps(stateDir, {
    systemd: simSystemd(unitOf),
    portsFor: (u) => simPorts(unitOf(u), stateDir),
    signals: { progress: (u, s, m) => signals.push(`${u} ${s} ${m}`), trialFinished: () => {}, alert: () => {} },
    newSession: (ports, o) => {
      seen.push(o.limits);
      const s = stubSession(ports, o);
      const finish = s.finish.bind(s);
      return { ...s, finish: async () => ({ ...(await finish()), complete: stoppedBy === undefined, ...(stoppedBy ? { stoppedBy } : {}) }) };
    },
  }));
  live.push(daemon);
  return { daemon, seen, signals, store: new EnrollmentStore(stateDir) };
}

describe('the daemon tunes within the enrollment limits', () => {
  it('hands the limits to the session, keeps them in the stored spec, and guards what a stopped tuning kept', async () => {
    const h = harness('--max-restarts 5 reached');
    await h.daemon.start();
    await h.daemon.enroll({ unit: 'a', maxRestarts: 5, maxTimeMs: 60_000 });
    await until(() => h.store.read('a.service')?.state === 'guarding');
    expect(h.seen).toEqual([{ maxRestarts: 5, maxTimeMs: 60_000 }]);
    const e = h.store.read('a.service')!;
    expect(e.spec).toMatchObject({ maxRestarts: 5, maxTimeMs: 60_000 });
    expect(e.report).toMatchObject({ complete: false, stoppedBy: '--max-restarts 5 reached' });
    expect(h.signals.some((s) => /tuning done: .*stopped early: --max-restarts 5 reached; what was kept is verified\); guarding/.test(s))).toBe(true);
  });

  it('without limits, the session gets none and the tuning is complete', async () => {
    const h = harness();
    await h.daemon.start();
    await h.daemon.enroll({ unit: 'b' });
    await until(() => h.store.read('b.service')?.state === 'guarding');
    expect(h.seen).toEqual([undefined]);
    expect(h.store.read('b.service')!.spec).not.toHaveProperty('maxRestarts');
    expect(h.store.read('b.service')!.report).toMatchObject({ complete: true });
    expect(h.signals.some((s) => /stopped early/.test(s))).toBe(false);
  });
});
