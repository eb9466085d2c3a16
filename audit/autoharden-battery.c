/* autoharden-battery: the attack battery of `autoharden audit` (issue 15). Run inside a unit's own
 * sandbox, it tries what an attacker who took over the service would try next and reports, per
 * technique, whether the sandbox blocks it. Static and libc-only, so no interpreter, JIT or shared
 * library has to survive the sandbox.
 *
 *   autoharden-battery [--state DIR]... [--peer ADDR:PORT]
 *
 *   --state DIR       a directory the unit may write (StateDirectory= etc.): exec-state tries there
 *                     (absolute and plain, at most 8; without one exec-state is "skipped")
 *   --peer ADDR:PORT  connect-out connects to this numeric IPv4 or [IPv6] address (without one it is
 *                     "skipped": the battery never reaches outside the machine on its own)
 *
 * Output, stdout, one JSON object a line, in the order below, then a last line:
 *   {"id":"write-etc","outcome":"blocked"|"possible"|"skipped"|"error","detail":"EROFS"}
 *   {"done":true,"count":N}
 * Exit status 0 when the battery ran (whatever it found), 2 on bad arguments.
 *
 * The battery CHANGES NOTHING outside its own short-lived processes: writes are proven with
 * O_TMPFILE (an inode without a name, freed at close), a mount with fsopen() and no fsmount, ptrace
 * only against its own child, a module, the clock and the hostname with requests the kernel refuses
 * for being malformed only after it checked the permission (so EINVAL means "permitted"), sockets
 * are opened, bound to an ephemeral loopback port or connected only to the --peer named. The one
 * exception is exec-*: see exec_in().
 *
 * Each technique runs in its own forked child (own process group) under a 2 s budget, so a seccomp
 * kill (SIGSYS) or a hang is a result, not the end of the battery; the whole run is bounded by 20 s
 * (techniques not started by then are reported as errors). Nothing is read from the environment.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430 /* the same number on every architecture (unified table since 5.1) */
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef NETLINK_ROUTE
#define NETLINK_ROUTE 0
#endif

#define TECHNIQUE_MS 2000
#define TOTAL_MS 20000
#define MAX_STATE 8
#define MAX_PATH_ARG 200
#define MAX_EXE (16 << 20)
/* argv[1] of a copy that exec-* runs: exit 0 at once, before anything else */
#define EXEC_PROBE_ARG "--exec-probe"

enum outcome { BLOCKED, POSSIBLE, SKIPPED, ERROR };
static const char *const OUTCOME_NAME[] = { "blocked", "possible", "skipped", "error" };

struct result {
  int outcome;
  char detail[240];
};

static const char *state_dirs[MAX_STATE];
static int n_state;
static struct sockaddr_storage peer;
static socklen_t peer_len;
static char peer_text[64];
/* random suffix of the names exec-* creates, chosen by the parent so it can remove them too */
static char exec_suffix[24];

static void set(struct result *r, int outcome, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set(struct result *r, int outcome, const char *fmt, ...) {
  va_list ap;
  r->outcome = outcome;
  va_start(ap, fmt);
  vsnprintf(r->detail, sizeof r->detail, fmt, ap);
  va_end(ap);
}

static const char *errname(int e) {
  switch (e) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ESRCH: return "ESRCH";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case ENXIO: return "ENXIO";
  case ENOEXEC: return "ENOEXEC";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case EMFILE: return "EMFILE";
  case ETXTBSY: return "ETXTBSY";
  case ENOSPC: return "ENOSPC";
  case EROFS: return "EROFS";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case ENOSYS: return "ENOSYS";
  case ELOOP: return "ELOOP";
  case EUSERS: return "EUSERS";
  case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
  case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EADDRINUSE: return "EADDRINUSE";
  case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  case ENETDOWN: return "ENETDOWN";
  case ENETUNREACH: return "ENETUNREACH";
  case ECONNRESET: return "ECONNRESET";
  case ETIMEDOUT: return "ETIMEDOUT";
  case ECONNREFUSED: return "ECONNREFUSED";
  case EHOSTUNREACH: return "EHOSTUNREACH";
  case EDQUOT: return "EDQUOT";
  default: {
    static char buf[24];
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
  }
  }
}

/* The errors by which a sandbox (or the kernel's permission checks) refuses: read-only mounts,
 * permissions, seccomp's EPERM, paths hidden or replaced, address families filtered out. */
