// Where the exposure score and the attack battery disagree (issue 15): a technique the battery
// found possible although a setting that should block it is in force (and, worse, scored), and a
// technique blocked although nothing the score counts blocks it. Pure.
//
// Inputs: the battery's results (core/audit.ts, parsed defensively there), the unit's effective
// settings as read over D-Bus (EffectiveSettings: systemd's word, not the service's) and the
// running systemd-analyze's checks (core/analyzeRows.ts). Every text that reaches a line is
// flattened and bounded here as well, so a garbled detail cannot break a report's line.
import { techniqueById, type TechniqueResult } from './audit.js';
import type { AnalyzeRows } from './analyzeRows.js';
import { listOf } from './effective.js';
import { flattened } from './text.js';
import type { EffectiveSettings, EffectiveValue } from './types.js';

/** A setting that should block a technique. */
interface Blocker {
  /** What is in force, for a person ("ProtectSystem=strict"); undefined when it is not. */
  inForce(e: EffectiveSettings): string | undefined;
  /** The systemd-analyze check that scores it (json_field); none: no check counts it. */
  field?: string;
  /** The properties it reads: a result may differ where the audit unit could not carry one. */
  props: readonly string[];
  /** Why it may not block even in force (shown with a disagreement). */
  note?(e: EffectiveSettings): string | undefined;
}

// ---- reading effective settings ----------------------------------------------------------------

const on = (v: EffectiveValue | undefined): boolean => v === true || (typeof v === 'string' && !['', 'no', 'false', '0'].includes(v));
const text = (v: EffectiveValue | undefined): string => (typeof v === 'string' ? v : '');
/** A path list, without the "-" (ignore if missing) and "+" (relative to the root) prefixes. */
const paths = (v: EffectiveValue | undefined): string[] =>
  Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string').map((p) => p.replace(/^-?\+?/, '').split(' ')[0]!).filter((p) => p.startsWith('/')) : [];
/** A capability set (CapabilityBoundingSet, AmbientCapabilities): undefined when unknown. */
const mask = (v: EffectiveValue | undefined): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
const hasBit = (m: number, bit: number) => Math.floor(m / 2 ** bit) % 2 === 1;

const CAP = { DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, NET_RAW: 13, SYS_MODULE: 16, SYS_ADMIN: 21, SYS_TIME: 25 } as const;
type Cap = keyof typeof CAP;
const CLONE_NEWUSER = 0x10000000;

const covers = (entry: string, path: string) => entry === '/' || entry === path || path.startsWith(`${entry.replace(/\/$/, '')}/`);

/** The most specific entry of `yes` ∪ `no` that covers `path`, when it is one of `yes` (ties: yes). */
function decided(path: string, yes: readonly string[], no: readonly string[]): string | undefined {
  const best = (l: readonly string[]) => l.filter((p) => covers(p, path)).sort((a, b) => b.length - a.length)[0];
  const y = best(yes);
  const n = best(no);
  return y !== undefined && (n === undefined || y.length >= n.length) ? y : undefined;
}

/** The user is not root (so a capability needs to be ambient to be used). */
function nonRoot(e: EffectiveSettings, caps: readonly Cap[] = []): boolean {
  if (!(e.DynamicUser === true || !['', 'root', '0'].includes(text(e.User)))) return false;
  const ambient = mask(e.AmbientCapabilities) ?? 0;
  return caps.every((c) => !hasBit(ambient, CAP[c]));
}
const userLabel = (e: EffectiveSettings) => (e.DynamicUser === true ? 'DynamicUser=yes' : `User=${text(e.User)}`);
const inGroup = (e: EffectiveSettings, g: string) => text(e.Group) === g || (Array.isArray(e.SupplementaryGroups) && (e.SupplementaryGroups as unknown[]).includes(g));

