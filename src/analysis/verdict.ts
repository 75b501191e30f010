/**
 * Verdicts on one memory series: leak, stable, spike or insufficient data, with the evidence.
 *
 * The idea, in the words of the people who read these plots: a healthy process is a sawtooth (or a
 * flat line) whose *floors* — the lows after each release — stay level; a leak is memory that is
 * never given back, so the floors keep rising to the end of the run. The steps:
 *
 * 1. Trim: drop the empty samples after the tree is gone and the fall at exit (an interpreter
 *    tearing down its heap frees the leaked memory too: that is not a release).
 * 2. Envelope: at most 2048 equal-time buckets (min and max of each), so everything after costs
 *    the same for 100 samples or 10 M.
 * 3. Cycles: peaks and troughs that alternate by at least a swing (zigzag); the "major" drops
 *    (≥ half the median drop) are the release cycles. With ≥ 5 of them after the warm-up, the
 *    floors are the troughs after each release; otherwise (a monotone curve, a flat line, one big
 *    release) the floors are the minima of ~3-sample windows.
 * 4. Growth: Theil–Sen slope of the floors after the warm-up (the first 10% of the run: start-up,
 *    imports, model loading — or the first release, when later), with Sen's rank-based 90%
 *    interval: its lower end above zero is a one-sided 5% test that the floors grow.
 * 5. Retained growth: the suffix minimum of the floors, g(t) = min of the floors from t to the
 *    end, is memory that was never given back later in the run. A batch that accumulates and then
 *    releases everything has a flat g; a leak has a rising one.
 * 6. A leak needs all of: the slope's interval above zero; a retained rise that matters (≥ 1 MiB,
 *    ≥ 2% of the level and ≥ 4× the floors' scatter); growth still going on in the last third at
 *    ≥ 35% of the overall rate (a cache that fills and saturates stops); and not one step (two
 *    plateaus fit the retained floors with at most half a line's squared error: a second model
 *    loaded mid-run, or a runtime that grows its heap once).
 * 7. Spikes: zigzag peaks that stand above the typical top around them (the median of the peaks
 *    within ±20% of the run, or of the bucket maxima on a flat line) by at least max(8 MiB, 25% of
 *    that top, the usual swing), come back down on both sides, and last at most 25% of the run.
 *
 * All thresholds are constants below with their reasons; the corpus (fixtures/corpus/) and
 * BENCHMARKS.md show how they do on real programs.
 */
import { seriesMax, type Series } from '../model/series';
import { buildEnvelope, zigzag, type Envelope, type Pivot } from './envelope';
import { median, quantile, robustSigma, theilSen } from './stats';
import { formatBytes, formatClock, formatDuration, formatRate } from '../units';

const MiB = 1024 * 1024;

/** Buckets of the envelope: enough to see cycles ≥ 1/2048 of the run; bounded cost. */
const MAX_BUCKETS = 2048;
/** Start-up (interpreter, imports, model loading) is excluded from the growth estimate. */
const WARMUP_SHARE = 0.1;
/** Fewer samples than this after trimming: insufficient data. */
const MIN_SAMPLES = 10;
/** Fewer samples than this after the warm-up: insufficient data (1.5 s at 50 ms, 3 s at mprof's 100 ms). */
const MIN_ANALYSED_SAMPLES = 30;
/** A single release is evidence of "stable" only when memory stayed down after it for this share of the run. */
const RELEASE_MIN_AFTER_SHARE = 0.15;
/** The warm-up extends to the first release when that comes within this share of the run. */
const FIRST_RELEASE_MAX_SHARE = 0.6;
/** Floors needed after the warm-up (with 4, the exact rank test can at best just reach 5%). */
const MIN_FLOORS = 5;
/** Major drops are at least this share of the median drop (smaller ones are wiggles inside a cycle). */
const MAJOR_DROP_SHARE = 0.5;
/** A swing smaller than this is noise for the zigzag (allocator and page-cache jitter). */
const MIN_SWING_BYTES = 512 * 1024;
/** … and smaller than this share of the p10–p90 range. */
const SWING_SHARE = 0.1;
/** Retained growth must be at least this much … */
const MATERIAL_MIN_BYTES = 1 * MiB;
/** … and this share of the floor level … */
const MATERIAL_SHARE = 0.02;
/** … and this many times the floors' scatter around their trend. */
const MATERIAL_NOISE_K = 4;
/** The late part of the analysed span, where growth must still be going on. */
const LATE_SHARE = 1 / 3;
/** Late growth rate must be at least this share of the overall rate; less is saturation. */
const LATE_MIN_RATIO = 0.35;
/** The current regime (after a change of trend) covers at least this share of the analysed span. */
const REGIME_MIN_SHARE = 0.4;
/** A rise concentrated at the very end (more than this share of it in the last RECENT_SHARE of the span) cannot be judged yet. */
const RECENT_SHARE = 0.15;
const RECENT_MAX_SHARE = 0.5;
/** Two plateaus fitting the retained floors with at most this share of a line's squared error make a step, not a leak. */
const STEP_SSE_RATIO = 0.5;
/** A spike is short: at most this share of the run. */
const SPIKE_MAX_SHARE = 0.25;
/** … and high above the typical top: at least this much … */
const SPIKE_MIN_BYTES = 8 * MiB;
/** … this share of the typical top, and the usual swing of the cycles. */
const SPIKE_SHARE = 0.25;
/** The typical top around a spike is the median of the peaks (or bucket maxima) within ± this share of the run. */
const SPIKE_CONTEXT_SHARE = 0.2;
/** The fall at exit is looked for in the last share of the run (at most 10 s). */
const TEARDOWN_SHARE = 0.05;
const TEARDOWN_MAX_MS = 10_000;

