// The report document (reportDoc.ts) as Markdown or as one self-contained HTML page. Pure. All
// journal text is flattened to one line and escaped here: a reason a service wrote may hold
// `<script>`, `|` or line breaks. The HTML also forbids scripts and fetches by its CSP.
import { flattened } from './text.js';
import { escapeXml, exposureChart } from './reportChart.js';
import type { CheckRow, CheckState, EventRow, ReportDoc, TuneSection } from './reportDoc.js';

/** The background of table headers (the screenshot test looks for it). */
export const TABLE_HEAD = '#dbe4ff';

export interface RenderOptions {
  /** Draw the exposure chart (HTML); true unless said otherwise. */
  chart?: boolean;
}

const ms = (n: number | undefined): string => {
  if (n === undefined) return '?';
  if (n < 1000) return `${Math.round(n)} ms`;
  const s = n / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
};
const exp = (n: number | null | undefined) => (n === null || n === undefined ? '?' : n.toFixed(1));
const pct = (n: number | null) => (n === null ? '?' : `${((n - 1) * 100).toFixed(1)} %`);

const stateText = (s: CheckState | undefined): string =>
  !s ? '—' : s.verdict === 'n/a' ? 'n/a' : `${s.verdict === 'pass' ? '✓' : s.verdict === 'fail' ? '✗' : '◐'} ${s.badness}/${s.range} (+${s.contribution.toFixed(2)})`;

/** A table: a header and rows of plain text cells, escaped by the renderer. */
interface Table {
  head: string[];
  rows: string[][];
}

interface Block {
  heading: string;
  level: 2 | 3;
  text?: string[];
  table?: Table;
  chart?: boolean;
  empty?: string;
}

function trialTable(t: TuneSection): Table {
  return {
    head: ['#', 'settings', 'outcome', 'verdict', 'why', 'took'],
    rows: t.trials.map((r) => [
      String(r.trial),
      r.settings.join(' '),
      r.outcome,
      r.verdict,
      [r.reason, ...r.evidence].join(' — ') + (r.cost ? ` (cost ×${r.cost.ratio.toFixed(3)} ± ${r.cost.spread.toFixed(3)})` : ''),
      ms(r.durationMs),
    ]),
  };
}

function checkTable(rows: readonly CheckRow[]): Table {
  return {
    head: ['check', 'weight', 'before', 'after', 'changed'],
    rows: rows.map((r) => [r.field, String(r.weight), stateText(r.before), stateText(r.after), r.changed ? 'yes' : '']),
  };
}

const eventTable = (events: readonly EventRow[]): Table => ({ head: ['when', 'what', 'detail'], rows: events.map((e) => [e.t, e.what, e.detail]) });

function tuneBlocks(t: TuneSection, n: number, of: number): Block[] {
  const summary = [
    `Started ${t.startedAt ?? '(no tune-begin record)'}${t.endedAt ? `, ended ${t.endedAt}` : ', not ended'}; strategy ${t.strategy ?? '?'}; probes: ${t.probes.join(', ') || 'none'}.`,
    `Exposure ${exp(t.exposureBefore)} → ${exp(t.exposureAfter)} (systemd-analyze security, 0 best, 10 worst); ${t.trials.length} trials journaled${t.restarts !== undefined ? `, ${t.restarts} restarts` : ''}${t.durationMs !== undefined ? `, ${ms(t.durationMs)}` : ''}${t.downtimeMs !== undefined ? `, ${ms(t.downtimeMs)} without service` : ''}.`,
    ...(t.audit ? [`Attack battery (tune --audit): blocked ${t.audit.before ?? '?'} → ${t.audit.after ?? '?'}${t.audit.stillPossible.length ? `; still possible: ${t.audit.stillPossible.join(' ')}` : ''}.`] : []),
    ...(t.audit?.disagree?.length ? [`Score and battery disagree: ${t.audit.disagree.join('; ')}.`] : []),
    ...(t.stoppedEarly ? [`Stopped before its search ended (${t.stoppedEarly}): what it kept is verified, the rest was not tried.`] : []),
  ];
  const points: Table = { head: ['point', 'exposure', ''], rows: t.chart.points.map((p) => [p.label + (p.outcome ? `, ${p.outcome}` : ''), p.exposure.toFixed(1), '█'.repeat(Math.round(p.exposure * 2))]) };
  const costs: Table = {
    head: ['measured', 'options', 'verdict', 'slowdown', 'bounds', 'budget', 'pairs', 'how'],
    rows: t.costs.map((c) => [c.t, c.options.join(', '), c.verdict, `${pct(c.ratio)} ± ${(c.spread * 100).toFixed(1)} %`, `${pct(c.lower)} … ${pct(c.upper)}${c.atBound ? ' (at a bound)' : ''}`, `${(c.budget * 100).toFixed(1)} %`, String(c.pairs), c.description]),
  };
  return [
    { heading: of > 1 ? `Tune ${n} of ${of}` : 'Tune', level: 2, text: summary },
    { heading: 'Exposure after each trial', level: 3, chart: true, table: points, text: [t.chart.note], empty: 'Nothing measured.' },
    { heading: 'Trials', level: 3, table: trialTable(t), empty: 'No trial was journaled.' },
    { heading: 'Cost measurements', level: 3, table: costs, empty: 'No cost was measured (tune without --workload).' },
    { heading: 'Checks before and after', level: 3, ...(t.checks ? { table: checkTable(t.checks) } : {}), text: [t.checksNote ?? 'Every check systemd-analyze security scores: ✓ passes, ✗ fails, ◐ partly; badness/range and (+exposure it adds).'], empty: '' },
    { heading: 'Skipped', level: 3, table: { head: ['option', 'value', 'why'], rows: t.skipped.map((s) => [s.option, s.value, s.reason]) }, empty: 'Nothing skipped.' },
    { heading: 'Events during the tune', level: 3, table: eventTable(t.events), empty: 'None.' },
  ];
}

