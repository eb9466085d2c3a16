// The option catalog: every setting the tuner knows, its ladder strongest-first, its weight in
// `systemd-analyze security`, how to tell from the unit's effective settings (read back over
// D-Bus) whether a rung is already in force, and whatever else sets the option apart, as fields of
// its one entry (OptionSpec's behaviour fields: render, admit, sessionReach, priorFrom, learnsPaths,
// minimise, itemsInForce, failsWith). Generic code reads the fields; adding an option is one
// entry and its test.
// The larger options keep their helpers beside them: boundingSet.ts, syscallFilter.ts, network.ts.
// Pure data and pure functions.
//
// Facts checked against systemd 252 (Debian 12) in a booted box and against systemd's sources
// (src/analyze/analyze-security.c, src/shared/seccomp-util.c, src/shared/exit-status.h, NEWS).
import { CAPS_LADDER, LIKELY_FREE_CAPS, admitCaps, capabilityItems, capabilityStep, keptCapsInForce } from './boundingSet.js';
import { BPF_OPTIONS } from './bpfOptions.js';
import { CAP_SCORE_WEIGHT } from './capabilities.js';
import { CLOSE_FINDINGS } from './closeFindings.js';
import { str } from './effective.js';
import {
  AF_LADDER, AF_WEIGHT, IP_LADDER, admitAddressFamilies, admitIpAddressDeny, admitPrivateNetwork, allowedNetsInForce,
  renderAddressFamilies, renderIpAddressDeny,
} from './network.js';
import {
  PRIVATE_TMP, PRIVATE_TMP_RUNGS, PRIVATE_USERS, PRIVATE_USERS_RUNGS, PROTECT_CGROUPS_RUNGS, PROTECT_HOSTNAME,
  PROTECT_HOSTNAME_RUNGS, admitPrivatePids, exRender, renderProtectCgroups,
} from './namespaceValues.js';
import { meets, unmetNeed, type Needs } from './needs.js';
import type { Platform } from './platform.js';
import { capsPrior, likelyFreeCaps, observed } from './priors.js';
import { SCF_WEIGHT, syscallFilterFor } from './syscallFilter.js';
import type { CatalogRung, Decision, EffectiveSettings, OptionSpec, Rung, SafetyFacts } from './types.js';

export type { CatalogRung } from './types.js';
export { SYSCALL_GROUPS } from './syscallFilter.js';

const EPS = 1e-9;

// systemd's exit statuses (src/shared/exit-status.h)
const USER = 217, CAPABILITIES_EXIT = 218, NETWORK = 225, NAMESPACE = 226;
const NO_NEW_PRIVILEGES = 227, SECCOMP = 228, ADDRESS_FAMILIES = 232, KEYRING = 237;

/** Root, as analyze-security counts it: User= root/0, or empty without DynamicUser. */
function runsAsRoot(eff: EffectiveSettings): boolean {
  const user = str(eff, 'User') ?? '';
  if (user === 'root' || user === '0') return true;
  return eff.DynamicUser !== true && user === '';
}

// ---------------------------------------------------------------------------------------------
// Rung builders

function yes(key: string): CatalogRung {
  return { value: 'yes', lines: [`${key}=yes`], residual: 0, inForce: (eff) => eff[key] === true };
}

/** String-valued scalar graded like analyze-security; unknown values grade as the worst. */
function graded(key: string, grades: Record<string, number>, values: string[], since: Record<string, number> = {}) {
  const residualOf = (eff: EffectiveSettings) => grades[str(eff, key) ?? ''] ?? 1;
  return values.map(
    (value): CatalogRung => ({
      value,
      lines: [`${key}=${value}`],
      residual: grades[value]!,
      inForce: (eff) => residualOf(eff) <= grades[value]! + EPS,
      ...(since[value] ? { minSystemd: since[value] } : {}),
    }),
  );
}

// UMask: badness of analyze-security's assess_umask, over 10.
function umaskResidual(mask: number): number {
  if (!(mask & 0o002)) return 1;
  if (!(mask & 0o004)) return 0.5;
  if (!(mask & 0o020)) return 0.2;
  if (!(mask & 0o040)) return 0.1;
  return 0;
}
const effUmask = (eff: EffectiveSettings) => (typeof eff.UMask === 'number' ? eff.UMask : 0o022);
const octal = (m: number) => `0${m.toString(8).padStart(3, '0')}`;

function umaskRung(mask: number): CatalogRung {
  return {
    value: octal(mask),
    lines: [`UMask=${octal(mask)}`],
    residual: umaskResidual(mask),
    // "or stronger" = masks at least these bits; a differently shaped umask is not comparable
    inForce: (eff) => (effUmask(eff) & mask) === mask,
  };
}

