#!/usr/bin/env node
// The autoharden command line: parse and validate, then call the engine (in-process) and print.
import { Command, CommanderError, Option } from 'commander';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import pretty from 'pino-pretty';
import { lockUnit } from '../adapters/lock.js';
import { buildPorts, connectSystemd, DEFAULT_STATE_DIR, journalFor } from '../compose.js';
import { CATALOG } from '../core/catalog.js';
import { renderDropIn } from '../core/dropin.js';
import { AutohardenError, EXIT_CODES } from '../core/errors.js';
import { acceptedSet, unfinishedTrial } from '../core/journal.js';
import { parseCidr } from '../core/policy.js';
import { parseProbeSpec } from '../core/probeSpec.js';
import { parseUnitName } from '../core/unitName.js';
import type { ProgressEvent } from '../engine/ports.js';
import { recoverUnit } from '../engine/recover.js';
import { rollback } from '../engine/rollback.js';
import { tune } from '../engine/tune.js';
import { exposure } from '../adapters/analyze.js';
import { formatRecord, formatTuneReport } from './format.js';

const log = process.stderr.isTTY
  ? pino({ base: undefined }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname' }))
  : pino({ base: undefined }, pino.destination({ fd: 2, sync: true }));

function progress(e: ProgressEvent): void {
  if (e.type === 'info') log.info(e.message);
  else if (e.type === 'trial') log.info(`trial #${e.trial}: ${e.settings.map((s) => `${s.option}=${s.value}`).join(' ')}`);
  else log.info(`trial #${e.trial}: ${e.outcome}: ${e.reason}`);
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new AutohardenError('AccessDenied', 'autoharden must run as root to change units');
}

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new AutohardenError('Usage', `${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function print(json: boolean, data: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${text}\n`);
}

function requireJournal(stateDir: string, unit: string) {
  const j = journalFor(stateDir, unit);
  if (!j.exists()) throw new AutohardenError('UnitUnknown', `autoharden has no journal for ${unit} in ${stateDir}; it was never tuned`);
  return j;
}

async function withUnit<T>(stateDir: string, unit: string, fn: () => Promise<T>): Promise<T> {
  const release = lockUnit(stateDir, unit);
  try {
    return await fn();
  } finally {
    release();
  }
}

const program = new Command('autoharden')
  .description('Hardens systemd services by experiment: tries sandbox options, keeps what does not break the service.')
    .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const stateDirOpt = () => new Option('--state-dir <dir>', 'state directory').default(DEFAULT_STATE_DIR);

program
  .command('tune')
  .description('try hardening options on a running service one trial at a time, keep what works')
  .argument('<unit>', 'service unit, e.g. nginx.service')
  .option('--probe <spec>', 'health probe: http(s)://HOST:PORT/PATH, tcp://HOST:PORT or exec:COMMAND (repeatable)', collect, [])
  .option('--settle <ms>', 'how long the unit must stay up after each restart', int('--settle', 100, 600_000), 2000)
  .addOption(new Option('--strategy <name>', 'search strategy').choices(['one-at-a-time', 'adaptive']).default('one-at-a-time'))
  .option('--no-persist', 'keep the accepted set under /run (gone after reboot) instead of /etc')
  .option('--allow-net <cidr...>', 'peers that may reach the service or that it reaches, besides loopback: allows IPAddressDeny with these allowed')
  .option('--local-only', 'only loopback may reach the service: allows IPAddressDeny=any with localhost allowed')
  .option('--confine-sessions', 'also apply settings that confine the login sessions the service spawns (sshd, cron)')
  .option('--json', 'print one JSON document')
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg, { serviceOnly: true });
    const probes = (opts.probe as string[]).map(parseProbeSpec);
    const allowNet = (opts.allowNet as string[] | undefined) ?? [];
    allowNet.forEach(parseCidr);
    if (opts.localOnly && allowNet.length) throw new AutohardenError('Usage', '--local-only and --allow-net contradict each other; pick one');
    const declarations = { allowNet, localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions) };
    requireRoot();
    const systemd = await connectSystemd();
    try {
      const ports = buildPorts(systemd, unit, { stateDir: opts.stateDir, progress });
      await systemd.unitInfo(unit); // unknown units fail here, before the lock or any state is created
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const report = await withUnit(opts.stateDir, unit, async () => {
        try {
          return await tune(ports, { unit, probes, settleMs: opts.settle, strategy: opts.strategy, persist: opts.persist, declarations, signal: ac.signal }, CATALOG);
        } catch (e) {
          if (!ac.signal.aborted) throw e;
          await recoverUnit(ports, unit, { settleMs: opts.settle, probes, reason: 'interrupted by a signal mid-trial; reverted' });
          throw new AutohardenError('Failed', 'interrupted; the unfinished trial was reverted');
        }
      });
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
    const records = requireJournal(opts.stateDir, unit).read();
    print(opts.json, records, records.filter((r) => r.kind !== 'trial-begin').map(formatRecord).join('\n'));
  });