static int refusal(int e) {
  return e == EPERM || e == EACCES || e == EROFS || e == ENOENT || e == ENOTDIR || e == EAFNOSUPPORT ||
         e == EPROTONOSUPPORT || e == ESOCKTNOSUPPORT;
}

static void from_errno(struct result *r, int e, const char *what) {
  if (refusal(e)) set(r, BLOCKED, "%s%s%s", what, *what ? ": " : "", errname(e));
  else set(r, ERROR, "%s%s%s", what, *what ? ": " : "", errname(e));
}

/* ---- files ---------------------------------------------------------------------------------- */

/* A new file in DIR: O_TMPFILE makes an inode with no name (nothing ever appears in DIR) that the
 * kernel frees at close. A filesystem without O_TMPFILE support falls back to faccessat(W_OK),
 * which checks the same permissions and read-only mounts without creating anything. */
static void write_in(struct result *r, const char *dir) {
  int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    close(fd);
    set(r, POSSIBLE, "created an unnamed file in %s", dir);
    return;
  }
  int e = errno;
  if (e == EOPNOTSUPP || e == EISDIR) {
    if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) == 0) set(r, POSSIBLE, "%s is writable (access check)", dir);
    else from_errno(r, errno, "");
    return;
  }
  from_errno(r, e, "");
}
static void t_write_etc(struct result *r) { write_in(r, "/etc"); }
static void t_write_usr(struct result *r) { write_in(r, "/usr"); }
static void t_write_boot(struct result *r) { write_in(r, "/boot"); }

/* Lists DIR up to its first entry. An empty directory is what ProtectHome= and InaccessiblePaths=
 * leave in place of a hidden one: nothing to read, so blocked. */
static void list_dir(struct result *r, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) { from_errno(r, errno, ""); return; }
  struct dirent *de;
  errno = 0;
  while ((de = readdir(d))) {
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
      closedir(d);
      set(r, POSSIBLE, "listed %s", dir);
      return;
    }
  }
  int e = errno;
  closedir(d);
  if (e) from_errno(r, e, "readdir");
  else set(r, BLOCKED, "empty");
}
static void t_read_root(struct result *r) { list_dir(r, "/root"); }
static void t_read_home(struct result *r) { list_dir(r, "/home"); }

static void t_read_shadow(struct result *r) {
  int fd = open("/etc/shadow", O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { from_errno(r, errno, ""); return; }
  char c;
  ssize_t n = read(fd, &c, 1);
  int e = errno;
  close(fd);
  if (n == 1) set(r, POSSIBLE, "read /etc/shadow");
  else if (n == 0) set(r, BLOCKED, "empty"); /* InaccessiblePaths= leaves an empty file to root */
  else from_errno(r, e, "read");
}

/* ---- executing a file it wrote ---------------------------------------------------------------- */

/* This process's own executable, read through /proc/self/exe: the program exec-* writes and runs. */
static char *read_self(size_t *len, int *err) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MAX_EXE) {
    *err = fd < 0 ? errno : EINVAL;
    if (fd >= 0) close(fd);
    return NULL;
  }
  char *buf = malloc((size_t)st.st_size);
  size_t got = 0;
  while (buf && got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n <= 0) { *err = n < 0 ? errno : EIO; free(buf); buf = NULL; break; }
    got += (size_t)n;
  }
  close(fd);
  *len = got;
  return buf;
}

static int write_all(int fd, const char *p, size_t len) {
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Runs the program PATH (or, with PATH NULL, the memfd FD) with EXEC_PROBE_ARG in a grandchild and
 * classifies: exit 0 → possible; execve refused (EACCES from a noexec mount, EPERM) or the
 * grandchild killed by SIGSYS → blocked. The grandchild reports a failed execve through a
 * close-on-exec pipe, so "the exec happened" is told apart from "the program failed". */
static void run_probe(struct result *r, const char *path, int fd, const char *where) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) { set(r, ERROR, "pipe: %s", errname(errno)); return; }
  pid_t pid = fork();
  if (pid < 0) { set(r, ERROR, "fork: %s", errname(errno)); close(p[0]); close(p[1]); return; }
  if (pid == 0) {
    char *argv[] = { (char *)(path ? path : "autoharden-battery"), (char *)EXEC_PROBE_ARG, NULL };
    char *envp[] = { NULL };
    close(p[0]);
    if (path) execve(path, argv, envp);
    else syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
    int e = errno;
    (void)!write(p[1], &e, sizeof e);
    _exit(127);
  }
  close(p[1]);
  int e = 0, st = 0;
  ssize_t n;
  do n = read(p[0], &e, sizeof e); while (n < 0 && errno == EINTR);
  close(p[0]);
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (n == (ssize_t)sizeof e) {
    if (e == EACCES || e == EPERM) set(r, BLOCKED, "%s: exec %s", where, errname(e));
    else set(r, ERROR, "%s: exec %s", where, errname(e));
  } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) set(r, BLOCKED, "%s: SIGSYS: seccomp", where);
  else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) set(r, POSSIBLE, "ran a program written to %s", where);
  else if (WIFSIGNALED(st)) set(r, ERROR, "%s: killed by signal %d", where, WTERMSIG(st));
  else set(r, ERROR, "%s: exit status %d", where, WEXITSTATUS(st));
}

