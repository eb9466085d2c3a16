// Plain data shared by the pure core (catalog, plan, classifier) and the adapters.
// Nothing in src/core performs I/O.
import type { Needs } from './needs.js';
import type { SyscallGroups } from './syscallGroups.js';

/** Why an option may be unsafe to judge by probes alone (safety issue). */
export type SafetyClass =
  | 'verifiable' // a probe that exercises the service sees the breakage
  | 'restricts-reach' // limits who reaches the service or whom it reaches: loopback probes can't vouch
  | 'reaches-sessions' // also confines login sessions the service spawns (sshd, cron)
  | 'latent-risk'; // breaks only rare code paths (SIGSYS on an unusual call, a JIT fallback)

/** Run-time cost (reference §5): namespaces and capabilities are free; seccomp filters that
 * inspect arguments cost on every call they inspect. */
export type CostClass = 'free' | 'seccomp-number' | 'seccomp-args';

export type Family = 'filesystem' | 'capabilities' | 'namespaces' | 'seccomp' | 'network' | 'misc';

/** A value a D-Bus property of the unit can take after conversion to JSON-safe data. */
export type EffectiveValue =
  | string
  | number
  | boolean
  | string[]
  | { allow: boolean; items: string[] }
  | Array<{ family: number; address: string; prefix: number }>
  | null;

/** The unit's effective settings read back over D-Bus (Service interface), keyed by property name. */
export type EffectiveSettings = Record<string, EffectiveValue>;

/** One rung of an option's value ladder. */
export interface Rung {
  /** Human value, as shown in the journal (e.g. "strict", "~@privileged @resources"). */
  value: string;
  /** Drop-in lines under [Service] that apply this rung; they must only tighten (reference §3). */
  lines: string[];
  /** Exposure badness this rung leaves, 0..1 of the option's weight (for ordering and reports). */
  residual: number;
  /** True when the effective settings show this rung (or something stronger) in force. */
  inForce(eff: EffectiveSettings): boolean;
  /** Set on a rung built from a ladder rung (learned paths, a policy's items): the structure its
   * Setting carries (see Setting). */
  rung?: string;
  paths?: string[];
  items?: string[];
}

export interface OptionSpec {
  /** Catalog id; usually the systemd setting name. */
  name: string;
  family: Family;
  /** Strongest first. Empty for explain-only options. */
  ladder: Rung[];
  /** Weight in systemd-analyze security (sum of the rows it affects). */
  weight: number;
  cost: CostClass;
  safety: SafetyClass;
  /** Login sessions the service spawns (sshd, cron) keep this setting: they leave the unit's
   * cgroup but keep its namespaces, seccomp filters, capabilities and NoNewPrivileges. */
  confinesSessions: boolean;
  /** Prior chance that the strongest rung works on a typical daemon (0..1). */
  prior: number;
  /** Lowest systemd version that knows the setting. */
  minSystemd: number;
  /** Kernel feature it needs, as text for the user. */
  kernel?: string;
  /** What the running system must offer (build features, LSM, kernel, a property); checked
   * against the Platform, with a reason written from the facts when it does not. */
  needs?: Needs;
  /** A cheaper cost class where the system meets `needs` (MemoryDenyWriteExecute by prctl). */
  costWhere?: { needs: Needs; cost: CostClass };
  /** D-Bus properties read back to verify it took effect. */
  properties: string[];
  /** Exit statuses systemd uses when it cannot apply the setting (reference §4). */
  exitStatuses: number[];
  /** Lower-case texts in the unit's logs that betray this option. */
  logHints: string[];
  /** Set when the option is never tried: what only a person can supply, or why it is left out. */
  explainOnly?: string;
  /** One line for the user: what it does and what it breaks. */
  summary: string;

  // Behaviour: what sets this option apart from a plain ladder. Generic code (catalog.renderRung,
  // policy, priors, candidates, learn, minimisation, the classifier) reads these fields and never
  // compares option names; an absent field means the plain default given with it.