/** A system call the unit's SystemCallFilter= refuses. */
function filtered(e: EffectiveSettings, call: string): boolean {
  const l = listOf(e.SystemCallFilter ?? undefined);
  return l.allow ? !l.items.has(call) : l.items.has(call);
}
const unfiltered = (e: EffectiveSettings) => {
  const l = listOf(e.SystemCallFilter ?? undefined);
  return !l.allow && l.items.size === 0;
};
/** Every one of these address families refused by RestrictAddressFamilies=. */
function familiesDenied(e: EffectiveSettings, families: readonly string[]): boolean {
  const l = listOf(e.RestrictAddressFamilies ?? undefined);
  if (!l.allow && l.items.size === 0) return false;
  return families.every((f) => (l.allow ? !l.items.has(f) : l.items.has(f)));
}
const PROTECT_SYSTEM = ['no', 'yes', 'full', 'strict'];
const protectSystemAtLeast = (e: EffectiveSettings, level: string) => PROTECT_SYSTEM.indexOf(text(e.ProtectSystem)) >= PROTECT_SYSTEM.indexOf(level);
const privateTmp = (e: EffectiveSettings) => e.PrivateTmp === true || on(e.PrivateTmpEx);

// ---- blockers ------------------------------------------------------------------------------------

const USER_PROPS = ['User', 'DynamicUser', 'AmbientCapabilities'];

/** User= not root (or DynamicUser=yes) without the capabilities it would need as ambient ones. */
const NON_ROOT = (caps: readonly Cap[] = [], not: { group?: string } = {}): Blocker => ({
  inForce: (e) => (nonRoot(e, caps) && !(not.group && inGroup(e, not.group)) ? userLabel(e) : undefined),
  field: 'UserOrDynamicUser',
  props: [...USER_PROPS, ...(not.group ? ['Group', 'SupplementaryGroups'] : [])],
});

const protectSystem = (level: 'yes' | 'full' | 'strict'): Blocker => ({
  inForce: (e) => (protectSystemAtLeast(e, level) ? `ProtectSystem=${text(e.ProtectSystem)}` : undefined),
  field: 'ProtectSystem',
  props: ['ProtectSystem'],
});

/** ReadOnlyPaths= or InaccessiblePaths= over `dir`, not reopened by ReadWritePaths=. */
const readOnly = (dir: string, inaccessibleToo = true): Blocker => ({
  inForce: (e) => {
    const ro = paths(e.ReadOnlyPaths);
    const ia = inaccessibleToo ? paths(e.InaccessiblePaths) : [];
    const p = decided(dir, [...ro, ...ia], paths(e.ReadWritePaths));
    return p === undefined ? undefined : `${ia.includes(p) && !ro.includes(p) ? 'InaccessiblePaths' : 'ReadOnlyPaths'}=${p}`;
  },
  props: ['ReadOnlyPaths', 'InaccessiblePaths', 'ReadWritePaths'],
});

const inaccessible = (dir: string): Blocker => ({
  inForce: (e) => {
    const p = decided(dir, paths(e.InaccessiblePaths), []);
    return p === undefined ? undefined : `InaccessiblePaths=${p}`;
  },
  props: ['InaccessiblePaths'],
});

const tmpfsOver = (dir: string): Blocker => ({
  inForce: (e) => (paths(e.TemporaryFileSystem).some((p) => covers(p, dir)) ? `TemporaryFileSystem=${paths(e.TemporaryFileSystem).find((p) => covers(p, dir))}` : undefined),
  props: ['TemporaryFileSystem'],
});

/** A boolean (or yes/no string) setting, scored by the check of the same name unless `field` says. */
const flag = (prop: string, field: string | null = prop, alsoProp?: string): Blocker => ({
  inForce: (e) => (on(e[prop]) || (alsoProp !== undefined && on(e[alsoProp])) ? `${prop}=yes` : undefined),
  ...(field ? { field } : {}),
  props: alsoProp ? [prop, alsoProp] : [prop],
});

