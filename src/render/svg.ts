/**
 * The chart as SVG, laid out for a fixed size (default 1200×600, what `mprof plot` makes), and the
 * source of the PNG (png.ts rasterises this very text). Layout, top to bottom: title (the command
 * line), one summary line per recording, label lanes (how each run ended, sections as a small
 * Gantt, point marks), the plot, the time axis, the legend. Labels are measured with the bundled
 * font's metrics and placed only where they overlap nothing already placed; what does not fit is
 * shortened or left out, never drawn on top of something else.
 *
 * Lines are min/max envelopes per pixel column (downsample.ts): the path size is bounded by the
 * width, not by the number of samples, and no peak is lost.
 */
import type { Chart, ChartMark, ChartSeries } from './chart';
import { LIMIT_COLOR, PAUSE_COLOR, SECTION_COLOR } from './chart';
import { envelope, envelopePoints } from './downsample';
import { FONT_STACK, fitText, textWidth } from './fonts';
import { Occupancy, escapeXml, type Box } from './layout';
import { byteTicks, timeTicks, type Tick } from './ticks';

export interface SvgOptions {
  width?: number;
  height?: number;
}

export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

const PAD = 14;
const LANE_H = 17;
const MAX_LANES = 4;
const LEGEND_H = 19;
const SIZE = { title: 17, summary: 12, lane: 11.5, tick: 11.5, axis: 12, legend: 12, label: 12, detail: 11 };
const INK = '#1a1a1a';
const MUTED = '#555';
const GRID = '#e6e6e6';

const f1 = (n: number) => (Math.round(n * 10) / 10).toString();
/** Marks drawn at most (lines and labels); beyond, evenly spaced ones are kept and the legend says "+N more marks". Limit and OOM marks are always drawn. */
export const MAX_SVG_MARKS = 60;
const GAP_COLOR = '#b0b0b0';

/** At most `max` plain marks, evenly spaced over the run, and every limit/OOM mark. */
export function capMarks(marks: ChartMark[], max = MAX_SVG_MARKS): { marks: ChartMark[]; hidden: number } {
  const plain = marks.filter((m) => m.kind === 'mark');
  if (plain.length <= max) return { marks, hidden: 0 };
  const keep = new Set<ChartMark>();
  const step = plain.length / max;
  for (let i = 0; i < max; i++) keep.add(plain[Math.floor(i * step)]!);
  return { marks: marks.filter((m) => m.kind !== 'mark' || keep.has(m)), hidden: plain.length - keep.size };
}

/** A placed piece of text: its box in pixels (tests check that no two intersect). */
export interface TextBox extends Box {
  text: string;
  /** Where it is: header, lane, plot, axis, legend. */
  area: 'header' | 'lane' | 'plot' | 'axis' | 'legend';
}

interface LaneItem {
  x0: number;
  x1: number;
  row: number;
  draw: (y: number) => string;
}

/** Rendering result: the SVG text and where the plot area is (tests find pixels with it). */
export interface SvgChart {
  svg: string;
  plot: PlotArea;
  /** Every label drawn, with its box (ticks included). */
  texts: TextBox[];
  yMaxBytes: number;
  xMaxMs: number;
}

