/**
 * The chart in a terminal, for a shell inside a container: Unicode braille characters (2 × 4 dots
 * per cell, so an 80-column terminal has ~140 dot columns), fitted to the terminal's width.
 * Colours (ANSI 16, understood everywhere) tell the lines apart; without colour (not a terminal,
 * NO_COLOR) only the tree total is drawn, since uncoloured lines could not be told apart.
 *
 * Each dot column is the min/max envelope of its samples, joined to its neighbours: a spike lands
 * on its true dot row.
 */
import { safeLine } from '../safe-text';
import type { Chart, ChartSeries } from './chart';
import { PALETTE, OTHER_COLOR } from './chart';
import { envelope, envelopePoints } from './downsample';
import { byteTicks, timeTicks } from './ticks';

export interface TermOptions {
  /** Terminal width in characters. */
  columns: number;
  /** Plot height in text rows (default 14). */
  rows?: number;
  color: boolean;
}

const RESET = '\x1b[0m';
const ANSI_FOR: Record<string, string> = {
  [PALETTE[0]!]: '34', [PALETTE[1]!]: '33', [PALETTE[2]!]: '32', [PALETTE[3]!]: '35',
  [PALETTE[4]!]: '31;2', [PALETTE[5]!]: '95', [PALETTE[6]!]: '36', [PALETTE[7]!]: '93', [OTHER_COLOR]: '90',
};
const TOTAL_ANSI = '1';
const LIMIT_ANSI = '31';
const DIM = '2';

/** Braille dot bits: [column 0..1][row 0..3 from the top]. */
const DOT = [
  [0x01, 0x02, 0x04, 0x40],
  [0x08, 0x10, 0x20, 0x80],
];

interface Canvas {
  w: number;
  h: number;
  bits: Uint8Array;
  color: Array<string | null>;
}

function plotDot(cv: Canvas, dx: number, dyFromBottom: number, ansi: string | null): void {
  const dotsH = cv.h * 4;
  if (dx < 0 || dx >= cv.w * 2 || dyFromBottom < 0 || dyFromBottom >= dotsH) return;
  const dyTop = dotsH - 1 - dyFromBottom;
  const cell = Math.floor(dyTop / 4) * cv.w + (dx >> 1);
  cv.bits[cell]! |= DOT[dx & 1]![dyTop & 3]!;
  if (ansi !== null) cv.color[cell] = ansi;
}

function plotLine(cv: Canvas, x0: number, y0: number, x1: number, y1: number, ansi: string | null, every = 1): void {
  const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
  for (let i = 0; i <= steps; i++) {
    if (i % every !== 0) continue;
    plotDot(cv, Math.round(x0 + ((x1 - x0) * i) / steps), Math.round(y0 + ((y1 - y0) * i) / steps), ansi);
  }
}

function paint(text: string, ansi: string | null, color: boolean): string {
  return color && ansi ? `\x1b[${ansi}m${text}${RESET}` : text;
}

/**
 * Text from a recording, made harmless for a terminal (one sanitizer for every terminal output:
 * src/safe-text.ts): a command line or marker label holding ESC or other control characters would
 * otherwise move the cursor, recolour or retitle it.
 */
const safe = safeLine;

/** Visible width of a string of ordinary characters (no escapes): one column each. */
function clip(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...safe(text)];
  return chars.length <= width ? chars.join('') : chars.slice(0, Math.max(0, width - 1)).join('') + '…';
}

/** Flows "a · b · c" parts into lines of at most `width` columns. */
function flow(parts: string[], width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const p of parts) {
    const next = cur ? `${cur} · ${p}` : p;
    if ([...next].length <= width || !cur) cur = next;
    else {
      lines.push(cur);
      cur = `  ${p}`;
    }
  }
  if (cur) lines.push(cur);
  return lines.map((l) => clip(l, width));
}

/** A row of text cells with greedy, non-overlapping placement. */
class Row {
  readonly cells: string[];
  readonly colors: Array<string | null>;
  constructor(readonly width: number) {
    this.cells = new Array<string>(width).fill(' ');
    this.colors = new Array<string | null>(width).fill(null);
  }

  free(at: number, len: number): boolean {
    if (at < 0 || at + len > this.width) return false;
    for (let i = Math.max(0, at - 1); i < Math.min(this.width, at + len + 1); i++) if (this.cells[i] !== ' ') return false;
    return true;
  }

  put(at: number, text: string, ansi: string | null): void {
    [...safe(text)].forEach((ch, i) => {
      if (at + i >= 0 && at + i < this.width) {
        this.cells[at + i] = ch;
        this.colors[at + i] = ansi;
      }
    });
  }