  /** Drop-in lines that take the unit from `eff` to `rung` by tightening only, or null when that
   * cannot be written. Called only for a rung not in force. Default: the rung's lines. */
  render?(rung: Rung, eff: EffectiveSettings): string[] | null;
  /** Reach and mode policy: which rungs observation and the user's declarations allow (may build
   * new rungs from the declarations; `eff` is the unit's effective settings, as read for its
   * `properties`). Default: all of them. */
  admit?(rungs: Rung[], f: SafetyFacts, d: Declarations, eff?: EffectiveSettings): Decision;
  /** Reaches spawned login sessions although `confinesSessions` is false: 'inherited' always (a
   * umask passes to every shell), 'cgroup' while the sessions stay in the unit's cgroup. */
  sessionReach?: 'inherited' | 'cgroup';
  /** The prior chance, moved by what observation showed. Default: `prior`. */
  priorFrom?(f: SafetyFacts, prior: number): number;
  /** Trials of its rungs on this host's units and imported ones, by rung (core/learnedPriors.ts
   * withPriorCounts): they move the planner's chance for the strongest rung. Default: none. */
  priorCounts?: ReadonlyMap<string, { tried: number; passed: number }>;
  /** The rung kept with learned ReadWritePaths= instead of falling back to a weaker one. */
  learnsPaths?: { rung: string };
  /** Options its read-back depends on (NoExecPaths= for a root service names /tmp only while
   * PrivateTmp= keeps it writable): a trial that lacks them does not judge it; it is tried again,
   * untested, once (engine/tune/search.ts). */
  judgedWith?: string[];
  /** Set-valued: once accepted, what it still allows is removed item by item. */
  minimise?: Minimisation;
  /** Whether a setting carrying `items` is in force: a rung `admit` built or a minimisation step,
   * which the ladder does not list. What the items are is the option's own (the networks it
   * allows, the capabilities it keeps, the system call groups it removed). Default: never. */
  itemsInForce?(items: readonly string[], eff: EffectiveSettings): boolean;
  /** How the option fails besides its exit statuses: the kernel's signal (SIGSYS for seccomp). */
  failsWith?: { signal: string };
  /** systemd stops enforcing it on a running unit at every daemon-reload until the unit restarts
   * (measured on 257 for SocketBindDeny's cgroup BPF link): a tune whose last reload came after
   * its last restart restarts once more. */
  lostOnReload?: boolean;
  /** Behaviour judged by system call groups, rebuilt from the running systemd's (`systemd-analyze
   * syscall-filter`; core/syscallGroups.ts withSyscallGroups). Default: none depends on them. */
  withSyscallGroups?(groups: SyscallGroups): Partial<OptionSpec>;
}

/** How an accepted set-valued setting is shrunk (core/minimize.ts runs it). */
export interface Minimisation {
  /** What the accepted value still allows, as items to remove; empty: nothing to minimise. */
  items(eff: EffectiveSettings, accepted: Setting): string[];
  /** The setting without `removed`; it carries `items`, checked by the entry's `itemsInForce`. */
  step(eff: EffectiveSettings, accepted: Setting, removed: readonly string[]): Setting;
  /** Items observation says the unit will not miss: tried together first (adaptive). */
  likelyFree?(f: SafetyFacts | undefined): string[];
  /** Items observation says the unit needs: never tried for removal. */
  needed?(f: SafetyFacts | undefined): string[];
}

/** What the user declared on the command line. */
export interface Declarations {
  /** Peers the service may talk to or be reached by, besides loopback (--allow-net). */
  allowNet: string[];
  /** Only loopback may reach the service (--local-only). */
  localOnly: boolean;
  /** Login sessions the service spawns may be confined too (--confine-sessions). */
  confineSessions: boolean;
}

/** What observation of the running unit showed (see core/observe.ts). */
export interface SafetyFacts {
  usesInet: boolean;
  inetEndpoints: string[];
  nonLoopbackListeners: string[];
  families: string[];
  /** Non-loopback addresses of connected peers. */
  peers: string[];
  /** Why we think the unit spawns login sessions; empty when it does not. */
  sessionEvidence: string[];
  /** Those sessions stay in the unit's cgroup (no pam_systemd moves them out): cgroup settings reach them. */
  sessionsStayInUnit?: boolean;
  /** Modes of the files and sockets the unit creates and writes. */
  createdModes: Array<{ path: string; mode: number }>;
  /** Directories of the files it holds open for writing: seeds for ReadWritePaths. */
  writableDirs?: string[];
  /** User ids its processes run as, and their command names: priors for the search. */
  uids?: number[];
  commands?: string[];
  /** What it listens on (SocketBindAllow=); undefined when its sockets were not read. */
  listeners?: Listener[];
  /** File system types its processes use (RestrictFileSystems=); undefined when not read. */
  fileSystems?: string[];
  /** Capabilities the kernel's records of its processes show it needs, with why
   * (core/capsObserved.ts); undefined when they could not be read. */
  capsNeeded?: Array<{ cap: string; why: string }>;
  /** System call groups (without @) the kernel recorded the unit calling during the tune
   * (engine/tune/syscallWatch.ts): a filter never removes them. */
  syscallGroupsUsed?: string[];
  /** Directories its programs and shared libraries come from (exe, executable mappings, the
   * binaries and interpreters of its Exec*= lines), resolved: ExecPaths= (core/closeFindings.ts);
   * undefined when its mappings were not read. */
  execDirs?: string[];
  /** Which password files (closeFindings.ts CREDENTIAL_FILES) it holds open; undefined when its
   * open files were not read. */
  openCredentials?: string[];
  /** The PAM service whose stack it has (/etc/pam.d/NAME); undefined when it has none. */
  pamService?: string;
}

