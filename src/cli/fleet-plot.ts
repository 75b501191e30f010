/**
 * `memhunt plot DIR` (and `plot --fleet FILES…`, `report DIR`): a fleet's recordings on one
 * wall-clock axis (issue 14). Two passes, both bounded:
 *  1. rows (fleet.ts readFleet: header and footer of each file, or a whole read in a worker) give
 *     each recording's span, its identity and its risk;
 *  2. every recording is reduced in a worker to the min/max of its tree total per bucket of a grid
 *     common to the fleet (analysis/fleet-envelope.ts); the riskiest few are read whole there for
 *     their sections, marks, limit and end too. The main thread keeps the band of all the others
 *     (3 arrays of the grid's length) and the envelopes of the few it draws as lines.
 * The result is an ordinary Chart: the SVG, PNG, HTML and terminal back ends draw it unchanged.
 */
import * as path from 'node:path';
import { daskLimitWorker, fleetTotals, peakOfLimitText, riskOrderFor, type FleetRow } from '../analysis/fleet';
import { bucketSeries, envelopeSeries, FleetBand, fleetGrid, type FleetGrid, type GridEnvelope } from '../analysis/fleet-envelope';
import type { Chart, ChartEnd, ChartLimit, ChartMark, ChartPause, ChartPeak, ChartSection, ChartSeries, ChartVerdict } from '../render/chart';
import { PALETTE, VERDICT_COLORS, clockWords } from '../render/chart';
import { InputError } from '../errors';
import { daskWorkerCount } from '../model/identity';
import { formatBytes } from '../units';
import { envelopeOrError, type EnvelopeJob, type EnvelopeResult, type FleetDetail } from './fleet-worker';
import { findFleetFiles, fleetSkewLine, otherFilesText, pct, readFleet, runPool, summaryLine } from './fleet';

/** Up to this many recordings, each is its own line; beyond, the riskiest LINES_OF_MANY are lines over the band of the rest. */
export const ALL_LINES_UP_TO = 8;
export const LINES_OF_MANY = 5;
/** The riskiest one is drawn in this colour, thicker, named. */
export const WORST_COLOR = '#d62728';

export interface FleetChartOptions {
  title?: string;
  limitBytes?: number;
  threads: number;
}

export interface FleetPlot {
  chart: Chart;
  /** Rows, riskiest first (the table's order). */
  rows: FleetRow[];
  /** One line each for the user: skipped files, clock skew. */
  notices: string[];
  grid: FleetGrid;
  /** How the chart names the riskiest recording (its identity, or its file when others share it). */
  riskiestName: string;
}

/** Files of a fleet from folders and files (and the line naming the others, or null); an InputError when there is none. */
export function fleetFilesOf(args: string[]): { files: string[]; othersText: string | null } {
  const { files, notRecordings, others } = findFleetFiles(args);
  if (files.length === 0) {
    throw new InputError(`no recordings in ${args.join(', ')}${notRecordings ? ` (${notRecordings} other file${notRecordings === 1 ? '' : 's'})` : ''}: record with memhunt run --output-dir DIR -- <command>`);
  }
  return { files, othersText: otherFilesText(others) };
}

export async function buildFleetPlot(files: string[], opts: FleetChartOptions): Promise<FleetPlot> {
  const notices: string[] = [];
  const results = await readFleet(files, opts.threads);
  const rows: FleetRow[] = [];
  for (const r of results) {
    if ('row' in r) rows.push(r.row);
    else notices.push(`skipped ${r.error.startsWith(r.file) ? r.error : `${r.file}: ${r.error}`}`);
  }
  if (rows.length === 0) throw new InputError(`none of the ${files.length} files could be read as a recording`);
  rows.sort(riskOrderFor(rows));
  const skew = fleetSkewLine(rows);
  if (skew) notices.push(skew);

  const grid = fleetGrid(rows);
  const nLines = rows.length <= ALL_LINES_UP_TO ? rows.length : LINES_OF_MANY;
  const jobs: EnvelopeJob[] = rows.map((r, id) => ({ kind: 'envelope', id, file: r.file, grid, detail: id < nLines }));
  const band = new FleetBand(grid, rows.reduce((m, r) => Math.max(m, r.peakBytes), 0) * 1.001 + 1);
  const lines = new Map<number, { env: GridEnvelope; detail: FleetDetail | null }>();
  await runPool<EnvelopeJob, EnvelopeResult>(jobs, opts.threads, envelopeOrError, (m) => {
    if ('error' in m) {
      notices.push(`skipped ${m.error.startsWith(rows[m.id]!.file) ? m.error : `${rows[m.id]!.file}: ${m.error}`}`);
      return;
    }
    if (m.id < nLines) lines.set(m.id, { env: m.env, detail: m.detail });
    else band.add(m.env);
  });
  const chart = fleetChart(rows, grid, band, lines, nLines, opts);
  return { chart, rows, notices, grid, riskiestName: fleetNameOf(rows)(rows[0]!) };
}

