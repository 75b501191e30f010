/**
 * The one chart description every back end draws (SVG → PNG, HTML, terminal): which series, in
 * which colours and with which labels, the axes' ranges, and the annotations (limit, peak,
 * sections, marks, how each run ended, trend). Deciding it once keeps the pictures in agreement;
 * the back ends only lay it out for their medium and downsample for their own resolution.
 *
 * Series keep references to the model's typed arrays: nothing is copied here except the "other"
 * fold (one Float64Array of the total's length, only when more processes than lines exist).
 */
import { analyzeRecording, verdictLineOf } from '../analysis/analyze';
import { AGENT_WORK_NAMES, summarize, type RunSummary } from '../analysis/summary';
import type { Verdict } from '../analysis/verdict';
import { NO_PID, workerText, type MemoryRecording } from '../model/recording';
import { metricLabel, metricTotal, processMetricSeries, rssTotal } from '../model/metric';
import { seriesMax, type Series } from '../model/series';
import { shortCommand } from '../model/command';
import { fmtBytes, fmtClock } from './ticks';
import { formatBytes, formatCount, formatPercent } from '../units';

export interface PlotInput {
  rec: MemoryRecording;
  /** File name, for labels when several recordings share the chart. */
  name: string;
}

export interface ChartOptions {
  /** Replaces the command line as the title. */
  title?: string;
  /** One line per process; undefined = on when there is one recording (of two or more processes). */
  perProcess?: boolean;
  /** At most this many process lines; the rest are summed into "other". Default 8. */
  maxProcesses?: number;
  /** Least-squares line over each run's tree total, labelled in MiB/min (mprof's --slope). */
  trend?: boolean;
  /** A limit to draw instead of the recorded one (--limit of plot). */
  limitBytes?: number;
  /** What to call it ("report --limit"); "plot --limit" by default. */
  limitSource?: string;
  /** The verdict line of each recording (memhunt analyze's first line); default on. */
  verdict?: boolean;
}

export type SeriesRole = 'total' | 'process' | 'other' | 'cgroup' | 'pss';

export interface ChartSeries {
  /** Stable key (HTML toggles, tests). */
  id: string;
  label: string;
  role: SeriesRole;
  /** Index of the recording in the inputs. */
  input: number;
  color: string;
  widthPx: number;
  /** SVG stroke-dasharray, or null for a solid line. */
  dash: string | null;
  data: Series;
  peakBytes: number;
  /** Stroke opacity below 1: a band drawn under other lines and the limit (a fleet's other recordings). */
  opacity?: number;
}

export interface ChartLimit {
  input: number;
  bytes: number;
  /** "limit 2.00 GiB (--limit) · 76% used at the peak". */
  label: string;
  /** False when the limit is far above the data (drawing it would flatten the lines): then only the summary says it. */
  onChart: boolean;
}

export interface ChartPeak {
  input: number;
  tMs: number;
  bytes: number;
  /** "peak 1.52 GiB at 3:05". */
  label: string;
  /** "pid 4242 python3 train.py held 1.10 GiB", or "" with one process. */
  detail: string;
  color: string;
}

export interface ChartSection {
  input: number;
  startMs: number;
  endMs: number;
  /** The section never ended (the program was killed inside it): drawn to the end of the run. */
  open: boolean;
  label: string;
  level: number;
  /** Band colour: SECTION_COLOR, or with several recordings the run's total line colour. */
  color: string;
  /** The tree total's change over the section ("+20.3 MiB"), or "" when no sample is inside it. */
  delta: string;
}

/** Time the tree was stopped (--on-threshold SIZE:stop, pdb at --break-at): drawn as a hatched band. */
export interface ChartPause {
  input: number;
  startMs: number;
  endMs: number;
  /** "stopped 2.1 s (--on-threshold stop)". */
  label: string;
}

/** Time a damaged recording lost (records skipped by the reader): the lines are not drawn across it. */
export interface ChartGap {
  input: number;
  startMs: number;
  endMs: number;
  label: string;
}

