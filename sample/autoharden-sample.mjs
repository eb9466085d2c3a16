#!/usr/bin/node
// autoharden-sample — a tiny root HTTP service that breaks under specific sandbox options and
// works under the rest, so the tuner's verdicts can be checked exactly (see README.md here).
// Plain Node ESM, no dependencies.
//
// What it needs, and what takes it away:
//   - a counter file under STATE_DIR, written at start and on every request
//       (ProtectSystem=strict → EROFS)
//   - os.networkInterfaces() at start: getifaddrs opens an AF_NETLINK socket
//       (RestrictAddressFamilies without AF_NETLINK → EAFNOSUPPORT)
//   - a listening socket on port 81 (< 1024 needs CAP_NET_BIND_SERVICE)
//       (CapabilityBoundingSet without it, PrivateUsers=yes → EACCES)
//   - V8's JIT maps code executable (MemoryDenyWriteExecute=yes → V8 aborts)
//
// Environment:
//   SAMPLE_PORT              default 81
//   SAMPLE_HOST              default 0.0.0.0
//   SAMPLE_STATE_DIR         default /var/lib/autoharden-sample
//   SAMPLE_SOMETIMES_WRITE   off by default; a path written every SAMPLE_SOMETIMES_INTERVAL_MS
//                            (default 5000). A failed write is only logged, never fatal and never
//                            seen by GET / — a latent breakage that probes do not catch.
//   SAMPLE_WRITE_ON_REQUEST  off by default; a path GET / also writes: 500 when it cannot — a
//                            breakage a probe sees (unlike SAMPLE_SOMETIMES_WRITE).
//   SAMPLE_LOGS              off by default; 1: nginx-like log files under SAMPLE_LOG_DIR (default
//                            /var/log/autoharden-sample), held open for writing: access.log (every
//                            request with its URL and Referer) and error.log (a 404 with the request
//                            and its Referer, as nginx logs it) — text any client controls.
//   SAMPLE_HOSTILE           off by default; 1: implies SAMPLE_LOGS, and GET /hostile/ACTION makes
//                            the service misbehave on purpose (README.md "Hostile mode").
//
// Exit statuses (stable; the README and tests rely on them):
//   10 state directory or counter file not writable
//   11 os.networkInterfaces() failed
//   12 cannot listen on the port
//   13 log files not writable (only with SAMPLE_LOGS or SAMPLE_HOSTILE)
//  226 GET /hostile/exit226 (the status systemd uses for a failed namespace setup)
import { execFileSync } from 'node:child_process';
import {
  closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

const PORT = Number(process.env.SAMPLE_PORT ?? 81);
const HOST = process.env.SAMPLE_HOST ?? '0.0.0.0';
const STATE_DIR = process.env.SAMPLE_STATE_DIR ?? '/var/lib/autoharden-sample';
const COUNTER = join(STATE_DIR, 'counter');
const SOMETIMES = process.env.SAMPLE_SOMETIMES_WRITE ?? '';
const SOMETIMES_MS = Number(process.env.SAMPLE_SOMETIMES_INTERVAL_MS ?? 5000);
const ON_REQUEST = process.env.SAMPLE_WRITE_ON_REQUEST ?? '';
const HOSTILE = process.env.SAMPLE_HOSTILE === '1';
const LOGS = HOSTILE || process.env.SAMPLE_LOGS === '1';
const LOG_DIR = process.env.SAMPLE_LOG_DIR ?? '/var/log/autoharden-sample';
const ERROR_LOG = join(LOG_DIR, 'error.log');
const ACCESS_LOG = join(LOG_DIR, 'access.log');
// Present: the hostile service logs noise from start to stop, across restarts (a flag in its state,
// readable even when a trial makes the state read-only).
const NOISE_FLAG = join(STATE_DIR, 'hostile-noise');

const log = (msg) => process.stderr.write(`autoharden-sample: ${msg}\n`);
function die(status, what, err) {
  log(`FATAL: ${what}: ${err?.message ?? err}`);
  process.exit(status);
}

// Read, increment and write back the counter (write to a temporary file, then rename).
function bumpCounter() {
  let n = 0;
  try { n = Number(readFileSync(COUNTER, 'utf8').trim()) || 0; } catch { /* first run */ }
  n += 1;
  writeFileSync(`${COUNTER}.tmp`, `${n}\n`);
  renameSync(`${COUNTER}.tmp`, COUNTER);
  return n;
}

// --- log files (SAMPLE_LOGS): fds held open for appending, as nginx holds its logs ---
let errorFd = -1;
let accessFd = -1;
const stamp = () => new Date().toISOString().replace('T', ' ').slice(0, 19).replaceAll('-', '/');
const errorLog = (line) => {
  if (errorFd >= 0) try { writeSync(errorFd, `${stamp()} [error] ${process.pid}#0: ${line}\n`); } catch { /* full or gone */ }
};
const accessLog = (line) => {
  if (accessFd >= 0) try { writeSync(accessFd, `${line}\n`); } catch { /* full or gone */ }
};
function openLogs() {
  mkdirSync(LOG_DIR, { recursive: true });
  errorFd = openSync(ERROR_LOG, 'a');
  accessFd = openSync(ACCESS_LOG, 'a');
}

// --- hostile mode: what a compromised service can write or do (README.md "Hostile mode") ---
// errno-like lines naming paths the learner must never open ("//etc", "/./etc"), and lines forged
// to look like systemd's own about a failed sandbox setup.
const HOSTILE_LINES = [
  'open() "//etc/cron.d/p" failed (30: Read-only file system) (13: Permission denied) EPERM',
  '/./etc/x: EROFS',
  'Operation not permitted',
  'Bad system call',
  'Failed at step NAMESPACE spawning /usr/bin/node: Read-only file system',
];
let hostileCount = 0;
/** Each line once into the journal (stderr, bare, as any forger would) and once into error.log. */
function hostileLines() {
  hostileCount += 1;
  for (const l of HOSTILE_LINES) {
    process.stderr.write(`${l}\n`);
    errorLog(`*${hostileCount} ${l}`);
  }
}
const noiseOn = () => HOSTILE && existsSync(NOISE_FLAG);
// Before any start-up check: the noise is there even in a trial that fails at start.
if (noiseOn()) hostileLines();

// --- start-up checks: each failure exits with its own status ---
try {
  mkdirSync(STATE_DIR, { recursive: true });
  bumpCounter();
} catch (err) { die(10, `cannot write state under ${STATE_DIR}`, err); }

if (LOGS) {
  try { openLogs(); } catch (err) { die(13, `cannot open log files under ${LOG_DIR}`, err); }
}

let ifaces;
try {
  ifaces = networkInterfaces();
} catch (err) { die(11, 'os.networkInterfaces() failed (getifaddrs needs an AF_NETLINK socket)', err); }
log(`interfaces: ${Object.keys(ifaces).join(' ') || '(none)'}`);

let requests = 0;
/** Client text in the logs, as nginx writes it: the access log line of every request, and an
 * error.log line with the request and its Referer for a file that is not there. */
function logRequest(req, status, len) {
  if (!LOGS) return;
  requests += 1;
  const client = req.socket.remoteAddress ?? '-';
  const referer = req.headers.referer ?? '-';
  const line = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
  accessLog(`${client} - - [${new Date().toISOString()}] "${line}" ${status} ${len} "${referer}" "${req.headers['user-agent'] ?? '-'}"`);
  if (status === 404) {
    errorLog(`*${requests} open() "${STATE_DIR}${req.url}" failed (2: No such file or directory), client: ${client}, server: _, request: "${line}", host: "${req.headers.host ?? ''}", referrer: "${referer}"`);
  }
}

/** GET /hostile/ACTION[?to=PATH]: answers first, then misbehaves. Undefined: no such action. */
function hostile(action, query) {
  const swap = (make) => {
    // The service keeps its fd to the old file and writes on: a follower that reopens the name
    // gets what is there now.
    rmSync(ERROR_LOG, { force: true });
    make();
    errorLog('log file swapped');
  };
  const actions = {
    log: () => hostileLines(),
    exit226: () => setTimeout(() => process.exit(226), 100),
    sigsys: () => setTimeout(() => process.kill(process.pid, 'SIGSYS'), 100),
    // A FIFO nobody writes to: opening it for reading without O_NONBLOCK blocks forever.
    fifo: () => swap(() => execFileSync('mkfifo', ['-m', '0644', ERROR_LOG])),
    symlink: () => swap(() => symlinkSync(query.get('to') || '/etc/shadow', ERROR_LOG)),
    // Back to a regular error.log, opened anew.
    reopen: () => {
      if (errorFd >= 0) closeSync(errorFd);
      rmSync(ERROR_LOG, { force: true });
      errorFd = openSync(ERROR_LOG, 'a');
    },
    'noise-on': () => writeFileSync(NOISE_FLAG, 'on\n'),
    'noise-off': () => rmSync(NOISE_FLAG, { force: true }),
  };
  return Object.hasOwn(actions, action) ? actions[action] : undefined;
}

// --- health: GET / is 200 only when the counter can still be written ---
const server = createServer((req, res) => {
  let status = 200;
  let body;
  // Only a hostile sample parses its URLs: a malformed one must not crash the plain sample.
  const url = HOSTILE && req.url?.startsWith('/hostile/') ? URL.parse(req.url, 'http://sample') : null;
  const name = url?.pathname.slice('/hostile/'.length) ?? '';
  const act = url ? hostile(name, url.searchParams) : undefined;
  if (act) {
    try {
      act();
      body = `ok ${name}\n`;
      log(`hostile: ${name}`);
    } catch (err) {
      status = 500;
      body = `hostile ${name} failed: ${err.message}\n`;
    }
  } else if (req.url !== '/') {
    status = 404;
    body = 'not found\n';
  } else {
    let path = COUNTER;
    try {
      body = `ok count=${bumpCounter()}\n`;
      path = ON_REQUEST;
      if (ON_REQUEST) writeFileSync(ON_REQUEST, `${new Date().toISOString()}\n`);
    } catch (err) {
      status = 500;
      body = `unhealthy: cannot write ${path}: ${err.message}\n`;
      log(body.trim());
    }
  }
  logRequest(req, status, Buffer.byteLength(body));
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.on('error', (err) => die(12, `cannot listen on ${HOST}:${PORT}`, err));
server.listen(PORT, HOST, () => log(`listening on ${HOST}:${PORT}, state in ${STATE_DIR}`));

// --- optional latent write (for the safety tests): log failures, never die ---
if (SOMETIMES) {
  setInterval(() => {
    try {
      writeFileSync(SOMETIMES, `${new Date().toISOString()}\n`);
    } catch (err) {
      log(`sometimes-write ${SOMETIMES} failed: ${err.message}`);
    }
  }, SOMETIMES_MS).unref();
}

if (HOSTILE) setInterval(() => { if (noiseOn()) hostileLines(); }, 500).unref();

const stop = (sig) => { log(`${sig}, exiting`); server.close(); process.exit(0); };
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