export type Verdict = 'leak' | 'stable' | 'spike' | 'insufficient data';
export type ConfidenceLabel = 'low' | 'medium' | 'high';

export interface Spike {
  /** Time of the spike's top, ms since the start of the recording. */
  tMs: number;
  peakBytes: number;
  /** The floor around it (the lows on both sides). */
  baselineBytes: number;
  /** peakBytes - baselineBytes. */
  heightBytes: number;
  /** How far it stood above the typical top of the memory around it. */
  aboveTypicalBytes: number;
  /** Time spent above half its height (baseline + height / 2). */
  durationMs: number;
}

export interface Growth {
  /** Theil–Sen slope of the floors over [fromMs, toMs], bytes per minute. */
  bytesPerMinute: number;
  /** Sen's 90% interval (each end a one-sided 95% bound); -Infinity/Infinity when too few floors to bound it. */
  lowBytesPerMinute: number;
  highBytesPerMinute: number;
  fromMs: number;
  toMs: number;
  /** Rise of the retained floors (never given back later) over the span. */
  retainedBytes: number;
  /** Rate of the retained floors over the last third of the span, bytes per minute. */
  lateBytesPerMinute: number;
  /** The smallest retained rise that counts as growth here (see MATERIAL_*). */
  materialBytes: number;
}

export interface Floors {
  /** True when the floors are the troughs after release cycles; false: window minima. */
  fromCycles: boolean;
  /** Release cycles seen in the whole series (major drops). */
  cycles: number;
  /** Median time between releases; null without cycles. */
  periodMs: number | null;
  /** Median drop of a release (the usual swing); 0 without cycles. */
  swingBytes: number;
  /**
   * Time resolution of the envelope (the mean bucket duration). Cycles shorter than about twice
   * this are merged into buckets: `cycles` then counts buckets, and the floors are bucket minima.
   */
  resolutionMs: number;
  /** Floors used for the growth (after the warm-up). */
  count: number;
  firstBytes: number;
  firstTMs: number;
  lastBytes: number;
  lastTMs: number;
}

export interface Projection {
  limitBytes: number;
  limitSource: string;
  /** Level of the tops at the end: the last floor plus the usual swing. */
  topBytes: number;
  /** Time from the end of the recording until the tops reach the limit at the current rate; 0 = already there; null = never (not growing). */
  etaMs: number | null;
}

export interface Shape {
  /** The floors rose in the warm-up (loading), then this analysis starts. */
  warmup: { toMs: number; fromBytes: number; toBytes: number } | null;
  /** The trend of the floors changed at untilMs (they rose by riseBytes before): the verdict is on what came after. */
  before: { untilMs: number; riseBytes: number } | null;
  /** Growth that stopped: retained floors rose, then stayed level from atMs. */
  saturatedAtMs: number | null;
  /** One step carried most of the rise. */
  step: { atMs: number; bytes: number } | null;
  /** Memory that was accumulated and given back: the largest fall of the floors. */
  release: { atMs: number; fromBytes: number; toBytes: number } | null;
}

export interface SeriesAnalysis {
  verdict: Verdict;
  /** 0..1, a heuristic score (see confidenceOf); 0 for insufficient data. */
  confidence: number;
  confidenceLabel: ConfidenceLabel;
  /** One sentence: the verdict and its main reason. */
  reason: string;
  /** The evidence, in words and numbers, most important first. */
  evidence: string[];
  samples: number;
  startMs: number;
  endMs: number;
  /** The part the verdict is based on (after the warm-up, before the fall at exit). */
  analyzedFromMs: number;
  analyzedToMs: number;
  /** Median floor after the warm-up (the level memory comes back to). */
  baselineBytes: number;
  peakBytes: number;
  peakTMs: number;
  growth: Growth | null;
  floors: Floors | null;
  spikes: Spike[];
  projection: Projection | null;
  shape: Shape;
}

export interface SeriesContext {
  /** For projections: the limit that would kill the process/tree, and where it comes from. */
  limit?: { bytes: number; source: string } | null;
  /** Wall-clock ms of t = 0, to print when a projection lands; null to print durations only. */
  startWallMs?: number | null;
}