export function renderSvg(chart: Chart, opts: SvgOptions = {}): SvgChart {
  const W = Math.max(320, Math.round(opts.width ?? 1200));
  const H = Math.max(240, Math.round(opts.height ?? 600));
  const out: string[] = [];
  const texts: TextBox[] = [];
  // y is the baseline; the box spans the font's ascent above it and its descent below (DejaVu: 0.93 and 0.24 em).
  const text = (x: number, y: number, s: string, size: number, attrs = '', area: TextBox['area'] = 'plot') => {
    const bold = /font-weight="bold"/.test(attrs);
    const w = textWidth(s, size, bold);
    const x0 = /text-anchor="end"/.test(attrs) ? x - w : /text-anchor="middle"/.test(attrs) ? x - w / 2 : x;
    texts.push({ x0, y0: y - 0.93 * size, x1: x0 + w, y1: y + 0.24 * size, text: s, area });
    return `<text x="${f1(x)}" y="${f1(y)}" font-size="${size}"${attrs}>${escapeXml(s)}</text>`;
  };
  const { marks: drawnMarks, hidden: hiddenMarks } = capMarks(chart.marks);

  // Header.
  let y = PAD;
  const header: string[] = [];
  const title = fitText(chart.title, SIZE.title, W - 2 * PAD, true);
  header.push(text(PAD, y + SIZE.title, title, SIZE.title, ` font-weight="bold" fill="${INK}"`, 'header'));
  y += SIZE.title + 8;
  // Summary: each recording's line, wrapped at its " · " parts onto a second line when needed.
  const maxLines = chart.summary.length > 2 ? 1 : 2;
  const summary = chart.summary.length > 4 ? [...chart.summary.slice(0, 3), `… and ${chart.summary.length - 3} more recordings`] : chart.summary;
  for (const line of summary) {
    const lines: string[] = [];
    let cur = '';
    for (const part of line.split(' · ')) {
      const next = cur ? `${cur} · ${part}` : part;
      if (!cur || textWidth(next, SIZE.summary) <= W - 2 * PAD || lines.length + 1 >= maxLines) cur = next;
      else {
        lines.push(cur);
        cur = `    ${part}`;
      }
    }
    lines.push(cur);
    for (const l of lines) {
      header.push(text(PAD, y + SIZE.summary, fitText(l, SIZE.summary, W - 2 * PAD), SIZE.summary, ` fill="${MUTED}"`, 'header'));
      y += SIZE.summary + 5;
    }
  }
  // The verdict of each recording, in its colour (memhunt analyze's first line).
  const verdicts = chart.verdicts.length > 4 ? chart.verdicts.slice(0, 3) : chart.verdicts;
  // Wrapped at its "; " parts onto a second line when there are one or two (a verdict's projection
  // to a limit was cut to "1m19s…").
  const verdictLines = verdicts.length > 2 ? 1 : 2;
  for (const v of verdicts) {
    const lines: string[] = [];
    let cur = '';
    for (const part of v.text.split('; ')) {
      const next = cur ? `${cur}; ${part}` : part;
      if (!cur || textWidth(next, SIZE.summary, true) <= W - 2 * PAD || lines.length + 1 >= verdictLines) cur = next;
      else {
        lines.push(`${cur};`);
        cur = `    ${part}`;
      }
    }
    lines.push(cur);
    for (const l of lines) {
      header.push(text(PAD, y + SIZE.summary, fitText(l, SIZE.summary, W - 2 * PAD, true), SIZE.summary, ` font-weight="bold" fill="${v.color}"`, 'header'));
      y += SIZE.summary + 5;
    }
  }
  if (chart.verdicts.length > verdicts.length) {
    header.push(text(PAD, y + SIZE.summary, `… and the verdicts of ${chart.verdicts.length - verdicts.length} more recordings (memhunt analyze)`, SIZE.summary, ` fill="${MUTED}"`, 'header'));
    y += SIZE.summary + 5;
  }
  y += 6;

  // Horizontal extent of the plot: room on the left for the value axis.
  const yTicksFirst = byteTicks(chart.yMaxBytes * 1.15, Math.max(3, Math.floor((H - 230) / 55)));
  const tickW = Math.max(...yTicksFirst.ticks.map((t) => textWidth(t.label, SIZE.tick)), 10);
  const left = PAD + SIZE.axis + 8 + tickW + 8;
  const right = W - PAD - 6;
  const plotW = right - left;
  const xPx = (t: number) => left + (t / chart.xMaxMs) * plotW;
  // Sections denser than one per 6 px (per-batch markers over hours) would shade everything:
  // then they are only counted in the legend.
  const sections = chart.sections.length > plotW / 6 ? [] : chart.sections;
  const denseSections = chart.sections.length - sections.length;

  // Lanes above the plot: ends first (they matter most), then sections, then marks.
  const lanes: LaneItem[] = [];
  const rowsUsed: Array<Array<[number, number]>> = [];
  const take = (x0: number, x1: number, maxRow: number): number => {
    for (let r = 0; r < maxRow; r++) {
      const row = (rowsUsed[r] ??= []);
      if (row.every(([a, b]) => x1 + 6 <= a || x0 >= b + 6)) {
        row.push([x0, x1]);
        return r;
      }
    }
    return -1;
  };
  for (const e of chart.ends) {
    const label = fitText(e.label, SIZE.lane, plotW * 0.6, true);
    const w = textWidth(label, SIZE.lane, true) + 12;
    const xe = Math.min(right, xPx(e.tMs));
    // Ending at its line, left of it; an end too near the left edge for that is labelled right of
    // its line (a fleet's first recording ended 0.9 min in: its label was cut at the image's edge).
    const leftward = xe - w >= left - 0.5 || xe + w > right;
    const x0 = leftward ? Math.max(left, xe - w) : xe;
    const x1 = leftward ? xe : xe + w;
    const row = take(x0, x1, MAX_LANES);
    if (row < 0) continue;
    lanes.push({
      x0, x1, row,
      draw: (ly) => leftward
        ? `<rect x="${f1(xe - 8)}" y="${f1(ly + 4)}" width="7" height="9" fill="${e.color}"/>` +
          text(xe - 11, ly + 12.5, label, SIZE.lane, ` text-anchor="end" font-weight="bold" fill="${e.color}"`, 'lane')
        : `<rect x="${f1(xe + 1)}" y="${f1(ly + 4)}" width="7" height="9" fill="${e.color}"/>` +
          text(xe + 11, ly + 12.5, label, SIZE.lane, ` font-weight="bold" fill="${e.color}"`, 'lane'),
    });
  }
  let droppedSections = 0;
  /** Mark and pause labels the lanes had no room for (the legend counts them). */
  let unplaced = 0;
  const inputs = new Set(chart.series.map((s) => s.input)).size;
  sections.forEach((s) => {
    const sx0 = Math.max(left, xPx(s.startMs));
    const sx1 = Math.max(sx0 + 2, Math.min(right, xPx(s.endMs)));
    const name = s.open ? `${s.label} (never ended)` : s.label;
    const withDelta = s.delta ? `${name} ${s.delta}` : name;
    const tries: Array<[string, number]> = [[withDelta, sx0 + 4 + textWidth(withDelta, SIZE.lane) + 2]];
    if (withDelta !== name) tries.push([name, sx0 + 4 + textWidth(name, SIZE.lane) + 2]);
    const full = name;
    const short = fitText(name, SIZE.lane, sx1 - sx0 - 8);
    if (short && short !== full) tries.push([short, sx1]);
    for (const [label, end] of tries) {
      const x1 = Math.min(right, Math.max(sx1, end));
      if (end > right + 0.5 && (label === full || label === withDelta)) continue;
      const row = take(sx0, x1, MAX_LANES);
      if (row < 0) continue;
      lanes.push({
        x0: sx0, x1, row,
        draw: (ly) => `<rect x="${f1(sx0)}" y="${f1(ly + 2)}" width="${f1(sx1 - sx0)}" height="${LANE_H - 4}" rx="2" fill="${s.color}" fill-opacity="0.22"/>` +
          text(sx0 + 4, ly + 12.5, label, SIZE.lane, ` fill="${INK}"`, 'lane'),
      });
      return;
    }
    droppedSections++;
  });
  // Pauses: a lane label over their band ("stopped 2.1 s (--on-threshold stop)"), else only the band.
  for (const p of chart.pauses) {
    const px0 = Math.max(left, xPx(p.startMs));
    const w = textWidth(p.label, SIZE.lane);
    const row = px0 + w <= right ? take(px0, px0 + w, MAX_LANES) : -1;
    if (row < 0) {
      unplaced++;
      continue;
    }
    lanes.push({ x0: px0, x1: px0 + w, row, draw: (ly) => text(px0, ly + 12.5, p.label, SIZE.lane, ` fill="${MUTED}"`, 'lane') });
  }
  for (const m of drawnMarks) {
    const x = xPx(m.tMs);
    const color = m.kind === 'mark' ? MUTED : LIMIT_COLOR;
    // "▾ label" starting at the mark, else "label ▾" ending at it, else the ▾ alone.
    const w = textWidth(`▾ ${m.label}`, SIZE.lane);
    let row = x - 4 + w <= right ? take(x - 4, x - 4 + w, MAX_LANES) : -1;
    if (row >= 0) {
      const r = row;
      lanes.push({ x0: x - 4, x1: x - 4 + w, row: r, draw: (ly) => text(x - 3.6, ly + 12.5, `▾ ${m.label}`, SIZE.lane, ` fill="${color}"`, 'lane') });
      continue;
    }
    row = x + 4 - w >= left ? take(x + 4 - w, x + 4, MAX_LANES) : -1;
    if (row >= 0) {
      const r = row;
      lanes.push({ x0: x + 4 - w, x1: x + 4, row: r, draw: (ly) => text(x + 3.6, ly + 12.5, `${m.label} ▾`, SIZE.lane, ` text-anchor="end" fill="${color}"`, 'lane') });
      continue;
    }
    unplaced++;
    row = take(x - 4, x + 4, MAX_LANES);
    if (row >= 0) {
      const r = row;
      lanes.push({ x0: x - 4, x1: x + 4, row: r, draw: (ly) => text(x - 3.6, ly + 12.5, '▾', SIZE.lane, ` fill="${color}"`, 'lane') });
    }
  }
  // Legend (bottom), flowed in rows.
  const legend = legendEntries(chart, droppedSections, denseSections, unplaced, hiddenMarks);
  const legendRows: Array<Array<{ x: number; entry: LegendEntry; label: string }>> = [[]];
  {
    // Flowed in up to 4 rows; a label is cut only when it is longer than a whole row, and entries
    // that find no room are counted in a last "+N more" entry rather than dropped unsaid.
    const MAX_LEGEND_ROWS = 4;
    let x = left;
    for (let i = 0; i < legend.length; i++) {
      const e = legend[i]!;
      const label = fitText(e.label, SIZE.legend, right - left - 38);
      const w = 22 + textWidth(label, SIZE.legend) + 16;
      if (x + w > right && legendRows[legendRows.length - 1]!.length > 0) {
        if (legendRows.length === MAX_LEGEND_ROWS) {
          const row = legendRows[legendRows.length - 1]!;
          let dropped = legend.length - i;
          const more = () => `+${dropped} more (not in this legend)`;
          const endOf = (k: number) => (k < 0 ? left : row[k]!.x + 22 + textWidth(row[k]!.label, SIZE.legend) + 16);
          while (row.length > 0 && endOf(row.length - 1) + textWidth(more(), SIZE.legend) > right) {
            row.pop();
            dropped++;
          }
          row.push({ x: endOf(row.length - 1), entry: { label: more(), swatch: () => '' }, label: more() });
          break;
        }
        legendRows.push([]);
        x = left;
      }
      legendRows[legendRows.length - 1]!.push({ x, entry: e, label });
      x += w;
    }
  }
  const legendTop = H - PAD - legendRows.length * LEGEND_H;

  const laneRows = lanes.reduce((m, l) => Math.max(m, l.row + 1), 0);
  const lanesTop = y;
  const top = y + laneRows * LANE_H + (laneRows ? 6 : 0);
  const bottom = legendTop - 8 - SIZE.axis - 8 - SIZE.tick - 8;
  const plotH = Math.max(40, bottom - top);
  // Headroom above the highest value for the peak's two-line label.
  const yMax = Math.max(chart.yMaxBytes * 1.04, chart.yMaxBytes * plotH / Math.max(plotH * 0.5, plotH - 46));
  const yPx = (v: number) => top + plotH - (v / yMax) * plotH;
  const plot: PlotArea = { left, top, width: plotW, height: plotH };

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${escapeXml(FONT_STACK)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  );
  // Everything drawn over the plot area is kept inside it by its coordinates, not by an SVG
  // clip-path: resvg draws a clipped group on a layer of its own, the size of the picture, and
  // masks it (two such groups were 16 ms of a 57 ms PNG).
  const plotBottom = top + plotH;
  const inX = (x: number) => Math.min(right, Math.max(left, x));
  const inY = (y: number) => Math.min(plotBottom, Math.max(top, y));
  const yIn = (v: number) => inY(yPx(v));

  // Section bands across the plot (under everything): alternating tints tell neighbours apart,
  // nested sections darken.
  sections.forEach((s, i) => {
    const x0 = inX(xPx(s.startMs));
    const x1 = inX(Math.max(x0 + 1, xPx(s.endMs)));
    const opacity = ((i % 2 === 0 ? 0.07 : 0.12) + Math.min(2, s.level) * 0.05) / (inputs > 1 ? 1.5 : 1);
    if (x1 > x0) out.push(`<rect x="${f1(x0)}" y="${f1(top)}" width="${f1(x1 - x0)}" height="${f1(plotH)}" fill="${s.color}" fill-opacity="${opacity.toFixed(2)}"/>`);
  });
  // Pauses (the tree was stopped) in grey with diagonal hatching; lost spans of a damaged recording in light grey.
  if (chart.pauses.length) {
    out.push(`<defs><pattern id="memhunt-pause" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${PAUSE_COLOR}" fill-opacity="0.10"/><line x1="0" y1="0" x2="0" y2="6" stroke="${PAUSE_COLOR}" stroke-width="1.5" stroke-opacity="0.45"/></pattern></defs>`);
  }
  for (const p of chart.pauses) {
    const x0 = inX(xPx(p.startMs));
    const x1 = inX(Math.max(x0 + 2, xPx(p.endMs)));
    if (x1 > x0) out.push(`<rect x="${f1(x0)}" y="${f1(top)}" width="${f1(x1 - x0)}" height="${f1(plotH)}" fill="url(#memhunt-pause)"/>`);
  }
  for (const g of chart.gaps) {
    const x0 = inX(xPx(g.startMs));
    const x1 = inX(Math.max(x0 + 2, xPx(g.endMs)));
    if (x1 > x0) out.push(`<rect x="${f1(x0)}" y="${f1(top)}" width="${f1(x1 - x0)}" height="${f1(plotH)}" fill="${GAP_COLOR}" fill-opacity="0.35"/>`);
  }

  // Grid and axes.
  const yTicks = byteTicks(yMax, Math.max(3, Math.floor(plotH / 55))).ticks;
  const xTicks = fitTimeTicks(chart.xMaxMs, plotW);
  for (const t of yTicks) {
    const py = yPx(t.value);
    out.push(`<line x1="${f1(left)}" y1="${f1(py)}" x2="${f1(right)}" y2="${f1(py)}" stroke="${GRID}" stroke-width="1"/>`);
    out.push(text(left - 7, py + 4, t.label, SIZE.tick, ` text-anchor="end" fill="${MUTED}"`, 'axis'));
  }
  for (const t of xTicks.ticks) {
    const px = xPx(t.value);
    out.push(`<line x1="${f1(px)}" y1="${f1(top)}" x2="${f1(px)}" y2="${f1(top + plotH)}" stroke="${GRID}" stroke-width="1"/>`);
    out.push(`<line x1="${f1(px)}" y1="${f1(top + plotH)}" x2="${f1(px)}" y2="${f1(top + plotH + 4)}" stroke="${MUTED}" stroke-width="1"/>`);
    out.push(text(px, top + plotH + 6 + SIZE.tick, t.label, SIZE.tick, ` text-anchor="middle" fill="${MUTED}"`, 'axis'));
  }
  out.push(`<rect x="${f1(left)}" y="${f1(top)}" width="${f1(plotW)}" height="${f1(plotH)}" fill="none" stroke="#b3b3b3" stroke-width="1"/>`);
  out.push(text(left + plotW / 2, top + plotH + 6 + SIZE.tick + 8 + SIZE.axis, `${chart.xTitle ?? 'time since start'} (${xTicks.unit})`, SIZE.axis, ` text-anchor="middle" fill="${INK}"`, 'axis'));
  const yMid = top + plotH / 2;
  out.push(`<text transform="translate(${f1(PAD + SIZE.axis)},${f1(yMid)}) rotate(-90)" font-size="${SIZE.axis}" text-anchor="middle" fill="${INK}">${escapeXml(chart.yTitle)}</text>`);

  // Marks and ends as vertical lines.
  // Marks: dashed lines across the plot, or short ticks at its top edge when there are so many
  // that lines would hide the data.
  const markLen = drawnMarks.length > 30 ? 7 : plotH;
  for (const m of drawnMarks) {
    const px = inX(xPx(m.tMs));
    const color = m.kind === 'mark' ? '#777' : LIMIT_COLOR;
    const dash = markLen === plotH ? ' stroke-dasharray="3 3"' : '';
    out.push(`<line x1="${f1(px)}" y1="${f1(top)}" x2="${f1(px)}" y2="${f1(top + markLen)}" stroke="${color}" stroke-width="1"${dash}/>`);
  }
  for (const e of chart.ends) {
    const px = Math.max(left + 1, Math.min(right - 1, xPx(e.tMs)));
    out.push(`<line x1="${f1(px)}" y1="${f1(top)}" x2="${f1(px)}" y2="${f1(top + plotH)}" stroke="${e.color}" stroke-width="2"/>`);
  }

  // Limit lines.
  for (const l of chart.limits) {
    if (!l.onChart) continue;
    const py = yIn(l.bytes);
    out.push(`<line x1="${f1(left)}" y1="${f1(py)}" x2="${f1(right)}" y2="${f1(py)}" stroke="${LIMIT_COLOR}" stroke-width="1.5" stroke-dasharray="8 4"/>`);
  }

  // Series: the total on top of the processes.
  // The thicker process line (the one that held most at the peak) goes over the other processes.
  const order = [...chart.series].sort((a, b) => rank(a) - rank(b) || (a.role === 'process' && b.role === 'process' ? a.widthPx - b.widthPx : 0));
  const cols = Math.max(1, Math.round(plotW));
  const lines = new LineObstacles(left, cols);
  // Lost spans in columns: a line is not drawn across one (it would be a straight line through data that is not there).
  const gapCols = chart.gaps.filter((g) => g.input !== undefined).map((g) => [(g.startMs / chart.xMaxMs) * cols, (g.endMs / chart.xMaxMs) * cols, g.input] as const);
  for (const s of order) out.push(seriesPath(s, chart.xMaxMs, cols, left, plotW / cols, yIn, lines, gapCols.filter((g) => g[2] === s.input).map((g) => [g[0], g[1]] as [number, number])));

  // Trend lines, cut where they leave the plot (a steep trend can run off its top or bottom).
  for (const t of chart.trends) {
    const seg = clipSegment(xPx(t.t0Ms), yPx(t.v0Bytes), xPx(t.t1Ms), yPx(t.v1Bytes), { x0: left, y0: top, x1: right, y1: plotBottom });
    if (!seg) continue;
    lines.segment(seg[0], seg[1], seg[2], seg[3]);
    out.push(`<line x1="${f1(seg[0])}" y1="${f1(seg[1])}" x2="${f1(seg[2])}" y2="${f1(seg[3])}" stroke="${t.color}" stroke-width="1.5" stroke-dasharray="10 4 2 4" opacity="0.9"/>`);
  }

  // Labels inside the plot, placed so that none overlaps another.
  const occ = new Occupancy(4);
  // A label goes where it crosses no line if it can, else where it overlaps no other label.
  const placeClear = (cands: Box[]) => occ.place(cands.filter((c) => !lines.crosses(c)), bounds) ?? occ.place(cands, bounds);
  const bounds: Box = { x0: left + 2, y0: top + 2, x1: right - 2, y1: top + plotH - 2 };
  const halo = ' stroke="#ffffff" stroke-width="3.5" stroke-linejoin="round" paint-order="stroke"';
  for (const l of chart.limits) {
    if (!l.onChart) continue;
    const py = yPx(l.bytes);
    const w = textWidth(l.label, SIZE.label);
    const h = SIZE.label + 2;
    const above = { x0: right - 6 - w, y0: py - 4 - h, x1: right - 6, y1: py - 4 };
    const below = { x0: right - 6 - w, y0: py + 4, x1: right - 6, y1: py + 4 + h };
    const leftAbove = { x0: left + 6, y0: py - 4 - h, x1: left + 6 + w, y1: py - 4 };
    const b = placeClear([above, below, leftAbove]);
    if (b) out.push(text(b.x0, b.y1 - 3, l.label, SIZE.label, ` fill="${LIMIT_COLOR}"${halo}`));
  }
  for (const p of chart.peaks) {
    const px = xPx(p.tMs);
    const py = yPx(p.bytes);
    // A ring, not a disc: the line's true top stays visible inside it.
    out.push(`<circle cx="${f1(px)}" cy="${f1(py)}" r="5" fill="none" stroke="${p.color}" stroke-width="2"/>`);
    const w = Math.max(textWidth(p.label, SIZE.label, true), p.detail ? textWidth(p.detail, SIZE.detail) : 0);
    const h = SIZE.label + 3 + (p.detail ? SIZE.detail + 3 : 0);
    const cands: Box[] = [];
    for (const dy of [0, h / 2 + 6, -(h / 2 + 6), h + 12, -(h + 12)]) {
      const yc = py - 9 - h / 2 - dy;
      cands.push({ x0: px + 9, y0: yc - h / 2, x1: px + 9 + w, y1: yc + h / 2 });
      cands.push({ x0: px - 9 - w, y0: yc - h / 2, x1: px - 9, y1: yc + h / 2 });
    }
    occ.add({ x0: px - 5, y0: py - 5, x1: px + 5, y1: py + 5 });
    const b = placeClear(cands);
    if (!b) continue;
    const anchorRight = b.x1 <= px;
    const tx = anchorRight ? b.x1 : b.x0;
    const anchor = anchorRight ? ' text-anchor="end"' : '';
    out.push(text(tx, b.y0 + SIZE.label, p.label, SIZE.label, `${anchor} font-weight="bold" fill="${p.color}"${halo}`));
    if (p.detail) out.push(text(tx, b.y0 + SIZE.label + 3 + SIZE.detail, p.detail, SIZE.detail, `${anchor} fill="${INK}"${halo}`));
  }
  for (const t of chart.trends) {
    const px = xPx(t.t1Ms);
    const py = yPx(t.v1Bytes);
    const w = textWidth(t.label, SIZE.label);
    const h = SIZE.label + 2;
    const cands: Box[] = [];
    for (const dy of [8, -8 - h, 24, -24 - h, 40, -40 - h]) cands.push({ x0: px - w - 4, y0: py + dy, x1: px - 4, y1: py + dy + h });
    const b = placeClear(cands);
    if (b) out.push(text(b.x0, b.y1 - 3, t.label, SIZE.label, ` fill="${t.color}"${halo}`));
  }

  // Lanes, legend, header.
  for (const l of lanes) out.push(l.draw(lanesTop + l.row * LANE_H));
  legendRows.forEach((row, r) => {
    const ly = legendTop + r * LEGEND_H;
    for (const { x, entry, label } of row) {
      out.push(entry.swatch(x, ly + 9));
      out.push(text(x + 22, ly + 13, label, SIZE.legend, ` fill="${INK}"`, 'legend'));
    }
  });
  out.push(...header);
  out.push('</svg>');
  return { svg: out.join('\n'), plot, texts, yMaxBytes: yMax, xMaxMs: chart.xMaxMs };
}

