#!/usr/bin/env node
// The autoharden command line: parse and validate, then call the engine (in-process) or the
// daemon, and print. journal, rollback, status and export go through the daemon when it runs and
// act on the state directory directly when it does not.
//
// Only what parsing needs is loaded up front; each command loads the engine, adapters or the
// daemon when it runs, so that a quick `status` does not pay for all of them.
import { Command, CommanderError, Option } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AutohardenError, EXIT_CODES } from '../core/errors.js';
import type { JournalRecord } from '../core/journal.js';
import { parseProbeSpec } from '../core/probeSpec.js';
import { refuseProtectedUnit } from '../core/protectedUnits.js';
import { parseUnitName } from '../core/unitName.js';
import { formatStatus, type StatusRow } from '../daemon/statusFormat.js';
import type { RollbackResult } from '../engine/rollback.js';
import { DEFAULT_SETTLE_MS, SETTLE_MAX_MS, SETTLE_MIN_MS } from '../core/limits.js';
import { Interrupted, abortOnSignals, addTuneOptions, daemonFor, int, parseAllowNet, print, progress, releaseStdioAfterHangup, requireJournal, stdioHungUp, requireRoot, stateDirOpt, withUnit } from './common.js';
import { registerDaemonCommands } from './daemonCommands.js';
import { formatRecord, formatTuneReport } from './format.js';

const program = new Command('autoharden')
  .description('Hardens systemd services by experiment: tries sandbox options, keeps what does not break the service.')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  .addHelpText('after', `
Exit codes: 0 ok; 1 the operation failed; 2 usage error; 4 not root; 6 unit unknown, not running or
never tuned; 75 the unit is locked by another autoharden; 78 bad configuration; 130, 143, 129: tune
stopped by SIGINT, SIGTERM or SIGHUP (its unfinished trial reverted first).`);

addTuneOptions(
  program
    .command('tune')
    .description('try hardening options on a running service, trial by trial, and keep what works')
    .argument('<unit>', 'service unit, e.g. nginx.service'),
)
  .option('--measure-restarts <n>', 'restarts measuring the cost may spend in all', int('--measure-restarts', 2, 1000), 40)
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg, { serviceOnly: true });
    const { parseBudget, parseWorkloadSpec } = await import('../core/cost.js');
    const workload = opts.workload === undefined ? undefined : parseWorkloadSpec(opts.workload);
    const budget = opts.budget === undefined ? undefined : parseBudget(opts.budget);
    if (budget !== undefined && !workload) throw new AutohardenError('Usage', '--budget needs --workload: the slowdown is measured with it');
    const probes = (opts.probe as string[]).map(parseProbeSpec);
    const allowNet = parseAllowNet(opts.allowNet as string[] | undefined);
    if (opts.localOnly && allowNet.length) throw new AutohardenError('Usage', '--local-only and --allow-net contradict each other; pick one');
    const declarations = { allowNet, localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions) };
    requireRoot();
    const [{ buildPorts, connectSystemd }, { CATALOG }, { recoverUnit }, { tune }] = await Promise.all([
      import('../compose.js'), import('../core/catalog.js'), import('../engine/recover.js'), import('../engine/tune.js'),
    ]);
    const systemd = await connectSystemd();
    try {
      const ports = buildPorts(systemd, unit, { stateDir: opts.stateDir, progress });
      const info = await systemd.unitInfo(unit); // unknown units fail here, before the lock or any state is created
      // Refusals that need no recovery first come before the lock, so that they change nothing.
      refuseProtectedUnit('tune', unit, info);
      if (info.loadState !== 'loaded') throw new AutohardenError('UnitUnknown', `${unit} is not loaded (LoadState=${info.loadState})`);
      if (info.activeState !== 'active' && ports.journal.read().length === 0) {
        throw new AutohardenError('UnitUnknown', `${unit} is not running (ActiveState=${info.activeState}); start it first`);
      }
      const stop = abortOnSignals();
      const report = await withUnit(opts.stateDir, unit, async () => {
        try {
          const o = { unit, probes, settleMs: opts.settle, strategy: opts.strategy, persist: opts.persist, declarations, signal: stop.signal };
          return await tune(ports, { ...o, measureRestarts: opts.measureRestarts, ...(workload ? { workload } : {}), ...(budget !== undefined ? { budget } : {}) }, CATALOG);
        } catch (e) {
          const sig = stop.received();
          if (!sig) {
            // I1 on an ordinary error too: no trial drop-in outlives this command
            await recoverUnit(ports, unit, { settleMs: opts.settle, probes, reason: `tune failed (${(e as Error).message.split('\n')[0]}); reverted` })
              .catch((r: unknown) => progress({ type: 'info', message: `WARNING: could not revert ${unit}: ${(r as Error).message.split('\n')[0]}` }));
            throw e;
          }
          await recoverUnit(ports, unit, { settleMs: opts.settle, probes, reason: `interrupted by ${sig}; reverted` });
          throw new Interrupted(sig, `interrupted by ${sig}; the unfinished trial was reverted`);
        }
      }, info.id);
      print(opts.json, report, formatTuneReport(report));
    } finally {
      systemd.close();
    }
  });

