// What every command shares: the progress log on stderr (text, or JSON with --log-format json),
// option parsers, printing, and the App a command runs on. Kept light: `autoharden status` loads
// little more than this, so the engine, the adapters and pino are loaded only by those that use them.
import { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';
import { type Command, Option } from 'commander';
import { closeSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { appFor, type App } from '../app/index.js';
import { AutohardenError } from '../core/errors.js';
import { refuseControl } from '../core/text.js';
import { formatTimespan, timespanOption } from '../core/timespan.js';
import { LIMIT_BOUNDS } from '../core/tuneLimits.js';
import type { ProgressEvent } from '../engine/ports.js';
import { printable } from './format.js';
import { LOG_FORMATS, progressFields, progressText, type LogFormat } from './progress.js';

/** As compose/state.ts has it (not imported from there: that would load the state adapters). */
export const DEFAULT_STATE_DIR = '/var/lib/autoharden';

/** Writes to stderr and never throws. A dropped ssh session leaves the CLI a hung-up terminal
 * (EIO) or a pipe nobody reads (EPIPE): a tune must still revert its trial then, not die on a
 * progress line. What cannot be written is dropped. */
export function writeStderr(s: string): void {
  let buf = Buffer.from(s);
  try {
    while (buf.length) buf = buf.subarray(writeSync(2, buf));
  } catch {
    /* nowhere left to say it */
  }
}

let logFormat: LogFormat = 'text';
let jsonLog: Logger | undefined;

/** --log-format: text (the default, for people, terminal or not) or json (one pino object a line,
 * for machines). Set before the command runs (program.ts's preAction hook). */
export function setLogFormat(f: LogFormat): void {
  logFormat = f;
}

/** The JSON log, created on first use: pino is loaded only by commands that log as JSON. */
function getJsonLog(): Logger {
  if (!jsonLog) {
    const require = createRequire(import.meta.url);
    const { pino } = require('pino') as typeof import('pino');
    jsonLog = pino({ base: undefined }, { write: writeStderr });
  }
  return jsonLog;
}

type Level = 'info' | 'warn' | 'error';
function say(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  if (logFormat === 'json') getJsonLog()[level](fields, msg);
  else writeStderr(`${level === 'info' ? '' : `${level === 'warn' ? 'warning' : 'error'}: `}${printable(msg)}\n`);
}

export const log = {
  info: (msg: string) => say('info', msg),
  warn: (msg: string) => say('warn', msg),
  error: (msg: string) => say('error', msg),
};

/** Progress of a tune, rollback or re-verify on stderr (cli/progress.ts writes the lines). */
export function progress(e: ProgressEvent): void {
  say('info', progressText(e), progressFields(e));
}

/** --log-format, for every command that logs progress. */
export const logFormatOpt = (what = 'progress on stderr: text for people, json (one object a line) for machines') =>
  new Option('--log-format <format>', what).choices(LOG_FORMATS).default('text');

let hungUp = false;

/** Call just before exiting. Node 20 aborts at exit (status 134, nodejs/node#51519, fixed in later
 * releases) when it cannot restore the modes of a terminal that hung up, and it skips descriptors
 * the program closed: after SIGHUP there is no one left to talk to, so close stdin, stdout and
 * stderr, and the exit status stays 129. */
/** True once a SIGHUP said the terminal is gone. */
export const stdioHungUp = (): boolean => hungUp;

export function releaseStdioAfterHangup(): void {
  if (!hungUp) return;
  for (const fd of [0, 1, 2]) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}

/** SIGINT, SIGTERM and SIGHUP (a dropped ssh session) all abort the returned signal: the engine
 * stops at its next check and the caller reverts. A later signal is reported and ignored: the
 * CLI must not die during its own recovery. The handlers stay until the process exits. */
export function abortOnSignals(): { signal: AbortSignal; received(): NodeJS.Signals | undefined } {
  const ac = new AbortController();
  let first: NodeJS.Signals | undefined;
  const on = (sig: NodeJS.Signals) => {
    if (sig === 'SIGHUP') hungUp = true;
    if (first) {
      writeStderr(`autoharden: ${sig}: already reverting; wait\n`);
      return;
    }
    first = sig;
    writeStderr(`autoharden: ${sig}: stopping at the next safe point, then reverting the trial under way\n`);
    ac.abort();
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, on);
  // After SIGHUP stdout and stderr may be gone too: a failed write must not kill the command (an
  // unhandled 'error' event would), and there is nowhere left to report it.
  for (const out of [process.stdout, process.stderr]) out.on('error', () => {});
  return { signal: ac.signal, received: () => first };
}

export function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new AutohardenError('Usage', `${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** The options `tune` and `enroll` share: what to probe and how long to settle, the search, the
 * safety declarations and the cost budget. */
export function addTuneOptions(cmd: Command): Command {
  return cmd
    .option('--probe <spec>', 'health probe: http(s)://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND (repeatable)', collect, [])
    .addOption(settleOpt('how long the unit must stay up after each restart'))
    .addOption(new Option('--strategy <name>', 'search strategy').choices(['one-at-a-time', 'adaptive']).default('adaptive'))
    .option('--no-persist', 'keep the accepted set under /run (gone after reboot) instead of /etc')
    .option('--allow-net <cidr...>', 'peers that may reach the service or that it reaches, besides loopback: allows IPAddressDeny with these allowed')
    .option('--local-only', 'only loopback may reach the service: allows IPAddressDeny=any with localhost allowed')
    .option('--confine-sessions', 'also apply settings that confine the login sessions the service spawns (sshd, cron)')
    .option('--workload <spec>', 'measure what seccomp filters cost: exec:COMMAND (its wall time), higher:/REGEX/:COMMAND or lower:/REGEX/:COMMAND', workloadText)
    .option('--budget <pct>', 'the slowdown the workload may show, e.g. 5% (default 5%)')
    .option('--max-restarts <n>', 'stop early, with what was verified, rather than restart the unit more often than this in all', int('--max-restarts', LIMIT_BOUNDS.restarts.min, LIMIT_BOUNDS.restarts.max))
    .option('--max-time <time>', 'stop early, with what was verified, rather than tune longer than this, e.g. 10min', timespanOption('--max-time', LIMIT_BOUNDS.timeMs.min, LIMIT_BOUNDS.timeMs.max))
    .option('--json', 'print one JSON document')
    .addOption(logFormatOpt());
}

/** --settle: a systemd time span ("2s", "500ms"); a bare number is refused (core/timespan.ts). */
export const settleOpt = (what: string) =>
  new Option('--settle <time>', `${what}, e.g. 500ms, 2s`)
    .argParser(timespanOption('--settle', SETTLE_MIN_MS, SETTLE_MAX_MS))
    .default(DEFAULT_SETTLE_MS, formatTimespan(DEFAULT_SETTLE_MS));

/** --workload: its text is journaled and run by a shell; control characters and line breaks are
 * refused before it is parsed. */
export function workloadText(v: string): string {
  return refuseControl(v, 'bad workload spec', { percent: true });
}

export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function print(json: boolean, data: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`);
}

/** The state directory: --state-dir, else the one systemd gave the daemon, else the default. */
export const stateDirOpt = () => new Option('--state-dir <dir>', 'state directory').default(process.env.STATE_DIRECTORY?.split(':')[0] || DEFAULT_STATE_DIR);

/** Runs fn on the App for this state directory (the daemon's when it serves it), then lets go of it. */
export async function withApp<T>(stateDir: string, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await appFor(stateDir, progress);
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}
