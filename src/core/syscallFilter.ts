// SystemCallFilter: its ladder, its score, how a rung is written over a vendor's filter, and how an
// accepted filter is minimised. Pure.
import { listOf, unrestricted, type ListValue } from './effective.js';
import type { SyscallGroups } from './syscallGroups.js';
import type { CatalogRung, EffectiveSettings, EffectiveValue, OptionSpec, Rung, Setting } from './types.js';

const EPS = 1e-9;

// The property lists single syscalls (groups expanded), so judging it needs the groups' contents,
// which change between systemd versions (open_tree moved from @mount to @file-system in 258).
// They come from the running systemd (syscallGroups.ts, passed in through syscallFilterFor); this
// table is the fallback: `systemctl show` of `~@group` on systemd 252 with Debian 12's libseccomp
// (names of other architectures included, as systemd reports them).

const words = (s: string) => s.split(/\s+/).filter(Boolean);
export const SYSCALL_GROUPS: Readonly<Record<string, readonly string[]>> = {
  clock: words('adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday'),
  'cpu-emulation': words('modify_ldt subpage_prot switch_endian vm86 vm86old'),
  debug: words('lookup_dcookie perf_event_open pidfd_getfd ptrace rtas s390_runtime_instr switch_endian'),
  module: words('delete_module finit_module init_module'),
  mount: words(`chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree pivot_root
    umount umount2`),
  obsolete: words(`_sysctl afs_syscall bdflush break create_module ftime get_kernel_syms getpmsg gtty idle
    lock mpx prof profil putpmsg query_module security sgetmask ssetmask stime stty sysfs tuxcall ulimit
    uselib ustat vserver`),
  privileged: words(`_sysctl acct adjtimex bpf capset chown chown32 chroot clock_adjtime clock_adjtime64
    clock_settime clock_settime64 delete_module fanotify_init fanotify_mark fchown fchown32 fchownat
    finit_module init_module ioperm iopl kexec_file_load kexec_load lchown lchown32 nfsservctl
    open_by_handle_at pciconfig_iobase pciconfig_read pciconfig_write pivot_root quotactl quotactl_fd reboot
    s390_pci_mmio_read s390_pci_mmio_write setdomainname setfsuid setfsuid32 setgroups setgroups32
    sethostname setresuid setresuid32 setreuid setreuid32 settimeofday setuid setuid32 swapoff swapon
    vhangup`),
  'raw-io': words(`ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write s390_pci_mmio_read
    s390_pci_mmio_write`),
  reboot: words('kexec_file_load kexec_load reboot'),
  resources: words(`ioprio_set mbind migrate_pages move_pages nice sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler set_mempolicy set_mempolicy_home_node setpriority setrlimit`),
  swap: words('swapoff swapon'),
};

/** analyze-security's SystemCallFilter rows (range 10): 8900 in all. */
const SCF_ROWS: ReadonlyArray<[string, number]> = [
  ['swap', 1000], ['obsolete', 250], ['clock', 1000], ['cpu-emulation', 250], ['debug', 1000],
  ['mount', 1000], ['module', 1000], ['raw-io', 1000], ['reboot', 1000], ['privileged', 700],
  ['resources', 700],
];
export const SCF_WEIGHT = SCF_ROWS.reduce((s, [, w]) => s + w, 0);

/** The groups judging uses: the running systemd's where it listed them, else the table's. A deny
 * list is judged only on the names this table knows to read back (a name libseccomp cannot
 * resolve, like sys_debug_setcontext on 2.5.4, never appears in the property), unless none is. */
interface Groups {
  members(group: string): readonly string[];
  denied(group: string): readonly string[];
  names(): string[];
}

const KNOWN = new Set(Object.values(SYSCALL_GROUPS).flat());

function groupsOf(running: SyscallGroups | undefined): Groups {
  const members = (g: string) => (running?.[g]?.length ? running[g]! : (SYSCALL_GROUPS[g] ?? []));
  const denied = new Map<string, readonly string[]>();
  for (const g of Object.keys(SYSCALL_GROUPS)) {
    const known = members(g).filter((s) => KNOWN.has(s));
    denied.set(g, known.length ? known : members(g));
  }
  return { members, denied: (g) => denied.get(g) ?? members(g), names: () => Object.keys(SYSCALL_GROUPS) };
}

/** Whether the filter still allows some call of the group (judged like systemd-analyze: a group
 * counts as allowed while any of its calls is). */
function groupAllowed(t: Groups, group: string, f: ListValue): boolean {
  if (unrestricted(f)) return t.members(group).length > 0;
  return f.allow ? t.members(group).some((s) => f.items.has(s)) : t.denied(group).some((s) => !f.items.has(s));
}

/** Exposure the filter leaves, 0..1: an allow list that includes a group's call scores 9/10, a
 * deny list that misses one 10/10, no filter 10/10 on every row. */
function residualOf(t: Groups, v: EffectiveValue | undefined): number {
  const f = listOf(v);
  if (unrestricted(f)) return 1;
  let bad = 0;
  for (const [g, w] of SCF_ROWS) if (groupAllowed(t, g, f)) bad += f.allow ? (w * 9) / 10 : w;
  return bad / SCF_WEIGHT;
}

const DENY_GROUPS = ['clock', 'debug', 'module', 'mount', 'raw-io', 'reboot', 'swap', 'cpu-emulation', 'obsolete'];

// "In force or stronger" is judged by the exposure score here: an allow list cannot be compared
// with @system-service without that group's 370-odd names, and the score is what the tuner buys.
function scfRung(t: Groups, value: string, lines: string[], residual: number, minSystemd: number): CatalogRung {
  return {
    value,
    lines,
    residual,
    minSystemd,
    inForce: (eff) => residualOf(t, eff.SystemCallFilter) <= residual + EPS,
  };
}

