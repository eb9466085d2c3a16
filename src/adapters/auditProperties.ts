// The execution context of a unit as the properties of a transient unit: what `autoharden audit`
// runs its battery under (adapters/auditUnit.ts starts it). Pure: from the properties systemd
// reported over D-Bus (GetAll on the Service interface) to the StartTransientUnit property list.
//
// Every carried value goes back with the signature systemd 252 reads it with, which for each
// property here is the signature it is reported with (src/core/dbus-execute.c
// bus_exec_context_set_transient_property, dbus-cgroup.c, dbus-service.c, dbus-unit.c at v252), so
// a value is passed back exactly as systemd wrote it, never re-parsed. What cannot be passed back
// faithfully is left out and listed, with why: the audit then says which of its results may differ
// from the service's.
import { CONTROL, shown } from '../core/text.js';
import type { Props } from './systemd/values.js';

export interface TransientProperty {
  name: string;
  signature: string;
  value: unknown;
}

export interface SkippedProperty {
  name: string;
  reason: string;
}

/** What a list may hold, and a string: longer is no unit an admin wrote (and would only bloat the
 * transient unit file systemd writes). */
export const MAX_ENTRIES = 1024;
export const MAX_STRING = 4096;

type Check = (value: unknown) => string | undefined;

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';

function text(v: unknown, what = 'a value'): string | undefined {
  if (!isStr(v)) return `${what} is not a string`;
  if (v.length > MAX_STRING) return `${what} is longer than ${MAX_STRING} characters`;
  if (CONTROL.test(v)) return `${what} ${shown(v)} has a control character or line break`;
  return undefined;
}

function absolute(v: unknown, what = 'a path'): string | undefined {
  return text(v, what) ?? (isStr(v) && v.startsWith('/') ? undefined : `${what} ${shown(String(v))} is not absolute`);
}

// BindPaths= and TemporaryFileSystem= are written to the transient unit file as "SRC:DST:…" with
// no escaping of ':' (dbus-execute.c): a path with one would read back differently.
const noColon = (v: unknown, what: string) => absolute(v, what) ?? (isStr(v) && v.includes(':') ? `${what} ${shown(v)} has a ':'` : undefined);

function list(each: (item: unknown) => string | undefined): Check {
  return (v) => {
    if (!Array.isArray(v)) return 'not a list';
    if (v.length > MAX_ENTRIES) return `${v.length} entries, more than ${MAX_ENTRIES}`;
    for (const item of v) {
      const bad = each(item);
      if (bad) return bad;
    }
    return undefined;
  };
}

const tuple = (...parts: Check[]): Check => (v) => {
  if (!Array.isArray(v) || v.length !== parts.length) return 'not a tuple of the expected size';
  for (const [i, check] of parts.entries()) {
    const bad = check(v[i]);
    if (bad) return bad;
  }
  return undefined;
};

const BOOL: Check = (v) => (typeof v === 'boolean' ? undefined : 'not a boolean');
const INT: Check = (v) => (isInt(v) ? undefined : 'not an integer');
const STR: Check = (v) => text(v);
const PATH: Check = (v) => absolute(v);
const STRINGS = list((v) => text(v));
// "-" (ignore if missing) and "+" (relative to RootDirectory) prefixes, as systemd reports them
const PATHS = list((v) => absolute(isStr(v) ? v.replace(/^-?\+?/, '') : v));
const ALLOW_LIST = tuple(BOOL, STRINGS);
const BINDS = list(tuple((v) => noColon(v, 'a bind source'), (v) => noColon(v, 'a bind destination'), BOOL, INT));
const TMPFS = list(tuple((v) => noColon(v, 'a mount point'), STR));
const PAIRS = list(tuple(STR, STR));
const ADDRESSES = list(tuple(INT, (v) => (Buffer.isBuffer(v) && (v.length === 4 || v.length === 16) ? undefined : 'not an IP address'), INT));
const BIND_RULES = list(tuple(INT, INT, INT, INT));
const LABEL = tuple(BOOL, STR);