export interface ChartVerdict {
  input: number;
  verdict: Verdict;
  /** "leak (high confidence): floors rising +12 MiB/min …", with the file name first when several. */
  text: string;
  color: string;
}

export interface ChartMark {
  input: number;
  tMs: number;
  label: string;
  kind: 'mark' | 'limit' | 'oom';
}

export type EndSeverity = 'ok' | 'bad' | 'warn' | 'unknown';

export interface ChartEnd {
  input: number;
  tMs: number;
  /** Short, for the right edge: "exit 0", "killed by the OOM killer". */
  label: string;
  severity: EndSeverity;
  color: string;
}

export interface ChartTrend {
  input: number;
  t0Ms: number;
  v0Bytes: number;
  t1Ms: number;
  v1Bytes: number;
  bytesPerMin: number;
  label: string;
  color: string;
}

export interface Chart {
  title: string;
  /** One line per recording: peak, limit, end, processes. */
  summary: string[];
  /** What the y axis counts. */
  yTitle: string;
  /** What the x axis counts, when not the time since the recording's start (a fleet: since its first start, by wall clock). */
  xTitle?: string;
  xMaxMs: number;
  /** The largest value to show (lines, trend ends, the limit when on the chart); back ends add headroom for labels. */
  yMaxBytes: number;
  series: ChartSeries[];
  limits: ChartLimit[];
  peaks: ChartPeak[];
  sections: ChartSection[];
  marks: ChartMark[];
  ends: ChartEnd[];
  trends: ChartTrend[];
  pauses: ChartPause[];
  gaps: ChartGap[];
  verdicts: ChartVerdict[];
  /** Problems the readers tolerated, per recording, for the user. */
  warnings: string[];
  sampleCount: number;
}

/** Process lines: matplotlib's tab10 without its red (kept for the limit and the peak) and grey (for "other"). */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
export const TOTAL_COLOR = '#1a1a1a';
export const OTHER_COLOR = '#8c8c8c';
export const LIMIT_COLOR = '#d62728';
export const PEAK_COLOR = '#d62728';
/** Section bands of a single recording (blue-grey). */
export const SECTION_COLOR = '#4e79a7';
const END_COLORS: Record<EndSeverity, string> = { ok: '#2ca02c', bad: '#d62728', warn: '#e67e00', unknown: '#7f7f7f' };

export const VERDICT_COLORS: Record<Verdict, string> = { leak: '#d62728', spike: '#e67e00', stable: '#2ca02c', 'insufficient data': '#7f7f7f' };
/** Pause bands (time the tree was stopped). */
export const PAUSE_COLOR = '#7f7f7f';

/**
 * A time as words for labels: "9.7 s", "3 min 05 s", "1 h 02 min". Not fmtClock's "9.70 s" /
 * "3:05": beside a size, "402 MiB at 9.70 s" with a line through the "s" was read as a clock (9:70).
 */
