// The option catalog against facts measured on systemd 252 (Debian 12): property values are what
// the D-Bus adapter hands out after the rung's lines were applied to nginx in a booted box.
import { describe, expect, it } from 'vitest';
import {
  ALL_CAPS_MASK,
  CAPABILITIES,
  CAP_SCORE_WEIGHT,
  capBit,
  capExposure,
  capsFromMask,
  maskFromCaps,
} from '../../src/core/capabilities.js';
import {
  CATALOG,
  SYSCALL_GROUPS,
  optionByName,
  renderRung,
  strongerRungs,
  usableOptions,
  type CatalogRung,
} from '../../src/core/catalog.js';
import { versionOnly } from '../../src/core/platform.js';
import type { EffectiveSettings, EffectiveValue, OptionSpec, Rung } from '../../src/core/types.js';
import { DEBIAN12_PLATFORM, DEBIAN13_PLATFORM } from '../fakes/platforms.js';

const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** nginx-light's unit on systemd 252, nothing added: what the adapter returns. */
const DEFAULTS: EffectiveSettings = {
  ProtectSystem: 'no', ProtectHome: 'no', PrivateTmp: false, ProtectProc: 'default', ProcSubset: 'all',
  ProtectKernelTunables: false, ProtectKernelModules: false, ProtectKernelLogs: false, ProtectControlGroups: false,
  ProtectClock: false, PrivateDevices: false, PrivateMounts: false, RootImage: '', ProtectHostname: false,
  UMask: 0o022, CapabilityBoundingSet: ALL_CAPS_MASK, AmbientCapabilities: 0, NoNewPrivileges: false,
  PrivateUsers: false, PrivateIPC: false, RestrictNamespaces: 0x7e020080, KeyringMode: 'private', RemoveIPC: false,
  User: '', DynamicUser: false, NotifyAccess: 'none', SystemCallArchitectures: [],
  SystemCallFilter: { allow: false, items: [] }, RestrictAddressFamilies: { allow: false, items: [] },
  MemoryDenyWriteExecute: false, RestrictRealtime: false, RestrictSUIDSGID: false, LockPersonality: false,
  IPAddressDeny: [], IPAddressAllow: [], PrivateNetwork: false, RootDirectory: '', DevicePolicy: 'auto',
  Delegate: false,
};
/** In force on systemd's defaults already: KeyringMode=private is the default for services, and
 * RemoveIPC does not apply to a root service. */
const DEFAULT_IN_FORCE = new Set(['KeyringMode=private', 'RemoveIPC=yes']);

/** `SystemCallFilter=@system-service` as systemd 252 reports it (groups expanded). */
const SYSTEM_SERVICE = words(`
  _llseek _newselect accept accept4 access add_key alarm arch_prctl arm_fadvise64_64 bind brk
  cacheflush capget capset chdir chmod chown chown32 clock_getres clock_getres_time64 clock_gettime
  clock_gettime64 clock_nanosleep clock_nanosleep_time64 clone clone3 close close_range connect
  copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait
  epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat
  faccessat2 fadvise64 fadvise64_64 fallocate fchdir fchmod fchmodat fchmodat2 fchown fchown32
  fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
  fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv
  futimesat get_mempolicy get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid
  getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid
  getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
  getrusage getsid getsockname getsockopt gettid gettimeofday getuid getuid32 getxattr
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel io_destroy io_getevents
  io_pgetevents io_pgetevents_time64 io_setup io_submit io_uring_enter io_uring_register
  io_uring_setup ioctl ioprio_get ioprio_set ipc kcmp keyctl kill lchown lchown32 lgetxattr link
  linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat lstat64 madvise mbind
  membarrier memfd_create migrate_pages mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2
  move_pages mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
  mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
  munlockall munmap name_to_handle_at nanosleep newfstatat nice oldfstat oldlstat oldolduname oldstat
  olduname open openat openat2 pause personality pidfd_open pidfd_send_signal pipe pipe2 poll ppoll
  ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_madvise process_vm_readv
  process_vm_writev pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readdir
  readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
  removexattr rename renameat renameat2 request_key restart_syscall riscv_flush_icache rmdir rseq
  rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
  rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max
  sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler
  sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
  sched_setscheduler sched_yield select semctl semget semop semtimedop semtimedop_time64 send
  sendfile sendfile64 sendmmsg sendmsg sendto set_mempolicy set_mempolicy_home_node set_robust_list
  set_thread_area set_tid_address set_tls setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
  setgroups setgroups32 setitimer setns setpgid setpriority setregid setregid32 setresgid setresgid32
  setresuid setresuid32 setreuid setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr
  shmat shmctl shmdt shmget shutdown sigaction sigaltstack signal signalfd signalfd4 sigpending
  sigprocmask sigreturn sigsuspend socket socketcall socketpair splice stat stat64 statfs statfs64
  statx swapcontext symlink symlinkat sync sync_file_range sync_file_range2 syncfs sysinfo tee tgkill
  time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
  timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
  times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat unshare userfaultfd utime
  utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`);
