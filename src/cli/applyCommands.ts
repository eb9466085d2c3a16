// `autoharden apply PROFILE UNIT`: a profile from another host, applied here as one trial and
// halved within its settings where this host cannot take some (app/apply.ts). Runs in this
// process, like tune.
import type { Command } from 'commander';
import type { ApplyResult } from '../app/apply.js';
import { abortOnSignals, collect, logFormatOpt, print, progress, settleOpt, stateDirOpt } from './common.js';
import { printable } from '../core/text.js';

export function registerApplyCommands(program: Command): void {
  program
    .command('apply')
    .description("apply a profile (export --format profile) learned on another host: one trial, then bisection within the profile's settings; each setting applied, rejected or skipped with why")
    .argument('<profile>', 'profile file (JSON)')
    .argument('<unit>', 'service unit, e.g. nginx.service (the profile\'s own)')
    .option('--probe <spec>', "health probe (repeatable); default: the profile's probes (commands only from a file that root alone can write)", collect, [])
    .addOption(settleOpt('how long the unit must stay up after each restart'))
    .option('--no-persist', 'keep the accepted set under /run (gone after reboot) instead of /etc')
    .option('--allow-net <cidr...>', "peers besides loopback (replaces the profile's declarations)")
    .option('--local-only', "only loopback may reach the service (replaces the profile's declarations)")
    .option('--confine-sessions', "also apply settings that confine spawned login sessions (replaces the profile's declarations)")
    .option('--json', 'print one JSON document')
    .addOption(logFormatOpt())
    .addOption(stateDirOpt())
    .action(async (profileArg: string, unitArg: string, opts) => {
      const { parseApplyRequest, runApply } = await import('../app/apply.js');
      const declared = opts.allowNet !== undefined || opts.localOnly || opts.confineSessions;
      const req = parseApplyRequest({
        profile: profileArg, unit: unitArg, probes: opts.probe, settleMs: opts.settle, persist: opts.persist,
        ...(declared ? { allowNet: opts.allowNet ?? [], localOnly: Boolean(opts.localOnly), confineSessions: Boolean(opts.confineSessions) } : {}),
      });
      const r = await runApply(req, opts.stateDir, progress, abortOnSignals);
      print(Boolean(opts.json), r, formatApply(r));
    });
}

export function formatApply(r: ApplyResult): string {
  const mark = { applied: '+', rejected: '-', skipped: '·' } as const;
  const lines = [
    `${r.unit}: profile from ${printable(r.profile.host)} (systemd ${r.profile.systemd}, ${r.profile.created})`,
    `exposure ${r.exposure.before.toFixed(1)} → ${r.exposure.after.toFixed(1)}; ${r.trials} trials, ${r.restarts} restarts, ${(r.downtimeMs / 1000).toFixed(1)} s without service`,
    `applied ${r.counts.applied}, rejected ${r.counts.rejected}, skipped ${r.counts.skipped}`,
    '',
    ...r.settings.map((s) => `  ${mark[s.status]} ${printable(`${s.option}=${s.value}`)} ${s.status}${s.reason ? `: ${printable(s.reason)}` : ''}`),
  ];
  if (r.warnings.length) lines.unshift(...r.warnings.map((w) => `WARNING: ${printable(w)}`), '');
  if (r.persistedTo) lines.push('', `written to ${r.persistedTo}`);
  return lines.join('\n');
}
