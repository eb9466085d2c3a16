// `autoharden report`: the journal folded into a document and rendered as Markdown and HTML.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { exposureFromRows } from '../../src/core/analyzeRows.js';
import { optionByName } from '../../src/core/catalog.js';
import { acceptedSet, recordSchema, scanJournal, type JournalRecord } from '../../src/core/journal.js';
import { CHART_COLOURS, exposureChart } from '../../src/core/reportChart.js';
import { buildReport, checkRows } from '../../src/core/reportDoc.js';
import { escapeMd, renderHtml, renderMarkdown } from '../../src/core/reportRender.js';
import { tune } from '../../src/engine/tune.js';
import { fakePorts } from '../fakes/ports.js';

const FIXTURE = new URL('../fixtures/journal/nginx-tune.jsonl', import.meta.url);

export function fixtureRecords(): JournalRecord[] {
  const scan = scanJournal(readFileSync(FIXTURE));
  if (!scan.ok || scan.torn) throw new Error('fixture journal does not read');
  return scan.records;
}
const docOf = (records: JournalRecord[]) => buildReport('nginx.service', records, acceptedSet(records));

const HOSTILE = 'boom | <script>alert(1)</script>\nnext line *b* _i_ [x](http://e) `c` & \\ ~~s~~ # h';

function withHostileReason(): JournalRecord[] {
  return fixtureRecords().map((r) => (r.kind === 'trial-end' && r.trial === 1 ? { ...r, reason: HOSTILE } : r));
}

describe('report document', () => {
  it('reads the checks the tune journaled at its begin and end', () => {
    const doc = docOf(fixtureRecords());
    expect(doc.tunes).toHaveLength(1);
    const t = doc.tunes[0]!;
    expect(t.checks).toHaveLength(81);
    expect(t.checksNote).toBeUndefined();
    const ps = t.checks!.find((c) => c.field === 'ProtectSystem')!;
    expect(ps).toMatchObject({ weight: 1000, changed: true, before: { verdict: 'fail', badness: 10, range: 10 }, after: { verdict: 'pass', badness: 0 } });
    expect(ps.before!.contribution).toBeGreaterThan(0);
    expect(ps.after!.contribution).toBe(0);
    // changed checks come first
    const firstUnchanged = t.checks!.findIndex((c) => !c.changed);
    expect(t.checks!.slice(firstUnchanged).every((c) => !c.changed)).toBe(true);
    expect(t.checks!.find((c) => c.field === 'SupplementaryGroups')!.before!.verdict).toBe('n/a');
  });

  it('times each trial from its begin to its end and keeps verdict and why', () => {
    const t = docOf(fixtureRecords()).tunes[0]!;
    expect(t.trials).toHaveLength(11);
    expect(t.trials[0]).toMatchObject({ trial: 1, outcome: 'rejected', verdict: 'failed', durationMs: 7400 });
    expect(t.trials[0]!.evidence[0]).toContain('Read-only file system');
    expect(t.trials[2]!.settings).toEqual(['ProtectSystem=strict', 'ReadWritePaths=/var/log/nginx']);
  });

  it('estimates the exposure after each trial between the measured start and end', () => {
    const t = docOf(fixtureRecords()).tunes[0]!;
    const pts = t.chart.points;
    expect(pts[0]).toMatchObject({ x: 0, exposure: 9.4, kind: 'measured' });
    expect(pts.at(-1)).toMatchObject({ x: 12, exposure: 2.3, kind: 'measured' });
    const est = pts.filter((p) => p.kind === 'estimated');
    expect(est).toHaveLength(11);
    // a rejected trial changes nothing; an accepted one lowers it; never below the end's rows
    expect(est[0]!.exposure).toBe(9.4);
    expect(est[1]!.exposure).toBeLessThan(est[0]!.exposure);
    for (let i = 1; i < est.length; i++) expect(est[i]!.exposure).toBeLessThanOrEqual(est[i - 1]!.exposure);
    // the end's rows also changed DeviceAllow, which no tried option owns (PrivateDevices moved
    // it): the estimate cannot place that change, the measured end does
    const end = fixtureRecords().find((r) => r.kind === 'tune-end');
    const endRows = exposureFromRows(end?.kind === 'tune-end' ? end.checks! : [])!;
    expect(endRows).toBe(2.3);
    expect(est.at(-1)!.exposure).toBeGreaterThan(endRows);
    expect(est.at(-1)!.exposure).toBeLessThanOrEqual(endRows + 0.2);
  });

  it('draws only the measured points, and says so, when the journal has no checks (an old journal)', () => {
    const old = fixtureRecords().map((r) => (r.kind === 'tune-begin' || r.kind === 'tune-end' ? (({ checks: _c, ...rest }) => rest)(r) : r)) as JournalRecord[];
    const t = docOf(old).tunes[0]!;
    expect(t.checks).toBeUndefined();
    expect(t.checksNote).toMatch(/no per-check rows/);
    expect(t.chart.points.map((p) => p.kind)).toEqual(['measured', 'measured']);
    expect(t.chart.note).toMatch(/Only the measured points/);
    const md = renderMarkdown(docOf(old));
    expect(md).toContain('The journal holds no per-check rows');
  });

  it('tells the guard, maintenance and re-verification apart from the tune', () => {
    const doc = docOf(fixtureRecords());
    expect(doc.guard.map((e) => e.what)).toEqual(['guard pause (user)', 'guard resume (user)', 'alert by the guard', 'rollback by the guard', 're-verified: ok']);
    expect(doc.tunes[0]!.events.map((e) => e.what)).toEqual(['persisted']);
    expect(doc.tunes[0]!.costs).toHaveLength(2);
    expect(doc.accepted).not.toContain('SystemCallFilter=@system-service'); // the guard rolled it back
  });

  it('orders checks present on one side only without crashing', () => {
    const rows = checkRows([{ field: 'A', weight: 10, range: 1, badness: 1 }], [{ field: 'B', weight: 5, range: 1, badness: 0 }]);
    expect(rows.map((r) => [r.field, Boolean(r.before), Boolean(r.after), r.changed])).toEqual([['A', true, false, false], ['B', false, true, false]]);
  });
});

