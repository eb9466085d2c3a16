// plan and scan as text for a person. Unit names and reasons may carry what a service or its
// files said: printed through printable() like every other report.
import type { PlanReport } from '../app/plan.js';
import type { ScanReport } from '../app/scan.js';
import { auditCell } from '../core/scan.js';
import { printable } from './format.js';

const pct = (p: number) => `${Math.round(p * 100)}%`;
const score = (n: number | null | undefined) => (n === null || n === undefined ? '-' : n.toFixed(1));

export function formatPlan(r: PlanReport): string {
  const out: string[] = [];
  out.push(`plan for ${r.unit} (${r.strategy} search; nothing was restarted or written)`);
  const after = r.exposureAfter;
  out.push(`exposure now ${score(r.exposureNow)}${after ? `; after ≈${score(after.expected)} if the priors hold, ${score(after.best)} if every strongest rung is accepted` : ''}`);
  const { restarts: e } = r;
  out.push(`restarts: ≈${e.restarts.expected} (${e.trials.expected} trials) if the priors hold — the median of ${e.runs} services simulated from the catalog's priors, each as fragile as the planner allows (seed ${e.seed}); ${e.restarts.low}–${e.restarts.high} for 8 in 10 of them; ${e.allPass.restarts} if every trial passes, ${e.allFail.restarts} if every rung fails`);
  out.push('  not counted: retries with learned writable paths, log-noise controls, the cost phase (--workload)');
  if (e.minimiseItems) out.push(`  includes the minimisation: ${e.minimiseItems} capabilities or system call groups to try removing once the strongest rungs are kept`);
  out.push('', `would try (${r.ladders.length} options, strongest rung first; chance the strongest works):`);
  const w = Math.max(8, ...r.ladders.map((l) => l.option.length));
  for (const l of r.ladders) {
    const cost = l.cost === 'free' ? '' : `  [${l.cost}]`;
    out.push(`  ${l.option.padEnd(w)}  ${pct(l.prior).padStart(4)}  ${printable(l.rungs.join(' → '))}${cost}`);
  }
  if (r.accepted.length) out.push('', `already accepted, in force: ${printable(r.accepted.join(' '))}`);
  if (r.skipped.length) {
    out.push('', `would skip (${r.skipped.length}):`);
    const ws = Math.max(8, ...r.skipped.map((s) => s.option.length));
    for (const s of r.skipped) out.push(`  ${s.option.padEnd(ws)}  ${printable(s.reason)}`);
  }
  out.push('', `first trials (each on top of what the trials before accepted; ${r.batchesTotal} trials if every one passes):`);
  for (const b of r.batches) {
    out.push(`  trial ${b.trial}: ${b.settings.length} setting${b.settings.length === 1 ? '' : 's'}, passes with ≈${pct(b.passChance)}: ${printable(b.settings.join(' '))}`);
  }
  if (r.batches.length && r.strategy === 'adaptive') out.push('  a failed trial is split: the likelier half is tried next, the rest waits as the suspect');
  if (r.probes.length) out.push('', ...r.probes.map((p) => `probe ${printable(p.probe)}: ${p.ok ? 'passes now' : `FAILS now: ${printable(p.detail)}`}`));
  for (const x of r.warnings) out.push(`warning: ${printable(x)}`);
  for (const x of r.notes) out.push(`note: ${printable(x)}`);
  return out.join('\n');
}

export function formatScan(r: ScanReport): string {
  const w = Math.max(4, ...r.units.map((u) => u.unit.length));
  // scan --audit: the battery's count beside the exposure ("-" where it did not run: --json says why)
  const audit = (text: string) => (r.units.some((u) => u.audit) ? `${text.padEnd(13)}  ` : '');
  const head = `${'UNIT'.padEnd(w)}  EXPOSURE  ${audit('AUDIT')}PREDICTED  STATE        NOTE`;
  const lines = r.units.map((u) => {
    const note = [u.ignored ? 'ignored' : '', u.note ?? ''].filter(Boolean).join('; ');
    return `${printable(u.unit).padEnd(w)}  ${score(u.exposure).padStart(8)}  ${audit(auditCell(u.audit))}${score(u.predicted).padStart(9)}  ${u.state.padEnd(11)}  ${printable(note)}`.trimEnd();
  });
  return [head, ...lines].join('\n');
}

/** The stderr listing of a failed gate. */
export function formatOver(r: ScanReport): string {
  const byUnit = new Map(r.units.map((u) => [u.unit, u]));
  return r.over.map((u) => `autoharden: ${printable(u)}: exposure ${score(byUnit.get(u)?.exposure)} is above ${score(r.threshold)}`).join('\n');
}
