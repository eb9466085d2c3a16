// The attack battery of `autoharden audit` (issue 15): what each technique is, which settings block
// it, and the battery's output read defensively. Pure. The battery itself is
// audit/autoharden-battery.c, run inside a transient unit carrying the audited unit's sandbox.
//
// Trust: the battery's output crosses the sandbox it probes; a process in there (the battery
// taken over through a shared uid and ptrace, say) can print anything. So the text is bounded,
// every line must be exactly the contract's shape, an unknown id is reported and ignored, an id
// reported twice counts as an error (never as blocked), a technique not reported is an error, and
// a run without its done line is incomplete. An error is never counted as blocked.
//
// Output contract (one JSON object a line, in TECHNIQUES order, then the done line):
//   {"id":"write-etc","outcome":"blocked"|"possible"|"skipped"|"error","detail":"EROFS"}
//   {"done":true,"count":N}
import { AutohardenError } from './errors.js';
import { flattened, shown } from './text.js';

export type AuditOutcome = 'blocked' | 'possible' | 'skipped' | 'error';
const OUTCOMES: readonly AuditOutcome[] = ['blocked', 'possible', 'skipped', 'error'];

export interface Technique {
  /** Stable kebab-case id, the battery's `id`. */
  id: string;
  /** What an attacker in the service does, for a person. */
  title: string;
  /** How the battery proves it without changing anything. */
  proof: string;
  /** What blocks it: `Directive=value` for unit settings (see blockingDirectives), plain words for
   * the rest (host sysctls, file modes). Any one suffices unless the entry says otherwise. */
  blockedBy: readonly string[];
}

const NON_ROOT = 'User= (not root) or DynamicUser=yes';
// NoExecPaths=/ does not reach the mounts systemd itself makes for the unit (systemd 257, seen in a
// box): PrivateTmp='s /tmp and /var/tmp, PrivateDevices='s /dev/shm and the StateDirectory= bind
// stay executable unless NoExecPaths= names them too.
const noExec = (dir: string, own: string): string[] => [
  `NoExecPaths=${dir}`,
  `NoExecPaths=/ with ExecPaths= not covering ${dir}, only while ${dir} is no mount of the unit's own (${own})`,
  `ReadOnlyPaths=${dir} or InaccessiblePaths=${dir} (nothing can be written there)`,
];

