/* autoharden-burner: the cost sample (issue 6). A tiny TCP server on 127.0.0.1 whose requests make
 * many system calls that seccomp filters inspect by argument, so that a sandbox setting that
 * installs such a filter measurably slows it; and the client that asks for one such request.
 *
 *   autoharden-burner serve [PORT]            answer on 127.0.0.1:PORT (default 82), one request at a time
 *   autoharden-burner client N [OP [PORT]]    ask for N rounds of OP, print the answer, exit 0 if it is "ok"
 *
 * OP (what one round does in the server):
 *   socket    socket(AF_INET, SOCK_DGRAM) + close     RestrictAddressFamilies= inspects socket()'s family
 *   mmap      mmap(PROT_READ|PROT_WRITE) + munmap      MemoryDenyWriteExecute= inspects mmap()'s prot
 *   mprotect  mprotect(READ) + mprotect(READ|WRITE)    MemoryDenyWriteExecute= inspects mprotect()'s prot
 *   getppid   getppid()                                by number only: the seccomp action cache skips it
 *   all       socket + mmap + mprotect                 (the default)
 *   socket-fast, mmap-fast   the same calls with arguments the kernel rejects at once (EINVAL), after
 *             the seccomp filters ran: what is left is mostly the filters' own cost
 *
 * The answer is one line: "ok OP N ns=NANOSECONDS" (time spent in the server's loop), or
 * "error WHAT: strerror". Plain C + POSIX, no dependencies: cc -O2 -o autoharden-burner autoharden-burner.c
 *
 * Measured in a box (kernel 6.18, systemd 252, 2 vCPUs; bench/cost.sh): a request of 40 000 × all
 * takes ~0.45 s unsandboxed, and 2 000 000 × socket-fast ~0.21 s. Any seccomp filter costs every
 * system call ~25-30 ns to enter seccomp, even one the action cache allows by number; a call some
 * filter inspects by argument runs every filter the unit has (systemd installs one per setting and
 * architecture), so the cost of the argument-inspecting settings grows with the rest of the set.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 82
#define MAX_ROUNDS 100000000L

static long page_size;
static void *page; /* the page the mprotect rounds toggle */

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_port(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < 1 || v > 65535) {
    fprintf(stderr, "autoharden-burner: bad port %s\n", s);
    exit(2);
  }
  return (int)v;
}

/* One round of OP; on failure writes "error …" into err and returns -1. */
static int round_of(const char *op, char *err, size_t errlen) {
  int all = strcmp(op, "all") == 0;
  if (all || strcmp(op, "socket") == 0) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { snprintf(err, errlen, "error socket: %s", strerror(errno)); return -1; }
    close(fd);
  }
  if (all || strcmp(op, "mmap") == 0) {
    void *p = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { snprintf(err, errlen, "error mmap: %s", strerror(errno)); return -1; }
    munmap(p, (size_t)page_size);
  }
  if (all || strcmp(op, "mprotect") == 0) {
    if (mprotect(page, (size_t)page_size, PROT_READ) != 0 ||
        mprotect(page, (size_t)page_size, PROT_READ | PROT_WRITE) != 0) {
      snprintf(err, errlen, "error mprotect: %s", strerror(errno));
      return -1;
    }
  }
  if (strcmp(op, "getppid") == 0) syscall(SYS_getppid);
  if (strcmp(op, "socket-fast") == 0) {
    /* a flag bit socket() does not know: EINVAL before any allocation */
    int fd = socket(AF_INET, SOCK_DGRAM | (1 << 30), 0);
    if (fd >= 0) close(fd);
    else if (errno != EINVAL) { snprintf(err, errlen, "error socket: %s", strerror(errno)); return -1; }
  }
  if (strcmp(op, "mmap-fast") == 0) {
    /* length 0: EINVAL before any mapping */
    void *p = mmap(NULL, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) munmap(p, 0);
    else if (errno != EINVAL) { snprintf(err, errlen, "error mmap: %s", strerror(errno)); return -1; }
  }
  return 0;
}

