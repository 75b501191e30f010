/**
 * `memhunt scale`: run a job at a few input sizes (or read recordings already made), fit how its
 * peak grows with the size, project the full size with an interval, and recommend a container
 * memory request. The fitting is src/analysis/scaling.ts; this file runs, reads and prints.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { analyzeRecording, commandLabel } from '../analysis/analyze';
import {
  analyzeScaling, DISAGREEMENT_FACTOR, INTERVAL_LEVEL, predict, recommend, unseenGrowthBytes,
  type FittedModel, type ModelKind, type Recommendation, type ScalingAnalysis,
} from '../analysis/scaling';
import { highestPeak, summarize } from '../analysis/summary';
import { CommandError, ExitStatus, InputError } from '../errors';
import { checkOutput, makeFolders, mkdirErrorText, OUTPUT_KINDS, writeOutputFile } from '../fsutil';
import type { MemoryMetric, MemoryRecording } from '../model/recording';
import { CommandNotExecutableError, CommandNotFoundError, openCgroup, runCommand } from '../sampler/session';
import { formatBytes, formatCount, formatDuration, parsePercent, parseSize, UnitError } from '../units';
import { EXIT } from './exit-codes';
import { loadRecording } from './load';
import { record } from './run';
import { helpProse } from './help';

// ---------------------------------------------------------------- sizes

export interface ScaleSize {
  /** As typed: "10000", "2%", "0.5". This is what replaces {}. */
  text: string;
  /** The number: 10000, 2 (for 2%), 0.5. */
  value: number;
  percent: boolean;
}

const SIZE_RE = /^(\d+(?:\.\d+)?(?:e\d+)?|\.\d+)(%?)$/i;

/** One size: a positive number (10000, 1e6, 0.5) or a percentage (2%). */
export function parseScaleSize(text: string, what: string): ScaleSize {
  const t = text.trim();
  const m = SIZE_RE.exec(t);
  if (!m || !(Number(m[1]) > 0) || !Number.isFinite(Number(m[1]))) {
    throw new UnitError(`${what} "${text}" is not a size; write a positive number (10000, 1e6, 0.5) or a percentage (2%)`);
  }
  return { text: t, value: Number(m[1]), percent: m[2] === '%' };
}

/** --sizes: at least 3, increasing, all numbers or all percentages. */
export function parseScaleSizes(text: string): ScaleSize[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new UnitError(`--sizes "${text}" has an empty item; separate sizes with commas, e.g. 10000,20000,40000`);
  const sizes = parts.map((p) => parseScaleSize(p, '--sizes item'));
  if (sizes.length < 3) {
    throw new UnitError(`--sizes "${text}" gives ${sizes.length} size${sizes.length === 1 ? '' : 's'}; fitting how memory grows needs at least 3 (4 or more to test the fit), e.g. 10000,20000,40000,80000`);
  }
  if (new Set(sizes.map((s) => s.percent)).size > 1) throw new UnitError(`--sizes "${text}" mixes percentages and numbers; use one kind`);
  for (let i = 1; i < sizes.length; i++) {
    if (!(sizes[i]!.value > sizes[i - 1]!.value)) {
      throw new UnitError(`--sizes "${text}" is not increasing (${sizes[i - 1]!.text} then ${sizes[i]!.text}); list each size once, smallest first`);
    }
  }
  return sizes;
}

export function formatScaleSize(value: number, percent: boolean): string {
  const v = Number.isInteger(value) ? formatCount(value) : Number(value.toPrecision(3)).toString();
  return percent ? `${v}%` : v;
}

/** File name of a run's recording: n10000.mh, n2pct-3.mh (the third repeat). */
function runFileName(size: ScaleSize, repeat: number, repeats: number): string {
  const base = `n${size.text.replace('%', 'pct').replace(/[^0-9A-Za-z.]/g, '_')}`;
  return repeats > 1 ? `${base}-${repeat}.mh` : `${base}.mh`;
}

/**
 * --size-from-arg: which argument of each recorded command holds its size. A number is a position
 * ($0 is the program: `python3 etl.py 5000` has 5000 at 2); a flag name (--rows) takes the argument
 * after it, or the value of --rows=5000.
 */
export function sizeFromArgv(argv: string[], spec: string): string | null {
  if (/^\d+$/.test(spec)) return argv[Number(spec)] ?? null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === spec) return argv[i + 1] ?? null;
    if (argv[i]!.startsWith(`${spec}=`)) return argv[i]!.slice(spec.length + 1);
  }
  return null;
}

// ---------------------------------------------------------------- one run's facts

export type RunStatus = 'ok' | 'failed' | 'killed' | 'cut' | 'interrupted';

export interface ScaleRun {
  size: number;
  sizeText: string;
  repeat: number;
  path: string;
  command: string[];
  status: RunStatus;
  /** Why it ended, in words: "exit 0", "killed by --limit", "killed by the OOM killer", "exit 1". */
  end: string;
  /** The exit code `run` would have returned (the command's own, 128+S, 137). */
  exitCode: number | null;
  peakBytes: number;
  durationMs: number;
  verdict: string;
}

/**
 * The peak of the tree in the recording's metric (a run of scale: --metric), as every command
 * prints it (summary.ts highestPeak): the sampled tree total, or with RSS a process's kernel
 * high-water mark (VmHWM) when higher, a peak that fell between two samples. Both are lower
 * bounds of the tree's true peak.
 */
export function treePeak(rec: MemoryRecording): number {
  return highestPeak(summarize(rec)).bytes;
}

