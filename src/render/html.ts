/**
 * The HTML report: one file that works offline (no network request at all: uPlot's script and
 * style, our page script and the data are inlined), with the summary above an interactive chart —
 * drag or wheel to zoom the time axis, shift+drag or the arrow keys to pan, hover for the time and
 * each line's value, click a legend entry to hide or show a line.
 *
 * Data: a pyramid of min/max envelopes (levels of 1024, 4096, … buckets over the whole run, each
 * bucket's min and max per line, KiB as Int32, delta-coded, gzip, base64). The page decompresses
 * it with the browser's DecompressionStream and shows, for the zoomed range, the coarsest level
 * with at least one bucket per pixel: a spike is at its true height at every zoom. Levels are
 * added finest-last while the file stays under DATA_BUDGET_CHARS, so a 1 M-sample run makes a
 * ~3 MB page; a short run's finest level holds every sample.
 *
 * Escaping: every string from a recording reaches the page either as HTML text through
 * escapeXml, or inside the JSON data block with <, >, & and U+2028/9 written as \u escapes (so no
 * "</script>" can end the block), and the page script only ever sets textContent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Chart } from './chart';
import { LIMIT_COLOR, PAUSE_COLOR } from './chart';
import { escapeXml } from './layout';
import { TICK_FUNCTIONS, fmtClock as clock } from './ticks';
import { formatCount } from '../units';

/** Data of the pyramid, as characters of base64 in the page: keeps a 1 M-sample report under 5 MB. */
export const DATA_BUDGET_CHARS = 3_800_000;
const FIRST_LEVEL_BUCKETS = 1024;

export interface HtmlOptions {
  /** memhunt's version, for the footer. */
  version?: string;
  /** Overrides DATA_BUDGET_CHARS (tests). */
  budgetChars?: number;
  /** Per recording (by input index): where a click on its peak marker leads ("#allocations-r0"). */
  peakHrefs?: Array<string | null>;
}

/** What the page script receives (also what tests decode). */
export interface PageData {
  title: string;
  xTitle: string;
  /** The y axis's title, as the SVG/PNG chart's ("memory (PSS)" for a --metric pss run). */
  yTitle: string;
  xMaxMs: number;
  yMaxBytes: number;
  limitColor: string;
  series: Array<{ id: string; label: string; color: string; width: number; dash: number[] | null; role: string; input: number }>;
  limits: Array<{ bytes: number; label: string; onChart: boolean }>;
  peaks: Array<{ tMs: number; bytes: number; label: string; detail: string; color: string; href: string | null }>;
  /** `rgb`: the band's colour as "r,g,b" (each run's own colour when several share the chart). */
  sections: Array<{ startMs: number; endMs: number; open: boolean; label: string; level: number; rgb: string; delta: string }>;
  pauses: Array<{ startMs: number; endMs: number; label: string }>;
  /** Lost spans of a damaged recording: lines of that recording break there. */
  gaps: Array<{ input: number; startMs: number; endMs: number; label: string }>;
  pauseColor: string;
  marks: Array<{ tMs: number; label: string; kind: string }>;
  ends: Array<{ tMs: number; label: string; color: string }>;
  trends: Array<{ t0Ms: number; v0Bytes: number; t1Ms: number; v1Bytes: number; label: string; color: string }>;
  /** Levels, coarsest first: `buckets` buckets of `bucketMs` over [0, buckets × bucketMs). */
  levels: Array<{ buckets: number; bucketMs: number; gzipBase64: string }>;
}

/**
 * One level: for each series, `buckets` minima then `buckets` maxima in KiB (-1 = no sample),
 * the whole array delta-coded (value minus the previous one) so flat stretches become zeros.
 */
export function encodeLevel(chart: Chart, buckets: number, bucketMs: number): Buffer {
  const S = chart.series.length;
  const arr = new Int32Array(S * 2 * buckets).fill(-1);
  chart.series.forEach((s, k) => {
    const mins = k * 2 * buckets;
    const maxs = mins + buckets;
    const t = s.data.tMs;
    const v = s.data.values;
    for (let i = 0; i < t.length; i++) {
      let b = Math.floor(t[i]! / bucketMs);
      if (b >= buckets) b = buckets - 1;
      const kib = Math.round(v[i]! / 1024);
      if (arr[mins + b] === -1 || kib < arr[mins + b]!) arr[mins + b] = kib;
      if (kib > arr[maxs + b]!) arr[maxs + b] = kib;
    }
  });
  for (let i = arr.length - 1; i > 0; i--) arr[i] = arr[i]! - arr[i - 1]!;
  return zlib.gzipSync(Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength), { level: 6 });
}

/** Inverse of encodeLevel (the page does the same in JS); for tests. */
export function decodeLevel(gzipBase64: string, series: number, buckets: number): Array<{ min: Int32Array; max: Int32Array }> {
  const raw = zlib.gunzipSync(Buffer.from(gzipBase64, 'base64'));
  const arr = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  for (let i = 1; i < arr.length; i++) arr[i] = arr[i]! + arr[i - 1]!;
  const out: Array<{ min: Int32Array; max: Int32Array }> = [];
  for (let k = 0; k < series; k++) out.push({ min: arr.subarray(k * 2 * buckets, k * 2 * buckets + buckets), max: arr.subarray(k * 2 * buckets + buckets, (k + 1) * 2 * buckets) });
  return out;
}

