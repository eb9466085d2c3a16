// After an upgrade, with a simulated service: a unit whose systemd or kernel changed since it was
// verified gets exactly one restart of its accepted set as is and one reverify record; an unchanged
// (or unknown) platform gets none; a failure is bisected and rolled back as a tune's confirmation
// would, journaled; nothing new is ever tried. And `enroll --retune`.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENROLL } from '../../src/app/enroll.js';
import { AutohardenError } from '../../src/core/errors.js';
import { acceptedSet, type JournalRecord } from '../../src/core/journal.js';
import { platformFingerprint, type Platform } from '../../src/core/platform.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { parseEnrollSpec } from '../../src/daemon/spec.js';
import { EnrollmentStore, newEnrollment } from '../../src/daemon/store.js';
import { DEBIAN12_PLATFORM, DEBIAN13_PLATFORM } from '../fakes/platforms.js';
import { SimUnit, daemonDeps, setting, simPorts, simSystemd, stubSession, until } from './daemon-fakes.js';

const UNIT = 'web.service';
const ACCEPTED = ['ProtectSystem', 'PrivateTmp', 'ProtectKernelTunables', 'NoNewPrivileges'];

interface World {
  stateDir: string;
  unit: SimUnit;
  ports: ReturnType<typeof simPorts>;
  /** What ports.platform reports now. */
  platform: Platform;
  daemon: Daemon;
  sessions: string[];
  signals: string[];
}

/** A guarded unit tuned on `tunedOn` (undefined: a journal from before platforms were recorded). */
function world(tunedOn: Platform | undefined, stateDir = mkdtempSync(join(tmpdir(), 'ah-upgrade-'))): World {
  const unit = new SimUnit(UNIT);
  const ports = simPorts(unit, stateDir);
  const w = { stateDir, unit, ports, platform: DEBIAN12_PLATFORM, sessions: [], signals: [] } as unknown as World;
  ports.platform = async () => w.platform;
  const settings = ACCEPTED.map((o) => setting(o, o === 'ProtectSystem' ? 'strict' : 'yes'));
  ports.journal.append({ kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 9.6, ...(tunedOn ? { platform: platformFingerprint(tunedOn) } : {}) });
  settings.forEach((s, i) => {
    ports.journal.append({ kind: 'trial-begin', trial: i + 1, settings: [s] });
    ports.journal.append({ kind: 'trial-end', trial: i + 1, settings: [s], outcome: 'accepted', verdict: 'ok', reason: 'ok', evidence: [] });
  });
  ports.journal.append({ kind: 'tune-end', exposureBefore: 9.6, exposureAfter: 3, trials: 4, restarts: 4, durationMs: 1 });
  ports.dropins.writeAccepted(UNIT, settings, 'etc');
  new EnrollmentStore(stateDir).write({ ...newEnrollment(parseEnrollSpec({ unit: UNIT, settleMs: 100 })), state: 'guarding' });
  w.daemon = daemon(w);
  return w;
}

function daemon(w: World): Daemon {
  return new Daemon(daemonDeps(w.stateDir, {
    systemd: simSystemd(() => w.unit, () => ({ activeState: w.unit.snap.activeState })),
    portsFor: (u) => (u === UNIT ? w.ports : simPorts(new SimUnit(u), w.stateDir)),
    signals: { progress: (_u, _s, m) => w.signals.push(m), trialFinished: () => {}, alert: (_u, m) => w.signals.push(`ALERT ${m}`) },
    newSession: (ports, o) => {
      w.sessions.push(o.resume ? 'resume' : 'new');
      return stubSession(ports, o);
    },
  }));
}

const records = (w: World) => w.ports.journal.read();
const ofKind = <K extends JournalRecord['kind']>(w: World, kind: K) => records(w).filter((r): r is Extract<JournalRecord, { kind: K }> => r.kind === kind);
const accepted = (w: World) => acceptedSet(records(w)).map((s) => s.option);

let live: Daemon[] = [];
async function start(w: World): Promise<void> {
  live.push(w.daemon);
  await w.daemon.start();
}
async function stop(w: World): Promise<void> {
  live = live.filter((d) => d !== w.daemon);
  await w.daemon.stop();
}
afterEach(async () => {
  for (const d of live) await d.stop();
  live = [];
});

