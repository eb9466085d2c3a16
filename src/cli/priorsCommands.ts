// priors show|export|import: the chances the adaptive search learnt from this host's trials, and
// another host's (app/priors.ts). In this process, on the state directory, never through the daemon.
import type { Command } from 'commander';
import { EXIT_CODES } from '../core/errors.js';
import type { PriorRow } from '../app/priors.js';
import { print, stateDirOpt } from './common.js';

/** The table `priors show` prints. */
export function formatPriors(rows: readonly PriorRow[], path: string): string {
  if (rows.length === 0) return `no learnt priors in ${path} yet: each tune adds its trials, priors import adds another host's`;
  const table = [
    ['OPTION', 'RUNG', 'PASSED/TRIED', 'PRIOR (catalog → used)'],
    ...rows.map((r) => [r.option, r.rung, `${r.passed}/${r.tried}`, r.prior === undefined ? '- (not in the catalog)' : `${r.catalog!.toFixed(2)} → ${r.prior.toFixed(2)}`]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  return [...lines, '', 'used: the chance the adaptive search gives a rung when it is the strongest tried, before what observation of the unit shows moves it'].join('\n');
}

export function registerPriorsCommands(program: Command): void {
  const priors = program
    .command('priors')
    .description("the chances the adaptive search gives options, learnt from this host's trials and imported from others: they only reorder and batch trials, every setting kept is still verified by one");

  priors
    .command('show')
    .description('each option and rung with the trials it passed, and the prior the search uses')
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (opts) => {
      const [{ showPriors }, { priorsPath }, { CATALOG }] = await Promise.all([import('../app/priors.js'), import('../adapters/priorsFile.js'), import('../core/catalog.js')]);
      const rows = showPriors(opts.stateDir, CATALOG);
      print(opts.json, rows, formatPriors(rows, priorsPath(opts.stateDir)));
    });

  priors
    .command('export')
    .description("this host's counts as a priors document (JSON), for priors import on another host")
    .option('--output <file>', 'write it to FILE (replaced whole) instead of stdout')
    .addOption(stateDirOpt())
    .action(async (opts) => {
      const { exportPriors, parseExport, writeExport } = await import('../app/priors.js');
      const { output } = parseExport({ output: opts.output });
      const text = exportPriors(opts.stateDir);
      if (output) writeExport(output, text);
      else process.stdout.write(text);
    });

  priors
    .command('import')
    .description(`add another host's counts (from priors export) to this host's; a file that is not a valid priors document exits ${EXIT_CODES.Usage} and changes nothing`)
    .argument('<file>', 'a priors document')
    .option('--json', 'print one JSON document')
    .addOption(stateDirOpt())
    .action(async (file: string, opts) => {
      const { importPriors, parseImport } = await import('../app/priors.js');
      const req = parseImport({ file });
      const r = importPriors(opts.stateDir, req.file);
      print(opts.json, r, `imported ${r.entries} entr${r.entries === 1 ? 'y' : 'ies'} (${r.trials} trials) from ${r.file} into ${r.path}`);
    });
}
