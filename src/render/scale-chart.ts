/**
 * The chart of `memhunt scale`: peak against input size — the runs as points (failed and killed
 * ones marked), the chosen model's curve and its interval band out to the full size, the models the
 * data could not rule out (dashed), the projection with its interval, the limit and the request.
 * Axes are logarithmic when the values span 8× or more (sizes usually double, and the full size is
 * often 10–100× the largest run), linear otherwise. SVG here; PNG is this SVG rasterised by
 * png.ts's resvg with the bundled fonts; HTML is one offline page with the SVG and the report text.
 */
import { predict, predictInterval, type ModelKind, type ScalingAnalysis } from '../analysis/scaling';
import { LIMIT_COLOR } from './chart';
import { FONT_STACK, fitText } from './fonts';
import { escapeXml } from './layout';
import { rasterise } from './png';
import { byteTicks, fmtBytes, type Tick } from './ticks';

export interface ScaleChartInput {
  title: string;
  percent: boolean;
  /** "peak (tree RSS)". */
  yTitle: string;
  unit: string;
  runs: Array<{ size: number; peakBytes: number; status: 'ok' | 'failed' | 'killed' | 'cut' | 'interrupted' }>;
  analysis: ScalingAnalysis;
  limitBytes: number | null;
  requestBytes: number;
}

const W = 1000;
const H = 600;
const M = { left: 84, right: 30, top: 62, bottom: 58 };
const INK = '#1a1a1a';
const MUTED = '#555';
const GRID = '#e6e6e6';
const FIT = '#1f77b4';
const OTHER = ['#ff7f0e', '#9467bd', '#8c564b', '#2ca02c'];
const REQUEST = '#2ca02c';
const f1 = (n: number) => (Math.round(n * 10) / 10).toString();

const NAMES: Record<ModelKind, string> = { constant: 'constant', linear: 'constant + linear', nlogn: 'n log n', quadratic: 'quadratic', power: 'power law' };

interface Axis {
  log: boolean;
  lo: number;
  hi: number;
  px: (v: number) => number;
}

function axis(lo: number, hi: number, log: boolean, from: number, to: number): Axis {
  const a = log ? Math.log(lo) : lo;
  const b = log ? Math.log(hi) : hi;
  return { log, lo, hi, px: (v) => from + ((log ? Math.log(Math.max(v, lo * 1e-3)) : v) - a) / (b - a) * (to - from) };
}

function sizeLabel(v: number, percent: boolean): string {
  if (percent) return `${Number(v.toPrecision(3))}%`;
  const units: Array<[number, string]> = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [u, s] of units) if (v >= u) return `${Number((v / u).toPrecision(3))}${s}`;
  return String(Number(v.toPrecision(3)));
}

function logTicks(lo: number, hi: number, label: (v: number) => string): Tick[] {
  const ticks: Tick[] = [];
  const decades = Math.log10(hi / lo);
  const mults = decades < 1.5 ? [1, 2, 5] : decades < 3 ? [1, 3] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mults) {
      const v = m * Math.pow(10, e);
      if (v >= lo && v <= hi) ticks.push({ value: v, label: label(v) });
    }
  }
  return ticks;
}

function linTicks(hi: number, label: (v: number) => string): Tick[] {
  const raw = hi / 6;
  const e = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * e).find((s) => s >= raw)!;
  const ticks: Tick[] = [];
  for (let v = 0; v <= hi * (1 + 1e-9); v += step) ticks.push({ value: v, label: label(v) });
  return ticks;
}

/** Byte ticks on a log axis: powers of two (16 MiB, 64 MiB, 256 MiB, 1 GiB…), at most ~8. */
function logByteTicks(lo: number, hi: number): Tick[] {
  const k0 = Math.ceil(Math.log2(lo));
  const k1 = Math.floor(Math.log2(hi));
  const step = Math.max(1, Math.ceil((k1 - k0 + 1) / 8));
  const ticks: Tick[] = [];
  for (let k = k0; k <= k1; k += step) ticks.push({ value: 2 ** k, label: fmtBytes(2 ** k) });
  return ticks;
}