export function clockWords(ms: number): string {
  if (!(ms === ms)) return '?';
  if (ms < 60e3) return `${(ms / 1000).toFixed(ms < 10e3 ? 1 : 0)} s`;
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** How a process is named on the chart: "pid 4242 python3 train.py"; mprof's children have no command: "mprof child 2". */
export function processName(rec: MemoryRecording, p: MemoryRecording['processes'][number]): string {
  const w = workerText(p.worker);
  if (w) return `pid ${p.pid} ${w}`;
  if (p.command.length === 0 || (p.command.length === 1 && /^\(?\)?$/.test(p.command[0]!.trim()))) {
    return rec.meta.source === 'mprof' ? `mprof child ${p.pid}` : `pid ${p.pid} (command unknown)`;
  }
  return `${p.pid === NO_PID ? 'mprof\'s process' : `pid ${p.pid}`} ${shortCommand(p.command, 36)}`;
}

/**
 * " (RSS)" when a process's line is in another metric than the axis (mprof's PSS/USS files: MEM is
 * the tree's PSS, the CHLD lines are always RSS), else "".
 */
function otherMetricText(rec: MemoryRecording, p: MemoryRecording['processes'][number]): string {
  const m = processMetricSeries(rec, p).metric;
  return m === rec.meta.metric ? '' : ` (${metricLabel(m)})`;
}

/** Two lines that would be drawn on top of each other: values equal (within 1%) at 64 points over the shorter one's times. */
function sameLine(a: Series, b: Series): boolean {
  const n = Math.min(a.tMs.length, b.tMs.length);
  if (n === 0) return false;
  const t0 = Math.max(a.tMs[0]!, b.tMs[0]!);
  const t1 = Math.min(a.tMs[a.tMs.length - 1]!, b.tMs[b.tMs.length - 1]!);
  if (!(t1 >= t0)) return false;
  const spanA = a.tMs[a.tMs.length - 1]! - a.tMs[0]!;
  if (t1 - t0 < 0.8 * spanA) return false;
  for (let i = 0; i <= 64; i++) {
    const t = t0 + ((t1 - t0) * i) / 64;
    const va = valueAt(a, t);
    const vb = valueAt(b, t);
    if (Math.abs(va - vb) > 0.01 * Math.max(va, vb, 1)) return false;
  }
  return true;
}

/** The value of s at the last sample at or before t (the first sample when none is), or NaN when s is empty. */
function valueAt(s: Series, tMs: number): number {
  const t = s.tMs;
  if (t.length === 0) return NaN;
  let lo = 0;
  let hi = t.length - 1;
  if (t[0]! > tMs) return s.values[0]!;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t[mid]! <= tMs) lo = mid;
    else hi = mid - 1;
  }
  return s.values[lo]!;
}

/** "+20.3 MiB" / "−4.0 MiB": the total at the section's end less at its start; "" when no sample lies inside. */
export function sectionDelta(total: Series, startMs: number, endMs: number): string {
  const t = total.tMs;
  if (t.length === 0 || t[t.length - 1]! < startMs || t[0]! > endMs) return '';
  const d = valueAt(total, endMs) - valueAt(total, startMs);
  if (!Number.isFinite(d)) return '';
  return `${d >= 0 ? '+' : '−'}${fmtBytes(Math.abs(d))}`;
}

/**
 * Spans a damaged recording lost, from the reader's warnings ("… the records between 12.3 s and
 * 15.0 s are lost"; "after 12.3 s" runs to the end): the lines are not drawn across them.
 */
export function lostSpans(warnings: readonly string[], endMs: number): Array<{ startMs: number; endMs: number }> {
  const out: Array<{ startMs: number; endMs: number }> = [];
  for (const w of warnings) {
    const m = /the records between (?:the start|([\d.]+) s) and ([\d.]+) s are lost/.exec(w);
    if (m) out.push({ startMs: m[1] ? Number(m[1]) * 1000 : 0, endMs: Number(m[2]) * 1000 });
    const a = /the records after ([\d.]+) s are lost/.exec(w);
    if (a && Number(a[1]) * 1000 < endMs) out.push({ startMs: Number(a[1]) * 1000, endMs });
  }
  return out.filter((g) => g.endMs > g.startMs);
}