/** Analyses one series (a tree total or a process's RSS). */
export function analyzeSeries(s: Series, ctx: SeriesContext = {}): SeriesAnalysis {
  const n = s.values.length;
  // 1. Trim empty samples at both ends (before the first process, after the tree is gone).
  let from = 0;
  let to = n;
  while (from < to && s.values[from] === 0) from++;
  while (to > from && s.values[to - 1] === 0) to--;
  // The peak of the trimmed span (its first maximum); 0 when nothing is left.
  const peak = from < to ? seriesMax({ tMs: s.tMs.subarray(from, to), values: s.values.subarray(from, to) }) : { bytes: 0, tMs: NaN };
  const base = emptyAnalysis(s, from, to, peak);
  if (to - from < MIN_SAMPLES) {
    return insufficient(base, `only ${to - from} sample${to - from === 1 ? '' : 's'} with memory in use; at least ${MIN_SAMPLES} are needed`);
  }
  to = trimTeardown(s, from, to);
  const env = buildEnvelope(s, from, to, MAX_BUCKETS);
  const spanMs = env.endMs - env.startMs;
  if (!(spanMs > 0)) return insufficient(base, 'all samples have the same time');

  // 3. Cycles.
  const p10 = quantile(env.vMin, 0.1);
  const p90 = quantile(env.vMax, 0.9);
  const swingThreshold = Math.max(MIN_SWING_BYTES, SWING_SHARE * (p90 - p10));
  const zz = zigzag(env, swingThreshold);
  const pivots = zz.pivots;
  const drops: Array<{ peak: Pivot; trough: Pivot; drop: number }> = [];
  for (let i = 1; i < pivots.length; i++) {
    const a = pivots[i - 1]!;
    const b = pivots[i]!;
    if (a.kind === 'peak' && b.kind === 'trough') drops.push({ peak: a, trough: b, drop: a.bytes - b.bytes });
  }
  const medianDrop = drops.length ? median(drops.map((d) => d.drop)) : 0;
  const major = drops.filter((d) => d.drop >= MAJOR_DROP_SHARE * medianDrop);
  const periodMs = major.length >= 2 ? median(diffs(major.map((d) => d.trough.tMs))) : null;
  const swingBytes = major.length ? median(major.map((d) => d.drop)) : 0;
  // 7. Spikes (every verdict from here on reports them).
  base.spikes = findSpikes(env, zz.finalTrough ? [...pivots, zz.finalTrough] : pivots, swingBytes, spanMs);

  // 4. Floors after the warm-up: the first 10% of the run, or until the first release when that
  // comes later but within the first 60% (the first cycle of a sawtooth includes the start-up).
  const firstRelease = major.length ? major[0]!.trough.tMs : Infinity;
  const warmupEndMs = Math.max(env.startMs + WARMUP_SHARE * spanMs, firstRelease <= env.startMs + FIRST_RELEASE_MAX_SHARE * spanMs ? firstRelease : -Infinity);
  const majorAfter = major.filter((d) => d.trough.tMs >= warmupEndMs);
  const levelBytes = quantile(env.vMin, 0.5);
  let floorT: number[];
  let floorV: number[];
  const fromCycles = majorAfter.length >= MIN_FLOORS;
  if (fromCycles) {
    ({ t: floorT, v: floorV } = capPoints(majorAfter.map((d) => d.trough.tMs), majorAfter.map((d) => d.trough.bytes), 128));
  } else {
    // Window minima inside a tooth that is still rising at the end would read as growth: with
    // release cycles, stop at the last release when memory has climbed well above it since.
    // Only for swings big enough to be mistaken for growth (≥ 4× what counts as growth).
    let floorsToMs = Infinity;
    const last = major[major.length - 1];
    const bigDropBytes = 4 * Math.max(MATERIAL_MIN_BYTES, MATERIAL_SHARE * levelBytes);
    if (last && last.trough.tMs > warmupEndMs && swingBytes >= bigDropBytes) {
      let after = -Infinity;
      for (let b = 0; b < env.length; b++) if (env.tMax[b]! > last.trough.tMs && env.vMax[b]! > after) after = env.vMax[b]!;
      if (after - last.trough.bytes >= 0.5 * swingBytes) floorsToMs = last.trough.tMs;
    }
    ({ t: floorT, v: floorV } = windowMinima(env, warmupEndMs, 64, floorsToMs));
    if (floorsToMs < Infinity && majorAfter.length < 2) {
      return insufficient(base, `only ${majorAfter.length} release cycle${majorAfter.length === 1 ? '' : 's'} after the warm-up, and memory is climbing again: ${MIN_FLOORS} cycles are needed to judge the floors`);
    }
    // A release just before the end is no evidence yet that memory stays down (it may be the
    // first tooth of a sawtooth, or the exit).
    if (last && majorAfter.length < 2 && env.endMs - last.trough.tMs < RELEASE_MIN_AFTER_SHARE * spanMs && last.drop >= bigDropBytes) {
      return insufficient(base, `memory was released at ${formatClock(last.trough.tMs)}, just before the end: too early to tell whether it stays down`);
    }
  }
  const floors: Floors | null = floorT.length
    ? {
        fromCycles, cycles: major.length, periodMs, swingBytes, resolutionMs: spanMs / env.length, count: floorT.length,
        firstBytes: floorV[0]!, firstTMs: floorT[0]!, lastBytes: floorV[floorV.length - 1]!, lastTMs: floorT[floorT.length - 1]!,
      }
    : null;
  base.floors = floors;
  base.analyzedFromMs = warmupEndMs;
  base.analyzedToMs = env.endMs;
  let analysedSamples = 0;
  for (let b = 0; b < env.length; b++) if (env.tMin[b]! >= warmupEndMs) analysedSamples += env.count[b]!;
  if (analysedSamples < MIN_ANALYSED_SAMPLES) {
    return insufficient(base, `only ${analysedSamples} sample${analysedSamples === 1 ? '' : 's'} after the warm-up (the first ${formatDuration(warmupEndMs - env.startMs)}); at least ${MIN_ANALYSED_SAMPLES} are needed`);
  }
  if (floorT.length < MIN_FLOORS) {
    const why = major.length >= 2
      ? `only ${majorAfter.length} release cycle${majorAfter.length === 1 ? '' : 's'} after the warm-up (${MIN_FLOORS} are needed to judge the floors)`
      : `only ${floorT.length} floor points after the warm-up; record longer or sample faster`;
    return insufficient(base, why);
  }
  base.baselineBytes = median(floorV);

  // 5. The current regime: the floors after the last change of trend of the retained floors
  // (a start-up or loading phase, a cache that filled, a worker that started); then the growth of
  // the floors in it, and how much of it was retained.
  const gAll = suffixMin(floorV);
  const floorTAll = floorT;
  const k0 = bestSplit(floorT, gAll);
  const shape = base.shape;
  if (k0 > 0) shape.before = { untilMs: floorT[k0]!, riseBytes: gAll[k0]! - gAll[0]! };
  floorT = floorT.slice(k0);
  floorV = floorV.slice(k0);
  const g = gAll.slice(k0);
  const fit = theilSen(floorT, floorV);
  const perMin = 60_000;
  const retained = g[g.length - 1]! - g[0]!;
  const resid = floorV.map((v, i) => v - (fit.intercept + fit.slope * floorT[i]!));
  const scatter = robustSigma(resid);
  const materialBase = Math.max(MATERIAL_MIN_BYTES, MATERIAL_SHARE * base.baselineBytes);
  const material = Math.max(materialBase, MATERIAL_NOISE_K * scatter);
  const fromMs = floorT[0]!;
  const toMs = floorT[floorT.length - 1]!;
  const span = Math.max(toMs - fromMs, 1);
  const lateStartMs = toMs - LATE_SHARE * span;
  let lateIdx = floorT.findIndex((t) => t >= lateStartMs);
  if (lateIdx < 0 || lateIdx > floorT.length - 2) lateIdx = floorT.length - 2;
  const lateSpan = Math.max(toMs - floorT[lateIdx]!, 1);
  const lateRise = g[g.length - 1]! - g[lateIdx]!;
  const lateRate = lateRise / lateSpan;
  base.growth = {
    bytesPerMinute: fit.slope * perMin, lowBytesPerMinute: fit.low * perMin, highBytesPerMinute: fit.high * perMin,
    fromMs, toMs, retainedBytes: retained, lateBytesPerMinute: lateRate * perMin, materialBytes: material,
  };

  // Shape notes for the evidence. A step (a model loaded mid-run, a runtime growing its heap
  // once) is two plateaus: a two-level fit of the retained floors beats a straight line by far. A
  // leak, even a chunky one, is closer to a line.
  const step = stepFit(floorT, g);
  const preWarm = windowMinima(env, env.startMs, 8);
  // The warm-up is worth a word when memory rose there much faster than the floors do after it.
  const warmRise = floors!.firstBytes - (preWarm.v[0] ?? floors!.firstBytes);
  if (warmRise >= material && warmRise > 3 * Math.max(0, fit.slope) * (warmupEndMs - env.startMs)) {
    shape.warmup = { toMs: warmupEndMs, fromBytes: preWarm.v[0]!, toBytes: floors!.firstBytes };
  }
  let releaseDrop = 0;
  for (let i = 0; i < floorV.length; i++) {
    const d = floorV[i]! - g[i]!;
    if (d > releaseDrop && d >= Math.max(materialBase, swingThreshold)) {
      releaseDrop = d;
      // Released where the floors first come down to the retained level.
      let j = i;
      while (j < floorV.length - 1 && floorV[j]! > g[i]! + 0.5 * d) j++;
      shape.release = { atMs: floorT[j]!, fromBytes: floorV[i]!, toBytes: g[i]! };
    }
  }
  // Retained growth before the late part, none in it: saturation; record when it stopped.
  if (retained >= material && lateRise < LATE_MIN_RATIO * (retained / span) * lateSpan) {
    let k = g.length - 1;
    while (k > 0 && g[k - 1]! >= g[g.length - 1]! - 0.1 * retained) k--;
    shape.saturatedAtMs = floorT[k]!;
  }
  if (retained >= material && step && step.sse <= STEP_SSE_RATIO * lineFit(floorT, g, 0, g.length).sse) {
    shape.step = { atMs: step.atMs, bytes: step.rise };
  }

  // 6. The verdict.
  const significant = fit.low > 0;
  const rising = retained >= material;
  const continuing = lateRate >= LATE_MIN_RATIO * (retained / span) && lateRise > 0;
  const oneStep = shape.step !== null;
  const leak = significant && rising && continuing && !oneStep;
  // Most of the rise in the last 15% of the span: a step just before the end looks like the start
  // of a leak; only more recording can tell them apart.
  let recentIdx = floorT.findIndex((t) => t >= toMs - RECENT_SHARE * span);
  if (recentIdx <= 0) recentIdx = Math.max(0, floorT.length - 2);
  const recentRise = g[g.length - 1]! - g[recentIdx - 1 >= 0 ? recentIdx - 1 : 0]!;
  if (leak && recentRise > RECENT_MAX_SHARE * retained) {
    return insufficient(base, `the floors rose by ${formatBytes(recentRise)} of their ${formatBytes(retained)} in the last ${formatDuration(toMs - floorT[Math.max(0, recentIdx - 1)]!)}: too recent to tell a step from a leak; record longer`);
  }
  // Level until the last third, then up: a spike or a step still under way, or a leak that just
  // began; the end of the recording cannot say which.
  // Judged on the regime and on all floors after the warm-up (a change of trend can hide it).
  const allLateStart = toMs - LATE_SHARE * (toMs - floorTAll[0]!);
  let allLateIdx = floorTAll.findIndex((t) => t >= allLateStart);
  if (allLateIdx < 0) allLateIdx = floorTAll.length - 1;
  const earlyRise = Math.min(g[lateIdx]! - g[0]!, gAll[allLateIdx]! - gAll[0]!);
  if (leak && earlyRise < materialBase) {
    const levelUntil = g[lateIdx]! - g[0]! < materialBase ? floorT[lateIdx]! : floorTAll[allLateIdx]!;
    return insufficient(base, `the floors were level until ${formatClock(levelUntil)} and rose ${formatBytes(g[g.length - 1]! - (g[lateIdx]! - g[0]! < materialBase ? g[lateIdx]! : gAll[allLateIdx]!))} only after: too late in the recording to tell a leak from a step or a spike; record longer`);
  }
  if (!leak && !fromCycles && majorAfter.length >= 2) {
    // A few release cycles: the window minima cannot see a small leak under a large sawtooth,
    // and the troughs are too few for an interval. Rising troughs leave the question open.
    // Level means level here: within 0.5% (≥ 256 KiB), not the 2% a trend over many floors needs.
    const troughs = suffixMin(majorAfter.map((d) => d.trough.bytes));
    const troughRise = troughs[troughs.length - 1]! - troughs[0]!;
    if (troughRise >= Math.max(256 * 1024, 0.005 * troughs[0]!)) {
      return insufficient(base, `only ${majorAfter.length} release cycles after the warm-up and their floors rose ${formatBytes(troughRise)}: ${MIN_FLOORS} cycles are needed to tell a leak from noise`);
    }
  }
  base.projection = projection(ctx, floors!, leak ? Math.max(fit.slope, 0) : 0);
  if (leak) {
    base.verdict = 'leak';
    base.confidence = confidenceOf([
      ramp(floorT.length, MIN_FLOORS, 16),
      clamp01(fit.low / fit.slope),
      ramp(retained / material, 1, 4),
      clamp01(lateRate / (retained / span)),
    ]);
  } else if (base.spikes.length > 0) {
    base.verdict = 'spike';
    const s0 = base.spikes.reduce((a, b) => (b.aboveTypicalBytes > a.aboveTypicalBytes ? b : a));
    base.confidence = confidenceOf([ramp(s0.aboveTypicalBytes / spikeThreshold(s0.peakBytes - s0.aboveTypicalBytes, swingBytes), 1, 4), ramp(floorT.length, MIN_FLOORS, 16)]);
  } else {
    base.verdict = 'stable';
    // Sure when even the top of the interval would not have grown the floors materially.
    const worst = Number.isFinite(fit.high) ? Math.max(0, fit.high) * span : Infinity;
    base.confidence = confidenceOf([ramp(floorT.length, MIN_FLOORS, 16), Number.isFinite(worst) ? clamp01(material / Math.max(material, worst)) : 0.3]);
  }
  base.confidenceLabel = labelOf(base.confidence);
  describe(base, { significant, rising, continuing, oneStep });
  return base;
}