/** What `SystemCallFilter=~@privileged @resources` then removed from it (measured). */
const PRIV_RES_IN_SYSTEM_SERVICE = words(`capset chown chown32 fchown fchown32 fchownat ioprio_set lchown lchown32
  mbind migrate_pages move_pages nice sched_setaffinity sched_setattr sched_setparam sched_setscheduler set_mempolicy
  set_mempolicy_home_node setfsuid setfsuid32 setgroups setgroups32 setpriority setresuid setresuid32 setreuid
  setreuid32 setrlimit setuid setuid32`);
/** `SystemCallFilter=~@clock @debug @module @mount @raw-io @reboot @swap @cpu-emulation @obsolete` (measured). */
const DENY_LIST = words(`adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday
  lookup_dcookie perf_event_open pidfd_getfd ptrace rtas s390_runtime_instr switch_endian delete_module finit_module
  init_module chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree pivot_root umount umount2
  ioperm iopl pciconfig_iobase pciconfig_read pciconfig_write s390_pci_mmio_read s390_pci_mmio_write kexec_file_load
  kexec_load reboot swapoff swapon modify_ldt subpage_prot vm86 vm86old _sysctl afs_syscall bdflush break
  create_module ftime get_kernel_syms getpmsg gtty idle lock mpx prof profil putpmsg query_module security sgetmask
  ssetmask stime stty sysfs tuxcall ulimit uselib ustat vserver`);

const on = (key: string) => ({ [key]: true });
/** Properties systemd 252 reported after each rung's lines were applied (keyed option=value). */
const APPLIED: Record<string, EffectiveSettings> = {
  'ProtectSystem=strict': { ProtectSystem: 'strict' },
  'ProtectSystem=full': { ProtectSystem: 'full' },
  'ProtectSystem=yes': { ProtectSystem: 'yes' },
  'ProtectHome=yes': { ProtectHome: 'yes' },
  'ProtectHome=tmpfs': { ProtectHome: 'tmpfs' },
  'ProtectHome=read-only': { ProtectHome: 'read-only' },
  'PrivateTmp=yes': on('PrivateTmp'),
  'ProtectProc=invisible': { ProtectProc: 'invisible' },
  'ProtectProc=noaccess': { ProtectProc: 'noaccess' },
  'ProcSubset=pid': { ProcSubset: 'pid' },
  'ProtectKernelTunables=yes': on('ProtectKernelTunables'),
  'ProtectKernelModules=yes': on('ProtectKernelModules'),
  'ProtectKernelLogs=yes': on('ProtectKernelLogs'),
  'ProtectControlGroups=yes': on('ProtectControlGroups'),
  'ProtectClock=yes': on('ProtectClock'),
  'PrivateDevices=yes': on('PrivateDevices'),
  'PrivateMounts=yes': on('PrivateMounts'),
  'ProtectHostname=yes': on('ProtectHostname'),
  'UMask=0077': { UMask: 63 },
  'UMask=0027': { UMask: 23 },
  'CapabilityBoundingSet=empty': { CapabilityBoundingSet: 0 },
  'CapabilityBoundingSet=daemon': { CapabilityBoundingSet: 562324991 },
  'CapabilityBoundingSet=no-admin': { CapabilityBoundingSet: 2709843455 },
  'NoNewPrivileges=yes': on('NoNewPrivileges'),
  'PrivateUsers=yes': on('PrivateUsers'),
  'PrivateIPC=yes': on('PrivateIPC'),
  'RestrictNamespaces=yes': { RestrictNamespaces: 0 },
  'RestrictNamespaces=mnt': { RestrictNamespaces: 131072 },
  'RestrictNamespaces=~user': { RestrictNamespaces: 1845624832 },
  'KeyringMode=private': { KeyringMode: 'private' },
  'RemoveIPC=yes': { RemoveIPC: true, User: 'redis' },
  'SystemCallArchitectures=native': { SystemCallArchitectures: ['native'] },
  'SystemCallFilter=@system-service ~@privileged @resources': {
    SystemCallFilter: { allow: true, items: SYSTEM_SERVICE.filter((s) => !PRIV_RES_IN_SYSTEM_SERVICE.includes(s)) },
  },
  'SystemCallFilter=@system-service': { SystemCallFilter: { allow: true, items: SYSTEM_SERVICE } },
  'SystemCallFilter=~@clock @debug @module @mount @raw-io @reboot @swap @cpu-emulation @obsolete': {
    SystemCallFilter: { allow: false, items: DENY_LIST },
  },
  'RestrictAddressFamilies=none': { RestrictAddressFamilies: { allow: true, items: [] } },
  'RestrictAddressFamilies=AF_UNIX': { RestrictAddressFamilies: { allow: true, items: ['AF_UNIX'] } },
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6': { RestrictAddressFamilies: { allow: true, items: ['AF_INET', 'AF_INET6', 'AF_UNIX'] } },
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK': {
    RestrictAddressFamilies: { allow: true, items: ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'] },
  },
  'MemoryDenyWriteExecute=yes': on('MemoryDenyWriteExecute'),
  'RestrictRealtime=yes': on('RestrictRealtime'),
  'RestrictSUIDSGID=yes': on('RestrictSUIDSGID'),
  'LockPersonality=yes': on('LockPersonality'),
  'IPAddressDeny=any, allow localhost': {
    IPAddressDeny: [{ family: 2, address: '0.0.0.0', prefix: 0 }, { family: 10, address: '::', prefix: 0 }],
    IPAddressAllow: [{ family: 2, address: '127.0.0.0', prefix: 8 }, { family: 10, address: '::1', prefix: 128 }],
  },
  'PrivateNetwork=yes': on('PrivateNetwork'),
  // values newer than 252, as 257 (262 for full and ProtectHostname=private) reports them: the
  // boolean stays true, the Ex property says which value (I12 facts §1)
  'PrivateTmp=disconnected': { PrivateTmp: true, PrivateTmpEx: 'disconnected' },
  'ProtectControlGroups=strict': { ProtectControlGroups: true, ProtectControlGroupsEx: 'strict' },
  'PrivateUsers=identity': { PrivateUsers: true, PrivateUsersEx: 'identity' },
  'PrivateUsers=full': { PrivateUsers: true, PrivateUsersEx: 'full' },
  'ProtectHostname=private': { ProtectHostname: true, ProtectHostnameEx: ['private', ''] },
  'PrivatePIDs=yes': { PrivatePIDs: 'yes' },
  // the BPF options' ladder rungs, as 257 reads them back (a(iiqq) as bind-rule text, adapters/systemd/values.ts)
  'RestrictFileSystems=observed': { RestrictFileSystems: { allow: true, items: ['cgroup', 'cgroup2', 'devpts', 'devtmpfs', 'mqueue', 'proc', 'sysfs'] } },
  'SocketBindDeny=any': { SocketBindDeny: ['any'], SocketBindAllow: [] },
  'RestrictNetworkInterfaces=lo': { RestrictNetworkInterfaces: { allow: true, items: ['lo'] } },
  // as 257 reads them back: the "-" prefix kept (core/closeFindings.ts)
  'NoExecPaths=observed': { NoExecPaths: ['/', '-/tmp'], ExecPaths: ['-/usr/sbin'] },
  'InaccessiblePaths=-/etc/shadow -/etc/gshadow -/etc/shadow- -/etc/gshadow-': { InaccessiblePaths: ['-/etc/shadow', '-/etc/gshadow', '-/etc/shadow-', '-/etc/gshadow-'] },
};