function blocks(doc: ReportDoc): Block[] {
  const out: Block[] = [];
  if (doc.tunes.length === 0) out.push({ heading: 'Tune', level: 2, text: ['The journal holds no tune.'] });
  doc.tunes.forEach((t, i) => out.push(...tuneBlocks(t, i + 1, doc.tunes.length)));
  out.push({ heading: "The guard's actions and maintenance", level: 2, table: eventTable(doc.guard), empty: 'None journaled outside the tunes.' });
  return out;
}

const intro = (doc: ReportDoc) => `${doc.records} journal records. Accepted now: ${doc.accepted.join(' ') || 'nothing'}.`;

// ---------------------------------------------------------------------------------------------
// Markdown

/** Journal text as inline Markdown: one line, HTML specials as entities, Markdown's inline
 * specials escaped (it never starts a line, so `#`, `-` or `1.` cannot begin a block). */
export function escapeMd(s: string): string {
  return flattened(s)
    .replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!)
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`);
}

function mdTable(t: Table): string[] {
  const row = (cells: readonly string[]) => `| ${cells.map((c) => escapeMd(c) || ' ').join(' | ')} |`;
  return [row(t.head), `|${t.head.map(() => ' --- ').join('|')}|`, ...t.rows.map(row)];
}

export function renderMarkdown(doc: ReportDoc): string {
  const lines = [`# autoharden report: ${escapeMd(doc.unit)}`, '', escapeMd(intro(doc)), ''];
  for (const b of blocks(doc)) {
    lines.push(`${'#'.repeat(b.level)} ${escapeMd(b.heading)}`, '');
    for (const p of b.text ?? []) lines.push(escapeMd(p), '');
    if (b.table && b.table.rows.length) lines.push(...mdTable(b.table), '');
    else if (b.empty) lines.push(escapeMd(b.empty), '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

// ---------------------------------------------------------------------------------------------
// HTML

export const escapeHtml = (s: string): string => escapeXml(flattened(s));

const CSS = `body{font:14px/1.45 system-ui,sans-serif;color:#212529;margin:24px;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}th{background:${TABLE_HEAD};text-align:left}
th,td{border:1px solid #adb5bd;padding:4px 8px;vertical-align:top}td{overflow-wrap:anywhere}td:first-child{white-space:nowrap}
h2{border-bottom:2px solid #495057;margin-top:32px}.note{color:#495057}`;

function htmlTable(t: Table): string {
  const head = `<tr>${t.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const rows = t.rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`);
  return `<table>\n${head}\n${rows.join('\n')}\n</table>`;
}

export function renderHtml(doc: ReportDoc, o: RenderOptions = {}): string {
  const drawChart = o.chart ?? true;
  const body: string[] = [`<h1>autoharden report: ${escapeHtml(doc.unit)}</h1>`, `<p>${escapeHtml(intro(doc))}</p>`];
  let tune = -1;
  for (const b of blocks(doc)) {
    if (b.level === 2 && b.heading.startsWith('Tune')) tune++;
    body.push(`<h${b.level}>${escapeHtml(b.heading)}</h${b.level}>`);
    if (b.chart) {
      const svg = drawChart ? exposureChart(doc.tunes[tune]?.chart.points ?? [], `Exposure of ${doc.unit} along the tune`) : '';
      if (svg) body.push(`<figure>${svg}</figure>`);
      else if (drawChart) body.push(`<p class="note">${escapeHtml(b.empty ?? '')}</p>`);
      for (const p of b.text ?? []) body.push(`<p class="note">${escapeHtml(p)}</p>`);
      continue; // the points are in the chart; the Markdown shows them as a table
    }
    for (const p of b.text ?? []) body.push(`<p class="note">${escapeHtml(p)}</p>`);
    if (b.table && b.table.rows.length) body.push(htmlTable(b.table));
    else if (b.empty) body.push(`<p class="note">${escapeHtml(b.empty)}</p>`);
  }
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>autoharden report: ${escapeHtml(doc.unit)}</title>
<style>${CSS}</style></head>
<body>
${body.join('\n')}
</body></html>
`;
}