describe('markdown', () => {
  it('has a table row per trial and per check', () => {
    const md = renderMarkdown(docOf(fixtureRecords()));
    expect(md).toContain('| # | settings | outcome | verdict | why | took |');
    expect(md).toMatch(/^\| 3 \| ProtectSystem=strict ReadWritePaths=\/var\/log\/nginx \| accepted \| healthy \| probes passed with the paths the failure named \| 8\.8 s \|$/m);
    expect(md).toMatch(/^\| ProtectSystem \| 1000 \| ✗ 10\/10 \(\+[\d.]+\) \| ✓ 0\/10 \(\+0\.00\) \| yes \|$/m);
    expect(md).toMatch(/^\| start \(measured\) \| 9\.4 \| █+ \|$/m);
    expect(md).toContain('| 2026-12-01T06:44:24.501Z | rollback by the guard | SystemCallFilter: the kernel audit log');
  });

  it('keeps hostile text in its cell: no raw HTML, pipes or line breaks', () => {
    const md = renderMarkdown(docOf(withHostileReason()));
    const line = md.split('\n').find((l) => l.startsWith('| 1 |'))!;
    expect(line).toBeDefined();
    expect(md).not.toContain('<script>');
    expect(line).toContain('&lt;script&gt;');
    expect(line).toContain('boom \\| ');
    expect(line).toContain('next line \\*b\\* \\_i\\_ \\[x\\](http://e) \\`c\\` &amp; \\\\ \\~\\~s\\~\\~ # h');
    // the row still has exactly its six cells: every | of the text is escaped
    expect(line.replace(/\\\|/g, '').split('|').length - 2).toBe(6);
    expect(escapeMd('a\r\nb\u2028c')).toBe('a  b c');
  });
});