const spec = (name: string): OptionSpec => {
  const s = optionByName(name);
  if (!s) throw new Error(`no option ${name}`);
  return s;
};
const rung = (name: string, value: string): Rung => {
  const r = spec(name).ladder.find((x) => x.value === value);
  if (!r) throw new Error(`no rung ${name}=${value}`);
  return r;
};
const tryable = CATALOG.filter((o) => !o.explainOnly);
const allRungs = tryable.flatMap((o) => o.ladder.map((r, i) => ({ o, r, i, id: `${o.name}=${r.value}` })));
const applied = (id: string): EffectiveSettings => ({ ...DEFAULTS, ...APPLIED[id] });

// A model of how systemd merges (bas) list lines across drop-ins, as measured on 252: the first
// line after a reset sets the mode; later lines add to a list of their own mode and remove from
// the other; `none` empties the allow list.
type List = { allow: boolean; items: Set<string> };
function mergeLines(start: EffectiveValue, lines: string[], key: string, expand: (t: string) => string[]): List {
  const s = start as { allow: boolean; items: string[] };
  let cur: List = { allow: s.allow, items: new Set(s.items) };
  for (const line of lines) {
    const value = line.slice(key.length + 1);
    if (value === '') cur = { allow: false, items: new Set() };
    else if (value === 'none') cur = { allow: true, items: new Set() };
    else {
      const invert = value.startsWith('~');
      const names = words(invert ? value.slice(1) : value).flatMap(expand);
      if (!cur.allow && cur.items.size === 0) cur = { allow: !invert, items: new Set(names) };
      else if (cur.allow !== invert) names.forEach((n) => cur.items.add(n));
      else names.forEach((n) => cur.items.delete(n));
    }
  }
  return cur;
}
const allows = (l: List, n: string) => (l.allow ? l.items.has(n) : !l.items.has(n));
const expandSyscalls = (t: string) =>
  t === '@system-service' ? SYSTEM_SERVICE : t.startsWith('@') ? [...(SYSCALL_GROUPS[t.slice(1)] ?? [])] : [t];
const SYSCALL_UNIVERSE = [...new Set([...SYSTEM_SERVICE, ...Object.values(SYSCALL_GROUPS).flat(), 'kcmp', 'bpf'])];
const FAMILIES = ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_PACKET', 'AF_X25', 'AF_BLUETOOTH'];

/** Applies rendered lines to a list property and checks nothing allowed afterwards was refused before. */
function expectOnlyTightens(key: string, before: EffectiveSettings, lines: string[]): List {
  const expand = key === 'SystemCallFilter' ? expandSyscalls : (t: string) => [t];
  const universe = key === 'SystemCallFilter' ? SYSCALL_UNIVERSE : FAMILIES;
  const b = before[key] as { allow: boolean; items: string[] };
  const prev: List = { allow: b.allow, items: new Set(b.items.flatMap(expand)) };
  const after = mergeLines(before[key]!, lines, key, expand);
  expect(universe.filter((n) => allows(after, n) && !allows(prev, n))).toEqual([]);
  return after;
}