/** Only worth passing when set: systemd refuses the unset value (Personality '', MountFlags 0). */
const nonEmpty = (v: unknown) => !(v === '' || v === 0 || v === 0n || (Array.isArray(v) && v.length === 0));

interface Carried {
  signature: string;
  check: Check;
  /** Pass it only when this holds (default: always). */
  when?: (v: unknown) => boolean;
}

const c = (signature: string, check: Check, when?: (v: unknown) => boolean): Carried => (when ? { signature, check, when } : { signature, check });
const b = c('b', BOOL);
const s = c('s', STR);

/** Properties carried from the unit to the audit unit, in the order they are passed. */
export const CARRIED: Readonly<Record<string, Carried>> = {
  // who runs: a DynamicUser= unit's User= reads back as the name systemd gave the dynamic user,
  // so the audit unit gets the same one
  User: c('s', STR, nonEmpty), Group: c('s', STR, nonEmpty), SupplementaryGroups: c('as', STRINGS), DynamicUser: b,
  // file system
  ProtectSystem: s, ProtectHome: s, ProtectProc: s, ProcSubset: s,
  PrivateTmp: b, PrivateDevices: b, PrivateMounts: b, PrivateIPC: b, PrivateNetwork: b, PrivateUsers: b,
  ProtectKernelTunables: b, ProtectKernelModules: b, ProtectKernelLogs: b, ProtectClock: b, ProtectControlGroups: b,
  ProtectHostname: b, MountAPIVFS: b, MountFlags: c('t', INT, nonEmpty), UMask: c('u', INT),
  ReadWritePaths: c('as', PATHS), ReadOnlyPaths: c('as', PATHS), InaccessiblePaths: c('as', PATHS),
  ExecPaths: c('as', PATHS), NoExecPaths: c('as', PATHS),
  BindPaths: c('a(ssbt)', BINDS), BindReadOnlyPaths: c('a(ssbt)', BINDS), TemporaryFileSystem: c('a(ss)', TMPFS),
  NetworkNamespacePath: c('s', PATH, nonEmpty), IPCNamespacePath: c('s', PATH, nonEmpty),
  // credentials
  CapabilityBoundingSet: c('t', INT), AmbientCapabilities: c('t', INT), SecureBits: c('i', INT),
  NoNewPrivileges: b, KeyringMode: s,
  // seccomp and friends
  SystemCallFilter: c('(bas)', ALLOW_LIST), SystemCallArchitectures: c('as', STRINGS), SystemCallErrorNumber: c('i', INT, nonEmpty),
  SystemCallLog: c('(bas)', ALLOW_LIST), RestrictAddressFamilies: c('(bas)', ALLOW_LIST), RestrictNamespaces: c('t', INT),
  RestrictRealtime: b, RestrictSUIDSGID: b, MemoryDenyWriteExecute: b, LockPersonality: b, Personality: c('s', STR, nonEmpty),
  // MAC labels
  AppArmorProfile: c('(bs)', LABEL, (v) => Array.isArray(v) && v[1] !== ''),
  SmackProcessLabel: c('(bs)', LABEL, (v) => Array.isArray(v) && v[1] !== ''),
  // the unit's cgroup
  IPAddressAllow: c('a(iayu)', ADDRESSES), IPAddressDeny: c('a(iayu)', ADDRESSES),
  IPIngressFilterPath: c('as', PATHS), IPEgressFilterPath: c('as', PATHS),
  DevicePolicy: s, DeviceAllow: c('a(ss)', PAIRS),
  SocketBindAllow: c('a(iiqq)', BIND_RULES), SocketBindDeny: c('a(iiqq)', BIND_RULES),
  RestrictNetworkInterfaces: c('(bas)', ALLOW_LIST), RestrictFileSystems: c('(bas)', ALLOW_LIST), Delegate: b,
  // newer systemd reports these beside the boolean, which says less (PrivateTmpEx=disconnected):
  // passed after it, so they win where systemd takes them, and the boolean holds where it does not
  PrivateTmpEx: s, PrivateUsersEx: s, ProtectHostnameEx: s, ProtectControlGroupsEx: s, PrivatePIDs: s,
};