function emptyAnalysis(s: Series, from: number, to: number, peak: { bytes: number; tMs: number }): SeriesAnalysis {
  const n = s.values.length;
  return {
    verdict: 'insufficient data', confidence: 0, confidenceLabel: 'low', reason: '', evidence: [],
    samples: to - from,
    startMs: n ? s.tMs[from < to ? from : 0]! : NaN,
    endMs: n ? s.tMs[to > from ? to - 1 : n - 1]! : NaN,
    analyzedFromMs: NaN, analyzedToMs: NaN, baselineBytes: NaN,
    peakBytes: peak.bytes, peakTMs: peak.tMs,
    growth: null, floors: null, spikes: [], projection: null,
    shape: { warmup: null, before: null, saturatedAtMs: null, step: null, release: null },
  };
}

function insufficient(a: SeriesAnalysis, why: string): SeriesAnalysis {
  a.verdict = 'insufficient data';
  a.confidence = 0;
  a.confidenceLabel = 'low';
  a.reason = `insufficient data: ${why}`;
  a.evidence = [why];
  if (a.spikes.length) a.evidence.push(...a.spikes.map(spikeText));
  return a;
}

/**
 * The fall at exit: within the last 5% of the run (≤ 10 s, ≥ 2 samples), if the memory falls
 * from its maximum there by more than 10%, the samples after that maximum are dropped. A Python
 * or Node process frees its heap while exiting; that is not the program releasing memory.
 */
