// Settings that close what the audit battery finds open after a tune (core/audit.ts TECHNIQUES):
// NoExecPaths= (no running a file the service wrote) and InaccessiblePaths= for the password
// files (no reading the hashes as root). Both are built from observation and, like every entry,
// verified by trial. Pure.
//
// Measured on systemd 252 and 257 (the audit helper's boxes): NoExecPaths=/ does not reach the
// mounts systemd makes for the unit itself (PrivateTmp's /tmp and /var/tmp, PrivateDevices'
// /dev/shm, the StateDirectory= binds), so the rung names them too. A root service reads
// /etc/shadow (0640 root:shadow) as its owner: no capability setting blocks that, only a mask.
import { normalisePath, isUnder } from './paths.js';
import type { Decision, EffectiveSettings, OptionSpec, Rung, SafetyFacts } from './types.js';

const NAMESPACE = 226; // a NoExecPaths=/InaccessiblePaths= mount could not be made
const EXEC = 203; // the service's own binary (or its loader) lies under noexec

/** Paths of a (as) property without systemd's "-" (ignore if missing) and "+" prefixes. */
export function pathList(eff: EffectiveSettings, key: string): Set<string> {
  const v = eff[key];
  return new Set(Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string').map((p) => p.replace(/^[-+]+/, '')) : []);
}

// ---------------------------------------------------------------------------------------------
// NoExecPaths= / ExecPaths=

/** Always noexec besides /: the places systemd mounts for the unit that NoExecPaths=/ misses. */
export const NOEXEC_ALWAYS = ['/tmp', '/var/tmp', '/dev/shm'];
/** The unit's own directories (as of paths relative to these bases). */
const OWN_DIRS: Record<string, string> = { StateDirectory: '/var/lib', RuntimeDirectory: '/run', CacheDirectory: '/var/cache', LogsDirectory: '/var/log' };
/** More directories than this is not a list worth writing (a Python tree of extension modules). */
export const MAX_EXEC_DIRS = 64;
const OBSERVED = 'observed';

/** The unit's StateDirectory=/RuntimeDirectory=/CacheDirectory=/LogsDirectory= as absolute paths. */
export function ownDirectories(eff: EffectiveSettings): string[] {
  const out: string[] = [];
  for (const [prop, base] of Object.entries(OWN_DIRS)) {
    const v = eff[prop];
    for (const rel of Array.isArray(v) ? v : []) {
      const p = typeof rel === 'string' && rel && !rel.startsWith('/') ? normalisePath(`${base}/${rel}`) : undefined;
      if (p && p !== base && isUnder(p, base)) out.push(p);
    }
  }
  return [...new Set(out)].sort();
}

/** Item that marks the writable-places rung (no NoExecPaths=/): see staysWritable. */
export const WRITABLE_ONLY = 'only:writable';
/** Where ProtectSystem= makes the tree read-only, per value. */
const READ_ONLY_ROOTS: Record<string, string[]> = { yes: ['/usr', '/boot', '/efi'], full: ['/usr', '/boot', '/efi', '/etc'], strict: ['/'] };

/**
 * A NoExecPaths= entry other than / becomes a mount of its own, and the read-only remount of
 * ProtectSystem= skips every such mount (systemd's namespace.c deny list; measured on 257 with
 * ExecPaths=): so an entry may name only a place that is writable without it, or it would open it.
 */
export function staysWritable(path: string, eff: EffectiveSettings): boolean {
  const ps = typeof eff['ProtectSystem'] === 'string' ? eff['ProtectSystem'] : 'no';
  const ro = READ_ONLY_ROOTS[ps] ?? [];
  if (!ro.some((r) => isUnder(path, r))) return true;
  if (ps === 'strict' && ['/dev', '/proc', '/sys'].some((r) => isUnder(path, r))) return true;
  if ((path === '/tmp' || path === '/var/tmp') && eff['PrivateTmp'] === true) return true;
  return [...pathList(eff, 'ReadWritePaths'), ...ownDirectories(eff)].some((r) => isUnder(path, r));
}

/** Items: `noexec:PATH` and `exec:PATH`, each among NoExecPaths/ExecPaths in force; with
 * WRITABLE_ONLY, every named place must also be writable without its entry. */
export function noExecInForce(items: readonly string[], eff: EffectiveSettings): boolean {
  const no = pathList(eff, 'NoExecPaths');
  const ex = pathList(eff, 'ExecPaths');
  const writableOnly = items.includes(WRITABLE_ONLY);
  return (writableOnly || no.has('/')) && items.every((i) => {
    if (i === WRITABLE_ONLY) return true;
    const [kind, path] = [i.slice(0, i.indexOf(':')), i.slice(i.indexOf(':') + 1)];
    if (kind === 'noexec') return no.has(path) && (!writableOnly || staysWritable(path, eff));
    return kind === 'exec' ? !writableOnly && ex.has(path) : false;
  });
}

/** Its line names the keys (so that directives.ts lets them through); admitNoExec builds the rung. */
export const NO_EXEC_LADDER: Rung[] = [{
  value: OBSERVED, lines: ['NoExecPaths=/', 'ExecPaths=/usr'], residual: 0,
  inForce: (eff) => pathList(eff, 'NoExecPaths').has('/'),
}];

/** The smallest set of places covering the others (a mount's noexec reaches below it). */
function outermost(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && isUnder(p, q)));
}