/** Set on the unit but not carried: why. Listed only when the unit sets them. */
const NOT_CARRIED: Readonly<Record<string, string>> = {
  RootDirectory: "the battery runs on the host root file system, not in the unit's root directory",
  RootImage: "the battery runs on the host root file system, not in the unit's image",
  MountImages: 'disk images are not mounted for the audit',
  ExtensionImages: 'extension images are not mounted for the audit',
  ExtensionDirectories: 'extension directories are not mounted for the audit',
  PAMName: 'no PAM session is opened for the audit',
  BPFProgram: 'foreign BPF programs are not attached to the audit unit',
};

/** The unit's directories bound into the audit unit (at their paths, never as *Directory=: a
 * transient unit with the live service's RuntimeDirectory= would remove it when it stops, the
 * others would be chowned). ConfigurationDirectory= needs no bind: the service gets no mount for
 * it either, it sees /etc/NAME as its ProtectSystem= leaves /etc. */
export const DIRECTORIES: Readonly<Record<string, string>> = {
  RuntimeDirectory: '/run', StateDirectory: '/var/lib', CacheDirectory: '/var/cache', LogsDirectory: '/var/log',
};

/** The *Directory= setting an absolute directory of CarriedContext.directories came from. */
export function directorySetting(path: string): string {
  return Object.entries(DIRECTORIES).find(([, base]) => path.startsWith(`${base}/`))?.[0] ?? 'StateDirectory';
}

/** A directory name as *Directory= takes it: relative, normalised, no '..', nothing the bind line
 * or the battery's command line could misread. */
const DIR_NAME = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._@+-]+(?:\/[A-Za-z0-9._@+-]+)*$/;

export interface CarriedContext {
  properties: TransientProperty[];
  skipped: SkippedProperty[];
  /** The unit's own writable directories (absolute), bound in and given to the battery as --state. */
  directories: string[];
}

/** The unit's execution context as transient properties, and what could not be carried. */
export function carryContext(props: Props): CarriedContext {
  const properties: TransientProperty[] = [];
  const skipped: SkippedProperty[] = [];
  for (const [name, spec] of Object.entries(CARRIED)) {
    const p = props[name];
    if (!p) continue; // this systemd has no such setting, so the unit has none either
    if (p.signature !== spec.signature) {
      skipped.push({ name, reason: `reported as ${p.signature}, not ${spec.signature}` });
      continue;
    }
    if (spec.when && !spec.when(p.value)) continue;
    const bad = spec.check(p.value);
    if (bad) skipped.push({ name, reason: bad });
    else properties.push({ name, signature: spec.signature, value: p.value });
  }
  const selinux = props.SELinuxContext;
  if (selinux?.signature === '(bs)' && Array.isArray(selinux.value) && selinux.value[1]) {
    // written as a plain string transiently: the "ignore if it fails" flag has no form there
    const [ignore, label] = selinux.value as [unknown, unknown];
    const bad = ignore === false ? text(label) : 'its "-" (ignore failure) flag cannot be passed to a transient unit';
    if (bad) skipped.push({ name: 'SELinuxContext', reason: bad });
    else properties.push({ name: 'SELinuxContext', signature: 's', value: label });
  }
  for (const [name, reason] of Object.entries(NOT_CARRIED)) {
    const v = props[name]?.value;
    if (v !== undefined && nonEmpty(v)) skipped.push({ name, reason });
  }
  const directories: string[] = [];
  for (const [name, base] of Object.entries(DIRECTORIES)) {
    const p = props[name];
    if (!p) continue;
    if (p.signature !== 'as' || !Array.isArray(p.value)) {
      skipped.push({ name, reason: `reported as ${p.signature}, not as` });
      continue;
    }
    if (p.value.length > MAX_ENTRIES) {
      skipped.push({ name, reason: `${p.value.length} entries, more than ${MAX_ENTRIES}` });
      continue;
    }
    for (const d of p.value) {
      if (isStr(d) && d.length <= 255 && DIR_NAME.test(d)) directories.push(`${base}/${d}`);
      else skipped.push({ name, reason: `${shown(String(d))} is not a directory name it can bind` });
    }
  }
  return { properties, skipped, directories: [...new Set(directories)] };
}