function trimTeardown(s: Series, from: number, to: number): number {
  const t = s.tMs;
  const v = s.values;
  const span = t[to - 1]! - t[from]!;
  const windowMs = Math.min(TEARDOWN_SHARE * span, TEARDOWN_MAX_MS);
  let k = to - 1;
  let best = to - 1;
  let steps = 0;
  while (k > from && (t[to - 1]! - t[k - 1]! <= windowMs || steps < 2)) {
    k--;
    steps++;
    if (v[k]! > v[best]!) best = k;
  }
  if (best < to - 1 && v[to - 1]! < 0.9 * v[best]! && best - from >= MIN_SAMPLES) return best + 1;
  return to;
}

/** Minima of ~3-bucket windows (at most 64) over [fromMs, toMs]: the floors of a curve without cycles. */
function windowMinima(env: Envelope, fromMs: number, maxWindows = 64, toMs = Infinity): { t: number[]; v: number[] } {
  let i0 = 0;
  while (i0 < env.length && env.tMin[i0]! < fromMs && env.tMax[i0]! < fromMs) i0++;
  let i1 = env.length;
  while (i1 > i0 && env.tMin[i1 - 1]! > toMs) i1--;
  const nb = i1 - i0;
  if (nb <= 0) return { t: [], v: [] };
  const windows = Math.max(1, Math.min(maxWindows, Math.floor(nb / 3)));
  const t: number[] = [];
  const v: number[] = [];
  for (let w = 0; w < windows; w++) {
    const a = i0 + Math.floor((w * nb) / windows);
    const b = i0 + Math.floor(((w + 1) * nb) / windows);
    let best = -1;
    for (let i = a; i < b; i++) if (best < 0 || env.vMin[i]! < env.vMin[best]!) best = i;
    if (best >= 0) {
      t.push(env.tMin[best]!);
      v.push(env.vMin[best]!);
    }
  }
  return { t, v };
}