export function endLabels(end: MemoryRecording['end'], source: MemoryRecording['meta']['source'] = 'memhunt'): { short: string; long: string; severity: EndSeverity } {
  // Only memhunt's own recordings have an end record; other tools' files (mprof's .dat) never do.
  if (!end && source !== 'memhunt') return { short: 'end not recorded', long: `how the run ended is not recorded (${source} files have no end)`, severity: 'unknown' };
  if (!end) return { short: 'recording cut (no end)', long: 'unknown: the recording has no end (memhunt was stopped while recording)', severity: 'unknown' };
  const after = ` after ${fmtClock(end.tMs)}`;
  switch (end.reason) {
    case 'oom-killer':
      return { short: 'killed by the OOM killer', long: `killed by the OOM killer (SIGKILL, exit 137)${after}`, severity: 'bad' };
    case 'limit':
      return { short: 'killed: --limit exceeded', long: `killed by memhunt: --limit exceeded (SIGKILL, exit 137)${after}`, severity: 'bad' };
    case 'signalled':
      return { short: `killed by ${end.exitSignal ?? 'a signal'}`, long: `terminated by ${end.exitSignal ?? 'a signal'}${after}`, severity: 'bad' };
    case 'detached':
      return { short: 'detached (still running)', long: `memhunt detached${after}; the process kept running`, severity: 'unknown' };
    case 'interrupted':
      return { short: 'recording interrupted', long: `recording interrupted${after}`, severity: 'warn' };
    default:
      if (end.exitCode === null) return { short: 'ended', long: `process ended${after}`, severity: 'unknown' };
      return { short: `exit ${end.exitCode}`, long: `exit code ${end.exitCode}${after}`, severity: end.exitCode === 0 ? 'ok' : 'bad' };
  }
}

/**
 * The metric of the tree totals drawn, for the axis title (metricTotal decides it: an mprof file's
 * total is its MEM lines, in whatever metric mprof's --backend chose). Nothing when inputs differ.
 */
function metricOfTotals(inputs: PlotInput[]): string {
  const metrics = new Set(inputs.map(({ rec }) => metricTotal(rec).metric));
  return metrics.size === 1 ? ` (${[...metrics][0]!.toUpperCase()})` : '';
}

function lastTime(rec: MemoryRecording): number {
  let last = rec.end?.tMs ?? 0;
  const reach = (s: Series) => {
    const n = s.tMs.length;
    if (n > 0 && s.tMs[n - 1]! > last) last = s.tMs[n - 1]!;
  };
  reach(rec.total);
  reach(rec.totalPss);
  for (const p of rec.processes) reach(p.rss);
  if (rec.cgroup) reach(rec.cgroup.usage);
  return last;
}

/** Sum of the processes not drawn: total minus the drawn processes' values at each total sample. */
function foldOther(total: Series, shown: Series[]): Series {
  const n = total.tMs.length;
  const values = new Float64Array(n);
  const idx = new Int32Array(shown.length);
  for (let i = 0; i < n; i++) {
    const t = total.tMs[i]!;
    let v = total.values[i]!;
    for (let k = 0; k < shown.length; k++) {
      const s = shown[k]!;
      let j = idx[k]!;
      while (j < s.tMs.length && s.tMs[j]! < t) j++;
      if (j < s.tMs.length && s.tMs[j] === t) {
        v -= s.values[j]!;
        j++;
      }
      idx[k] = j;
    }
    values[i] = v > 0 ? v : 0;
  }
  return { tMs: total.tMs, values };
}

/** Least squares of value on time over every sample (mprof --slope fits the same way). */
function trendOf(s: Series): { slope: number; intercept: number } | null {
  const n = s.tMs.length;
  if (n < 2) return null;
  const t0 = s.tMs[0]!;
  let st = 0;
  let sv = 0;
  let stt = 0;
  let stv = 0;
  for (let i = 0; i < n; i++) {
    const t = s.tMs[i]! - t0;
    const v = s.values[i]!;
    st += t;
    sv += v;
    stt += t * t;
    stv += t * v;
  }
  const den = n * stt - st * st;
  if (!(den > 0)) return null;
  const slope = (n * stv - st * sv) / den;
  return { slope, intercept: (sv - slope * st) / n - slope * t0 };
}

function limitOf(s: RunSummary, override: number | undefined, overrideSource = 'plot --limit'): { bytes: number; source: string } | null {
  if (override !== undefined) return { bytes: override, source: overrideSource };
  if (s.limit) return { bytes: s.limit.bytes, source: s.limit.source === 'limit' ? '--limit' : s.limit.source };
  return null;
}

