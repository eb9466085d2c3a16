// What every command shares: the progress log on stderr, option parsers, printing, and whether
// to go through the daemon. Kept light: `autoharden status` loads little more than this, so the
// engine, the adapters and the logger are loaded only by the commands that use them.
import { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';
import { type Command, Option } from 'commander';
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { ApiClient } from '../adapters/dbusApiClient.js';
import { AutohardenError } from '../core/errors.js';
import type { ProgressEvent } from '../engine/ports.js';

/** As compose.ts has it (not imported from there: that would load every adapter). */
export const DEFAULT_STATE_DIR = '/var/lib/autoharden';

let logger: Logger | undefined;
/** The progress log on stderr: pino JSON, pretty at a terminal. Created on first use. */
function getLog(): Logger {
  if (!logger) {
    const require = createRequire(import.meta.url);
    const { pino } = require('pino') as typeof import('pino');
    if (process.stderr.isTTY) {
      const pretty = require('pino-pretty') as typeof import('pino-pretty');
      logger = pino({ base: undefined }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname' }));
    } else {
      logger = pino({ base: undefined }, pino.destination({ fd: 2, sync: true }));
    }
  }
  return logger;
}

export const log = {
  info: (msg: string) => getLog().info(msg),
  warn: (msg: string) => getLog().warn(msg),
  error: (msg: string) => getLog().error(msg),
};

export function progress(e: ProgressEvent): void {
  if (e.type === 'info') log.info(e.message);
  else if (e.type === 'trial') log.info(`trial #${e.trial}: ${e.settings.map((s) => `${s.option}=${s.value}`).join(' ')}`);
  else log.info(`trial #${e.trial}: ${e.outcome}: ${e.reason}`);
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new AutohardenError('AccessDenied', 'autoharden must run as root to change units');
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
    .option('--settle <ms>', 'how long the unit must stay up after each restart', int('--settle', SETTLE_MIN_MS, SETTLE_MAX_MS), DEFAULT_SETTLE_MS)
    .addOption(new Option('--strategy <name>', 'search strategy').choices(['one-at-a-time', 'adaptive']).default('adaptive'))
    .option('--no-persist', 'keep the accepted set under /run (gone after reboot) instead of /etc')
    .option('--allow-net <cidr...>', 'peers that may reach the service or that it reaches, besides loopback: allows IPAddressDeny with these allowed')
    .option('--local-only', 'only loopback may reach the service: allows IPAddressDeny=any with localhost allowed')
    .option('--confine-sessions', 'also apply settings that confine the login sessions the service spawns (sshd, cron)')
    .option('--workload <spec>', 'measure what seccomp filters cost: exec:COMMAND (its wall time), higher:/REGEX/:COMMAND or lower:/REGEX/:COMMAND')
    .option('--budget <pct>', 'the slowdown the workload may show, e.g. 5% (default 5%)')
    .option('--json', 'print one JSON document');
}

export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

export function print(json: boolean, data: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`);
}

export async function requireJournal(stateDir: string, unit: string) {
  const { JournalStore } = await import('../adapters/journalStore.js');
  const j = new JournalStore(stateDir, unit);
  if (!j.exists()) throw new AutohardenError('UnitUnknown', `autoharden has no journal for ${unit} in ${stateDir}; it was never tuned`);
  return j;
}

export async function withUnit<T>(stateDir: string, unit: string, fn: () => Promise<T>): Promise<T> {
  const { lockUnit } = await import('../adapters/lock.js');
  const release = lockUnit(stateDir, unit);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** The state directory: --state-dir, else the one systemd gave the daemon, else the default. */
export const stateDirOpt = () => new Option('--state-dir <dir>', 'state directory').default(process.env.STATE_DIRECTORY?.split(':')[0] || DEFAULT_STATE_DIR);

/** A client of the running daemon when it serves this state directory; undefined when no daemon
 * runs (then commands act on the state directory themselves). A caller the bus refuses gets
 * AccessDenied. */
export async function daemonFor(stateDir: string): Promise<ApiClient | undefined> {
  if (process.env.AUTOHARDEN_NO_DAEMON === '1') return undefined;
  const client = await ApiClient.connect({ timeoutMs: 3000 });
  if (!client) return undefined;
  try {
    if (!(await client.daemonRunning())) {
      client.close();
      return undefined;
    }
    if ((await client.property('StateDirectory')) !== stateDir) {
      client.close();
      return undefined;
    }
    return client;
  } catch (e) {
    client.close();
    throw e;
  }
}

/** The daemon, or an error saying it does not run. */
export async function requireDaemon(): Promise<ApiClient> {
  const client = await ApiClient.connect({ timeoutMs: 3000 });
  if (client && (await client.daemonRunning().catch(() => false))) return client;
  client?.close();
  throw new AutohardenError('Failed', 'the autoharden daemon is not running: start it (systemctl start autoharden.service), or tune in the foreground with autoharden tune');
}