export function scaleChartSvg(input: ScaleChartInput): string {
  const a = input.analysis;
  const chosen = a.models.find((m) => m.kind === a.chosen)!.fit!;
  const others = a.consistent.filter((k) => k !== a.chosen).map((k) => a.models.find((m) => m.kind === k)!.fit!);
  const sizes = input.runs.map((r) => r.size);
  const xMinData = Math.min(...sizes, a.fullSize);
  const xMaxData = Math.max(...sizes, a.fullSize);
  const logX = xMaxData / xMinData >= 8;
  const xs: number[] = [];
  const x0 = Math.min(...a.sizes);
  const steps = 160;
  for (let i = 0; i <= steps; i++) {
    const t = i / steps;
    xs.push(logX ? x0 * Math.pow(xMaxData / x0, t) : x0 + (xMaxData - x0) * t);
  }
  const largest = a.sizes[a.sizes.length - 1]!;
  const band = xs.filter((x) => x >= largest).map((x) => predictInterval(chosen, x, a.noise.scale));
  const ys = [
    ...input.runs.map((r) => r.peakBytes), ...xs.map((x) => predict(chosen, x)), a.projection.lowBytes, a.projection.highBytes,
    ...band.map((b) => b.highBytes), input.requestBytes, ...(input.limitBytes !== null ? [input.limitBytes] : []),
    ...others.map((f) => predict(f, a.fullSize)),
  ].filter((v) => Number.isFinite(v) && v > 0);
  const yMinData = Math.min(...ys);
  const yMaxData = Math.max(...ys);
  const logY = yMaxData / yMinData >= 8;
  const plot = { x0: M.left, x1: W - M.right, y0: M.top, y1: H - M.bottom };
  const X = logX ? axis(xMinData / 1.25, xMaxData * 1.25, true, plot.x0, plot.x1) : axis(0, xMaxData * 1.05, false, plot.x0, plot.x1);
  const Y = logY ? axis(yMinData / 1.4, yMaxData * 1.4, true, plot.y1, plot.y0) : axis(0, yMaxData * 1.12, false, plot.y1, plot.y0);
  const clampY = (v: number) => Math.max(plot.y0, Math.min(plot.y1, Y.px(v)));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${escapeXml(FONT_STACK)}">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="24" font-size="16" font-weight="bold" fill="${INK}">${escapeXml(fitText(input.title, 16, W - M.left - M.right, true))}</text>`);
  const sub = `${NAMES[a.chosen]} fit; projected ${fmtBytes(a.projection.bytes)} (${Math.round(90)}% interval ${fmtBytes(a.projection.lowBytes)} … ${fmtBytes(a.projection.highBytes)}) at ${sizeLabel(a.fullSize, input.percent)}` +
    (a.decided ? '' : ' · UNDECIDED: the dashed models fit as well');
  out.push(`<text x="${M.left}" y="44" font-size="12" fill="${MUTED}">${escapeXml(fitText(sub, 12, W - M.left - M.right))}</text>`);
  // grid and ticks
  const yTicks = logY ? logByteTicks(Y.lo, Y.hi) : byteTicks(Y.hi, 6).ticks;
  for (const t of yTicks) {
    const y = f1(Y.px(t.value));
    out.push(`<line x1="${plot.x0}" x2="${plot.x1}" y1="${y}" y2="${y}" stroke="${GRID}"/>`);
    out.push(`<text x="${plot.x0 - 6}" y="${y}" dy="4" font-size="11" text-anchor="end" fill="${MUTED}">${escapeXml(t.label)}</text>`);
  }
  const xTicks = logX ? logTicks(X.lo, X.hi, (v) => sizeLabel(v, input.percent)) : linTicks(X.hi, (v) => sizeLabel(v, input.percent));
  for (const t of xTicks) {
    const x = f1(X.px(t.value));
    out.push(`<line x1="${x}" x2="${x}" y1="${plot.y0}" y2="${plot.y1}" stroke="${GRID}"/>`);
    out.push(`<text x="${x}" y="${plot.y1 + 16}" font-size="11" text-anchor="middle" fill="${MUTED}">${escapeXml(t.label)}</text>`);
  }
  out.push(`<rect x="${plot.x0}" y="${plot.y0}" width="${plot.x1 - plot.x0}" height="${plot.y1 - plot.y0}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${(plot.x0 + plot.x1) / 2}" y="${H - 16}" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(`input size (${input.percent ? '% of the full input' : `${input.unit}s`})${logX ? ', log scale' : ''}`)}</text>`);
  out.push(`<text transform="translate(18 ${(plot.y0 + plot.y1) / 2}) rotate(-90)" font-size="12" text-anchor="middle" fill="${INK}">${escapeXml(`${input.yTitle}${logY ? ', log scale' : ''}`)}</text>`);
  // interval band of the chosen model, from the largest size measured to the full size
  if (band.length > 1) {
    const top = band.map((b) => `${f1(X.px(b.size))},${f1(clampY(b.highBytes))}`);
    const bottom = band.map((b) => `${f1(X.px(b.size))},${f1(clampY(Math.max(b.lowBytes, Y.lo)))}`).reverse();
    out.push(`<polygon points="${[...top, ...bottom].join(' ')}" fill="${FIT}" fill-opacity="0.12" stroke="none"/>`);
  }
  const curve = (f: typeof chosen, color: string, dash: string | null, width: number) => {
    const pts = xs.map((x) => `${f1(X.px(x))},${f1(clampY(predict(f, x)))}`);
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
  };
  others.forEach((f, i) => curve(f, OTHER[i % OTHER.length]!, '6 4', 1.6));
  curve(chosen, FIT, null, 2.2);
  // limit and request
  const hline = (v: number, color: string, dash: string | null, label: string) => {
    const y = f1(Y.px(v));
    out.push(`<line x1="${plot.x0}" x2="${plot.x1}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="1.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${plot.x1 - 6}" y="${y}" dy="-4" font-size="11" text-anchor="end" fill="${color}">${escapeXml(label)}</text>`);
  };
  if (input.limitBytes !== null) hline(input.limitBytes, LIMIT_COLOR, null, `limit ${fmtBytes(input.limitBytes)}`);
  hline(input.requestBytes, REQUEST, '4 3', `request ${fmtBytes(input.requestBytes)}`);
  // the runs
  for (const r of input.runs) {
    const x = X.px(r.size);
    const y = clampY(r.peakBytes);
    if (r.status === 'ok') out.push(`<circle cx="${f1(x)}" cy="${f1(y)}" r="4" fill="${INK}"/>`);
    else if (r.status === 'killed' || r.status === 'cut') out.push(`<path d="M${f1(x - 5)},${f1(y + 4)} L${f1(x + 5)},${f1(y + 4)} L${f1(x)},${f1(y - 5)} Z" fill="${LIMIT_COLOR}"/>`);
    else out.push(`<path d="M${f1(x - 4)},${f1(y - 4)} L${f1(x + 4)},${f1(y + 4)} M${f1(x - 4)},${f1(y + 4)} L${f1(x + 4)},${f1(y - 4)}" stroke="${LIMIT_COLOR}" stroke-width="2"/>`);
  }
  // the projection with its interval
  const px = X.px(a.fullSize);
  const [pl, ph, pc] = [clampY(Math.max(a.projection.lowBytes, Y.lo)), clampY(a.projection.highBytes), clampY(a.projection.bytes)];
  out.push(`<line x1="${f1(px)}" x2="${f1(px)}" y1="${f1(pl)}" y2="${f1(ph)}" stroke="${FIT}" stroke-width="2"/>`);
  out.push(`<line x1="${f1(px - 7)}" x2="${f1(px + 7)}" y1="${f1(pl)}" y2="${f1(pl)}" stroke="${FIT}" stroke-width="2"/>`);
  out.push(`<line x1="${f1(px - 7)}" x2="${f1(px + 7)}" y1="${f1(ph)}" y2="${f1(ph)}" stroke="${FIT}" stroke-width="2"/>`);
  out.push(`<path d="M${f1(px)},${f1(pc - 7)} L${f1(px + 7)},${f1(pc)} L${f1(px)},${f1(pc + 7)} L${f1(px - 7)},${f1(pc)} Z" fill="${FIT}"/>`);
  const projText = `${fmtBytes(a.projection.bytes)} (${fmtBytes(a.projection.lowBytes)} … ${fmtBytes(a.projection.highBytes)})`;
  out.push(`<text x="${f1(px - 10)}" y="${f1(pc)}" dy="-10" font-size="12" font-weight="bold" text-anchor="end" fill="${FIT}">${escapeXml(projText)}</text>`);
  // legend
  const legend: Array<[string, string, string | null]> = [[`${NAMES[a.chosen]} (chosen) and its 90% interval`, FIT, null]];
  others.forEach((f, i) => legend.push([`${NAMES[f.kind]} (fits as well)`, OTHER[i % OTHER.length]!, '6 4']));
  let ly = plot.y0 + 16;
  for (const [text, color, dash] of legend) {
    out.push(`<line x1="${plot.x0 + 12}" x2="${plot.x0 + 40}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${plot.x0 + 46}" y="${ly}" font-size="11" fill="${INK}">${escapeXml(text)}</text>`);
    ly += 16;
  }
  if (input.runs.some((r) => r.status !== 'ok')) {
    out.push(`<text x="${plot.x0 + 12}" y="${ly}" font-size="11" fill="${LIMIT_COLOR}">${escapeXml('▲ killed (peak at least this)   × failed: not fitted')}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}

/** The chart in the format of `ext`; HTML is one offline page: the SVG and the report as text. */
export function renderScaleChart(input: ScaleChartInput, ext: '.png' | '.svg' | '.html', reportText: string): string | Buffer {
  const svg = scaleChartSvg(input);
  if (ext === '.svg') return svg;
  if (ext === '.png') return rasterise(svg).png;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeXml(`memhunt scale: ${input.title}`)}</title>`,
    '<style>body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px;color:#1a1a1a}pre{font-size:12px;line-height:1.35;white-space:pre-wrap}svg{max-width:100%;height:auto}</style>',
    '</head><body>',
    svg,
    `<pre>${escapeXml(reportText)}</pre>`,
    '</body></html>',
    '',
  ].join('\n');
}