export function buildChart(inputs: PlotInput[], opts: ChartOptions = {}): Chart {
  const many = inputs.length > 1;
  const maxProcesses = Math.max(1, opts.maxProcesses ?? 8);
  const series: ChartSeries[] = [];
  const limits: ChartLimit[] = [];
  const peaks: ChartPeak[] = [];
  const sections: ChartSection[] = [];
  const marks: ChartMark[] = [];
  const ends: ChartEnd[] = [];
  const trends: ChartTrend[] = [];
  const pauses: ChartPause[] = [];
  const gaps: ChartGap[] = [];
  const verdicts: ChartVerdict[] = [];
  const summary: string[] = [];
  const warnings: string[] = [];
  let xMaxMs = 1;
  let sampleCount = 0;
  let colorIndex = 0;

  inputs.forEach(({ rec, name }, input) => {
    const s = summarize(rec);
    const prefix = many ? `${name}: ` : '';
    for (const w of rec.warnings) warnings.push(`${name}: ${w}`);
    sampleCount += s.samples;
    const xEnd = lastTime(rec);
    xMaxMs = Math.max(xMaxMs, xEnd);

    const totalColor = many ? PALETTE[colorIndex++ % PALETTE.length]! : TOTAL_COLOR;
    // Bands are blue-grey; with several recordings, each run's sections take its line's colour.
    const sectionColor = many ? totalColor : SECTION_COLOR;
    // The total in the recording's metric (--metric rss|pss|uss) is the line; with PSS or USS the RSS
    // sum is drawn dashed beside it, to show how much sharing the metric took out.
    const metricTotalSeries = metricTotal(rec).series;
    const totalLabel = many ? `${name} (${shortCommand(rec.meta.command, 40)})` : s.metricText;
    series.push({ id: `r${input}-total`, label: totalLabel, role: 'total', input, color: totalColor, widthPx: 2, dash: null, data: metricTotalSeries, peakBytes: s.peakBytes });

    const rss = s.metric === 'rss' ? null : rssTotal(rec);
    if (rss && rss.tMs.length > 0) {
      series.push({
        id: `r${input}-rss`, label: `${many ? `${name} ` : ''}tree RSS sum (shared pages counted once per process)`, role: 'pss', input,
        color: totalColor, widthPx: 1.5, dash: '6 3', data: rss, peakBytes: s.rssPeakBytes ?? NaN,
      });
    }

    const limit = limitOf(s, opts.limitBytes, opts.limitSource);
    if (limit && rec.cgroup && limit.source.startsWith('cgroup') && rec.cgroup.usage.tMs.length > 0) {
      const m = seriesMax(rec.cgroup.usage);
      series.push({
        id: `r${input}-cgroup`, label: `${many ? `${name} ` : ''}cgroup usage (what the limit counts)`, role: 'cgroup', input,
        color: many ? totalColor : '#5b6b7f', widthPx: 1.5, dash: '2 3', data: rec.cgroup.usage, peakBytes: m.bytes,
      });
    }

    // On by default for one recording: up to maxProcesses lines, the smallest beyond that summed as "other".
    const perProcess = opts.perProcess ?? !many;
    const procs = rec.processes.filter((p) => processMetricSeries(rec, p).series.tMs.length > 0);
    if (perProcess && procs.length > 1) {
      const byPeak = new Map(s.processes.map((p) => [p.pid, p.peakBytes]));
      const ranked = [...procs].sort((a, b) => (byPeak.get(b.pid) ?? 0) - (byPeak.get(a.pid) ?? 0));
      // Launchers and helpers that never held 2% of the tree's peak (`sleep`, `sh -c`), and
      // short-lived ones (fewer than 10 samples, as the process tables leave out: pyenv's shims, a
      // `uname` a library runs) that never held 10% of it, would only crowd the legend: they go
      // into "other" with the rest.
      const significant = ranked.filter((p) => {
        const peak = byPeak.get(p.pid) ?? 0;
        const samples = processMetricSeries(rec, p).series.tMs.length;
        return peak >= 0.02 * s.peakBytes && (samples >= 10 || peak >= 0.1 * s.peakBytes);
      });
      const room = ranked.length > maxProcesses || significant.length < ranked.length ? maxProcesses - 1 : maxProcesses;
      const shown = significant.slice(0, room);
      // One process left over gets its own line when there is room for it: an "other" line of one
      // process hid what it was (the issue saw "other (1 processes)" beside 3 processes).
      if (ranked.length - shown.length === 1 && shown.length < maxProcesses) shown.push(ranked.find((p) => !shown.includes(p))!);
      // Keep the order people think in: by start time, so the root comes first.
      shown.sort((a, b) => a.firstSeenMs - b.firstSeenMs || a.pid - b.pid);
      for (const p of shown) {
        series.push({
          id: `r${input}-p${p.pid}`, label: `${many ? `${name} ` : ''}${processName(rec, p)}${otherMetricText(rec, p)}`, role: 'process', input,
          color: PALETTE[colorIndex++ % PALETTE.length]!, widthPx: 1.25, dash: null, data: processMetricSeries(rec, p).series, peakBytes: byPeak.get(p.pid) ?? 0,
        });
      }
      // The process that held most at the peak is drawn thicker (and on top, svg.ts); a line equal to
      // one drawn before it (identical workers) is dashed, so neither hides the other.
      const firstProc = series.length - shown.length;
      for (let k = firstProc; k < series.length; k++) {
        const sk = series[k]!;
        if (s.topAtPeak && sk.id === `r${input}-p${s.topAtPeak.pid}`) sk.widthPx = 2;
        if (sameLine(metricTotalSeries, sk.data)) sk.dash = '7 4';
        for (let j = firstProc; j < k && sk.dash === null; j++) if (sameLine(series[j]!.data, sk.data)) sk.dash = '7 4';
      }
      if (ranked.length > shown.length) {
        const other = foldOther(metricTotalSeries, shown.map((p) => processMetricSeries(rec, p).series));
        const rest = ranked.length - shown.length;
        series.push({
          id: `r${input}-other`, label: `${many ? `${name} ` : ''}other (${rest} process${rest === 1 ? '' : 'es'})`, role: 'other', input,
          color: OTHER_COLOR, widthPx: 1.25, dash: null, data: other, peakBytes: seriesMax(other).bytes,
        });
      }
    }

    if (s.samples > 0) {
      const top = s.topAtPeak ? rec.processes.find((p) => p.pid === s.topAtPeak!.pid) : undefined;
      const held = s.topAtPeak && rec.processes.length > 1
        ? `${top ? processName(rec, top) : `pid ${s.topAtPeak.pid}`} held ${fmtBytes(s.topAtPeak.bytes)}${top ? otherMetricText(rec, top) : ''}` : '';
      // A peak the samples missed: the kernel's high-water mark of one process is above them.
      const hwm = s.hwmAbovePeak ? `pid ${s.hwmAbovePeak.pid} reached ${fmtBytes(s.hwmAbovePeak.hwmBytes)} between samples (VmHWM)` : '';
      const inSnapshot = s.peakDuringAgent
        ? `in memhunt's ${AGENT_WORK_NAMES[s.peakDuringAgent.what]}; ${fmtBytes(s.peakDuringAgent.peakOutsideBytes)} outside`
        : '';
      peaks.push({
        input, tMs: s.peakTMs, bytes: s.peakBytes, label: `${many ? `${name}: ` : ''}${s.hwmAbovePeak ? 'sampled ' : ''}peak ${fmtBytes(s.peakBytes)} at ${clockWords(s.peakTMs)}`,
        detail: [held, inSnapshot, hwm].filter(Boolean).join(' · '), color: many ? totalColor : PEAK_COLOR,
      });
    }

    let limitText = 'no limit';
    if (limit) {
      // The recording's own limit in what it counts (summary.limitUse: --limit the metric's tree
      // total, a cgroup limit the cgroup's usage); plot --limit against the tree total.
      const use = s.limitUse && s.limitUse.limitBytes === limit.bytes && opts.limitBytes === undefined ? s.limitUse : null;
      const used = use ? use.usedBytes : s.peakBytes;
      const share = (100 * used) / limit.bytes;
      const what = `limit ${fmtBytes(limit.bytes)} (${limit.source})`;
      const usedText = `${formatPercent(share / 100)} used at the peak (${use ? use.what : s.metricText})`;
      limitText = `${what}, ${usedText}`;
      limits.push({ input, bytes: limit.bytes, label: `${prefix}${what} · ${usedText}`, onChart: true });
    }

    for (const e of rec.events) {
      switch (e.kind) {
        case 'section': {
          const endMs = e.endMs ?? xEnd;
          sections.push({ input, startMs: e.startMs, endMs, open: e.endMs === null, label: e.label, level: e.level, color: sectionColor, delta: sectionDelta(metricTotalSeries, e.startMs, endMs) });
          break;
        }
        case 'pause':
          pauses.push({ input, startMs: e.tMs, endMs: Math.max(e.tMs, e.endMs), label: `${prefix}stopped ${clockWords(e.endMs - e.tMs)} (${e.cause === 'break' ? `pdb${e.debuggerBytes ? `, +${formatBytes(e.debuggerBytes)} of its own, not counted as growth` : ''}` : '--on-threshold stop'})` });
          break;
        case 'mark':
          marks.push({ input, tMs: e.tMs, label: e.label, kind: 'mark' });
          break;
        case 'limit-exceeded':
          marks.push({ input, tMs: e.tMs, label: `--limit exceeded at ${fmtBytes(e.bytes)}`, kind: 'limit' });
          break;
        case 'oom-kill':
          marks.push({ input, tMs: e.tMs, label: `OOM kill #${e.oomKills}`, kind: 'oom' });
          break;
        case 'threshold':
          marks.push({ input, tMs: e.tMs, label: `${fmtBytes(e.thresholdBytes)}: ${e.action}`, kind: 'mark' });
          break;
        case 'census':
          // Every census of every process would crowd the chart; one mark per moment is enough (a
          // moment: 1% of the run, at most a second: a 4 s run with --heap-every 1s shows all four).
          if (!marks.some((m) => m.input === input && m.label.startsWith('heap census') && Math.abs(m.tMs - e.tMs) < Math.min(1000, xEnd / 100))) {
            // What the census itself added to the process (its modules the first time): memhunt's, said on the mark.
            const own = e.agentRssBytes !== undefined && e.agentRssBytes >= 1024 * 1024 ? ` (memhunt's census: +${formatBytes(e.agentRssBytes)})` : '';
            marks.push({ input, tMs: e.tMs, label: `heap census${own}`, kind: 'mark' });
          }
          break;
        default:
          break;
      }
    }

    for (const g of lostSpans(rec.warnings, xEnd)) gaps.push({ input, ...g, label: `${prefix}lost ${clockWords(g.startMs)} – ${clockWords(g.endMs)} (damaged recording)` });

    if (opts.verdict !== false && s.samples > 0) {
      // One process: its series is the tree total, and analyze's line then never names it, so the
      // tree alone is judged (the analysis of 1 M samples is ~half of a plot's time; twice was 80%
      // more). The line is the same as `memhunt analyze`'s (layout.test.ts checks).
      const alone = rec.processes.filter((p) => processMetricSeries(rec, p).series.tMs.length > 0).length === 1;
      const a = analyzeRecording(rec, { summary: s, treeOnly: alone, ...(opts.limitBytes !== undefined ? { limitBytes: opts.limitBytes, limitSource: opts.limitSource ?? 'plot --limit' } : {}) });
      verdicts.push({ input, verdict: a.verdict, text: `${prefix}verdict: ${verdictLineOf(a)}`, color: VERDICT_COLORS[a.verdict] });
    }

    const end = endLabels(rec.end, rec.meta.source);
    ends.push({ input, tMs: xEnd, label: `${many ? `${name}: ` : ''}${end.short}`, severity: end.severity, color: END_COLORS[end.severity] });

    if (opts.trend) {
      const tr = trendOf(rec.total);
      if (tr) {
        const t0 = rec.total.tMs[0]!;
        const t1 = rec.total.tMs[rec.total.tMs.length - 1]!;
        const perMin = tr.slope * 60_000;
        const sign = perMin >= 0 ? '+' : '−';
        trends.push({
          input, t0Ms: t0, v0Bytes: tr.intercept + tr.slope * t0, t1Ms: t1, v1Bytes: tr.intercept + tr.slope * t1, bytesPerMin: perMin,
          label: `trend ${sign}${(Math.abs(perMin) / 2 ** 20).toFixed(Math.abs(perMin) >= 10 * 2 ** 20 ? 0 : Math.abs(perMin) >= 2 ** 20 ? 1 : 2)} MiB/min`,
          color: totalColor,
        });
      }
    }

    const parts = [
      s.samples === 0 ? 'no samples' : `peak ${fmtBytes(s.peakBytes)} at ${fmtClock(s.peakTMs)}${s.topAtPeak && rec.processes.length > 1 ? ` (most held by ${s.topAtPeak.worker ? `${s.topAtPeak.worker}, pid ${s.topAtPeak.pid}` : `pid ${s.topAtPeak.pid} ${shortCommand(s.topAtPeak.command, 30)}`})` : ''}` +
        (s.peakDuringAgent ? ` in memhunt's own snapshot (${fmtBytes(s.peakDuringAgent.peakOutsideBytes)} outside)` : '') +
        (s.hwmAbovePeak ? `; pid ${s.hwmAbovePeak.pid} reached ${fmtBytes(s.hwmAbovePeak.hwmBytes)} between samples` : ''),
      limitText,
      end.long,
      `${rec.processes.length} process${rec.processes.length === 1 ? '' : 'es'}`,
      `${formatCount(s.samples)} samples`,
    ];
    summary.push(prefix + parts.join(' · '));
  });

  // The value axis: every drawn value, the trend's ends, and the limit when it is not far above
  // the data (a 64 GiB node limit would squash a 200 MiB run into the bottom pixels).
  let dataMax = 0;
  for (const s of series) if (Number.isFinite(s.peakBytes)) dataMax = Math.max(dataMax, s.peakBytes);
  for (const t of trends) dataMax = Math.max(dataMax, t.v0Bytes, t.v1Bytes);
  let yMax = dataMax;
  for (const l of limits) {
    // A limit the user gave to this command is drawn unless absurdly far above (trial 4: plot
    // --limit 300MiB over a 109 MiB run drew no line); a recorded one only when near the data.
    const asked = opts.limitBytes !== undefined && l.bytes === opts.limitBytes;
    l.onChart = dataMax === 0 || l.bytes <= (asked ? 20 : 2.5) * dataMax;
    if (l.onChart) yMax = Math.max(yMax, l.bytes);
  }
  if (!(yMax > 0)) yMax = 1024 * 1024;

  let title = opts.title;
  if (title === undefined) {
    // The command as the summary and analyze name it (the program without its directory): the
    // title said "/usr/bin/python3 job.py" where every other line said "python3 job.py".
    const cmds = inputs.map((i) => (i.rec.meta.command.length ? shortCommand(i.rec.meta.command, 120) : ''));
    if (!many) title = cmds[0] || inputs[0]?.name || 'memhunt';
    else if (cmds.every((c) => c === cmds[0])) title = `${cmds[0]} (${inputs.length} runs)`;
    else title = inputs.map((i) => i.name).join(' vs ');
  }
  return {
    title,
    summary,
    yTitle: `memory${metricOfTotals(inputs)}`,
    xMaxMs,
    yMaxBytes: yMax,
    series,
    limits,
    peaks,
    sections: sections.sort((a, b) => a.startMs - b.startMs),
    marks: marks.sort((a, b) => a.tMs - b.tMs),
    ends,
    trends,
    pauses: pauses.sort((a, b) => a.startMs - b.startMs),
    gaps,
    verdicts,
    warnings,
    sampleCount,
  };
}