export function pageData(chart: Chart, budgetChars = DATA_BUDGET_CHARS, peakHrefs: Array<string | null> = []): PageData {
  const xMax = Math.max(chart.xMaxMs, 1);
  // Finest useful level: about one bucket per sample interval of the densest line.
  let densest = 0;
  for (const s of chart.series) {
    const n = s.data.tMs.length;
    if (n > 1) {
      const span = s.data.tMs[n - 1]! - s.data.tMs[0]!;
      densest = Math.max(densest, span > 0 ? (n - 1) * (xMax / span) : n);
    } else densest = Math.max(densest, n);
  }
  const levels: PageData['levels'] = [];
  let used = 0;
  for (let buckets = FIRST_LEVEL_BUCKETS; ; buckets *= 4) {
    const gz = encodeLevel(chart, buckets, xMax / buckets).toString('base64');
    if (levels.length > 0 && used + gz.length > budgetChars) break;
    levels.push({ buckets, bucketMs: xMax / buckets, gzipBase64: gz });
    used += gz.length;
    if (buckets >= densest * 2 || buckets >= 1 << 24) break;
  }
  const dash = (d: string | null) => (d ? d.split(/\s+/).map(Number) : null);
  return {
    title: chart.title,
    xTitle: chart.xTitle ?? 'time since start',
    yTitle: chart.yTitle,
    xMaxMs: xMax,
    yMaxBytes: chart.yMaxBytes,
    limitColor: LIMIT_COLOR,
    series: chart.series.map((s) => ({ id: s.id, label: s.label, color: s.opacity !== undefined && s.opacity < 1 ? `rgba(${hexToRgb(s.color)},${s.opacity})` : s.color, width: s.widthPx, dash: dash(s.dash), role: s.role, input: s.input })),
    limits: chart.limits.map((l) => ({ bytes: l.bytes, label: l.label, onChart: l.onChart })),
    peaks: chart.peaks.map((p) => ({ tMs: p.tMs, bytes: p.bytes, label: p.label, detail: p.detail, color: p.color, href: peakHrefs[p.input] ?? null })),
    sections: chart.sections.map((s) => ({ startMs: s.startMs, endMs: s.endMs, open: s.open, label: s.label, level: s.level, rgb: hexToRgb(s.color), delta: s.delta })),
    pauses: chart.pauses.map((p) => ({ startMs: p.startMs, endMs: p.endMs, label: p.label })),
    gaps: chart.gaps.map((g) => ({ input: g.input, startMs: g.startMs, endMs: g.endMs, label: g.label })),
    pauseColor: hexToRgb(PAUSE_COLOR),
    marks: chart.marks.map((m) => ({ tMs: m.tMs, label: m.label, kind: m.kind })),
    ends: chart.ends.map((e) => ({ tMs: e.tMs, label: e.label, color: e.color })),
    trends: chart.trends.map((t) => ({ t0Ms: t.t0Ms, v0Bytes: t.v0Bytes, t1Ms: t.t1Ms, v1Bytes: t.v1Bytes, label: t.label, color: t.color })),
    levels,
  };
}

/** "#rrggbb" as "r,g,b" (for the page's rgba() section bands). */
function hexToRgb(hex: string): string {
  const n = parseInt(hex.slice(1), 16);
  return `${(n >> 16) & 255},${(n >> 8) & 255},${n & 255}`;
}

/** JSON that is safe inside a <script> element: nothing in it can close the element or start markup. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function uplotAssets(): { js: string; css: string } {
  const dir = path.join(path.dirname(require.resolve('uplot/package.json')), 'dist');
  return { js: fs.readFileSync(path.join(dir, 'uPlot.iife.min.js'), 'utf8'), css: fs.readFileSync(path.join(dir, 'uPlot.min.css'), 'utf8') };
}

const PAGE_CSS = `
body{font-family:'DejaVu Sans',Verdana,'Segoe UI',system-ui,sans-serif;margin:18px 22px;color:#1a1a1a;background:#fff}
h1{font-size:19px;margin:0 0 6px;word-break:break-all}
ul.summary{margin:0 0 8px;padding:0;list-style:none;font-size:13px;color:#444}
ul.summary li{margin:2px 0}
p.warn{font-size:12px;color:#a15c00;margin:4px 0}
p.verdict{font-size:13px;font-weight:bold;margin:2px 0 6px}
.toolbar{font-size:12px;color:#555;margin:6px 0 4px;display:flex;gap:6px;align-items:center;flex-wrap:wrap}
.toolbar button{font:inherit;padding:2px 8px;border:1px solid #bbb;background:#f7f7f7;border-radius:3px;cursor:pointer}
.toolbar .range{margin-left:8px;color:#333}
.toolbar .unplaced{margin-left:8px;color:#8a5a00}
#chart{position:relative}
.u-legend{font-size:12px;text-align:left}
.u-legend .u-series{cursor:pointer}
.u-legend .u-value{font-variant-numeric:tabular-nums;min-width:6em;display:inline-block}
details{font-size:12px;margin-top:10px;color:#333}
table.events{border-collapse:collapse;margin-top:4px}
table.events td{padding:1px 10px 1px 0;vertical-align:top}
footer{font-size:11px;color:#888;margin-top:14px}
noscript,.error{color:#b00;font-size:13px}
`;

/**
 * Sections and marks embedded in a page, each kind. Every one is a row in the events table and an
 * object in the page's data: 350 k marks made a page over V8's longest string (2^29 - 24
 * characters: "RangeError: Invalid string length"), and a browser would not draw them usefully
 * anyway. Past this, evenly spaced ones are kept (the whole run stays covered) and the page says
 * how many were left out. Limit, OOM and threshold marks are always kept.
 */