describe('capabilities', () => {
  it('numbers capabilities as linux/capability.h does', () => {
    expect(CAPABILITIES).toHaveLength(41);
    expect(capBit('CAP_CHOWN')).toBe(0);
    expect(capBit('CAP_KILL')).toBe(5);
    expect(capBit('sys_admin')).toBe(21);
    expect(capBit('CAP_AUDIT_READ')).toBe(37);
    expect(capBit('CAP_CHECKPOINT_RESTORE')).toBe(40);
    expect(() => capBit('CAP_NOPE')).toThrow(RangeError);
  });

  it('converts masks both ways, as systemd 252 reported them', () => {
    expect(capsFromMask(129)).toEqual(['CAP_CHOWN', 'CAP_SETUID']); // CapabilityBoundingSet=CAP_CHOWN CAP_SETUID
    expect(maskFromCaps(['CAP_CHOWN', 'CAP_KILL'])).toBe(33);
    expect(capsFromMask(ALL_CAPS_MASK)).toEqual([...CAPABILITIES]);
    expect(maskFromCaps(capsFromMask(2709843455))).toBe(2709843455);
    // high bits (systemd keeps them set after `~` lines; the adapter masks to 53) are ignored
    expect(capsFromMask(2 ** 53 - 1 - 2 ** 21)).not.toContain('CAP_SYS_ADMIN');
    expect(capsFromMask(2 ** 53 - 1 - 2 ** 21)).toHaveLength(40);
  });

  it('refuses a 64-bit mask that lost its low bits as a Number', () => {
    const lossy = Number(2n ** 64n - 1n - 2n ** 21n); // ~CAP_SYS_ADMIN, converted naively
    expect(() => capsFromMask(lossy)).toThrow(RangeError);
    expect(() => capsFromMask(-1)).toThrow(RangeError);
  });

  it('scores the bounding set like systemd-analyze 252 (CAP_BPF row included)', () => {
    expect(CAP_SCORE_WEIGHT).toBe(14025);
    expect(capExposure(ALL_CAPS_MASK)).toBe(14025);
    expect(capExposure(0)).toBe(0);
    expect(capExposure(maskFromCaps(['CAP_PERFMON', 'CAP_CHECKPOINT_RESTORE']))).toBe(0);
    expect(capExposure(maskFromCaps(['CAP_SETUID']))).toBe(1500);
    expect(capExposure(maskFromCaps(['CAP_DAC_OVERRIDE', 'CAP_IPC_OWNER']))).toBe(1000);
  });
});

