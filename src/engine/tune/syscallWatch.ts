// What the kernel's seccomp records say about the unit during a tune: which of the system call
// groups a filter would deny it calls (SystemCallLog= on trials that carry no filter, and the
// calls a filter killed it for), and whether a process of it was just killed by seccomp (ends a
// probe's wait). The records are the kernel's, which the service cannot write (core/seccompLog.ts
// keeps kernel-facility records only); it can only make the calls. Losses (the kernel's printk
// rate limit) make a group look unused: that only ever raises a prior, and trials still decide.
import { describeUse, forUnit, groupsUsed, isKill, type GroupUse } from '../../core/seccompLog.js';
import { SYSCALL_GROUPS } from '../../core/syscallFilter.js';
import type { SyscallGroups } from '../../core/syscallGroups.js';
import type { Setting } from '../../core/types.js';
import type { KernelLogPort } from '../ports.js';
import type { TuneContext } from './context.js';

/** The groups SystemCallFilter's strongest rung and its minimisation deny (core/syscallFilter.ts). */
export const WATCHED_GROUPS = ['privileged', 'resources'] as const;
const SCF = 'SystemCallFilter';
/** How often a probe's wait looks for a kill (reading the ring takes 25–45 ms). */
const KILL_LOOK_MS = 400;

export interface TrialWatch {
  mark: number | undefined;
  /** SystemCallLog= lines for the trial drop-in (none when its settings carry a filter). */
  lines: string[];
}

export class SyscallWatch {
  private log: KernelLogPort | undefined;
  /** Why the kernel log cannot tell (said once in the report's warnings). */
  unavailable: string | undefined;
  private logAction = false;
  private readonly exes = new Set<string>();
  private pids: number[] = [];
  /** Watched groups the unit was seen calling, with the calls and callers. */
  readonly used = new Map<string, GroupUse>();
  /** Trials that carried SystemCallLog=, passed, and whose window shows no loss of records. */
  loggedPasses = 0;

  constructor(private readonly c: TuneContext) {}

  async begin(): Promise<void> {
    const { ports, o } = this.c;
    const opened = ports.kernelLog?.();
    if (!opened) return;
    if ('unavailable' in opened) {
      this.unavailable = opened.unavailable;
      return;
    }
    this.log = opened;
    this.logAction = opened.actionsLogged.includes('log') && (this.c.platform?.serviceProperties?.has('SystemCallLog') ?? false);
    await this.refresh(o.unit);
  }

  private async refresh(unit: string): Promise<void> {
    const id = await this.c.ports.unitIdentity?.(unit).catch(() => undefined);
    if (!id) return;
    this.pids = id.pids;
    for (const e of id.exes) this.exes.add(e);
  }

  /** Before a trial's restart: the mark, and SystemCallLog= for a trial that carries no filter of
   * its own while the filter is undecided. systemd implies NoNewPrivileges= with a seccomp filter
   * for a unit without CAP_SYS_ADMIN: only where the trial or the accepted set has it already, so
   * that watching never changes what is judged. */
  before(settings: readonly Setting[]): TrialWatch {
    const log = this.log;
    if (!log) return { mark: undefined, lines: [] };
    let mark: number | undefined;
    try {
      mark = log.mark();
    } catch {
      return { mark: undefined, lines: [] };
    }
    const { c } = this;
    const all = [...c.accepted, ...settings];
    const filtering = all.some((s) => s.option === SCF);
    const nnp = all.some((s) => s.option === 'NoNewPrivileges' && s.value === 'yes');
    const lines = this.logAction && !filtering && nnp && this.used.size < WATCHED_GROUPS.length
      ? [`SystemCallLog=${WATCHED_GROUPS.map((g) => `@${g}`).join(' ')}`]
      : [];
    return { mark, lines };
  }

  /** For a probe's wait: a seccomp kill of one of the unit's processes since the mark (read at most
   * every KILL_LOOK_MS). Evidence that ends the wait only. */
  killShown(w: TrialWatch): (() => string | undefined) | undefined {
    const log = this.log;
    if (!log || w.mark === undefined) return undefined;
    let last = 0;
    return () => {
      const now = Date.now();
      if (now - last < KILL_LOOK_MS) return undefined;
      last = now;
      const kill = forUnit(log.scan(w.mark!).records, this.identity()).find(isKill);
      return kill ? `the kernel killed ${kill.exe ?? kill.comm} (seccomp, ${kill.syscall ?? `call ${kill.nr}`})` : undefined;
    };
  }

  /** After a trial: the groups its records show the unit calling, new ones returned. */
  async after(w: TrialWatch, passed: boolean): Promise<GroupUse[]> {
    const log = this.log;
    if (!log || w.mark === undefined) return [];
    await this.refresh(this.c.o.unit);
    const window = log.scan(w.mark);
    const mine = forUnit(window.records, this.identity());
    const fresh: GroupUse[] = [];
    for (const u of groupsUsed(mine, this.groups())) {
      const had = this.used.get(u.group);
      if (!had) fresh.push(u);
      this.used.set(u.group, had ? { group: u.group, calls: [...new Set([...had.calls, ...u.calls])].sort(), by: [...new Set([...had.by, ...u.by])].sort() } : u);
    }
    if (passed && w.lines.length && window.incomplete.length === 0) this.loggedPasses++;
    return fresh;
  }

  /** "setgroups, setuid by /usr/sbin/nginx (@privileged)" for each watched group used. */
  describe(groups: readonly string[]): string {
    return groups.map((g) => this.used.get(g)).filter((u) => u !== undefined).map((u) => `${describeUse(u)} (@${u.group})`).join('; ');
  }

  private identity() {
    return { pids: this.pids, exes: this.exes };
  }

  private groups(): Record<string, readonly string[]> {
    const running = this.c.syscallGroups as SyscallGroups | undefined;
    return Object.fromEntries(WATCHED_GROUPS.map((g) => [g, running?.[g]?.length ? running[g]! : SYSCALL_GROUPS[g]!]));
  }
}