/** CapabilityBoundingSet= without all of `caps`; scored by `field` (analyze groups capabilities). */
const withoutCaps = (caps: readonly Cap[], field: string, note?: Blocker['note']): Blocker => ({
  inForce: (e) => {
    const m = mask(e.CapabilityBoundingSet);
    return m !== undefined && caps.every((c) => !hasBit(m, CAP[c])) ? `CapabilityBoundingSet= without ${caps.map((c) => `CAP_${c}`).join(' ')}` : undefined;
  },
  field,
  props: ['CapabilityBoundingSet'],
  ...(note ? { note } : {}),
});

const syscallFilter = (call: string, field?: string): Blocker => ({
  inForce: (e) => (filtered(e, call) ? `SystemCallFilter= without ${call}` : undefined),
  ...(field ? { field } : {}),
  props: ['SystemCallFilter'],
});

const families = (fams: readonly string[], field: string): Blocker => ({
  inForce: (e) => (familiesDenied(e, fams) ? `RestrictAddressFamilies= without ${fams.join(' ')}` : undefined),
  field,
  props: ['RestrictAddressFamilies'],
});

/** The directory is a mount systemd makes for the unit (PrivateTmp='s /tmp), which NoExecPaths=/
 * and ReadOnlyPaths=/ do not reach (systemd 257, seen in a box; core/audit.ts noExec). */
const ownMountNote = (dir: string, own: { prop: string; alsoProp?: string; label: string }) => (e: EffectiveSettings) =>
  on(e[own.prop]) || (own.alsoProp !== undefined && on(e[own.alsoProp])) ? `${own.label} makes ${dir} a mount of the unit's own, which a setting on a parent does not reach` : undefined;

/** Nothing written in `dir` can be run: NoExecPaths= over it (not reopened by ExecPaths=), or it
 * cannot be written at all. */
function noExec(dir: string, own: { prop: string; alsoProp?: string; label: string }): Blocker[] {
  const note = ownMountNote(dir, own);
  return [
    {
      inForce: (e) => {
        const p = decided(dir, paths(e.NoExecPaths), paths(e.ExecPaths));
        return p === undefined ? undefined : `NoExecPaths=${p}`;
      },
      props: ['NoExecPaths', 'ExecPaths', own.prop],
      note,
    },
    { ...readOnly(dir), props: [...readOnly(dir).props, own.prop], note },
  ];
}

/** ProtectSystem=strict leaves /tmp and /var/tmp read-only unless PrivateTmp= gives fresh ones. */
const strictTmp = (dir: string): Blocker => ({
  inForce: (e) => (text(e.ProtectSystem) === 'strict' && !privateTmp(e) && decided(dir, paths(e.ReadWritePaths), []) === undefined ? 'ProtectSystem=strict' : undefined),
  field: 'ProtectSystem',
  props: ['ProtectSystem', 'PrivateTmp', 'PrivateTmpEx', 'ReadWritePaths'],
});

const BLOCK_DEVICE = /^(block-|\/dev\/(sd|vd|xvd|hd|nvme|mmcblk|dm-|loop|md|sr))/;

/** Technique id → the settings that should block it (any one suffices), mirroring the blockedBy
 * texts of core/audit.ts; host sysctls and file modes are the `host` hint. */
