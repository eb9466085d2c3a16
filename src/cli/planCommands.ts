// plan and scan: previews that change nothing. Both run in this process (they read the unit over
// D-Bus and /proc, as root), never through the daemon; scan asks the daemon, when it runs, only for
// what it knows of the units (status).
import type { Command } from 'commander';
import { AutohardenError, EXIT_CODES } from '../core/errors.js';
import { DEFAULT_STATE_DIR, addTuneOptions, int, print, progress, stateDirOpt, withApp, writeStderr } from './common.js';

export function registerPlanCommands(program: Command): void {
  addTuneOptions(
    program
      .command('plan')
      .description('show what tune would try and skip, the trials it would group first, the restarts to expect and the exposure after; restarts and writes nothing')
      .argument('<unit>', 'service unit, e.g. nginx.service'),
  )
    .option('--measure-restarts <n>', 'restarts measuring the cost may spend in all (with --workload)', int('--measure-restarts', 2, 1000), 40)
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const [{ PLAN, plan }, { formatPlan }] = await Promise.all([import('../app/plan.js'), import('./planFormat.js')]);
      const req = PLAN.parse({
        unit: unitArg, workload: opts.workload, budget: opts.budget, probes: opts.probe, allowNet: opts.allowNet,
        localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions),
        settleMs: opts.settle, strategy: opts.strategy, persist: opts.persist, measureRestarts: opts.measureRestarts,
        ...(opts.maxRestarts !== undefined ? { maxRestarts: opts.maxRestarts } : {}),
        ...(opts.maxTime !== undefined ? { maxTimeMs: opts.maxTime } : {}),
      });
      const report = await plan(req, { stateDir: opts.stateDir ?? DEFAULT_STATE_DIR, progress });
      print(opts.json, report, formatPlan(report));
    });

  program
    .command('scan')
    .description('every service systemd has loaded, worst first: its exposure now, the exposure a tune is predicted to reach (no restarts) and its state')
    .option('--threshold <n>', `exit ${EXIT_CODES.ThresholdExceeded} when a unit's exposure is above N (0–10); units listed on stderr. Protected units (the bus, systemd's own, consoles) are listed, never gated`)
    .option('--ignore <unit...>', 'units never gated: names, or globs such as getty@* or *-backup.service (repeatable)')
    .option('--audit', "also run the attack battery (see audit) in each running unit's sandbox, one unit after another: blocked N/M beside its exposure")
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (opts) => {
      const [{ SCAN, scan }, { parseThreshold }, { formatScan, formatOver }] = await Promise.all([
        import('../app/scan.js'), import('../core/scan.js'), import('./planFormat.js'),
      ]);
      const req = SCAN.parse({ ignore: opts.ignore ?? [], audit: Boolean(opts.audit), ...(opts.threshold !== undefined ? { threshold: parseThreshold(opts.threshold) } : {}) });
      // what autoharden knows of each unit; a state directory it cannot read leaves every unit "never-tuned", said once
      const statuses = await withApp(opts.stateDir, (app) => app.status({ unit: undefined })).catch((e: unknown) => {
        writeStderr(`autoharden: warning: the state of tuned units is unknown: ${(e as Error).message.split('\n')[0]}\n`);
        return [];
      });
      // --audit: a signal stops the running audit unit (and removes its files) before the scan ends
      const stop = req.audit ? (await import('./auditCommands.js')).stopOnSignals() : undefined;
      const report = await scan(req, { stateDir: opts.stateDir, progress, statuses, ...(stop ? { stop } : {}) });
      print(opts.json, report, formatScan(report));
      if (report.over.length) {
        writeStderr(`${formatOver(report)}\n`);
        throw new AutohardenError('ThresholdExceeded', `${report.over.length} unit${report.over.length === 1 ? '' : 's'} above exposure ${report.threshold}`);
      }
    });
}
