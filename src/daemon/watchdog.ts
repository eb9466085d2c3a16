// The daemon's watchdog: a worker thread watches a heartbeat the main thread's event loop keeps
// up, and kills the process when the loop stalls (a FIFO log opened for reading, a runaway
// regex, a sync call that never returns) — every unit would otherwise silently go untuned and
// unguarded. autoharden.service has Restart=always: systemd starts a fresh daemon, which resumes
// its enrollments from the state directory.
//
// Why not systemd's own watchdog (WatchdogSec= with sd_notify WATCHDOG=1)? With WatchdogSec=
// systemd accepts WATCHDOG=1 from the main process of a Type=dbus unit too, but the message must
// go to $NOTIFY_SOCKET, an AF_UNIX datagram socket, and Node has no datagram sockets of that
// family without a native addon: Debian unstable runs Node 24 and CI cannot download prebuilt
// binaries. Spawning systemd-notify per beat would need NotifyAccess=all and a process every few
// seconds. A worker thread needs nothing outside Node; it costs a V8 isolate, ~9 MB of RSS.
//
// It kills with SIGABRT, as systemd's watchdog does (WatchdogSignal=), so that a core dump can
// show where the loop hung. The worker writes its one line with writeSync: process.stderr in a
// worker is relayed through the main thread, which is the one that hangs.
import { Worker } from 'node:worker_threads';

export interface WatchdogOptions {
  /** Kill the process when the main loop has not beaten for this long (ms). */
  limitMs: number;
  /** Prepended to the line logged before the kill, e.g. '<2>' for journald's priority. */
  prefix?: string;
  /** Told when the worker itself fails (the daemon then runs unwatched). */
  onError?: (e: Error) => void;
}

export interface Watchdog {
  stop(): Promise<void>;
}

/** The limit the daemon uses: AUTOHARDEN_WATCHDOG_MS, 0 turns the watchdog off (a debugger's
 * breakpoint stalls the loop too). */
export const DEFAULT_WATCHDOG_MS = 30_000;
export function watchdogLimit(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AUTOHARDEN_WATCHDOG_MS;
  if (v === undefined || v === '') return DEFAULT_WATCHDOG_MS;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_WATCHDOG_MS;
}

// Runs in the worker (a string: the worker must not depend on how this module was loaded,
// compiled or under a test runner). It sleeps in Atomics.wait, so it wakes once per period;
// times come from the monotonic clock, so a suspend or a clock step is no stall.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { beat, limitMs, periodMs, prefix } = workerData;
let seen = Atomics.load(beat, 0);
let since = performance.now();
for (;;) {
  if (Atomics.wait(beat, 1, 0, periodMs) !== 'timed-out') break; // stop() set [1]
  const now = performance.now();
  const b = Atomics.load(beat, 0);
  if (b !== seen) { seen = b; since = now; continue; }
  if (now - since < limitMs) continue;
  const msg = 'watchdog: the event loop has not run for ' + Math.round(now - since) + ' ms (limit ' + limitMs + ' ms); aborting so that systemd restarts the daemon';
  try { writeSync(2, prefix + JSON.stringify({ level: 60, time: Date.now(), msg }) + '\\n'); } catch {}
  process.kill(process.pid, 'SIGABRT');
  break;
}
`;

/** Starts the worker and the heartbeat. Neither keeps the process alive. */
export function startWatchdog(o: WatchdogOptions): Watchdog {
  // Beat and check four times per limit: a loop that runs is seen at most half a limit late.
  const periodMs = Math.max(10, Math.floor(o.limitMs / 4));
  // [0]: the heartbeat counter; [1]: 1 once stopped.
  const beat = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { beat, limitMs: o.limitMs, periodMs, prefix: o.prefix ?? '' } });
  worker.on('error', (e) => o.onError?.(e));
  worker.unref();
  const timer = setInterval(() => Atomics.add(beat, 0, 1), periodMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      Atomics.store(beat, 1, 1);
      Atomics.notify(beat, 1);
      await worker.terminate();
    },
  };
}