/** Merges consecutive points (minimum of each group) so at most `max` remain. */
function capPoints(t: number[], v: number[], max: number): { t: number[]; v: number[] } {
  if (t.length <= max) return { t, v };
  const outT: number[] = [];
  const outV: number[] = [];
  for (let w = 0; w < max; w++) {
    const a = Math.floor((w * t.length) / max);
    const b = Math.floor(((w + 1) * t.length) / max);
    let best = a;
    for (let i = a; i < b; i++) if (v[i]! < v[best]!) best = i;
    outT.push(t[best]!);
    outV.push(v[best]!);
  }
  return { t: outT, v: outV };
}

/** Least-squares line of y on t over [a, b): slope and residual sum of squares. */
function lineFit(t: number[], y: number[], a: number, b: number): { slope: number; sse: number } {
  const n = b - a;
  if (n < 2) return { slope: 0, sse: 0 };
  let st = 0, sy = 0, stt = 0, sty = 0;
  for (let i = a; i < b; i++) {
    st += t[i]!;
    sy += y[i]!;
    stt += t[i]! * t[i]!;
    sty += t[i]! * y[i]!;
  }
  const vt = stt - (st * st) / n;
  const slope = vt > 0 ? (sty - (st * sy) / n) / vt : 0;
  const alpha = (sy - slope * st) / n;
  let sse = 0;
  for (let i = a; i < b; i++) sse += (y[i]! - alpha - slope * t[i]!) ** 2;
  return { slope, sse };
}

/**
 * Where the trend of the retained floors g changed, if it did: the split into two straight
 * segments with the least squared error, kept when it at least halves the error of one line,
 * the two slopes differ by more than half (a rise that levelled off, a step, growth that began
 * mid-run — not noise on one steady trend), and ≥ 40% of the span and ≥ MIN_FLOORS floors
 * remain after it. Returns the first index of the last segment, 0 for no change.
 */
function bestSplit(t: number[], g: number[]): number {
  const n = t.length;
  const span = t[n - 1]! - t[0]!;
  const whole = lineFit(t, g, 0, n).sse;
  if (!(whole > 0) || n < MIN_FLOORS + 3) return 0;
  let best = 0;
  let bestSse = Infinity;
  for (let k = 3; k <= n - MIN_FLOORS; k++) {
    if (t[n - 1]! - t[k]! < REGIME_MIN_SHARE * span) break;
    const a = lineFit(t, g, 0, k);
    const b = lineFit(t, g, k, n);
    if (Math.abs(a.slope - b.slope) <= 0.5 * Math.max(Math.abs(a.slope), Math.abs(b.slope))) continue;
    if (a.sse + b.sse < bestSse) {
      bestSse = a.sse + b.sse;
      best = k;
    }
  }
  return bestSse <= 0.5 * whole ? best : 0;
}

/** The best two-level (step) fit of y: where the upper level starts, the rise, the squared error. */
function stepFit(t: number[], y: number[]): { atMs: number; rise: number; sse: number } | null {
  const n = y.length;
  if (n < 4) return null;
  const pre: number[] = [0];
  const pre2: number[] = [0];
  for (let i = 0; i < n; i++) {
    pre.push(pre[i]! + y[i]!);
    pre2.push(pre2[i]! + y[i]! * y[i]!);
  }
  const sse = (a: number, b: number) => pre2[b]! - pre2[a]! - (pre[b]! - pre[a]!) ** 2 / (b - a);
  let best: { atMs: number; rise: number; sse: number } | null = null;
  for (let k = 2; k <= n - 2; k++) {
    const e = sse(0, k) + sse(k, n);
    if (!best || e < best.sse) best = { atMs: t[k]!, rise: (pre[n]! - pre[k]!) / (n - k) - pre[k]! / k, sse: e };
  }
  return best;
}

function suffixMin(v: number[]): number[] {
  const g = v.slice();
  for (let i = g.length - 2; i >= 0; i--) if (g[i + 1]! < g[i]!) g[i] = g[i + 1]!;
  return g;
}

function diffs(t: number[]): number[] {
  const d: number[] = [];
  for (let i = 1; i < t.length; i++) d.push(t[i]! - t[i - 1]!);
  return d;
}

function spikeThreshold(typicalTopBytes: number, swingBytes: number): number {
  return Math.max(SPIKE_MIN_BYTES, SPIKE_SHARE * typicalTopBytes, swingBytes);
}