describe('catalog table', () => {
  it('has unique names, and ladders exactly when not explain-only', () => {
    expect(new Set(CATALOG.map((o) => o.name)).size).toBe(CATALOG.length);
    for (const o of CATALOG) {
      expect(o.properties.length, o.name).toBeGreaterThan(0);
      if (o.explainOnly) expect(o.ladder, o.name).toEqual([]);
      else expect(o.ladder.length, o.name).toBeGreaterThan(0);
      expect(o.prior).toBeGreaterThanOrEqual(0);
      expect(o.prior).toBeLessThanOrEqual(1);
      expect(o.logHints.every((h) => h === h.toLowerCase()), o.name).toBe(true);
    }
  });

  it('weighs options as systemd-analyze security does on 252', () => {
    const weights: Record<string, number> = {
      User: 2000, PrivateNetwork: 2500, PrivateDevices: 1000, PrivateMounts: 1000, PrivateTmp: 1000, PrivateUsers: 1000,
      ProtectControlGroups: 1000, ProtectKernelModules: 1000, ProtectKernelTunables: 1000, ProtectKernelLogs: 1000,
      ProtectClock: 1000, ProtectHome: 1000, ProtectSystem: 1000, ProtectProc: 1000, NoNewPrivileges: 1000,
      KeyringMode: 1000, NotifyAccess: 1000, RestrictSUIDSGID: 1000, SystemCallArchitectures: 1000,
      SystemCallFilter: 7 * 1000 + 2 * 700 + 2 * 250, IPAddressDeny: 1000, DevicePolicy: 1000,
      RestrictNamespaces: 1500 + 5 * 500 + 100, RestrictAddressFamilies: 1500 + 1250 + 1000 + 200 + 25,
      CapabilityBoundingSet: 14025, RestrictRealtime: 500, AmbientCapabilities: 500, SupplementaryGroups: 200,
      RootDirectory: 200, LockPersonality: 100, MemoryDenyWriteExecute: 100, UMask: 100, RemoveIPC: 100, Delegate: 100,
      ProtectHostname: 50, ProcSubset: 10,
      // not scored by systemd-analyze
      PrivateIPC: 0, PrivatePIDs: 0, MountImages: 0, RestrictFileSystems: 0, SocketBindDeny: 0, RestrictNetworkInterfaces: 0,
      NoExecPaths: 0, InaccessiblePaths: 0,
    };
    expect(Object.fromEntries(CATALOG.map((o) => [o.name, o.weight]))).toEqual(weights);
  });

  it('grades rungs with the residuals systemd-analyze gives them', () => {
    const res = (name: string) => spec(name).ladder.map((r) => r.residual);
    expect(res('ProtectSystem')).toEqual([0, 0.3, 0.5]);
    expect(res('ProtectHome')).toEqual([0, 0.1, 0.5]);
    expect(res('ProtectProc')).toEqual([0, 1 / 3]);
    expect(res('UMask')).toEqual([0, 0.1]);
    expect(res('CapabilityBoundingSet')).toEqual([0, 5600 / 14025, 5600 / 14025]);
    expect(res('RestrictNamespaces')).toEqual([0, 500 / 4100, 2600 / 4100]);
    expect(res('RestrictAddressFamilies')).toEqual([0, 25 / 3975, 1525 / 3975, 1725 / 3975]);
    // measured: @system-service leaves @privileged and @resources at 9/10; the deny list leaves them at 10/10
    expect(res('SystemCallFilter')).toEqual([0, 1260 / 8900, 1400 / 8900]);
    expect(res('IPAddressDeny')).toEqual([0.2]);
  });

  it('orders every ladder strongest first', () => {
    for (const o of tryable) {
      const r = o.ladder.map((x) => x.residual);
      expect(r, o.name).toEqual([...r].sort((a, b) => a - b));
      expect(r.every((x) => x >= 0 && x <= 1), o.name).toBe(true);
    }
  });

  it('classifies safety and session reach as briefed', () => {
    const safety = (cls: string) => CATALOG.filter((o) => !o.explainOnly && o.safety === cls).map((o) => o.name).sort();
    expect(safety('restricts-reach')).toEqual(['IPAddressDeny', 'PrivateNetwork', 'RestrictAddressFamilies', 'RestrictNetworkInterfaces', 'SocketBindDeny']);
    expect(safety('latent-risk')).toEqual([
      'InaccessiblePaths', 'MemoryDenyWriteExecute', 'NoExecPaths', 'PrivatePIDs', 'ProcSubset', 'ProtectProc', 'RestrictFileSystems', 'SystemCallFilter', 'UMask',
    ]);
    for (const n of ['ProtectSystem', 'ProtectHome', 'CapabilityBoundingSet', 'NoNewPrivileges', 'SystemCallFilter', 'PrivateTmp',
      'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs', 'PrivateDevices', 'RestrictSUIDSGID']) {
      expect(spec(n).confinesSessions, n).toBe(true);
    }
    expect(spec('NoNewPrivileges').safety).toBe('verifiable');
    // a packet filter on the unit's cgroup: sessions moved to session-N.scope escape it
    expect(spec('IPAddressDeny').confinesSessions).toBe(false);
  });

  it('puts argument-inspecting seccomp filters in seccomp-args', () => {
    const args = CATALOG.filter((o) => o.cost === 'seccomp-args').map((o) => o.name).sort();
    expect(args).toEqual(['MemoryDenyWriteExecute', 'RestrictAddressFamilies', 'RestrictNamespaces', 'RestrictSUIDSGID']);
    expect(spec('SystemCallFilter').cost).toBe('seccomp-number');
    expect(spec('ProtectSystem').cost).toBe('free');
    expect(spec('CapabilityBoundingSet').cost).toBe('free');
  });

  it('lists the scored syscall groups as systemd 252 expands them', () => {
    expect(SYSCALL_GROUPS.swap).toEqual(['swapoff', 'swapon']);
    expect(SYSCALL_GROUPS.privileged).toHaveLength(53);
    expect(SYSCALL_GROUPS.resources).toHaveLength(13);
    expect(SYSCALL_GROUPS.obsolete).toHaveLength(27);
    expect(new Set(['clock', 'debug', 'module', 'mount', 'raw-io', 'reboot', 'swap', 'cpu-emulation', 'obsolete']
      .flatMap((g) => SYSCALL_GROUPS[g]!))).toEqual(new Set(DENY_LIST));
    // @system-service contains none of the nine deny groups
    expect(SYSTEM_SERVICE.filter((s) => DENY_LIST.includes(s))).toEqual([]);
  });
});

describe('rung lines only tighten', () => {
  it('never writes a plain capability or namespace line (those OR bits in)', () => {
    for (const { o, r } of allRungs) {
      for (const l of r.lines) {
        expect(l, o.name).toMatch(/^[A-Za-z]+=\S/);
        expect(l, o.name).not.toMatch(/^CapabilityBoundingSet=(?!~)/);
        expect(l, o.name).not.toMatch(/^RestrictNamespaces=(?!~|yes$)/);
        expect(l, o.name).not.toMatch(/^(SystemCallFilter|RestrictAddressFamilies|IPAddressDeny|IPAddressAllow)=$/);
      }
    }
  });

  it('drops capabilities with `~` lines only, each rung keeping a subset of the next', () => {
    const caps = spec('CapabilityBoundingSet').ladder;
    expect(caps.map((r) => r.value)).toEqual(['empty', 'daemon', 'no-admin']);
    expect(caps[0]!.lines).toEqual([`CapabilityBoundingSet=~${CAPABILITIES.join(' ')}`]);
    const kept = caps.map((r) => CAPABILITIES.filter((c) => !r.lines[0]!.slice('CapabilityBoundingSet=~'.length).split(' ').includes(c)));
    expect(kept[1]).toHaveLength(16);
    expect(kept[2]).toEqual(expect.arrayContaining(kept[1]!));
    expect(kept[2]).not.toContain('CAP_SYS_ADMIN');
    expect(kept[2]).toContain('CAP_SETFCAP');
  });

  it('writes the ladders the brief asks for', () => {
    expect(spec('SystemCallFilter').ladder.map((r) => r.lines)).toEqual([
      ['SystemCallFilter=@system-service', 'SystemCallFilter=~@privileged @resources'],
      ['SystemCallFilter=@system-service'],
      ['SystemCallFilter=~@clock @debug @module @mount @raw-io @reboot @swap @cpu-emulation @obsolete'],
    ]);
    expect(spec('RestrictAddressFamilies').ladder.map((r) => r.lines[0])).toEqual([
      'RestrictAddressFamilies=none',
      'RestrictAddressFamilies=AF_UNIX',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    ]);
    expect(spec('RestrictNamespaces').ladder.map((r) => r.lines[0])).toEqual([
      'RestrictNamespaces=yes', 'RestrictNamespaces=~user cgroup ipc net pid uts', 'RestrictNamespaces=~user',
    ]);
    expect(spec('ProtectProc').ladder.map((r) => r.value)).toEqual(['invisible', 'noaccess']);
  });
});

