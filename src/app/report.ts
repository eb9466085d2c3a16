// report: a unit's journal (read locally or through the daemon, as `journal` reads it) rendered
// as Markdown or HTML. The folding and rendering are the core's (core/reportDoc.ts, reportRender.ts).
import { acceptedSet, type JournalRecord } from '../core/journal.js';
import { buildReport } from '../core/reportDoc.js';
import { renderHtml, renderMarkdown } from '../core/reportRender.js';

export type ReportFormat = 'md' | 'html';

export function renderReport(unit: string, records: readonly JournalRecord[], format: ReportFormat): string {
  const doc = buildReport(unit, records, acceptedSet(records));
  return format === 'html' ? renderHtml(doc) : renderMarkdown(doc);
}