program
  .command('rollback')
  .description('remove one accepted option (--option) or all of them (--all); restarts the unit and re-runs its probes')
  .argument('<unit>')
  .option('--all', 'remove every option autoharden added')
  .option('--option <name>', 'remove one option, e.g. ProtectSystem')
  .option('--settle <ms>', 'how long the unit must stay up after the restart', int('--settle', 100, 600_000), 2000)
  .option('--json', 'print one JSON document')
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
    if (Boolean(opts.all) === Boolean(opts.option)) throw new AutohardenError('Usage', 'rollback needs exactly one of --all or --option NAME');
    if (opts.option && !CATALOG.some((c) => c.name === opts.option)) {
      throw new AutohardenError('Usage', `unknown option ${JSON.stringify(opts.option)}; see autoharden journal ${unit}`);
    }
    requireRoot();
    requireJournal(opts.stateDir, unit);
    const systemd = await connectSystemd();
    try {
      const ports = buildPorts(systemd, unit, { stateDir: opts.stateDir, progress });
      const info = await systemd.unitInfo(unit);
      if (info.loadState !== 'loaded') throw new AutohardenError('UnitUnknown', `${unit} is not loaded (LoadState=${info.loadState})`);
      const r = await withUnit(opts.stateDir, unit, () =>
        rollback(ports, unit, opts.all ? { all: true } : { option: opts.option }, { settleMs: opts.settle }),
      );
      print(opts.json, r, `${unit}: rolled back ${r.removed.join(', ') || 'nothing'}; remaining: ${r.remaining.join(', ') || 'none'}; ${r.verdict.ok ? 'healthy' : 'UNHEALTHY'}: ${r.verdict.reason}`);
      if (!r.verdict.ok) throw new AutohardenError('Failed', `${unit} is unhealthy after the rollback: ${r.verdict.reason}`);
    } finally {
      systemd.close();
    }
  });

program
  .command('score')
  .description('print the exposure score systemd-analyze security gives the unit')
  .argument('<unit>')
  .option('--json', 'print one JSON document')
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
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

program
  .command('status')
  .description('units autoharden has a journal for, and their state')
  .argument('[unit]')
  .option('--json', 'print one JSON document')
  .addOption(stateDirOpt())
  .action(async (unitArg: string | undefined, opts) => {
    const dir = join(opts.stateDir, 'journal');
    const units = unitArg ? [parseUnitName(unitArg)] : existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => f.slice(0, -6)) : [];
    const rows = units.map((unit) => {
      const records = requireJournal(opts.stateDir, unit).read();
      const end = records.filter((r) => r.kind === 'tune-end').at(-1);
      const state = unfinishedTrial(records) ? 'interrupted' : end ? 'tuned' : 'tuning';
      return {
        unit, state, accepted: acceptedSet(records).map((s) => `${s.option}=${s.value}`),
        exposureBefore: end?.kind === 'tune-end' ? end.exposureBefore : null,
        exposureAfter: end?.kind === 'tune-end' ? end.exposureAfter : null,
      };
    });
    print(opts.json, rows, rows.map((r) => `${r.unit}  ${r.state}  exposure ${r.exposureBefore ?? '?'} → ${r.exposureAfter ?? '?'}  ${r.accepted.length} accepted`).join('\n') || 'no units');
  });

program
  .command('export')
  .description('print the accepted set as a drop-in or JSON, to commit and ship')
  .argument('<unit>')
  .addOption(new Option('--format <fmt>', 'output format').choices(['dropin', 'json']).default('dropin'))
  .addOption(stateDirOpt())
  .action(async (unitArg: string, opts) => {
    const unit = parseUnitName(unitArg);
    const accepted = acceptedSet(requireJournal(opts.stateDir, unit).read());
    process.stdout.write(opts.format === 'json' ? `${JSON.stringify(accepted, null, 2)}\n` : renderDropIn(unit, accepted, 'accepted'));
  });

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
      return EXIT_CODES[e.code];
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

process.exitCode = await main(process.argv);