static void exec_name(char *buf, size_t n, const char *dir) {
  snprintf(buf, n, "%s/.autoharden-battery-%s", dir, exec_suffix);
}

/* THE ONE TECHNIQUE THAT BRIEFLY CREATES A FILE: executing needs a name, and an O_TMPFILE inode has
 * none. A copy of this program, mode 0700, under a random name in DIR, executed with EXEC_PROBE_ARG
 * (it exits 0 at once) and unlinked at once; the parent unlinks the name again after the child
 * ends, should the child be killed in between. Only in /tmp, /var/tmp, /dev/shm and the --state
 * directories: places the unit may write anyway. */
static void exec_in(struct result *r, const char *dir) {
  size_t len = 0;
  int err = 0;
  char *self = read_self(&len, &err);
  if (!self) { set(r, ERROR, "cannot read own executable: %s", errname(err)); return; }
  char path[MAX_PATH_ARG + 64];
  exec_name(path, sizeof path, dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
  if (fd < 0) {
    int e = errno;
    free(self);
    if (refusal(e)) set(r, BLOCKED, "%s: cannot write: %s", dir, errname(e));
    else set(r, ERROR, "%s: cannot write: %s", dir, errname(e));
    return;
  }
  int bad = write_all(fd, self, len) < 0 ? errno : 0;
  free(self);
  (void)fchmod(fd, 0700); /* in case the umask took the owner's x bit */
  close(fd);
  if (bad) set(r, ERROR, "%s: write: %s", dir, errname(bad));
  else run_probe(r, path, -1, dir);
  unlink(path);
}
static void t_exec_tmp(struct result *r) { exec_in(r, "/tmp"); }
static void t_exec_var_tmp(struct result *r) { exec_in(r, "/var/tmp"); }
static void t_exec_dev_shm(struct result *r) { exec_in(r, "/dev/shm"); }

/* Possible when it runs in any of the --state directories (the detail names which); otherwise the
 * first error, else the first refusal. */
static void t_exec_state(struct result *r) {
  if (!n_state) { set(r, SKIPPED, "no --state directory given"); return; }
  struct result res[MAX_STATE] = { { ERROR, "no result" } };
  for (int i = 0; i < n_state; i++) {
    struct stat st;
    /* a state directory the caller named but the sandbox does not show is a finding to report */
    if (stat(state_dirs[i], &st) < 0 || !S_ISDIR(st.st_mode)) set(&res[i], ERROR, "%s: not a directory here", state_dirs[i]);
    else exec_in(&res[i], state_dirs[i]);
    if (res[i].outcome == POSSIBLE) { *r = res[i]; return; }
  }
  *r = res[0];
  for (int i = 0; i < n_state; i++)
    if (res[i].outcome == ERROR) { *r = res[i]; return; }
}

/* A program run from memory: memfd_create + execveat(AT_EMPTY_PATH). Needs no writable directory,
 * so NoExecPaths= does not stop it; nothing is created on any filesystem. */
static void t_exec_memfd(struct result *r) {
  size_t len = 0;
  int err = 0;
  char *self = read_self(&len, &err);
  if (!self) { set(r, ERROR, "cannot read own executable: %s", errname(err)); return; }
  int fd = (int)syscall(SYS_memfd_create, "autoharden-battery", MFD_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(self);
    if (e == ENOSYS) set(r, BLOCKED, "memfd_create: ENOSYS");
    else from_errno(r, e, "memfd_create");
    return;
  }
  int bad = write_all(fd, self, len) < 0 ? errno : 0;
  free(self);
  if (bad) { close(fd); set(r, ERROR, "write: %s", errname(bad)); return; }
  /* execve refuses a file open for writing (ETXTBSY): run a read-only reopening instead */
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  int ro = open(proc, O_RDONLY | O_CLOEXEC);
  if (ro >= 0) { close(fd); fd = ro; }
  run_probe(r, NULL, fd, "memfd");
  close(fd);
}

/* ---- network ---------------------------------------------------------------------------------- */

static void t_bind_port(struct result *r) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) { from_errno(r, errno, "socket"); return; }
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    close(s);
    from_errno(r, e, "bind");
    return;
  }
  socklen_t al = sizeof a;
  int port = getsockname(s, (struct sockaddr *)&a, &al) == 0 ? ntohs(a.sin_port) : 0;
  close(s);
  set(r, POSSIBLE, "bound 127.0.0.1:%d", port);
}