export const BLOCKERS: Readonly<Record<string, { blockers: readonly Blocker[]; host: string }>> = {
  // /etc: read-only from ProtectSystem=full; root's own directory, so any other user cannot write
  'write-etc': { blockers: [protectSystem('full'), readOnly('/etc'), NON_ROOT()], host: 'file modes or an LSM' },
  // /usr: read-only from ProtectSystem=yes
  'write-usr': { blockers: [protectSystem('yes'), readOnly('/usr'), NON_ROOT()], host: 'a read-only /usr, file modes or an LSM' },
  // /boot: like /usr; absent on many boxes and containers (then blocked by the host)
  'write-boot': { blockers: [protectSystem('yes'), readOnly('/boot'), NON_ROOT()], host: 'no /boot, a read-only mount, file modes or an LSM' },
  // /root is 0700 root: ProtectHome= hides it, any other user cannot list it
  'read-root': { blockers: [flagValue('ProtectHome', ['yes', 'tmpfs'], 'ProtectHome'), inaccessible('/root'), tmpfsOver('/root'), NON_ROOT()], host: 'file modes or an LSM' },
  // /home is world-listable: only hiding it blocks
  'read-home': { blockers: [flagValue('ProtectHome', ['yes', 'tmpfs'], 'ProtectHome'), inaccessible('/home'), tmpfsOver('/home')], host: 'an empty /home, file modes or an LSM' },
  // /etc/shadow is 0640 root:shadow on Debian: root reads it as its owner, without CAP_DAC_*
  'read-shadow': {
    blockers: [
      inaccessible('/etc/shadow'),
      NON_ROOT([], { group: 'shadow' }),
      withoutCaps(['DAC_OVERRIDE', 'DAC_READ_SEARCH'], 'CapabilityBoundingSet_CAP_DAC_FOWNER_IPC_OWNER', (e) =>
        nonRoot(e) ? undefined : 'root owns /etc/shadow: it needs no capability to read a file of its own'),
    ],
    host: 'its file mode (0000 on Fedora) or an LSM',
  },
  // written files run unless their directory is noexec or unwritable
  'exec-tmp': { blockers: [...noExec('/tmp', { prop: 'PrivateTmp', alsoProp: 'PrivateTmpEx', label: 'PrivateTmp=yes' }), strictTmp('/tmp')], host: 'a noexec /tmp or an LSM' },
  'exec-var-tmp': { blockers: [...noExec('/var/tmp', { prop: 'PrivateTmp', alsoProp: 'PrivateTmpEx', label: 'PrivateTmp=yes' }), strictTmp('/var/tmp')], host: 'a noexec /var/tmp or an LSM' },
  'exec-dev-shm': { blockers: noExec('/dev/shm', { prop: 'PrivateDevices', label: 'PrivateDevices=yes' }), host: 'a noexec /dev/shm or an LSM' },
  // the unit's own directories: only NoExecPaths= naming them (systemd binds them after NoExecPaths=/)
  'exec-state': { blockers: [ownDirsNoExec()], host: 'a noexec /var/lib or an LSM' },
  // memfd: no analyze check, @system-service allows memfd_create
  'exec-memfd': { blockers: [syscallFilter('memfd_create')], host: 'vm.memfd_noexec=2 or an LSM' },
  // a new listener: SocketBindDeny= has no analyze check
  'bind-port': { blockers: [socketBindDeny(), families(['AF_INET'], 'RestrictAddressFamilies_AF_INET_INET6')], host: 'an LSM or a firewall' },
  'connect-out': {
    blockers: [ipDenyAny(), flag('PrivateNetwork'), families(['AF_INET', 'AF_INET6'], 'RestrictAddressFamilies_AF_INET_INET6')],
    host: 'a firewall on the host or the way',
  },
  // SOCK_RAW needs CAP_NET_RAW in the host's network namespace
  'raw-socket': {
    blockers: [withoutCaps(['NET_RAW'], 'CapabilityBoundingSet_CAP_NET_BIND_SERVICE_BROADCAST_RAW'), families(['AF_INET'], 'RestrictAddressFamilies_AF_INET_INET6'), flag('PrivateUsers', 'PrivateUsers', 'PrivateUsersEx'), NON_ROOT(['NET_RAW'])],
    host: 'an LSM',
  },
  // NETLINK_ROUTE reads need no capability
  'netlink-socket': { blockers: [families(['AF_NETLINK'], 'RestrictAddressFamilies_AF_NETLINK')], host: 'an LSM' },
  'load-module': {
    blockers: [flag('ProtectKernelModules'), withoutCaps(['SYS_MODULE'], 'CapabilityBoundingSet_CAP_SYS_MODULE'), syscallFilter('init_module', 'SystemCallFilter_module'), flag('PrivateUsers', 'PrivateUsers', 'PrivateUsersEx'), NON_ROOT(['SYS_MODULE'])],
    host: 'kernel.modules_disabled=1, lockdown or an LSM',
  },
  // its own child: no capability involved, only the filter
  'ptrace-child': { blockers: [syscallFilter('ptrace', 'SystemCallFilter_debug')], host: 'kernel.yama.ptrace_scope=3 or an LSM' },
  'mount': {
    blockers: [withoutCaps(['SYS_ADMIN'], 'CapabilityBoundingSet_CAP_SYS_ADMIN'), syscallFilter('fsopen', 'SystemCallFilter_mount'), NON_ROOT(['SYS_ADMIN'])],
    host: 'an LSM',
  },
  'set-clock': {
    blockers: [flag('ProtectClock'), withoutCaps(['SYS_TIME'], 'CapabilityBoundingSet_CAP_SYS_TIME'), syscallFilter('adjtimex', 'SystemCallFilter_clock'), flag('PrivateUsers', 'PrivateUsers', 'PrivateUsersEx'), NON_ROOT(['SYS_TIME'])],
    host: 'an LSM',
  },
  'set-hostname': {
    // @system-service leaves sethostname out: no analyze check names it
    blockers: [flag('ProtectHostname', 'ProtectHostname', 'ProtectHostnameEx'), withoutCaps(['SYS_ADMIN'], 'CapabilityBoundingSet_CAP_SYS_ADMIN'), syscallFilter('sethostname'), flag('PrivateUsers', 'PrivateUsers', 'PrivateUsersEx'), NON_ROOT(['SYS_ADMIN'])],
    host: 'an LSM',
  },
  // /proc/sys files are 0644 root
  'write-sysctl': { blockers: [flag('ProtectKernelTunables'), readOnly('/proc/sys', false), NON_ROOT()], host: 'a read-only /proc/sys (containers) or an LSM' },
  'user-namespace': {
    blockers: [{ inForce: (e) => (typeof e.RestrictNamespaces === 'number' && Math.floor(e.RestrictNamespaces / CLONE_NEWUSER) % 2 === 0 ? 'RestrictNamespaces= without user' : undefined), field: 'RestrictNamespaces_user', props: ['RestrictNamespaces'] }],
    host: 'user.max_user_namespaces=0, kernel.unprivileged_userns_clone=0 or an LSM',
  },
  // no_new_privs: only NoNewPrivileges=yes. SystemCallFilter=, RestrictNamespaces= and the others
  // that systemd.exec(5) says imply it do not for a system service (systemd 257, seen in a box:
  // NoNewPrivs 0 under User= with them): the executor still holds CAP_SYS_ADMIN when it decides
  'setuid-binary': {
    blockers: [flag('NoNewPrivileges')],
    host: 'no setuid-root program on a suid mount, or an LSM',
  },
  'wx-memory': { blockers: [flag('MemoryDenyWriteExecute')], host: 'an LSM (SELinux execmem)' },
  'see-processes': {
    blockers: [
      { ...flagValue('ProtectProc', ['invisible', 'ptraceable'], 'ProtectProc'), note: (e) => (nonRoot(e) ? undefined : 'root sees every process with CAP_SYS_PTRACE') },
      flag('PrivatePIDs', null),
    ],
    host: 'hidepid= on the host /proc or an LSM',
  },
  'read-kernel-log': { blockers: [flag('ProtectKernelLogs'), flag('PrivateDevices')], host: 'kernel.dmesg_restrict=1 for a user other than root, or an LSM' },
  'read-disk': { blockers: [flag('PrivateDevices'), devicePolicy(), NON_ROOT([], { group: 'disk' })], host: 'no disk, file modes or an LSM' },
};

