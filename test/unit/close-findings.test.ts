// NoExecPaths= and InaccessiblePaths= built from observation (core/closeFindings.ts): the rung an
// nginx-like unit gets, when each is skipped and why, what hostile observation cannot write, and
// the read-back that says whether they are in force.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execBinaries } from '../../src/adapters/unitIdentity.js';
import type { SystemdPort } from '../../src/engine/ports.js';
import { CATALOG, optionByName, usableOptions } from '../../src/core/catalog.js';
import { CREDENTIAL_FILES, MAX_EXEC_DIRS, admitCredentials, admitNoExec, ownDirectories } from '../../src/core/closeFindings.js';
import { lineProblem } from '../../src/core/directives.js';
import { buildObservation, execDirsOf, observedFacts, parseMapsExecFiles, type RawProcess } from '../../src/core/observe.js';
import { versionOnly } from '../../src/core/platform.js';
import { NO_DECLARATIONS, applySafetyPolicy } from '../../src/core/policy.js';
import { toSetting } from '../../src/core/plan.js';
import { inForce } from '../../src/core/setting.js';
import type { EffectiveSettings, OptionSpec, Rung, SafetyFacts } from '../../src/core/types.js';

const spec = (name: string): OptionSpec => {
  const s = optionByName(name);
  if (!s) throw new Error(`no option ${name}`);
  return s;
};
const NOEXEC = spec('NoExecPaths');
const CREDS = spec('InaccessiblePaths');

const NGINX_DIRS = ['/usr/lib/nginx/modules', '/usr/lib/x86_64-linux-gnu', '/usr/sbin'];
const FACTS: SafetyFacts = {
  usesInet: true, inetEndpoints: ['tcp 0.0.0.0:80'], nonLoopbackListeners: ['0.0.0.0:80'], families: ['AF_INET', 'AF_UNIX'],
  peers: [], sessionEvidence: [], createdModes: [], execDirs: NGINX_DIRS, openCredentials: [], uids: [33],
};

describe('NoExecPaths for a root service', () => {
  const ROOT: SafetyFacts = { ...FACTS, uids: [0, 33], writableDirs: ['/run', '/var/log/nginx', '/var/lib/nginx/body', '/var/lib/nginx/proxy', '/home/alice'] };
  it('names only places that stay writable whatever else is accepted (no / and no ExecPaths=, which would remount /usr writable; not /run, which it was only seen writing)', () => {
    for (const uids of [[0], [33, 0], [], undefined]) {
      const r = rungOf(admitNoExec(NOEXEC.ladder, { ...ROOT, uids }, NO_DECLARATIONS, { ...EFF, ReadWritePaths: ['-/srv/www'] }));
      expect(r.lines, String(uids)).toEqual(['NoExecPaths=-/dev/shm -/run/nginx -/srv/www -/tmp -/var/lib/nginx -/var/tmp']);
      for (const l of r.lines) expect(lineProblem(l), l).toBeUndefined();
    }
  });

  it('is skipped when it runs code from a place it writes', () => {
    expect(skipOf(admitNoExec(NOEXEC.ladder, { ...ROOT, execDirs: [...NGINX_DIRS, '/var/lib/nginx/jit'] }, NO_DECLARATIONS, EFF))).toMatch(/runs code from \/var\/lib\/nginx\/jit/);
  });

  it('is in force only while every place it names is writable without it (else its mount would undo ProtectSystem= there)', () => {
    const r = rungOf(admitNoExec(NOEXEC.ladder, ROOT, NO_DECLARATIONS, EFF));
    const named = ['/dev/shm', '/run/nginx', '/tmp', '/var/lib/nginx', '/var/tmp'];
    const strict: EffectiveSettings = { ...EFF, NoExecPaths: named.map((p) => `-${p}`), ProtectSystem: 'strict', PrivateTmp: true, ReadWritePaths: ['/var/log/nginx'] };
    expect(r.inForce(strict)).toBe(true);
    expect(r.inForce({ ...strict, PrivateTmp: false }), 'strict without a private /tmp: /tmp is read-only').toBe(false);
    expect(r.inForce({ ...strict, PrivateTmp: false, ProtectSystem: 'full' }), 'full leaves /tmp writable').toBe(true);
    expect(r.inForce({ ...strict, PrivateTmp: false, ProtectSystem: 'no', StateDirectory: [] }), 'nothing read-only').toBe(true);
    expect(r.inForce({ ...strict, StateDirectory: [] }), '/var/lib/nginx no longer its own: read-only under strict').toBe(false);
    expect(r.inForce({ ...strict, NoExecPaths: named.slice(1) }), 'one place missing').toBe(false);
  });
});
/** What the unit's own directories read back as (as of paths relative to their bases). */
const EFF: EffectiveSettings = { StateDirectory: ['nginx'], RuntimeDirectory: ['nginx'], CacheDirectory: [], LogsDirectory: [], NoExecPaths: [], ExecPaths: [] };