function rank(s: ChartSeries): number {
  return s.role === 'total' ? 3 : s.role === 'pss' ? 2 : s.role === 'cgroup' ? 1 : 0;
}

/** Time ticks whose labels do not touch: fewer ticks until they fit. */
export function fitTimeTicks(xMaxMs: number, plotW: number): { ticks: Tick[]; unit: string } {
  for (let target = Math.max(2, Math.floor(plotW / 80)); ; target--) {
    const t = timeTicks(0, xMaxMs, target);
    const widest = Math.max(...t.ticks.map((k) => textWidth(k.label, SIZE.tick)), 0);
    const spacing = t.ticks.length > 1 ? ((t.ticks[1]!.value - t.ticks[0]!.value) / xMaxMs) * plotW : plotW;
    if (widest + 14 <= spacing || target <= 2) return t;
  }
}

/** Where lines were drawn, per pixel column (the y range each line covers there), so labels can avoid them. */
class LineObstacles {
  private readonly spans: Array<{ lo: Float32Array; hi: Float32Array }> = [];
  private cur: { lo: Float32Array; hi: Float32Array } | null = null;
  constructor(private readonly left: number, private readonly cols: number) {}

  private add(c: number, y0: number, y1: number): void {
    if (c < 0 || c >= this.cols) return;
    const s = this.cur!;
    const lo = Math.min(y0, y1);
    const hi = Math.max(y0, y1);
    if (!(s.lo[c]! <= lo)) s.lo[c] = lo;
    if (!(s.hi[c]! >= hi)) s.hi[c] = hi;
  }