/** OR in the bits already masked, so no bit is unmasked. */
const renderUmask = (rung: Rung, eff: EffectiveSettings) => [`UMask=${octal(effUmask(eff) | Number.parseInt(rung.value, 8))}`];

/** A umask that masks a bit the unit's files carry would create them with fewer permissions. */
function admitUmask(rungs: Rung[], f: SafetyFacts): Decision {
  const umaskOf = (rung: Rung) => Number.parseInt(rung.value, 8);
  const kept = rungs.filter((r) => f.createdModes.every((m) => (m.mode & umaskOf(r)) === 0));
  if (kept.length) return { rungs: kept };
  const m = f.createdModes.find((x) => rungs.every((r) => (x.mode & umaskOf(r)) !== 0));
  return { skip: `creates ${m?.path ?? 'files'} with mode ${(m?.mode ?? 0).toString(8).padStart(4, '0')}; a tighter umask would take permissions away from them` };
}

// ---------------------------------------------------------------------------------------------
// RestrictNamespaces: the property is the ALLOWED set of CLONE_NEW* flags (2^64-1 when unset).
// `yes` sets it to 0 and `~a b` clears bits, whatever came before; a plain `a b` line ORs (loosens).

const NAMESPACES = {
  user: { flag: 0x10000000, weight: 1500 },
  mnt: { flag: 0x00020000, weight: 500 },
  ipc: { flag: 0x08000000, weight: 500 },
  pid: { flag: 0x20000000, weight: 500 },
  cgroup: { flag: 0x02000000, weight: 500 },
  net: { flag: 0x40000000, weight: 500 },
  uts: { flag: 0x04000000, weight: 100 },
} as const;
type Namespace = keyof typeof NAMESPACES;
const NS_NAMES = Object.keys(NAMESPACES) as Namespace[];
const NS_WEIGHT = NS_NAMES.reduce((s, n) => s + NAMESPACES[n].weight, 0); // 4100

function allowedNamespaces(eff: EffectiveSettings): Namespace[] {
  const v = eff.RestrictNamespaces;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return NS_NAMES;
  return NS_NAMES.filter((n) => (BigInt(v) & BigInt(NAMESPACES[n].flag)) !== 0n);
}

function nsRung(value: string, line: string, allowed: Namespace[]): CatalogRung {
  return {
    value,
    lines: [`RestrictNamespaces=${line}`],
    residual: allowed.reduce((s, n) => s + NAMESPACES[n].weight, 0) / NS_WEIGHT,
    inForce: (eff) => allowedNamespaces(eff).every((n) => allowed.includes(n)),
  };
}


// ---------------------------------------------------------------------------------------------
// The table

type Def = Omit<OptionSpec, 'properties' | 'exitStatuses' | 'logHints' | 'ladder' | 'cost' | 'confinesSessions'> &
  Partial<Pick<OptionSpec, 'properties' | 'exitStatuses' | 'logHints' | 'ladder' | 'cost' | 'confinesSessions'>>;

function def(d: Def): OptionSpec {
  return { properties: [d.name], exitStatuses: [], logHints: [], ladder: [], cost: 'free', confinesSessions: false, ...d };
}

/** A yes/no option whose only rung is yes. */
function boolean(d: Omit<Def, 'ladder'>): OptionSpec {
  return def({ ...d, ladder: [yes(d.name)] });
}

function explain(name: string, family: OptionSpec['family'], weight: number, explainOnly: string, summary: string, properties = [name]): OptionSpec {
  return def({ name, family, weight, safety: 'verifiable', prior: 0, minSystemd: 0, explainOnly, summary, properties });
}

