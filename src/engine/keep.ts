// Unenroll --keep while tuning: the tune stops where it is, keeping what it accepted so far.
import { acceptedSet, lastTuneBegin } from '../core/journal.js';
import type { ProbeSpec } from '../core/types.js';
import type { Ports } from './ports.js';
import { recoverUnit } from './recover.js';
import { checksOf } from './tune/session.js';

/** Reverts the trial under way, persists the accepted set (under /etc when `persist`) and closes
 * the tune in the journal with the trials it ran. Returns the drop-in written, if any. */
export async function keepAccepted(ports: Ports, unit: string, o: { settleMs: number; probes: ProbeSpec[]; persist: boolean }): Promise<string | undefined> {
  await recoverUnit(ports, unit, { settleMs: o.settleMs, probes: o.probes });
  const records = ports.journal.read();
  const accepted = acceptedSet(records);
  let path: string | undefined;
  if (o.persist && accepted.length) {
    path = ports.dropins.writeAccepted(unit, accepted, 'etc');
    await ports.systemd.reload();
    if (path) ports.journal.append({ kind: 'persisted', path });
  }
  const begin = lastTuneBegin(records);
  const trials = records.filter((r) => r.kind === 'trial-end' && r.verdict !== 'not-effective' && (!begin || r.t >= begin.t)).length;
  ports.journal.append({
    kind: 'tune-end',
    exposureBefore: begin ? begin.exposure : null,
    exposureAfter: await ports.exposure(unit).catch(() => null),
    trials, restarts: trials, durationMs: begin ? ports.now().getTime() - Date.parse(begin.t) : 0,
    ...checksOf(await ports.exposureRows?.(unit).catch(() => undefined)),
  });
  return path;
}