function classify(rec: MemoryRecording): { status: RunStatus; end: string; exitCode: number | null } {
  const e = rec.end;
  if (!e) {
    // Foreign formats (mprof .dat) have no end record: their runs are taken as complete.
    if (rec.meta.source !== 'memhunt') return { status: 'ok', end: 'unknown', exitCode: null };
    return { status: 'cut', end: 'recording cut (memhunt or the container was killed)', exitCode: null };
  }
  if (e.reason === 'limit') return { status: 'killed', end: 'killed by --limit', exitCode: EXIT.LIMIT_KILLED };
  if (e.reason === 'oom-killer') return { status: 'killed', end: 'killed by the OOM killer', exitCode: 137 };
  if (e.reason === 'interrupted' || e.reason === 'detached') return { status: 'interrupted', end: e.reason, exitCode: 130 };
  if (e.reason === 'signalled' || e.exitSignal) {
    const sig = e.exitSignal ?? '?';
    const code = 128 + (os.constants.signals[sig as NodeJS.Signals] ?? 0);
    if (sig === 'SIGKILL') return { status: 'killed', end: 'killed (SIGKILL)', exitCode: code };
    if (sig === 'SIGINT' || sig === 'SIGTERM' || sig === 'SIGHUP') return { status: 'interrupted', end: sig, exitCode: code };
    return { status: 'failed', end: sig, exitCode: code };
  }
  return e.exitCode === 0 ? { status: 'ok', end: 'exit 0', exitCode: 0 } : { status: 'failed', end: `exit ${e.exitCode ?? '?'}`, exitCode: e.exitCode };
}

export function scaleRunOf(rec: MemoryRecording, file: string, size: number, sizeText: string, repeat: number): ScaleRun {
  const c = classify(rec);
  let verdict = '';
  try {
    verdict = analyzeRecording(rec).verdict;
  } catch {
    verdict = '?';
  }
  const s = summarize(rec);
  return {
    size, sizeText, repeat, path: file, command: rec.meta.command, status: c.status, end: c.end, exitCode: c.exitCode,
    peakBytes: treePeak(rec), durationMs: s.durationMs, verdict,
  };
}

// ---------------------------------------------------------------- the chart and the page

/** What the scale chart draws, from a report. */
export function scaleChartInput(report: ScaleReport, limitBytes: number | null) {
  return {
    title: commandLabel(report.command, 120), percent: report.percent, unit: report.unit,
    yTitle: `peak (${report.metric === 'rss' ? 'tree RSS' : `tree ${report.metric.toUpperCase()}`})`,
    runs: report.runs.map((x) => ({ size: x.size, peakBytes: x.peakBytes, status: x.status })),
    analysis: report.analysis, limitBytes, requestBytes: report.recommendation.requestBytes,
  };
}

/** The scale section of a report page: the chart (SVG) and the report's text. */
export async function scaleSection(report: ScaleReport, limitBytes: number | null, dir: string | null): Promise<{ svg: string; text: string }> {
  const { renderScaleChart } = await import('../render/scale-chart');
  return { svg: renderScaleChart(scaleChartInput(report, limitBytes), '.svg', '') as string, text: formatReport(report, { dir }) };
}

/**
 * The scale series among recordings `memhunt report` was given (made by `memhunt scale`: the size
 * in each header; one command once the size is taken out, one metric, 3 sizes or more), fitted
 * and projected at fullText (default: the largest size, which interpolates). Null when they are not one.
 */
export function scaleReportOf(items: Array<{ rec: MemoryRecording; file: string }>, opts: { fullText?: string; limitBytes?: number | null } = {}): ScaleReport | null {
  const withSize = items.filter((x) => x.rec.meta.scale);
  if (withSize.length < 3 || withSize.length !== items.length) return null;
  if (new Set(withSize.map((x) => x.rec.meta.metric)).size !== 1) return null;
  const templates = new Set(withSize.map((x) => JSON.stringify(commandTemplate(x.rec.meta.command, x.rec.meta.scale!.sizeText))));
  if (templates.size !== 1) return null;
  const percentKinds = new Set(withSize.map((x) => x.rec.meta.scale!.sizeText.endsWith('%')));
  if (percentKinds.size !== 1) return null;
  const percent = [...percentKinds][0]!;
  const runs = withSize.map((x) => scaleRunOf(x.rec, x.file, x.rec.meta.scale!.size, x.rec.meta.scale!.sizeText, x.rec.meta.scale!.repeat)).sort((a, b) => a.size - b.size || a.repeat - b.repeat);
  const ok = runs.filter((x) => x.status === 'ok' && x.peakBytes > 0);
  if (new Set(ok.map((x) => x.size)).size < 3) return null;
  let fullSize = ok[ok.length - 1]!.size;
  if (opts.fullText !== undefined) {
    const f = parseScaleSize(opts.fullText, '--full');
    if (f.percent !== percent) throw new InputError(`--full ${opts.fullText} and the recordings' sizes must be of one kind: both percentages or both numbers`);
    fullSize = f.value;
  }
  const countsItems = !percent && ok.every((x) => Number.isInteger(x.size) && x.size >= 2);
  const analysis = analyzeScaling(ok.map((x) => ({ size: x.size, peakBytes: x.peakBytes })), { fullSize, countsItems });
  const limitBytes = opts.limitBytes ?? null;
  const recommendation = recommend(analysis, { marginRel: 0.1, roundBytes: 256 * 1024 * 1024, limitBytes });
  const metric = withSize[0]!.rec.meta.metric;
  return {
    command: commandTemplate(runs[0]!.command, runs[0]!.sizeText), metric, percent, unit: 'item', runs, analysis, recommendation,
    limitSource: limitBytes !== null ? '--limit' : null, findings: findings(analysis, runs, 'item', percent, limitBytes), exitCode: EXIT.OK,
  };
}