describe('inForce', () => {
  it('has a measured fixture for every rung', () => {
    expect(Object.keys(APPLIED).sort()).toEqual(allRungs.map((x) => x.id).sort());
  });

  it('is true once a rung is applied, and then for every weaker rung but no stronger one', () => {
    for (const { o, i, id } of allRungs) {
      const eff = applied(id);
      o.ladder.forEach((other, j) => expect(other.inForce(eff), `${other.value} after ${id}`).toBe(j >= i));
    }
  });

  it("is false on systemd's defaults", () => {
    for (const { r, id } of allRungs) expect(r.inForce(DEFAULTS), id).toBe(DEFAULT_IN_FORCE.has(id));
    expect(rung('RemoveIPC', 'yes').inForce({ ...DEFAULTS, User: 'redis' })).toBe(false);
    expect(rung('RemoveIPC', 'yes').inForce({ ...DEFAULTS, User: 'root', DynamicUser: true })).toBe(true);
  });

  it('treats missing properties as systemd defaults', () => {
    for (const { r, id } of allRungs) if (!DEFAULT_IN_FORCE.has(id)) expect(r.inForce({}), id).toBe(false);
  });

  it('treats a lossy 64-bit Number as "everything allowed"', () => {
    const eff = { ...DEFAULTS, CapabilityBoundingSet: Number(2n ** 64n - 2n ** 41n), RestrictNamespaces: Number(2n ** 64n - 1n) };
    expect(spec('CapabilityBoundingSet').ladder.some((r) => r.inForce(eff))).toBe(false);
    expect(spec('RestrictNamespaces').ladder.some((r) => r.inForce(eff))).toBe(false);
  });

  it('grades IP address lists like systemd-analyze: deny both families, allow only localhost', () => {
    const r = rung('IPAddressDeny', 'any, allow localhost');
    const any = APPLIED['IPAddressDeny=any, allow localhost']!.IPAddressDeny as Array<{ family: number; address: string; prefix: number }>;
    const local = APPLIED['IPAddressDeny=any, allow localhost']!.IPAddressAllow as typeof any;
    expect(r.inForce({ IPAddressDeny: any, IPAddressAllow: [] })).toBe(true);
    expect(r.inForce({ IPAddressDeny: any, IPAddressAllow: [...local, { family: 2, address: '10.0.0.0', prefix: 8 }] })).toBe(false);
    expect(r.inForce({ IPAddressDeny: any.slice(0, 1), IPAddressAllow: local })).toBe(false);
    // 127.0.0.1/32 is not what analyze-security counts as localhost
    expect(r.inForce({ IPAddressDeny: any, IPAddressAllow: [{ family: 2, address: '127.0.0.1', prefix: 32 }] })).toBe(false);
  });

  it('counts implied mount namespaces for PrivateMounts, as systemd-analyze does', () => {
    expect(rung('PrivateMounts', 'yes').inForce({ ...DEFAULTS, ProtectSystem: 'full' })).toBe(true);
    expect(rung('PrivateMounts', 'yes').inForce({ ...DEFAULTS, PrivateTmp: true })).toBe(true);
    expect(rung('PrivateMounts', 'yes').inForce({ ...DEFAULTS, ProtectClock: true })).toBe(false);
  });

  it('reads suffixed deny entries ("reboot:EPERM") as denied', () => {
    const items = DENY_LIST.map((s) => (s === 'reboot' ? 'reboot:EPERM' : s));
    const eff = { ...DEFAULTS, SystemCallFilter: { allow: false, items } };
    expect(rung('SystemCallFilter', `~${['clock', 'debug', 'module', 'mount', 'raw-io', 'reboot', 'swap', 'cpu-emulation', 'obsolete'].map((g) => `@${g}`).join(' ')}`).inForce(eff)).toBe(true);
  });
});