/* No answer to the SYN: either a cgroup egress filter (IPAddressDeny=) dropped it, which TCP does
 * not report (it retransmits), or the peer is silent. One empty UDP datagram to the same peer tells
 * them apart: the egress filter fails sendto() with EPERM at once. */
static void no_answer(struct result *r) {
  int u = socket(peer.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int e = u < 0 ? errno : (sendto(u, "", 0, 0, (struct sockaddr *)&peer, peer_len) < 0 ? errno : 0);
  if (u >= 0) close(u);
  if (e == EPERM || e == EACCES) set(r, BLOCKED, "no answer; dropped on the way out (UDP: %s)", errname(e));
  else set(r, ERROR, "%s: no answer in 1.5 s", peer_text);
}

/* Only to the --peer address. A refusal (RST) came from the peer, so the way out is open; no route
 * (a private network namespace) and EPERM are the sandbox's; no answer: see no_answer(). */
static void t_connect_out(struct result *r) {
  if (!peer_len) { set(r, SKIPPED, "no --peer given"); return; }
  int s = socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) { from_errno(r, errno, "socket"); return; }
  int e = 0;
  if (connect(s, (struct sockaddr *)&peer, peer_len) < 0) {
    e = errno;
    if (e == EINPROGRESS) {
      struct pollfd pf = { .fd = s, .events = POLLOUT };
      int n = poll(&pf, 1, 1500);
      if (n == 0) { close(s); no_answer(r); return; }
      socklen_t el = sizeof e;
      if (n < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el) < 0) e = errno;
    }
  }
  close(s);
  if (e == 0) set(r, POSSIBLE, "connected to %s", peer_text);
  else if (e == ECONNREFUSED) set(r, POSSIBLE, "%s answered (connection refused)", peer_text);
  else if (e == ENETUNREACH || e == ENETDOWN || refusal(e)) set(r, BLOCKED, "%s", errname(e));
  else set(r, ERROR, "%s: %s", peer_text, errname(e));
}

static void open_socket(struct result *r, int family, int type, int proto) {
  int s = socket(family, type | SOCK_CLOEXEC, proto);
  if (s < 0) { from_errno(r, errno, ""); return; }
  close(s);
  set(r, POSSIBLE, "opened");
}
static void t_raw_socket(struct result *r) { open_socket(r, AF_INET, SOCK_RAW, IPPROTO_ICMP); }
static void t_netlink_socket(struct result *r) { open_socket(r, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); }

/* ---- kernel and system ------------------------------------------------------------------------ */

/* init_module() with an empty image: the kernel checks CAP_SYS_MODULE (and modules_disabled) first,
 * then finds the image shorter than an ELF header (only a debug statistics counter notes the failed
 * read). So EPERM → blocked (no capability, modules
 * disabled, or ProtectKernelModules='s seccomp filter); ENOEXEC, EFAULT, EINVAL or EBADF → possible:
 * the permission was granted and only the empty image was refused; ENOSYS → blocked (no module
 * support in the kernel, or a filter answering ENOSYS). Nothing is loaded either way. */
static void t_load_module(struct result *r) {
  long rc = syscall(SYS_init_module, NULL, 0UL, "");
  int e = errno;
  if (rc == 0) set(r, ERROR, "init_module accepted an empty image");
  else if (e == ENOEXEC || e == EFAULT || e == EINVAL || e == EBADF) set(r, POSSIBLE, "permitted (empty image refused: %s)", errname(e));
  else if (e == ENOSYS) set(r, BLOCKED, "ENOSYS");
  else from_errno(r, e, "");
}

