// The exposure chart of a report: inline SVG, no scripts, no external assets. Pure.
import type { ChartPoint } from './reportDoc.js';

/** Colours the chart draws with (the screenshot test looks for LINE). */
export const CHART_COLOURS = { LINE: '#d9480f', REJECTED: '#868e96', MEASURED: '#1c7ed6', GRID: '#dee2e6', TEXT: '#343a40' } as const;

const W = 760;
const H = 300;
const PAD = { l: 44, r: 16, t: 16, b: 40 };

export const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const f = (n: number) => (Math.round(n * 10) / 10).toString();

/** Exposure (0..10, higher is worse) along the tune: a line through the points in order, a dot
 * per point (accepted trials in the line's colour, the others grey, measured ones as squares).
 * Empty string when there is nothing to draw. */
export function exposureChart(points: readonly ChartPoint[], title: string): string {
  if (points.length === 0) return '';
  const { LINE, REJECTED, MEASURED, GRID, TEXT } = CHART_COLOURS;
  const maxX = Math.max(1, ...points.map((p) => p.x));
  const x = (v: number) => PAD.l + (v / maxX) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + (1 - Math.min(10, Math.max(0, v)) / 10) * (H - PAD.t - PAD.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" class="chart">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  for (let v = 0; v <= 10; v += 2) {
    out.push(`<line x1="${PAD.l}" y1="${f(y(v))}" x2="${W - PAD.r}" y2="${f(y(v))}" stroke="${GRID}" stroke-width="1"/>`);
    out.push(`<text x="${PAD.l - 8}" y="${f(y(v) + 4)}" text-anchor="end" font-size="11" fill="${TEXT}">${v}</text>`);
  }
  out.push(`<text x="${PAD.l}" y="${H - 8}" font-size="11" fill="${TEXT}">start</text>`);
  out.push(`<text x="${W - PAD.r}" y="${H - 8}" text-anchor="end" font-size="11" fill="${TEXT}">end (${points.length} points; exposure 0 best, 10 worst)</text>`);
  const path = points.map((p) => `${f(x(p.x))},${f(y(p.exposure))}`).join(' ');
  out.push(`<polyline points="${path}" fill="none" stroke="${LINE}" stroke-width="3" stroke-linejoin="round"/>`);
  for (const p of points) {
    const cx = f(x(p.x));
    const cy = f(y(p.exposure));
    const tip = `<title>${escapeXml(`${p.label}: ${p.exposure.toFixed(1)}${p.outcome ? `, ${p.outcome}` : ''}`)}</title>`;
    if (p.kind === 'measured') {
      out.push(`<rect class="point measured" x="${f(x(p.x) - 6)}" y="${f(y(p.exposure) - 6)}" width="12" height="12" fill="${MEASURED}" data-x="${p.x}" data-exposure="${p.exposure}">${tip}</rect>`);
    } else {
      const fill = p.outcome === 'accepted' ? LINE : REJECTED;
      out.push(`<circle class="point estimated" cx="${cx}" cy="${cy}" r="7" fill="${fill}" data-x="${p.x}" data-exposure="${p.exposure}">${tip}</circle>`);
    }
  }
  out.push('</svg>');
  return out.join('\n');
}
