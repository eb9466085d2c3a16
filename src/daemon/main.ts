// The daemon's composition root: builds the real adapters, hands them to the Daemon, owns
// org.autoharden1 once the enrollments are loaded (Type=dbus: systemd counts us started then),
// and stops cleanly on SIGTERM — after the step under way, never mid-trial.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exposure } from '../adapters/analyze.js';
import { packageVersion } from '../adapters/dbusApiServer.js';
import { FileFollower, JournalFollower, unitLogsUntil } from '../adapters/journalFollow.js';
import { lockUnit } from '../adapters/lock.js';
import { Systemd } from '../adapters/systemd.js';
import { RuntimeUnitFiles } from '../adapters/unitFiles.js';
import { unitLogsSince } from '../adapters/unitLogs.js';
import { buildPorts, journalFor } from '../compose.js';
import { CATALOG } from '../core/catalog.js';
import { AutohardenError } from '../core/errors.js';
import { errorSignatures } from '../core/logcheck.js';
import { checkSandbox } from '../engine/sandboxCheck.js';
import { ApiLink } from './apiLink.js';
import { Daemon } from './daemon.js';
import { daemonLogger } from './log.js';
import { EnrollmentStore } from './store.js';
import { SystemdLink } from './systemdLink.js';
import { startWatchdog, watchdogLimit, type Watchdog } from './watchdog.js';

export interface DaemonOptions {
  stateDir: string;
  /** Bus address instead of the system bus (tests). */
  address?: string;
}

/** Runs until SIGTERM/SIGINT; resolves with the exit status. */
export async function runDaemon(o: DaemonOptions): Promise<number> {
  if (process.getuid?.() !== 0) throw new AutohardenError('AccessDenied', 'the autoharden daemon must run as root');
  const log = daemonLogger();
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

  const link = new SystemdLink({
    connect: () => Systemd.connect(o.address ? { address: o.address } : {}),
    onLog: (level, msg) => log[level](msg),
    onGiveUp: giveUp('lost systemd for good'),
  });
  await link.current();

  let daemon: Daemon | undefined;
  let api: ApiLink | undefined;
  const follower = new JournalFollower((l) => daemon?.logLine(l.unit, l.time, l.message), (m) => log.warn(m));
  const unitFiles = new RuntimeUnitFiles();
  const files = new FileFollower((l) => daemon?.logLine(l.unit, l.time, l.message), (m) => log.warn(m));
  daemon = new Daemon({
    stateDir,
    systemd: link,
    catalog: CATALOG,
    store: new EnrollmentStore(stateDir),
    portsFor: (unit, progress) => buildPorts(link, unit, { stateDir, progress }),
    journal: (unit) => journalFor(stateDir, unit),
    lock: (unit, id) => lockUnit(stateDir, unit, id),
    journaledUnits: () => {
      const dir = join(stateDir, 'journal');
      return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -6)).sort() : [];
    },
    follow: (units) => follower.follow(units),
    followFiles: (unit, paths) => files.follow(unit, paths),
    knownErrors: async (unit, until) => errorSignatures(await unitLogsUntil(unit, until)),
    logsSince: (unit, since) => unitLogsSince(unit, since, 500),
    checkSandbox: (unit, settings) => checkSandbox(link, unitFiles, unit, settings),
    exposure,
    signals: {
      progress: (unit, state, message) => api?.progress(unit, state, message),
      trialFinished: (unit, trial, outcome, settings, reason) => api?.trialFinished(unit, trial, outcome, settings, reason),
      alert: (unit, message) => api?.alert(unit, message),
    },
    log: {
      info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m), debug: (m) => log.debug(m),
    },
  });
  link.setEvents({
    unitChanged: (unit, iface, changed) => daemon?.unitChanged(unit, iface, changed),
    resync: () => daemon?.resync(),
  });
  await daemon.start();

  const json = (p: unknown) => Promise.resolve(p).then((v) => JSON.stringify(v));
  let stopping = false;
  api = new ApiLink({
    server: {
      version,
      stateDirectory: stateDir,
      ...(o.address ? { address: o.address } : {}),
      handlers: {
        enroll: (spec) => daemon!.enroll(spec),
        status: (unit) => json(daemon!.status(unit)),
        journal: (unit) => json(daemon!.journal(unit)),
        rollback: (unit, option, all, settleMs) => json(daemon!.rollback(unit, option, all, settleMs)),
        unenroll: (unit, mode) => json(daemon!.unenroll(unit, mode)),
        export: async (unit, format) => daemon!.export(unit, format),
      },
    },
    onLog: (level, msg) => log[level](msg),
    onGiveUp: giveUp('cannot own org.autoharden1 again'),
  });
  await api.start();

  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: stopping at the next safe point (a trial under way is reverted and resumed at the next start)`);
    void daemon!.stop().then(() => exiting?.(0), (e: Error) => {
      log.error(`stopping: ${e.message}`);
      exiting?.(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  const code = await exited;
  stopping = true;
  follower.stop();
  files.stop();
  api?.close();
  link.close();
  await watchdog?.stop();
  log.info(`stopped (exit ${code})`);
  return code;
}
