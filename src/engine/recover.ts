// Brings a unit's drop-ins back in line with its journal: an unfinished trial (crash, kill -9,
// Ctrl-C) is reverted and journaled, a stray trial file removed, the accepted file rewritten.
import { acceptedSet, lastSetChange, revertPending, unfinishedTrial } from '../core/journal.js';
import { renderDropIn } from '../core/dropin.js';
import type { ProbeSpec } from '../core/types.js';
import type { Ports } from './ports.js';
import { restartAndJudge } from './settle.js';

export interface RecoverResult {
  recovered: boolean;
  restarted: boolean;
}

export async function recoverUnit(
  ports: Ports,
  unit: string,
  o: { settleMs: number; probes: readonly ProbeSpec[]; reason?: string },
): Promise<RecoverResult> {
  const records = ports.journal.read();
  const open = unfinishedTrial(records);
  const where = ports.dropins.acceptedWhere(unit) ?? 'run';
  const accepted = acceptedSet(records);
  const wantAccepted = accepted.length ? renderDropIn(unit, accepted, 'accepted') : undefined;
  const drift = ports.dropins.readAccepted(unit) !== wantAccepted;
  const strayTrial = ports.dropins.hasTrial(unit);
  const pending = revertPending(records);
  // A rollback killed between its reload and its restart: the files agree with the journal, the
  // running process does not (it started before the change).
  const change = lastSetChange(records);
  const snap = change === undefined ? undefined : await ports.systemd.snapshot(unit);
  const stale = snap !== undefined && snap.activeState === 'active' && snap.invocationId !== change!.invocation
    && (snap.execMainStartRealtime ?? 0) > 0 && snap.execMainStartRealtime! < change!.at * 1000;
  if (!open && !drift && !strayTrial && !pending && !stale) return { recovered: false, restarted: false };

  // I1: the trial file goes first, whatever else fails. The record follows it (I2: a record never
  // announces what did not happen); if the journal cannot be written (a full or read-only /var),
  // the trial stays open in it and the next recovery journals it — the file is gone by then.
  ports.dropins.removeTrial(unit);
  if (drift) ports.dropins.writeAccepted(unit, accepted, where);
  await ports.systemd.reload();
  ports.fault('recover');
  if (open) {
    try {
      ports.journal.append({
        kind: 'recovered',
        trial: open.trial,
        settings: open.settings,
        reason: o.reason ?? 'trial left unfinished (the tuner stopped mid-trial); reverted',
      });
    } catch (e) {
      ports.progress({ type: 'info', message: `WARNING: ${unit}: trial #${open.trial} reverted, but the journal cannot be written: ${(e as Error).message.split('\n')[0]}` });
    }
  }
  ports.progress({ type: 'info', message: `${unit}: bringing the unit back to its accepted set (an earlier run stopped mid-trial)` });
  const info = await ports.systemd.unitInfo(unit);
  // A unit the admin stopped stays stopped; one that runs must run the repaired config.
  if (info.activeState === 'inactive' && !open && !pending && !stale) return { recovered: true, restarted: false };
  await restartAndJudge(ports, unit, { settleMs: o.settleMs, probes: o.probes });
  return { recovered: true, restarted: true };
}