function flagValue(prop: string, values: readonly string[], field: string): Blocker {
  return { inForce: (e) => (values.includes(text(e[prop])) ? `${prop}=${text(e[prop])}` : undefined), field, props: [prop] };
}

function ownDirsNoExec(): Blocker {
  const DIRS: Record<string, string> = { RuntimeDirectory: '/run', StateDirectory: '/var/lib', CacheDirectory: '/var/cache', LogsDirectory: '/var/log' };
  return {
    inForce: (e) => {
      const dirs = Object.entries(DIRS).flatMap(([k, base]) => (Array.isArray(e[k]) ? (e[k] as unknown[]).filter((d): d is string => typeof d === 'string').map((d) => `${base}/${d}`) : []));
      if (!dirs.length) return undefined;
      const by = dirs.map((d) => decided(d, paths(e.NoExecPaths), paths(e.ExecPaths)));
      return by.every((p) => p !== undefined) ? `NoExecPaths=${[...new Set(by)].join(' ')}` : undefined;
    },
    props: ['NoExecPaths', 'ExecPaths', ...Object.keys(DIRS)],
    note: (e) => (paths(e.NoExecPaths).includes('/') ? 'NoExecPaths=/ does not reach the directories systemd binds for the unit' : undefined),
  };
}

function socketBindDeny(): Blocker {
  // a rule without a port, for IPv4 TCP (the battery binds 127.0.0.1:0)
  const all = (r: string) => !/\d/.test(r.replace(/^ipv4/, '').replace(/^ipv6/, '')) && !r.startsWith('ipv6') && !r.includes('udp');
  return {
    inForce: (e) => (Array.isArray(e.SocketBindDeny) && (e.SocketBindDeny as unknown[]).some((r) => typeof r === 'string' && all(r)) ? 'SocketBindDeny=any' : undefined),
    props: ['SocketBindDeny', 'SocketBindAllow'],
  };
}