// ---------------------------------------------------------------- the report

export interface ScaleReport {
  command: string[];
  metric: MemoryMetric;
  percent: boolean;
  unit: string;
  runs: ScaleRun[];
  analysis: ScalingAnalysis;
  recommendation: Recommendation;
  limitSource: string | null;
  findings: string[];
  /** The exit code of `memhunt scale`: 0; 3 when the decided request does not fit --limit; 4 when undecided and the request over the undecided models does not fit. */
  exitCode: number;
}

const MODEL_NAMES: Record<ModelKind, string> = {
  constant: 'constant', linear: 'constant + linear', nlogn: 'n log n', quadratic: 'quadratic', power: 'power law',
};

/** "28.1 MiB + 1.90 KiB × n", with the fitted numbers. */
export function formula(f: FittedModel): string {
  const a = formatBytes(f.fixedBytes);
  if (f.kind === 'constant' || f.coef === 0) return a;
  const b = smallBytes(f.coef);
  const g = f.kind === 'linear' ? 'n' : f.kind === 'nlogn' ? 'n·ln n' : f.kind === 'quadratic' ? 'n²' : `n^${f.exponent.toFixed(2)}`;
  return f.fixedBytes > 0 ? `${a} + ${b} × ${g}` : `${b} × ${g}`;
}

/** Bytes that may be a fraction of a byte (a per-item cost): "0.031 B", "8.00 B", "1.90 KiB". */
function smallBytes(b: number): string {
  return b < 10 ? `${Number(b.toPrecision(3))} B` : formatBytes(b);
}

function sizeWord(value: number, percent: boolean, unit: string): string {
  return percent ? `${formatScaleSize(value, true)} of the input` : `${formatScaleSize(value, false)} ${unit}${value === 1 ? '' : 's'}`;
}

/** The shape in words a user acts on (issue 16 item 3). */
export function findings(a: ScalingAnalysis, runs: ScaleRun[], unit: string, percent: boolean, limitBytes: number | null): string[] {
  const out: string[] = [];
  const chosen = a.models.find((m) => m.kind === a.chosen)!.fit!;
  const per = percent ? 'per 1% of the input' : `per ${unit}`;
  if (a.chosen === 'constant') {
    out.push(
      `the peak does not depend on the size (within ±${(a.noise.relAtLargest * 100).toFixed(1)}% noise): the job streams its input, or the size does not reach it ` +
        '(check that {} changes what the program reads)',
    );
    const unseen = unseenGrowthBytes(a);
    if (a.extrapolation > 4 && unseen > 0.1 * a.projection.bytes) {
      out.push(
        `growth too small to see at these sizes could still add up to ${formatBytes(unseen)} at the full size ` +
          `(a slope within the noise, ${Math.round(a.extrapolation)}× out); a run at a larger size would show it`,
      );
    }
  } else {
    if (chosen.fixedBytes > 0) out.push(`fixed part ≈ ${formatBytes(chosen.fixedBytes)}: what the job holds at any size (interpreter, libraries, model weights)`);
    if (a.chosen === 'linear') out.push(`per-item cost ≈ ${smallBytes(chosen.coef)} ${per}`);
    else if (a.chosen === 'nlogn') out.push(`per-item cost ≈ ${smallBytes(chosen.coef * Math.log(a.fullSize))} ${per} at the full size, growing with ln n`);
    else if (a.chosen === 'quadratic') out.push(`cost per pair ≈ ${smallBytes(chosen.coef)} (${percent ? '(1% of the input)²' : `per ${unit}²`})`);
  }
  const p = a.chosen === 'power' ? chosen.exponent : a.chosen === 'quadratic' ? a.powerExponent ?? 2 : null;
  if (p !== null && p >= 1.3) {
    const what = p >= 2.4
      ? 'something holds a structure of three or more dimensions over the input (e.g. an N×N×k array)'
      : p >= 1.7
        ? 'something holds a pairwise structure — e.g. a distance matrix or a cross join'
        : 'it grows faster than the input — e.g. a join with duplicate keys, or something kept per pair for part of the input';
    out.push(`superlinear: the growing part grows as N^${p.toFixed(2)}: ${what}`);
  } else if (a.chosen === 'power' && p !== null && p < 0.8) {
    out.push(`sublinear: the growing part grows as N^${p.toFixed(2)} (a bounded cache, a sample, or an index that saturates)`);
  }
  const smallest = Math.min(...runs.map((r) => r.size));
  if (a.fullSize < smallest) out.push(`--full ${formatScaleSize(a.fullSize, percent)} is below the smallest size measured: the projection extrapolates downwards (is --full what you meant?)`);
  else if (a.extrapolation <= 1) out.push(`--full ${formatScaleSize(a.fullSize, percent)} is within the sizes measured: the projection interpolates`);
  else if (a.extrapolation > 100) out.push(`the full size is ${Math.round(a.extrapolation)}× the largest measured: small errors in the growth are multiplied; a larger size narrows the interval`);
  const ok = runs.filter((r) => r.status === 'ok');
  const leaks = ok.filter((r) => r.verdict === 'leak');
  if (ok.length && leaks.length === ok.length) {
    out.push(
      'memhunt analyze calls every run a leak: memory kept rising and was not given back before the end. For a job that ' +
        'builds its data and exits that is its shape; for a loop (epochs, batches, requests) it is a leak that grows with run ' +
        'time, and larger sizes run longer: fix it first (memhunt analyze <recording>), the projection includes it',
    );
  } else if (leaks.length) {
    out.push(`memhunt analyze calls the runs at ${[...new Set(leaks.map((r) => formatScaleSize(r.size, percent)))].join(', ')} a leak (memhunt analyze <recording> for the evidence)`);
  }
  for (const r of runs.filter((x) => x.status === 'killed')) {
    const fit = predict(chosen, r.size);
    const limitText = limitBytes !== null && r.end.includes('--limit') ? ` (over ${formatBytes(limitBytes)})` : '';
    out.push(
      `size ${formatScaleSize(r.size, percent)} was ${r.end}${limitText}, at ${formatBytes(r.peakBytes)} or more; the model expects ${formatBytes(fit)} there` +
        (limitBytes !== null && fit < limitBytes && r.end.includes('--limit') ? ': the model UNDERESTIMATES this size' : ''),
    );
  }
  return out;
}

