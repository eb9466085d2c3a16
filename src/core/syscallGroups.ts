// The running systemd's system call groups, read from `systemd-analyze syscall-filter` (no
// arguments: every group, then comment lines). Group contents change between versions (open_tree
// left @mount for @file-system in 258), and the SystemCallFilter read-back lists single calls,
// so judging it needs the groups of the systemd in use. Pure; never throws: anything unreadable
// gives undefined and the caller keeps the static table (syscallFilter.ts SYSCALL_GROUPS).
//
// Format (analyze-syscall-filter.c, unchanged 252–262): a group starts at column 0 with
// "@name", then "    # help", then one "    member" per line, a member being a call or a
// nested "@group"; groups are separated by blank lines. Comment blocks at column 0 ("# Ungrouped
// System Calls …", "#   name") follow. Colour escapes are stripped in case they leak through.
import { SYSCALL_GROUPS } from './syscallFilter.js';
import type { OptionSpec } from './types.js';

/** Group name (without "@") → its system calls, nested groups expanded. */
export type SyscallGroups = Readonly<Record<string, readonly string[]>>;

const MAX_TEXT = 1 << 20;
const MAX_LINES = 20_000;
const MAX_GROUPS = 256;
const MAX_DEPTH = 8;
const GROUP = /^@([a-z0-9][a-z0-9-]{0,63})$/;
const CALL = /^[a-z_][a-z0-9_]{0,63}$/;
const ANSI = /\x1b\[[0-9;]*m/g;

/** The groups of a `systemd-analyze syscall-filter` listing, nested groups expanded; undefined
 * when any line is unreadable, a group is defined twice, a nested group is undefined or cyclic,
 * or one of `required` (default: the groups autoharden scores) is missing or empty. */
export function parseSyscallFilterListing(text: unknown, required: readonly string[] = Object.keys(SYSCALL_GROUPS)): SyscallGroups | undefined {
  if (typeof text !== 'string' || text.length > MAX_TEXT) return undefined;
  const lines = text.replace(ANSI, '').split(/\r?\n/);
  if (lines.length > MAX_LINES) return undefined;
  const raw = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of lines) {
    const t = line.trim();
    if (t === '') {
      cur = undefined;
      continue;
    }
    if (line === t) {
      // column 0: a group header or a comment block after the groups
      if (t.startsWith('#')) {
        cur = undefined;
        continue;
      }
      const m = GROUP.exec(t);
      if (!m || raw.has(m[1]!) || raw.size >= MAX_GROUPS) return undefined;
      cur = [];
      raw.set(m[1]!, cur);
      continue;
    }
    if (!cur) return undefined; // an indented line outside any group
    if (t.startsWith('#')) continue; // the group's help text
    if (!GROUP.test(t) && !CALL.test(t)) return undefined;
    cur.push(t);
  }
  const done = new Map<string, string[]>();
  for (const name of raw.keys()) if (!expand(raw, name, done, new Set())) return undefined;
  if (!required.every((g) => (done.get(g)?.length ?? 0) > 0)) return undefined;
  return Object.fromEntries(done);
}

/** A group's calls, nested groups expanded once each (memoised in `done`); undefined on an
 * undefined or cyclic reference, or nesting deeper than systemd's. */
function expand(raw: ReadonlyMap<string, readonly string[]>, name: string, done: Map<string, string[]>, visiting: Set<string>): string[] | undefined {
  const known = done.get(name);
  if (known) return known;
  const members = raw.get(name);
  if (!members || visiting.has(name) || visiting.size > MAX_DEPTH) return undefined;
  visiting.add(name);
  const calls = new Set<string>();
  for (const m of members) {
    if (!m.startsWith('@')) {
      calls.add(m);
      continue;
    }
    const sub = expand(raw, m.slice(1), done, visiting);
    if (!sub) return undefined;
    sub.forEach((c) => calls.add(c));
  }
  visiting.delete(name);
  const out = [...calls].sort();
  done.set(name, out);
  return out;
}

/** The catalog with the behaviour of entries judged by system call groups rebuilt from these
 * (the running systemd's); unchanged without them (each entry keeps its static table). */
export function withSyscallGroups(catalog: readonly OptionSpec[], groups: SyscallGroups | undefined): readonly OptionSpec[] {
  if (!groups) return catalog;
  return catalog.map((spec) => (spec.withSyscallGroups ? { ...spec, ...spec.withSyscallGroups(groups) } : spec));
}

/** The groups autoharden judges SystemCallFilter by (the scored ones). */
const SCORED = Object.keys(SYSCALL_GROUPS);

/** A unit that only loads (never started): its deny list names every member of the scored groups,
 * and systemd's read-back of it lists the ones its libseccomp resolves. systemd drops the others
 * silently (257's libseccomp 2.6.0 does not know switch_endian, which @cpu-emulation lists), so
 * a trial's read-back never has them; analyze-security skips them too. */
export function renderResolvableCheck(groups: SyscallGroups, marker: string): string {
  const names = [...new Set(SCORED.flatMap((g) => groups[g] ?? []))].sort();
  return [
    marker,
    '# Which system calls this systemd can put in a filter: loaded and read back, never started. Removed after.',
    '[Unit]',
    'Description=autoharden check: system calls this systemd resolves',
    'DefaultDependencies=no',
    '',
    '[Service]',
    'Type=oneshot',
    'ExecStart=/bin/true',
    `SystemCallFilter=~${names.join(' ')}`,
    '',
  ].join('\n');
}

/** The names a SystemCallFilter read-back lists (`name` or `name:errno`); undefined unless it is
 * the deny list of the check with at least one name. */
export function resolvedNames(readBack: unknown): ReadonlySet<string> | undefined {
  if (!readBack || typeof readBack !== 'object' || Array.isArray(readBack)) return undefined;
  const r = readBack as { allow?: unknown; items?: unknown };
  if (r.allow !== false || !Array.isArray(r.items) || r.items.length === 0 || r.items.length > 4096) return undefined;
  return new Set(r.items.filter((i): i is string => typeof i === 'string').map((i) => i.split(':')[0]!));
}

/** The groups with only the calls `resolved` lists; a scored group left empty keeps its members
 * (nothing to judge by is not a reason to call it allowed). */
export function onlyResolved(groups: SyscallGroups, resolved: ReadonlySet<string> | undefined): SyscallGroups {
  if (!resolved) return groups;
  const out: Record<string, readonly string[]> = {};
  for (const [g, members] of Object.entries(groups)) {
    const kept = members.filter((m) => resolved.has(m));
    out[g] = kept.length ? kept : members;
  }
  return out;
}
