// The daemon's adapters, built in one place: systemd (kept connected), the journal and log-file
// followers, the sandbox check, the state directory, and org.autoharden1 serving the use cases of
// app/registry.ts. daemon/main.ts runs what this builds.
import { FileFollower, JournalFollower, unitLogsUntil } from '../adapters/journalFollow.js';
import { Systemd } from '../adapters/systemd.js';
import { readResolvedSyscallGroups } from '../adapters/syscallGroups.js';
import { RuntimeUnitFiles } from '../adapters/unitFiles.js';
import { unitLogsSince } from '../adapters/unitLogs.js';
import { learnedCatalog, learnFromTune } from '../app/priors.js';
import { managerHandlers } from '../app/registry.js';
import { buildPorts, exposure } from '../compose.js';
import { CATALOG } from '../core/catalog.js';
import { withSyscallGroups } from '../core/syscallGroups.js';
import { errorSignatures } from '../core/logcheck.js';
import { ApiLink } from '../daemon/apiLink.js';
import { Daemon, type Log } from '../daemon/daemon.js';
import { SystemdLink } from '../daemon/systemdLink.js';
import { checkSandbox } from '../engine/sandboxCheck.js';
import { TuneSession } from '../engine/tune.js';
import { enrollmentStore, journalFor, journaledUnits, lockFor } from './state.js';

export interface DaemonWiring {
  stateDir: string;
  /** Bus address instead of the system bus (tests). */
  address?: string;
  version: string;
  log: Log;
  /** systemd or the bus is gone for good: the daemon exits and systemd restarts it. */
  giveUp: (what: string) => (e: Error) => void;
}

export interface DaemonParts {
  daemon: Daemon;
  api: ApiLink;
  link: SystemdLink;
  /** Stops the followers, the API and systemd's connection. */
  close(): void;
}

/** Connects to systemd, then builds the Daemon and its API (neither started). */
export async function composeDaemon(o: DaemonWiring): Promise<DaemonParts> {
  const { stateDir, log } = o;
  const link = new SystemdLink({
    connect: () => Systemd.connect(o.address ? { address: o.address } : {}),
    onLog: (level, msg) => log[level](msg),
    onGiveUp: o.giveUp('lost systemd for good'),
  });
  await link.current();
  // once per start: the tunes it runs judge SystemCallFilter by these (none: the static table)
  const syscallGroups = await readResolvedSyscallGroups(link, new RuntimeUnitFiles());
  if (!syscallGroups) log.warn("could not read systemd's system call groups (systemd-analyze syscall-filter): SystemCallFilter is judged by systemd 252's");

  let daemon: Daemon | undefined;
  let api: ApiLink | undefined;
  const follower = new JournalFollower((l) => daemon?.logLine(l.unit, l.time, l.message), (m) => log.warn(m));
  const unitFiles = new RuntimeUnitFiles();
  const files = new FileFollower((l) => daemon?.logLine(l.unit, l.time, l.message), (m) => log.warn(m));
  const warn = (m: string) => log.warn(m);
  daemon = new Daemon({
    // the host's learnt priors (core/learnedPriors.ts) reorder and batch each tune's trials, read
    // afresh per tune; a tune that ends adds its trials to them
    newSession: (ports, opts, catalog) => {
      const s = new TuneSession(ports, opts, learnedCatalog(stateDir, catalog, warn));
      return {
        get report() {
          return s.report;
        },
        begin: () => s.begin(),
        step: () => s.step(),
        finish: async () => {
          const r = await s.finish();
          learnFromTune(stateDir, () => ports.journal.read(), warn);
          return r;
        },
      };
    },
    stateDir,
    systemd: link,
    catalog: withSyscallGroups(CATALOG, syscallGroups),
    store: enrollmentStore(stateDir),
    portsFor: (unit, progress) => buildPorts(link, unit, { stateDir, progress, syscallGroups: async () => syscallGroups }),
    journal: (unit) => journalFor(stateDir, unit),
    lock: lockFor(stateDir),
    journaledUnits: () => journaledUnits(stateDir),
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
    log,
  });
  const served = daemon;
  link.setEvents({
    unitChanged: (unit, iface, changed) => served.unitChanged(unit, iface, changed),
    resync: () => served.resync(),
  });
  api = new ApiLink({
    server: {
      version: o.version,
      stateDirectory: stateDir,
      ...(o.address ? { address: o.address } : {}),
      handlers: managerHandlers(served),
    },
    onLog: (level, msg) => log[level](msg),
    onGiveUp: o.giveUp('cannot own org.autoharden1 again'),
  });
  const apiLink = api;
  return {
    daemon: served,
    api: apiLink,
    link,
    close: () => {
      follower.stop();
      files.stop();
      apiLink.close();
      link.close();
    },
  };
}
