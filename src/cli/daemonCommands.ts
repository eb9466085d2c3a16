// enroll, unenroll and daemon: the commands that hand units to the daemon or are the daemon.
// The daemon, the engine and the validators are loaded when a command runs.
import type { Command } from 'commander';
import type { ApiClient } from '../adapters/dbusApiClient.js';
import { AutohardenError } from '../core/errors.js';
import { parseUnitName } from '../core/unitName.js';
import type { EnrollSpec } from '../daemon/spec.js';
import { formatStatus, type StatusRow } from '../daemon/statusFormat.js';
import type { RollbackResult } from '../engine/rollback.js';
import { addTuneOptions, daemonFor, log, print, progress, requireDaemon, requireRoot, stateDirOpt, withUnit } from './common.js';
import { formatTuneReport } from './format.js';


/** How long --wait waits for a daemon that went away to come back. */
const DAEMON_ABSENCE_MS = 120_000;

async function statusOf(client: ApiClient, unit: string): Promise<StatusRow | undefined> {
  const rows = JSON.parse(await client.method('Status', 's', [unit])) as StatusRow[];
  return rows[0];
}

/** Waits until the unit's tuning is over (guarding or failed), printing progress on stderr. */
function waitForTuning(client: ApiClient, unit: string): { ready: Promise<void>; done: Promise<StatusRow> } {
  let finish!: (row: StatusRow) => void;
  let abort!: (e: Error) => void;
  const done = new Promise<StatusRow>((resolve, reject) => {
    finish = resolve;
    abort = reject;
  });
  let absent: NodeJS.Timeout | undefined;
  const check = () => {
    statusOf(client, unit).then((row) => {
      if (row && (row.state === 'guarding' || row.state === 'failed')) finish(row);
      else if (!row?.enrolled) abort(new AutohardenError('Failed', `${unit} is no longer enrolled`));
    }, (e: Error) => abort(e));
  };
  const ready = client.subscribe({
    progress: (_u, state, message) => {
      log.info(message);
      if (state === 'guarding' || state === 'failed') check();
      if (state === 'unenrolled') abort(new AutohardenError('Failed', `${unit} was unenrolled while tuning`));
    },
    trialFinished: (_u, trial, outcome, settings, reason) => log.info(`trial #${trial}: ${outcome}: ${settings} — ${reason}`),
    ownerChanged: (running) => {
      clearTimeout(absent);
      if (running) {
        log.info('the daemon is back; it resumes where it was');
        check();
      } else {
        log.warn(`the daemon went away; waiting up to ${DAEMON_ABSENCE_MS / 1000} s for it to come back`);
        absent = setTimeout(() => abort(new AutohardenError('Failed', 'the autoharden daemon went away and did not come back')), DAEMON_ABSENCE_MS);
      }
    },
  }, unit);
  void done.finally(() => clearTimeout(absent)).catch(() => undefined);
  return { ready, done };
}

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
    .action(async (unitArg: string, opts) => {
      const [{ parseEnrollSpec }, { parseBudget }] = await Promise.all([import('../daemon/spec.js'), import('../core/cost.js')]);
      const spec: EnrollSpec = parseEnrollSpec({
        unit: unitArg, probes: opts.probe, settleMs: opts.settle, strategy: opts.strategy, persist: opts.persist,
        allowNet: opts.allowNet ?? [], localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions),
        ...(opts.workload !== undefined ? { workload: opts.workload } : {}),
        ...(opts.budget !== undefined ? { budget: parseBudget(opts.budget) } : {}),
        ...(opts.guard !== undefined ? { guard: opts.guard } : {}),
        ...(opts.guardFloor !== undefined ? { guardFloor: opts.guardFloor } : {}),
      });
      const client = await requireDaemon();
      try {
        const waiting = opts.wait ? waitForTuning(client, spec.unit) : undefined;
        await waiting?.ready; // subscribed before the daemon can say anything about the unit
        const unit = await client.method('Enroll', 's', [JSON.stringify(spec)]);
        if (!waiting) {
          print(opts.json, { unit, state: 'queued' }, `${unit} enrolled (queued); follow it with: autoharden status ${unit}`);
          return;
        }
        const row = await waiting.done;
        print(opts.json, row, row.report ? formatTuneReport(row.report) : formatStatus([row]));
        if (row.state === 'failed') throw new AutohardenError('Failed', `${unit}: ${row.error ?? 'tuning failed'}`);
      } finally {
        client.close();
      }
    });

  program
    .command('unenroll')
    .description('stop tuning and guarding a unit; keep its accepted drop-in (default) or remove it')
    .argument('<unit>')
    .option('--keep', 'keep the accepted drop-in (persisted under /etc unless enrolled with --no-persist)')
    .option('--remove', 'roll back every accepted option and restart the unit')
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const unit = parseUnitName(unitArg, { serviceOnly: true });
      if (opts.keep && opts.remove) throw new AutohardenError('Usage', 'unenroll takes --keep or --remove, not both');
      const mode = opts.remove ? 'remove' : 'keep';
      const daemon = await daemonFor(opts.stateDir);
      let result: { unit: string; mode: string; rollback?: RollbackResult };
      if (daemon) {
        try {
          result = JSON.parse(await daemon.method('Unenroll', 'ss', [unit, mode], 20 * 60_000)) as typeof result;
        } finally {
          daemon.close();
        }
      } else {
        requireRoot();
        const [{ EnrollmentStore }, { buildPorts, connectSystemd }, { rollback }] = await Promise.all([
          import('../daemon/store.js'), import('../compose.js'), import('../engine/rollback.js'),
        ]);
        const store = new EnrollmentStore(opts.stateDir);
        const e = store.read(unit);
        if (!e) throw new AutohardenError('UnitUnknown', `${unit} is not enrolled`);
        result = { unit, mode };
        if (mode === 'remove') {
          const systemd = await connectSystemd();
          try {
            const ports = buildPorts(systemd, unit, { stateDir: opts.stateDir, progress });
            if (ports.journal.read().length) {
              const { id } = await systemd.unitInfo(unit).catch(() => ({ id: undefined }));
              result.rollback = await withUnit(opts.stateDir, unit, () =>
                rollback(ports, unit, { all: true }, { settleMs: e.spec.settleMs, reason: 'unenroll --remove' }), id);
            }
          } finally {
            systemd.close();
          }
        }
        store.remove(unit);
      }
      const rb = result.rollback;
      print(opts.json, result, `${unit} unenrolled${rb ? `; rolled back ${rb.removed.join(', ') || 'nothing'}; ${rb.verdict.ok ? 'healthy' : 'UNHEALTHY'}: ${rb.verdict.reason}` : mode === 'keep' ? '; its accepted drop-in stays' : ''}`);
      if (rb && !rb.verdict.ok) throw new AutohardenError('Failed', `${unit} is unhealthy after the rollback: ${rb.verdict.reason}`);
    });

  program
    .command('daemon')
    .description('run the daemon: own org.autoharden1 on the system bus, tune enrolled units, guard them (run by autoharden.service)')
    .addOption(stateDirOpt())
    .action(async (opts) => {
      const { runDaemon } = await import('../daemon/main.js');
      const code = await runDaemon({ stateDir: opts.stateDir });
      process.exit(code);
    });
}
