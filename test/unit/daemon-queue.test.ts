// The daemon's queue with stand-in tune sessions: one step at a time, round-robin across units,
// state on disk, resume after a restart, refusals at enroll time.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lockUnit } from '../../src/adapters/lock.js';
import { SystemdError } from '../../src/adapters/systemd.js';
import { journalFor } from '../../src/compose.js';
import { AutohardenError } from '../../src/core/errors.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { EnrollmentStore } from '../../src/daemon/store.js';
import { daemonDeps, simPorts, simSystemd, simUnits, stubSession, until, type SimUnit } from './daemon-fakes.js';

interface Harness {
  daemon: Daemon;
  stateDir: string;
  ops: string[];
  signals: string[];
  steps: Map<string, number>;
  /** Set to make the next begin() of a unit throw. */
  failBegin: Map<string, Error>;
  units: Map<string, SimUnit>;
  maxConcurrent: number;
}

function harness(stateDir = mkdtempSync(join(tmpdir(), 'ah-queue-')), steps: Record<string, number> = {}): Harness {
  const { units, unitOf } = simUnits();
  const h: Harness = {
    stateDir, ops: [], signals: [], steps: new Map(Object.entries(steps)), failBegin: new Map(), units, maxConcurrent: 0,
    daemon: undefined as unknown as Daemon,
  };
  let running = 0;
  const op = async <T>(name: string, v: T): Promise<T> => {
    running++;
    h.maxConcurrent = Math.max(h.maxConcurrent, running);
    h.ops.push(name);
    await new Promise((r) => setTimeout(r, 2));
    running--;
    return v;
  };
  const deps = daemonDeps(stateDir, {
    systemd: simSystemd(unitOf, (u) => ({ loadState: u.startsWith('gone') ? 'not-found' : 'loaded', activeState: u.startsWith('stopped') ? 'inactive' : 'active' })),
    portsFor: (u) => simPorts(unitOf(u), stateDir),
    signals: {
      progress: (u, s, m) => h.signals.push(`${u} ${s} ${m}`),
      trialFinished: (u, t, o) => h.signals.push(`${u} #${t} ${o}`),
      alert: (u, m) => h.signals.push(`${u} ALERT ${m}`),
    },
    newSession: (ports, o) =>
      stubSession(ports, o, {
        begin: async () => {
          const err = h.failBegin.get(o.unit);
          if (!err) return;
          h.failBegin.delete(o.unit);
          await op(`${o.unit} begin`, 0);
          throw err;
        },
        begun: () => op(`${o.unit} begin${o.resume ? ' (resume)' : ''}`, 0),
        step: async (report) => {
          const left = h.steps.get(o.unit) ?? 0;
          h.steps.set(o.unit, left - 1);
          if (left <= 0) return op(`${o.unit} done`, false);
          report.trials++;
          return op(`${o.unit} step`, true);
        },
        finished: () => op(`${o.unit} finish`, undefined),
      }),
  });
  h.daemon = new Daemon(deps);
  return h;
}

const states = (h: Harness) => Object.fromEntries(h.daemon.status('').map((r) => [r.unit, r.state]));

let live: Harness[] = [];
afterEach(async () => {
  for (const h of live) await h.daemon.stop();
  live = [];
});
const started = async (h: Harness) => {
  live.push(h);
  await h.daemon.start();
  return h;
};