  render(color: boolean): string {
    let out = '';
    let i = 0;
    while (i < this.width) {
      let j = i;
      while (j < this.width && this.colors[j] === this.colors[i]) j++;
      out += paint(this.cells.slice(i, j).join(''), this.colors[i]!, color);
      i = j;
    }
    return out.replace(/\s+$/, '');
  }
}

export interface TermChart {
  text: string;
  /** Geometry, for tests: plot rows and dot columns, value at the top dot row. */
  rows: number;
  dotColumns: number;
  yMaxBytes: number;
  /** Index of the first plot line in `text.split('\n')`, and the plot's first column. */
  plotLine: number;
  plotColumn: number;
}

export function renderTerminal(chart: Chart, opts: TermOptions): TermChart {
  const columns = Math.max(40, Math.floor(opts.columns));
  const H = Math.max(4, Math.floor(opts.rows ?? 14));
  const color = opts.color;
  const yMax = chart.yMaxBytes * 1.05;
  const yTicks = byteTicks(yMax, Math.max(2, Math.floor(H / 3))).ticks;
  const labelW = Math.max(...yTicks.map((t) => t.label.length), 5) + 1;
  const W = columns - labelW - 2;
  const dotsW = W * 2;
  const dotsH = H * 4;
  const cv: Canvas = { w: W, h: H, bits: new Uint8Array(W * H), color: new Array<string | null>(W * H).fill(null) };
  const xDot = (t: number) => Math.min(dotsW - 1, Math.floor((t / chart.xMaxMs) * dotsW));
  const yDot = (v: number) => Math.round((v / yMax) * (dotsH - 1));

  // Limit lines (dotted), under the data.
  const limitRows = new Map<number, string>();
  for (const l of chart.limits) {
    if (!l.onChart) continue;
    const d = yDot(l.bytes);
    plotLine(cv, 0, d, dotsW - 1, d, LIMIT_ANSI, 2);
    limitRows.set(H - 1 - Math.floor(d / 4), 'limit');
  }
  // Trends (sparser dots).
  for (const t of chart.trends) plotLine(cv, xDot(t.t0Ms), yDot(t.v0Bytes), xDot(t.t1Ms), yDot(t.v1Bytes), color ? TOTAL_ANSI : null, 3);

  const drawn: ChartSeries[] = color ? [...chart.series].sort((a, b) => (a.role === 'total' ? 1 : 0) - (b.role === 'total' ? 1 : 0)) : chart.series.filter((s) => s.role === 'total');
  const ansiOf = (s: ChartSeries) => (s.role === 'total' && chart.series.filter((x) => x.role === 'total').length === 1 ? TOTAL_ANSI : ANSI_FOR[s.color] ?? TOTAL_ANSI);
  for (const s of drawn) {
    const pts = envelopePoints(envelope(s.data, 0, chart.xMaxMs, dotsW));
    const a = ansiOf(s);
    for (let i = 0; i < pts.length; i++) {
      const x = Math.floor(pts.x[i]!);
      const y = yDot(pts.y[i]!);
      if (i === 0) plotDot(cv, x, y, a);
      else plotLine(cv, Math.floor(pts.x[i - 1]!), yDot(pts.y[i - 1]!), x, y, a);
    }
  }

  const lines: string[] = [];
  lines.push(paint(clip(chart.title, columns), '1', color));
  for (const s of chart.summary) for (const l of flow(s.split(' · '), columns)) lines.push(paint(l, DIM, color));

  // The text column of a time (xDot already keeps it inside the plot).
  const colOf = (t: number) => labelW + 2 + Math.min(W - 1, Math.floor(xDot(t) / 2));

  // Ends, right-aligned at their column, above the plot.
  const top = new Row(columns);
  for (const e of chart.ends) {
    const label = `${e.label} ┐`;
    const len = [...label].length;
    const at = Math.max(labelW + 2, Math.min(columns, colOf(e.tMs) + 1) - len);
    if (top.free(at, len)) top.put(at, label, e.severity === 'ok' ? '32' : e.severity === 'bad' ? '31;1' : '33');
  }
  lines.push(top.render(color));

  const plotLineIndex = lines.length;
  for (let r = 0; r < H; r++) {
    const tick = yTicks.find((t) => H - 1 - Math.floor(yDot(t.value) / 4) === r);
    const limitLabel = limitRows.get(r);
    const label = limitLabel ?? tick?.label ?? '';
    let row = paint(label.padStart(labelW), limitLabel ? LIMIT_ANSI : null, color) + (tick || limitLabel ? ' ┤' : ' │');
    let run = '';
    let runColor: string | null = null;
    for (let c = 0; c < W; c++) {
      const i = r * W + c;
      // An empty cell is a space, not the blank braille pattern (some fonts draw that one as dots).
      const ch = cv.bits[i] ? String.fromCharCode(0x2800 + cv.bits[i]!) : ' ';
      const col = cv.bits[i] ? cv.color[i]! : null;
      if (col !== runColor && run) {
        row += paint(run, runColor, color);
        run = '';
      }
      runColor = col;
      run += ch;
    }
    row += paint(run, runColor, color);
    lines.push(row.replace(/ +$/, ''));
  }

  // Time axis: ticks and their labels, centred where they fit.
  const axis = new Row(columns);
  const labels = new Row(columns);
  axis.put(labelW + 1, '└' + '─'.repeat(W), null);
  const tt = timeTicks(0, chart.xMaxMs, Math.max(2, Math.floor(W / 10)));
  for (const t of tt.ticks) {
    const col = colOf(t.value);
    const at = Math.max(0, col - Math.floor(t.label.length / 2));
    if (labels.free(at, t.label.length)) {
      labels.put(at, t.label, null);
      axis.put(col, '┬', null);
    }
  }
  // The unit goes left of the axis, under the value labels (the right end is taken by the last tick).
  const unit = `time (${tt.unit})`.length <= labelW ? `time (${tt.unit})` : `(${tt.unit})`;
  labels.put(labelW - [...unit].length, unit, DIM);
  lines.push(axis.render(color), labels.render(color));

  // Sections: one row of bars with labels inside; marks and the peak: a row of ▲ with labels.
  if (chart.sections.length > W / 2) {
    lines.push(paint(`${'sections'.padStart(labelW)}  ${chart.sections.length} (too many to draw here; the HTML report lists them)`.slice(0, columns), DIM, color));
  } else if (chart.sections.length > 0) {
    const row = new Row(columns);
    row.put(0, 'sections'.padStart(labelW), DIM);
    chart.sections.forEach((s, i) => {
      const a = colOf(s.startMs);
      const b = Math.max(a, colOf(s.endMs));
      const len = b - a + 1;
      const text = len >= 3 ? `▕${clip(s.label, len - 1).padEnd(len - 1, '━')}` : '▕';
      if (row.cells[a] === ' ' || text.length > 1) row.put(a, text, i % 2 ? '36' : '34');
    });
    lines.push(row.render(color));
  }
  const peakRow = new Row(columns);
  for (const p of chart.peaks) {
    const label = `▲ ${p.label}`;
    const col = colOf(p.tMs);
    const len = [...label].length;
    const at = col + len <= columns ? col : Math.max(0, col - len + 1);
    if (peakRow.free(at, len)) peakRow.put(at, at === col ? label : `${p.label} ▲`, '31;1');
  }
  lines.push(peakRow.render(color));
  const marksRow = new Row(columns);
  for (const m of chart.marks) {
    const col = colOf(m.tMs);
    const label = `▲ ${m.label}`;
    const len = [...label].length;
    if (marksRow.free(col, len)) marksRow.put(col, label, m.kind === 'mark' ? null : LIMIT_ANSI);
    else if (marksRow.free(col - len + 1, len)) marksRow.put(col - len + 1, `${m.label} ▲`, m.kind === 'mark' ? null : LIMIT_ANSI);
    else if (marksRow.free(col, 1)) marksRow.put(col, '▲', m.kind === 'mark' ? null : LIMIT_ANSI);
  }
  if (chart.marks.length > 0) lines.push(marksRow.render(color));

  // Legend.
  const legend: string[] = [];
  for (const s of drawn) legend.push(paint('━━', ansiOf(s), color) + ' ' + clip(s.label, columns - 4));
  if (chart.limits.some((l) => l.onChart)) legend.push(paint('┄┄', LIMIT_ANSI, color) + ' limit');
  for (const t of chart.trends) legend.push(`┄┄ ${safe(t.label)}`);
  if (!color && chart.series.length > drawn.length) legend.push('(per-process lines need colour: run in a terminal)');
  const legendLines: string[] = [];
  let cur = '';
  let curLen = 0;
  for (const item of legend) {
    // eslint-disable-next-line no-control-regex -- visible length ignores colour escapes
    const len = [...item.replace(/\x1b\[[0-9;]*m/g, '')].length;
    if (cur && curLen + 3 + len > columns) {
      legendLines.push(cur);
      cur = '';
      curLen = 0;
    }
    cur += (cur ? '   ' : '') + item;
    curLen += (curLen ? 3 : 0) + len;
  }
  if (cur) legendLines.push(cur);
  lines.push(...legendLines);
  for (const w of chart.warnings) lines.push(paint(clip(`warning: ${w}`, columns), '33', color));
  return { text: lines.join('\n') + '\n', rows: H, dotColumns: dotsW, yMaxBytes: yMax, plotLine: plotLineIndex, plotColumn: labelW + 2 };
}
