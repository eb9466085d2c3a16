// The learn loop of the engine (issue 9 item 3): a retry with learned ReadWritePaths keeps only
// the directories the service wrote during it. A simulated service fails under strict unless the
// directories it really needs are writable, and its log (which a client can write into) also
// names a directory of its own scope that it never writes, and one outside the scope.
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalStore } from '../../src/adapters/journalStore.js';
import { changedSince, realDir } from '../../src/adapters/writes.js';
import { acceptedSet } from '../../src/core/journal.js';
import { baseValue, pathsOf } from '../../src/core/learn.js';
import type { UnitObservation } from '../../src/core/observe.js';
import type { OptionSpec, Setting, UnitSnapshot } from '../../src/core/types.js';
import type { Ports, ProgressEvent } from '../../src/engine/ports.js';
import { tune } from '../../src/engine/tune.js';

const PROTECT_SYSTEM: OptionSpec = {
  name: 'ProtectSystem', family: 'filesystem', weight: 1000, cost: 'free', safety: 'verifiable', confinesSessions: false, prior: 0.9, minSystemd: 232,
  properties: ['ProtectSystem'], exitStatuses: [226], logHints: [], summary: 'ProtectSystem',
  ladder: [{ value: 'strict', lines: ['ProtectSystem=strict'], residual: 0, inForce: (eff) => eff.ProtectSystem === 'strict' }],
};

interface Sim {
  /** Directories it cannot start without under strict. */
  needs: string[];
  /** What changedSince reports as written during a trial. */
  writes: string[];
}