function rungOf(d: ReturnType<typeof admitNoExec>): Rung {
  if ('skip' in d) throw new Error(`skipped: ${d.skip}`);
  expect(d.rungs).toHaveLength(1);
  return d.rungs[0]!;
}
const skipOf = (d: ReturnType<typeof admitNoExec>): string => ('skip' in d ? d.skip : `not skipped: ${d.rungs.map((r) => r.value).join(', ')}`);

describe('NoExecPaths', () => {
  it('builds one rung for an nginx-like unit: / and the mounts systemd makes for it noexec, its code directories exec', () => {
    const r = rungOf(admitNoExec(NOEXEC.ladder, FACTS, NO_DECLARATIONS, EFF));
    expect(r.lines).toEqual([
      'NoExecPaths=/ -/tmp -/var/tmp -/dev/shm -/run/nginx -/var/lib/nginx',
      'ExecPaths=-/usr/lib/nginx/modules -/usr/lib/x86_64-linux-gnu -/usr/sbin',
    ]);
    for (const l of r.lines) expect(lineProblem(l), l).toBeUndefined();
    expect(r.rung).toBe('observed');
    // the whole policy lets it through too (no sessions), with the same lines
    const d = applySafetyPolicy(NOEXEC, NOEXEC.ladder, FACTS, NO_DECLARATIONS, EFF);
    expect('rungs' in d && d.rungs[0]!.lines).toEqual(r.lines);
  });

  it('names the unit\'s own directories, none outside their bases', () => {
    expect(ownDirectories({ StateDirectory: ['a', 'a/sub', '../../etc', '/abs', ''], LogsDirectory: ['b'], CacheDirectory: ['c'], RuntimeDirectory: 'x' }))
      .toEqual(['/var/cache/c', '/var/lib/a', '/var/lib/a/sub', '/var/log/b']);
  });

  it('is in force when every path of ours reads back, prefixes or not', () => {
    const r = rungOf(admitNoExec(NOEXEC.ladder, FACTS, NO_DECLARATIONS, EFF));
    const s = toSetting(NOEXEC, r);
    const all: EffectiveSettings = {
      NoExecPaths: ['/', '-/tmp', '-/var/tmp', '-/dev/shm', '-/run/nginx', '-/var/lib/nginx'],
      ExecPaths: ['-/usr/lib/nginx/modules', '/usr/lib/x86_64-linux-gnu', '-/usr/sbin', '-/opt/vendor'],
    };
    expect(inForce(s, all)).toBe(true);
    expect(r.inForce(all)).toBe(true);
    // one exec directory or one noexec mount missing, or / itself: not ours
    expect(inForce(s, { ...all, ExecPaths: ['-/usr/sbin', '-/usr/lib/x86_64-linux-gnu'] })).toBe(false);
    expect(inForce(s, { ...all, NoExecPaths: ['/', '-/tmp', '-/var/tmp', '-/run/nginx', '-/var/lib/nginx'] })).toBe(false);
    expect(inForce(s, { ...all, NoExecPaths: ['-/tmp', '-/var/tmp', '-/dev/shm', '-/run/nginx', '-/var/lib/nginx'] })).toBe(false);
    expect(inForce(s, {})).toBe(false);
    expect(inForce(s, { NoExecPaths: '/', ExecPaths: null })).toBe(false);
  });

  it('skips a unit that spawns login sessions, and one whose code directories were not read', () => {
    expect(skipOf(admitNoExec(NOEXEC.ladder, { ...FACTS, sessionEvidence: ['pid 9 (bash) lives in /user.slice/session-3.scope'] }, NO_DECLARATIONS, EFF)))
      .toMatch(/login sessions .*session-3\.scope/);
    const { execDirs: _, ...noDirs } = FACTS;
    expect(skipOf(admitNoExec(NOEXEC.ladder, noDirs, NO_DECLARATIONS, EFF))).toMatch(/did not read .*maps/);
    expect(skipOf(admitNoExec(NOEXEC.ladder, { ...FACTS, execDirs: [] }, NO_DECLARATIONS, EFF))).toMatch(/no directory/);
    const many = Array.from({ length: MAX_EXEC_DIRS + 1 }, (_, i) => `/usr/lib/python3/m${i}`);
    expect(skipOf(admitNoExec(NOEXEC.ladder, { ...FACTS, execDirs: many }, NO_DECLARATIONS, EFF))).toMatch(/65 directories/);
  });

  it('skips a unit that runs code from where it writes, and a vendor ExecPaths=/', () => {
    for (const dir of ['/tmp/jna-123', '/dev/shm', '/var/lib/nginx/plugins', '/run/nginx']) {
      expect(skipOf(admitNoExec(NOEXEC.ladder, { ...FACTS, execDirs: [...NGINX_DIRS, dir] }, NO_DECLARATIONS, EFF)), dir).toContain(`runs code from ${dir}`);
    }
    expect(skipOf(admitNoExec(NOEXEC.ladder, { ...FACTS, execDirs: ['/'] }, NO_DECLARATIONS, EFF))).toContain('runs code from /,');
    // below a directory it writes files in (a plugin directory under its data)
    const plugins = { ...FACTS, execDirs: [...NGINX_DIRS, '/srv/app/plugins'], writableDirs: ['/srv/app', '/var/log/nginx'] };
    expect(skipOf(admitNoExec(NOEXEC.ladder, plugins, NO_DECLARATIONS, EFF))).toContain('runs code from /srv/app/plugins');
    expect('rungs' in admitNoExec(NOEXEC.ladder, { ...FACTS, writableDirs: ['/var/log/nginx'] }, NO_DECLARATIONS, EFF)).toBe(true);
    expect(skipOf(admitNoExec(NOEXEC.ladder, FACTS, NO_DECLARATIONS, { ...EFF, ExecPaths: ['-/'] }))).toMatch(/vendor sets ExecPaths=\//);
  });

  it('drops what a drop-in cannot carry literally (facts from a journal), never writes it', () => {
    const hostile = [...NGINX_DIRS, 'usr/lib/relative', '/usr/lib/evil\nExecStart=/tmp/x', '/usr/lib/a b', '/usr/lib/%n', '/usr/lib/../../tmp', '/usr/lib/q"'];
    const r = rungOf(admitNoExec(NOEXEC.ladder, { ...FACTS, execDirs: hostile }, NO_DECLARATIONS, EFF));
    expect(r.lines[1]).toBe('ExecPaths=-/usr/lib/nginx/modules -/usr/lib/x86_64-linux-gnu -/usr/sbin');
    for (const l of r.lines) expect(lineProblem(l), l).toBeUndefined();
    expect(r.value).not.toMatch(/[\n%"]|relative|evil/);
  });
});

describe('where the code comes from (observation)', () => {
  const MAPS = [
    '55d0c0a00000-55d0c0a2c000 r--p 00000000 fd:01 1311 /usr/sbin/nginx',
    '55d0c0a2c000-55d0c0b00000 r-xp 0002c000 fd:01 1311 /usr/sbin/nginx',
    '7f00a0000000-7f00a0100000 r-xp 00000000 fd:01 2001                       /usr/lib/x86_64-linux-gnu/libc.so.6',
    '7f00a0200000-7f00a0210000 r-xp 00000000 fd:01 2002 /lib/x86_64-linux-gnu/libpcre2-8.so.0',
    '7f00a0300000-7f00a0310000 r-xp 00000000 fd:01 2003 /usr/lib/nginx/modules/ngx_http_geoip_module.so (deleted)',
    '7f00a0400000-7f00a0410000 r--p 00000000 fd:01 2004 /usr/share/zoneinfo/UTC',
    '7f00a0500000-7f00a0510000 rw-p 00000000 00:00 0 ',
    '7f00a0600000-7f00a0610000 r-xp 00000000 00:00 0 [vdso]',
    '7f00a0700000-7f00a0710000 r-xp 00000000 00:01 0 /dev/zero (deleted)',
    '7f00a0800000-7f00a0810000 r-xp 00000000 fd:01 3001 /tmp/evil\\012ExecStart=/bin/sh',
    '7f00a0900000-7f00a0910000 r-xp 00000000 fd:01 3002 relative/lib.so',
    '7f00a0a00000-7f00a0a10000 r-xp 00000000 00:05 3003 /memfd:jit (deleted)',
    '7f00a0b00000-7f00a0b10000 r-xp 00000000 fd:01 3004 /opt/my app/lib.so',
    'garbage line',
  ].join('\n');

  it('takes the executable file mappings, not data, anonymous or relative ones', () => {
    expect(parseMapsExecFiles(MAPS).sort()).toEqual([
      '/lib/x86_64-linux-gnu/libpcre2-8.so.0', '/memfd:jit', '/opt/my app/lib.so', '/tmp/evil\\012ExecStart=/bin/sh',
      '/usr/lib/nginx/modules/ngx_http_geoip_module.so', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/sbin/nginx',
    ]);
  });

  it('resolves files first (merged /usr), then drops names a drop-in cannot carry', () => {
    const real = (p: string) => (p.startsWith('/lib/') ? `/usr${p}` : p === '/bin/sh' ? '/usr/bin/dash' : undefined);
    expect(execDirsOf([...parseMapsExecFiles(MAPS), '/bin/sh', 'x/y', '/'], real)).toEqual([
      '/usr/bin', '/usr/lib/nginx/modules', '/usr/lib/x86_64-linux-gnu', '/usr/sbin',
    ]);
    // without a resolver the path stands as the kernel wrote it
    expect(execDirsOf(['/lib/x86_64-linux-gnu/libc.so.6'])).toEqual(['/lib/x86_64-linux-gnu']);
  });

  const proc = (over: Partial<RawProcess>): RawProcess => ({ pid: 10, status: 'Name:\tnginx\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n', fds: [], ...over });

  it('gathers exe links and maps into the facts, and which password files are held open', () => {
    const obs = buildObservation({
      mainPid: 10, net: [],
      processes: [
        proc({ exe: '/usr/sbin/nginx', maps: MAPS, fds: [{ link: '/etc/shadow', fdinfo: 'flags:\t0100000\n', stat: { uid: 0, gid: 42, mode: 0o100640 } }] }),
        proc({ pid: 11, exe: '/usr/sbin/nginx (deleted)' }),
      ],
    });
    expect(obs.execFiles).toContain('/usr/sbin/nginx');
    expect(obs.execFiles).not.toContain('/usr/sbin/nginx (deleted)');
    const { facts } = observedFacts(obs, 'nginx', new Map(), { execDirs: execDirsOf(obs.execFiles ?? []) });
    expect(facts.execDirs).toEqual(['/lib/x86_64-linux-gnu', '/usr/lib/nginx/modules', '/usr/lib/x86_64-linux-gnu', '/usr/sbin']);
    expect(facts.openCredentials).toEqual(['/etc/shadow']);
    expect(facts.pamService).toBeUndefined();
  });

  it('leaves the code directories unknown when no mappings were read', () => {
    const obs = buildObservation({ mainPid: 10, net: [], processes: [proc({ exe: '/usr/sbin/nginx' })] });
    expect(obs.execFiles).toBeUndefined();
    const { facts } = observedFacts(obs, 'nginx', new Map());
    expect(facts.execDirs).toBeUndefined();
    expect(skipOf(admitNoExec(NOEXEC.ladder, { ...facts, uids: [33] }, NO_DECLARATIONS, EFF))).toMatch(/did not read/);
  });

  it('records the PAM service whose stack was read', () => {
    const obs = buildObservation({ mainPid: 10, net: [], processes: [proc({})], sessions: { processes: [], pamService: 'dovecot', pamStack: 'auth required pam_unix.so' } });
    expect(observedFacts(obs, 'dovecot', new Map()).facts.pamService).toBe('dovecot');
  });
});

describe('InaccessiblePaths for the password files', () => {
  it('hides /etc/shadow, /etc/gshadow and their backups, each "-" (no failure where absent)', () => {
    expect(CREDS.ladder.map((r) => r.lines)).toEqual([['InaccessiblePaths=-/etc/shadow -/etc/gshadow -/etc/shadow- -/etc/gshadow-']]);
    for (const l of CREDS.ladder[0]!.lines) expect(lineProblem(l), l).toBeUndefined();
    const d = applySafetyPolicy(CREDS, CREDS.ladder, FACTS, NO_DECLARATIONS, {});
    expect('rungs' in d && d.rungs).toEqual(CREDS.ladder);
  });

  it('skips a unit that holds one open, runs logins, has a PAM stack, or whose open files are unknown', () => {
    const why = (f: SafetyFacts) => {
      const d = admitCredentials(CREDS.ladder, f);
      return 'skip' in d ? d.skip : 'not skipped';
    };
    expect(why({ ...FACTS, openCredentials: ['/etc/gshadow'] })).toBe('holds /etc/gshadow open: it reads the hashes');
    expect(why({ ...FACTS, sessionEvidence: ['PAM stack sshd registers sessions with pam_systemd.so'] })).toMatch(/login sessions/);
    expect(why({ ...FACTS, pamService: 'dovecot' })).toMatch(/PAM stack \(\/etc\/pam\.d\/dovecot\)/);
    const { openCredentials: _, ...unknown } = FACTS;
    expect(why(unknown)).toMatch(/did not read/);
    // a file outside the list is no reason
    expect(why({ ...FACTS, openCredentials: ['/etc/passwd'] })).toBe('not skipped');
  });

  it('is in force when every file reads back in InaccessiblePaths, with or without "-"', () => {
    const s = toSetting(CREDS, CREDS.ladder[0]!);
    expect(inForce(s, { InaccessiblePaths: CREDENTIAL_FILES.map((p) => `-${p}`) })).toBe(true);
    expect(inForce(s, { InaccessiblePaths: ['/etc/ssl/private', ...CREDENTIAL_FILES] })).toBe(true);
    expect(inForce(s, { InaccessiblePaths: ['-/etc/shadow', '-/etc/gshadow'] })).toBe(false);
    expect(inForce(s, { InaccessiblePaths: '/etc/shadow /etc/gshadow /etc/shadow- /etc/gshadow-' })).toBe(false);
    expect(inForce(s, {})).toBe(false);
  });
});

describe('catalog entries', () => {
  it('are latent-risk, unscored, and need the systemd that knows them', () => {
    for (const [o, since] of [[NOEXEC, 248], [CREDS, 231]] as const) {
      expect(o.safety, o.name).toBe('latent-risk');
      expect(o.weight, o.name).toBe(0);
      expect(o.minSystemd, o.name).toBe(since);
      expect(usableOptions(CATALOG, versionOnly(since)).map((x) => x.name), o.name).toContain(o.name);
      expect(usableOptions(CATALOG, versionOnly(since - 1)).map((x) => x.name), o.name).not.toContain(o.name);
    }
    expect(NOEXEC.exitStatuses).toEqual([203, 226]);
    expect(NOEXEC.properties).toEqual(expect.arrayContaining(['NoExecPaths', 'ExecPaths', 'StateDirectory', 'RuntimeDirectory']));
    expect(NOEXEC.summary).toMatch(/after the trial/);
  });
});

describe('the binaries of the Exec lines (adapter)', () => {
  it('reads every Exec*= line of the fragment and drop-ins, stop ones too, with script interpreters', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cls-'));
    try {
      const script = join(dir, 'pre.sh');
      writeFileSync(script, '#!/bin/sh\nexit 0\n');
      chmodSync(script, 0o755);
      const fragment = join(dir, 'x.service');
      writeFileSync(fragment, [
        '[Service]', `ExecStartPre=${script} --check`, "ExecStart=/usr/sbin/nginx -g 'daemon on;'",
        'ExecStop=-/sbin/start-stop-daemon --stop', 'ExecStartPost=relative-cmd', 'ExecCondition=|/usr/bin/test -f /x', '',
      ].join('\n'));
      const dropIn = join(dir, 'override.conf');
      writeFileSync(dropIn, '[Service]\nExecReload=+/usr/bin/kill -HUP $MAINPID\n');
      const systemd = { unitInfo: async () => ({ fragmentPath: fragment, dropInPaths: [dropIn, join(dir, 'gone.conf')] }) } as unknown as SystemdPort;
      expect(await execBinaries(systemd, 'x.service')).toEqual(['/bin/sh', script, '/sbin/start-stop-daemon', '/usr/bin/kill', '/usr/bin/test', '/usr/sbin/nginx'].sort());
      const broken = { unitInfo: async () => { throw new Error('no bus'); } } as unknown as SystemdPort;
      expect(await execBinaries(broken, 'x.service')).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