/**
 * A recording is named by its identity (labels, pod, container, worker) unless others of the fleet
 * share it (ten runs on one host all read "vm"): then by its file's name.
 */
function fleetNameOf(rows: FleetRow[]): (r: FleetRow) => string {
  const seen = new Map<string, number>();
  for (const r of rows) seen.set(r.identity, (seen.get(r.identity) ?? 0) + 1);
  return (r) => ((seen.get(r.identity) ?? 0) > 1 ? path.basename(r.file) : r.identity);
}

function isoMinute(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** The Chart of a fleet: the band of the others, the riskiest as lines, their annotations on the wall-clock axis. */
export function fleetChart(rows: FleetRow[], grid: FleetGrid, band: FleetBand, lines: Map<number, { env: GridEnvelope; detail: FleetDetail | null }>, nLines: number, opts: Pick<FleetChartOptions, 'title' | 'limitBytes'>): Chart {
  const series: ChartSeries[] = [];
  const limits: ChartLimit[] = [];
  const peaks: ChartPeak[] = [];
  const sections: ChartSection[] = [];
  const marks: ChartMark[] = [];
  const ends: ChartEnd[] = [];
  const pauses: ChartPause[] = [];
  const verdicts: ChartVerdict[] = [];
  const xMaxMs = grid.buckets * grid.stepMs;
  const totals = fleetTotals(rows);
  const nameOf = fleetNameOf(rows);

  if (band.recordings > 0) {
    const data = envelopeSeries(grid, 0, band.min, band.max);
    let peak = 0;
    for (let i = 0; i < data.values.length; i++) if (data.values[i]! > peak) peak = data.values[i]!;
    series.push({
      id: 'fleet-band', label: `the other ${band.recordings} recordings (lowest to highest at each moment)`, role: 'other', input: nLines,
      color: '#9a9a9a', widthPx: 1, dash: null, data, peakBytes: peak, opacity: 0.35,
    });
    // With enough recordings, where most of them were: the median and the 90th percentile of their highs.
    if (band.recordings >= 10) {
      for (const [q, name, dash] of [[0.5, 'median', null], [0.9, '90th percentile', '6 3']] as const) {
        const qs = bucketSeries(grid, band.quantile(q));
        let top = 0;
        for (let i = 0; i < qs.values.length; i++) if (qs.values[i]! > top) top = qs.values[i]!;
        series.push({ id: `fleet-p${q * 100}`, label: `${name} of the other ${band.recordings}`, role: 'other', input: nLines, color: '#4d4d4d', widthPx: 1.5, dash, data: qs, peakBytes: top });
      }
    }
  }
  let colorIndex = 0;
  for (let i = 0; i < nLines; i++) {
    const line = lines.get(i);
    const r = rows[i]!;
    if (!line) continue;
    const worst = i === 0 && rows.length > 1;
    const color = worst ? WORST_COLOR : rows.length === 1 ? '#1a1a1a' : PALETTE[colorIndex++ % PALETTE.length]!;
    const data = envelopeSeries(grid, line.env.first, line.env.min, line.env.max);
    series.push({
      id: `r${i}-total`, label: `${worst ? 'riskiest: ' : ''}${nameOf(r)}`, role: i === 0 ? 'total' : 'process', input: i,
      color, widthPx: worst ? 2.5 : 1.5, dash: null, data, peakBytes: r.peakBytes,
    });
    const d = line.detail;
    if (!d) continue;
    const shift = d.startWallMs - grid.t0WallMs;
    const who = rows.length > 1 ? `${nameOf(r)}: ` : '';
    for (const s of d.sections) sections.push({ ...s, input: i, startMs: s.startMs + shift, endMs: s.endMs + shift, color });
    for (const m of d.marks) marks.push({ ...m, input: i, tMs: m.tMs + shift, label: m.kind === 'mark' ? m.label : `${who}${m.label}` });
    for (const p of d.pauses) pauses.push({ ...p, input: i, startMs: p.startMs + shift, endMs: p.endMs + shift });
    for (const e of d.ends) ends.push({ ...e, input: i, tMs: e.tMs + shift, label: `${who}${e.label}` });
    // The riskiest one's peak is labelled; the others' peaks are in the legend's table (memhunt fleet).
    if (i === 0) for (const p of d.peaks) peaks.push({ ...p, input: i, tMs: p.tMs + shift, label: `${who}${p.label.replace(/ at .*$/, '')} at ${isoMinute(d.startWallMs + p.tMs).slice(11)}`, color });
    for (const l of d.limits) {
      const bytes = opts.limitBytes ?? l.bytes;
      if (limits.some((x) => x.bytes === bytes)) continue;
      limits.push({ ...l, input: i, bytes, label: `${who}${l.label}` });
    }
  }
  // Limits of rows read from footers only (a Dask worker's memory_limit, the others' limits): the riskiest's first.
  if (opts.limitBytes !== undefined && limits.length === 0) limits.push({ input: 0, bytes: opts.limitBytes, label: `limit ${formatBytes(opts.limitBytes)} (plot --limit)`, onChart: true });
  for (const r of rows.slice(0, nLines)) {
    if (r.limitBytes === null || opts.limitBytes !== undefined || limits.some((x) => x.bytes === r.limitBytes)) continue;
    // One worker's own limit is not a line for a recording of several (its curve is their sum).
    if (daskLimitWorker(r) && daskWorkerCount(r.workers) > 1) continue;
    limits.push({ input: rows.indexOf(r), bytes: r.limitBytes, label: `${nameOf(r)}: limit ${formatBytes(r.limitBytes)} (${r.limitSource}) · ${pct(r.usedShare)} used`, onChart: true });
  }

  const worst = rows[0]!;
  verdicts.push({
    input: 0, verdict: worst.verdict, color: VERDICT_COLORS[worst.verdict],
    text: `${rows.length > 1 ? `riskiest: ${nameOf(worst)}: ` : ''}${worst.verdict}${worst.confidence ? ` (${worst.confidence})` : ''}: ${worst.reason.replace(new RegExp(`^${worst.verdict}: `), '').replace(/^leak in /, 'in ')}`,
  });
  const summary = [
    summaryLine(totals),
    `each recording by its own clock, in ${grid.buckets} buckets of ${grid.stepMs < 1000 ? `${Math.round(grid.stepMs)} ms` : clockWords(grid.stepMs)}${band.recordings ? `; the ${Math.min(nLines, rows.length)} riskiest drawn over the band of the other ${band.recordings}` : ''}`,
    `riskiest: ${nameOf(worst)} · ${peakOfLimitText(worst)} · ${worst.endText} · ${path.basename(worst.file)}`,
  ];

  let dataMax = 0;
  for (const s of series) if (Number.isFinite(s.peakBytes)) dataMax = Math.max(dataMax, s.peakBytes);
  let yMax = dataMax;
  for (const l of limits) {
    l.onChart = dataMax === 0 || l.bytes <= 2.5 * dataMax;
    if (l.onChart) yMax = Math.max(yMax, l.bytes);
  }
  if (!(yMax > 0)) yMax = 1024 * 1024;
  const metrics = new Set(rows.map((r) => r.metric));
  return {
    title: opts.title ?? `fleet: ${rows.length} recording${rows.length === 1 ? '' : 's'} from ${totals.hosts} host${totals.hosts === 1 ? '' : 's'}, from ${isoMinute(grid.t0WallMs)}`,
    summary,
    yTitle: metrics.size === 1 ? `memory (${[...metrics][0]})` : 'memory (tree total)',
    xTitle: `wall-clock time since the first start, ${isoMinute(grid.t0WallMs)}`,
    xMaxMs,
    yMaxBytes: yMax,
    series,
    limits,
    peaks,
    sections: sections.sort((a, b) => a.startMs - b.startMs),
    marks: marks.sort((a, b) => a.tMs - b.tMs),
    ends,
    trends: [],
    pauses: pauses.sort((a, b) => a.startMs - b.startMs),
    gaps: [],
    verdicts,
    warnings: [],
    sampleCount: rows.reduce((n, r) => n + r.samples, 0),
  };
}