export const TECHNIQUES: readonly Technique[] = [
  {
    id: 'write-etc',
    title: 'write a file under /etc (accounts, cron jobs, configuration of other services)',
    proof: 'open(/etc, O_TMPFILE): an unnamed file, freed at close',
    blockedBy: ['ProtectSystem=full', 'ProtectSystem=strict', 'ReadOnlyPaths=/etc', 'InaccessiblePaths=/etc', NON_ROOT],
  },
  {
    id: 'write-usr',
    title: 'write a file under /usr (replace programs and libraries)',
    proof: 'open(/usr, O_TMPFILE): an unnamed file, freed at close',
    blockedBy: ['ProtectSystem=yes', 'ProtectSystem=full', 'ProtectSystem=strict', 'ReadOnlyPaths=/usr', NON_ROOT],
  },
  {
    id: 'write-boot',
    title: 'write a file under /boot (a kernel or boot loader that runs at the next boot)',
    proof: 'open(/boot, O_TMPFILE): an unnamed file, freed at close (blocked when /boot is absent)',
    blockedBy: ['ProtectSystem=yes', 'ProtectSystem=full', 'ProtectSystem=strict', 'ReadOnlyPaths=/boot', 'InaccessiblePaths=/boot', NON_ROOT],
  },
  {
    id: 'read-root',
    title: "list root's home directory /root (keys, shell history)",
    proof: 'opendir(/root) and one entry read; an empty directory counts as blocked',
    blockedBy: ['ProtectHome=yes', 'ProtectHome=tmpfs', 'InaccessiblePaths=/root', 'TemporaryFileSystem=/root', NON_ROOT],
  },
  {
    id: 'read-home',
    title: "list the users' home directories under /home",
    proof: 'opendir(/home) and one entry read; an empty directory counts as blocked',
    blockedBy: ['ProtectHome=yes', 'ProtectHome=tmpfs', 'InaccessiblePaths=/home', 'TemporaryFileSystem=/home'],
  },
  {
    id: 'read-shadow',
    title: 'read the password hashes in /etc/shadow',
    proof: 'open(/etc/shadow) and read 1 byte; an empty file (InaccessiblePaths= as root) counts as blocked',
    blockedBy: [
      'InaccessiblePaths=/etc/shadow',
      `${NON_ROOT}, not in group shadow`,
      // uid 0 owns /etc/shadow: Debian's 0640 root:shadow stays readable without any capability
      'CapabilityBoundingSet= without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, only where /etc/shadow is mode 0000 (Fedora)',
    ],
  },
  {
    id: 'exec-tmp',
    title: 'run a program it wrote to /tmp',
    proof: 'a copy of the battery written to /tmp under a random name, run (it exits at once) and removed',
    blockedBy: [...noExec('/tmp', 'PrivateTmp=yes'), 'ProtectSystem=strict without PrivateTmp=yes (cannot write)'],
  },
  {
    id: 'exec-var-tmp',
    title: 'run a program it wrote to /var/tmp',
    proof: 'a copy of the battery written to /var/tmp under a random name, run (it exits at once) and removed',
    blockedBy: [...noExec('/var/tmp', 'PrivateTmp=yes'), 'ProtectSystem=strict without PrivateTmp=yes (cannot write)'],
  },
  {
    id: 'exec-dev-shm',
    title: 'run a program it wrote to /dev/shm',
    proof: 'a copy of the battery written to /dev/shm under a random name, run (it exits at once) and removed',
    blockedBy: noExec('/dev/shm', 'PrivateDevices=yes'),
  },
  {
    id: 'exec-state',
    title: 'run a program it wrote to its own state directories',
    proof: 'a copy of the battery written to each --state directory, run (it exits at once) and removed; skipped without one',
    blockedBy: ['NoExecPaths= naming them (NoExecPaths=/ does not reach the StateDirectory= binds systemd makes)'],
  },
  {
    id: 'exec-memfd',
    title: 'run a program from memory, without writing any file (memfd)',
    proof: 'memfd_create, a copy of the battery written into it, execveat(AT_EMPTY_PATH) (it exits at once)',
    blockedBy: ['SystemCallFilter=~memfd_create (@system-service allows it)', 'vm.memfd_noexec=2 (host sysctl)'],
  },
  {
    id: 'bind-port',
    title: 'listen on a new port (a backdoor)',
    proof: 'socket(AF_INET) bound to 127.0.0.1:0 and closed',
    blockedBy: ['SocketBindDeny=any (with SocketBindAllow= for its own ports)', 'RestrictAddressFamilies= without AF_INET'],
  },
  {
    id: 'connect-out',
    title: 'connect to a host outside the machine (exfiltrate, fetch tools)',
    proof: 'TCP connect to the --peer address only (skipped without one); a refusal from the peer is possible; without an answer, one empty UDP datagram to the peer tells an egress filter (EPERM) from a silent peer',
    blockedBy: ['IPAddressDeny=any (with IPAddressAllow= for what it needs)', 'PrivateNetwork=yes', 'RestrictAddressFamilies= without AF_INET and AF_INET6'],
  },
  {
    id: 'raw-socket',
    title: 'open a raw socket (forge packets, sniff ICMP)',
    proof: 'socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) opened and closed',
    blockedBy: ['CapabilityBoundingSet= without CAP_NET_RAW', 'RestrictAddressFamilies= without AF_INET', 'PrivateUsers=yes', NON_ROOT],
  },
  {
    id: 'netlink-socket',
    title: 'open a netlink socket (read or, with CAP_NET_ADMIN, change routes and interfaces)',
    proof: 'socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) opened and closed',
    blockedBy: ['RestrictAddressFamilies= without AF_NETLINK'],
  },
  {
    id: 'load-module',
    title: 'load a kernel module (run code in the kernel)',
    proof: 'init_module with an empty image: EPERM is blocked; ENOEXEC (permitted, the image refused) is possible; nothing is loaded',
    blockedBy: ['ProtectKernelModules=yes', 'CapabilityBoundingSet= without CAP_SYS_MODULE', 'SystemCallFilter=~@module', 'PrivateUsers=yes', NON_ROOT],
  },
  {
    id: 'ptrace-child',
    title: 'trace processes (read and change the memory of processes of its uid)',
    proof: 'PTRACE_SEIZE of its own paused child, which is then killed',
    blockedBy: ['SystemCallFilter=~@debug (@system-service excludes it)', 'kernel.yama.ptrace_scope=3 (host sysctl)'],
  },
  {
    id: 'mount',
    title: 'mount a filesystem (hide or replace files in its namespace)',
    proof: 'fsopen("tmpfs") and close: a filesystem context, nothing mounted',
    blockedBy: ['CapabilityBoundingSet= without CAP_SYS_ADMIN', 'SystemCallFilter=~@mount', NON_ROOT],
  },
  {
    id: 'set-clock',
    title: "change the system clock (break TLS, logs' and tokens' times)",
    proof: 'adjtimex(ADJ_TICK) with tick 1: EINVAL comes only after CAP_SYS_TIME passed; nothing is set',
    blockedBy: ['ProtectClock=yes', 'CapabilityBoundingSet= without CAP_SYS_TIME', 'SystemCallFilter=~@clock', 'PrivateUsers=yes', NON_ROOT],
  },
  {
    id: 'set-hostname',
    title: 'change the hostname',
    proof: 'sethostname with a negative length: EINVAL comes only after CAP_SYS_ADMIN passed; nothing is set',
    blockedBy: ['ProtectHostname=yes', 'CapabilityBoundingSet= without CAP_SYS_ADMIN', 'SystemCallFilter=~sethostname (@system-service excludes it)', 'PrivateUsers=yes', NON_ROOT],
  },
  {
    id: 'write-sysctl',
    title: 'change kernel tunables under /proc/sys',
    proof: 'open(/proc/sys/kernel/domainname, O_WRONLY) and close without writing',
    blockedBy: ['ProtectKernelTunables=yes', 'ReadOnlyPaths=/proc/sys', NON_ROOT],
  },
  {
    id: 'user-namespace',
    title: 'create a user namespace (the entry to many kernel exploits)',
    proof: 'unshare(CLONE_NEWUSER) in a child that exits at once',
    blockedBy: ['RestrictNamespaces=yes', 'RestrictNamespaces=~user', 'user.max_user_namespaces=0 (host sysctl)'],
  },
  {
    id: 'setuid-binary',
    title: 'become root through a setuid-root program (su, passwd)',
    proof: 'not executed: no_new_privs off and a setuid-root program executable on a mount without nosuid; skipped for uid 0',
    blockedBy: [
      // systemd.exec(5) says SystemCallFilter= and others imply it; for a system service they do
      // not (systemd 257, seen in a box: NoNewPrivs 0 under User= with SystemCallFilter=)
      'NoNewPrivileges=yes (a system service gets it from no other setting)',
      'InaccessiblePaths= for the setuid programs',
    ],
  },
  {
    id: 'wx-memory',
    title: 'map memory writable and executable (inject and run code)',
    proof: 'mmap(PROT_READ|PROT_WRITE|PROT_EXEC) of one anonymous page, unmapped',
    blockedBy: ['MemoryDenyWriteExecute=yes'],
  },
  {
    id: 'see-processes',
    title: "see other users' processes (their command lines, environments where readable)",
    proof: '/proc/PID entries owned by another uid counted',
    blockedBy: ['ProtectProc=invisible (root keeps seeing all with CAP_SYS_PTRACE)', 'PrivatePIDs=yes'],
  },
  {
    id: 'read-kernel-log',
    title: 'read the kernel log (addresses, other services\u2019 messages)',
    proof: 'open(/dev/kmsg, O_RDONLY) and close, nothing read',
    blockedBy: ['ProtectKernelLogs=yes', 'PrivateDevices=yes', `${NON_ROOT}, with kernel.dmesg_restrict=1`],
  },
  {
    id: 'read-disk',
    title: "open a disk's block device (read every file on it, bypassing permissions)",
    proof: 'the first block device in /dev opened read-only (O_NONBLOCK) and closed, nothing read',
    blockedBy: ['PrivateDevices=yes', 'DevicePolicy=closed', 'DeviceAllow= without the disk', NON_ROOT],
  },
];

