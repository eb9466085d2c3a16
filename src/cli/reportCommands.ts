// report: what a unit's tunes did, for people: checks before and after, every trial, the exposure
// chart (HTML), cost measurements and the guard's actions. Built from the journal, which the
// daemon serves when it runs (as for `journal`), else read here.
import { Option, type Command } from 'commander';
import { request } from '../app/index.js';
import { stateDirOpt, withApp } from './common.js';

export function registerReportCommands(program: Command): void {
  program
    .command('report')
    .description("a report of the unit's tunes from its journal: checks before and after, trials, exposure chart, cost, the guard's actions")
    .argument('<unit>')
    .addOption(new Option('--format <fmt>', 'md (Markdown) or html (one self-contained page, no scripts)').choices(['md', 'html']).default('md'))
    .addOption(stateDirOpt())
    .action(async (unitArg: string, opts) => {
      const req = await request('journal', { unit: unitArg });
      const records = await withApp(opts.stateDir, (app) => app.journal(req));
      const { renderReport } = await import('../app/report.js');
      process.stdout.write(renderReport(req.unit, records, opts.format));
    });
}