export interface AuditUnitSpec {
  /** The audited unit, for the description. */
  unit: string;
  /** The battery as installed, and where the audit unit sees it (a file autoharden created). */
  battery: { source: string; path: string };
  /** StandardOutputFile=: opened by systemd as root before the sandbox is set up. */
  outputFile: string;
  /** The battery's arguments after its path. */
  args: string[];
  /** TimeoutStartSec= of the oneshot: the battery's own bound plus a margin. */
  timeoutSec: number;
}

const MS_REC = 16384n;

function merged(ctx: TransientProperty[], name: string, signature: string, extra: unknown[]): TransientProperty {
  const own = ctx.find((p) => p.name === name);
  return { name, signature, value: [...((own?.value as unknown[] | undefined) ?? []), ...extra] };
}

/** Every property of the audit unit: the unit's context, its directories bound in, the battery
 * bound read-only (and executable under NoExecPaths=) at spec.battery.path, run once, bounded,
 * collected when it ends whatever its result. */
export function auditUnitProperties(ctx: CarriedContext, spec: AuditUnitSpec): TransientProperty[] {
  const usec = BigInt(spec.timeoutSec) * 1_000_000n;
  const own = ctx.properties.filter((p) => !['BindPaths', 'BindReadOnlyPaths', 'ExecPaths'].includes(p.name));
  return [
    { name: 'Description', signature: 's', value: `autoharden audit of ${spec.unit}` },
    { name: 'DefaultDependencies', signature: 'b', value: false },
    { name: 'CollectMode', signature: 's', value: 'inactive-or-failed' },
    { name: 'Type', signature: 's', value: 'oneshot' },
    { name: 'RemainAfterExit', signature: 'b', value: false },
    { name: 'TimeoutStartUSec', signature: 't', value: usec },
    { name: 'TimeoutStopUSec', signature: 't', value: 5_000_000n },
    { name: 'StandardOutputFile', signature: 's', value: spec.outputFile },
    { name: 'StandardError', signature: 's', value: 'journal' },
    ...own,
    merged(ctx.properties, 'BindPaths', 'a(ssbt)', ctx.directories.map((d) => [d, d, true, MS_REC])),
    merged(ctx.properties, 'BindReadOnlyPaths', 'a(ssbt)', [[spec.battery.source, spec.battery.path, false, 0n]]),
    merged(ctx.properties, 'ExecPaths', 'as', [spec.battery.path]),
    { name: 'ExecStart', signature: 'a(sasb)', value: [[spec.battery.path, [spec.battery.path, ...spec.args], false]] },
  ];
}

/** autoharden-audit-<unit stem>-<random>.service; the stem keeps only characters that cannot make
 * the name a template instance or an escape. */
export function auditUnitName(unit: string, random: string): string {
  const stem = unit.replace(/\.service$/, '').replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
  return `autoharden-audit-${stem}-${random}.service`;
}

/** A --state argument as the battery takes it (plain path characters, at most 200), which is also
 * safe from systemd's $VAR expansion in ExecStart= arguments. */
export const argSafe = (a: string): boolean => /^\/[A-Za-z0-9._@+/-]{1,199}$/.test(a);