describe('the daemon queue', () => {
  it('tunes several units one step at a time, taking turns', async () => {
    const h = await started(harness(undefined, { 'a.service': 4, 'b.service': 4, 'c.service': 1 }));
    await Promise.all(['a', 'b', 'c'].map((u) => h.daemon.enroll({ unit: u })));
    await until(() => Object.values(states(h)).every((s) => s === 'guarding') && Object.keys(states(h)).length === 3);
    expect(h.maxConcurrent).toBe(1);
    // After every unit began, no unit takes two turns in a row while another still has work.
    const seq = h.ops.map((o) => o.split(' ')[0]!);
    const lastBegin = Math.max(...['a', 'b', 'c'].map((u) => h.ops.indexOf(`${u}.service begin`)));
    const cDone = h.ops.indexOf('c.service finish');
    for (let i = lastBegin + 1; i < cDone; i++) expect(seq[i], h.ops.join('\n')).not.toBe(seq[i - 1]);
    expect(h.ops.filter((o) => o.startsWith('a.service step'))).toHaveLength(4);
    expect(h.signals).toContain('a.service guarding tuning done: exposure 9.6 → 3.0, 4 trials; guarding');
  });

  it('keeps enrollments on disk and resumes a unit that was tuning (resume) or queued (fresh)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-queue-'));
    const store = new EnrollmentStore(dir);
    const h1 = harness(dir, { 'a.service': 100 });
    live.push(h1);
    await h1.daemon.start();
    await h1.daemon.enroll({ unit: 'a', settleMs: 700 });
    await until(() => h1.ops.filter((o) => o === 'a.service step').length >= 2);
    await h1.daemon.stop();
    expect(store.read('a.service')).toMatchObject({ state: 'tuning', spec: { settleMs: 700 } });
    // a second unit enrolled but never begun
    mkdirSync(join(dir, 'enrollments'), { recursive: true });
    writeFileSync(join(dir, 'enrollments', 'b.service.json'), JSON.stringify({ ...store.read('a.service'), spec: { ...store.read('a.service')!.spec, unit: 'b.service' }, state: 'queued' }));

    const h2 = await started(harness(dir, { 'a.service': 1, 'b.service': 1 }));
    await until(() => states(h2)['a.service'] === 'guarding' && states(h2)['b.service'] === 'guarding');
    expect(h2.ops).toContain('a.service begin (resume)');
    expect(h2.ops).toContain('b.service begin');
    expect(journalFor(dir, 'a.service').read().filter((r) => r.kind === 'tune-begin')).toHaveLength(1);
  });

  it('brings a guarded unit back to its journaled set at start when a guard action was cut short (I1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-queue-'));
    const h1 = harness(dir, { 'g.service': 1 });
    live.push(h1);
    await h1.daemon.start();
    await h1.daemon.enroll({ unit: 'g' });
    await until(() => states(h1)['g.service'] === 'guarding');
    await h1.daemon.stop();
    // killed mid-trial of some action: the journal has a trial that never ended
    const setting = { option: 'PrivateTmp', value: 'yes', lines: ['PrivateTmp=yes'] };
    journalFor(dir, 'g.service').append({ kind: 'trial-begin', trial: 99, settings: [setting] });
    const h2 = await started(harness(dir, { 'g.service': 1 }));
    expect(states(h2)['g.service']).toBe('guarding');
    const recs = journalFor(dir, 'g.service').read();
    expect(recs.at(-1)).toMatchObject({ kind: 'recovered', trial: 99, reason: expect.stringMatching(/guard action/) });
    expect(h2.units.get('g.service')!.restarts).toBe(1); // the unit runs the journaled set again
  });

  it('marks a unit failed, with the reason, when its tune fails; a bus hiccup is retried with resume', async () => {
    const h = await started(harness(undefined, { 'a.service': 1, 'b.service': 1 }));
    h.failBegin.set('a.service', new AutohardenError('Failed', 'probe http://127.0.0.1/ fails before any change (ECONNREFUSED); fix the probe or the service first'));
    h.failBegin.set('b.service', new SystemdError('Bus', 'D-Bus connection closed'));
    await h.daemon.enroll({ unit: 'a' });
    await h.daemon.enroll({ unit: 'b' });
    await until(() => states(h)['a.service'] === 'failed' && states(h)['b.service'] === 'guarding');
    const a = h.daemon.status('a.service')[0]!;
    expect(a.error).toMatch(/fails before any change/);
    expect(h.signals.some((s) => s.startsWith('a.service failed failed: probe'))).toBe(true);
    expect(h.ops.filter((o) => o.startsWith('b.service begin'))).toHaveLength(2);
  });

  it('refuses at enroll time what it cannot do, queueing nothing', async () => {
    const h = await started(harness());
    const refuse = async (spec: unknown, code: string, msg: RegExp) => {
      const e = await h.daemon.enroll(spec).then(() => undefined, (x: AutohardenError) => x);
      expect(e?.code).toBe(code);
      expect(e?.message).toMatch(msg);
    };
    await refuse('{"unit":', 'Usage', /not JSON/);
    await refuse({ unit: 'a', probes: ['nope'] }, 'Usage', /bad probe spec/);
    await refuse({ unit: 'gone' }, 'UnitUnknown', /not loaded/);
    await refuse({ unit: 'stopped' }, 'UnitUnknown', /not running/);
    // a `tune` holds the unit
    const held = lockUnit(h.stateDir, 'held.service');
    await refuse({ unit: 'held' }, 'Locked', new RegExp(`busy: locked by ${process.pid} \\(`));
    held();
    expect(h.daemon.status('')).toEqual([]);
    await h.daemon.enroll({ unit: 'a' });
    await refuse({ unit: 'a.service' }, 'Failed', /already enrolled/);
  });

  it('unenrolls: forgets the unit, drops its lock and its file', async () => {
    const h = await started(harness(undefined, { 'a.service': 1000 }));
    await h.daemon.enroll({ unit: 'a' });
    await until(() => h.ops.includes('a.service step'));
    const r = await h.daemon.unenroll('a.service', 'keep');
    expect(r).toMatchObject({ unit: 'a.service', mode: 'keep' });
    expect(new EnrollmentStore(h.stateDir).read('a.service')).toBeUndefined();
    expect(() => lockUnit(h.stateDir, 'a.service')()).not.toThrow();
    const steps = h.ops.length;
    await new Promise((r) => setTimeout(r, 50));
    expect(h.ops.length).toBe(steps);
    expect(journalFor(h.stateDir, 'a.service').read().at(-1)?.kind).toBe('tune-end');
    await expect(h.daemon.unenroll('a.service', 'keep')).rejects.toMatchObject({ code: 'UnitUnknown' });
    await expect(h.daemon.unenroll('a.service', 'maybe')).rejects.toMatchObject({ code: 'Usage' });
  });
});
