// The learn loop of the engine (issue 9 item 3): a retry with learned ReadWritePaths keeps only
// the directories the service wrote during it. A simulated service fails under strict unless the
// directories it really needs are writable, and its log (which a client can write into) also
// names a directory of its own scope that it never writes, and one outside the scope.
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { changedSince, realDir } from '../../src/adapters/writes.js';
import { acceptedSet } from '../../src/core/journal.js';
import type { OptionSpec, UnitSnapshot } from '../../src/core/types.js';
import type { Ports, ProgressEvent } from '../../src/engine/ports.js';
import { tune } from '../../src/engine/tune.js';
import { RUNNING, fakePorts, memoryDropIns } from '../fakes/ports.js';

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
  /** Keeps running and only logs the read-only error (caddy's autosave), instead of exiting. */
  logOnly?: boolean;
}

function simulated(s: Sim) {
  const d = memoryDropIns('app.service');
  let writable: string[] | undefined; // strict's ReadWritePaths in force; undefined: no strict
  let inv = 0;
  let restarts = 0;
  let logs: string[] = [];
  let snap: UnitSnapshot = { ...RUNNING };
  const progress: string[] = [];
  const asked: string[] = [];
  const ports = fakePorts('app.service', {
    systemd: {
      unitInfo: async () => ({ loadState: 'loaded', activeState: snap.activeState, subState: snap.subState, fragmentPath: '', dropInPaths: [], needDaemonReload: false, type: 'simple' }),
      snapshot: async () => ({ ...snap }),
      serviceProperties: async () => ({
        ProtectSystem: writable ? 'strict' : 'no', ReadWritePaths: (writable ?? []).map((p) => `-${p}`), User: 'app', StateDirectory: [],
      }),
      reload: async () => {
        // as systemd merges the drop-ins: the last ProtectSystem= wins, ReadWritePaths= lists add up
        const lines = [...d.accepted, ...d.trial].filter((x) => x.option === 'ProtectSystem').flatMap((x) => x.lines);
        const paths = lines.filter((l) => l.startsWith('ReadWritePaths=')).flatMap((l) => l.slice(15).split(' ')).map((p) => p.replace(/^-/, ''));
        writable = lines.filter((l) => l.startsWith('ProtectSystem=')).at(-1) === 'ProtectSystem=strict' ? [...new Set(paths)] : undefined;
      },
      restart: async () => {
        snap = { ...snap, activeState: 'active', subState: 'running', result: 'success', invocationId: `i${++inv}`, execMainCode: 0, execMainStatus: 0 };
        logs = [];
        const missing = writable ? s.needs.filter((d) => !writable!.includes(d)) : [];
        if (missing.length && s.logOnly) {
          logs = missing.map((d) => `app: ERROR: EROFS: read-only file system, open '${d}/autosave.json'`);
        } else if (missing.length) {
          snap = { ...snap, activeState: 'failed', subState: 'failed', result: 'exit-code', execMainCode: 1, execMainStatus: 10 };
          logs = [
            ...missing.map((d) => `app: FATAL: EROFS: read-only file system, open '${d}/state.tmp'`),
            // a client's Referer in the same log: a directory of its own it never writes, and cron
            'app: *1 "/x" is not found, referrer: "x open() "/var/cache/app/x" failed (30: Read-only file system)"',
            'app: *2 "/y" is not found, referrer: "x open() "//etc/cron.d/p" failed (30: Read-only file system)"',
          ];
        }
        restarts++;
        return 'done';
      },
    },
    dropins: d,
    unitLogsSince: async () => logs,
    realDir: (p) => (asked.push(p), p),
    changedSince: (dir) => s.writes.includes(dir),
    exposure: async () => (d.accepted.length ? 1 : 9),
    progress: (e: ProgressEvent) => {
      if (e.type === 'info') progress.push(e.message);
    },
  });
  return { ports, progress, asked, accepted: () => d.accepted, restarts: () => restarts };
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

describe('a verdict resting on log lines that name a path to learn', () => {
  it('is retried with that path before any control run: two restarts, not three', async () => {
    const sim = simulated({ needs: ['/var/lib/app'], writes: ['/var/lib/app'], logOnly: true });
    // adaptive: the retry's restart is the failed trial's revert
    await tune(sim.ports, { unit: 'app.service', probes: [], settleMs: 20, strategy: 'adaptive', persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } }, [PROTECT_SYSTEM]);
    const trials = sim.ports.journal.read().flatMap((r) => (r.kind === 'trial-end' ? [`${r.settings[0]!.value} ${r.outcome} ${r.verdict}`] : []));
    expect(trials).toEqual(['strict rejected log-error', 'strict; ReadWritePaths=-/var/lib/app accepted ok']);
    expect(sim.restarts()).toBe(2);
    expect(sim.progress.join('\n')).not.toMatch(/also appear without the candidate/);
  });
});
