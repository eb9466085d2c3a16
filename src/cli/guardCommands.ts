// guard pause|resume: an admin's maintenance window on a guarded unit (app/guardPause.ts). Through
// the daemon when it serves the state directory, else on the state directory itself.
import { type Command, Option } from 'commander';
import { request } from '../app/index.js';
import { PAUSE_DEFAULT_MS, PAUSE_MAX_MS, PAUSE_MIN_MS, clockText, type PauseResult } from '../core/pause.js';
import { formatTimespan, timespanOption } from '../core/timespan.js';
import { print, stateDirOpt, withApp } from './common.js';

/** One line for a person. */
export function pauseText(r: PauseResult, now = Date.now()): string {
  const at = (iso: string) => clockText(Date.parse(iso), now);
  const lone = r.enrolled ? '' : ' (it is not enrolled: no daemon guards it)';
  if (r.action === 'resume') {
    return r.changed
      ? `${r.unit}: guard resumed${lone}; it looks at the unit afresh now (a failure left by the maintenance is judged like any other)`
      : `${r.unit}: the guard is not paused; nothing to resume`;
  }
  const moved = r.previousUntil ? ` (was until ${at(r.previousUntil)})` : '';
  return `${r.unit}: guard paused until ${at(r.until!)}${moved}${lone}; it resumes by itself then, or with: autoharden guard resume ${r.unit}`;
}

export function registerGuardCommands(program: Command): void {
  const guard = program
    .command('guard')
    .description("pause the guard of a unit for planned maintenance (an upgrade, a config change, restarts), and resume it");

  guard
    .command('pause')
    .description('the guard takes up no failure of the unit and no tune or re-verification starts, until the pause ends; journaled')
    .argument('<unit>')
    .addOption(new Option('--for <duration>', `how long, as a systemd time span (e.g. 30min, 2h); from ${formatTimespan(PAUSE_MIN_MS)} to ${formatTimespan(PAUSE_MAX_MS)}`)
      .argParser(timespanOption('--for', PAUSE_MIN_MS, PAUSE_MAX_MS)).default(PAUSE_DEFAULT_MS, formatTimespan(PAUSE_DEFAULT_MS)))
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('guardPause', { unit: unitArg, action: 'pause', forMs: opts.for });
      const r = await withApp(opts.stateDir, (app) => app.guardPause(req));
      print(opts.json, r, pauseText(r));
    });

  guard
    .command('resume')
    .description('end the pause now: the guard looks at the unit afresh; journaled')
    .argument('<unit>')
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('guardPause', { unit: unitArg, action: 'resume' });
      const r = await withApp(opts.stateDir, (app) => app.guardPause(req));
      print(opts.json, r, pauseText(r));
    });
}