function isSpark(command: string[]): boolean {
  return command.some((a) => /spark/i.test(a));
}

export function formatReport(r: ScaleReport, opts: { dir: string | null }): string {
  const a = r.analysis;
  const L: string[] = [];
  const pct = r.percent;
  const sz = (v: number) => formatScaleSize(v, pct);
  const metricName = r.metric === 'rss' ? 'tree RSS' : `tree ${r.metric.toUpperCase()}`;
  L.push(`memhunt scale: ${commandLabel(r.command, 70)}`);
  const widths = [12, 12, 10, 28];
  L.push(`  ${'size'.padEnd(widths[0]!)}${`peak (${metricName})`.padEnd(widths[1]! + 6)}${'time'.padEnd(widths[2]!)}${'end'.padEnd(widths[3]!)}verdict`);
  for (const run of r.runs) {
    const mark = run.status === 'ok' ? ' ' : '!';
    const peak = run.status === 'killed' || run.status === 'cut' ? `≥ ${formatBytes(run.peakBytes)}` : formatBytes(run.peakBytes);
    L.push(`${mark} ${sz(run.size).padEnd(widths[0]!)}${peak.padEnd(widths[1]! + 6)}${formatDuration(run.durationMs).padEnd(widths[2]!)}${run.end.padEnd(widths[3]!)}${run.verdict}`);
  }
  const excluded = r.runs.filter((x) => x.status !== 'ok');
  if (excluded.length) L.push(`  (! = not in the fit: ${excluded.length} run${excluded.length > 1 ? 's' : ''} did not finish normally; kept as evidence)`);
  const chosen = a.models.find((m) => m.kind === a.chosen)!;
  L.push('');
  L.push(`  model      ${MODEL_NAMES[a.chosen]}: peak ≈ ${formula(chosen.fit!)}${pct ? ' (n in %)' : ''}`);
  L.push(`  chosen by  ${a.criterion}`);
  L.push(`  candidates ${'model'.padEnd(18)}${'formula'.padEnd(34)}${`held-out ${sz(a.sizes[a.sizes.length - 1]!)}`.padEnd(22)}${'AICc'.padEnd(9)}at ${sz(a.fullSize)}`);
  for (const m of a.models) {
    // One criterion: `~` is heldOut.inside (the held-out test), as in the JSON.
    const tag = m.kind === a.chosen ? '*' : m.heldOut?.inside ? '~' : ' ';
    if (!m.fit) {
      L.push(`           ${tag} ${MODEL_NAMES[m.kind].padEnd(18)}${m.note ?? ''}`);
      continue;
    }
    const h = m.heldOut
      ? `${m.heldOut.errorRel >= 0 ? '+' : ''}${(m.heldOut.errorRel * 100).toFixed(1)}% (${(Math.abs(m.heldOut.errorRel) / m.heldOut.seRel).toFixed(1)} se)`
      : '—';
    const aicc = m.fit.aicc === null ? '—' : m.fit.aicc.toFixed(1);
    L.push(`           ${tag} ${MODEL_NAMES[m.kind].padEnd(18)}${formula(m.fit).padEnd(34)}${h.padEnd(22)}${aicc.padEnd(9)}${formatBytes(m.projection!.bytes)}`);
  }
  L.push('             (* chosen, ~ also passes the held-out test; held-out: error of the model fitted without the largest size, in standard errors)');
  const pr = a.projection;
  L.push('');
  L.push(
    `  projected  ${formatBytes(pr.bytes)} at ${sizeWord(a.fullSize, pct, r.unit)} (${Math.round(INTERVAL_LEVEL * 100)}% interval ${formatBytes(pr.lowBytes)} … ${formatBytes(pr.highBytes)}; ` +
      `noise ±${(a.noise.relAtLargest * 100).toFixed(1)}% per run at the largest size, ${a.noise.source === 'floor' ? 'the least memhunt assumes (the runs agreed closer)' : `from the ${a.noise.source}`})`,
  );
  if (!a.decided) {
    const others = a.consistent.filter((k) => k !== a.chosen).map((k) => `${MODEL_NAMES[k]} ${formatBytes(a.models.find((m) => m.kind === k)!.projection!.bytes)}`);
    if (a.contested) {
      const c = a.models.find((m) => m.kind === a.contested)!;
      L.push(
        `  UNDECIDED  the data cannot decide: the power law's exponent fits ${MODEL_NAMES[c.kind]} growth, but ${MODEL_NAMES[c.kind]} failed the held-out test ` +
          `(${formatBytes(c.projection!.bytes)} at the full size${others.length ? `; also ${others.join(', ')}` : ''})`,
      );
    } else {
      L.push(`  UNDECIDED  the data cannot decide: models that fit it as well disagree by more than ${DISAGREEMENT_FACTOR}× at the full size (${others.join(', ')})`);
    }
    if (a.suggestion) {
      const ys = a.suggestion.bytesByModel.map((m) => m.bytes);
      L.push(`             run a larger size, e.g. ${sz(a.suggestion.size)} (expected peak ${formatBytes(Math.min(...ys))} … ${formatBytes(Math.max(...ys))} by those models): it tells them apart`);
    }
    L.push(`             until then the range over them is ${formatBytes(a.envelope.lowBytes)} … ${formatBytes(a.envelope.highBytes)}`);
  }
  for (const f of r.findings) L.push(`  finding    ${f}`);
  const rec = r.recommendation;
  L.push('');
  L.push(
    `  request    ${formatBytes(rec.requestBytes)}: the upper bound ${formatBytes(rec.basisBytes)}${a.decided ? '' : ' (over the undecided models)'} + ${Math.round(rec.marginRel * 100)}% margin, ` +
      `rounded up to ${formatBytes(rec.roundBytes)}`,
  );
  if (rec.limitBytes !== null) {
    const fitsText = rec.fits ? `fits (${Math.round((rec.requestBytes / rec.limitBytes) * 100)}% of it)` : 'does NOT fit';
    let largest = '';
    if (rec.largestSizeThatFits === Infinity) largest = '; any size fits';
    else if (rec.largestSizeThatFits !== null) {
      largest = rec.largestSizeThatFits > 0
        ? `; the largest size that fits ≈ ${sizeWord(Number(rec.largestSizeThatFits.toPrecision(2)), pct, r.unit)}`
        : '; even the smallest size does not fit';
    }
    L.push(`  limit      ${formatBytes(rec.limitBytes)} (${r.limitSource}): ${fitsText}${largest}`);
  }
  if (isSpark(r.command)) {
    L.push('  spark      on YARN/Kubernetes the container limit covers the executor JVM heap + spark.executor.memoryOverhead (+ offHeap and');
    L.push('             spark.executor.pyspark.memory): Python workers must fit in the overhead unless pyspark.memory is set');
  }
  if (opts.dir) L.push(`  recordings ${opts.dir}`);
  return L.join('\n');
}

