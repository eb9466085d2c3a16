// Values systemd 257/258 added to once-boolean settings (PrivateUsers=identity, PrivateTmp=
// disconnected, ProtectControlGroups=strict, ProtectHostname=private). The old boolean property
// stays and is true for any value but "no"; the value itself is reported by a new `<Name>Ex`
// property, which only a systemd that knows the values has (I12 facts §1: dbus-execute.c@v257.13
// :1201-1212; ProtectHostnameEx (ss) since 258). Pure.
import { str } from './effective.js';
import type { CatalogRung, Decision, EffectiveSettings, Rung } from './types.js';

export interface ExLadder {
  /** The setting and its boolean property. */
  key: string;
  /** The property that reports the value (PrivateUsersEx). */
  ex: string;
  /** Every non-"no" value the Ex property may read that this ladder can order, strongest first. */
  strength: readonly string[];
  /** What the Ex property reads for the boolean's true ("connected" for PrivateTmp=yes). */
  trueReads: string;
  /** The Ex property is a struct whose first field is the value (ProtectHostnameEx (ss)). */
  struct?: boolean;
}

export interface ExValue {
  /** The value written in the drop-in line. */
  value: string;
  /** What the Ex property reads back for it. */
  reads: string;
  /** First systemd that parses the value; an older one ignores the line (parse-ignored). */
  minSystemd?: number;
}

/** The Ex property's value: a string (s), or with `struct` the first field of (ss), which
 * adapters/systemd/values.ts hands out as ["private", "name"]; undefined where this systemd lacks
 * it or it has another shape. */
export function exValue(eff: EffectiveSettings, ex: string, struct = false): string | undefined {
  const v = eff[ex];
  if (!struct) return typeof v === 'string' ? v : undefined;
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'string') ? (v[0] as string) : undefined;
}

/** Strength rank (0 = strongest) of what is configured: the Ex property where this systemd has
 * it, else the boolean; undefined for "no", nothing, or a value the ladder cannot order. */
function rankOf(l: ExLadder, eff: EffectiveSettings): number | undefined {
  const reads = exValue(eff, l.ex, l.struct) ?? (eff[l.key] === true ? l.trueReads : undefined);
  const i = reads === undefined ? -1 : l.strength.indexOf(reads);
  return i < 0 ? undefined : i;
}

/** The rungs, strongest first as given. A rung newer than the setting needs the Ex property (to
 * read it back) and its version (PrivateUsersEx exists on 257, `full` parses only on 258). */
export function exRungs(l: ExLadder, values: readonly ExValue[]): CatalogRung[] {
  return values.map((v) => {
    const want = l.strength.indexOf(v.reads);
    if (want < 0) throw new Error(`${l.key}=${v.value}: ${v.reads} is not in its strength order`);
    return {
      value: v.value,
      lines: [`${l.key}=${v.value}`],
      residual: 0, // analyze-security gives every value badness 0 (I12 facts §2)
      inForce: (eff: EffectiveSettings) => {
        const r = rankOf(l, eff);
        return r !== undefined && r <= want;
      },
      ...(v.minSystemd ? { minSystemd: v.minSystemd, needs: { property: l.ex } } : {}),
    };
  });
}

/** A value the ladder cannot order (PrivateUsers=managed, a value newer than this table) is the
 * vendor's: no line is written over it. */
export function exRender(l: ExLadder): (rung: Rung, eff: EffectiveSettings) => string[] | null {
  return (rung, eff) => {
    const v = exValue(eff, l.ex, l.struct);
    return v !== undefined && v !== 'no' && !l.strength.includes(v) ? null : [...rung.lines];
  };
}

// ---------------------------------------------------------------------------------------------
// The ladders (values and versions: I12 facts §1, checked against namespace.c@v257.13:3388-3402
// and NEWS@262.1 §257/§258)

// PrivateUsers: yes = self (the only spelling 252 parses, read back as "self" on 257+) maps root
// and the unit's user; identity (257) maps uids 0..65535 1:1, so a root daemon that switches to
// a system user (nginx master → www-data) keeps working, while the service still has no
// capabilities in the host namespace; full (258) maps the whole range: weakest. Root services in
// any of them lose CAP_NET_BIND_SERVICE towards the host netns: the trial finds out.
export const PRIVATE_USERS: ExLadder = { key: 'PrivateUsers', ex: 'PrivateUsersEx', strength: ['self', 'identity', 'full'], trueReads: 'self' };
export const PRIVATE_USERS_RUNGS = exRungs(PRIVATE_USERS, [
  { value: 'yes', reads: 'self' },
  { value: 'identity', reads: 'identity', minSystemd: 257 },
  { value: 'full', reads: 'full', minSystemd: 258 }, // 257: "Failed to parse PrivateUsers=full, ignoring"
]);

