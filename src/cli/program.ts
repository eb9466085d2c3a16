// The autoharden command line, defined: parse flags into a request, validate it through its use case
// (app/), run it on an App — the daemon when it serves the state directory, else this process —
// and print. tune and score always run in this process.
//
// Only what parsing needs is loaded up front; each command loads its use case, the engine, the
// adapters or the daemon when it runs, so that a quick `status` does not pay for all of them.
import { Command, Option } from 'commander';
import { ERR } from '../core/errors.js';
import { localApp, request } from '../app/index.js';
import { autohardenVersion } from '../adapters/version.js';
import { DEFAULT_STATE_DIR, abortOnSignals, addTuneOptions, int, logFormatOpt, print, progress, setLogFormat, settleOpt, stateDirOpt, withApp } from './common.js';
import { registerDaemonCommands } from './daemonCommands.js';
import { registerPlanCommands } from './planCommands.js';
import { registerPriorsCommands } from './priorsCommands.js';
import { registerReportCommands } from './reportCommands.js';
import { registerAuditCommands } from './auditCommands.js';
import { registerGuardCommands } from './guardCommands.js';
import { registerApplyCommands } from './applyCommands.js';
import { registerFleetCommands } from './fleetCommands.js';
import { exitCodesText, formatRecord, formatStatus, formatTuneReport } from './format.js';
import type { LogFormat } from './progress.js';

/** The whole command line. Built by a function so that the man page and the shell completion are
 * generated from the same definitions (scripts/), without running a command. */
export function buildProgram(): Command {
  const program = new Command('autoharden')
    .description('Hardens systemd services by experiment: tries sandbox options, keeps what does not break the service.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .version(autohardenVersion(), '-V, --version')
    .addHelpText('after', `\n${exitCodesText()}`)
    // --log-format of the command about to run, before it can log anything
    .hook('preAction', (_program, cmd) => {
      const f = cmd.opts().logFormat as LogFormat | undefined;
      if (f) setLogFormat(f);
    });

  addTuneOptions(
    program
      .command('tune')
      .description('try hardening options on a running service, trial by trial, and keep what works')
      .argument('<unit>', 'service unit, e.g. nginx.service'),
  )
    .option('--measure-restarts <n>', 'restarts measuring the cost may spend in all', int('--measure-restarts', 2, 1000), 40)
    .option('--audit', "run the attack battery in the unit's sandbox before and after (see audit): the report shows what an attacker could still do")
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('tune', {
        audit: Boolean(opts.audit),
        unit: unitArg, workload: opts.workload, budget: opts.budget, probes: opts.probe, allowNet: opts.allowNet,
        localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions),
        settleMs: opts.settle, strategy: opts.strategy, persist: opts.persist, measureRestarts: opts.measureRestarts,
        maxRestarts: opts.maxRestarts, maxTimeMs: opts.maxTime,
      });
      const report = await localApp(opts.stateDir, progress).tune(req, abortOnSignals);
      print(opts.json, report, formatTuneReport(report));
    });

  program
    .command('journal')
    .description('show accepted, rejected, skipped and rolled-back options with reasons')
    .argument('<unit>')
    .option('--json', 'print the records as a JSON array')
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('journal', { unit: unitArg });
      const records = await withApp(opts.stateDir, (app) => app.journal(req));
      print(opts.json, records, records.filter((r) => r.kind !== 'trial-begin').map(formatRecord).join('\n'));
    });

  program
    .command('rollback')
    .description('remove one accepted option (--option) or all of them (--all); restarts the unit and re-runs its probes')
    .argument('<unit>')
    .option('--all', 'remove every option autoharden added')
    .option('--option <name>', 'remove one option, e.g. ProtectSystem')
    .addOption(settleOpt('how long the unit must stay up after the restart'))
    .option('--json', 'print one JSON document')
    .addOption(logFormatOpt())
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('rollback', { unit: unitArg, option: opts.option, all: Boolean(opts.all), settleMs: opts.settle });
      const { unit } = req;
      const r = await withApp(opts.stateDir, (app) => app.rollback(req));
      print(opts.json, r, `${unit}: rolled back ${r.removed.join(', ') || 'nothing'}; remaining: ${r.remaining.join(', ') || 'none'}; ${r.verdict.ok ? 'healthy' : 'UNHEALTHY'}: ${r.verdict.reason}`);
      if (!r.verdict.ok) throw new ERR.UnhealthyAfterRollback(unit, r.verdict.reason);
    });

  program
    .command('score')
    .description('print the exposure score systemd-analyze security gives the unit')
    .argument('<unit>')
    .option('--json', 'print one JSON document')
    .action(async (unitArg: string, opts) => {
      const req = await request('score', { unit: unitArg });
      const r = await localApp(DEFAULT_STATE_DIR, progress).score(req);
      print(opts.json, r, r.exposure.toFixed(1));
    });

  program
    .command('status')
    .description('every enrolled unit (queued, tuning, guarding, failed) and every tuned one: exposure before → after, trials, current trial')
    .argument('[unit]')
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (unitArg: string | undefined, opts) => {
      const req = await request('status', { unit: unitArg });
      const rows = await withApp(opts.stateDir, (app) => app.status(req));
      print(opts.json, rows, formatStatus(rows));
    });

  program
    .command('export')
    .description('print the accepted set as a drop-in, JSON, an Ansible playbook or a NixOS module, each line with why it is there; or as a profile (JSON: the set with the systemd, kernel, ExecStart and facts it was verified with) for apply on other hosts')
    .argument('<unit>')
    .addOption(new Option('--format <fmt>', 'output format').choices(['dropin', 'json', 'ansible', 'nixos', 'profile']).default('dropin'))
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('export', { unit: unitArg, format: opts.format });
      process.stdout.write(await withApp(opts.stateDir, (app) => app.export(req)));
    });

  registerDaemonCommands(program);
  registerReportCommands(program);
  registerAuditCommands(program);
  registerGuardCommands(program);
  registerPlanCommands(program);
  registerPriorsCommands(program);
  registerApplyCommands(program);
  registerFleetCommands(program);
  return program;
}