const BY_ID: ReadonlyMap<string, Technique> = new Map(TECHNIQUES.map((t) => [t.id, t]));
export const TECHNIQUE_IDS: readonly string[] = TECHNIQUES.map((t) => t.id);
export const techniqueById = (id: string): Technique | undefined => BY_ID.get(id);

/** The unit directives among a technique's blockers (`ProtectSystem`, `User`, …), for telling where
 * the score and the battery disagree. Host sysctls and notes are left out. */
export function blockingDirectives(t: Technique): string[] {
  const out = new Set<string>();
  for (const b of t.blockedBy) for (const m of b.matchAll(/\b([A-Z][A-Za-z]+)=/g)) out.add(m[1]!);
  return [...out];
}

/** The battery's own time bounds (audit/autoharden-battery.c): a technique 2 s, the run 20 s. A
 * transient unit should allow the run this plus its start. */
export const BATTERY_TECHNIQUE_MS = 2_000;
export const BATTERY_TOTAL_MS = 20_000;

// ---- arguments -----------------------------------------------------------------------------------

const PLAIN_PATH = /^(\/[A-Za-z0-9._@+-]+)+$/;
const MAX_STATE_DIRS = 8;

/** The battery's arguments, checked as the battery checks them (it refuses the run otherwise):
 * state directories absolute, plain, without `.`/`..` components, at most 8 and 200 bytes each;
 * the peer a numeric `IPV4:PORT` or `[IPV6]:PORT`. */
