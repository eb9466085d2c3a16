// Plain data shared by the pure core (catalog, plan, classifier) and the adapters.
// Nothing in src/core performs I/O.

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
}

/** A candidate under trial, or an accepted setting. */
export interface Setting {
  option: string;
  value: string;
  lines: string[];
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
}