/* PTRACE_SEIZE of its own paused child (the only process it ever traces), then kills the child. */
static void t_ptrace_child(struct result *r) {
  pid_t pid = fork();
  if (pid < 0) { set(r, ERROR, "fork: %s", errname(errno)); return; }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the technique's child, whatever ends it */
    for (;;) pause();
  }
  long rc = ptrace(PTRACE_SEIZE, pid, NULL, NULL);
  int e = errno;
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  if (rc == 0) set(r, POSSIBLE, "attached to its own child");
  else from_errno(r, e, "");
}

/* fsopen("tmpfs") creates a filesystem context and nothing else: no superblock until
 * FSCONFIG_CMD_CREATE, nothing attached without fsmount/move_mount. Needs CAP_SYS_ADMIN over the
 * mount namespace, like mount(). */
static void t_mount(struct result *r) {
  long fd = syscall(SYS_fsopen, "tmpfs", 0);
  if (fd >= 0) { close((int)fd); set(r, POSSIBLE, "fsopen(tmpfs) permitted"); return; }
  if (errno == ENOSYS) set(r, SKIPPED, "fsopen: ENOSYS (kernel older than 5.2?)");
  else from_errno(r, errno, "");
}

/* adjtimex(ADJ_TICK) with tick 1: the kernel checks CAP_SYS_TIME for any mode first
 * (timekeeping_validate_timex), then refuses a tick outside ±10 % of nominal with EINVAL, before
 * anything is applied. So EINVAL → possible and nothing changed; EPERM → blocked (no capability, or
 * ProtectClock='s filter). Safer than re-setting the current tick: no race with ntp. */
static void t_set_clock(struct result *r) {
  struct timex now = { .modes = 0 };
  (void)adjtimex(&now);
  struct timex tx = { .modes = ADJ_TICK, .tick = 1 };
  int rc = adjtimex(&tx);
  int e = errno;
  if (rc >= 0) { /* cannot happen on Linux; put back what was there */
    struct timex back = { .modes = ADJ_TICK, .tick = now.tick };
    (void)adjtimex(&back);
    set(r, ERROR, "the kernel accepted tick 1 (restored)");
  } else if (e == EINVAL) set(r, POSSIBLE, "CAP_SYS_TIME permitted (invalid tick refused)");
  else from_errno(r, e, "");
}

/* sethostname(NULL, -1): the kernel checks CAP_SYS_ADMIN over the UTS namespace first, then refuses
 * the negative length with EINVAL. Nothing is set. EINVAL in a private UTS namespace
 * (ProtectHostname=private) would only reach that namespace. */
static void t_set_hostname(struct result *r) {
  long rc = syscall(SYS_sethostname, NULL, -1L);
  int e = errno;
  if (rc == 0) set(r, ERROR, "sethostname accepted a negative length");
  else if (e == EINVAL) set(r, POSSIBLE, "permitted (invalid length refused)");
  else from_errno(r, e, "");
}

/* Opened for writing, closed without a write: the open is what ProtectKernelTunables= (a read-only
 * /proc/sys) and the file's permissions refuse. */
static void t_write_sysctl(struct result *r) {
  int fd = open("/proc/sys/kernel/domainname", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) { from_errno(r, errno, ""); return; }
  close(fd);
  set(r, POSSIBLE, "opened /proc/sys/kernel/domainname for writing");
}

/* In the technique's own child, which exits at once: the namespace dies with it. ENOSPC/EUSERS are
 * the user.max_user_namespaces limit (0 disables them). */
static void t_user_namespace(struct result *r) {
  if (unshare(CLONE_NEWUSER) == 0) { set(r, POSSIBLE, "created a user namespace"); return; }
  int e = errno;
  if (e == ENOSPC || e == EUSERS || e == EINVAL) set(r, BLOCKED, "%s", errname(e));
  else from_errno(r, e, "");
}

/* Not executed: possible when no_new_privs is off and a setuid-root program is there, executable
 * by us, on a mount without nosuid. Meaningless (skipped) for a process that is uid 0 already. */