/** A service that runs as root: noexec only on places that stay writable whatever else the tune
 * accepts — its private /tmp and /var/tmp, /dev/shm, its own directories, the vendor's
 * ReadWritePaths= — never / or a program directory, so nothing is remounted writable (staysWritable
 * checks it at the trial). Not the other directories it was seen writing: ProtectSystem=strict may
 * be accepted after this setting, with them read-only, and this entry's mount would keep them
 * writable (seen on Debian 12: nginx's /run). */
function writablePlacesRung(f: SafetyFacts, eff: EffectiveSettings): Decision {
  const places = outermost([...NOEXEC_ALWAYS, ...ownDirectories(eff), ...pathList(eff, 'ReadWritePaths')].filter((p) => p !== '/' && normalisePath(p) === p));
  if (places.length > MAX_EXEC_DIRS) return { skip: `writes in ${places.length} places; more than ${MAX_EXEC_DIRS} is not a list worth writing` };
  const running = (f.execDirs ?? []).find((d) => places.some((p) => isUnder(d, p)));
  if (running) return { skip: `runs code from ${running}, a place it writes: NoExecPaths= there would stop it` };
  const items = [WRITABLE_ONLY, ...places.map((p) => `noexec:${p}`)];
  return {
    rungs: [{
      value: places.join(' '),
      lines: [`NoExecPaths=${places.map((p) => `-${p}`).join(' ')}`],
      residual: 0,
      inForce: (e) => noExecInForce(items, e),
      rung: OBSERVED,
      items,
    }],
  };
}

/** NoExecPaths=/ and the unit's own mounts, ExecPaths= for the directories its programs and
 * libraries were seen coming from; for a root service, noexec on the places it writes. */
export function admitNoExec(_rungs: Rung[], f: SafetyFacts, _d: unknown, eff: EffectiveSettings = {}): Decision {
  if (f.sessionEvidence.length) {
    return { skip: `spawns login sessions (${f.sessionEvidence[0]}): a person's shell runs programs from anywhere` };
  }
  if (f.execDirs === undefined) return { skip: "observation did not read where the unit's programs and libraries come from (/proc/PID/maps)" };
  // measured on systemd 257: ExecPaths= bind-mounts its directories read-write again under
  // ProtectSystem=strict (and ReadOnlyPaths= on them wins over ExecPaths=, so nothing runs): a
  // root service could then write /usr/bin. It gets noexec where it writes instead.
  if (!f.uids?.length || f.uids.includes(0)) {
    return writablePlacesRung(f, eff);
  }
  // facts may come from a journal: only what a drop-in can carry literally
  const exec = [...new Set(f.execDirs.filter((d) => normalisePath(d) === d))].sort();
  if (exec.length === 0) return { skip: 'observation found no directory the unit runs code from' };
  if (exec.length > MAX_EXEC_DIRS) return { skip: `runs code from ${exec.length} directories; more than ${MAX_EXEC_DIRS} is not a list worth writing` };
  if (pathList(eff, 'ExecPaths').has('/')) return { skip: 'the vendor sets ExecPaths=/, which NoExecPaths=/ cannot tighten' };
  const noexec = [...NOEXEC_ALWAYS, ...ownDirectories(eff)];
  // its own mounts, and the directories it was seen writing files in
  const writes = [...noexec, ...(f.writableDirs ?? []).filter((w) => w !== '/')];
  const writable = exec.find((d) => d === '/' || writes.some((n) => isUnder(d, n)));
  if (writable) return { skip: `runs code from ${writable}, a place it can write: NoExecPaths= would stop it, ExecPaths= would keep it open` };
  const items = [...noexec.map((p) => `noexec:${p}`), ...exec.map((p) => `exec:${p}`)];
  return {
    rungs: [{
      value: `/ ${noexec.join(' ')}; ExecPaths=${exec.join(' ')}`,
      // "-": a directory that disappears (a package upgrade) must not stop the unit from starting
      lines: [`NoExecPaths=/ ${noexec.map((p) => `-${p}`).join(' ')}`, `ExecPaths=${exec.map((p) => `-${p}`).join(' ')}`],
      residual: 0,
      inForce: (e) => noExecInForce(items, e),
      rung: OBSERVED,
      items,
    }],
  };
}

