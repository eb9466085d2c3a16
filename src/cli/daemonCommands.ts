// enroll, unenroll and daemon: the commands that hand units to the daemon or are the daemon.
// The daemon, the engine and the validators are loaded when a command runs.
import type { Command } from 'commander';
import { AutohardenError, ERR } from '../core/errors.js';
import { request, requireDaemonApp, runDaemon } from '../app/index.js';
import { DEFAULT_STATE_DIR, addTuneOptions, log, logFormatOpt, print, progress, stateDirOpt, withApp } from './common.js';
import { formatStatus, formatTuneReport } from './format.js';

export function registerDaemonCommands(program: Command): void {
  addTuneOptions(
    program
      .command('enroll')
      .description('hand a running service to the daemon: it tunes it (one trial at a time, fairly with other units), then guards it')
      .argument('<unit>', 'service unit, e.g. nginx.service'),
  )
    .option('--wait', 'follow the tuning (progress on stderr) and print the result at the end')
    .option('--guard <mode>', 'after tuning, on a failure no trusted evidence explains: alert (default) or relax-on-reproduction (test taking the implicated setting away, at most one a day)')
    .option('--guard-floor <option...>', 'settings relax-on-reproduction never takes away')
    .option('--retune', 'an enrolled unit: tune it again with the options it was enrolled with (after a systemd or kernel upgrade, this tries what the new version offers)')
    .action(async (unitArg: string, opts) => {
      const { parseBudget } = await import('../core/cost.js');
      const spec = await request('enroll', {
        unit: unitArg, probes: opts.probe, settleMs: opts.settle, strategy: opts.strategy, persist: opts.persist,
        allowNet: opts.allowNet ?? [], localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions),
        ...(opts.workload !== undefined ? { workload: opts.workload } : {}),
        ...(opts.budget !== undefined ? { budget: parseBudget(opts.budget) } : {}),
        ...(opts.maxRestarts !== undefined ? { maxRestarts: opts.maxRestarts } : {}),
        ...(opts.maxTime !== undefined ? { maxTimeMs: opts.maxTime } : {}),
        ...(opts.guard !== undefined ? { guard: opts.guard } : {}),
        ...(opts.guardFloor !== undefined ? { guardFloor: opts.guardFloor } : {}),
        ...(opts.retune ? { retune: true } : {}),
      });
      const app = await requireDaemonApp(DEFAULT_STATE_DIR, progress);
      try {
        const waiting = opts.wait ? app.followTuning(spec.unit, log) : undefined;
        await waiting?.ready; // subscribed before the daemon can say anything about the unit
        const unit = await app.enroll(spec);
        if (!waiting) {
          print(opts.json, { unit, state: 'queued' }, `${unit} ${opts.retune ? 'queued for tuning (again if it was enrolled)' : 'enrolled (queued)'}; follow it with: autoharden status ${unit}`);
          return;
        }
        const row = await waiting.done;
        print(opts.json, row, row.report ? formatTuneReport(row.report) : formatStatus([row]));
        if (row.state === 'failed') throw new AutohardenError('Failed', `${unit}: ${row.error ?? 'tuning failed'}`);
      } finally {
        app.close();
      }
    });

  program
    .command('unenroll')
    .description('stop tuning and guarding a unit; keep its accepted drop-in (default) or remove it')
    .argument('<unit>')
    .option('--keep', 'keep the accepted drop-in (persisted under /etc unless enrolled with --no-persist)')
    .option('--remove', 'roll back every accepted option and restart the unit')
    .option('--json', 'print one JSON document')
    .addOption(logFormatOpt())
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('unenroll', { unit: unitArg, mode: opts.remove ? 'remove' : 'keep' });
      if (opts.keep && opts.remove) throw new ERR.UnenrollBoth();
      const { unit, mode } = req;
      const result = await withApp(opts.stateDir, (app) => app.unenroll(req));
      const rb = result.rollback;
      print(opts.json, result, `${unit} unenrolled${rb ? `; rolled back ${rb.removed.join(', ') || 'nothing'}; ${rb.verdict.ok ? 'healthy' : 'UNHEALTHY'}: ${rb.verdict.reason}` : mode === 'keep' ? '; its accepted drop-in stays' : ''}`);
      if (rb && !rb.verdict.ok) throw new ERR.UnhealthyAfterRollback(unit, rb.verdict.reason);
    });

  program
    .command('daemon')
    .description('run the daemon: own org.autoharden1 on the system bus, tune enrolled units, guard them (run by autoharden.service)')
    .addOption(stateDirOpt())
    .addOption(logFormatOpt('its log on stdout: text for people, json (one object a line) for machines; journald priorities either way'))
    .action(async (opts) => {
      const code = await runDaemon({ stateDir: opts.stateDir, logFormat: opts.logFormat });
      process.exit(code);
    });
}