// Safety is one class per option; `confinesSessions` says separately whether login sessions the
// service spawns (sshd, cron) keep the setting (they keep namespaces, seccomp, capabilities, NNP,
// but leave the unit's cgroup, so IPAddressDeny and DevicePolicy do not follow them).
export const CATALOG: readonly OptionSpec[] = [
  // ---- filesystem
  def({
    name: 'ProtectSystem', family: 'filesystem', weight: 1000, safety: 'reaches-sessions', confinesSessions: true,
    prior: 0.5, minSystemd: 214, exitStatuses: [NAMESPACE], logHints: ['read-only file system', 'erofs'],
    ladder: graded('ProtectSystem', { strict: 0, full: 0.3, yes: 0.5, no: 1 }, ['strict', 'full', 'yes'], { strict: 232 }),
    learnsPaths: { rung: 'strict' }, properties: ['ProtectSystem', 'ReadWritePaths'],
    summary: 'Mounts /usr, /boot, /efi (full: also /etc; strict: everything but /dev, /proc, /sys) read-only; strict needs ReadWritePaths= for state. Login sessions the service spawns get it too.',
  }),
  def({
    name: 'ProtectHome', family: 'filesystem', weight: 1000, safety: 'reaches-sessions', confinesSessions: true,
    prior: 0.85, minSystemd: 214, exitStatuses: [NAMESPACE], logHints: ['/home/', '/root', '/run/user/'],
    ladder: graded('ProtectHome', { yes: 0, tmpfs: 0.1, 'read-only': 0.5, no: 1 }, ['yes', 'tmpfs', 'read-only'], { tmpfs: 238 }),
    summary: 'Hides /home, /root and /run/user (tmpfs: empty read-only; read-only: visible, not writable). Breaks services that serve or write home directories, and logins the service spawns.',
  }),
  def({
    name: 'PrivateTmp', family: 'filesystem', weight: 1000, safety: 'reaches-sessions', confinesSessions: true,
    prior: 0.9, minSystemd: 183, exitStatuses: [NAMESPACE], logHints: ['/tmp/', '/var/tmp/'],
    ladder: PRIVATE_TMP_RUNGS, render: exRender(PRIVATE_TMP), properties: ['PrivateTmp', 'PrivateTmpEx'],
    summary: 'Private /tmp and /var/tmp (disconnected, 257+: on a fresh tmpfs, not host directories). Breaks sockets or files shared through /tmp with other services or users.',
  }),
  def({
    name: 'ProtectProc', family: 'filesystem', weight: 1000, safety: 'latent-risk', confinesSessions: true,
    prior: 0.8, minSystemd: 247, kernel: 'Linux 5.8 (per-mount procfs hidepid=)', exitStatuses: [NAMESPACE], logHints: ['/proc/'],
    ladder: [
      // ptraceable scores like invisible but hides nothing from a root service with CAP_SYS_PTRACE
      { value: 'invisible', lines: ['ProtectProc=invisible'], residual: 0, inForce: (eff) => str(eff, 'ProtectProc') === 'invisible' },
      {
        value: 'noaccess', lines: ['ProtectProc=noaccess'], residual: 1 / 3,
        inForce: (eff) => ['invisible', 'noaccess', 'ptraceable'].includes(str(eff, 'ProtectProc') ?? ''),
      },
    ],
    summary: "Hides other users' processes in /proc. Breaks monitoring agents and code paths that inspect other processes.",
  }),
  def({
    name: 'ProcSubset', family: 'filesystem', weight: 10, safety: 'latent-risk', confinesSessions: true,
    prior: 0.7, minSystemd: 247, kernel: 'Linux 5.8 (procfs subset=pid)', exitStatuses: [NAMESPACE], logHints: ['/proc/'],
    ladder: [{ value: 'pid', lines: ['ProcSubset=pid'], residual: 0, inForce: (eff) => str(eff, 'ProcSubset') === 'pid' }],
    summary: 'Leaves only /proc/PID in /proc: no /proc/meminfo, /proc/cpuinfo, /proc/sys. Small weight; cheap to give up.',
  }),
  boolean({
    name: 'ProtectKernelTunables', family: 'filesystem', weight: 1000, cost: 'seccomp-number', safety: 'reaches-sessions',
    confinesSessions: true, prior: 0.95, minSystemd: 232, exitStatuses: [NAMESPACE, SECCOMP],
    logHints: ['/proc/sys', '/sys/', 'read-only file system'],
    summary: 'Makes /proc/sys, /sys and friends read-only (and blocks _sysctl). Breaks services that tune the kernel at start.',
  }),
  boolean({
    name: 'ProtectKernelModules', family: 'filesystem', weight: 1000, cost: 'seccomp-number', safety: 'reaches-sessions',
    confinesSessions: true, prior: 0.97, minSystemd: 232, exitStatuses: [NAMESPACE, SECCOMP], logHints: ['modprobe', 'init_module', '/lib/modules'],
    summary: 'No module loading (drops CAP_SYS_MODULE, hides /usr/lib/modules). Breaks services that modprobe on demand.',
  }),
  boolean({
    name: 'ProtectKernelLogs', family: 'filesystem', weight: 1000, cost: 'seccomp-number', safety: 'reaches-sessions',
    confinesSessions: true, prior: 0.95, minSystemd: 244, exitStatuses: [NAMESPACE, SECCOMP], logHints: ['/dev/kmsg', '/proc/kmsg', 'klogctl'],
    summary: 'No access to the kernel log ring buffer (drops CAP_SYSLOG). Breaks log collectors that read /dev/kmsg.',
  }),
  def({
    name: 'ProtectControlGroups', family: 'filesystem', weight: 1000, safety: 'verifiable', confinesSessions: true,
    prior: 0.95, minSystemd: 232, exitStatuses: [NAMESPACE], logHints: ['/sys/fs/cgroup', 'cgroup'],
    ladder: PROTECT_CGROUPS_RUNGS, render: renderProtectCgroups, properties: ['ProtectControlGroups', 'ProtectControlGroupsEx'],
    summary: 'Makes /sys/fs/cgroup read-only (strict, 257+: also its own cgroup namespace). Breaks container managers and services that manage their own cgroups.',
  }),
  boolean({
    name: 'ProtectClock', family: 'filesystem', weight: 1000, cost: 'seccomp-number', safety: 'verifiable', confinesSessions: true,
    prior: 0.95, minSystemd: 245, exitStatuses: [SECCOMP], logHints: ['clock_settime', 'settimeofday', 'adjtimex', '/dev/rtc'],
    summary: 'No clock changes (drops CAP_SYS_TIME and CAP_WAKE_ALARM). Adds DeviceAllow=char-rtc, which closes other device access unless DevicePolicy says otherwise.',
  }),
  boolean({
    name: 'PrivateDevices', family: 'filesystem', weight: 1000, cost: 'seccomp-number', safety: 'reaches-sessions',
    confinesSessions: true, prior: 0.85, minSystemd: 209, exitStatuses: [NAMESPACE, SECCOMP], logHints: ['/dev/'],
    summary: 'A minimal /dev (null, zero, random, tty…), DevicePolicy=closed, no CAP_MKNOD/CAP_SYS_RAWIO, @raw-io blocked. Breaks hardware access (GPUs, serial ports, disks).',
  }),
  def({
    name: 'PrivateMounts', family: 'filesystem', weight: 1000, safety: 'verifiable', confinesSessions: true,
    prior: 0.95, minSystemd: 239, exitStatuses: [NAMESPACE], logHints: ['mount'],
    ladder: [
      {
        value: 'yes', lines: ['PrivateMounts=yes'], residual: 0,
        // any of these already gives the unit its own mount namespace (analyze-security credits it too)
        inForce: (eff) =>
          eff.PrivateMounts === true || eff.PrivateDevices === true || eff.PrivateTmp === true ||
          eff.ProtectControlGroups === true || eff.ProtectKernelTunables === true || eff.ProtectKernelModules === true ||
          ['ProtectHome', 'ProtectSystem'].some((k) => (str(eff, k) ?? 'no') !== 'no') || !!str(eff, 'RootImage'),
      },
    ],
    properties: [
      'PrivateMounts', 'PrivateDevices', 'PrivateTmp', 'ProtectControlGroups', 'ProtectKernelTunables',
      'ProtectKernelModules', 'ProtectHome', 'ProtectSystem', 'RootImage',
    ],
    summary: 'Own mount namespace: mounts made by the service stay private. Breaks services that mount file systems for others.',
  }),
  def({
    name: 'ProtectHostname', family: 'filesystem', weight: 50, cost: 'seccomp-number', safety: 'verifiable', confinesSessions: true,
    prior: 0.95, minSystemd: 242, exitStatuses: [NAMESPACE, SECCOMP], logHints: ['sethostname', 'setdomainname', 'hostname'],
    ladder: PROTECT_HOSTNAME_RUNGS, render: exRender(PROTECT_HOSTNAME), properties: ['ProtectHostname', 'ProtectHostnameEx'],
    summary: 'Own UTS namespace; sethostname() fails (private, 258+: allowed inside that namespace). Breaks services that set the host name.',
  }),
  def({
    name: 'UMask', family: 'filesystem', weight: 100, safety: 'latent-risk', prior: 0.6, minSystemd: 183,
    logHints: ['permission denied'], ladder: [umaskRung(0o077), umaskRung(0o027)],
    render: renderUmask, admit: admitUmask, sessionReach: 'inherited',
    summary: 'Files the service creates are private to its user (0027: group may read). Breaks sockets and files that other users or groups must open; shows only when they try.',
  }),

  // ---- capabilities
  def({
    name: 'CapabilityBoundingSet', family: 'capabilities', weight: CAP_SCORE_WEIGHT, safety: 'reaches-sessions', confinesSessions: true,
    prior: 0.3, minSystemd: 183, exitStatuses: [CAPABILITIES_EXIT], logHints: ['operation not permitted', 'capabilit', 'cap_'],
    ladder: CAPS_LADDER,
    // observation's predicted set first (capsObserved.ts), and its chance
    admit: (rungs, f, _d, eff) => admitCaps(rungs, f, eff), priorFrom: capsPrior,
    minimise: {
      items: (eff, accepted) => ((accepted.rung ?? accepted.value) === 'empty' ? [] : capabilityItems(eff)),
      step: (eff, _accepted, removed) => capabilityStep(eff, removed),
      likelyFree: (f) => (f ? likelyFreeCaps(f, LIKELY_FREE_CAPS) : LIKELY_FREE_CAPS),
      needed: (f) => (f?.capsNeeded ?? []).map((n) => n.cap),
    },
    itemsInForce: keptCapsInForce,
    summary: 'Drops capabilities from the bounding set with `~` lines only (a plain line would add). Root daemons that switch user need SETUID/SETGID, often CHOWN, DAC_OVERRIDE, NET_BIND_SERVICE. Spawned sessions cannot regain them (no sudo).',
  }),
  explain(
    'AmbientCapabilities', 'capabilities', 500,
    'set by the vendor because a non-root service needs those capabilities; only a person can say it does not',
    'Capabilities granted to a non-root process. Left as the vendor set it; the bounding set still caps it.',
  ),
  boolean({
    name: 'NoNewPrivileges', family: 'capabilities', weight: 1000, safety: 'verifiable', confinesSessions: true,
    prior: 0.85, minSystemd: 187, exitStatuses: [NO_NEW_PRIVILEGES], logHints: ['effective uid is not 0', 'no_new_privs', 'operation not permitted'],
    summary: 'setuid/setgid binaries and file capabilities stop working for the service and everything it runs (sudo, ping, sendmail/postdrop), including spawned sessions.',
  }),

  // ---- namespaces
  def({
    name: 'PrivateUsers', family: 'namespaces', weight: 1000, safety: 'verifiable', confinesSessions: true,
    prior: 0.3, minSystemd: 232, kernel: 'user namespaces (CONFIG_USER_NS)', exitStatuses: [USER],
    logHints: ['setgroups', 'setresuid', 'setuid', 'initgroups', 'chown'],
    ladder: PRIVATE_USERS_RUNGS, render: exRender(PRIVATE_USERS), properties: ['PrivateUsers', 'PrivateUsersEx'],
    priorFrom: (f, prior) => (observed(f).runsAsRoot ? Math.min(prior, 0.05) : prior),
    summary: 'Own user namespace mapping only root and the service user (identity, 257+: uids below 65536 as they are; full, 258+: all). No capabilities on the host either way. Breaks root daemons that switch to another user (less so with identity) or chown files.',
  }),
  def({
    // The service's main process becomes PID 1 of its namespace. What breaks shows mostly outside a
    // probe: PID files hold namespace PIDs (tools outside signal the wrong process), other
    // processes are invisible, and PID 1 ignores signals it has no handler for. Not scored.
    // Where the kernel lacks PID namespaces systemd ignores it and still reads back "yes"
    // (execute.c@v257.13:257-261); the kernel could tell (/proc/MAINPID/status NSpid), not read yet.
    // Measured on 257.13 (test/integration/release-values.test.ts): once systemd logs "Supervising
    // process N which is not our child", `systemctl stop` SIGKILLs the unit instead of SIGTERM
    // (Result=signal): no graceful shutdown, and no probe sees it.
    name: 'PrivatePIDs', family: 'namespaces', weight: 0, safety: 'latent-risk', confinesSessions: true,
    prior: 0.8, minSystemd: 257, needs: { property: 'PrivatePIDs' }, kernel: 'PID namespaces (CONFIG_PID_NS)',
    exitStatuses: [NAMESPACE], logHints: ['/proc/', 'no such process', 'pid file'],
    // PrivatePIDs (s) "yes"/"no", not a boolean (dbus-execute.c@v257.13:1215)
    ladder: [{ value: 'yes', lines: ['PrivatePIDs=yes'], residual: 0, inForce: (eff) => str(eff, 'PrivatePIDs') === 'yes' }],
    properties: ['PrivatePIDs', 'Type'],
    admit: (rungs, _f, _d, eff) => admitPrivatePids(rungs, eff),
    summary: 'Own PID namespace; the service is PID 1 there and sees only its own processes (257+, not with Type=forking). Breaks PID files read from outside and tools that watch other processes; systemd 257 may stop it by SIGKILL.',
  }),
  boolean({
    name: 'PrivateIPC', family: 'namespaces', weight: 0, safety: 'verifiable', confinesSessions: true,
    prior: 0.9, minSystemd: 248, exitStatuses: [NAMESPACE], logHints: ['shmget', 'semget', 'msgget', 'mq_open'],
    summary: 'Own SysV IPC and POSIX message queue namespace (not scored by systemd-analyze). Breaks IPC shared with other services.',
  }),
  def({
    name: 'RestrictNamespaces', family: 'namespaces', weight: NS_WEIGHT, cost: 'seccomp-args', safety: 'verifiable', confinesSessions: true,
    prior: 0.9, minSystemd: 233, exitStatuses: [SECCOMP], logHints: ['unshare', 'setns', 'clone', 'namespace'],
    ladder: [
      nsRung('yes', 'yes', []),
      nsRung('mnt', '~user cgroup ipc net pid uts', ['mnt']),
      nsRung('~user', '~user', NS_NAMES.filter((n) => n !== 'user')),
    ],
    summary: 'Forbids creating namespaces (clone/unshare/setns). Breaks sandboxing services (browsers, bubblewrap, container runtimes).',
  }),
  def({
    name: 'KeyringMode', family: 'namespaces', weight: 1000, safety: 'verifiable', prior: 0.95, minSystemd: 235,
    exitStatuses: [KEYRING], logHints: ['keyring', 'keyctl'],
    ladder: [{ value: 'private', lines: ['KeyringMode=private'], residual: 0, inForce: (eff) => str(eff, 'KeyringMode') === 'private' }],
    summary: 'Own session keyring, not linked to the user keyring. Already the default for system services.',
  }),
  def({
    name: 'RemoveIPC', family: 'namespaces', weight: 100, safety: 'verifiable', prior: 0.9, minSystemd: 232,
    properties: ['RemoveIPC', 'User', 'DynamicUser'], logHints: ['shared memory', 'semaphore'],
    ladder: [
      {
        value: 'yes', lines: ['RemoveIPC=yes'], residual: 0,
        // it acts on the service user's IPC objects: meaningless (and not scored) for root
        inForce: (eff) => eff.RemoveIPC === true || runsAsRoot(eff),
      },
    ],
    summary: "Removes the service user's SysV/POSIX IPC objects when it stops. Not applicable to root services.",
  }),
  explain(
    'NotifyAccess', 'namespaces', 1000,
    'only "all" scores badly, and a vendor sets it because a child process sends sd_notify; narrowing it needs knowing which process does',
    'Which processes may send sd_notify status (main, exec, all).',
  ),

  // ---- seccomp
  def({
    name: 'SystemCallArchitectures', family: 'seccomp', weight: 1000, cost: 'seccomp-number', safety: 'verifiable', confinesSessions: true,
    prior: 0.95, minSystemd: 209, kernel: 'seccomp', exitStatuses: [SECCOMP], logHints: ['bad system call', 'sigsys'], failsWith: { signal: 'SIGSYS' },
    ladder: [
      {
        value: 'native', lines: ['SystemCallArchitectures=native'], residual: 0,
        inForce: (eff) => Array.isArray(eff.SystemCallArchitectures) && (eff.SystemCallArchitectures as string[]).includes('native'),
      },
    ],
    // a vendor's list already restricts ABIs; `native` would be appended to it, not replace it
    render: (rung, eff) => (Array.isArray(eff.SystemCallArchitectures) && eff.SystemCallArchitectures.length ? null : [...rung.lines]),
    summary: 'Only native-ABI system calls (no 32-bit x86 on amd64). Breaks 32-bit helper binaries.',
  }),
  def({
    name: 'SystemCallFilter', family: 'seccomp', weight: SCF_WEIGHT, cost: 'seccomp-number', safety: 'latent-risk', confinesSessions: true,
    prior: 0.6, minSystemd: 187, kernel: 'seccomp', exitStatuses: [SECCOMP], logHints: ['bad system call', 'sigsys', 'seccomp'],
    // judged by the static groups until the running systemd's are known (withSyscallGroups)
    ...syscallFilterFor(undefined), withSyscallGroups: syscallFilterFor, failsWith: { signal: 'SIGSYS' },
    priorFrom: (f, prior) => (observed(f).switchesUser || observed(f).node ? Math.min(prior, 0.1) : prior),
    summary: 'Seccomp system call filter; a filtered call kills the process with SIGSYS, often only on a rare code path. Spawned sessions keep it.',
  }),
  def({
    name: 'RestrictAddressFamilies', family: 'seccomp', weight: AF_WEIGHT, cost: 'seccomp-args', safety: 'restricts-reach', confinesSessions: true,
    prior: 0.1, minSystemd: 211, kernel: 'seccomp', exitStatuses: [ADDRESS_FAMILIES], logHints: ['address family not supported', 'eafnosupport'],
    ladder: AF_LADDER, render: renderAddressFamilies, admit: admitAddressFamilies,
    summary: 'Which socket families socket() may create (existing and passed sockets keep working). Type=notify and journald logging need AF_UNIX.',
  }),
  boolean({
    name: 'MemoryDenyWriteExecute', family: 'seccomp', weight: 100, cost: 'seccomp-args', safety: 'latent-risk', confinesSessions: true,
    prior: 0.75, minSystemd: 231, kernel: 'seccomp', exitStatuses: [SECCOMP], logHints: ['jit', 'mprotect', 'mmap', 'pcre'],
    priorFrom: (f, prior) => (observed(f).jit ? 0.02 : prior),
    // systemd 254+ asks the kernel (PR_SET_MDWE, 6.3+) and needs no seccomp filter then
    // (exec-invoke.c apply_memory_deny_write_execute; on EINVAL it falls back to seccomp)
    costWhere: { needs: { systemd: 254, kernel: [6, 3] }, cost: 'free' },
    summary: 'No writable+executable memory. Breaks JITs (Node/V8, Java, PHP JIT, LuaJIT, PCRE2 JIT), sometimes only when the JIT kicks in.',
  }),
  boolean({
    // its argument check is on sched_setscheduler()/sched_setattr() only: off the hot path
    name: 'RestrictRealtime', family: 'seccomp', weight: 500, cost: 'seccomp-number', safety: 'verifiable', confinesSessions: true,
    prior: 0.95, minSystemd: 231, kernel: 'seccomp', exitStatuses: [SECCOMP], logHints: ['sched_setscheduler', 'realtime', 'sched_fifo', 'sched_rr'],
    summary: 'No realtime scheduling. Breaks audio and latency-sensitive daemons that ask for SCHED_FIFO/RR.',
  }),
  boolean({
    // checks the mode argument of openat()/open()/creat()/chmod()/mkdir()/mknod(): on the hot path
    name: 'RestrictSUIDSGID', family: 'seccomp', weight: 1000, cost: 'seccomp-args', safety: 'reaches-sessions', confinesSessions: true,
    prior: 0.95, minSystemd: 242, kernel: 'seccomp', exitStatuses: [SECCOMP],
    logHints: ['setuid', 'setgid', 'chmod', 'openat2', 'operation not permitted'],
    summary: 'Cannot create setuid/setgid files (and openat2() is blocked). Breaks package managers and sessions that install such files.',
  }),
  boolean({
    name: 'LockPersonality', family: 'seccomp', weight: 100, cost: 'seccomp-number', safety: 'verifiable', confinesSessions: true,
    prior: 0.97, minSystemd: 235, kernel: 'seccomp', exitStatuses: [SECCOMP], logHints: ['personality'],
    summary: 'personality() cannot change the execution domain. Breaks only emulators and legacy tools.',
  }),

  // ---- network
  def({
    // The safety policy owns this option: it builds the real lines from --allow-net/--local-only.
    // This rung is the local-only default.
    name: 'IPAddressDeny', family: 'network', weight: 1000, safety: 'restricts-reach', prior: 0.3, minSystemd: 235,
    kernel: 'cgroup v2 with BPF (CONFIG_CGROUP_BPF)', properties: ['IPAddressDeny', 'IPAddressAllow'],
    logHints: ['operation not permitted', 'connection timed out'],
    ladder: IP_LADDER, render: renderIpAddressDeny, admit: admitIpAddressDeny, itemsInForce: allowedNetsInForce, sessionReach: 'cgroup',
    summary: 'Packet filter on the unit cgroup, both directions: only localhost may talk to or be reached by the service. Loopback probes cannot vouch for remote clients.',
  }),
  boolean({
    name: 'PrivateNetwork', family: 'network', weight: 2500, safety: 'restricts-reach', confinesSessions: true,
    prior: 0.1, minSystemd: 183, exitStatuses: [NETWORK],
    logHints: ['network is unreachable', 'cannot assign requested address', 'temporary failure in name resolution'],
    admit: admitPrivateNetwork,
    summary: 'Own network namespace with only loopback. Breaks anything networked except passed sockets; loopback probes cannot see it.',
  }),

  // ---- misc: explained, never tried
  explain(
    'User', 'misc', 2000,
    'a new User= or DynamicUser= needs a person: file ownership, state directories and permissions follow the user',
    'Runs the service as an unprivileged user.',
    ['User', 'DynamicUser'],
  ),
  explain(
    'RootDirectory', 'misc', 200,
    'needs a root directory or image that a person prepares',
    'Runs the service in its own root directory or image (RootDirectory=/RootImage=).',
    ['RootDirectory', 'RootImage'],
  ),
  explain('MountImages', 'misc', 0, 'needs disk images that a person provides', 'Mounts disk images into the service namespace.'),
  explain(
    'SupplementaryGroups', 'misc', 200,
    'groups are part of how the vendor grants access; removing one needs a person (not applicable to root)',
    'Extra groups the service runs with.',
  ),
  explain(
    'DevicePolicy', 'misc', 1000,
    'PrivateDevices=yes already implies DevicePolicy=closed; an explicit device list needs knowing which devices the service uses',
    'Device access through the cgroup device controller (DevicePolicy=/DeviceAllow=).',
    ['DevicePolicy', 'DeviceAllow'],
  ),
  explain(
    'Delegate', 'misc', 100,
    'set by the vendor because the service manages its own cgroup subtree (container managers)',
    'Lets the service manage its own cgroup subtree.',
  ),
  // tried only where a check unit showed that this systemd enforces them (core/bpfOptions.ts)
  ...BPF_OPTIONS,
  // filesystem, built from observation: what the audit battery still finds open (core/closeFindings.ts)
  ...CLOSE_FINDINGS,
];