export function reportJson(r: ScaleReport): unknown {
  const a = r.analysis;
  const inf = (v: number | null) => (v === Infinity ? 'any' : v);
  return {
    command: r.command, metric: r.metric, unit: r.unit, percent: r.percent,
    runs: r.runs,
    criterion: a.criterion,
    model: { kind: a.chosen, formula: formula(a.models.find((m) => m.kind === a.chosen)!.fit!), ...a.models.find((m) => m.kind === a.chosen)!.fit },
    models: a.models,
    decided: a.decided, consistent: a.consistent, contested: a.contested, suggestion: a.suggestion,
    projection: { ...a.projection, level: INTERVAL_LEVEL, envelope: a.envelope, extrapolation: a.extrapolation },
    noise: a.noise, powerExponent: a.powerExponent,
    recommendation: { ...r.recommendation, largestSizeThatFits: inf(r.recommendation.largestSizeThatFits), limitSource: r.limitSource },
    findings: r.findings,
    exitCode: r.exitCode,
  };
}

// ---------------------------------------------------------------- the command

interface ScaleFlags {
  sizes?: string;
  force?: boolean;
  /** --report FILE: the HTML report page of the runs, with the scale chart at its top. */
  report?: string;
  full?: string;
  repeat: string;
  jobs: string;
  dir?: string;
  interval: string;
  metric: MemoryMetric;
  limit?: string;
  margin: string;
  round: string;
  unit: string;
  sizeFromArg?: string;
  sizeEnv?: boolean;
  agent?: boolean;
  output?: string;
  json?: boolean;
}

export interface ResolvedScale {
  mode: 'run' | 'recordings';
  sizes: ScaleSize[];
  full: ScaleSize;
  repeat: number;
  jobs: number;
  limitBytes: number | null;
  marginRel: number;
  roundBytes: number;
  output: string | null;
}

function wholeNumber(text: string, what: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new UnitError(`${what} "${text}" must be a whole number from ${min} to ${max}`);
  return n;
}

const CHART_FORMATS = ['.png', '.svg', '.html'];

/** Checks every option before anything runs (bad input: one line, exit 2). Pure: tests call it. */
export function resolveScaleFlags(args: string[], flags: ScaleFlags): ResolvedScale {
  const mode = flags.sizes !== undefined ? 'run' : 'recordings';
  if (flags.full === undefined) throw new InputError('--full is required: the size of the real job, e.g. --full 5000000 or --full 100%');
  const sizes = flags.sizes !== undefined ? parseScaleSizes(flags.sizes) : [];
  const full = parseScaleSize(flags.full, '--full');
  if (sizes.length && full.percent !== sizes[0]!.percent) {
    throw new UnitError(`--full ${flags.full} and --sizes ${flags.sizes} must be of one kind: both percentages or both numbers`);
  }
  if (mode === 'run') {
    if (args.length === 0) throw new InputError('no command given: memhunt scale --sizes 1000,2000,4000 --full 100000 -- python3 job.py --rows {}');
    if (!args.some((a) => a.includes('{}')) && !flags.sizeEnv) {
      throw new InputError(
        'the command has no {} placeholder: put {} where the size goes (-- python3 train.py --rows {}), ' +
          'or give --size-env if the program reads the size from $MEMHUNT_SCALE_SIZE',
      );
    }
    if (flags.sizeFromArg !== undefined) throw new InputError('--size-from-arg is for recordings already made; with --sizes the size is the one each run was given');
  } else {
    if (args.length === 0) {
      throw new InputError('give --sizes and a command with {} (-- python3 job.py --rows {}), or recordings to read (memhunt scale runs/*.mh --size-from-arg 2 --full 5000000)');
    }
    if (flags.sizeEnv) throw new InputError('--size-env needs --sizes and a command to run');
  }
  let output: string | null = null;
  if (flags.output !== undefined) {
    const ext = path.extname(flags.output).toLowerCase();
    if (!CHART_FORMATS.includes(ext)) throw new InputError(`-o ${flags.output}: the chart is written as .png, .svg or .html`);
    output = flags.output;
  }
  // parsePercent refuses 0%; no margin at all is a choice people make.
  const marginRel = /^\s*0+(\.0*)?\s*%\s*$/.test(flags.margin) ? 0 : parsePercent(flags.margin, '--margin');
  return {
    mode, sizes, full,
    repeat: wholeNumber(flags.repeat, '--repeat', 1, 100),
    jobs: wholeNumber(flags.jobs, '--jobs', 1, 64),
    limitBytes: flags.limit === undefined ? null : parseSize(flags.limit, '--limit'),
    marginRel,
    roundBytes: parseSize(flags.round, '--round'),
    output,
  };
}