program
  .command('journal')
  .description('show accepted, rejected, skipped and rolled-back options with reasons')
  .argument('<unit>')
  .option('--json', 'print the records as a JSON array')
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
    const daemon = await daemonFor(opts.stateDir);
    let records: JournalRecord[];
    if (daemon) {
      try {
        records = JSON.parse(await daemon.method('Journal', 's', [unit])) as JournalRecord[];
      } finally {
        daemon.close();
      }
    } else {
      records = (await requireJournal(opts.stateDir, unit)).read();
    }
    print(opts.json, records, records.filter((r) => r.kind !== 'trial-begin').map(formatRecord).join('\n'));
  });

program
  .command('rollback')
  .description('remove one accepted option (--option) or all of them (--all); restarts the unit and re-runs its probes')
  .argument('<unit>')
  .option('--all', 'remove every option autoharden added')
  .option('--option <name>', 'remove one option, e.g. ProtectSystem')
  .option('--settle <ms>', 'how long the unit must stay up after the restart', int('--settle', SETTLE_MIN_MS, SETTLE_MAX_MS), DEFAULT_SETTLE_MS)
  .option('--json', 'print one JSON document')
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
    if (Boolean(opts.all) === Boolean(opts.option)) throw new AutohardenError('Usage', 'rollback needs exactly one of --all or --option NAME');
    const { CATALOG } = await import('../core/catalog.js');
    if (opts.option && !CATALOG.some((c) => c.name === opts.option)) {
      throw new AutohardenError('Usage', `unknown option ${JSON.stringify(opts.option)}; see autoharden journal ${unit}`);
    }
    const daemon = await daemonFor(opts.stateDir);
    let r: RollbackResult;
    if (daemon) {
      try {
        // It waits for the trial under way, then restarts and settles: allow for both.
        r = JSON.parse(await daemon.method('Rollback', 'ssbu', [unit, opts.option ?? '', Boolean(opts.all), opts.settle], 20 * 60_000)) as RollbackResult;
      } finally {
        daemon.close();
      }
    } else {
      requireRoot();
      await requireJournal(opts.stateDir, unit);
      const [{ buildPorts, connectSystemd }, { rollback }] = await Promise.all([import('../compose.js'), import('../engine/rollback.js')]);
      const systemd = await connectSystemd();
      try {
        const ports = buildPorts(systemd, unit, { stateDir: opts.stateDir, progress });
        const info = await systemd.unitInfo(unit);
        if (info.loadState !== 'loaded') throw new AutohardenError('UnitUnknown', `${unit} is not loaded (LoadState=${info.loadState})`);
        r = await withUnit(opts.stateDir, unit, () =>
          rollback(ports, unit, opts.all ? { all: true } : { option: opts.option }, { settleMs: opts.settle }),
        info.id);
      } finally {
        systemd.close();
      }
    }
    print(opts.json, r, `${unit}: rolled back ${r.removed.join(', ') || 'nothing'}; remaining: ${r.remaining.join(', ') || 'none'}; ${r.verdict.ok ? 'healthy' : 'UNHEALTHY'}: ${r.verdict.reason}`);
    if (!r.verdict.ok) throw new AutohardenError('Failed', `${unit} is unhealthy after the rollback: ${r.verdict.reason}`);
  });

program
  .command('score')
  .description('print the exposure score systemd-analyze security gives the unit')
  .argument('<unit>')
  .option('--json', 'print one JSON document')
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
    const [{ connectSystemd }, { exposure }] = await Promise.all([import('../compose.js'), import('../adapters/analyze.js')]);
    const systemd = await connectSystemd();
    try {
      const info = await systemd.unitInfo(unit);
      if (info.loadState !== 'loaded') throw new AutohardenError('UnitUnknown', `${unit} is not loaded (LoadState=${info.loadState})`);
    } finally {
      systemd.close();
    }
    const score = await exposure(unit);
    print(opts.json, { unit, exposure: score }, score.toFixed(1));
  });

/** Status rows from the state directory: enrolled units with their saved state, and units only
 * `tune` touched. */