const SCF_STRICT = '@system-service ~@privileged @resources';
const SCF_SERVICE = '@system-service';
const SCF_DENY = `~${DENY_GROUPS.map((g) => `@${g}`).join(' ')}`;

/** Shortest spelling of a set of syscalls: whole scored groups as @group, then the rest. */
function spellSyscalls(t: Groups, items: Set<string>): string {
  const left = new Set(items);
  const out: string[] = [];
  const bySize = t.names().sort((a, b) => t.members(b).length - t.members(a).length);
  for (const g of bySize) {
    const m = t.members(g);
    if (m.every((s) => left.has(s))) {
      out.push(`@${g}`);
      m.forEach((s) => left.delete(s));
    }
  }
  return [...out, ...[...left].sort()].join(' ');
}

/** SystemCallFilter's ladder, strongest first. */
function ladderOf(t: Groups): CatalogRung[] {
  return [
    scfRung(t, SCF_STRICT, ['SystemCallFilter=@system-service', 'SystemCallFilter=~@privileged @resources'], 0, 241),
    // @system-service allows all of @resources and the @chown/@setuid parts of @privileged (9/10 each)
    scfRung(t, SCF_SERVICE, ['SystemCallFilter=@system-service'], (630 + 630) / SCF_WEIGHT, 241),
    scfRung(t, SCF_DENY, [`SystemCallFilter=${SCF_DENY}`], residualOf(t, { allow: false, items: DENY_GROUPS.flatMap((g) => t.members(g)) }), 233),
  ];
}

/** A rung over the filter in force: a `~` line removes, an allow line after a deny list only
 * removes entries from it, so a vendor's list is reset and put back (reference §3). */
function renderOver(t: Groups, rung: Rung, cur: ListValue): string[] | null {
  const denyOnly = rung.lines.every((l) => l.startsWith('SystemCallFilter=~'));
  if (unrestricted(cur) || denyOnly) return [...rung.lines]; // first line sets the mode / `~` removes
  if (cur.allow) {
    // an allow line would add to the vendor's allow list; `~` lines can only narrow it
    if (rung.value !== SCF_STRICT) return null;
    const extra = ['debug', 'mount', 'cpu-emulation', 'obsolete'].filter((g) => groupAllowed(t, g, cur));
    return [`SystemCallFilter=~${['@privileged', '@resources', ...extra.map((g) => `@${g}`)].join(' ')}`];
  }
  // Vendor deny list D: reset, the allow list, then D again: the result allows a subset of what D did.
  // Not when D returns an errno ("reboot:EPERM"): removed from an allow list, the call would kill.
  if (cur.suffixed) return null;
  const again = `SystemCallFilter=~${spellSyscalls(t, cur.items)}`;
  return ['SystemCallFilter=', ...rung.lines.filter((l) => l !== again), again];
}

/** Whether a rung's lines deny the group (a `~` line naming it): the rungs the kernel's record of
 * a call in that group rules out (engine/tune/search.ts). */
export function rungDeniesGroup(lines: readonly string[], group: string): boolean {
  return lines.some((l) => l.startsWith('SystemCallFilter=~') && l.slice('SystemCallFilter=~'.length).split(/\s+/).includes(`@${group}`));
}

/** Scored system call groups the filter still allows. */
export const SYSCALL_MINIMIZE_GROUPS = ['@resources', '@privileged'];

const bare = (group: string) => group.replace(/^@/, '');

function itemsOf(t: Groups, eff: EffectiveSettings): string[] {
  const f = listOf(eff.SystemCallFilter);
  return SYSCALL_MINIMIZE_GROUPS.filter((g) => groupAllowed(t, bare(g), f));
}

/** A minimised filter in force: none of the groups it removed is allowed. */
function removedInForce(t: Groups, groups: readonly string[], eff: EffectiveSettings): boolean {
  const f = listOf(eff.SystemCallFilter);
  return groups.every((g) => !groupAllowed(t, bare(g), f));
}

/** Removes groups from the filter in force: a `~` line narrows an allow list and widens a deny
 * list, so it only ever tightens. Its items are the groups removed, the base's included. */
export function syscallStep(base: Setting, removed: readonly string[]): Setting {
  return {
    option: base.option,
    value: `${base.value} ~${removed.join(' ')}`.replace(' ~~', ' ~'),
    lines: [...base.lines, `SystemCallFilter=~${removed.join(' ')}`],
    rung: base.rung ?? base.value,
    items: [...(base.items ?? []), ...removed],
  };
}

/** What of the catalog entry depends on the groups. */
export type SyscallFilterBehaviour = Required<Pick<OptionSpec, 'render' | 'minimise' | 'itemsInForce'>> & { ladder: CatalogRung[] };

/** The catalog entry's behaviour with the running systemd's groups (undefined: the table's). */
export function syscallFilterFor(running: SyscallGroups | undefined): SyscallFilterBehaviour {
  const t = groupsOf(running);
  return {
    ladder: ladderOf(t),
    render: (rung, eff) => renderOver(t, rung, listOf(eff.SystemCallFilter)),
    minimise: {
      items: (eff) => itemsOf(t, eff),
      step: (_eff, accepted, removed) => syscallStep(accepted, removed),
      // the kernel recorded the unit calling them: removing them kills it
      needed: (f) => (f?.syscallGroupsUsed ?? []).map((g) => `@${g}`),
    },
    itemsInForce: (groups, eff) => removedInForce(t, groups, eff),
  };
}

/** Scored groups an effective filter still allows, judged by the table above (the fallback). */
export const syscallItems = (eff: EffectiveSettings): string[] => itemsOf(groupsOf(undefined), eff);
