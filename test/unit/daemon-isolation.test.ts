// I3: one unit's corrupt journal or enrollment file, or a state directory that refuses writes,
// never stops the daemon or the other units. start() resolves, Status("") lists every unit (the
// bad ones as failed, with the reason), commands on a bad unit get Config, and a failure handler
// that cannot save survives.
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockUnit } from '../../src/adapters/lock.js';
import { journalFor } from '../../src/compose.js';
import { AutohardenError, stateWriteError } from '../../src/core/errors.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { parseEnrollSpec } from '../../src/daemon/spec.js';
import { EnrollmentStore, newEnrollment, type Enrollment } from '../../src/daemon/store.js';
import { thrown } from './expect-errors.js';
import { SimUnit, daemonDeps, setting, simPorts, simSystemd, simUnits, stubSession, tuned, until } from './daemon-fakes.js';

/** A store whose writes fail with ENOSPC while `refuse` is set. */
class FullDiskStore extends EnrollmentStore {
  refuse = false;
  override write(e: Enrollment): void {
    if (this.refuse) throw stateWriteError(join(this.dir, `${e.spec.unit}.json`), 'the enrollment', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    super.write(e);
  }
}

interface World {
  daemon: Daemon;
  dir: string;
  store: FullDiskStore;
  logs: string[];
  /** begin() of these units throws (after running the hook). */
  failBegin: Map<string, () => void>;
  /** lock() of these units throws this. */
  lockError: Map<string, Error>;
}

function world(dir = mkdtempSync(join(tmpdir(), 'ah-iso-'))): World {
  const { unitOf } = simUnits();
  const logs: string[] = [];
  const w: World = { daemon: undefined as unknown as Daemon, dir, store: new FullDiskStore(dir), logs, failBegin: new Map(), lockError: new Map() };
  const deps = daemonDeps(dir, {
    systemd: simSystemd(unitOf, (u) => ({ id: u })),
    store: w.store,
    portsFor: (u) => simPorts(unitOf(u), dir),
    lock: (u, id) => {
      const err = w.lockError.get(u);
      if (err) throw err;
      return lockUnit(dir, u, id);
    },
    journaledUnits: () => ['a.service', 'b.service', 'd.service', 'e.service'],
    log: { info: () => {}, warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`), debug: () => {} },
    newSession: (ports, o) =>
      stubSession(ports, o, {
        begin: () => {
          const hook = w.failBegin.get(o.unit);
          if (!hook) return;
          hook();
          throw new AutohardenError('Failed', `${o.unit}: the probe fails before any change`);
        },
      }),
  });
  w.daemon = new Daemon(deps);
  return w;
}

const caught = (f: () => unknown) => thrown(f, AutohardenError);

let live: World[] = [];
afterEach(async () => {
  for (const w of live) await w.daemon.stop();
  live = [];
});

describe('per-unit isolation in the daemon', () => {
  it('starts and lists every unit when one journal or enrollment is corrupt; commands on the bad ones get Config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-iso-'));
    const store = new EnrollmentStore(dir);
    for (const u of ['a.service', 'b.service', 'f.service']) {
      store.write({ ...newEnrollment(parseEnrollSpec({ unit: u })), state: 'guarding' });
      if (u !== 'f.service') tuned(simPorts(new SimUnit(u), dir), new SimUnit(u), [setting('PrivateTmp')]);
    }
    tuned(simPorts(new SimUnit('d.service'), dir), new SimUnit('d.service'), [setting('ProtectHome')]);
    tuned(simPorts(new SimUnit('e.service'), dir), new SimUnit('e.service'), [setting('ProtectHome')]);
    // b: a line glued by an old writer, records after it; e (only tuned, not enrolled): garbage mid-file
    appendFileSync(journalFor(dir, 'b.service').path, '{"kind":"trial-begin"{"kind":"recovered"}\n{"kind":"persisted","t":"x","unit":"b.service","path":"/x"}\n');
    appendFileSync(journalFor(dir, 'e.service').path, '\0\0\0\0\n{"kind":"persisted","t":"x","unit":"e.service","path":"/x"}\n');
    mkdirSync(store.dir, { recursive: true });
    writeFileSync(join(store.dir, 'c.service.json'), '{"spec":{"unit":"c.ser');

    const w = world(dir);
    live.push(w);
    w.lockError.set('f.service', stateWriteError(join(dir, 'locks'), 'the lock directory', Object.assign(new Error('EROFS'), { code: 'EROFS' })));
    await w.daemon.start(); // resolves: no unit stops the others
    const rows = Object.fromEntries(w.daemon.status('').map((r) => [r.unit, r]));
    expect(Object.keys(rows).sort()).toEqual(['a.service', 'b.service', 'c.service', 'd.service', 'e.service', 'f.service']);
    expect(rows['a.service']).toMatchObject({ state: 'guarding', accepted: ['PrivateTmp=yes'] });
    expect(rows['d.service']).toMatchObject({ state: 'tuned', accepted: ['ProtectHome=yes'] });
    expect(rows['b.service']).toMatchObject({ state: 'failed', enrolled: true, error: expect.stringMatching(/b\.service\.jsonl:5: not JSON/) });
    expect(rows['c.service']).toMatchObject({ state: 'failed', enrolled: true, error: expect.stringMatching(/c\.service\.json: not JSON/) });
    expect(rows['e.service']).toMatchObject({ state: 'failed', enrolled: false, error: expect.stringMatching(/e\.service\.jsonl:5: not JSON/) });
    expect(rows['f.service']).toMatchObject({ state: 'failed', error: expect.stringMatching(/EROFS/) });
    // b's failure is saved with its reason; the logs say which file
    expect(new EnrollmentStore(dir).read('b.service')).toMatchObject({ state: 'failed', error: expect.stringMatching(/b\.service\.jsonl:5/) });
    expect(w.logs.some((l) => /^error c\.service: failed: .*c\.service\.json: not JSON/.test(l))).toBe(true);

    // Commands on a bad unit: Config (exit 78); on a good one they work.
    for (const u of ['b.service', 'c.service', 'e.service']) expect(caught(() => w.daemon.status(u)).code).toBe('Config');
    expect(caught(() => w.daemon.journal('e.service'))).toMatchObject({ code: 'Config', message: expect.stringMatching(/e\.service\.jsonl:5: not JSON[^\n]*$/) });
    expect(w.daemon.status('a.service')[0]).toMatchObject({ state: 'guarding' });
    expect(w.daemon.journal('d.service').length).toBeGreaterThan(0);

    // It keeps working: a new unit is tuned and guarded; re-enrolling the corrupt one replaces its file.
    await w.daemon.enroll({ unit: 'g' });
    await w.daemon.enroll({ unit: 'c' });
    await until(() => w.daemon.status('').filter((r) => ['g.service', 'c.service'].includes(r.unit) && r.state === 'guarding').length === 2);
  });

  it('survives a failure handler that cannot save (a full state directory), and goes on once there is space', async () => {
    const w = world();
    live.push(w);
    await w.daemon.start();
    w.failBegin.set('x.service', () => {
      w.store.refuse = true;
    });
    await w.daemon.enroll({ unit: 'x' });
    await until(() => w.daemon.status('').some((r) => r.unit === 'x.service' && r.state === 'failed'));
    expect(w.daemon.status('x.service')[0]).toMatchObject({ state: 'failed', error: 'x.service: the probe fails before any change' });
    expect(w.logs.some((l) => /^error x\.service: cannot save that it failed \(cannot write the enrollment .*x\.service\.json \(ENOSPC\)/.test(l))).toBe(true);
    expect(new EnrollmentStore(w.dir).read('x.service')?.state).toBe('queued'); // what the disk still says
    // a unit whose every write fails is failed too, and the loop goes on
    await expect(w.daemon.enroll({ unit: 'y' })).rejects.toMatchObject({ name: 'StateWriteError', errno: 'ENOSPC' });
    w.store.refuse = false;
    await w.daemon.enroll({ unit: 'z' });
    await until(() => w.daemon.status('').some((r) => r.unit === 'z.service' && r.state === 'guarding'));
  });
});