describe('strongerRungs', () => {
  it('offers the whole ladder on defaults, nothing when the strongest rung is set', () => {
    for (const o of tryable) {
      const expected = o.ladder.filter((r) => !DEFAULT_IN_FORCE.has(`${o.name}=${r.value}`));
      expect(strongerRungs(o, DEFAULTS), o.name).toEqual(expected);
      expect(strongerRungs(o, applied(`${o.name}=${o.ladder[0]!.value}`)), o.name).toEqual([]);
    }
  });

  it('offers only what beats the value in force', () => {
    const values = (name: string, eff: EffectiveSettings) => strongerRungs(spec(name), { ...DEFAULTS, ...eff }).map((r) => r.value);
    expect(values('ProtectHome', { ProtectHome: 'tmpfs' })).toEqual(['yes']);
    expect(values('ProtectSystem', { ProtectSystem: 'full' })).toEqual(['strict']);
    // ptraceable scores 0 like invisible but is weaker: invisible is still worth a trial
    expect(values('ProtectProc', { ProtectProc: 'ptraceable' })).toEqual(['invisible']);
    expect(values('UMask', { UMask: 0o027 })).toEqual(['0077']);
    expect(values('UMask', { UMask: 0o007 })).toEqual(['0077', '0027']);
    expect(values('CapabilityBoundingSet', { CapabilityBoundingSet: maskFromCaps(['CAP_NET_BIND_SERVICE']) })).toEqual(['empty']);
    expect(values('SystemCallFilter', APPLIED['SystemCallFilter=@system-service']!)).toEqual(['@system-service ~@privileged @resources']);
    expect(values('RestrictAddressFamilies', { RestrictAddressFamilies: { allow: false, items: ['AF_PACKET'] } })).toHaveLength(4);
    expect(values('KeyringMode', {})).toEqual([]);
  });
});

describe('usableOptions', () => {
  it('leaves out explain-only options, with a reason, on every version', () => {
    const names = usableOptions(CATALOG, DEBIAN12_PLATFORM).map((o) => o.name);
    for (const n of ['RestrictFileSystems', 'SocketBindDeny', 'RestrictNetworkInterfaces']) {
      expect(names).not.toContain(n);
      expect(spec(n).needs?.features).toEqual(['BPF_FRAMEWORK']);
      // not without a check that systemd enforces them (test/unit/bpf-options.test.ts)
      expect(usableOptions(CATALOG, DEBIAN13_PLATFORM).map((o) => o.name)).not.toContain(n);
    }
    for (const n of ['User', 'RootDirectory', 'MountImages', 'AmbientCapabilities', 'DevicePolicy', 'NotifyAccess']) {
      expect(names).not.toContain(n);
      expect(spec(n).explainOnly).toBeTruthy();
    }
    // PrivatePIDs is 257+ (and needs its property), the three BPF options need +BPF_FRAMEWORK: the rest can be tried on 252
    expect(names).toHaveLength(tryable.length - 1 - 3);
    expect(names).not.toContain('PrivatePIDs');
  });

  it('drops options and rungs newer than the running systemd', () => {
    const at = (v: number) => new Map(usableOptions(CATALOG, versionOnly(v)).map((o) => [o.name, o.ladder.map((r) => r.value)]));
    const v245 = at(245);
    expect(v245.has('ProtectProc')).toBe(false); // 247
    expect(v245.has('PrivateIPC')).toBe(false); // 248
    expect(v245.get('RestrictAddressFamilies')).not.toContain('none'); // `none` is 249
    expect(v245.get('ProtectClock')).toEqual(['yes']);
    const v231 = at(231);
    expect(v231.get('ProtectSystem')).toEqual(['full', 'yes']); // strict is 232
    expect(v231.get('SystemCallFilter')).toBeUndefined(); // @swap/@reboot 233, @system-service 241
    expect(at(237).get('ProtectHome')).toEqual(['yes', 'read-only']); // tmpfs is 238
    expect(at(240).get('SystemCallFilter')).toEqual([spec('SystemCallFilter').ladder[2]!.value]);
    // the catalog itself is not changed
    expect(spec('ProtectSystem').ladder).toHaveLength(3);
    expect((spec('RestrictAddressFamilies').ladder[0] as CatalogRung).minSystemd).toBe(249);
  });
});