/** A listening socket as a bind rule sees it: family, transport, port. */
export interface Listener {
  family: 'ipv4' | 'ipv6';
  proto: 'tcp' | 'udp';
  port: number;
}

/** An entry's `admit`: the rungs to try (and, in `dropped`, rungs it left out and why), or why
 * the option is not tried at all. */
export type Decision = { rungs: Rung[]; dropped?: Array<{ value: string; reason: string }> } | { skip: string };

/** A rung that needs a newer systemd than its option does (ProtectSystem=strict, …). Still a Rung. */
export interface CatalogRung extends Rung {
  minSystemd?: number;
  /** What this value needs beyond the option's own needs (PrivateUsers=self: PrivateUsersEx). */
  needs?: Needs;
}

/** A candidate under trial, or an accepted setting. Journaled as JSON: plain data, and whether it
 * is in force is the pure core/setting.ts inForce(). */
export interface Setting {
  option: string;
  /** What people see and what identifies it (journal, report, CLI, rejected keys), e.g.
   * "strict; ReadWritePaths=-/a". Written from the structure below; never parsed. */
  value: string;
  lines: string[];
  /** The ladder value it applies; absent when that is `value` itself. */
  rung?: string;
  /** Learned writable directories (ReadWritePaths= with the learning rung). */
  paths?: string[];
  /** A set the option builds beyond its ladder, checked by its entry's `itemsInForce`. */
  items?: string[];
}

export type ProbeSpec =
  | { kind: 'http'; url: string; raw: string }
  | { kind: 'tcp'; host: string; port: number; raw: string }
  | { kind: 'exec'; command: string; raw: string };

export interface ProbeResult {
  probe: string;
  ok: boolean;
  detail: string;
}

/** What the engine saw of the unit during one settle period. */
export interface UnitSnapshot {
  activeState: string;
  subState: string;
  result: string;
  invocationId: string;
  nRestarts: number;
  mainPid: number;
  execMainCode: number; // CLD_EXITED=1, CLD_KILLED=2, CLD_DUMPED=3, 0 = still running
  execMainStatus: number;
  controlPid?: number;
  /** CLOCK_MONOTONIC µs of the main process's fork and of its handoff to the service's own code
   * (ExecMainHandoffTimestamp, systemd ≥ 256; undefined where systemd lacks it). A handoff before
   * the fork means this invocation never reached the service's code: its exec setup, the
   * sandbox, failed. Recorded by systemd; the service cannot write it. */
  execMainStartMono?: number;
  execMainHandoffMono?: number;
  /** CLOCK_REALTIME µs of the main process's start (ExecMainStartTimestamp): whether the running
   * process already has the settings the journal says (recovery). */
  execMainStartRealtime?: number;
}

export type VerdictKind =
  | 'ok'
  | 'not-effective'
  | 'exit-status'
  | 'signal'
  | 'not-settled'
  | 'restarted'
  | 'probe-failed'
  | 'log-error'
  | 'policy';

export interface Verdict {
  ok: boolean;
  kind: VerdictKind;
  /** One line a person can read: "exit status 226/NAMESPACE", "probe http://… failed: …". */
  reason: string;
  evidence: string[];
  /** What the verdict rests on, as data; `kind` and `reason` derive from it. Unset on verdicts
   * made outside the classifier and in journals written before it existed. */
  cause?: import('./cause.js').Cause;
}