export function batteryArgs(o: { stateDirs?: readonly string[]; peer?: string } = {}): string[] {
  const args: string[] = [];
  const dirs = o.stateDirs ?? [];
  if (dirs.length > MAX_STATE_DIRS) throw new AutohardenError('Usage', `at most ${MAX_STATE_DIRS} state directories, not ${dirs.length}`);
  for (const d of dirs) {
    if (typeof d !== 'string' || d.length > 200 || !PLAIN_PATH.test(d) || d.split('/').some((c) => c === '.' || c === '..')) {
      throw new AutohardenError('Usage', `state directory ${shown(String(d))} is not an absolute plain path`);
    }
    args.push('--state', d);
  }
  if (o.peer !== undefined) {
    if (!validPeer(o.peer)) throw new AutohardenError('Usage', `--peer ${shown(String(o.peer))}: expected IPV4:PORT or [IPV6]:PORT`);
    args.push('--peer', o.peer);
  }
  return args;
}

function validPeer(p: unknown): boolean {
  if (typeof p !== 'string' || p.length > 60) return false;
  const m = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9A-Fa-f:.]{2,45})\]):(\d{1,5})$/.exec(p);
  if (!m) return false;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return false;
  if (m[1]) return m[1].split('.').every((o) => Number(o) <= 255 && !(o.length > 1 && o.startsWith('0')));
  return m[2]!.includes(':');
}

// ---- output --------------------------------------------------------------------------------------

export interface TechniqueResult {
  id: string;
  outcome: AuditOutcome;
  /** The battery's short reason (an errno name, a signal), flattened to one printable line. */
  detail: string;
}

export interface BatteryRun {
  /** One per known technique, in TECHNIQUES order: what the battery said, or an error for a
   * technique it did not report, reported twice, or reported after its done line. */
  results: TechniqueResult[];
  /** The done line came, its count matched, nothing was missing, duplicated or malformed. */
  complete: boolean;
  /** Techniques the battery did not report. */
  missing: string[];
  /** What was wrong with the output, for a person (bounded, one line each). */
  problems: string[];
}

/** 27 lines of about 120 bytes; anything near these bounds is not the battery's. */
export const MAX_BATTERY_OUTPUT = 64 * 1024;
const MAX_LINE = 1024;
const MAX_DETAIL = 200;
const MAX_PROBLEMS = 20;