static void t_setuid_binary(struct result *r) {
  if (geteuid() == 0) { set(r, SKIPPED, "already uid 0"); return; }
  int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
  if (nnp == 1) { set(r, BLOCKED, "no_new_privs"); return; }
  static const char *const cand[] = { "/usr/bin/su", "/bin/su", "/usr/bin/passwd", "/usr/bin/sudo",
                                      "/usr/bin/mount", "/usr/bin/newgrp", "/usr/bin/chsh", "/usr/bin/gpasswd" };
  const char *why = "no setuid-root program found";
  for (size_t i = 0; i < sizeof cand / sizeof *cand; i++) {
    struct stat st;
    struct statvfs vf;
    if (stat(cand[i], &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_ISUID) || st.st_uid != 0) continue;
    if (faccessat(AT_FDCWD, cand[i], X_OK, AT_EACCESS) < 0) { why = "setuid-root programs not executable"; continue; }
    if (statvfs(cand[i], &vf) == 0 && (vf.f_flag & ST_NOSUID)) { why = "setuid-root programs on nosuid mounts"; continue; }
    set(r, POSSIBLE, "%s is setuid root%s", cand[i], nnp < 0 ? " (no_new_privs unknown)" : "");
    return;
  }
  set(r, BLOCKED, "%s", why);
}

static void t_wx_memory(struct result *r) {
  void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) { from_errno(r, errno, ""); return; }
  munmap(p, 4096);
  set(r, POSSIBLE, "mapped memory writable and executable");
}

/* /proc/PID directories owned by another uid: processes of other users this one can see. */
static void t_see_processes(struct result *r) {
  DIR *d = opendir("/proc");
  if (!d) { from_errno(r, errno, ""); return; }
  uid_t me = geteuid();
  int seen = 0, others = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *c = de->d_name;
    if (*c < '1' || *c > '9' || c[strspn(c, "0123456789")]) continue;
    struct stat st;
    if (fstatat(dirfd(d), c, &st, 0) < 0) continue;
    seen++;
    if (st.st_uid != me) others++;
  }
  closedir(d);
  if (others) set(r, POSSIBLE, "%d processes of other users visible (%d in all)", others, seen);
  else set(r, BLOCKED, "none visible (%d own)", seen);
}

/* Opening /dev/kmsg for reading is what ProtectKernelLogs= hides and kernel.dmesg_restrict checks
 * (CAP_SYSLOG); nothing is read. */
static void t_read_kernel_log(struct result *r) {
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  int e = errno;
  /* ProtectKernelLogs= masks /dev/kmsg with an inaccessible device node (0:0): ENXIO, not EACCES */
  if (fd < 0 && (e == ENXIO || e == ENODEV || e == ENOENT)) { set(r, BLOCKED, "/dev/kmsg: %s", errname(e)); return; }
  if (fd < 0) { from_errno(r, e, ""); return; }
  close(fd);
  set(r, POSSIBLE, "opened /dev/kmsg");
}

/* A disk's block device opened read-only (O_NONBLOCK: no tray or media wait) and closed, nothing
 * read. Prefers a real disk to a loop device; skips floppies and optical drives. None visible (a
 * PrivateDevices= /dev) → blocked. */
static void t_read_disk(struct result *r) {
  DIR *d = opendir("/dev");
  if (!d) { from_errno(r, errno, ""); return; }
  char best[64] = "", loop[64] = "";
  struct dirent *de;
  while ((de = readdir(d))) {
    const char *n = de->d_name;
    struct stat st;
    if (strlen(n) > 40 || !strncmp(n, "sr", 2) || !strncmp(n, "fd", 2) || !strncmp(n, "ram", 3)) continue;
    if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISBLK(st.st_mode)) continue;
    char *slot = strncmp(n, "loop", 4) ? best : loop;
    if (!*slot || strcmp(n, slot + 5) < 0) snprintf(slot, 64, "/dev/%s", n); /* slot: "/dev/NAME" */
  }
  closedir(d);
  const char *dev = *best ? best : loop;
  if (!*dev) { set(r, BLOCKED, "no block device visible"); return; }
  int fd = open(dev, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (refusal(e) || e == ENXIO || e == ENODEV) set(r, BLOCKED, "%s: %s", dev, errname(e));
    else set(r, ERROR, "%s: %s", dev, errname(e));
    return;
  }
  close(fd);
  set(r, POSSIBLE, "opened %s", dev);
}

/* ---- the battery ------------------------------------------------------------------------------ */

struct technique {
  const char *id;
  void (*run)(struct result *);
  int exec_kind; /* 1: exec_in() in a fixed directory, 2: in the --state directories */
  const char *dir;
};
#define T(id, fn) { id, fn, 0, NULL }
#define TX(id, fn, dir) { id, fn, 1, dir }