// ---------------------------------------------------------------------------------------------
// Helpers

const BY_NAME = new Map(CATALOG.map((o) => [o.name, o]));

export function optionByName(name: string): OptionSpec | undefined {
  return BY_NAME.get(name);
}

const specNeeds = (spec: OptionSpec): Needs => ({ systemd: spec.minSystemd, ...spec.needs });
const rungNeeds = (r: CatalogRung): Needs => ({ systemd: r.minSystemd ?? 0, ...r.needs });

/** Why this option cannot be tried here, from the platform's facts; undefined when some rung can. */
export function unusableReason(spec: OptionSpec, p: Platform): string | undefined {
  const own = unmetNeed(specNeeds(spec), p);
  if (own) return own;
  const rungs = spec.ladder.map((r) => unmetNeed(rungNeeds(r), p));
  return rungs.length && rungs.every((r) => r !== undefined) ? rungs.at(-1) : undefined;
}

/** The option's cost class on this platform (MemoryDenyWriteExecute costs no filter with MDWE). */
export function costOn(spec: OptionSpec, p: Platform): OptionSpec['cost'] {
  return spec.costWhere && meets(spec.costWhere.needs, p) ? spec.costWhere.cost : spec.cost;
}

/** Options that can be tried on this platform: explain-only ones and those whose needs it does
 * not meet are left out, and so are rungs it cannot offer (ProtectSystem=strict needs 232); the
 * cost class follows the platform. */
