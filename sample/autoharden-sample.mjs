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
//
// Exit statuses (stable; the README and tests rely on them):
//   10 state directory or counter file not writable
//   11 os.networkInterfaces() failed
//   12 cannot listen on the port
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';

const PORT = Number(process.env.SAMPLE_PORT ?? 81);
const HOST = process.env.SAMPLE_HOST ?? '0.0.0.0';
const STATE_DIR = process.env.SAMPLE_STATE_DIR ?? '/var/lib/autoharden-sample';
const COUNTER = join(STATE_DIR, 'counter');
const SOMETIMES = process.env.SAMPLE_SOMETIMES_WRITE ?? '';
const SOMETIMES_MS = Number(process.env.SAMPLE_SOMETIMES_INTERVAL_MS ?? 5000);

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

// --- start-up checks: each failure exits with its own status ---
try {
  mkdirSync(STATE_DIR, { recursive: true });
  bumpCounter();
} catch (err) { die(10, `cannot write state under ${STATE_DIR}`, err); }

let ifaces;
try {
  ifaces = networkInterfaces();
} catch (err) { die(11, 'os.networkInterfaces() failed (getifaddrs needs an AF_NETLINK socket)', err); }
log(`interfaces: ${Object.keys(ifaces).join(' ') || '(none)'}`);

// --- health: GET / is 200 only when the counter can still be written ---
const server = createServer((req, res) => {
  let status = 200;
  let body;
  if (req.url !== '/') {
    status = 404;
    body = 'not found\n';
  } else {
    try {
      body = `ok count=${bumpCounter()}\n`;
    } catch (err) {
      status = 500;
      body = `unhealthy: cannot write ${COUNTER}: ${err.message}\n`;
      log(body.trim());
    }
  }
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

const stop = (sig) => { log(`${sig}, exiting`); server.close(); process.exit(0); };
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