describe('renderRung', () => {
  const render = (name: string, value: string, eff: EffectiveSettings) => renderRung(spec(name), rung(name, value), { ...DEFAULTS, ...eff });
  const SCF_STRICT = '@system-service ~@privileged @resources';

  it('writes the rung as is over systemd defaults, and nothing once in force', () => {
    for (const { o, r, id } of allRungs) {
      expect(renderRung(o, r, DEFAULTS), id).toEqual(DEFAULT_IN_FORCE.has(id) ? null : r.lines);
      expect(renderRung(o, r, applied(id)), id).toBeNull();
    }
  });

  it('narrows a vendor syscall allow list with `~` lines only', () => {
    const vendor = { SystemCallFilter: { allow: true, items: [...SYSTEM_SERVICE, 'ptrace', 'mount'] } };
    const lines = render('SystemCallFilter', SCF_STRICT, vendor)!;
    expect(lines).toEqual(['SystemCallFilter=~@privileged @resources @debug @mount']);
    const after = expectOnlyTightens('SystemCallFilter', { ...DEFAULTS, ...vendor }, lines);
    expect(rung('SystemCallFilter', SCF_STRICT).inForce({ SystemCallFilter: { allow: after.allow, items: [...after.items] } })).toBe(true);
    // an allow line would add to the vendor's list
    expect(render('SystemCallFilter', '@system-service', vendor)).toBeNull();
    const deny = rung('SystemCallFilter', `~@clock @debug @module @mount @raw-io @reboot @swap @cpu-emulation @obsolete`);
    expect(renderRung(spec('SystemCallFilter'), deny, { ...DEFAULTS, ...vendor })).toEqual(deny.lines);
  });

  it('replaces a vendor syscall deny list only by an allow list that keeps it out', () => {
    const vendor = { SystemCallFilter: { allow: false, items: [...SYSCALL_GROUPS.swap!, 'chown', 'kcmp'] } };
    const lines = render('SystemCallFilter', '@system-service', vendor)!;
    expect(lines).toEqual(['SystemCallFilter=', 'SystemCallFilter=@system-service', 'SystemCallFilter=~@swap chown kcmp']);
    const after = expectOnlyTightens('SystemCallFilter', { ...DEFAULTS, ...vendor }, lines);
    expect(after.allow).toBe(true);
    expect(after.items.has('chown')).toBe(false);
    const strict = render('SystemCallFilter', SCF_STRICT, vendor)!;
    expect(strict[0]).toBe('SystemCallFilter=');
    expectOnlyTightens('SystemCallFilter', { ...DEFAULTS, ...vendor }, strict);
    // the vendor's own `~@privileged @resources` is not written twice
    const own = { SystemCallFilter: { allow: false, items: [...SYSCALL_GROUPS.privileged!, ...SYSCALL_GROUPS.resources!] } };
    expect(render('SystemCallFilter', SCF_STRICT, own)).toEqual([
      'SystemCallFilter=', 'SystemCallFilter=@system-service', 'SystemCallFilter=~@privileged @resources',
    ]);
  });

  it('leaves a deny list with per-call errnos alone (removed from an allow list, the call would kill)', () => {
    const vendor = { SystemCallFilter: { allow: false, items: ['reboot:EPERM', 'swapon'] } };
    expect(render('SystemCallFilter', '@system-service', vendor)).toBeNull();
    expect(render('SystemCallFilter', SCF_STRICT, vendor)).toBeNull();
  });

  it('narrows a vendor address-family allow list instead of adding to it', () => {
    const vendor = { RestrictAddressFamilies: { allow: true, items: ['AF_INET', 'AF_INET6', 'AF_PACKET', 'AF_UNIX'] } };
    expect(render('RestrictAddressFamilies', 'AF_UNIX', vendor)).toEqual(['RestrictAddressFamilies=~AF_INET AF_INET6 AF_PACKET']);
    expect(render('RestrictAddressFamilies', 'none', vendor)).toEqual(['RestrictAddressFamilies=none']);
    for (const r of spec('RestrictAddressFamilies').ladder) {
      const lines = renderRung(spec('RestrictAddressFamilies'), r, { ...DEFAULTS, ...vendor })!;
      const after = expectOnlyTightens('RestrictAddressFamilies', { ...DEFAULTS, ...vendor }, lines);
      expect(r.inForce({ RestrictAddressFamilies: { allow: after.allow, items: [...after.items] } }), r.value).toBe(true);
    }
  });

  it('replaces a vendor address-family deny list by an allow list that keeps it out', () => {
    const vendor = { RestrictAddressFamilies: { allow: false, items: ['AF_INET6', 'AF_PACKET'] } };
    const lines = render('RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6', vendor)!;
    expect(lines).toEqual(['RestrictAddressFamilies=', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6', 'RestrictAddressFamilies=~AF_INET6']);
    const after = expectOnlyTightens('RestrictAddressFamilies', { ...DEFAULTS, ...vendor }, lines);
    expect([...after.items].sort()).toEqual(['AF_INET', 'AF_UNIX']);
    expect(render('RestrictAddressFamilies', 'AF_UNIX', vendor)).toEqual(['RestrictAddressFamilies=', 'RestrictAddressFamilies=AF_UNIX']);
  });

  it('keeps every umask bit already set', () => {
    expect(render('UMask', '0027', { UMask: 0o070 })).toEqual(['UMask=0077']);
    expect(render('UMask', '0077', { UMask: 0o022 })).toEqual(['UMask=0077']);
  });

  it('does not append to a vendor list it cannot narrow', () => {
    expect(render('SystemCallArchitectures', 'native', { SystemCallArchitectures: ['x86-64', 'x86'] })).toBeNull();
    const deny = { IPAddressDeny: [{ family: 2, address: '10.0.0.0', prefix: 8 }] };
    expect(render('IPAddressDeny', 'any, allow localhost', deny)).toBeNull();
  });

  it('never loosens a scalar: weaker rungs are in force, hence not rendered', () => {
    expect(render('ProtectSystem', 'yes', { ProtectSystem: 'strict' })).toBeNull();
    expect(render('ProtectHome', 'read-only', { ProtectHome: 'tmpfs' })).toBeNull();
    expect(render('ProtectProc', 'noaccess', { ProtectProc: 'ptraceable' })).toBeNull();
  });
});