export const MAX_HTML_EVENTS = 2000;
/** Longest label embedded (characters); the recording keeps the whole label. */
const MAX_HTML_LABEL = 200;

function spread<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const step = items.length / max;
  return Array.from({ length: max }, (_, i) => items[Math.floor(i * step)]!);
}

const cutLabel = (l: string) => (l.length > MAX_HTML_LABEL ? `${l.slice(0, MAX_HTML_LABEL - 1)}…` : l);

/** The chart with at most MAX_HTML_EVENTS sections and plain marks, and a warning saying what was left out. */
export function capChartEvents(chart: Chart): Chart {
  const plain = chart.marks.filter((m) => m.kind === 'mark');
  if (chart.sections.length <= MAX_HTML_EVENTS && plain.length <= MAX_HTML_EVENTS && ![...chart.sections, ...chart.marks].some((e) => e.label.length > MAX_HTML_LABEL)) return chart;
  const sections = spread(chart.sections, MAX_HTML_EVENTS).map((x) => ({ ...x, label: cutLabel(x.label) }));
  const keptPlain = new Set(spread(plain, MAX_HTML_EVENTS));
  const marks = chart.marks.filter((m) => m.kind !== 'mark' || keptPlain.has(m)).map((x) => ({ ...x, label: cutLabel(x.label) }));
  const left = [
    chart.sections.length > sections.length ? `${formatCount(chart.sections.length - sections.length)} of ${formatCount(chart.sections.length)} sections` : '',
    plain.length > keptPlain.size ? `${formatCount(plain.length - keptPlain.size)} of ${formatCount(plain.length)} marks` : '',
  ].filter(Boolean);
  const warnings = left.length
    ? [...chart.warnings, `${left.join(' and ')} are left out of this page (at most ${formatCount(MAX_HTML_EVENTS)} of each, evenly spaced, are shown); the recording has them all`]
    : chart.warnings;
  return { ...chart, sections, marks, warnings };
}

/** The interactive chart as parts of a page (the report embeds it; renderHtml makes a page of it alone). */
export interface ChartFragment {
  /** The chart as drawn (events capped: capChartEvents). */
  chart: Chart;
  /** <style> elements for <head>. */
  styles: string;
  /** The toolbar, the chart's element and the events table. */
  body: string;
  /** The data block, uPlot and the page script, for the end of <body>. */
  scripts: string;
  levels: number;
}

export function chartFragment(fullChart: Chart, opts: HtmlOptions = {}): ChartFragment {
  const chart = capChartEvents(fullChart);
  const data = pageData(chart, opts.budgetChars, opts.peakHrefs);
  const { js, css } = uplotAssets();
  const esc = escapeXml;
  const rows: string[] = [];
  for (const s of chart.sections) rows.push(`<tr><td>${esc(clock(s.startMs))} – ${esc(s.open ? 'never ended' : clock(s.endMs))}</td><td>section</td><td>${esc(s.label)}</td><td>${esc(s.delta)}</td></tr>`);
  for (const p of chart.pauses) rows.push(`<tr><td>${esc(clock(p.startMs))} – ${esc(clock(p.endMs))}</td><td>pause</td><td>${esc(p.label)}</td><td></td></tr>`);
  for (const m of chart.marks) rows.push(`<tr><td>${esc(clock(m.tMs))}</td><td>${esc(m.kind)}</td><td>${esc(m.label)}</td><td></td></tr>`);
  const events = rows.length
    ? `<details class="events"><summary>${chart.sections.length} section${chart.sections.length === 1 ? '' : 's'}, ${chart.marks.length} mark${chart.marks.length === 1 ? '' : 's'}${chart.pauses.length ? `, ${chart.pauses.length} pause${chart.pauses.length === 1 ? '' : 's'}` : ''}</summary><table class="events">${rows.join('')}</table></details>`
    : '';
  const client = [...TICK_FUNCTIONS.map((f) => f.toString()), clientMain.toString()].join('\n');
  const body = `<div class="toolbar"><button id="zoom-in" title="zoom in (+)">+</button><button id="zoom-out" title="zoom out (−)">−</button><button id="pan-left" title="pan left (←)">◀</button><button id="pan-right" title="pan right (→)">▶</button><button id="reset" title="whole run (0 or double-click)">whole run</button><span>drag or wheel to zoom · shift+drag to pan · click a legend entry to hide or show it</span><span class="range" id="range"></span><span class="unplaced" id="unplaced"></span></div>
<div id="chart"><noscript>This report needs JavaScript for its chart; the summary above has the numbers.</noscript></div>
${events}`;
  const scripts = `<script type="application/json" id="memhunt-data">${scriptSafeJson(data)}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
<script>
${client}
clientMain(JSON.parse(document.getElementById('memhunt-data').textContent));
</script>`;
  return { chart, styles: `<style>${css}</style>\n<style>${PAGE_CSS}</style>`, body, scripts, levels: data.levels.length };
}

/** The verdict lines of a chart, each in its colour. */
export function verdictHtml(chart: Chart): string {
  return chart.verdicts.map((v) => `<p class="verdict" style="color:${v.color}">${escapeXml(v.text)}</p>`).join('');
}