describe('html', () => {
  it('escapes hostile text and forbids scripts', () => {
    const html = renderHtml(docOf(withHostileReason()));
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;'); // the fixture's guard alert
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/\b(src|href)=["']?https?:/); // no external assets
    const cell = /<td>boom \| &lt;script&gt;[^<]*<\/td>/.exec(html);
    expect(cell?.[0]).toContain('next line'); // the line break became a space inside the cell
  });

  it('embeds the chart with a mark per point, at the place each exposure gives', () => {
    const doc = docOf(fixtureRecords());
    const html = renderHtml(doc);
    const svg = /<svg[\s\S]*?<\/svg>/.exec(html)?.[0];
    expect(svg).toBeDefined();
    const marks = [...svg!.matchAll(/class="point (\w+)"[^>]*data-x="(\d+)" data-exposure="([\d.]+)"/g)].map((m) => [m[1], Number(m[2]), Number(m[3])]);
    expect(marks).toEqual(doc.tunes[0]!.chart.points.map((p) => [p.kind, p.x, p.exposure]));
    const poly = /<polyline points="([^"]+)"[^>]*stroke="([^"]+)"/.exec(svg!)!;
    expect(poly[2]).toBe(CHART_COLOURS.LINE);
    const ys = poly[1]!.split(' ').map((p) => Number(p.split(',')[1]));
    expect(ys).toHaveLength(13);
    expect(ys[0]!).toBeLessThan(ys.at(-1)!); // 9.4 is drawn higher (smaller y) than 2.3
    expect(renderHtml(doc, { chart: false })).not.toContain('<svg');
  });

  it('draws nothing for no points and escapes its title', () => {
    expect(exposureChart([], 'x')).toBe('');
    expect(exposureChart([{ x: 0, exposure: 5, label: '<b>', kind: 'measured' }], '<t>')).toContain('<title>&lt;t&gt;</title>');
  });
});

describe('autoharden report (the command, on a state directory)', () => {
  const run = async (args: string[]): Promise<string> => {
    const { buildProgram } = await import('../../src/cli/program.js');
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (chunks.push(String(s)), true));
    try {
      await buildProgram().parseAsync(['node', 'autoharden', ...args]);
    } finally {
      spy.mockRestore();
    }
    return chunks.join('');
  };

  it('renders the journal of the state directory as Markdown (default) and HTML', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ah-report-'));
    try {
      mkdirSync(join(dir, 'journal'));
      copyFileSync(FIXTURE, join(dir, 'journal', 'nginx.service.jsonl'));
      const md = await run(['report', 'nginx', '--state-dir', dir]);
      expect(md).toMatch(/^# autoharden report: nginx\.service\n/);
      expect(md).toContain('| 10 | SystemCallFilter=@system-service | accepted |');
      const html = await run(['report', 'nginx.service', '--format', 'html', '--state-dir', dir]);
      expect(html).toMatch(/^<!DOCTYPE html>/);
      expect(html).toContain('<svg');
      await expect(run(['report', 'redis.service', '--state-dir', dir])).rejects.toMatchObject({ code: 'UnitUnknown' });
      await expect(run(['report', 'nginx.service', '--format', 'pdf', '--state-dir', dir])).rejects.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the checks a tune journals for the report', () => {
  const o = { unit: 'sim.service', probes: [], settleMs: 100, strategy: 'one-at-a-time' as const, persist: false, declarations: { allowNet: [], localOnly: false, confineSessions: false } };
  const BEFORE = [{ field: 'PrivateTmp', weight: 1000, range: 1, badness: 1 }, { field: 'RemoveIPC', weight: 100, range: 1 }];
  const AFTER = [{ field: 'PrivateTmp', weight: 1000, range: 1, badness: 0 }, { field: 'RemoveIPC', weight: 100, range: 1 }];

  it('at the tune-begin and the tune-end, as analyze lists them then', async () => {
    const answers = [BEFORE, AFTER];
    const ports = fakePorts('sim.service', { exposureRows: async () => answers.shift() });
    await tune(ports, o, [optionByName('PrivateTmp')!]);
    const records = ports.journal.read();
    expect(records.find((r) => r.kind === 'tune-begin')).toMatchObject({ checks: BEFORE });
    expect(records.find((r) => r.kind === 'tune-end')).toMatchObject({ checks: AFTER });
    const t = docOf(records).tunes[0]!;
    expect(t.checks!.find((c) => c.field === 'PrivateTmp')).toMatchObject({ changed: true, before: { verdict: 'fail' }, after: { verdict: 'pass' } });
  });

  it('none when analyze cannot list them; old and garbled ones read as absent', async () => {
    const ports = fakePorts('sim.service', { exposureRows: async () => undefined });
    await tune(ports, o, [optionByName('PrivateTmp')!]);
    for (const r of ports.journal.read()) expect(r).not.toHaveProperty('checks');
    const begin = { t: '2026-01-01T00:00:00.000Z', unit: 'x.service', kind: 'tune-begin', strategy: 'adaptive', probes: [], exposure: 9 };
    expect(recordSchema.parse(begin)).not.toHaveProperty('checks.0');
    expect(recordSchema.parse({ ...begin, checks: [{ field: 'A' }] })).toMatchObject({ kind: 'tune-begin', checks: undefined });
    expect((recordSchema.parse({ ...begin, checks: 'garbage' }) as { checks?: unknown }).checks).toBeUndefined();
  });
});

describe('journals with several tunes, or a tune not ended', () => {
  it('a section per tune, in order; a tune cut short says so', () => {
    const all = fixtureRecords();
    const endAt = all.findIndex((r) => r.kind === 'tune-end');
    const tune = all.slice(0, endAt + 1);
    const cut = all.slice(0, all.findIndex((r) => r.kind === 'trial-end' && r.trial === 4) + 1);
    const doc = docOf([...tune, ...cut]);
    expect(doc.tunes.map((t) => [t.trials.length, Boolean(t.endedAt)])).toEqual([[11, true], [4, false]]);
    const open = doc.tunes[1]!;
    expect(open.chart.points.map((p) => p.kind)).toEqual(['measured']);
    expect(open.chart.note).toMatch(/has not ended/);
    expect(open.checksNote).toMatch(/not ended/);
    const md = renderMarkdown(doc);
    expect(md).toContain('## Tune 1 of 2');
    expect(md).toContain('## Tune 2 of 2');
    expect(md).toMatch(/Started [^\n]*, not ended;/);
    expect(renderHtml(doc).match(/<svg/g)).toHaveLength(2);
  });

  it('a tune stopped by a limit says so', () => {
    const recs = fixtureRecords().map((r) => (r.kind === 'tune-end' ? { ...r, complete: false, stoppedBy: '--max-restarts 14 | <b>' } : r));
    const md = renderMarkdown(docOf(recs));
    expect(md).toContain('Stopped before its search ended (--max-restarts 14 \\| &lt;b&gt;)');
    expect(renderMarkdown(docOf(fixtureRecords()))).not.toContain('Stopped before');
  });

  it('an empty journal reports no tune', () => {
    expect(renderMarkdown(docOf([]))).toContain('The journal holds no tune.');
  });
});