  /** Starts a new line; segments go to it until the next call. */
  begin(): void {
    this.cur = { lo: new Float32Array(this.cols).fill(NaN), hi: new Float32Array(this.cols).fill(NaN) };
    this.spans.push(this.cur);
  }

  segment(xa: number, ya: number, xb: number, yb: number): void {
    if (!this.cur) this.begin();
    if (xb < xa) [xa, ya, xb, yb] = [xb, yb, xa, ya];
    const ca = Math.floor(xa - this.left);
    const cb = Math.floor(xb - this.left);
    if (ca === cb) {
      this.add(ca, ya, yb);
      return;
    }
    const slope = (yb - ya) / (xb - xa);
    for (let c = ca; c <= cb; c++) {
      const x0 = Math.max(xa, this.left + c);
      const x1 = Math.min(xb, this.left + c + 1);
      this.add(c, ya + slope * (x0 - xa), ya + slope * (x1 - xa));
    }
  }

  crosses(b: Box): boolean {
    const c0 = Math.max(0, Math.floor(b.x0 - this.left));
    const c1 = Math.min(this.cols - 1, Math.ceil(b.x1 - this.left));
    for (const s of this.spans) {
      for (let c = c0; c <= c1; c++) if (s.hi[c]! >= b.y0 - 2 && s.lo[c]! <= b.y1 + 2) return true;
    }
    return false;
  }
}

