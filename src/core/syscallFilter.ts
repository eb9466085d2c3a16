// SystemCallFilter: its ladder, its score, how a rung is written over a vendor's filter, and how an
// accepted filter is minimised. Pure.
import { listOf, unrestricted, type ListValue } from './effective.js';
import type { CatalogRung, EffectiveSettings, EffectiveValue, Rung, Setting } from './types.js';

const EPS = 1e-9;

// The property lists single syscalls (groups expanded), so the groups that systemd-analyze scores
// are spelled out here: `systemctl show` of `~@group` on systemd 252 with Debian 12's libseccomp
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

/** Exposure the filter leaves, 0..1: an allow list that includes a group's call scores 9/10, a
 * deny list that misses one 10/10, no filter 10/10 on every row. */
export function scfResidual(v: EffectiveValue | undefined): number {
  const f = listOf(v);
  if (unrestricted(f)) return 1;
  let bad = 0;
  for (const [g, w] of SCF_ROWS) {
    const members = SYSCALL_GROUPS[g]!;
    if (f.allow) bad += members.some((s) => f.items.has(s)) ? (w * 9) / 10 : 0;
    else bad += members.some((s) => !f.items.has(s)) ? w : 0;
  }
  return bad / SCF_WEIGHT;
}

const DENY_GROUPS = ['clock', 'debug', 'module', 'mount', 'raw-io', 'reboot', 'swap', 'cpu-emulation', 'obsolete'];

// "In force or stronger" is judged by the exposure score here: an allow list cannot be compared
// with @system-service without that group's 370-odd names, and the score is what the tuner buys.
function scfRung(value: string, lines: string[], residual: number, minSystemd: number): CatalogRung {
  return {
    value,
    lines,
    residual,
    minSystemd,
    inForce: (eff) => scfResidual(eff.SystemCallFilter) <= residual + EPS,
  };
}

const SCF_STRICT = '@system-service ~@privileged @resources';
const SCF_SERVICE = '@system-service';
const SCF_DENY = `~${DENY_GROUPS.map((g) => `@${g}`).join(' ')}`;

/** Shortest spelling of a set of syscalls: whole scored groups as @group, then the rest. */
function spellSyscalls(items: Set<string>): string {
  const left = new Set(items);
  const out: string[] = [];
  const bySize = Object.keys(SYSCALL_GROUPS).sort((a, b) => SYSCALL_GROUPS[b]!.length - SYSCALL_GROUPS[a]!.length);
  for (const g of bySize) {
    const m = SYSCALL_GROUPS[g]!;
    if (m.every((s) => left.has(s))) {
      out.push(`@${g}`);
      m.forEach((s) => left.delete(s));
    }
  }
  return [...out, ...[...left].sort()].join(' ');
}

/** SystemCallFilter's ladder, strongest first. */
export const SCF_LADDER: CatalogRung[] = [
  scfRung(SCF_STRICT, ['SystemCallFilter=@system-service', 'SystemCallFilter=~@privileged @resources'], 0, 241),
  // @system-service allows all of @resources and the @chown/@setuid parts of @privileged (9/10 each)
  scfRung(SCF_SERVICE, ['SystemCallFilter=@system-service'], (630 + 630) / SCF_WEIGHT, 241),
  scfRung(SCF_DENY, [`SystemCallFilter=${SCF_DENY}`], scfResidual({ allow: false, items: DENY_GROUPS.flatMap((g) => SYSCALL_GROUPS[g]!) }), 233),
];

/** A rung over the filter in force: a `~` line removes, an allow line after a deny list only
 * removes entries from it, so a vendor's list is reset and put back (reference §3). */
export function renderSyscallFilter(rung: Rung, eff: EffectiveSettings): string[] | null {
  return renderOver(rung, listOf(eff.SystemCallFilter));
}

function renderOver(rung: Rung, cur: ListValue): string[] | null {
  const denyOnly = rung.lines.every((l) => l.startsWith('SystemCallFilter=~'));
  if (unrestricted(cur) || denyOnly) return [...rung.lines]; // first line sets the mode / `~` removes
  if (cur.allow) {
    // an allow line would add to the vendor's allow list; `~` lines can only narrow it
    if (rung.value !== SCF_STRICT) return null;
    const extra = ['debug', 'mount', 'cpu-emulation', 'obsolete'].filter((g) => SYSCALL_GROUPS[g]!.some((s) => cur.items.has(s)));
    return [`SystemCallFilter=~${['@privileged', '@resources', ...extra.map((g) => `@${g}`)].join(' ')}`];
  }
  // Vendor deny list D: reset, the allow list, then D again: the result allows a subset of what D did.
  // Not when D returns an errno ("reboot:EPERM"): removed from an allow list, the call would kill.
  if (cur.suffixed) return null;
  const again = `SystemCallFilter=~${spellSyscalls(cur.items)}`;
  return ['SystemCallFilter=', ...rung.lines.filter((l) => l !== again), again];
}

/** Scored system call groups the filter still allows (judged like systemd-analyze: a group counts
 * as allowed while any of its calls is). */
export const SYSCALL_MINIMIZE_GROUPS = ['@resources', '@privileged'];

function allowed(v: EffectiveValue | undefined, call: string): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v) || !('allow' in v)) return true;
  const names = new Set(v.items.map((s) => s.split(':')[0]));
  return v.allow ? names.has(call) : !names.has(call);
}

const callsOf = (group: string) => SYSCALL_GROUPS[group.replace(/^@/, '')] ?? [];

export function syscallItems(eff: EffectiveSettings): string[] {
  return SYSCALL_MINIMIZE_GROUPS.filter((g) => callsOf(g).some((c) => allowed(eff.SystemCallFilter, c)));
}

/** A minimised filter in force: none of the calls of the groups it removed is allowed. */
export function removedGroupsInForce(groups: readonly string[], eff: EffectiveSettings): boolean {
  return groups.flatMap(callsOf).every((c) => !allowed(eff.SystemCallFilter, c));
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