function simulated(s: Sim) {
  let accepted: Setting[] = [];
  let trial: Setting[] = [];
  let writable: string[] | undefined; // strict's ReadWritePaths in force; undefined: no strict
  let inv = 0;
  let logs: string[] = [];
  let snap: UnitSnapshot = { activeState: 'active', subState: 'running', result: 'success', invocationId: 'i0', nRestarts: 0, mainPid: 10, execMainCode: 0, execMainStatus: 0 };
  const progress: string[] = [];
  const asked: string[] = [];
  const obs = { mainPid: 10, pids: [10], processes: [], inet: [], unix: [], netlink: [], packet: [], otherSockets: [], writablePaths: [], warnings: [] } as unknown as UnitObservation;
  const ports: Ports = {
    systemd: {
      version: async () => 252,
      unitInfo: async () => ({ loadState: 'loaded', activeState: snap.activeState, subState: snap.subState, fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple' }),
      snapshot: async () => ({ ...snap }),
      serviceProperties: async () => ({ ProtectSystem: writable ? 'strict' : 'no', User: 'app', StateDirectory: [] }),
      reload: async () => {
        const ps = [...accepted, ...trial].filter((x) => x.option === 'ProtectSystem').at(-1);
        writable = ps && baseValue(ps.value) === 'strict' ? pathsOf(ps.value) : undefined;
      },
      resetFailed: async () => {},
      restart: async () => {
        snap = { ...snap, activeState: 'active', subState: 'running', result: 'success', invocationId: `i${++inv}`, execMainCode: 0, execMainStatus: 0 };
        logs = [];
        const missing = writable ? s.needs.filter((d) => !writable!.includes(d)) : [];
        if (missing.length) {
          snap = { ...snap, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 10 };
          logs = [
            ...missing.map((d) => `app: FATAL: EROFS: read-only file system, open '${d}/state.tmp'`),
            // a client's Referer in the same log: a directory of its own it never writes, and cron
            'app: *1 "/x" is not found, referrer: "x open() "/var/cache/app/x" failed (30: Read-only file system)"',
            'app: *2 "/y" is not found, referrer: "x open() "//etc/cron.d/p" failed (30: Read-only file system)"',
          ];
        }
        return 'done';
      },
    },
    journal: new JournalStore(mkdtempSync(join(tmpdir(), 'ah-learn-')), 'app.service'),
    dropins: {
      writeTrial: (_u, x) => ((trial = [...x]), ''),
      removeTrial: () => ((trial = []), true),
      hasTrial: () => trial.length > 0,
      acceptedWhere: () => (accepted.length ? 'run' : undefined),
      writeAccepted: (_u, x) => ((accepted = [...x]), undefined),
      readAccepted: () => undefined,
    },
    probe: async () => [],
    unitLogsSince: async () => logs,
    observe: async () => ({
      facts: { usesInet: false, inetEndpoints: [], nonLoopbackListeners: [], families: [], peers: [], sessionEvidence: [], createdModes: [], writableDirs: [] },
      logFiles: [],
      observation: obs,
    }),
    logOffsets: () => ({}),
    logLinesSince: () => [],
    isDirectory: () => false,
    realDir: (p) => (asked.push(p), p),
    changedSince: (dir) => s.writes.includes(dir),
    runWorkload: async () => 1,
    recentLogs: async () => [],
    exposure: async () => (accepted.length ? 1 : 9),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    now: () => new Date(),
    fault: () => {},
    progress: (e: ProgressEvent) => {
      if (e.type === 'info') progress.push(e.message);
    },
  };
  return { ports, progress, asked, accepted: () => accepted };
}

const run = (ports: Ports) =>
  tune(ports, { unit: 'app.service', probes: [], settleMs: 20, strategy: 'one-at-a-time', persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, [PROTECT_SYSTEM]);

describe('learned ReadWritePaths are kept only where the service wrote', () => {
  it('drops an in-scope directory a hostile line named but the service never wrote, and never learns /etc', async () => {
    const sim = simulated({ needs: ['/var/lib/app'], writes: ['/var/lib/app'] });
    const report = await run(sim.ports);
    const trials = sim.ports.journal.read().flatMap((r) => (r.kind === 'trial-end' ? [`${r.settings[0]!.value} ${r.outcome}`] : []));
    expect(trials).toEqual([
      'strict rejected',
      'strict; ReadWritePaths=-/var/cache/app -/var/lib/app accepted',
      'strict; ReadWritePaths=-/var/lib/app accepted',
    ]);
    expect(sim.accepted().map((x) => x.value)).toEqual(['strict; ReadWritePaths=-/var/lib/app']);
    expect(acceptedSet(sim.ports.journal.read()).map((x) => x.value)).toEqual(['strict; ReadWritePaths=-/var/lib/app']);
    expect(report.accepted.map((a) => a.value)).toEqual(['strict; ReadWritePaths=-/var/lib/app']);
    expect(sim.progress.join('\n')).toMatch(/did not write during trial #2: \/var\/cache\/app/);
    expect(sim.asked.some((p) => p.startsWith('/etc'))).toBe(false); // out of scope: never even resolved
  });

  it('keeps a directory the trial without it shows is needed, though no write was seen', async () => {
    const sim = simulated({ needs: ['/var/lib/app', '/var/cache/app'], writes: ['/var/lib/app'] });
    await run(sim.ports);
    const trials = sim.ports.journal.read().flatMap((r) => (r.kind === 'trial-end' ? [`${r.settings[0]!.value} ${r.outcome}`] : []));
    expect(trials).toEqual([
      'strict rejected',
      'strict; ReadWritePaths=-/var/cache/app -/var/lib/app accepted',
      'strict; ReadWritePaths=-/var/lib/app rejected',
      'strict; ReadWritePaths=-/var/cache/app -/var/lib/app accepted',
    ]);
    expect(sim.accepted().map((x) => x.value)).toEqual(['strict; ReadWritePaths=-/var/cache/app -/var/lib/app']);
    expect(sim.progress.join('\n')).toMatch(/kept \/var\/cache\/app: trial #3 without them failed/);
  });

  it('asks nothing more when every learned directory was written', async () => {
    const sim = simulated({ needs: ['/var/lib/app'], writes: ['/var/lib/app', '/var/cache/app'] });
    await run(sim.ports);
    const trials = sim.ports.journal.read().filter((r) => r.kind === 'trial-end');
    expect(trials).toHaveLength(2);
    expect(sim.accepted().map((x) => x.value)).toEqual(['strict; ReadWritePaths=-/var/cache/app -/var/lib/app']);
  });
});

describe('the file-system side', () => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'ah-writes-')));
  mkdirSync(join(root, 'state/sub'), { recursive: true });
  writeFileSync(join(root, 'state/sub/f'), 'x');
  writeFileSync(join(root, 'file'), 'x');
  symlinkSync(join(root, 'state'), join(root, 'link'));
  symlinkSync('/etc', join(root, 'state/etc'));

  it('resolves a directory through symlinks; nothing for a file or a missing path', () => {
    expect(realDir(join(root, 'link/sub'))).toBe(join(root, 'state/sub'));
    expect(realDir(join(root, 'state/etc'))).toBe('/etc');
    expect(realDir(join(root, 'file'))).toBeUndefined();
    expect(realDir(join(root, 'missing/x'))).toBeUndefined();
  });

  it('sees a change made at or after the time asked about, not one before, within its bound', () => {
    const hourAgo = new Date(Date.now() - 3_600_000);
    const inAnHour = new Date(Date.now() + 3_600_000);
    expect(changedSince(join(root, 'state'), hourAgo)).toBe(true);
    expect(changedSince(join(root, 'state'), inAnHour)).toBe(false);
    expect(changedSince(join(root, 'missing'), hourAgo)).toBe(false);
    expect(changedSince(join(root, 'state'), hourAgo, 0)).toBe(false); // bounded: nothing looked at, nothing seen
  });
});