function ipDenyAny(): Blocker {
  return {
    inForce: (e) => (Array.isArray(e.IPAddressDeny) && (e.IPAddressDeny as unknown[]).some((x) => typeof x === 'object' && x !== null && (x as { prefix?: unknown }).prefix === 0) ? 'IPAddressDeny=any' : undefined),
    field: 'IPAddressDeny',
    props: ['IPAddressDeny', 'IPAddressAllow'],
  };
}

function devicePolicy(): Blocker {
  return {
    inForce: (e) => {
      if (!['closed', 'strict'].includes(text(e.DevicePolicy))) return undefined;
      const allowed = Array.isArray(e.DeviceAllow) ? (e.DeviceAllow as unknown[]).filter((d): d is string => typeof d === 'string') : [];
      return allowed.some((d) => BLOCK_DEVICE.test(d)) ? undefined : `DevicePolicy=${text(e.DevicePolicy)}`;
    },
    field: 'DeviceAllow',
    props: ['DevicePolicy', 'DeviceAllow'],
  };
}

/** Every property the comparison reads (for serviceProperties). */
export const DISAGREE_PROPERTIES: readonly string[] = [...new Set(Object.values(BLOCKERS).flatMap((b) => b.blockers.flatMap((x) => x.props)))].sort();

// ---- the comparison ------------------------------------------------------------------------------

export type DisagreementKind = 'scored-but-possible' | 'set-but-possible' | 'blocked-not-scored';

export interface Disagreement {
  kind: DisagreementKind;
  /** A technique id of core/audit.ts. */
  id: string;
  /** scored-but-possible: the scored settings in force; set-but-possible: the settings in force
   * (none scored); blocked-not-scored: the unscored settings in force, empty when only the host
   * can have blocked it. */
  settings: string[];
  /** Why a setting in force may not block it, or what on the host may have. */
  note?: string;
  /** One of the unit's settings involved could not be carried into the audit unit. */
  uncarried?: string[];
  /** The short line a report shows. */
  line: string;
}

export interface DisagreementResult {
  disagreements: Disagreement[];
  /** Why nothing could be compared (the score's checks unknown). */
  unknown?: string;
}

const MAX_PART = 160;
const clip = (s: string) => {
  const f = flattened(s).replace(/\s+/g, ' ').trim();
  return f.length > MAX_PART ? `${f.slice(0, MAX_PART - 1)}…` : f;
};

/** A check credits the unit: the running analyze has it, weighs it and counts it below its worst.
 * 252 prints one field with a stray ")". */