/** Step 7: peaks far above the typical top around them, short, and given back on both sides. */
function findSpikes(env: Envelope, pivots: Pivot[], swingBytes: number, spanMs: number): Spike[] {
  const spikes: Spike[] = [];
  const ctxMs = SPIKE_CONTEXT_SHARE * spanMs;
  // The typical top around t: the median of the peaks within ±ctxMs (the tops of the teeth of a
  // sawtooth), or of the bucket maxima where there are fewer than 3 peaks (a flat line). Computed
  // at 128 anchors: a sawtooth at 1/2048 resolution has ~2000 peaks, one median each would cost 1 s.
  const anchors = 128;
  const startMs = env.startMs;
  const peaks = pivots.filter((p) => p.kind === 'peak');
  const typicalAt: number[] = [];
  for (let k = 0; k < anchors; k++) {
    const at = startMs + ((k + 0.5) * spanMs) / anchors;
    const near = peaks.filter((p) => Math.abs(p.tMs - at) <= ctxMs).map((p) => p.bytes);
    if (near.length >= 3) {
      typicalAt.push(median(near));
      continue;
    }
    const tops: number[] = [];
    for (let b = 0; b < env.length; b++) if (Math.abs(env.tMax[b]! - at) <= ctxMs) tops.push(env.vMax[b]!);
    typicalAt.push(tops.length ? median(tops) : NaN);
  }
  for (let i = 1; i < pivots.length - 1; i++) {
    const p = pivots[i]!;
    if (p.kind !== 'peak') continue;
    const before = pivots[i - 1]!;
    const after = pivots[i + 1]!;
    const typicalTop = typicalAt[Math.min(anchors - 1, Math.max(0, Math.floor(((p.tMs - startMs) / spanMs) * anchors)))]!;
    const above = p.bytes - typicalTop;
    if (above < spikeThreshold(typicalTop, swingBytes)) continue;
    const baseline = Math.max(before.bytes, after.bytes);
    const height = p.bytes - baseline;
    // Both sides must come back near the typical level (a step up has no way back down).
    if (baseline > typicalTop + 0.25 * above) continue;
    // Width at half height: a spike that takes a second to fill on a busy machine is still a spike.
    const durationMs = timeAbove(env, p.tMs, baseline + 0.5 * height);
    if (durationMs > SPIKE_MAX_SHARE * spanMs) continue;
    spikes.push({ tMs: p.tMs, peakBytes: p.bytes, baselineBytes: baseline, heightBytes: height, aboveTypicalBytes: above, durationMs });
  }
  return spikes;
}

/** Length of the contiguous stretch around tMs where the envelope's maxima stay above level. */
function timeAbove(env: Envelope, tMs: number, level: number): number {
  let c = 0;
  while (c < env.length - 1 && env.tMax[c]! < tMs) c++;
  let a = c;
  let b = c;
  while (a > 0 && env.vMax[a - 1]! > level) a--;
  while (b < env.length - 1 && env.vMax[b + 1]! > level) b++;
  const start = a > 0 ? env.tMax[a - 1]! : env.tMin[a]!;
  const end = b < env.length - 1 ? env.tMax[b + 1]! : env.tMax[b]!;
  return Math.max(0, end - start);
}