// ---------------------------------------------------------------------------------------------
// InaccessiblePaths= for the password files

/** The password and group hash files and their backups (shadow- holds the previous hashes). */
export const CREDENTIAL_FILES = ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-'];

export const CREDENTIALS_LADDER: Rung[] = [{
  value: CREDENTIAL_FILES.map((p) => `-${p}`).join(' '),
  lines: [`InaccessiblePaths=${CREDENTIAL_FILES.map((p) => `-${p}`).join(' ')}`],
  residual: 0,
  inForce: (eff) => {
    const have = pathList(eff, 'InaccessiblePaths');
    return CREDENTIAL_FILES.every((p) => have.has(p));
  },
}];

/** Not for a unit that reads them: one that holds one open, runs logins, or authenticates
 * through PAM (pam_unix reads /etc/shadow at login, which no probe exercises). */
export function admitCredentials(rungs: Rung[], f: SafetyFacts): Decision {
  if (f.sessionEvidence.length) {
    return { skip: `spawns login sessions (${f.sessionEvidence[0]}): logins read /etc/shadow, which a probe does not exercise` };
  }
  if (f.pamService !== undefined) {
    return { skip: `has a PAM stack (/etc/pam.d/${f.pamService}): pam_unix reads /etc/shadow when someone authenticates, which a probe does not exercise` };
  }
  if (f.openCredentials === undefined) return { skip: 'observation did not read the files the unit holds open' };
  const held = f.openCredentials.filter((p) => CREDENTIAL_FILES.includes(p));
  if (held.length) return { skip: `holds ${held.join(', ')} open: it reads the hashes` };
  return { rungs };
}

// ---------------------------------------------------------------------------------------------
// The catalog entries (core/catalog.ts lists them). Weight 0: systemd-analyze has no row for
// either. Both are mounts of the unit's namespace: spawned sessions keep them.

export const CLOSE_FINDINGS: readonly OptionSpec[] = [
  {
    name: 'NoExecPaths', family: 'filesystem', weight: 0, cost: 'free', safety: 'latent-risk', confinesSessions: true,
    prior: 0.7, minSystemd: 248, exitStatuses: [EXEC, NAMESPACE], logHints: ['permission denied', 'failed to map segment', 'error while loading shared libraries', 'dlopen'],
    properties: ['NoExecPaths', 'ExecPaths', 'ProtectSystem', 'PrivateTmp', 'ReadWritePaths', ...Object.keys(OWN_DIRS)],
    ladder: NO_EXEC_LADDER, admit: admitNoExec, itemsInForce: noExecInForce, judgedWith: ['PrivateTmp'],
    summary: "Nothing runs except from the directories the service's programs and libraries were seen coming from (NoExecPaths=/ with /tmp, /var/tmp, /dev/shm and its own directories; ExecPaths= for those): a file it writes cannot be run. A service that runs as root gets noexec on its private /tmp and /var/tmp, /dev/shm and its own directories instead (ExecPaths= would remount /usr writable); a directory it was merely seen writing stays executable for it. A helper, plugin or interpreter from elsewhere that runs only later (a reload, a rare path) fails after the trial.",
  },
  {
    name: 'InaccessiblePaths', family: 'filesystem', weight: 0, cost: 'free', safety: 'latent-risk', confinesSessions: true,
    prior: 0.8, minSystemd: 231, exitStatuses: [NAMESPACE], logHints: ['/etc/shadow', '/etc/gshadow', 'getspnam', 'pam_unix'],
    properties: ['InaccessiblePaths'], ladder: CREDENTIALS_LADDER, admit: admitCredentials,
    summary: "Hides /etc/shadow and /etc/gshadow (and their backups) from a service never seen opening them: root cannot read the hashes. Breaks a rare path that checks a password (PAM, getspnam). Replacing the file (passwd, useradd) unmasks it until the service restarts.",
  },
];