function credited(rows: AnalyzeRows, field: string): boolean {
  return rows.some((r) => r.field.replace(/\)$/, '') === field && r.weight > 0 && r.badness !== undefined && r.badness < r.range);
}

export function disagreements(
  results: readonly TechniqueResult[],
  settings: EffectiveSettings | undefined,
  rows: AnalyzeRows | undefined,
  uncarried: readonly string[] = [],
): DisagreementResult {
  if (!settings) return { disagreements: [], unknown: "the unit's settings could not be read: the score and the battery were not compared" };
  if (!rows) return { disagreements: [], unknown: "systemd-analyze's checks could not be read: the score and the battery were not compared" };
  const skipped = new Set(uncarried);
  const out: Disagreement[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    const entry = Object.hasOwn(BLOCKERS, r.id) ? BLOCKERS[r.id] : undefined;
    if (!entry || !techniqueById(r.id) || seen.has(r.id) || (r.outcome !== 'blocked' && r.outcome !== 'possible')) continue;
    seen.add(r.id);
    const live = entry.blockers.flatMap((b) => {
      const label = b.inForce(settings);
      return label === undefined ? [] : [{ b, label: clip(label), scored: b.field !== undefined && credited(rows, b.field) }];
    });
    const scored = live.filter((l) => l.scored);
    const notes = (ls: typeof live) => [...new Set(ls.map((l) => l.b.note?.(settings)).filter((n): n is string => !!n))].join('; ');
    const lost = (ls: typeof live) => [...new Set(ls.flatMap((l) => l.b.props.filter((p) => skipped.has(p))))];
    let d: Omit<Disagreement, 'line'> | undefined;
    if (r.outcome === 'possible' && live.length) {
      const ls = scored.length ? scored : live;
      const note = notes(ls);
      const miss = lost(ls);
      d = { kind: scored.length ? 'scored-but-possible' : 'set-but-possible', id: r.id, settings: ls.map((l) => l.label), ...(note ? { note } : {}), ...(miss.length ? { uncarried: miss } : {}) };
    } else if (r.outcome === 'blocked' && !scored.length) {
      // killed by seccomp (the battery's word, only wording rides on it) under a filter the table
      // does not tie to this technique: the filter, not the host
      const bySeccomp = !live.length && /\bSIGSYS\b/.test(r.detail) && !unfiltered(settings) ? ['SystemCallFilter= (a call the battery made)'] : [];
      const note = live.length || bySeccomp.length ? '' : `host: ${entry.host}${r.detail ? `; the battery: ${clip(r.detail)}` : ''}`;
      d = { kind: 'blocked-not-scored', id: r.id, settings: [...live.map((l) => l.label), ...bySeccomp], ...(note ? { note } : {}) };
    }
    if (d) out.push({ ...d, line: disagreementLine(d) });
  }
  return { disagreements: out };
}

const HEAD: Record<DisagreementKind, string> = {
  'scored-but-possible': 'scored but possible',
  'set-but-possible': 'set but possible',
  'blocked-not-scored': 'blocked, not scored',
};

/** "scored but possible: write-usr (ProtectSystem=strict is in force)",
 * "blocked, not scored: user-namespace (host: …)". One line, bounded. */
export function disagreementLine(d: Omit<Disagreement, 'line'>): string {
  const what = d.settings.map(clip).join(', ');
  const why =
    d.kind === 'blocked-not-scored'
      ? what ? `by ${what}` : clip(d.note ?? 'host')
      : `${what} ${d.settings.length > 1 ? 'are' : 'is'} ${d.kind === 'scored-but-possible' ? 'in force' : 'set'}${d.note ? `; ${clip(d.note)}` : ''}`;
  const lost = d.uncarried?.length ? `; not carried into the audit: ${d.uncarried.join(' ')}` : '';
  return flattened(`${HEAD[d.kind]}: ${clip(d.id)} (${why}${lost})`).slice(0, 600);
}
