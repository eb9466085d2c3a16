// Rollback of one accepted option or of all of them: journal first, then rewrite the drop-in,
// Reload, restart, and check the unit with the probes of its last tune.
import { AutohardenError } from '../core/errors.js';
import { acceptedSet, lastTuneBegin } from '../core/journal.js';
import { parseProbeSpec } from '../core/probeSpec.js';
import type { ProbeSpec, Verdict } from '../core/types.js';
import type { Ports } from './ports.js';
import { recoverUnit } from './recover.js';
import { restartAndJudge } from './settle.js';

export interface RollbackResult {
  unit: string;
  removed: string[];
  remaining: string[];
  verdict: Verdict;
}

export function lastProbes(ports: Ports): ProbeSpec[] {
  return lastTuneBegin(ports.journal.read())?.probes.map(parseProbeSpec) ?? [];
}

export async function rollback(
  ports: Ports,
  unit: string,
  what: { all: true } | { option: string } | { options: string[] },
  o: { settleMs: number; by?: 'user' | 'guard'; reason?: string },
): Promise<RollbackResult> {
  const probes = lastProbes(ports);
  await recoverUnit(ports, unit, { settleMs: o.settleMs, probes });
  const accepted = acceptedSet(ports.journal.read());
  const wanted = 'all' in what ? undefined : 'options' in what ? what.options : [what.option];
  const removed = accepted.filter((s) => !wanted || wanted.includes(s.option)).map((s) => s.option);
  if ('option' in what && removed.length === 0) {
    const have = accepted.map((s) => s.option).join(', ') || 'none';
    throw new AutohardenError('Failed', `${what.option} is not an accepted option of ${unit} (accepted: ${have})`);
  }
  const remaining = accepted.filter((s) => !removed.includes(s.option));
  ports.journal.append({
    kind: 'rollback', by: o.by ?? 'user', options: removed, all: 'all' in what,
    reason: o.reason ?? ('all' in what ? 'rollback --all' : `rollback --option ${wanted!.join(' ')}`),
  });
  if (removed.length === 0) {
    return { unit, removed, remaining: [], verdict: { ok: true, kind: 'ok', reason: 'nothing accepted; nothing to roll back', evidence: [] } };
  }
  ports.dropins.writeAccepted(unit, remaining, ports.dropins.acceptedWhere(unit) ?? 'etc');
  await ports.systemd.reload();
  ports.fault('rollback');
  const info = await ports.systemd.unitInfo(unit);
  if (info.activeState === 'inactive') {
    return { unit, removed, remaining: remaining.map((s) => s.option), verdict: { ok: true, kind: 'ok', reason: 'unit is stopped; not restarted', evidence: [] } };
  }
  const verdict = await restartAndJudge(ports, unit, { settleMs: o.settleMs, probes });
  return { unit, removed, remaining: remaining.map((s) => s.option), verdict };
}