/** Reads what the battery printed on stdout. Never throws on the text's content. */
export function parseBatteryOutput(text: unknown): BatteryRun {
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
    else if (problems.length === MAX_PROBLEMS) problems.push('… more problems left out');
  };
  let body = typeof text === 'string' ? text : '';
  if (typeof text !== 'string') problem('no output text');
  if (body.length > MAX_BATTERY_OUTPUT) {
    problem(`output longer than ${MAX_BATTERY_OUTPUT} characters: the rest ignored`);
    body = body.slice(0, MAX_BATTERY_OUTPUT);
  }
  const lines = body.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const got = new Map<string, TechniqueResult>();
  let reported = 0;
  let done: number | undefined;
  lines.forEach((line, i) => {
    const at = `line ${i + 1}`;
    if (done !== undefined) return problem(`${at}: output after the done line, ignored`);
    if (line.length > MAX_LINE) return problem(`${at}: longer than ${MAX_LINE} characters`);
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return problem(`${at}: not JSON: ${shown(line)}`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return problem(`${at}: not a JSON object`);
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort().join(',');
    if (keys === 'count,done') {
      if (o.done !== true || !Number.isSafeInteger(o.count) || (o.count as number) < 0) return problem(`${at}: malformed done line`);
      done = o.count as number;
      return;
    }
    if (keys !== 'detail,id,outcome') return problem(`${at}: not a technique line (keys ${shown(keys)})`);
    const { id, outcome, detail } = o;
    if (typeof id !== 'string' || typeof detail !== 'string' || !OUTCOMES.includes(outcome as AuditOutcome)) {
      return problem(`${at}: malformed technique line`);
    }
    reported++;
    if (!BY_ID.has(id)) return problem(`${at}: unknown technique ${shown(id)}, ignored`);
    if (got.has(id)) {
      problem(`${at}: ${id} reported more than once: counted as an error`);
      got.set(id, { id, outcome: 'error', detail: 'reported more than once' });
      return;
    }
    got.set(id, { id, outcome: outcome as AuditOutcome, detail: cleanDetail(detail) });
  });
  if (done === undefined) problem('no done line: the battery did not finish (killed, or its time ran out)');
  else if (done !== reported) problem(`the done line counts ${done} techniques, ${reported} were reported`);
  const missing = TECHNIQUE_IDS.filter((id) => !got.has(id));
  if (missing.length) problem(`not reported: ${missing.join(', ')}`);
  const results = TECHNIQUES.map((t) => got.get(t.id) ?? { id: t.id, outcome: 'error' as const, detail: 'not reported' });
  return { results, complete: problems.length === 0, missing, problems };
}

function cleanDetail(d: string): string {
  const flat = flattened(d).replace(/[\u2028\u2029]/g, ' ').trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL - 1)}…` : flat;
}

// ---- summaries -----------------------------------------------------------------------------------

export interface AuditSummary {
  blocked: number;
  possible: number;
  skipped: number;
  error: number;
  /** Techniques counted. */
  total: number;
  /** total − skipped: the denominator of "blocked 4/18". Errors stay in it (never counted blocked). */
  applicable: number;
  byId: Readonly<Record<string, TechniqueResult>>;
}

/** Counts per outcome. An id listed twice counts once, as an error. */
export function summarise(results: readonly TechniqueResult[]): AuditSummary {
  const by = new Map<string, TechniqueResult>();
  for (const r of results) {
    by.set(r.id, by.has(r.id) ? { id: r.id, outcome: 'error', detail: 'reported more than once' } : r);
  }
  const count = (o: AuditOutcome) => [...by.values()].filter((r) => r.outcome === o).length;
  const s = { blocked: count('blocked'), possible: count('possible'), skipped: count('skipped'), error: count('error') };
  return { ...s, total: by.size, applicable: by.size - s.skipped, byId: Object.fromEntries(by) };
}

/** "blocked 4/18" */
export const blockedText = (s: AuditSummary): string => `blocked ${s.blocked}/${s.applicable}`;

export interface AuditMove {
  id: string;
  /** 'absent' when that run has no result for it. */
  before: AuditOutcome | 'absent';
  after: AuditOutcome | 'absent';
}

export interface AuditComparison {
  /** Every technique whose outcome differs, known techniques in battery order, then others by id. */
  moved: AuditMove[];
  /** Not blocked before, blocked after. */
  closed: string[];
  /** Blocked before, possible after: the sandbox lost ground. */
  opened: string[];
  /** "blocked 4/18 → 15/18" */
  line: string;
}

export function compareAudits(before: AuditSummary, after: AuditSummary): AuditComparison {
  const ids = new Set([...Object.keys(before.byId), ...Object.keys(after.byId)]);
  const order = [...TECHNIQUE_IDS.filter((id) => ids.has(id)), ...[...ids].filter((id) => !BY_ID.has(id)).sort()];
  const outcome = (s: AuditSummary, id: string): AuditMove['before'] => (Object.hasOwn(s.byId, id) ? s.byId[id]!.outcome : 'absent');
  const moved = order.map((id): AuditMove => ({ id, before: outcome(before, id), after: outcome(after, id) })).filter((m) => m.before !== m.after);
  return {
    moved,
    closed: moved.filter((m) => m.after === 'blocked').map((m) => m.id),
    opened: moved.filter((m) => m.before === 'blocked' && m.after === 'possible').map((m) => m.id),
    line: `blocked ${before.blocked}/${before.applicable} → ${after.blocked}/${after.applicable}`,
  };
}