export function renderHtml(fullChart: Chart, opts: HtmlOptions = {}): string {
  const f = chartFragment(fullChart, opts);
  const chart = f.chart;
  const esc = escapeXml;
  const summary = chart.summary.map((l) => `<li>${esc(l)}</li>`).join('');
  const warnings = chart.warnings.map((w) => `<p class="warn">${esc(w)}</p>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="memhunt ${esc(opts.version ?? '')}">
<title>${esc(chart.title)} — memhunt</title>
${f.styles}
</head>
<body>
<header>
<h1>${esc(chart.title)}</h1>
<ul class="summary">${summary}</ul>
${verdictHtml(chart)}
${warnings}
</header>
${f.body}
<footer>memhunt ${esc(opts.version ?? '')} · ${esc(formatCount(chart.sampleCount))} samples · ${f.levels} zoom level${f.levels === 1 ? '' : 's'}</footer>
${f.scripts}
</body>
</html>
`;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the page script talks to uPlot and the DOM, which this project has no types for */
declare const uPlot: any;
declare const document: any;
declare const window: any;
declare const DecompressionStream: any;
declare function requestAnimationFrame(cb: () => void): number;
declare function byteTicks(maxBytes: number, targetCount: number): { ticks: Array<{ value: number; label: string }> };
declare function timeTicks(fromMs: number, toMs: number, targetCount: number): { ticks: Array<{ value: number; label: string }>; unit: string };
declare function fmtBytes(bytes: number): string;
declare function fmtClock(ms: number): string;

/**
 * The page script. Runs in the browser, from its source text: it must not refer to anything of
 * this module (imports are not there); the tick functions are injected beside it by name.
 */
async function clientMain(data: PageData): Promise<void> {
  const el = document.getElementById('chart');
  const fail = (msg: string) => {
    const p = document.createElement('p');
    p.className = 'error';
    p.textContent = msg;
    el.appendChild(p);
  };
  if (typeof DecompressionStream === 'undefined') {
    fail('This browser cannot show the chart (no DecompressionStream); use a current Chromium, Firefox or Safari.');
    return;
  }
  const S = data.series.length;
  const levels: Array<{ buckets: number; bucketMs: number; arr: Int32Array }> = [];
  for (const lv of data.levels) {
    const bin = atob(lv.gzipBase64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new (window as any).Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    const buf = await new (window as any).Response(stream).arrayBuffer();
    const arr = new Int32Array(buf);
    for (let i = 1; i < arr.length; i++) arr[i] += arr[i - 1]!;
    levels.push({ buckets: lv.buckets, bucketMs: lv.bucketMs, arr });
  }

  /** uPlot's data for [x0, x1]: per bucket two points (its min and max, in the order that continues the line). */
  const viewData = (x0: number, x1: number, px: number): any[] => {
    let lv = levels[levels.length - 1]!;
    for (const l of levels) {
      if (l.bucketMs <= (x1 - x0) / Math.max(1, px)) {
        lv = l;
        break;
      }
    }
    const B = lv.buckets;
    const b0 = Math.max(0, Math.floor(x0 / lv.bucketMs) - 1);
    const b1 = Math.min(B - 1, Math.ceil(x1 / lv.bucketMs) + 1);
    const xs: number[] = [];
    const ys: Array<Array<number | null | undefined>> = [];
    const prev: number[] = [];
    for (let k = 0; k < S; k++) {
      ys.push([]);
      prev.push(NaN);
    }
    // A bucket inside a lost span of a damaged recording: null breaks its lines there (spanGaps is
    // off); any other missing value is undefined, which uPlot joins over.
    const lostIn = (input: number, b: number) => {
      const t = (b + 0.5) * lv.bucketMs;
      for (const g of data.gaps) if (g.input === input && t > g.startMs && t < g.endMs) return true;
      return false;
    };
    for (let b = b0; b <= b1; b++) {
      let any = false;
      for (let k = 0; k < S; k++) if (lv.arr[k * 2 * B + b]! >= 0) any = true;
      if (!any && !data.gaps.some((g) => (b + 0.5) * lv.bucketMs > g.startMs && (b + 0.5) * lv.bucketMs < g.endMs)) continue;
      xs.push((b + 0.25) * lv.bucketMs, (b + 0.75) * lv.bucketMs);
      for (let k = 0; k < S; k++) {
        const lo = lv.arr[k * 2 * B + b]!;
        const hi = lv.arr[k * 2 * B + B + b]!;
        if (lo < 0) {
          if (lostIn(data.series[k]!.input, b)) ys[k]!.push(null, null);
          else ys[k]!.push(undefined as unknown as null, undefined as unknown as null);
          continue;
        }
        const p = prev[k]!;
        const minFirst = !(p === p) || Math.abs(p - lo) <= Math.abs(p - hi);
        const a = (minFirst ? lo : hi) * 1024;
        const z = (minFirst ? hi : lo) * 1024;
        ys[k]!.push(a, z);
        prev[k] = z / 1024;
      }
    }
    return [xs, ...ys];
  };

  const plotWidth = () => Math.max(300, el.clientWidth || 900);
  const height = Math.max(280, Math.min(560, Math.round(plotWidth() * 0.45)));
  const limitOnChart = data.limits.filter((l) => l.onChart).reduce((m, l) => Math.max(m, l.bytes), 0);
  let yTop = 0;
  const dpr = () => window.devicePixelRatio || 1;

  const drawAnnotations = (u: any) => {
    const ctx = u.ctx;
    const { left, top, width, height: h } = u.bbox;
    const r = dpr();
    const xMin = u.scales.x.min;
    const xMax = u.scales.x.max;
    const X = (t: number) => u.valToPos(t, 'x', true);
    const Y = (v: number) => u.valToPos(v, 'y', true);
    const font = (px: number, bold = false) => `${bold ? 'bold ' : ''}${px * r}px 'DejaVu Sans', Verdana, sans-serif`;
    const vline = (x: number, color: string, w: number, dash: number[]) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = w * r;
      ctx.setLineDash(dash.map((d) => d * r));
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + h);
      ctx.stroke();
      ctx.setLineDash([]);
    };
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, h);
    ctx.clip();
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'left';
    // Lines first.
    for (const m of data.marks) if (m.tMs >= xMin && m.tMs <= xMax) vline(X(m.tMs), m.kind === 'mark' ? '#777' : data.limitColor, 1, [3, 3]);
    for (const l of data.limits) {
      if (!l.onChart) continue;
      ctx.strokeStyle = data.limitColor;
      ctx.lineWidth = 1.5 * r;
      ctx.setLineDash([8 * r, 4 * r]);
      ctx.beginPath();
      ctx.moveTo(left, Y(l.bytes));
      ctx.lineTo(left + width, Y(l.bytes));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const t of data.trends) {
      ctx.strokeStyle = t.color;
      ctx.lineWidth = 1.5 * r;
      ctx.setLineDash([10 * r, 4 * r, 2 * r, 4 * r]);
      ctx.beginPath();
      ctx.moveTo(X(t.t0Ms), Y(t.v0Bytes));
      ctx.lineTo(X(t.t1Ms), Y(t.v1Bytes));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    for (const e of data.ends) if (e.tMs >= xMin && e.tMs <= xMax) vline(Math.min(left + width - r, X(e.tMs)), e.color, 2, []);
    for (const p of data.peaks) {
      if (p.tMs < xMin || p.tMs > xMax) continue;
      ctx.strokeStyle = p.color;
      ctx.lineWidth = 2 * r;
      ctx.beginPath();
      ctx.arc(X(p.tMs), Y(p.bytes), 5 * r, 0, 2 * Math.PI);
      ctx.stroke();
    }

    // Labels, most important first; each only where it overlaps no label placed before it.
    const boxes: number[][] = [];
    let unplaced = 0;
    const free = (x0: number, y0: number, x1: number, y1: number, clearOfLines = false) => {
      if (x0 < left || x1 > left + width || y0 < top || y1 > top + h) return false;
      for (const b of boxes) if (x0 < b[2]! + 4 * r && x1 + 4 * r > b[0]! && y0 < b[3]! && y1 > b[1]!) return false;
      if (clearOfLines && crossesLine(x0, y0, x1, y1)) return false;
      boxes.push([x0, y0, x1, y1]);
      return true;
    };
    // Whether a drawn line passes through the box (canvas pixels): each segment's y range over the
    // box's columns, with a 2-pixel margin. Labels that matter try boxes no line crosses first.
    const crossesLine = (x0: number, y0: number, x1: number, y1: number) => {
      const xs = u.data[0];
      const tOf = (px: number) => xMin + ((px - left) / width) * (xMax - xMin);
      const t0 = tOf(x0 - 2 * r);
      const t1 = tOf(x1 + 2 * r);
      let lo = 0;
      let hi = xs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (xs[mid] < t0) lo = mid + 1;
        else hi = mid;
      }
      for (let k = 1; k < u.data.length; k++) {
        if (!u.series[k].show) continue;
        const ys = u.data[k];
        for (let i = Math.max(1, lo); i < xs.length && xs[i - 1] <= t1; i++) {
          const a = ys[i - 1];
          const z = ys[i];
          if (a == null || z == null) continue;
          const ya = Y(a);
          const yz = Y(z);
          if (Math.max(ya, yz) >= y0 - 2 * r && Math.min(ya, yz) <= y1 + 2 * r) return true;
        }
      }
      return false;
    };
    // What was drawn where (canvas pixels), for tests: each label's text and box.
    const drawn: Array<{ text: string; x0: number; y0: number; x1: number; y1: number }> = [];
    const label = (text: string, x: number, yBottom: number, color: string, align: 'left' | 'right') => {
      const w = ctx.measureText(text).width;
      drawn.push({ text, x0: align === 'right' ? x - w : x, y0: yBottom - 12 * r, x1: align === 'right' ? x : x + w, y1: yBottom });
      ctx.textAlign = align;
      ctx.lineWidth = 3 * r;
      ctx.strokeStyle = 'rgba(255,255,255,0.85)';
      ctx.strokeText(text, x, yBottom);
      ctx.fillStyle = color;
      ctx.fillText(text, x, yBottom);
      ctx.textAlign = 'left';
    };
    for (const e of data.ends) {
      if (e.tMs < xMin || e.tMs > xMax) continue;
      const x = Math.min(left + width - r, X(e.tMs)) - 5 * r;
      ctx.font = font(12, true);
      const w = ctx.measureText(e.label).width;
      for (let k = 0; k < 4; k++) {
        const ey = top + h - (4 + 16 * k) * r;
        if (free(x - w, ey - 14 * r, x, ey)) {
          label(e.label, x, ey, e.color, 'right');
          break;
        }
      }
    }
    ctx.font = font(12);
    // Section labels, one row per nesting level, inside their band; marks in the row below.
    let maxLevel = 0;
    let maxRow = 0;
    for (const s of data.sections) {
      if (s.endMs < xMin || s.startMs > xMax) continue;
      maxLevel = Math.max(maxLevel, s.level);
      const a = Math.max(left, X(s.startMs));
      const b = Math.min(left + width, X(s.endMs));
      const name = s.open ? `${s.label} (never ended)` : s.label;
      let text = s.delta ? `${name} ${s.delta}` : name;
      const room = b - a - 8 * r;
      if (room < 20 * r) continue;
      if (ctx.measureText(text).width > room) text = name;
      while (text.length > 1 && ctx.measureText(text).width > room) text = text.slice(0, -2) + '…';
      // Its nesting level's row, else the rows below it (up to four); else it is counted as not placed.
      let placed = false;
      for (let row = Math.min(s.level, 3); row < 4 && !placed; row++) {
        const ly = top + (18 + 16 * row) * r;
        if (free(a + 4 * r, ly - 14 * r, a + 4 * r + ctx.measureText(text).width, ly)) {
          label(text, a + 4 * r, ly, '#1a1a1a', 'left');
          placed = true;
          maxRow = Math.max(maxRow, row);
        }
      }
      if (!placed) unplaced++;
    }
    for (const p of [...data.pauses, ...data.gaps]) {
      if (p.endMs < xMin || p.startMs > xMax) continue;
      const a = Math.max(left, X(p.startMs)) + 4 * r;
      const w = ctx.measureText(p.label).width;
      const y = top + h - 22 * r;
      if (free(a, y - 14 * r, a + w, y)) label(p.label, a, y, '#555', 'left');
      else unplaced++;
    }
    for (const p of data.peaks) {
      if (p.tMs < xMin || p.tMs > xMax) continue;
      const x = X(p.tMs);
      const y = Y(p.bytes);
      ctx.font = font(12, true);
      const w1 = ctx.measureText(p.label).width;
      ctx.font = font(11);
      const w = Math.max(w1, p.detail ? ctx.measureText(p.detail).width : 0);
      const lh = (p.detail ? 30 : 16) * r;
      // Where no line crosses it if there is such a place, else where it overlaps no other label
      // (the white halo keeps it readable then).
      const cands: Array<[number, number, boolean]> = [];
      for (const clear of [true, false]) {
        for (const [side, dy] of [[1, 0], [-1, 0], [1, lh + 12 * r], [-1, lh + 12 * r], [1, -lh], [-1, -lh], [1, 2 * lh + 24 * r], [-1, 2 * lh + 24 * r]] as Array<[number, number]>) cands.push([side, dy, clear]);
      }
      for (const [side, dy, clear] of cands) {
        const x0 = side > 0 ? x + 9 * r : x - 9 * r - w;
        const yb = y - 6 * r + dy;
        if (!free(x0, yb - lh, x0 + w, yb, clear)) continue;
        const tx = side > 0 ? x0 : x0 + w;
        const align = side > 0 ? 'left' : 'right';
        ctx.font = font(12, true);
        label(p.label, tx, yb - (p.detail ? 15 : 0) * r, p.color, align);
        if (p.detail) {
          ctx.font = font(11);
          label(p.detail, tx, yb, '#1a1a1a', align);
        }
        break;
      }
    }
    ctx.font = font(12);
    for (const l of data.limits) {
      if (!l.onChart) continue;
      const y = Y(l.bytes);
      const w = ctx.measureText(l.label).width;
      const x1 = left + width - 6 * r;
      if (free(x1 - w, y - 17 * r, x1, y - 3 * r, true)) label(l.label, x1, y - 3 * r, data.limitColor, 'right');
      else if (free(x1 - w, y + 3 * r, x1, y + 17 * r, true)) label(l.label, x1, y + 17 * r, data.limitColor, 'right');
      else if (free(left + 6 * r, y - 17 * r, left + 6 * r + w, y - 3 * r, true)) label(l.label, left + 6 * r, y - 3 * r, data.limitColor, 'left');
      else if (free(x1 - w, y - 17 * r, x1, y - 3 * r)) label(l.label, x1, y - 3 * r, data.limitColor, 'right');
      else if (free(x1 - w, y + 3 * r, x1, y + 17 * r)) label(l.label, x1, y + 17 * r, data.limitColor, 'right');
      else unplaced++;
    }
    for (const t of data.trends) {
      const w = ctx.measureText(t.label).width;
      const tx = Math.min(left + width - 6 * r, X(t.t1Ms));
      for (const dy of [18, -8, 34, -24]) {
        const ty = Y(t.v1Bytes) + dy * r;
        if (free(tx - w, ty - 14 * r, tx, ty)) {
          label(t.label, tx, ty, t.color, 'right');
          break;
        }
      }
    }
    const markY = top + (18 + 16 * (Math.min(Math.max(maxLevel, maxRow), 3) + 1)) * r;
    for (const m of data.marks) {
      if (m.tMs < xMin || m.tMs > xMax) continue;
      const x = X(m.tMs) + 3 * r;
      const w = ctx.measureText(m.label).width;
      let placed = false;
      for (const y of [markY, markY + 16 * r]) {
        if (free(x, y - 14 * r, x + w, y)) {
          label(m.label, x, y, m.kind === 'mark' ? '#444' : data.limitColor, 'left');
          placed = true;
          break;
        }
      }
      if (!placed) unplaced++;
    }
    ctx.restore();
    // What found no room is said, not dropped silently: the events table below lists everything.
    const note = document.getElementById('unplaced');
    if (note) note.textContent = unplaced > 0 ? `${unplaced} label${unplaced === 1 ? '' : 's'} not drawn for lack of room (zoom in, or see the events table)` : '';
    window.memhuntUnplaced = unplaced;
    window.memhuntLabels = drawn;
  };

  const drawBands = (u: any) => {
    const ctx = u.ctx;
    const { top, height: h } = u.bbox;
    data.sections.forEach((s, i) => {
      const a = u.valToPos(s.startMs, 'x', true);
      const b = Math.max(a + 1, u.valToPos(s.endMs, 'x', true));
      ctx.fillStyle = `rgba(${s.rgb},${(i % 2 === 0 ? 0.07 : 0.12) + Math.min(2, s.level) * 0.05})`;
      const l = Math.max(a, u.bbox.left);
      const rr = Math.min(b, u.bbox.left + u.bbox.width);
      if (rr > l) ctx.fillRect(l, top, rr - l, h);
    });
    // Pauses hatched in grey; lost spans of a damaged recording in plain light grey.
    const spans = (list: Array<{ startMs: number; endMs: number }>, paint: (l: number, w: number) => void) => {
      for (const p of list) {
        const l = Math.max(u.bbox.left, u.valToPos(p.startMs, 'x', true));
        const rr = Math.min(u.bbox.left + u.bbox.width, Math.max(l + 2, u.valToPos(p.endMs, 'x', true)));
        if (rr > l) paint(l, rr - l);
      }
    };
    spans(data.gaps, (l, w) => {
      ctx.fillStyle = 'rgba(176,176,176,0.35)';
      ctx.fillRect(l, top, w, h);
    });
    spans(data.pauses, (l, w) => {
      ctx.fillStyle = `rgba(${data.pauseColor},0.10)`;
      ctx.fillRect(l, top, w, h);
      ctx.save();
      ctx.beginPath();
      ctx.rect(l, top, w, h);
      ctx.clip();
      ctx.strokeStyle = `rgba(${data.pauseColor},0.45)`;
      ctx.lineWidth = 1.5 * dpr();
      ctx.beginPath();
      const step = 8 * dpr();
      for (let x = l - h; x < l + w; x += step) {
        ctx.moveTo(x, top + h);
        ctx.lineTo(x + h, top);
      }
      ctx.stroke();
      ctx.restore();
    });
  };

  const series: any[] = [{ label: 'time', value: (_u: any, t: number | null) => (t == null ? '–' : fmtClock(t)) }];
  for (const s of data.series) {
    series.push({
      label: s.label,
      stroke: s.color,
      width: s.width,
      dash: s.dash || undefined,
      spanGaps: false,
      points: { show: false },
      value: (_u: any, v: number | null) => (v == null ? '–' : fmtBytes(v)),
    });
  }
  let busy = false;
  // >0 while refresh() itself sets the x scale (its own setScale must not start another refresh).
  let suppress = 0;
  const opts = {
    width: plotWidth(),
    height,
    series,
    cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 7 } },
    // memhuntFocus (a process row of the report) dims every other line to this.
    focus: { alpha: 0.22 },
    legend: { live: true },
    scales: {
      x: { time: false, range: (_u: any, a: number, b: number) => [Math.max(0, a), Math.min(data.xMaxMs, b)] },
      y: { range: () => [0, yTop] },
    },
    axes: [
      {
        splits: (u: any) => timeTicks(u.scales.x.min, u.scales.x.max, Math.max(2, Math.floor(u.bbox.width / dpr() / 90))).ticks.map((t) => t.value),
        values: (u: any, vals: number[]) => {
          const t = timeTicks(u.scales.x.min, u.scales.x.max, Math.max(2, Math.floor(u.bbox.width / dpr() / 90)));
          u.axes[0].label = `${data.xTitle} (${t.unit})`;
          const byValue = new Map(t.ticks.map((k) => [k.value, k.label]));
          return vals.map((v) => byValue.get(v) ?? '');
        },
        label: data.xTitle,
        labelSize: 20,
      },
      {
        splits: (u: any) => byteTicks(u.scales.y.max, Math.max(3, Math.floor(u.bbox.height / dpr() / 55))).ticks.map((t) => t.value),
        values: (u: any, vals: number[]) => {
          const t = byteTicks(u.scales.y.max, Math.max(3, Math.floor(u.bbox.height / dpr() / 55)));
          const byValue = new Map(t.ticks.map((k) => [k.value, k.label]));
          return vals.map((v) => byValue.get(v) ?? '');
        },
        size: 78,
        label: data.yTitle,
        labelSize: 20,
      },
    ],
    hooks: {
      drawClear: [drawBands],
      draw: [drawAnnotations],
      setScale: [
        (u: any, key: string) => {
          if (key !== 'x' || busy || suppress > 0) return;
          busy = true;
          requestAnimationFrame(() => {
            refresh(u, u.scales.x.min, u.scales.x.max);
            busy = false;
          });
        },
      ],
    },
  };
  const computeTop = (d: any[]) => {
    let m = 0;
    for (let k = 1; k < d.length; k++) for (const v of d[k]) if (v != null && v > m) m = v;
    for (const p of data.peaks) if (p.tMs >= d[0][0] - 1 && p.tMs <= d[0][d[0].length - 1] + 1) m = Math.max(m, p.bytes);
    m = Math.max(m, limitOnChart);
    // Headroom above the highest value for the label rows drawn at the top of the plot (sections
    // by nesting level, marks in two rows below them) and the peak's two-line label under them:
    // without it the peak's label had nowhere to go but across the lines.
    const rows = (data.sections.length ? Math.min(3, data.sections.reduce((x, s) => Math.max(x, s.level), 0)) + 1 : 0) + (data.marks.length ? 2 : 0);
    const plotPx = Math.max(120, height - 60);
    const headPx = Math.min(plotPx * 0.45, 10 + 16 * rows + 40);
    return (m || 1024 * 1024) * Math.max(1.12, plotPx / (plotPx - headPx));
  };
  const rangeEl = document.getElementById('range');
  const refresh = (u: any, x0: number, x1: number) => {
    const d = viewData(x0, x1, u.bbox.width / dpr());
    yTop = computeTop(d);
    suppress++;
    u.setData(d, false);
    // setData keeps the visible index window computed for the previous data: setting the x scale
    // again makes uPlot recompute it for the new points.
    u.setScale('x', { min: x0, max: x1 });
    u.setScale('y', { min: 0, max: yTop });
    requestAnimationFrame(() => suppress--);
    // Counted for tests and benchmarks, which wait for a redraw.
    window.memhuntRefreshes = (window.memhuntRefreshes || 0) + 1;
    rangeEl.textContent = `showing ${fmtClock(x0)} – ${fmtClock(x1)}`;
  };
  const initial = viewData(0, data.xMaxMs, plotWidth());
  yTop = computeTop(initial);
  const u = new uPlot(opts, initial, el);
  u.setScale('x', { min: 0, max: data.xMaxMs });
  window.memhuntChart = u;

  // Zoom and pan on the time axis.
  const setX = (a: number, b: number) => {
    const span = Math.min(data.xMaxMs, Math.max(b - a, data.xMaxMs / 1e6, 1e-3));
    let lo = a;
    if (lo < 0) lo = 0;
    if (lo + span > data.xMaxMs) lo = data.xMaxMs - span;
    u.setScale('x', { min: lo, max: lo + span });
  };
  const zoom = (factor: number, at?: number) => {
    const a = u.scales.x.min;
    const b = u.scales.x.max;
    const c = at ?? (a + b) / 2;
    setX(c - (c - a) * factor, c + (b - c) * factor);
  };
  const pan = (frac: number) => {
    const a = u.scales.x.min;
    const b = u.scales.x.max;
    setX(a + (b - a) * frac, b + (b - a) * frac);
  };
  u.over.addEventListener('wheel', (e: any) => {
    e.preventDefault();
    const rect = u.over.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 0.8 : 1.25, u.posToVal(e.clientX - rect.left, 'x'));
  }, { passive: false });
  u.over.addEventListener('mousedown', (e: any) => {
    if (!e.shiftKey) return;
    e.stopPropagation();
    e.preventDefault();
    const startX = e.clientX;
    const a = u.scales.x.min;
    const b = u.scales.x.max;
    const perPx = (b - a) / u.over.clientWidth;
    const move = (m: any) => setX(a - (m.clientX - startX) * perPx, b - (m.clientX - startX) * perPx);
    const up = () => {
      window.removeEventListener('mousemove', move);
      window.removeEventListener('mouseup', up);
    };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }, true);
  u.over.addEventListener('dblclick', () => setX(0, data.xMaxMs));

  // A line brought forward by id (the report's process rows); null shows every line again.
  window.memhuntFocus = (id: string | null) => {
    const k = id === null ? -1 : data.series.findIndex((s) => s.id === id);
    u.setSeries(k < 0 ? null : k + 1, { focus: true });
    window.memhuntFocused = k < 0 ? null : id;
  };
  // The peak marker is a link when the page says where to (the report: its allocation sites).
  const peakAt = (e: any) => {
    const rect = u.over.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    for (const p of data.peaks) {
      if (!p.href || p.tMs < u.scales.x.min || p.tMs > u.scales.x.max) continue;
      if (Math.hypot(u.valToPos(p.tMs, 'x') - x, u.valToPos(p.bytes, 'y') - y) <= 12) return p;
    }
    return null;
  };
  u.over.addEventListener('mousemove', (e: any) => {
    u.over.style.cursor = peakAt(e) ? 'pointer' : '';
  });
  u.over.addEventListener('click', (e: any) => {
    const p = peakAt(e);
    if (p) window.location.hash = p.href;
  });
  document.getElementById('zoom-in').addEventListener('click', () => zoom(0.5));
  document.getElementById('zoom-out').addEventListener('click', () => zoom(2));
  document.getElementById('pan-left').addEventListener('click', () => pan(-0.25));
  document.getElementById('pan-right').addEventListener('click', () => pan(0.25));
  document.getElementById('reset').addEventListener('click', () => setX(0, data.xMaxMs));
  window.addEventListener('keydown', (e: any) => {
    if (e.key === 'ArrowLeft') pan(-0.25);
    else if (e.key === 'ArrowRight') pan(0.25);
    else if (e.key === '+' || e.key === '=') zoom(0.5);
    else if (e.key === '-') zoom(2);
    else if (e.key === '0') setX(0, data.xMaxMs);
  });
  window.addEventListener('resize', () => u.setSize({ width: plotWidth(), height }));
}
/* eslint-enable @typescript-eslint/no-explicit-any */