// PrivateTmp: disconnected (257) backs /tmp and /var/tmp by a fresh tmpfs instead of host dirs;
// PrivateTmpEx reads "connected" for yes (namespace.c@v257.13:3388-3394).
export const PRIVATE_TMP: ExLadder = { key: 'PrivateTmp', ex: 'PrivateTmpEx', strength: ['disconnected', 'connected'], trueReads: 'connected' };
export const PRIVATE_TMP_RUNGS = exRungs(PRIVATE_TMP, [
  { value: 'disconnected', reads: 'disconnected', minSystemd: 257 },
  { value: 'yes', reads: 'connected' },
]);

// ProtectControlGroups: strict (257) = own cgroup namespace + read-only cgroupfs. Not `private`:
// that mounts a *writable* cgroupfs, letting the service create cgroups and move its processes
// inside the subtree systemd owns without Delegate=; it is not tighter than yes, yet
// analyze-security scores it 0, so a fallback to it would be rewarded for loosening.
// The Ex property reports the configured value: where the kernel lacks cgroup namespaces or the
// hierarchy is not unified, systemd runs strict as yes with no word (execute.c@v257.13:217-236).
// Read-back cannot tell; the kernel could (/proc/MAINPID/ns/cgroup differs from /proc/1/ns/cgroup)
// but nothing here inspects the running service's namespaces yet.
export const PROTECT_CGROUPS: ExLadder = { key: 'ProtectControlGroups', ex: 'ProtectControlGroupsEx', strength: ['strict', 'yes', 'private'], trueReads: 'yes' };
export const PROTECT_CGROUPS_RUNGS = exRungs(PROTECT_CGROUPS, [
  { value: 'strict', reads: 'strict', minSystemd: 257 },
  { value: 'yes', reads: 'yes' },
]);
/** Over a vendor's `private` only strict tightens (yes would give back the host's cgroup tree). */
export function renderProtectCgroups(rung: Rung, eff: EffectiveSettings): string[] | null {
  if (exValue(eff, PROTECT_CGROUPS.ex) === 'private' && rung.value !== 'strict') return null;
  return exRender(PROTECT_CGROUPS)(rung, eff);
}

// ProtectHostname: private (258) gives the own UTS namespace but lets the service set its host
// name there: weaker than yes. ProtectHostnameEx is (ss): (value, hostname) — main@ea8b6c6
// dbus-execute.c; 257 has no such property and ignores `private`.
export const PROTECT_HOSTNAME: ExLadder = {
  key: 'ProtectHostname', ex: 'ProtectHostnameEx', strength: ['yes', 'private'], trueReads: 'yes', struct: true,
};
export const PROTECT_HOSTNAME_RUNGS = exRungs(PROTECT_HOSTNAME, [
  { value: 'yes', reads: 'yes' },
  { value: 'private', reads: 'private', minSystemd: 258 },
]);

/** systemd refuses to load a Type=forking service with PrivatePIDs=yes (service.c@v257.13:719-720):
 * the kernel kills the namespace when its PID 1, the forking parent, exits. */
export function admitPrivatePids(rungs: Rung[], eff: EffectiveSettings | undefined): Decision {
  const type = eff ? str(eff, 'Type') : undefined;
  if (type === 'forking') {
    return { skip: 'Type=forking: systemd refuses to load the unit with PrivatePIDs=yes ("Service of Type=forking does not support PrivatePIDs=yes")' };
  }
  if (rungs.length) return { skip: PRIVATE_PIDS_STOP };
  return { rungs };
}

/** Measured on systemd 257.13 (kernel 6.18): with PrivatePIDs=yes the sample's `systemctl stop`
 * ended in SIGKILL, without its SIGTERM handler running, in 6 of 7 stops ("Supervising process N
 * which is not our child"). A trial judges the started unit, never how it stops, so it could not
 * see a lost graceful shutdown: not tried until a trial checks the stop. */
export const PRIVATE_PIDS_STOP =
  'not tried: on systemd 257 a unit with PrivatePIDs=yes was mostly killed with SIGKILL at stop instead of stopping on SIGTERM (6 of 7 stops measured), losing a graceful shutdown that no probe sees; set it by hand once `systemctl stop` ends with Result=success';