function projection(ctx: SeriesContext, floors: Floors, bytesPerMs: number): Projection | null {
  if (!ctx.limit) return null;
  const top = floors.lastBytes + floors.swingBytes;
  let etaMs: number | null;
  if (top >= ctx.limit.bytes) etaMs = 0;
  else if (bytesPerMs > 0) etaMs = (ctx.limit.bytes - top) / bytesPerMs;
  else etaMs = null;
  return { limitBytes: ctx.limit.bytes, limitSource: ctx.limit.source, topBytes: top, etaMs };
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** 0 at lo, 1 at hi, linear between. */
function ramp(x: number, lo: number, hi: number): number {
  return clamp01((x - lo) / (hi - lo));
}

/**
 * A heuristic score in [0.5, 0.99]: the mean of parts that each say how far the evidence is from
 * the edge of its rule (more floors, an interval further from zero, a larger rise…). It orders
 * verdicts by strength; it is not a calibrated probability.
 */
function confidenceOf(parts: number[]): number {
  const mean = parts.reduce((a, b) => a + b, 0) / parts.length;
  return Math.round((0.5 + 0.49 * mean) * 100) / 100;
}

function labelOf(c: number): ConfidenceLabel {
  return c >= 0.8 ? 'high' : c >= 0.65 ? 'medium' : 'low';
}

// ---------------------------------------------------------------------------------------------
// Words. Numbers are printed with units.ts so every command prints sizes the same way.

export function spikeText(s: Spike): string {
  return `spike at ${formatClock(s.tMs)}: ${formatBytes(s.peakBytes)}, ${formatBytes(s.heightBytes)} above the ${formatBytes(s.baselineBytes)} baseline, for ${formatDuration(s.durationMs)}`;
}

export function rateText(g: Growth): string {
  const lo = Number.isFinite(g.lowBytesPerMinute) ? formatRate(g.lowBytesPerMinute, true) : '-∞';
  const hi = Number.isFinite(g.highBytesPerMinute) ? formatRate(g.highBytesPerMinute, true) : '+∞';
  return `${formatRate(g.bytesPerMinute, true)} (90% interval ${lo} … ${hi})`;
}

function floorsText(f: Floors): string {
  const what = f.fromCycles ? `floors (the lows after each of ${f.count} releases)` : 'floors (the lows of the memory curve)';
  return `${what} moved ${formatBytes(f.firstBytes)} → ${formatBytes(f.lastBytes)} between ${formatClock(f.firstTMs)} and ${formatClock(f.lastTMs)}`;
}

export function projectionText(p: Projection, startWallMs: number | null | undefined, endMs: number): string {
  const lim = `the ${formatBytes(p.limitBytes)} limit (${p.limitSource})`;
  if (p.etaMs === 0) return `the tops (${formatBytes(p.topBytes)}) are already at ${lim}`;
  if (p.etaMs === null) return `not growing: no projected time to reach ${lim}`;
  let when = '';
  if (startWallMs) when = ` (around ${new Date(startWallMs + endMs + p.etaMs).toISOString().replace('T', ' ').slice(0, 16)} UTC if it had kept running)`;
  return `at this rate the tops reach ${lim} ${formatDuration(p.etaMs)} after the end of the recording${when}`;
}

function describe(a: SeriesAnalysis, k: { significant: boolean; rising: boolean; continuing: boolean; oneStep: boolean }): void {
  const g = a.growth!;
  const f = a.floors!;
  const ev: string[] = [];
  let cyc = f.cycles >= 2 && f.periodMs !== null
    ? `${f.cycles} release cycles (every ~${formatDuration(f.periodMs)}, dropping ~${formatBytes(f.swingBytes)})`
    : 'no regular release cycles';
  if (f.periodMs !== null && f.periodMs <= 2.5 * f.resolutionMs) {
    cyc = `release cycles faster than the analysis resolution (~${formatDuration(f.resolutionMs)}, dropping ~${formatBytes(f.swingBytes)}): the floors are the lows of each ${formatDuration(f.resolutionMs)}`;
  }
  if (a.verdict === 'leak') {
    a.reason = `leak: the floors kept rising at ${formatRate(g.bytesPerMinute, true)} to the end and were never given back`;
    ev.push(`growth ${rateText(g)} over ${formatDuration(g.toMs - g.fromMs)}; in the last third ${formatRate(g.lateBytesPerMinute, true)}`);
    ev.push(floorsText(f));
    ev.push(`${formatBytes(g.retainedBytes)} retained (never released later in the run); ${cyc}`);
  } else {
    const why: string[] = [];
    const inSpike = (t: number) => a.spikes.some((sp) => Math.abs(sp.tMs - t) <= sp.durationMs + (f.periodMs ?? 0));
    if (a.shape.release && !inSpike(a.shape.release.atMs)) {
      why.push(`what accumulated was released at ${formatClock(a.shape.release.atMs)} (${formatBytes(a.shape.release.fromBytes)} → ${formatBytes(a.shape.release.toBytes)})`);
    }
    if (k.oneStep && a.shape.step) why.push(`the floors rose in one step of ${formatBytes(a.shape.step.bytes)} at ${formatClock(a.shape.step.atMs)}, then stayed level`);
    else if (k.rising && !k.continuing && a.shape.saturatedAtMs !== null) why.push(`the floors rose by ${formatBytes(g.retainedBytes)} and levelled off from ${formatClock(a.shape.saturatedAtMs)} (bounded growth: loading, or a cache that filled)`);
    else if (!k.rising && a.shape.before && a.shape.before.riseBytes >= g.materialBytes) {
      why.push(`the floors rose by ${formatBytes(a.shape.before.riseBytes)} until ${formatClock(a.shape.before.untilMs)} (start-up, loading, or a cache that filled), then stayed level`);
    } else if (!k.rising && !a.shape.release) why.push(`the floors stayed level (${formatBytes(g.retainedBytes)} retained rise, under the ${formatBytes(g.materialBytes)} that would count)`);
    else if (!k.significant) why.push('the growth of the floors is not distinguishable from noise');
    const main = why[0] ?? 'no sustained growth of the floors';
    a.reason = a.verdict === 'spike'
      ? `spike: ${a.spikes.length === 1 ? 'one short excursion' : `${a.spikes.length} short excursions`} far above the usual level, and ${main}`
      : `stable: ${main}`;
    if (a.verdict === 'spike') ev.push(...a.spikes.map(spikeText));
    // why[0] is the reason itself; the evidence lists the rest.
    ev.push(...(a.verdict === 'spike' ? why : why.slice(1)));
    ev.push(floorsText(f));
    ev.push(`growth of the floors ${rateText(g)}; ${cyc}`);
  }
  if (a.verdict === 'leak' && a.shape.before && a.shape.before.riseBytes >= g.materialBytes) {
    ev.push(`before ${formatClock(a.shape.before.untilMs)} the floors rose faster or differently (+${formatBytes(a.shape.before.riseBytes)}: start-up, loading, a worker starting); the rate is measured after it`);
  }
  if (a.shape.warmup) ev.push(`start-up: memory rose ${formatBytes(a.shape.warmup.fromBytes)} → ${formatBytes(a.shape.warmup.toBytes)} in the first ${formatDuration(a.shape.warmup.toMs - a.startMs)} (not counted as growth)`);
  if (a.verdict === 'leak' && a.spikes.length) ev.push(...a.spikes.map(spikeText));
  if (a.projection) ev.push(projectionText(a.projection, null, a.endMs));
  a.evidence = ev;
}