function defaultScaleDir(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  let name = `memhunt_scale_${stamp}`;
  for (let i = 1; fs.existsSync(name); i++) name = `memhunt_scale_${stamp}_${i}`;
  return name;
}

/** Runs the command at every size (sizes ascending, repeats together), `jobs` at a time. */
async function runAll(args: string[], r: ResolvedScale, flags: ScaleFlags, dir: string): Promise<{ runs: ScaleRun[]; interrupted: boolean }> {
  const tasks: Array<{ size: ScaleSize; repeat: number }> = [];
  for (const size of r.sizes) for (let k = 1; k <= r.repeat; k++) tasks.push({ size, repeat: k });
  const runs: ScaleRun[] = new Array(tasks.length);
  let next = 0;
  let interrupted = false;
  let fatal: unknown = null;
  const total = tasks.length;
  const worker = async () => {
    while (!interrupted && fatal === null && next < tasks.length) {
      const i = next++;
      const { size, repeat } = tasks[i]!;
      const argv = args.map((a) => a.split('{}').join(size.text));
      const output = path.join(dir, runFileName(size, repeat, r.repeat));
      try {
        const outcome = await record(
          'run',
          { output, interval: flags.interval, metric: flags.metric, limit: flags.limit, quiet: true, agent: flags.agent },
          (o) => runCommand({
            ...o, command: argv, env: { ...process.env, MEMHUNT_SCALE_SIZE: size.text }, stdoutToStderr: flags.json === true,
            scale: { size: size.value, sizeText: size.text, repeat },
          }),
          () => argv,
        );
        if (!outcome.recording) {
          fatal = new InputError(`could not read back ${output}`);
          return;
        }
        const run = scaleRunOf(outcome.recording, output, size.value, size.text, repeat);
        runs[i] = run;
        if (run.status === 'interrupted') interrupted = true;
        process.stderr.write(
          `memhunt scale: ${formatScaleSize(size.value, size.percent)}${r.repeat > 1 ? ` (repeat ${repeat})` : ''} [${i + 1}/${total}]: ` +
            `peak ${formatBytes(run.peakBytes)}, ${formatDuration(run.durationMs)}, ${run.end} → ${output}\n`,
        );
      } catch (e) {
        fatal = e;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(r.jobs, tasks.length) }, worker));
  if (fatal !== null) {
    if (fatal instanceof CommandNotFoundError) throw new CommandError((fatal as Error).message, EXIT.NOT_FOUND);
    if (fatal instanceof CommandNotExecutableError) throw new CommandError((fatal as Error).message, EXIT.NOT_EXECUTABLE);
    throw fatal;
  }
  return { runs: runs.filter(Boolean), interrupted };
}