/* The ids are the contract with src/core/audit.ts (a unit test compares the two lists). */
static const struct technique BATTERY[] = {
  T("write-etc", t_write_etc),
  T("write-usr", t_write_usr),
  T("write-boot", t_write_boot),
  T("read-root", t_read_root),
  T("read-home", t_read_home),
  T("read-shadow", t_read_shadow),
  TX("exec-tmp", t_exec_tmp, "/tmp"),
  TX("exec-var-tmp", t_exec_var_tmp, "/var/tmp"),
  TX("exec-dev-shm", t_exec_dev_shm, "/dev/shm"),
  { "exec-state", t_exec_state, 2, NULL },
  T("exec-memfd", t_exec_memfd),
  T("bind-port", t_bind_port),
  T("connect-out", t_connect_out),
  T("raw-socket", t_raw_socket),
  T("netlink-socket", t_netlink_socket),
  T("load-module", t_load_module),
  T("ptrace-child", t_ptrace_child),
  T("mount", t_mount),
  T("set-clock", t_set_clock),
  T("set-hostname", t_set_hostname),
  T("write-sysctl", t_write_sysctl),
  T("user-namespace", t_user_namespace),
  T("setuid-binary", t_setuid_binary),
  T("wx-memory", t_wx_memory),
  T("see-processes", t_see_processes),
  T("read-kernel-log", t_read_kernel_log),
  T("read-disk", t_read_disk),
};
#define N_BATTERY ((int)(sizeof BATTERY / sizeof *BATTERY))

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void out(const char *s, size_t n) {
  while (n) {
    ssize_t w = write(STDOUT_FILENO, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) _exit(1); /* nobody reads any more */
    s += w;
    n -= (size_t)w;
  }
}

/* JSON string body: quotes, backslashes and control characters escaped, bytes ≥ 0x7f as \u00XX. */
static size_t json_escape(char *dst, size_t cap, const char *src) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < cap; p++) {
    if (*p == '"' || *p == '\\') { dst[o++] = '\\'; dst[o++] = (char)*p; }
    else if (*p < 0x20 || *p >= 0x7f) o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", *p);
    else dst[o++] = (char)*p;
  }
  dst[o] = 0;
  return o;
}

static void emit(const char *id, const struct result *r) {
  char esc[sizeof r->detail * 6 + 1], line[sizeof esc + 128];
  json_escape(esc, sizeof esc, r->detail);
  int n = snprintf(line, sizeof line, "{\"id\":\"%s\",\"outcome\":\"%s\",\"detail\":\"%s\"}\n", id,
                   OUTCOME_NAME[r->outcome], esc);
  out(line, (size_t)n);
}

/* Runs one technique in a child (its own process group) with BUDGET ms; the parent kills the group
 * when the budget is spent, so the technique's own children go too. */
static void run_one(const struct technique *t, long budget, struct result *r) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) { set(r, ERROR, "pipe: %s", errname(errno)); return; }
  pid_t pid = fork();
  if (pid < 0) { set(r, ERROR, "fork: %s", errname(errno)); close(p[0]); close(p[1]); return; }
  if (pid == 0) {
    close(p[0]);
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    alarm((unsigned)((budget + 999) / 1000) + 1); /* a backstop; the parent's deadline comes first */
    struct result res = { ERROR, "no result" };
    t->run(&res);
    (void)!write(p[1], &res, sizeof res); /* < PIPE_BUF: one atomic write */
    _exit(0);
  }
  setpgid(pid, pid); /* both sides, so the group exists before either acts */
  close(p[1]);
  long deadline = now_ms() + budget;
  struct result res;
  size_t got = 0;
  int timed_out = 0;
  for (;;) {
    long left = deadline - now_ms();
    if (left <= 0) { timed_out = 1; break; }
    struct pollfd pf = { .fd = p[0], .events = POLLIN };
    int n = poll(&pf, 1, (int)left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { timed_out = n == 0; break; }
    ssize_t k = read(p[0], (char *)&res + got, sizeof res - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
    if (got == sizeof res) break;
  }
  close(p[0]);
  kill(-pid, SIGKILL); /* before reaping: the group cannot have been reused yet */
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (got == sizeof res && res.outcome >= BLOCKED && res.outcome <= ERROR) {
    res.detail[sizeof res.detail - 1] = 0;
    *r = res;
  } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) set(r, BLOCKED, "SIGSYS: seccomp");
  else if (timed_out || (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)) set(r, ERROR, "timeout after %ld ms", budget);
  else if (WIFSIGNALED(st)) set(r, ERROR, "killed by signal %d", WTERMSIG(st));
  else set(r, ERROR, "no result (exit status %d)", WEXITSTATUS(st));
  /* exec-*: remove the copy should the child have died before its own unlink */
  char path[MAX_PATH_ARG + 64];
  if (t->exec_kind == 1) { exec_name(path, sizeof path, t->dir); unlink(path); }
  for (int i = 0; t->exec_kind == 2 && i < n_state; i++) { exec_name(path, sizeof path, state_dirs[i]); unlink(path); }
}