async function offlineStatus(stateDir: string, unitArg?: string): Promise<StatusRow[]> {
  const [{ JournalStore }, { statusRow }, { EnrollmentStore }] = await Promise.all([
    import('../adapters/journalStore.js'), import('../daemon/status.js'), import('../daemon/store.js'),
  ]);
  const journalFor = (dir: string, unit: string) => new JournalStore(dir, unit);
  const store = new EnrollmentStore(stateDir);
  const broken = new Map<string, string>(); // unreadable enrollments: that unit fails, not the listing (I3)
  const enrolled = new Map(store.list((unit, e) => broken.set(unit, e.message)).map((e) => [e.spec.unit, e]));
  const dir = join(stateDir, 'journal');
  const journaled = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -6)) : [];
  if (unitArg) {
    const unit = parseUnitName(unitArg);
    const j = journalFor(stateDir, unit);
    if (broken.has(unit)) throw new AutohardenError('Config', broken.get(unit)!);
    if (!enrolled.has(unit) && !j.exists()) {
      throw new AutohardenError('UnitUnknown', `autoharden has no journal for ${unit} in ${stateDir}; it was never tuned`);
    }
    return [statusRow(unit, j.read(), enrolled.get(unit))];
  }
  const units = [...new Set([...enrolled.keys(), ...broken.keys(), ...journaled])].sort();
  return units.map((unit): StatusRow => {
    const enrollment = enrolled.get(unit);
    const bad = broken.get(unit);
    try {
      const row = statusRow(unit, journalFor(stateDir, unit).read(), enrollment);
      return bad ? { ...row, state: 'failed', enrolled: true, error: bad } : row;
    } catch (e) {
      return { ...statusRow(unit, [], enrollment), state: 'failed', enrolled: Boolean(enrollment || bad), error: (e as Error).message };
    }
  });
}

program
  .command('status')
  .description('every enrolled unit (queued, tuning, guarding, failed) and every tuned one: exposure before → after, trials, current trial')
  .argument('[unit]')
  .option('--json', 'print one JSON document')
  .addOption(stateDirOpt())
  .action(async (unitArg: string | undefined, opts) => {
    if (unitArg) parseUnitName(unitArg);
    const daemon = await daemonFor(opts.stateDir);
    let rows: StatusRow[];
    if (daemon) {
      try {
        rows = JSON.parse(await daemon.method('Status', 's', [unitArg ? parseUnitName(unitArg) : ''])) as StatusRow[];
      } finally {
        daemon.close();
      }
    } else {
      rows = await offlineStatus(opts.stateDir, unitArg);
    }
    print(opts.json, rows, formatStatus(rows));
  });

program
  .command('export')
  .description('print the accepted set as a drop-in or JSON, to commit and ship')
  .argument('<unit>')
  .addOption(new Option('--format <fmt>', 'output format').choices(['dropin', 'json', 'ansible']).default('dropin'))
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
    const daemon = await daemonFor(opts.stateDir);
    if (daemon) {
      try {
        process.stdout.write(await daemon.method('Export', 'ss', [unit, opts.format]));
      } finally {
        daemon.close();
      }
      return;
    }
    const [{ acceptedSet }, { renderExport }] = await Promise.all([import('../core/journal.js'), import('../core/exportFormats.js')]);
    process.stdout.write(renderExport(unit, acceptedSet((await requireJournal(opts.stateDir, unit)).read()), opts.format));
  });

registerDaemonCommands(program);

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help, --version
      return EXIT_CODES.Usage; // commander already printed the one-line error
    }
    if (e instanceof AutohardenError) {
      process.stderr.write(`autoharden: ${e.message}\n`);
      return e instanceof Interrupted ? e.exitCode : EXIT_CODES[e.code];
    }
    const code = (e as { code?: string }).code;
    if (code === 'EACCES' || code === 'EPERM') {
      process.stderr.write(`autoharden: access denied: ${(e as Error).message}\n`);
      return EXIT_CODES.AccessDenied;
    }
    if (code === 'NoSuchUnit') {
      process.stderr.write(`autoharden: ${(e as Error).message}\n`);
      return EXIT_CODES.UnitUnknown;
    }
    process.stderr.write(`autoharden: ${(e as Error).message ?? String(e)}\n`);
    return EXIT_CODES.Failed;
  }
}

const exitCode = await main(process.argv);
process.exitCode = exitCode;
// A command that talked to the daemon may leave a bus socket half-closed: don't wait for it.
// process.exit() drops what a pipe has not taken yet (stdout to a pipe is asynchronous): a large
// `journal --json` came out cut short. Wait until stdout and stderr are drained — bounded, and not
// at all after a hang-up, when nobody reads them any more.
if (process.argv[2] !== 'daemon') {
  const drained = (s: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (s.writableLength === 0 || s.destroyed) return resolve();
      s.once('drain', () => resolve());
      s.once('error', () => resolve());
      s.once('close', () => resolve());
    });
  const bound = new Promise<void>((resolve) => setTimeout(resolve, 30_000).unref());
  setImmediate(() => {
    const wait = stdioHungUp() ? Promise.resolve() : Promise.race([Promise.all([drained(process.stdout), drained(process.stderr)]), bound]);
    void wait.then(() => {
      releaseStdioAfterHangup();
      process.exit(exitCode);
    });
  });
}