static int known_op(const char *op) {
  return !strcmp(op, "socket") || !strcmp(op, "mmap") || !strcmp(op, "mprotect") || !strcmp(op, "getppid") ||
         !strcmp(op, "all") || !strcmp(op, "socket-fast") || !strcmp(op, "mmap-fast");
}

static void answer(int c) {
  char req[128], reply[256];
  size_t got = 0;
  /* the request is one short line: "OP N\n" */
  while (got < sizeof req - 1) {
    ssize_t n = read(c, req + got, sizeof req - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    if (memchr(req, '\n', got)) break;
  }
  req[got] = '\0';
  char op[32];
  long rounds;
  if (sscanf(req, "%31s %ld", op, &rounds) != 2 || rounds < 1 || rounds > MAX_ROUNDS || !known_op(op)) {
    snprintf(reply, sizeof reply, "error bad request (want: OP N, OP one of socket mmap mprotect getppid all socket-fast mmap-fast)\n");
  } else {
    long long t0 = now_ns();
    long i;
    char err[160] = "";
    for (i = 0; i < rounds; i++)
      if (round_of(op, err, sizeof err) != 0) break;
    long long dt = now_ns() - t0;
    if (i < rounds) snprintf(reply, sizeof reply, "%s\n", err);
    else snprintf(reply, sizeof reply, "ok %s %ld ns=%lld\n", op, rounds, dt);
  }
  size_t len = strlen(reply), off = 0;
  while (off < len) {
    ssize_t n = write(c, reply + off, len - off);
    if (n <= 0) break;
    off += (size_t)n;
  }
}

static int serve(int port) {
  signal(SIGPIPE, SIG_IGN);
  page = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) { perror("autoharden-burner: mmap"); return 1; }
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) { perror("autoharden-burner: socket"); return 1; }
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("autoharden-burner: bind"); return 1; }
  if (listen(s, 16) != 0) { perror("autoharden-burner: listen"); return 1; }
  fprintf(stderr, "autoharden-burner: listening on 127.0.0.1:%d\n", port);
  for (;;) {
    int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("autoharden-burner: accept");
      return 1;
    }
    answer(c);
    close(c);
  }
}

static int client(long rounds, const char *op, int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) { perror("autoharden-burner client: socket"); return 1; }
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    fprintf(stderr, "autoharden-burner client: connect 127.0.0.1:%d: %s\n", port, strerror(errno));
    return 1;
  }
  char req[64], reply[256];
  int len = snprintf(req, sizeof req, "%s %ld\n", op, rounds);
  if (write(s, req, (size_t)len) != len) { perror("autoharden-burner client: write"); return 1; }
  size_t got = 0;
  for (;;) {
    ssize_t n = read(s, reply + got, sizeof reply - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
    if (got == sizeof reply - 1) break;
  }
  reply[got] = '\0';
  close(s);
  if (got == 0) { fprintf(stderr, "autoharden-burner client: no answer\n"); return 1; }
  fputs(reply, stdout);
  return strncmp(reply, "ok ", 3) == 0 ? 0 : 1;
}

static void usage(void) {
  fprintf(stderr, "usage: autoharden-burner serve [PORT]\n"
                  "       autoharden-burner client N [socket|mmap|mprotect|getppid|all|socket-fast|mmap-fast [PORT]]\n");
  exit(2);
}

int main(int argc, char **argv) {
  page_size = sysconf(_SC_PAGESIZE);
  if (argc >= 2 && strcmp(argv[1], "serve") == 0 && argc <= 3) {
    return serve(argc == 3 ? parse_port(argv[2]) : DEFAULT_PORT);
  }
  if (argc >= 3 && strcmp(argv[1], "client") == 0 && argc <= 5) {
    char *end;
    long rounds = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || rounds < 1 || rounds > MAX_ROUNDS) usage();
    const char *op = argc >= 4 ? argv[3] : "all";
    if (!known_op(op)) usage();
    return client(rounds, op, argc == 5 ? parse_port(argv[4]) : DEFAULT_PORT);
  }
  usage();
  return 2;
}