/* --state DIR: absolute, at most MAX_PATH_ARG bytes of [A-Za-z0-9._@+-/], no "." or ".." component,
 * no "//" and no trailing "/". Whether it exists is exec-state's finding, not a usage error. */
static int valid_dir(const char *s) {
  size_t n = strlen(s);
  if (n < 2 || n > MAX_PATH_ARG || s[0] != '/' || s[n - 1] == '/') return 0;
  if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+-/") != n) return 0;
  for (const char *c = s; *c; c++) {
    if (*c != '/') continue;
    const char *e = c + 1;
    size_t len = strcspn(e, "/");
    if (len == 0 || (len == 1 && e[0] == '.') || (len == 2 && e[0] == '.' && e[1] == '.')) return 0;
  }
  return 1;
}

/* --peer ADDR:PORT with a numeric IPv4 address, or [IPV6]:PORT; port 1-65535. No name lookup. */
static int parse_peer(const char *s) {
  char host[64];
  const char *colon;
  size_t n = strlen(s);
  if (n == 0 || n >= sizeof host + 8) return 0;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) return 0;
    memcpy(host, s + 1, (size_t)(end - s - 1));
    host[end - s - 1] = 0;
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host) return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
  }
  const char *ps = colon + 1;
  if (!*ps || strlen(ps) > 5 || strspn(ps, "0123456789") != strlen(ps)) return 0;
  long port = strtol(ps, NULL, 10);
  if (port < 1 || port > 65535) return 0;
  memset(&peer, 0, sizeof peer);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&peer;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&peer;
  if (s[0] != '[' && inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    peer_len = sizeof *a4;
  } else if (s[0] == '[' && inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    peer_len = sizeof *a6;
  } else return 0;
  snprintf(peer_text, sizeof peer_text, "%s", s);
  return 1;
}

static int usage(const char *why) {
  fprintf(stderr, "autoharden-battery: %s\nusage: autoharden-battery [--state DIR]... [--peer ADDR:PORT]\n", why);
  return 2;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], EXEC_PROBE_ARG) == 0) _exit(0); /* a copy run by exec-* */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--state") && i + 1 < argc) {
      if (n_state == MAX_STATE) return usage("too many --state directories");
      if (!valid_dir(argv[++i])) return usage("--state: not an absolute plain path");
      state_dirs[n_state++] = argv[i];
    } else if (!strcmp(argv[i], "--peer") && i + 1 < argc) {
      if (peer_len) return usage("--peer given twice");
      if (!parse_peer(argv[++i])) return usage("--peer: expected IPV4:PORT or [IPV6]:PORT");
    } else return usage("unknown argument");
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL); /* SIGALRM and SIGCHLD as a technique expects them */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
    unsigned long x = (unsigned long)getpid() * 2654435761UL ^ (unsigned long)now_ms();
    memcpy(rnd, &x, sizeof rnd < sizeof x ? sizeof rnd : sizeof x);
  }
  int o = snprintf(exec_suffix, sizeof exec_suffix, "%d-", (int)getpid());
  for (int i = 0; i < 4 && o + 2 < (int)sizeof exec_suffix; i++) o += snprintf(exec_suffix + o, sizeof exec_suffix - o, "%02x", rnd[i]);

  long end = now_ms() + TOTAL_MS;
  for (int i = 0; i < N_BATTERY; i++) {
    struct result r = { ERROR, "" };
    long left = end - now_ms();
    if (left <= 0) set(&r, ERROR, "not run: time limit of %d s", TOTAL_MS / 1000);
    else run_one(&BATTERY[i], left < TECHNIQUE_MS ? left : TECHNIQUE_MS, &r);
    emit(BATTERY[i].id, &r);
  }
  char done[64];
  int n = snprintf(done, sizeof done, "{\"done\":true,\"count\":%d}\n", N_BATTERY);
  out(done, (size_t)n);
  return 0;
}