/** The command with its size argument written as {} (an argument equal to the size, or ending in =SIZE). */
export function commandTemplate(command: string[], sizeText: string): string[] {
  return command.map((a) => (a === sizeText ? '{}' : a.endsWith(`=${sizeText}`) ? `${a.slice(0, a.length - sizeText.length)}{}` : a));
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function readAll(files: string[], flags: ScaleFlags): Promise<{ runs: ScaleRun[]; metric: MemoryMetric }> {
  const runs: ScaleRun[] = [];
  const seen = new Map<number, number>();
  const metrics = new Set<MemoryMetric>();
  // A folder (a scale series' --dir, as `memhunt report DIR` takes it): its recordings.
  const { findFleetFiles } = await import('./fleet');
  const all = files.flatMap((f) => {
    if (!isFolder(f)) return [f];
    const found = findFleetFiles([f]).files;
    if (found.length === 0) throw new InputError(`${f}: no recordings in this folder`);
    return found;
  });
  for (const file of all) {
    const rec = await loadRecording(file);
    let text: string | null;
    if (flags.sizeFromArg !== undefined) {
      text = sizeFromArgv(rec.meta.command, flags.sizeFromArg);
      if (text === null) throw new InputError(`${file}: its command (${commandLabel(rec.meta.command, 60)}) has no argument ${flags.sizeFromArg}`);
    } else if (rec.meta.scale) {
      text = rec.meta.scale.sizeText;
    } else {
      throw new InputError(`${file} does not say its input size (not made by memhunt scale): give --size-from-arg N (the Nth argument of its command; $0 is the program) or --size-from-arg --rows`);
    }
    const size = parseScaleSize(text, `${file}: size`);
    const repeat = (seen.get(size.value) ?? 0) + 1;
    seen.set(size.value, repeat);
    runs.push(scaleRunOf(rec, file, size.value, size.text, repeat));
    metrics.add(rec.meta.metric);
  }
  if (metrics.size > 1) throw new InputError(`the recordings count different metrics (${[...metrics].join(', ')}): their peaks cannot be fitted together`);
  // One job at several sizes: the commands must be the same once the size is taken out.
  const templates = new Map<string, string>();
  for (const x of runs) {
    const t = JSON.stringify(commandTemplate(x.command, x.sizeText));
    if (!templates.has(t)) templates.set(t, x.path);
  }
  if (templates.size > 1) {
    const [a, b] = [...templates.values()];
    throw new InputError(`the recordings are of different commands (${commandLabel(runs.find((x) => x.path === a)!.command, 50)} in ${a}, ${commandLabel(runs.find((x) => x.path === b)!.command, 50)} in ${b}): fit one job at a time`);
  }
  return { runs: runs.sort((x, y) => x.size - y.size || x.repeat - y.repeat), metric: [...metrics][0] ?? 'rss' };
}

export function registerScaleCommand(program: Command): void {
  const cmd = program
    .command('scale')
    .summary('run a job at a few input sizes, fit how its peak grows, project the full size, recommend a memory limit')
    .description(
      'Run a command once per size ({} is replaced by the size), each a normal\n' +
        'recording with the size in its header; fit the peak against the size with\n' +
        'a few models (constant, constant + linear, n log n, quadratic, power law),\n' +
        'choose one by how well it predicts the largest size from the smaller ones,\n' +
        'project the peak at --full with an interval, and recommend a container\n' +
        'memory request. Without --sizes: read recordings already made.',
    )
    .argument('[command-or-recordings...]', 'the command (after --) with {} where the size goes; or recordings to read')
    .option('--sizes <list>', 'sizes to run, comma-separated and increasing: 10000,20000,40000,80000 or 1%,2%,4%,8% (at least 3; 4 or more to test the fit)')
    .option('--full <size>', 'the size of the real job, to project (5000000, or 100% with percentages)')
    .option('--repeat <n>', 'runs per size, for jobs whose peak varies from run to run', '1')
    .option('--jobs <n>', 'runs at the same time; 1 runs them one after another, so they do not compete for memory and CPU', '1')
    .option('--dir <folder>', 'where the recordings go (default: memhunt_scale_YYYYMMDDhhmmss/)')
    .option('-i, --interval <duration>', 'sampling interval of each run; small runs are short, so finer than run\'s 100ms', '10ms')
    .addOption(new Option('--metric <name>', 'the peak fitted: tree RSS, or PSS/USS from smaps_rollup (recordings: the metric they were made with)').choices(['rss', 'pss', 'uss']).default('rss'))
    .option('--limit <size>', 'the container limit of the full job: each run is killed above it (as run --limit), and the projection is judged against it (exit 3 when the request does not fit; 4 when undecided and it may not)')
    .option('--margin <percent>', 'added to the projection\'s upper bound for the request', '10%')
    .option('--round <size>', 'the request is rounded up to a multiple of this', '256MiB')
    .option('--unit <name>', 'what one unit of size is, for "per-item cost" (row, file, user)', 'item')
    .option('--size-from-arg <n|--flag>', 'recordings: the size is argument N of each recorded command ($0 is the program), or the value after --flag')
    .option('--size-env', 'the program reads its size from $MEMHUNT_SCALE_SIZE (set for every run): no {} needed')
    .option('--no-agent', 'do not inject the in-process Python agent into the runs')
    .option('-o, --output <file>', 'also draw the chart: peak against size, the fit, the projection and its interval, the limit (.png, .svg, .html)')
    .option('--report <file>', 'also write the HTML report page (memhunt report) of the runs, with the scale chart and this report at its top')
    .option('--force', 'replace -o even when it is not a memhunt chart')
    .option('--json', 'print the report as JSON on stdout (the command\'s own stdout then goes to stderr)');
  cmd.addHelpText(
    'after',
    helpProse(`
How it decides:
  Each model is fitted on the runs below the largest size and predicts the largest; the simplest
  model (constant < linear < n log n < quadratic < power law) whose prediction is within 2 standard
  errors of the measured peak is chosen, then refitted on every run. The projection's ${Math.round(INTERVAL_LEVEL * 100)}% interval
  comes from the fit's residuals, the spread of --repeat runs, and a floor of 0.3% + 256 KiB per
  run (measured run-to-run noise). When models
  that pass disagree by more than ${DISAGREEMENT_FACTOR}x at --full, it says so and names a size that would decide.
  {} is replaced by the size as typed (1% stays "1%"; use --sizes 0.01,0.02 if the program wants a
  fraction). Every run also sees MEMHUNT_SCALE_SIZE.

Runs that fail, are killed by --limit or by the OOM killer are reported and kept; they are not
fitted (a run killed at a size says its peak was at least that much, and is checked against the
model). Every run's verdict (leak, stable, spike) is shown: a leak at every size is reported as such.

Exit codes: 0 projected; 2 bad input (malformed --sizes, fewer than 3 sizes, sizes not increasing,
no {} in the command); 3 the recommended request does not fit --limit (the projection is decided);
4 undecided: the models disagree and the request over them does not fit --limit (run the size it
names); N the command's own code when
fewer than 3 sizes ran to completion (127 not found); the recordings are kept in every case.

Examples:
  memhunt scale --sizes 10000,20000,40000,80000 --full 5000000 -- python3 train.py --rows {}
  memhunt scale --sizes 1%,2%,4%,8% --full 100% --limit 16GiB -- python3 etl.py --sample {}
  memhunt scale --sizes 500,1000,2000,4000 --full 20000 --repeat 3 -o scale.png -- python3 pairs.py {}
  memhunt scale runs/*.mh --size-from-arg 2 --full 5000000       from recordings already made
  memhunt scale runs/*.mh --size-from-arg --rows --full 5000000  the value after --rows
  memhunt scale memhunt_scale_20261202101500/*.mh --full 100%    recordings made by memhunt scale`),
  );
  cmd.action(async (args: string[], flags: ScaleFlags) => {
    const r = resolveScaleFlags(args, flags);
    const outKind = r.output ? OUTPUT_KINDS[path.extname(r.output).toLowerCase().slice(1) as 'png' | 'svg' | 'html'] : null;
    // Refused before any run: the runs can take minutes (README "Output files").
    if (r.output && outKind) checkOutput(r.output, outKind, flags.force === true);
    let runs: ScaleRun[];
    let dir: string | null = null;
    let interrupted = false;
    let metric: MemoryMetric = flags.metric;
    if (r.mode === 'run') {
      dir = flags.dir ?? defaultScaleDir();
      try {
        makeFolders(dir);
      } catch (e) {
        throw new InputError(`--dir ${dir}: ${mkdirErrorText(dir, e)}`);
      }
      ({ runs, interrupted } = await runAll(args, r, flags, dir));
    } else {
      ({ runs, metric } = await readAll(args, flags));
      const distinct = new Set(runs.map((x) => x.size)).size;
      if (distinct < 3) throw new InputError(`the recordings hold ${distinct} distinct size${distinct === 1 ? '' : 's'}; fitting needs at least 3`);
      const kinds = new Set(runs.map((x) => x.sizeText.endsWith('%')));
      if (kinds.size > 1) throw new InputError('the recordings mix percentages and numbers as sizes');
      if ([...kinds][0] !== r.full.percent) throw new InputError(`--full ${r.full.text} and the recordings' sizes must be of one kind: both percentages or both numbers`);
    }
    const percent = r.full.percent;
    const ok = runs.filter((x) => x.status === 'ok' && x.peakBytes > 0);
    const okSizes = new Set(ok.map((x) => x.size)).size;
    if (okSizes < 3) {
      const failed = runs.filter((x) => x.status !== 'ok');
      const lines = runs.map((x) => `  ${formatScaleSize(x.size, percent).padEnd(12)}${formatBytes(x.peakBytes).padEnd(14)}${x.end}  ${x.path}`);
      process.stderr.write(
        `memhunt scale: only ${okSizes} size${okSizes === 1 ? '' : 's'} ran to completion${interrupted ? ' (interrupted)' : ''}; fitting needs 3. The runs:\n${lines.join('\n')}\n` +
          (dir ? `memhunt scale: the recordings are kept in ${dir}\n` : ''),
      );
      const last = [...failed].reverse().find((x) => x.exitCode !== null && x.exitCode !== 0);
      // Exit 1 here is the command's own code (`raise SystemExit`), not memhunt failing: say so.
      if (last) process.stderr.write(`memhunt scale: exit code ${last.exitCode} is the command's own, at size ${formatScaleSize(last.size, percent)}\n`);
      throw new ExitStatus(last?.exitCode ?? EXIT.FAILURE);
    }
    const countsItems = !percent && ok.every((x) => Number.isInteger(x.size) && x.size >= 2);
    const analysis = analyzeScaling(ok.map((x) => ({ size: x.size, peakBytes: x.peakBytes })), { fullSize: r.full.value, countsItems });
    let limitBytes = r.limitBytes;
    let limitSource: string | null = limitBytes !== null ? '--limit' : null;
    if (limitBytes === null) {
      const cg = openCgroup(process.pid, '/', undefined);
      cg.reader?.close();
      if (cg.limit !== null) {
        limitBytes = cg.limit;
        limitSource = `this container's cgroup limit`;
      }
    }
    const recommendation = recommend(analysis, { marginRel: r.marginRel, roundBytes: r.roundBytes, limitBytes });
    const command = r.mode === 'run' ? args : commandTemplate(runs[0]!.command, runs[0]!.sizeText);
    const report: ScaleReport = {
      command, metric, percent, unit: flags.unit, runs, analysis, recommendation, limitSource,
      findings: findings(analysis, runs, flags.unit, percent, r.limitBytes),
      // 3 only when the projection is decided; an undecided one that may not fit is 4 (issue 16).
      exitCode: r.limitBytes !== null && recommendation.fits === false ? (analysis.decided ? EXIT.LIMIT_VIOLATED : EXIT.SCALE_UNDECIDED) : EXIT.OK,
    };
    if (r.output) {
      const { renderScaleChart } = await import('../render/scale-chart');
      const out = renderScaleChart(scaleChartInput(report, limitBytes), path.extname(r.output).toLowerCase() as '.png' | '.svg' | '.html', formatReport(report, { dir }));
      writeOutputFile(r.output, out, outKind!, flags.force === true);
    }
    if (flags.report) {
      // The whole diagnosis on one page: the scale chart and its report first, then every run as
      // `memhunt report` shows it (verdict, chart, processes, heap...).
      const { writeReportPage } = await import('./report');
      await writeReportPage(runs.map((x) => x.path), flags.report, { force: flags.force === true, title: `memhunt scale: ${commandLabel(command, 100)}`, scale: await scaleSection(report, limitBytes, dir) });
    }
    if (flags.json) process.stdout.write(JSON.stringify(reportJson(report), null, 2) + '\n');
    else process.stdout.write(formatReport(report, { dir }) + '\n');
    if (r.output) process.stderr.write(`memhunt: wrote ${r.output}\n`);
    if (flags.report) process.stderr.write(`memhunt: wrote ${flags.report}\n`);
    if (report.exitCode !== EXIT.OK) throw new ExitStatus(report.exitCode);
  });
}
