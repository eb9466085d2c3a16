// The daemon process: runs what compose/daemon.ts builds, owns org.autoharden1 once the
// enrollments are loaded (Type=dbus: systemd counts us started then), and stops cleanly on
// SIGTERM — after the step under way, never mid-trial.
import { mkdirSync } from 'node:fs';
import { packageVersion } from '../adapters/dbusApiServer.js';
import { composeDaemon } from '../compose/daemon.js';
import { AutohardenError } from '../core/errors.js';
import { daemonLogger, type DaemonLogFormat } from './log.js';
import { startWatchdog, watchdogLimit, type Watchdog } from './watchdog.js';

export interface DaemonOptions {
  stateDir: string;
  /** Its log on stdout: text (default) or pino JSON; journald priorities either way (log.ts). */
  logFormat?: DaemonLogFormat;
  /** Bus address instead of the system bus (tests). */
  address?: string;
}

/** Runs until SIGTERM/SIGINT; resolves with the exit status. */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  if (process.getuid?.() !== 0) throw new AutohardenError('AccessDenied', 'the autoharden daemon must run as root');
  const log = daemonLogger(o.logFormat);
  const { stateDir } = o;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const version = packageVersion();
  log.info(`autoharden ${version} daemon starting (state in ${stateDir}, pid ${process.pid})`);
  // A stalled event loop stops tuning and guarding of every unit: abort, and systemd restarts us.
  const limitMs = watchdogLimit();
  let watchdog: Watchdog | undefined;
  if (limitMs > 0) {
    const prefix = process.env.JOURNAL_STREAM ? '<2>' : ''; // crit, as log.ts maps fatal
    watchdog = startWatchdog({ limitMs, prefix, onError: (e) => log.error(`watchdog failed, running unwatched: ${e.message}`) });
  } else {
    log.warn('watchdog off (AUTOHARDEN_WATCHDOG_MS=0)');
  }

  let exiting: ((code: number) => void) | undefined;
  const exited = new Promise<number>((resolve) => (exiting = resolve));
  const giveUp = (what: string) => (e: Error) => {
    log.fatal(`${what}: ${e.message}; exiting so that systemd restarts the daemon`);
    exiting?.(1);
  };

  const { daemon, api, close } = await composeDaemon({
    stateDir,
    ...(o.address ? { address: o.address } : {}),
    version,
    log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m), debug: (m) => log.debug(m) },
    giveUp,
  });
  await daemon.start();
  let stopping = false;
  await api.start();

  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: stopping at the next safe point (a trial under way is reverted and resumed at the next start)`);
    void daemon.stop().then(() => exiting?.(0), (e: Error) => {
      log.error(`stopping: ${e.message}`);
      exiting?.(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const code = await exited;
  stopping = true;
  close();
  await watchdog?.stop();
  log.info(`stopped (exit ${code})`);
  return code;
}