export function usableOptions(catalog: readonly OptionSpec[], p: Platform): OptionSpec[] {
  const out: OptionSpec[] = [];
  for (const spec of catalog) {
    if (spec.explainOnly || !meets(specNeeds(spec), p)) continue;
    const ladder = spec.ladder.filter((r) => meets(rungNeeds(r), p));
    if (ladder.length === 0) continue;
    const cost = costOn(spec, p);
    out.push(ladder.length === spec.ladder.length && cost === spec.cost ? spec : { ...spec, ladder, cost });
  }
  return out;
}

/** Rungs strictly stronger than the strongest one already in force (empty when the vendor already
 * set the strongest value). */
export function strongerRungs(spec: OptionSpec, eff: EffectiveSettings): Rung[] {
  const i = spec.ladder.findIndex((r) => r.inForce(eff));
  return i < 0 ? [...spec.ladder] : spec.ladder.slice(0, i);
}

/** The drop-in lines that take the unit from `eff` to this rung by tightening only, or null when
 * that cannot be written (or the rung is already in force). List settings merge across drop-ins:
 * an allow line after an allow list adds entries, after a deny list it removes them (reference §3). */
export function renderRung(spec: OptionSpec, rung: Rung, eff: EffectiveSettings): string[] | null {
  if (rung.inForce(eff)) return null;
  // default: scalars (last one wins), `~` capability and namespace lines: stronger means tighter
  return spec.render ? spec.render(rung, eff) : [...rung.lines];
}
