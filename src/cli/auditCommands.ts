// audit: the attack battery inside a unit's own sandbox, run in this process (root only).
import type { Command } from 'commander';
import type { AuditReport } from '../app/audit.js';
import type { Stop } from '../app/app.js';
import { printable } from '../core/text.js';
import { print, writeStderr } from './common.js';

/** SIGINT, SIGTERM and SIGHUP stop the audit unit (and remove its files) before the command ends. */
export function stopOnSignals(): Stop {
  const ac = new AbortController();
  let first: NodeJS.Signals | undefined;
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(s, () => {
      if (first) return;
      first = s;
      writeStderr(`autoharden: ${s}: stopping the audit unit\n`);
      ac.abort();
    });
  }
  return { signal: ac.signal, received: () => first };
}

/** One line per technique, the count, then what the audit unit could not carry. */
export function formatAudit(r: AuditReport): string {
  const width = Math.max(...r.techniques.map((t) => t.result.length), 0);
  return [
    ...r.techniques.map((t) => `${t.result.padEnd(width)} — ${t.description}${t.detail ? ` (${printable(t.detail)})` : ''}`),
    `blocked ${r.summary.blocked}/${r.summary.applicable}`,
    ...r.disagreements.map((d) => printable(d.line)),
    ...(r.notCompared ? [printable(r.notCompared)] : []),
    ...r.skippedProperties.map((s) => `not carried into the audit: ${s.name} — ${printable(s.reason)}`),
  ].join('\n');
}

export function registerAuditCommands(program: Command): void {
  program
    .command('audit')
    .description("run an attack battery inside the unit's own sandbox: which techniques a compromised service could still use")
    .argument('<unit>')
    .option('--peer <addr:port>', 'a host (numeric IPV4:PORT or [IPV6]:PORT) the battery may try to connect to; without it no connection leaves the machine')
    .option('--json', 'print one JSON document')
    .action(async (unitArg: string, opts) => {
      const { AUDIT, audit, incompleteError } = await import('../app/audit.js');
      const req = AUDIT.parse({ unit: unitArg, peer: opts.peer });
      const r = await audit(req, stopOnSignals);
      print(Boolean(opts.json), r, formatAudit(r));
      const e = incompleteError(r);
      if (e) throw e;
    });
}
