// The HTML report as a browser draws it: headless Chromium (Debian's `chromium`) screenshots the
// page, and the screenshot must show the chart's line colour in a chart-sized region and the
// table headers' background below it. A render without the chart must fail the same check.
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { acceptedSet, scanJournal } from '../../src/core/journal.js';
import { CHART_COLOURS } from '../../src/core/reportChart.js';
import { buildReport } from '../../src/core/reportDoc.js';
import { TABLE_HEAD, renderHtml } from '../../src/core/reportRender.js';
import { decodePng, type Image } from '../harness/png.js';

function findChromium(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) {
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}
const CHROMIUM = findChromium();
const W = 1200;
const H = 2000;

const hex = (h: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];

interface Box { n: number; x0: number; y0: number; x1: number; y1: number }
/** Where a colour appears in the screenshot (exactly, give or take rounding). */
function find(img: Image, colour: string): Box {
  const want = hex(colour);
  const box: Box = { n: 0, x0: Infinity, y0: Infinity, x1: -1, y1: -1 };
  const { pixels: px, channels: c, width } = img;
  for (let o = 0; o < px.length; o += c) {
    if (Math.abs(px[o]! - want[0]) > 2 || Math.abs(px[o + 1]! - want[1]) > 2 || Math.abs(px[o + 2]! - want[2]) > 2) continue;
    const x = (o / c) % width;
    const y = Math.floor(o / c / width);
    box.n++;
    box.x0 = Math.min(box.x0, x); box.y0 = Math.min(box.y0, y);
    box.x1 = Math.max(box.x1, x); box.y1 = Math.max(box.y1, y);
  }
  return box;
}

/** What is wrong with a screenshot of the report: empty when the chart and a table are there. */
function problems(img: Image): string[] {
  const out: string[] = [];
  const chart = find(img, CHART_COLOURS.LINE);
  const table = find(img, TABLE_HEAD);
  // the line and the accepted trials' dots: hundreds of pixels, inside the 760x300 chart
  if (chart.n < 300) out.push(`chart colour ${CHART_COLOURS.LINE}: ${chart.n} pixels`);
  else if (chart.x1 - chart.x0 > 760 || chart.y1 - chart.y0 > 300 || chart.x1 - chart.x0 < 300) out.push(`chart colour spread over ${chart.x0},${chart.y0}-${chart.x1},${chart.y1}`);
  if (table.n < 1000) out.push(`table header colour ${TABLE_HEAD}: ${table.n} pixels`);
  else if (chart.n > 0 && table.y0 <= chart.y1) out.push(`the first table header (y ${table.y0}) is not below the chart (y ${chart.y1})`);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'ah-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function screenshot(name: string, html: string): Promise<Image> {
  const page = join(dir, `${name}.html`);
  const png = join(dir, `${name}.png`);
  writeFileSync(page, html);
  await promisify(execFile)(CHROMIUM!, [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1',
    '--force-color-profile=srgb', '--no-first-run', `--user-data-dir=${join(dir, `profile-${name}`)}`,
    `--screenshot=${png}`, `--window-size=${W},${H}`, `file://${page}`,
  ], { timeout: 90_000 });
  return decodePng(readFileSync(png));
}

const skip = CHROMIUM ? '' : ' (SKIPPED: chromium is not installed; apt-get install chromium, as scripts/install-deps.sh does)';
describe.skipIf(!CHROMIUM)(`the HTML report in headless Chromium${skip}`, () => {
  it('shows the chart and, below it, the tables; without the chart the check fails', { timeout: 120_000 }, async () => {
    const scan = scanJournal(readFileSync(new URL('../fixtures/journal/nginx-tune.jsonl', import.meta.url)));
    if (!scan.ok) throw new Error('fixture');
    const doc = buildReport('nginx.service', scan.records, acceptedSet(scan.records));
    // both pages at once: each Chromium start takes seconds, mostly waiting
    const [full, bare] = await Promise.all([screenshot('full', renderHtml(doc)), screenshot('bare', renderHtml(doc, { chart: false }))]);
    expect([full.width, full.height]).toEqual([W, H]);
    expect(problems(full)).toEqual([]);
    const chart = find(full, CHART_COLOURS.LINE);
    // the start (9.4) is drawn near the top of the chart, the end (2.3) lower: the line falls
    expect(chart.y1 - chart.y0).toBeGreaterThan(100);
    expect(problems(bare)).toEqual([expect.stringContaining('chart colour')]);
  });
});