/** The part of the segment (ax, ay)-(bx, by) inside the box (Liang–Barsky), or null. */
export function clipSegment(ax: number, ay: number, bx: number, by: number, box: Box): [number, number, number, number] | null {
  let t0 = 0;
  let t1 = 1;
  const dx = bx - ax;
  const dy = by - ay;
  for (const [p, q] of [[-dx, ax - box.x0], [dx, box.x1 - ax], [-dy, ay - box.y0], [dy, box.y1 - ay]] as const) {
    if (p === 0) {
      if (q < 0) return null;
    } else {
      const r = q / p;
      if (p < 0) {
        if (r > t1) return null;
        if (r > t0) t0 = r;
      } else {
        if (r < t0) return null;
        if (r < t1) t1 = r;
      }
    }
  }
  return [ax + t0 * dx, ay + t0 * dy, ax + t1 * dx, ay + t1 * dy];
}

function seriesPath(s: ChartSeries, xMaxMs: number, cols: number, left: number, colW: number, yPx: (v: number) => number, lines: LineObstacles, gaps: Array<[number, number]> = []): string {
  const env = envelope(s.data, 0, xMaxMs, cols);
  const pts = envelopePoints(env);
  if (pts.length === 0) return '';
  // A segment that spans a lost stretch (its ends on either side of the gap's inside) is not drawn.
  const broken = (xa: number, xb: number) => gaps.some(([g0, g1]) => xa <= g0 + 0.5 && xb >= g1 - 0.5 && g1 - g0 >= 0.5);
  lines.begin();
  for (let i = 1; i < pts.length; i++) {
    if (broken(pts.x[i - 1]!, pts.x[i]!)) continue;
    lines.segment(left + pts.x[i - 1]! * colW, yPx(pts.y[i - 1]!), left + pts.x[i]! * colW, yPx(pts.y[i]!));
  }
  if (pts.length === 1) lines.segment(left + pts.x[0]! * colW, yPx(pts.y[0]!), left + pts.x[0]! * colW, yPx(pts.y[0]!));
  const dash = (s.dash ? ` stroke-dasharray="${s.dash}"` : '') + (s.opacity !== undefined && s.opacity < 1 ? ` stroke-opacity="${s.opacity}"` : '');
  if (pts.length === 1) {
    return `<circle cx="${f1(left + pts.x[0]! * colW)}" cy="${f1(yPx(pts.y[0]!))}" r="${s.widthPx + 1}" fill="${s.color}"/>`;
  }
  const parts: string[] = [];
  for (let i = 0; i < pts.length; i++) parts.push(`${i === 0 || broken(pts.x[i - 1]!, pts.x[i]!) ? 'M' : 'L'}${f1(left + pts.x[i]! * colW)} ${f1(yPx(pts.y[i]!))}`);
  return `<path d="${parts.join('')}" fill="none" stroke="${s.color}" stroke-width="${s.widthPx}" stroke-linejoin="round" stroke-linecap="round"${dash}/>`;
}