describe('after an upgrade', () => {
  it('a changed platform: exactly one restart of the accepted set as is and one reverify record; a restarted daemon does not repeat it', async () => {
    const w = world(DEBIAN12_PLATFORM);
    w.platform = DEBIAN13_PLATFORM;
    await start(w);
    await until(() => ofKind(w, 'reverify').length > 0);
    await stop(w);
    const [rv, ...more] = ofKind(w, 'reverify');
    expect(more).toEqual([]);
    expect(rv).toMatchObject({ outcome: 'ok', options: [], platform: platformFingerprint(DEBIAN13_PLATFORM), from: platformFingerprint(DEBIAN12_PLATFORM) });
    expect(rv!.changes).toContain('systemd 252 → 257');
    expect(w.unit.restarts).toBe(1);
    expect(accepted(w)).toEqual(ACCEPTED); // as is: nothing new tried, nothing dropped
    expect(w.unit.accepted.map((s) => s.option)).toEqual(ACCEPTED);
    expect(w.sessions).toEqual([]); // no tune
    expect(ofKind(w, 'trial-begin')).toHaveLength(ACCEPTED.length);
    expect(w.daemon.status(UNIT)[0]!.reverify).toMatch(/^re-verified at .* after systemd 252 → 257.*: ok$/);

    // the next start (same platform) and a systemd re-exec: nothing more
    w.daemon = daemon(w);
    await start(w);
    w.daemon.resync();
    await stop(w);
    expect(ofKind(w, 'reverify')).toHaveLength(1);
    expect(w.unit.restarts).toBe(1);
  });

  it('an unchanged platform: no restart, no record; status shows what it was verified on', async () => {
    const w = world(DEBIAN12_PLATFORM);
    await start(w);
    w.daemon.resync();
    const row = w.daemon.status(UNIT)[0]!;
    await stop(w);
    expect(ofKind(w, 'reverify')).toEqual([]);
    expect(w.unit.restarts).toBe(0);
    expect(row.verifiedOn).toMatch(/^systemd 252, kernel 6\.1 \(tuned at /);
    expect(row.reverify).toBeUndefined();
  });

  it('a journal without a platform: unknown, no re-verify, and status says so', async () => {
    const w = world(undefined);
    w.platform = DEBIAN13_PLATFORM;
    await start(w);
    const row = w.daemon.status(UNIT)[0]!;
    await stop(w);
    expect(ofKind(w, 'reverify')).toEqual([]);
    expect(w.unit.restarts).toBe(0);
    expect(row.verifiedOn).toMatch(/unknown/);
    expect(row.reverify).toMatch(/not re-verified.*unknown/);
  });

  it('a systemd re-exec that brings a new version schedules it (status: pending until it ran)', async () => {
    const w = world(DEBIAN12_PLATFORM);
    // held until the test lets go: the re-verification waits for the unit's restart
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const restart = w.ports.systemd.restart;
    w.ports.systemd.restart = async (u, t) => {
      await held;
      return restart(u, t);
    };
    await start(w);
    expect(w.daemon.status(UNIT)[0]!.reverify).toBeUndefined();
    w.platform = DEBIAN13_PLATFORM;
    w.daemon.resync();
    await until(() => w.signals.some((m) => m.startsWith('re-verifying after systemd 252 → 257')));
    expect(w.daemon.status(UNIT)[0]!.reverify).toMatch(/^re-verify pending: systemd 252 → 257/);
    release();
    await until(() => ofKind(w, 'reverify').length > 0);
    await stop(w);
    expect(ofKind(w, 'reverify')).toHaveLength(1);
    expect(w.unit.restarts).toBe(1);
  });

  it('a failure on the new platform: the control passes, bisection rolls back the culprit, journaled; the rest stays', async () => {
    const w = world(DEBIAN12_PLATFORM);
    w.platform = DEBIAN13_PLATFORM;
    // the new kernel cannot give the unit ProtectKernelTunables
    w.unit.behaviour.startFails = (acc) => (acc.includes('ProtectKernelTunables') ? { status: 226, logs: [] } : undefined);
    await start(w);
    await until(() => ofKind(w, 'reverify').length > 0);
    await stop(w);
    const rollbacks = ofKind(w, 'rollback');
    expect(rollbacks.map((r) => [r.by, r.options])).toEqual([['guard', ['ProtectKernelTunables']]]);
    expect(rollbacks[0]!.reason).toMatch(/confirmation of the whole set failed/);
    const [rv] = ofKind(w, 'reverify');
    expect(rv).toMatchObject({ outcome: 'rolled-back', options: ['ProtectKernelTunables'] });
    expect(accepted(w)).toEqual(['ProtectSystem', 'PrivateTmp', 'NoNewPrivileges']);
    expect(w.unit.accepted.map((s) => s.option)).toEqual(['ProtectSystem', 'PrivateTmp', 'NoNewPrivileges']);
    expect(w.unit.snap.activeState).toBe('active');
    expect(ofKind(w, 'trial-begin')).toHaveLength(ACCEPTED.length); // nothing new tried
  });

  it('a failure that the unit shows without any of its settings too: nothing relaxed, the set restored, an alert', async () => {
    const w = world(DEBIAN12_PLATFORM);
    w.platform = DEBIAN13_PLATFORM;
    w.unit.behaviour.startFails = () => ({ status: 1, logs: ['web: config error after the upgrade'] });
    await start(w);
    await until(() => ofKind(w, 'reverify').length > 0);
    await stop(w);
    expect(ofKind(w, 'rollback')).toEqual([]);
    expect(ofKind(w, 'reverify')[0]).toMatchObject({ outcome: 'unhealthy', options: [] });
    expect(ofKind(w, 'reverify')[0]!.reason).toMatch(/without any of it too.*nothing relaxed/);
    expect(ofKind(w, 'alert')).toHaveLength(1);
    expect(accepted(w)).toEqual(ACCEPTED);
    expect(w.unit.accepted.map((s) => s.option)).toEqual(ACCEPTED);
    // with the set, without it (the control), with it again
    expect(w.unit.restarts).toBe(3);
  });

  it('a unit that does not run is not started for it: deferred, said in status', async () => {
    const w = world(DEBIAN12_PLATFORM);
    w.platform = DEBIAN13_PLATFORM;
    w.unit.snap = { ...w.unit.snap, activeState: 'inactive', subState: 'dead' };
    await start(w);
    await until(() => (w.daemon.status(UNIT)[0]!.reverify ?? '').includes('deferred'));
    await stop(w);
    expect(w.unit.restarts).toBe(0);
    expect(ofKind(w, 'reverify')).toEqual([]);
  });
});

describe('enroll --retune', () => {
  const retune = (spec: Record<string, unknown> = {}) => ENROLL.dbus.toWire(ENROLL.parse({ unit: UNIT, retune: true, ...spec }))[0];

  it('tunes an enrolled, guarded unit again with its enrolled options', async () => {
    const w = world(DEBIAN12_PLATFORM);
    await start(w);
    expect(w.daemon.status(UNIT)[0]!.state).toBe('guarding');
    expect(await w.daemon.enroll(retune({ settleMs: 100 }))).toBe(UNIT);
    await until(() => w.daemon.status(UNIT)[0]!.state === 'guarding' && w.sessions.length === 1);
    expect(w.sessions).toEqual(['new']);
    expect(ofKind(w, 'tune-begin')).toHaveLength(2);
    expect(ofKind(w, 'reverify')).toEqual([]);
  });

  it('refuses options that differ from the enrolled ones; without --retune an enrolled unit is refused as before', async () => {
    const w = world(DEBIAN12_PLATFORM);
    await start(w);
    await expect(w.daemon.enroll(retune({ probes: ['tcp://127.0.0.1:1'] }))).rejects.toThrow(/enrolled with other options \(probes\)/);
    expect(w.sessions).toEqual([]);
    // without --retune an enrolled unit is refused as before
    await expect(w.daemon.enroll(JSON.stringify({ unit: UNIT }))).rejects.toThrow(/already enrolled/);
  });

  it('takes the limits of this run (--max-restarts, --max-time), stored for it, not the first run\'s', async () => {
    const w = world(DEBIAN12_PLATFORM);
    await start(w);
    expect(await w.daemon.enroll(retune({ maxRestarts: 9 }))).toBe(UNIT);
    expect(new EnrollmentStore(w.stateDir).read(UNIT)?.spec.maxRestarts).toBe(9);
    await until(() => w.daemon.status(UNIT)[0]!.state === 'guarding' && w.sessions.length === 1);
    expect(await w.daemon.enroll(retune({ maxTimeMs: 60_000 }))).toBe(UNIT);
    const spec = new EnrollmentStore(w.stateDir).read(UNIT)?.spec;
    expect(spec?.maxTimeMs).toBe(60_000);
    expect(spec).not.toHaveProperty('maxRestarts'); // not asked this time: no limit
  });

  it('a unit not enrolled is simply enrolled', async () => {
    const w = world(DEBIAN12_PLATFORM);
    await start(w);
    expect(await w.daemon.enroll(ENROLL.dbus.toWire(ENROLL.parse({ unit: 'other.service', retune: true }))[0])).toBe('other.service');
    const stored = new EnrollmentStore(w.stateDir).read('other.service');
    expect(stored?.spec).not.toHaveProperty('retune'); // asked once, never stored
  });
});

describe('the enroll request with retune', () => {
  it('is additive: absent or false reads as before and is not sent; true is sent; anything else is refused', () => {
    const plain = ENROLL.parse({ unit: 'nginx' });
    expect(plain).toEqual(parseEnrollSpec({ unit: 'nginx' }));
    expect(ENROLL.parse({ unit: 'nginx', retune: false })).toEqual(plain);
    expect(JSON.parse(ENROLL.dbus.toWire(plain)[0])).not.toHaveProperty('retune');
    const asked = ENROLL.parse(JSON.stringify({ unit: 'nginx', retune: true }));
    expect(asked).toEqual({ ...plain, retune: true });
    expect(JSON.parse(ENROLL.dbus.toWire(asked)[0])).toMatchObject({ unit: 'nginx.service', retune: true });
    // what an older client sends (the spec's JSON, no retune) still parses
    expect(ENROLL.parse(JSON.stringify(plain))).toEqual(plain);
    for (const bad of ['yes', 1, null, {}]) {
      expect(() => ENROLL.parse({ unit: 'nginx', retune: bad }), String(bad)).toThrow(AutohardenError);
      expect(() => ENROLL.parse({ unit: 'nginx', retune: bad })).toThrow(/retune/);
    }
    // the spec is still validated as strictly as before
    expect(() => ENROLL.parse({ unit: 'nginx', retune: true, bogus: 1 })).toThrow(/bogus|Unrecognized/);
    expect(() => ENROLL.parse('{"unit":')).toThrow(/not JSON/);
  });
});