interface LegendEntry {
  label: string;
  swatch: (x: number, yMid: number) => string;
}

function legendEntries(chart: Chart, unlabelledSections: number, undrawnSections: number, unplacedLabels: number, hiddenMarks: number): LegendEntry[] {
  const line = (color: string, width: number, dash: string | null) => (x: number, y: number) =>
    `<line x1="${f1(x)}" y1="${f1(y)}" x2="${f1(x + 18)}" y2="${f1(y)}" stroke="${color}" stroke-width="${Math.max(2, width)}"${dash ? ` stroke-dasharray="${dash === '2 3' ? '2 2' : '5 2'}"` : ''}/>`;
  const out: LegendEntry[] = chart.series.map((s) => ({ label: s.label, swatch: line(s.color, s.widthPx, s.dash) }));
  if (chart.limits.some((l) => l.onChart)) out.push({ label: 'limit', swatch: line(LIMIT_COLOR, 1.5, '8 4') });
  if (undrawnSections > 0) {
    out.push({ label: `${undrawnSections} sections (too many to draw)`, swatch: () => '' });
  } else if (chart.sections.length > 0) {
    const label = unlabelledSections > 0 ? `section (${unlabelledSections} not labelled)` : 'section';
    out.push({ label, swatch: (x, y) => `<rect x="${f1(x)}" y="${f1(y - 6)}" width="18" height="12" fill="${SECTION_COLOR}" fill-opacity="0.22"/>` });
  }
  if (chart.pauses.length > 0) {
    out.push({ label: `stopped (${chart.pauses.length} pause${chart.pauses.length === 1 ? '' : 's'})`, swatch: (x, y) => `<rect x="${f1(x)}" y="${f1(y - 6)}" width="18" height="12" fill="url(#memhunt-pause)" stroke="${PAUSE_COLOR}" stroke-width="0.5"/>` });
  }
  for (const g of chart.gaps) out.push({ label: g.label, swatch: (x, y) => `<rect x="${f1(x)}" y="${f1(y - 6)}" width="18" height="12" fill="${GAP_COLOR}" fill-opacity="0.35"/>` });
  if (hiddenMarks > 0) out.push({ label: `+${hiddenMarks} more marks (not drawn; memhunt report lists them all)`, swatch: () => '' });
  if (unplacedLabels > 0) out.push({ label: `${unplacedLabels} mark label${unplacedLabels === 1 ? '' : 's'} not placed (no room)`, swatch: () => '' });
  return out;
}
