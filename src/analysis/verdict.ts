/**
 * Verdicts on one memory series: leak, stable, spike or insufficient data, with the evidence.
 *
 * The idea, in the words of the people who read these plots: a healthy process is a sawtooth (or a
 * flat line) whose *floors* — the lows after each release — stay level; a leak is memory that is
 * never given back, so the floors keep rising to the end of the run. The steps:
 *
 * 1. Trim: drop the empty samples after the tree is gone and the fall at exit (an interpreter
 *    tearing down its heap frees the leaked memory too: that is not a release). Only the last
 *    fall is the exit: a level held before it, or a return to where a spike rose from, is the
 *    program's own.
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
 *    loaded mid-run, or a runtime that grows its heap once). Floors level for a quarter of the
 *    span and more, then most of the rise at ≥ 10× their rate near the end, are not judged
 *    (rise-after-level: a spike or step still under way, or a leak that just began).
 * 7. Spikes: zigzag peaks that stand above the typical top around them (the median of the peaks
 *    within ±20% of the run, or of the bucket maxima on a flat line) by at least max(8 MiB, 25% of
 *    that top, the usual swing), come back down on both sides, and last at most 25% of the run.
 *
 * All thresholds are constants below with their reasons; the corpus (fixtures/corpus/) and
 * BENCHMARKS.md show how they do on real programs.
 */
import type { Series } from '../model/series';
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
/** Fewer samples than this after the warm-up: insufficient data (5 floors of ~3-sample windows, twice over). */
const MIN_ANALYSED_SAMPLES = 30;
/**
 * And less time than this after the warm-up: insufficient data. The sample count alone once
 * stood for time too (30 samples were 3 s at a fixed 100 ms); with the default schedule's 10 ms
 * start, 30 samples are 0.3 s, a judgement on start-up. 1 s after the warm-up is what a 1.2 s
 * program leaves; the cycle rules then ask for 5 releases.
 */
const MIN_ANALYSED_MS = 1000;
/** A single release is evidence of "stable" only when memory stayed down after it for this share of the run. */
const RELEASE_MIN_AFTER_SHARE = 0.15;
/** The warm-up extends to the first release when that comes within this share of the run. */
const FIRST_RELEASE_MAX_SHARE = 0.6;
/** A climb after the last release of more than this many usual swings is growth, not the next tooth. */
const TOOTH_MAX_SWINGS = 3;
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
/** refill-below-earlier-high: the climb before the fall lasted at least this share of the time since it (a tooth, not a brief spike). */
const REFILL_TOOTH_SHARE = 0.25;
/** The reason of a verdict of no leak names a sawtooth from this many release cycles. */
const SAWTOOTH_MIN_CYCLES = 3;
/** The late part of the analysed span, where growth must still be going on. */
const LATE_SHARE = 1 / 3;
/** Late growth rate must be at least this share of the overall rate; less is saturation. */
const LATE_MIN_RATIO = 0.35;
/** The current regime (after a change of trend) covers at least this share of the analysed span. */
const REGIME_MIN_SHARE = 0.4;
/** A rise concentrated at the very end (more than this share of it in the last RECENT_SHARE of the span) cannot be judged yet. */
const RECENT_SHARE = 0.15;
const RECENT_MAX_SHARE = 0.5;
/**
 * A level stretch of the retained floors this long (share of the analysed span), ending at least
 * LEVEL_END_MIN_SHARE into it, followed by a rise that carries at least half of the whole retained
 * rise and is ≥ 10× what the level stretch rose: flat, then steep at the end. A spike or a step
 * still under way when the recording ended (a 200 MiB buffer filled over 2 s on a starved machine,
 * cut by the exit), or a leak that just began; the end of the recording cannot tell which. A steady
 * leak rises at about one rate everywhere, so it has no such stretch; noisy floors (window minima
 * of a large sawtooth) can look level for a while, but not at a tenth of the rate after.
 */
const LEVEL_MIN_SHARE = 0.25;
const LEVEL_END_MIN_SHARE = 0.6;
const LEVEL_RISE_AFTER_SHARE = 0.5;
const LEVEL_FLATNESS_RATIO = 0.1;
/** Two plateaus fitting the retained floors with at most this share of a line's squared error make a step, not a leak. */
const STEP_SSE_RATIO = 0.5;
/**
 * The floors before and after the spikes rising at rates within this factor of each other are one
 * leak the spikes interrupted (acrossSpikes). A load that stopped where a spike began rose before
 * it at 5× the rate after (a 16 M-row DataFrame, then its groupby); a starved sawtooth's next
 * tooth after a quiet start at 13×.
 */
const ACROSS_SPIKE_RATE_RATIO = 3;
/** A spike is short: at most this share of the run. */
const SPIKE_MAX_SHARE = 0.25;
/** A step is one jump: at least this share of its rise within STEP_WINDOW_SHARE of the span. */
const STEP_CONCENTRATION = 0.6;
const STEP_WINDOW_SHARE = 0.1;
/** … and high above the typical top: at least this much … */
const SPIKE_MIN_BYTES = 8 * MiB;
/** … this share of the typical top, and the usual swing of the cycles. */
const SPIKE_SHARE = 0.25;
/** The typical top around a spike is the median of the peaks (or bucket maxima) within ± this share of the run. */
const SPIKE_CONTEXT_SHARE = 0.2;
/** The fall at exit is looked for in the last share of the run (at most 10 s). */
const TEARDOWN_SHARE = 0.05;
const TEARDOWN_MAX_MS = 10_000;
/**
 * A tree's shutdown: the processes whose interpreters said they began their shutdown (a `teardown`
 * record) within this share of the run before its end (at most 3 s, or the share above when that
 * is longer), each within that much of the next one's. A Dask worker's interpreter freed its
 * 200 MiB cache 2.3 s before the end of a 23.7 s run (the client and scheduler shut down after it,
 * beside two CPU hogs), and the tree total read "stable: released".
 */
const SHUTDOWN_SHARE = 0.15;
const SHUTDOWN_MAX_MS = 3_000;

/** How far before the end of a run of spanMs a process's shutdown still counts as the tree's (see SHUTDOWN_SHARE). */
export function shutdownWindowMs(spanMs: number): number {
  return Math.min(TEARDOWN_MAX_MS, Math.max(TEARDOWN_SHARE * spanMs, Math.min(SHUTDOWN_SHARE * spanMs, SHUTDOWN_MAX_MS)));
}

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
  /** The floors inside the spikes' bodies were left out, from fromMs to toMs: the floors rose on both sides at these rates (a leak the spikes interrupted). */
  acrossSpikes: { fromMs: number; toMs: number; beforeBytesPerMinute: number; afterBytesPerMinute: number } | null;
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
  step: { atMs: number; bytes: number; oneJump: boolean } | null;
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
  /** The rule that decided (RULES below: e.g. 'leak', 'too-few-floors'). */
  rule: string;
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
  /**
   * Spans when the tree was stopped (SIGSTOP by a `stop` action, pdb at --break-at), ms. The
   * growth is judged on running time: samples inside a pause are left out and the time after it
   * is moved back by its length (a leak held 14 s in pdb read as two plateaus, "one step").
   * Times in the analysis and its words stay recording times. `bytes`: memory the debugger added
   * while stopped (pdb's import at a --break-at), subtracted from every sample after the pause.
   */
  pauses?: ReadonlyArray<{ fromMs: number; toMs: number; bytes?: number; census?: boolean }>;
  /**
   * When the shutdown began (a process's interpreter said so, or the tree's: treeTeardown in
   * teardown.ts), recording ms, with words for the evidence ("its interpreter began its shutdown";
   * "the tree's shutdown began" and who). The samples after it are the shutdown's, not the
   * program's: left out, instead of guessing the fall at exit from the last samples.
   */
  teardown?: { fromMs: number; lead: string; detail?: string } | null;
}

// ---------------------------------------------------------------------------------------------
// Stages: pure functions from the series (and the facts of the stages before) to a typed record
// of facts. They decide nothing; the rules below do.

interface Drop {
  peak: Pivot;
  trough: Pivot;
  drop: number;
}

/** Stage 1: the span with memory in use, and its peak. */
export interface TrimFacts {
  /** Index of the first and one past the last sample with memory in use. */
  from: number;
  to: number;
  peak: { bytes: number; tMs: number };
  /** No NaN among the samples of [from, to) (the exit trim may then skip a walk back over them). */
  noNaN: boolean;
}

/** Stage 2: the envelope of the trimmed span, without the fall at exit. */
export interface EnvelopeFacts {
  env: Envelope;
  spanMs: number;
}

/** Stage 3: the cycles: zigzag pivots and the major drops (the releases). */
export interface CycleFacts {
  swingThresholdBytes: number;
  pivots: Pivot[];
  /** The pivots with the last trough of a series that ends going down. */
  pivotsWithFinal: Pivot[];
  major: Drop[];
  periodMs: number | null;
  /** The median major drop: the usual swing. */
  swingBytes: number;
}

/** Stage 4: the spikes, and the span of each one's body (the same order). */
export interface SpikeFacts {
  spikes: Spike[];
  spans: Array<{ fromMs: number; toMs: number }>;
}

/** Stage 5: where the warm-up ends, what the releases after it say about where floors may be read. */
export interface WarmupFacts {
  warmupEndMs: number;
  /** Major drops after the warm-up. */
  majorAfter: Drop[];
  /** The last major drop of the run. */
  lastRelease: Drop | undefined;
  /** Floors are the troughs after the releases (enough of them), not window minima. */
  fromCycles: boolean;
  /** A drop at least this large could be mistaken for growth (≥ 4× what counts as growth). */
  bigDropBytes: number;
  /** The window minima stop here: memory climbed well above the last release since (Infinity: they do not). */
  floorsToMs: number;
}

/** Stage 6: the floors after the warm-up. */
export interface FloorFacts {
  t: number[];
  v: number[];
  summary: Floors | null;
  /** Samples after the warm-up. */
  analysedSamples: number;
  /** The floors inside the spikes' bodies [fromMs, toMs] were left out: they rose at these rates before and after (acrossSpikes). */
  acrossSpikes: { fromMs: number; toMs: number; beforeBytesPerMinute: number; afterBytesPerMinute: number } | null;
}

/** Stage 7: the current regime of the floors (after the last change of trend). */
export interface RegimeFacts {
  /** Median floor after the warm-up. */
  baselineBytes: number;
  /** Retained floors (suffix minima) over all floors after the warm-up. */
  gAll: number[];
  /** Floors and retained floors of the regime. */
  t: number[];
  v: number[];
  g: number[];
  before: Shape['before'];
}

/** Stage 8: growth of the floors in the regime. */
export interface GrowthFacts {
  fit: { slope: number; low: number; high: number; intercept: number };
  growth: Growth;
  /** What counts as growth without the scatter term. */
  materialBaseBytes: number;
  spanMs: number;
  lateIdx: number;
  lateRise: number;
  lateRate: number;
  /** Rise of the retained floors in the last RECENT_SHARE of the span, and where that part starts. */
  recentRise: number;
  recentFromMs: number;
  /** Rise before the late part: the smaller of the regime's and all floors' after the warm-up. */
  earlyRise: number;
  /** Where the floors were level until, and how much they rose after it (for the late-rise rule). */
  levelUntilMs: number;
  riseAfterLevelBytes: number;
  /** Flat, then steep: a level stretch of the floors followed by most of the rise (see LEVEL_*); null when none. */
  levelThenRise: { fromMs: number; untilMs: number; riseAfterBytes: number } | null;
  significant: boolean;
  rising: boolean;
  continuing: boolean;
}

/** Stage 9: shape notes for the evidence and the step rule. */
export type ShapeFacts = Omit<Shape, 'before'>;

interface Facts {
  s: Series;
  ctx: SeriesContext;
  /** Analysis time (paused time left out) → recording time; the identity without pauses. */
  toRecMs: (tMs: number) => number;
  trim: TrimFacts;
  /** One past the last sample before the interpreter's shutdown began (ctx.teardown); undefined when not known. */
  teardownAt?: number;
  envelope?: EnvelopeFacts;
  cycles?: CycleFacts;
  spikes?: Spike[];
  spikeSpans?: SpikeFacts['spans'];
  warmup?: WarmupFacts;
  floors?: FloorFacts;
  regime?: RegimeFacts;
  growth?: GrowthFacts;
  shape?: ShapeFacts;
}

function trimStage(s: Series): TrimFacts {
  let from = 0;
  let to = s.values.length;
  while (from < to && s.values[from] === 0) from++;
  while (to > from && s.values[to - 1] === 0) to--;
  // The peak of the trimmed span (its first maximum, as seriesMax); 0 when nothing is left.
  const v = s.values;
  let best = -1;
  let max = -Infinity;
  let noNaN = true;
  for (let i = from; i < to; i++) {
    const x = v[i]!;
    if (x > max) {
      max = x;
      best = i;
    } else if (x !== x) {
      noNaN = false;
    }
  }
  const peak = from >= to ? { bytes: 0, tMs: NaN } : best < 0 ? { index: -1, tMs: NaN, bytes: NaN } : { index: best - from, tMs: s.tMs[best]!, bytes: max };
  return { from, to, peak, noNaN };
}

function envelopeStage(s: Series, trim: TrimFacts, teardownAt: number | undefined): EnvelopeFacts {
  // Where the shutdown began is known (the interpreter said so): its samples go, and nothing is guessed.
  const to = teardownAt !== undefined && teardownAt > trim.from ? Math.min(trim.to, teardownAt) : trimTeardown(s, trim.from, trim.to, trim.peak.bytes, trim.noNaN);
  const env = buildEnvelope(s, trim.from, to, MAX_BUCKETS);
  return { env, spanMs: env.endMs - env.startMs };
}

function cycleStage({ env }: EnvelopeFacts): CycleFacts {
  const p10 = quantile(env.vMin, 0.1);
  const p90 = quantile(env.vMax, 0.9);
  const swingThresholdBytes = Math.max(MIN_SWING_BYTES, SWING_SHARE * (p90 - p10));
  const zz = zigzag(env, swingThresholdBytes);
  const pivots = zz.pivots;
  const drops: Drop[] = [];
  for (let i = 1; i < pivots.length; i++) {
    const a = pivots[i - 1]!;
    const b = pivots[i]!;
    if (a.kind === 'peak' && b.kind === 'trough') drops.push({ peak: a, trough: b, drop: a.bytes - b.bytes });
  }
  const medianDrop = drops.length ? median(drops.map((d) => d.drop)) : 0;
  const major = drops.filter((d) => d.drop >= MAJOR_DROP_SHARE * medianDrop);
  const periodMs = major.length >= 2 ? median(diffs(major.map((d) => d.trough.tMs))) : null;
  const swingBytes = major.length ? median(major.map((d) => d.drop)) : 0;
  return { swingThresholdBytes, pivots, pivotsWithFinal: zz.finalTrough ? [...pivots, zz.finalTrough] : pivots, major, periodMs, swingBytes };
}

/**
 * The warm-up: the first 10% of the run, or until the first release when that comes later but
 * within the first 60% (the first cycle of a sawtooth includes the start-up).
 */
function warmupStage({ env, spanMs }: EnvelopeFacts, c: CycleFacts, spikes: Spike[]): WarmupFacts {
  // Without a rhythm of releases (fewer than 3), a spike's fall is not a release: the warm-up
  // never stretches to it (a lone spike at 9 s made the "start-up" 9 s long), and memory back at
  // its level after a spike is not "climbing again". On a sawtooth a spike stands in for a tooth,
  // and its fall is that tooth's release too.
  const major = c.major.length >= 3 ? c.major : c.major.filter((d) => !spikes.some((sp) => Math.abs(d.peak.tMs - sp.tMs) <= sp.durationMs));
  const firstRelease = major.length ? major[0]!.trough.tMs : Infinity;
  const warmupEndMs = Math.max(env.startMs + WARMUP_SHARE * spanMs, firstRelease <= env.startMs + FIRST_RELEASE_MAX_SHARE * spanMs ? firstRelease : -Infinity);
  const majorAfter = major.filter((d) => d.trough.tMs >= warmupEndMs);
  const levelBytes = quantile(env.vMin, 0.5);
  const bigDropBytes = 4 * Math.max(MATERIAL_MIN_BYTES, MATERIAL_SHARE * levelBytes);
  const lastRelease = major[major.length - 1];
  // How far memory climbed after the last release. More than a few swings is not the next tooth:
  // it is growth with no release in it (a leak that starts once a launcher's processes are gone:
  // pyenv's shim is a dozen short bash processes whose exits read as 5 MiB "releases" before the
  // interpreter starts). The floors must then cover that climb: troughs of releases cannot.
  let climbBytes = 0;
  if (lastRelease) {
    let after = -Infinity;
    for (let b = 0; b < env.length; b++) if (env.tMax[b]! > lastRelease.trough.tMs && env.vMax[b]! > after) after = env.vMax[b]!;
    climbBytes = after - lastRelease.trough.bytes;
  }
  const grewSinceRelease = climbBytes > TOOTH_MAX_SWINGS * c.swingBytes && climbBytes >= bigDropBytes;
  const fromCycles = majorAfter.length >= MIN_FLOORS && !grewSinceRelease;
  // Window minima inside a tooth that is still rising at the end would read as growth: with
  // release cycles, stop at the last release when memory has climbed well above it since (by
  // about a tooth). Only for swings big enough to be mistaken for growth.
  let floorsToMs = Infinity;
  if (!fromCycles && lastRelease && lastRelease.trough.tMs > warmupEndMs && c.swingBytes >= bigDropBytes
    && climbBytes >= 0.5 * c.swingBytes && !grewSinceRelease) {
    floorsToMs = lastRelease.trough.tMs;
  }
  return { warmupEndMs, majorAfter, lastRelease, fromCycles, bigDropBytes, floorsToMs };
}

/**
 * The floors: the troughs after each release (≥ MIN_FLOORS of them), else minima of ~3-bucket
 * windows. Inside the body of a spike they are the spike's own climb, not what the program keeps:
 * they are left out when the floors on both sides of the spikes rise on their own at about one
 * rate (acrossSpikes), a leak the spike interrupted. Elsewhere they stay: the first tooth of a
 * starved sawtooth found as a spike is part of the cycles, and a load that stopped where a spike
 * began (a DataFrame built, then grouped) rose before it only.
 */
function floorStage({ env, spanMs }: EnvelopeFacts, c: CycleFacts, w: WarmupFacts, spikeSpans: SpikeFacts['spans']): FloorFacts {
  const all = w.fromCycles
    ? capPoints(w.majorAfter.map((d) => d.trough.tMs), w.majorAfter.map((d) => d.trough.bytes), 128)
    : windowMinima(env, w.warmupEndMs, 64, w.floorsToMs);
  const across = acrossSpikes(all.t, all.v, spikeSpans);
  const keep = (x: number) => !across || !spikeSpans.some((sp) => x >= sp.fromMs && x <= sp.toMs);
  const t = all.t.filter(keep);
  const v = all.v.filter((_, i) => keep(all.t[i]!));
  const summary: Floors | null = t.length
    ? {
        fromCycles: w.fromCycles, cycles: c.major.length, periodMs: c.periodMs, swingBytes: c.swingBytes, resolutionMs: spanMs / env.length, count: t.length,
        firstBytes: v[0]!, firstTMs: t[0]!, lastBytes: v[v.length - 1]!, lastTMs: t[t.length - 1]!, acrossSpikes: across,
      }
    : null;
  let analysedSamples = 0;
  for (let b = 0; b < env.length; b++) if (env.tMin[b]! >= w.warmupEndMs) analysedSamples += env.count[b]!;
  return { t, v, summary, analysedSamples, acrossSpikes: across };
}

/**
 * A leak the spikes interrupted: the floors before the first spike's body and after the last one's
 * (≥ MIN_FLOORS each) both rise (each slope's 90% interval above zero) at rates within
 * ACROSS_SPIKE_RATE_RATIO of each other. spike_leak.py (8 MB kept every 0.1 s, one pandas merge
 * that took 2.4 s to build on a busy machine) read "spike … not distinguishable from noise" with
 * the merge's climb among its floors: 30.7 → 147 MiB before it, 151 → 218 MiB after.
 */
function acrossSpikes(t: number[], v: number[], spans: SpikeFacts['spans']): FloorFacts['acrossSpikes'] {
  if (!spans.length) return null;
  const fromMs = Math.min(...spans.map((sp) => sp.fromMs));
  const toMs = Math.max(...spans.map((sp) => sp.toMs));
  const bi = t.findIndex((x) => x >= fromMs);
  const ai = t.findIndex((x) => x > toMs);
  if (bi < MIN_FLOORS || ai < 0 || t.length - ai < MIN_FLOORS) return null;
  const before = theilSen(t.slice(0, bi), v.slice(0, bi));
  const after = theilSen(t.slice(ai), v.slice(ai));
  if (!(before.low > 0 && after.low > 0)) return null;
  const ratio = after.slope / before.slope;
  if (!(ratio <= ACROSS_SPIKE_RATE_RATIO && ratio >= 1 / ACROSS_SPIKE_RATE_RATIO)) return null;
  return { fromMs, toMs, beforeBytesPerMinute: before.slope * 60_000, afterBytesPerMinute: after.slope * 60_000 };
}

/**
 * The current regime: the floors after the last change of trend of the retained floors (a
 * start-up or loading phase, a cache that filled, a worker that started).
 */
function regimeStage(f: FloorFacts): RegimeFacts {
  const gAll = suffixMin(f.v);
  const k0 = bestSplit(f.t, gAll);
  return {
    baselineBytes: median(f.v), gAll,
    t: f.t.slice(k0), v: f.v.slice(k0), g: gAll.slice(k0),
    before: k0 > 0 ? { untilMs: f.t[k0]!, riseBytes: gAll[k0]! - gAll[0]! } : null,
  };
}

/** The growth of the floors in the regime, how much of it was retained, and whether it goes on. */
function growthStage(f: FloorFacts, r: RegimeFacts): GrowthFacts {
  const { t, v, g } = r;
  const fit = theilSen(t, v);
  const perMin = 60_000;
  const retained = g[g.length - 1]! - g[0]!;
  const resid = v.map((x, i) => x - (fit.intercept + fit.slope * t[i]!));
  const scatter = robustSigma(resid);
  const materialBaseBytes = Math.max(MATERIAL_MIN_BYTES, MATERIAL_SHARE * r.baselineBytes);
  const material = Math.max(materialBaseBytes, MATERIAL_NOISE_K * scatter);
  const fromMs = t[0]!;
  const toMs = t[t.length - 1]!;
  const spanMs = Math.max(toMs - fromMs, 1);
  const lateStartMs = toMs - LATE_SHARE * spanMs;
  let lateIdx = t.findIndex((x) => x >= lateStartMs);
  if (lateIdx < 0 || lateIdx > t.length - 2) lateIdx = t.length - 2;
  const lateSpan = Math.max(toMs - t[lateIdx]!, 1);
  const lateRise = g[g.length - 1]! - g[lateIdx]!;
  const lateRate = lateRise / lateSpan;
  // Most of the rise in the last 15% of the span.
  let recentIdx = t.findIndex((x) => x >= toMs - RECENT_SHARE * spanMs);
  if (recentIdx <= 0) recentIdx = Math.max(0, t.length - 2);
  const recentRise = g[g.length - 1]! - g[recentIdx - 1 >= 0 ? recentIdx - 1 : 0]!;
  const recentFromMs = t[Math.max(0, recentIdx - 1)]!;
  // Level until the last third: judged on the regime and on all floors after the warm-up (a
  // change of trend can hide it).
  const allLateStart = toMs - LATE_SHARE * (toMs - f.t[0]!);
  let allLateIdx = f.t.findIndex((x) => x >= allLateStart);
  if (allLateIdx < 0) allLateIdx = f.t.length - 1;
  const regimeEarlyRise = g[lateIdx]! - g[0]!;
  const earlyRise = Math.min(regimeEarlyRise, r.gAll[allLateIdx]! - r.gAll[0]!);
  const levelInRegime = regimeEarlyRise < materialBaseBytes;
  return {
    levelThenRise: levelThenRise(f.t, r.gAll, materialBaseBytes),
    fit, materialBaseBytes, spanMs, lateIdx, lateRise, lateRate, recentRise, recentFromMs, earlyRise,
    levelUntilMs: levelInRegime ? t[lateIdx]! : f.t[allLateIdx]!,
    riseAfterLevelBytes: g[g.length - 1]! - (levelInRegime ? g[lateIdx]! : r.gAll[allLateIdx]!),
    growth: {
      bytesPerMinute: fit.slope * perMin, lowBytesPerMinute: fit.low * perMin, highBytesPerMinute: fit.high * perMin,
      fromMs, toMs, retainedBytes: retained, lateBytesPerMinute: lateRate * perMin, materialBytes: material,
    },
    significant: fit.low > 0,
    rising: retained >= material,
    continuing: lateRate >= LATE_MIN_RATIO * (retained / spanMs) && lateRise > 0,
  };
}

/** The latest level stretch of the retained floors g followed by a much steeper rise to the end (LEVEL_*). */
function levelThenRise(t: number[], g: number[], levelBytes: number): GrowthFacts['levelThenRise'] {
  const n = t.length;
  if (n < 2) return null;
  const span = t[n - 1]! - t[0]!;
  const total = g[n - 1]! - g[0]!;
  let i = 0;
  let found: GrowthFacts['levelThenRise'] = null;
  for (let j = 0; j < n; j++) {
    // g is non-decreasing (suffix minima): the earliest i with g[j] - g[i] under the level.
    while (g[j]! - g[i]! >= levelBytes) i++;
    const riseAfter = g[n - 1]! - g[j]!;
    if (t[j]! - t[i]! >= LEVEL_MIN_SHARE * span && t[j]! - t[0]! >= LEVEL_END_MIN_SHARE * span
      && riseAfter >= LEVEL_RISE_AFTER_SHARE * total
      // The level stretch's rate at most a tenth of the rate after it.
      && (g[j]! - g[i]!) * (t[n - 1]! - t[j]!) <= LEVEL_FLATNESS_RATIO * riseAfter * (t[j]! - t[i]!)) {
      found = { fromMs: t[i]!, untilMs: t[j]!, riseAfterBytes: riseAfter };
    }
  }
  return found;
}

/**
 * Shape notes for the evidence. A step (a model loaded mid-run, a runtime growing its heap once)
 * is two plateaus: a two-level fit of the retained floors beats a straight line by far. A leak,
 * even a chunky one, is closer to a line.
 */
function shapeStage(e: EnvelopeFacts, c: CycleFacts, w: WarmupFacts, f: FloorFacts, r: RegimeFacts, gr: GrowthFacts): ShapeFacts {
  const { env } = e;
  const { t, v, g } = r;
  const material = gr.growth.materialBytes;
  const retained = gr.growth.retainedBytes;
  const shape: ShapeFacts = { warmup: null, saturatedAtMs: null, step: null, release: null };
  const step = stepFit(t, g);
  const preWarm = windowMinima(env, env.startMs, 8);
  // The warm-up is worth a word when memory rose there much faster than the floors do after it.
  const first = f.summary!.firstBytes;
  const warmRise = first - (preWarm.v[0] ?? first);
  if (warmRise >= material && warmRise > 3 * Math.max(0, gr.fit.slope) * (w.warmupEndMs - env.startMs)) {
    // The start-up ends where the lows first reach 90% of the rise, not at the end of the
    // warm-up share: a spike or a quiet stretch inside the warm-up is not start-up.
    const reached = preWarm.v[0]! + 0.9 * warmRise;
    let b = 0;
    while (b < env.length - 1 && env.tMin[b]! < w.warmupEndMs && env.vMin[b]! < reached) b++;
    shape.warmup = { toMs: Math.min(w.warmupEndMs, env.tMin[b]!), fromBytes: preWarm.v[0]!, toBytes: first };
  }
  let releaseDrop = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v[i]! - g[i]!;
    if (d > releaseDrop && d >= Math.max(gr.materialBaseBytes, c.swingThresholdBytes)) {
      releaseDrop = d;
      // Released where the floors first come down to the retained level.
      let j = i;
      while (j < v.length - 1 && v[j]! > g[i]! + 0.5 * d) j++;
      shape.release = { atMs: t[j]!, fromBytes: v[i]!, toBytes: g[i]! };
    }
  }
  // Retained growth before the late part, none in it: saturation; record when it stopped.
  const lateSpan = Math.max(gr.growth.toMs - t[gr.lateIdx]!, 1);
  if (retained >= material && gr.lateRise < LATE_MIN_RATIO * (retained / gr.spanMs) * lateSpan) {
    let k = g.length - 1;
    while (k > 0 && g[k - 1]! >= g[g.length - 1]! - 0.1 * retained) k--;
    shape.saturatedAtMs = t[k]!;
  }
  if (retained >= material && step && step.sse <= STEP_SSE_RATIO * lineFit(t, g, 0, g.length).sse) {
    // From the first floor the evidence names: when the floors analysed begin partway up the climb
    // (a launcher's start-up read as the warm-up, then a 50 MiB allocation), the two levels
    // alone said "one step of 15.6 MiB".
    const bytes = Math.max(step.rise, step.upper - first);
    // One step is one jump: most of the rise within a tenth of the span. Six 30 MiB stairs 0.7 s
    // apart fit two levels as well, and read "one step of 166 MiB"; they are a rise that levelled off.
    // (Said, not ruled on: the rules treat both as a step, not a leak.)
    const oneJump = largestRiseWithin(t, g, STEP_WINDOW_SHARE * Math.max(1, t[t.length - 1]! - t[0]!)) >= STEP_CONCENTRATION * bytes;
    shape.step = { atMs: step.atMs, bytes, oneJump };
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------
// Rules: an ordered list, each small and named, each reading the facts of the stages it names and
// either deciding or passing (null). A stage runs just before the first rule that needs it; the
// analysis carries the facts of every stage that ran before the decision. The first rule that
// decides is the verdict, and the analysis names it (`rule`).

type StageName = 'trim' | 'envelope' | 'cycles' | 'spikes' | 'warmup' | 'floors' | 'regime' | 'growth' | 'shape';
const STAGE_ORDER: StageName[] = ['trim', 'envelope', 'cycles', 'spikes', 'warmup', 'floors', 'regime', 'growth', 'shape'];

/** What a rule decides: insufficient data (why), or a verdict the report words from the facts. */
type Decision = { insufficient: string } | { verdict: 'leak' | 'spike' | 'stable' };

export interface Rule {
  name: string;
  /** The last stage whose facts the rule reads. */
  needs: StageName;
  decide(f: Required<Facts>): Decision | null;
}

/** A leak by the growth facts alone, before the rules that may find it too early to call. */
function leakLike(f: Required<Facts>): boolean {
  const gr = f.growth;
  return gr.significant && gr.rising && gr.continuing && f.shape.step === null;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const RULES: readonly Rule[] = [
  {
    name: 'too-few-samples',
    needs: 'trim',
    decide: ({ trim }) => {
      const n = trim.to - trim.from;
      return n < MIN_SAMPLES ? { insufficient: `only ${plural(n, 'sample')} with memory in use; at least ${MIN_SAMPLES} are needed` } : null;
    },
  },
  {
    name: 'no-time-span',
    needs: 'envelope',
    decide: ({ envelope }) => (envelope.spanMs > 0 ? null : { insufficient: 'all samples have the same time' }),
  },
  {
    // Window minima would stop at the last release and read the next tooth as growth.
    name: 'climbing-again',
    needs: 'warmup',
    decide: ({ warmup: w }) =>
      w.floorsToMs < Infinity && w.majorAfter.length < 2
        ? { insufficient: `only ${plural(w.majorAfter.length, 'release cycle')} after the warm-up, and memory is climbing again: ${MIN_FLOORS} cycles are needed to judge the floors` }
        : null,
  },
  {
    // A release just before the end is no evidence yet that memory stays down (it may be the
    // first tooth of a sawtooth, or the exit).
    name: 'release-at-end',
    needs: 'warmup',
    decide: ({ envelope: { env, spanMs }, warmup: w, toRecMs }) => {
      const last = w.lastRelease;
      if (w.fromCycles || !last || w.majorAfter.length >= 2) return null;
      if (env.endMs - last.trough.tMs < RELEASE_MIN_AFTER_SHARE * spanMs && last.drop >= w.bigDropBytes) {
        return { insufficient: `memory was released at ${formatClock(toRecMs(last.trough.tMs))}, just before the end: too early to tell whether it stays down` };
      }
      return null;
    },
  },
  {
    name: 'too-few-samples-analysed',
    needs: 'floors',
    decide: ({ envelope: { env }, warmup: w, floors: f }) =>
      f.analysedSamples < MIN_ANALYSED_SAMPLES
        ? { insufficient: `only ${plural(f.analysedSamples, 'sample')} after the warm-up (the first ${formatDuration(w.warmupEndMs - env.startMs)}); at least ${MIN_ANALYSED_SAMPLES} are needed` }
        : null,
  },
  {
    name: 'too-short-analysed',
    needs: 'floors',
    decide: ({ envelope: { env }, warmup: w }) =>
      env.endMs - w.warmupEndMs < MIN_ANALYSED_MS
        ? { insufficient: `only ${formatDuration(env.endMs - w.warmupEndMs)} after the warm-up (the first ${formatDuration(w.warmupEndMs - env.startMs)}); at least ${formatDuration(MIN_ANALYSED_MS)} are needed` }
        : null,
  },
  {
    name: 'too-few-floors',
    needs: 'floors',
    decide: ({ cycles: c, warmup: w, floors: f }) => {
      if (f.t.length >= MIN_FLOORS) return null;
      return {
        insufficient: c.major.length >= 2
          ? `only ${plural(w.majorAfter.length, 'release cycle')} after the warm-up (${MIN_FLOORS} are needed to judge the floors)`
          : `only ${f.t.length} floor points after the warm-up; record longer or sample faster`,
      };
    },
  },
  {
    // Most of the rise in the last 15% of the span: a step just before the end looks like the
    // start of a leak; only more recording can tell them apart.
    name: 'rise-too-recent',
    needs: 'shape',
    decide: (f) => {
      const gr = f.growth;
      if (!leakLike(f) || !(gr.recentRise > RECENT_MAX_SHARE * gr.growth.retainedBytes)) return null;
      return { insufficient: `the floors rose by ${formatBytes(gr.recentRise)} of their ${formatBytes(gr.growth.retainedBytes)} in the last ${formatDuration(gr.growth.toMs - gr.recentFromMs)}: too recent to tell a step from a leak; record longer` };
    },
  },
  {
    // Level until the last third, then up: a spike or a step still under way, or a leak that
    // just began; the end of the recording cannot say which.
    name: 'rise-too-late',
    needs: 'shape',
    decide: (f) => {
      const gr = f.growth;
      if (!leakLike(f) || !(gr.earlyRise < gr.materialBaseBytes)) return null;
      return { insufficient: `the floors were level until ${formatClock(f.toRecMs(gr.levelUntilMs))} and rose ${formatBytes(gr.riseAfterLevelBytes)} only after: too late in the recording to tell a leak from a step or a spike; record longer` };
    },
  },
  {
    // Level for a quarter of the span or more, then most of the rise at once near the end (see
    // LEVEL_*): a spike or a step filled slowly on a starved machine and cut by the exit, or a
    // leak that began late; only more recording can tell.
    name: 'rise-after-level',
    needs: 'shape',
    decide: (f) => {
      const l = f.growth.levelThenRise;
      // The rise after the level stretch must count as growth on its own (≥ the scatter-aware
      // material rise): the suffix minima of noisy floors have flat stretches on a steady leak.
      if (!leakLike(f) || !l || l.riseAfterBytes < f.growth.growth.materialBytes) return null;
      return { insufficient: `the floors were level from ${formatClock(f.toRecMs(l.fromMs))} to ${formatClock(f.toRecMs(l.untilMs))} and rose ${formatBytes(l.riseAfterBytes)} only after: a spike or step still under way at the end, or a leak that just began; record longer` };
    },
  },
  {
    // Memory fell once (a collector ran, a cache was trimmed) after a slow climb, and the growth is
    // measured on the climb back: while it has not gone above where the fall began, it is the next
    // tooth of a slow sawtooth (V8's old generation between full collections), not yet a leak. A
    // capped Map in Node (held-out trial, 31 s) read "leak (high) +206 MiB/min" over its last 5.6 s,
    // at 113 MiB under the 114 MiB V8 collected from at 16.5 s. A brief spike before a leak is no
    // such tooth: memory must have been above the fall's trough for a quarter of the time since.
    name: 'refill-below-earlier-high',
    needs: 'shape',
    decide: (f) => {
      const last = f.warmup.lastRelease;
      if (!leakLike(f) || !last || last.drop < f.growth.growth.materialBytes) return null;
      const r = f.regime;
      const now = r.v[r.v.length - 1]!;
      if (r.t[0]! < last.trough.tMs || now > last.peak.bytes) return null;
      const { env } = f.envelope;
      let k = 0;
      while (k < env.length - 1 && env.tMax[k + 1]! <= last.peak.tMs) k++;
      while (k > 0 && env.vMin[k - 1]! >= last.trough.bytes) k--;
      const toothMs = last.peak.tMs - env.tMin[k]!;
      if (toothMs < REFILL_TOOTH_SHARE * (env.endMs - last.trough.tMs)) return null;
      return { insufficient: `memory fell from ${formatBytes(last.peak.bytes)} to ${formatBytes(last.trough.bytes)} at ${formatClock(f.toRecMs(last.trough.tMs))} and has been climbing back since, to ${formatBytes(now)}: not above where it fell from, the next tooth of a slow sawtooth (a garbage collector's cycle, a cache refilled) as much as a leak; record longer` };
    },
  },
  {
    // A few release cycles: the window minima cannot see a small leak under a large sawtooth,
    // and the troughs are too few for an interval. Rising troughs leave the question open.
    // Level means level here: within 0.5% (≥ 256 KiB), not the 2% a trend over many floors needs.
    name: 'few-cycles-rising',
    needs: 'shape',
    decide: (f) => {
      const w = f.warmup;
      if (leakLike(f) || w.fromCycles || w.majorAfter.length < 2) return null;
      const troughs = suffixMin(w.majorAfter.map((d) => d.trough.bytes));
      const troughRise = troughs[troughs.length - 1]! - troughs[0]!;
      if (troughRise < Math.max(256 * 1024, 0.005 * troughs[0]!)) return null;
      // Enough cycles, but not taken as floors: memory climbed well above the last one since.
      if (w.majorAfter.length >= MIN_FLOORS) return { insufficient: `memory climbed to a new level after the last of ${w.majorAfter.length} release cycles, whose floors rose ${formatBytes(troughRise)}: too few cycles at that level to tell a leak from a step` };
      return { insufficient: `only ${w.majorAfter.length} release cycles after the warm-up and their floors rose ${formatBytes(troughRise)}: ${MIN_FLOORS} cycles are needed to tell a leak from noise` };
    },
  },
  { name: 'leak', needs: 'shape', decide: (f) => (leakLike(f) ? { verdict: 'leak' } : null) },
  { name: 'spike', needs: 'shape', decide: (f) => (f.spikes.length > 0 ? { verdict: 'spike' } : null) },
  { name: 'stable', needs: 'shape', decide: () => ({ verdict: 'stable' }) },
];

/** Runs one stage on the facts so far (its inputs ran before it: STAGE_ORDER). */
function runStage(name: StageName, f: Facts): void {
  switch (name) {
    case 'trim':
      return;
    case 'envelope':
      f.envelope = envelopeStage(f.s, f.trim, f.teardownAt);
      return;
    case 'cycles':
      f.cycles = cycleStage(f.envelope!);
      return;
    case 'spikes': {
      const sp = findSpikes(f.envelope!.env, f.cycles!.pivotsWithFinal, f.cycles!.major.map((d) => d.peak), usualSwing(f.cycles!), f.envelope!.spanMs);
      f.spikes = sp.spikes;
      f.spikeSpans = sp.spans;
      return;
    }
    case 'warmup':
      f.warmup = warmupStage(f.envelope!, f.cycles!, f.spikes!);
      return;
    case 'floors':
      f.floors = floorStage(f.envelope!, f.cycles!, f.warmup!, f.spikeSpans!);
      return;
    case 'regime':
      f.regime = regimeStage(f.floors!);
      return;
    case 'growth':
      f.growth = growthStage(f.floors!, f.regime!);
      return;
    case 'shape':
      f.shape = shapeStage(f.envelope!, f.cycles!, f.warmup!, f.floors!, f.regime!, f.growth!);
      return;
  }
}

/** Analyses one series (a tree total or a process's RSS): the stages, then the first rule that decides. */
export function analyzeSeries(series: Series, ctx: SeriesContext = {}): SeriesAnalysis {
  const { s, toRecMs, pausedMs } = withoutPauses(series, ctx.pauses ?? []);
  const facts: Facts = { s, ctx, toRecMs, trim: trimStage(s) };
  // The shutdown's start in analysis time: the first sample after it, on recording times.
  let teardownText: string | null = null;
  if (ctx.teardown && Number.isFinite(ctx.teardown.fromMs)) {
    const cut = knownTeardownCut(s, facts.trim, ctx.teardown.fromMs, toRecMs);
    if (cut) {
      facts.teardownAt = cut.at;
      const { before, low } = cut;
      // Said when it freed something that matters (what the fall at exit would have been).
      if (before - low >= Math.max(MiB, 0.1 * before)) {
        teardownText = `${ctx.teardown.lead} at ${formatClock(ctx.teardown.fromMs)}${ctx.teardown.detail ? ` (${ctx.teardown.detail})` : ''}: the ${formatBytes(before - low)} freed after that (${formatBytes(before)} → ${formatBytes(low)}) is left out, a shutdown and not a release`;
      }
    } else if (facts.trim.to > facts.trim.from && toRecMs(s.tMs[facts.trim.to - 1]!) <= ctx.teardown.fromMs) {
      // Every sample came before the shutdown began: a fall among the last ones is the program's own
      // release, not the exit the last-samples heuristic would cut (a slow sawtooth whose last tooth
      // was released 0.5 s before the interpreter said it was exiting read "the floors … rose 140 MiB
      // only after: a spike or step still under way at the end": held-out trial, p02).
      facts.teardownAt = facts.trim.to;
    }
  }
  let ran = 0;
  for (const rule of RULES) {
    const need = STAGE_ORDER.indexOf(rule.needs);
    while (ran < need) runStage(STAGE_ORDER[++ran]!, facts);
    const d = rule.decide(facts as Required<Facts>);
    if (d) {
      const a = report(facts, rule.name, d);
      if (teardownText && a.verdict !== 'insufficient data') a.evidence.push(teardownText);
      // memhunt's censuses are said by the caller (analyze.ts); a stop (pdb, a `stop` action) here.
      const stops = (ctx.pauses ?? []).filter((p) => !p.census && p.toMs > p.fromMs);
      if (pausedMs > 0 && stops.length && a.verdict !== 'insufficient data') {
        const debuggerBytes = stops.reduce((x, p) => x + Math.max(0, p.bytes ?? 0), 0);
        const pdb = debuggerBytes > 0 ? `; the ${formatBytes(debuggerBytes)} pdb added while it was stopped (the debugger's, not the program's) too` : '';
        const stoppedMs = stops.reduce((x, p) => x + (p.toMs - p.fromMs), 0);
        a.evidence.push(`the tree was stopped for ${formatDuration(stoppedMs)} (${stops.map((p) => `${formatClock(p.fromMs)}–${formatClock(p.toMs)}`).join(', ')}): left out of the growth${pdb}`);
      }
      return a;
    }
  }
  throw new Error('the last rule always decides');
}

/**
 * The series on running time: samples strictly inside a pause dropped, later ones moved back by
 * the paused time before them. Returns the mapping back to recording time.
 */
function withoutPauses(s: Series, pauses: ReadonlyArray<{ fromMs: number; toMs: number; bytes?: number }>): { s: Series; toRecMs: (t: number) => number; pausedMs: number; debuggerBytes: number } {
  const spans = pauses.filter((p) => p.toMs > p.fromMs).map((p) => ({ fromMs: p.fromMs, toMs: p.toMs, bytes: Math.max(0, p.bytes ?? 0) })).sort((a, b) => a.fromMs - b.fromMs);
  if (!spans.length) return { s, toRecMs: (t) => t, pausedMs: 0, debuggerBytes: 0 };
  // Merge overlapping pauses; shifts[k] = paused time before the k-th pause ends.
  const merged: Array<{ fromMs: number; toMs: number; bytes: number }> = [];
  for (const p of spans) {
    const last = merged[merged.length - 1];
    if (last && p.fromMs <= last.toMs) {
      last.toMs = Math.max(last.toMs, p.toMs);
      last.bytes += p.bytes;
    } else merged.push(p);
  }
  const tOut: number[] = [];
  const vOut: number[] = [];
  let k = 0;
  let shift = 0;
  let less = 0; // the debugger's memory of the pauses that ended before t
  for (let i = 0; i < s.tMs.length; i++) {
    const t = s.tMs[i]!;
    while (k < merged.length && t >= merged[k]!.toMs) {
      shift += merged[k]!.toMs - merged[k]!.fromMs;
      less += merged[k]!.bytes;
      k++;
    }
    if (k < merged.length && t > merged[k]!.fromMs) continue; // inside a pause
    tOut.push(t - shift);
    vOut.push(Math.max(0, s.values[i]! - less));
  }
  // Analysis time a maps back to a + the length of every pause that began at or before it (in analysis time).
  const starts: Array<{ atMs: number; shiftMs: number }> = [];
  let total = 0;
  for (const p of merged) {
    starts.push({ atMs: p.fromMs - total, shiftMs: total + (p.toMs - p.fromMs) });
    total += p.toMs - p.fromMs;
  }
  const toRecMs = (t: number) => {
    let sh = 0;
    for (const st of starts) if (t > st.atMs) sh = st.shiftMs;
    return t + sh;
  };
  return { s: { ...s, tMs: Float64Array.from(tOut), values: Float64Array.from(vOut) }, toRecMs, pausedMs: total, debuggerBytes: less };
}

/** Moves every time of an analysis made on running time back to recording time. */
function toRecordingTimes(a: SeriesAnalysis, m: (t: number) => number): void {
  a.startMs = m(a.startMs);
  a.endMs = m(a.endMs);
  a.analyzedFromMs = m(a.analyzedFromMs);
  a.analyzedToMs = m(a.analyzedToMs);
  a.peakTMs = m(a.peakTMs);
  if (a.growth) a.growth = { ...a.growth, fromMs: m(a.growth.fromMs), toMs: m(a.growth.toMs) };
  if (a.floors) {
    const x = a.floors.acrossSpikes;
    a.floors = { ...a.floors, firstTMs: m(a.floors.firstTMs), lastTMs: m(a.floors.lastTMs), acrossSpikes: x && { ...x, fromMs: m(x.fromMs), toMs: m(x.toMs) } };
  }
  a.spikes = a.spikes.map((sp) => ({ ...sp, tMs: m(sp.tMs) }));
  const sh = a.shape;
  a.shape = {
    warmup: sh.warmup && { ...sh.warmup, toMs: m(sh.warmup.toMs) },
    before: sh.before && { ...sh.before, untilMs: m(sh.before.untilMs) },
    saturatedAtMs: sh.saturatedAtMs === null ? null : m(sh.saturatedAtMs),
    step: sh.step && { ...sh.step, atMs: m(sh.step.atMs) },
    release: sh.release && { ...sh.release, atMs: m(sh.release.atMs) },
  };
}

/** The analysis: the facts of every stage that ran, the decision and its words. */
function report(f: Facts, rule: string, d: Decision): SeriesAnalysis {
  const { s, trim } = f;
  const n = s.values.length;
  const { from, to } = trim;
  const a: SeriesAnalysis = {
    verdict: 'insufficient data', confidence: 0, confidenceLabel: 'low', reason: '', evidence: [], rule,
    samples: to - from,
    startMs: n ? s.tMs[from < to ? from : 0]! : NaN,
    endMs: n ? s.tMs[to > from ? to - 1 : n - 1]! : NaN,
    analyzedFromMs: NaN, analyzedToMs: NaN, baselineBytes: NaN,
    peakBytes: trim.peak.bytes, peakTMs: trim.peak.tMs,
    growth: null, floors: null, spikes: f.spikes ?? [], projection: null,
    shape: { warmup: null, before: null, saturatedAtMs: null, step: null, release: null },
  };
  if (f.floors) {
    a.floors = f.floors.summary;
    a.analyzedFromMs = f.warmup!.warmupEndMs;
    a.analyzedToMs = f.envelope!.env.endMs;
  }
  if (f.regime) {
    a.baselineBytes = f.regime.baselineBytes;
    a.shape.before = f.regime.before;
  }
  if (f.growth) a.growth = f.growth.growth;
  if (f.shape) a.shape = { warmup: f.shape.warmup, before: a.shape.before, saturatedAtMs: f.shape.saturatedAtMs, step: f.shape.step, release: f.shape.release };
  toRecordingTimes(a, f.toRecMs);
  if ('insufficient' in d) {
    a.reason = `insufficient data: ${d.insufficient}`;
    a.evidence = [d.insufficient, ...a.spikes.map(spikeText)];
    return a;
  }
  const ff = f as Required<Facts>;
  const gr = ff.growth;
  const floors = ff.floors.summary!;
  const fit = gr.fit;
  const nFloors = ff.regime.t.length;
  const g = gr.growth;
  a.verdict = d.verdict;
  a.projection = projection(f.ctx, floors, d.verdict === 'leak' ? Math.max(fit.slope, 0) : 0);
  if (d.verdict === 'leak') {
    a.confidence = confidenceOf([
      ramp(nFloors, MIN_FLOORS, 16),
      clamp01(fit.low / fit.slope),
      ramp(g.retainedBytes / g.materialBytes, 1, 4),
      clamp01(gr.lateRate / (g.retainedBytes / gr.spanMs)),
    ]);
  } else if (d.verdict === 'spike') {
    const s0 = a.spikes.reduce((x, y) => (y.aboveTypicalBytes > x.aboveTypicalBytes ? y : x));
    a.confidence = confidenceOf([ramp(s0.aboveTypicalBytes / spikeThreshold(s0.peakBytes - s0.aboveTypicalBytes, usualSwing(ff.cycles)), 1, 4), ramp(nFloors, MIN_FLOORS, 16)]);
  } else {
    // Sure when even the top of the interval would not have grown the floors materially.
    const worst = Number.isFinite(fit.high) ? Math.max(0, fit.high) * gr.spanMs : Infinity;
    a.confidence = confidenceOf([ramp(nFloors, MIN_FLOORS, 16), Number.isFinite(worst) ? clamp01(g.materialBytes / Math.max(g.materialBytes, worst)) : 0.3]);
  }
  a.confidenceLabel = labelOf(a.confidence);
  describe(a, { significant: gr.significant, rising: gr.rising, continuing: gr.continuing, oneStep: a.shape.step !== null });
  return a;
}

/**
 * The level memory held before the process's teardown, when the last samples fall as it exits (the
 * fall the verdicts leave out: trimTeardown); null when no such fall is seen. "final" (the last
 * sample) is then the interpreter freeing its heap: spike_leak.py held 222 MiB at 6.96 s, and its
 * last sample read 69.3 MiB.
 */
export function levelBeforeExit(s: Series, teardownFromMs: number | null = null): { bytes: number; tMs: number } | null {
  const trim = trimStage(s);
  if (trim.to - trim.from < MIN_SAMPLES) return null;
  let cut: number;
  if (teardownFromMs !== null) {
    // Known (the interpreters said when their shutdown began): the level then, when it fell after.
    const known = knownTeardownCut(s, trim, teardownFromMs);
    if (!known || known.low >= 0.9 * known.before) return null;
    cut = known.at;
  } else {
    cut = trimTeardown(s, trim.from, trim.to, trim.peak.bytes, trim.noNaN);
  }
  if (cut >= trim.to) return null;
  return { bytes: s.values[cut - 1]!, tMs: s.tMs[cut - 1]! };
}

/**
 * Where a shutdown that began at fromMs (recording time; toRecMs maps the series' times to it) cuts
 * the trimmed series: one past the last sample before it, the level there and the lowest after;
 * null when no sample is on either side.
 */
function knownTeardownCut(s: Series, trim: { from: number; to: number }, fromMs: number, toRecMs: (t: number) => number = (t) => t): { at: number; before: number; low: number } | null {
  let at = trim.to;
  while (at > trim.from && toRecMs(s.tMs[at - 1]!) > fromMs) at--;
  if (at <= trim.from || at >= trim.to) return null;
  let low = Infinity;
  for (let i = at; i < trim.to; i++) if (s.values[i]! < low) low = s.values[i]!;
  return { at, before: s.values[at - 1]!, low };
}

/**
 * The fall at exit: within the last 5% of the run (≤ 10 s, ≥ 2 samples), if the memory falls
 * from its maximum there by more than 10%, and to below where it was before that maximum (as
 * far back as a spike may last; else it is a spike that came back down), the samples after that maximum are dropped. A Python
 * or Node process frees its heap while exiting; that is not the program releasing memory.
 */
function trimTeardown(s: Series, from: number, to: number, peakBytes: number, noNaN: boolean): number {
  const t = s.tMs;
  const v = s.values;
  const span = t[to - 1]! - t[from]!;
  const windowMs = Math.min(TEARDOWN_SHARE * span, TEARDOWN_MAX_MS);
  // The exit is the last fall only: where memory held a level (three samples within 1%) before
  // it, that level is what the program left, and a fall before it was the program's own
  // release. memory_profiler's numpy example frees 760 MiB when its function returns, holds
  // 475 MiB for 0.4 s, then exits: cutting at the 1.2 GiB top made it "leak +5 GiB/min".
  const descentFrom = finalDescentStart(v, from, to, peakBytes, noNaN);
  let k = to - 1;
  let best = to - 1;
  let steps = 0;
  while (k > Math.max(from, descentFrom) && (t[to - 1]! - t[k - 1]! <= windowMs || steps < 2)) {
    k--;
    steps++;
    if (v[k]! > v[best]!) best = k;
  }
  // A spike near the end is not a teardown: after it memory is back at the level it rose from
  // (within 10%), where an exit falls below everything before it, or stops partway down a rise
  // that was never held (a sample taken while the interpreter frees its heap). The level it rose
  // from is the foot of the rise to the maximum: the first level held for a teardown window
  // walking back, as far back as a spike may last (SPIKE_MAX_SHARE of the run), not only in the
  // window: a 150 MiB spike released 0.1 s before the exit of a 5 s job filled the whole 0.25 s
  // window, its fall was cut as the exit, and the spike read as "one step of 112 MiB". A steady
  // leak up to the exit has no held level: a last sample caught halfway through the interpreter's
  // teardown (70 → 54 MiB of a 3 s ramp from 3 MiB) is the exit, not "what accumulated was released".
  const lookbackMs = Math.max(windowMs, SPIKE_MAX_SHARE * span);
  const foot = riseFoot(s, from, best, windowMs, lookbackMs);
  const base = v[foot.at]!;
  const last = v[to - 1]!;
  const backAtBase =
    foot.kind !== 'none' && last >= 0.9 * base && last <= (foot.kind === 'held' ? base + 0.25 * (v[best]! - base) : 1.1 * base);
  // A fall of 10% or more; or, in the very last sample alone (nothing after it held the lower
  // level), one of 5% and at least what counts as growth: a Node process's last sample 30 ms before
  // it was gone read 87.6 → 79.3 MiB (9.5%), and a steady leak became "stable: what accumulated was
  // released at 00:08.4" (held-out re-trial, n20).
  const fall = v[best]! - last;
  const lastAlone = best === to - 2 && fall >= Math.max(MATERIAL_MIN_BYTES, 0.05 * v[best]!);
  if (best < to - 1 && (last < 0.9 * v[best]! || lastAlone) && !backAtBase && best - from >= MIN_SAMPLES) return best + 1;
  return to;
}

/**
 * The foot of the rise that ends at v[top]: walking back from the top while memory keeps falling
 * (noise of 2% of the top allowed), once below 90% of the top, to the first level held for heldMs (within that noise), or to
 * a trough (memory was higher before it). `none`: the rise goes on further back than lookbackMs
 * or to the start: longer than a spike lasts.
 */
function riseFoot(s: Series, from: number, top: number, heldMs: number, lookbackMs: number): { at: number; kind: 'held' | 'trough' | 'none' } {
  const t = s.tMs;
  const v = s.values;
  const tol = 0.02 * v[top]!;
  let k = top;
  while (k > from) {
    // The top itself may be held (a spike that lasts): the foot is below it.
    if (v[k]! < 0.9 * v[top]!) {
      let j = k;
      while (j > from && Math.abs(v[j - 1]! - v[k]!) <= tol) j--;
      if (j < k && t[k]! - t[j]! >= heldMs) return { at: k, kind: 'held' };
      if (v[k - 1]! > v[k]! + tol) return { at: k, kind: 'trough' };
    }
    if (t[top]! - t[k - 1]! > lookbackMs) return { at: k, kind: 'none' };
    k--;
  }
  return { at: k, kind: 'none' };
}

/**
 * Where the final fall of v[from, to) begins: walking back over the level it ends at (up to twice
 * the last sample or a tenth of the way to the peak: what is left while the process exits, with
 * its noise), then up the fall, the first rise or
 * the first level held for two steps.
 */
function finalDescentStart(v: ArrayLike<number>, from: number, to: number, maxBytes: number, noNaN: boolean): number {
  // The highest of v[from, to) (the trim stage's peak), at least 0: no second pass over the samples.
  const peak = maxBytes > 0 ? maxBytes : 0;
  const last = v[to - 1]!;
  const bottom = Math.max(2 * last, last + 0.1 * (peak - last));
  let end = to - 1;
  // Everything at or below the bottom (a run that ends at its highest level): the walk would reach
  // `from` (it stops early only at a NaN), so it is not made, one cold pass over 1 M samples less.
  if (noNaN && maxBytes <= bottom) end = from;
  while (end > from && v[end - 1]! <= bottom) end--;
  let flat = 0;
  for (let k = end; k > from; k--) {
    const tol = 0.01 * v[k]!;
    if (v[k - 1]! < v[k]! - tol) return k;
    if (v[k - 1]! <= v[k]! + tol) {
      if (++flat >= 2) return k;
    } else {
      flat = 0;
    }
  }
  return from;
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

/** The largest rise of y (its highest point less the lowest before it) within any windowMs of t. */
function largestRiseWithin(t: number[], y: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0; i < y.length; i++) {
    let low = y[i]!;
    for (let j = i + 1; j < y.length && t[j]! - t[i]! <= windowMs; j++) {
      if (y[j]! - low > best) best = y[j]! - low;
      if (y[j]! < low) low = y[j]!;
    }
  }
  return best;
}

/** The best two-level (step) fit of y (least squares): where the upper level starts, the rise between the levels, the squared error. */
function stepFit(t: number[], y: number[]): { atMs: number; upper: number; rise: number; sse: number } | null {
  const n = y.length;
  if (n < 4) return null;
  const pre: number[] = [0];
  const pre2: number[] = [0];
  for (let i = 0; i < n; i++) {
    pre.push(pre[i]! + y[i]!);
    pre2.push(pre2[i]! + y[i]! * y[i]!);
  }
  const sse = (a: number, b: number) => pre2[b]! - pre2[a]! - (pre[b]! - pre[a]!) ** 2 / (b - a);
  let bestK = -1;
  let bestSse = Infinity;
  for (let k = 2; k <= n - 2; k++) {
    const e = sse(0, k) + sse(k, n);
    if (e < bestSse) {
      bestSse = e;
      bestK = k;
    }
  }
  if (bestK < 0) return null;
  // The rise between the two levels' medians, not their means: the points of the climb between
  // them belong to neither level (a 50 MiB allocation after a launcher's start-up: the means
  // gave "one step of 15.6 MiB").
  const upper = median(y.slice(bestK));
  return { atMs: t[bestK]!, upper, rise: upper - median(y.slice(0, bestK)), sse: bestSse };
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

/**
 * The usual swing a spike must exceed: the median release, when there are at least 3 (a
 * rhythm). With one or two, those drops may be the spikes' own falls: a lone spike on a flat line
 * was measured against itself and never found.
 */
function usualSwing(c: CycleFacts): number {
  return c.major.length >= 3 ? c.swingBytes : 0;
}

function spikeThreshold(typicalTopBytes: number, swingBytes: number): number {
  return Math.max(SPIKE_MIN_BYTES, SPIKE_SHARE * typicalTopBytes, swingBytes);
}

/**
 * Step 7: peaks far above the typical top around them, short, and given back on both sides. With
 * each, the span of its body (spikeSpan): the floors read there are the spike, not the memory the
 * program keeps.
 */
function findSpikes(env: Envelope, pivots: Pivot[], majorPeaks: Pivot[], swingBytes: number, spanMs: number): SpikeFacts {
  const spikes: Spike[] = [];
  const spans: SpikeFacts['spans'] = [];
  const ctxMs = SPIKE_CONTEXT_SHARE * spanMs;
  // The typical top around t: the median of the peaks within ±ctxMs (the tops of the teeth of a
  // sawtooth), or of the bucket maxima where there are fewer than 3 peaks (a flat line). Computed
  // at 128 anchors: a sawtooth at 1/2048 resolution has ~2000 peaks, one median each would cost 1 s.
  // Only the peaks of major drops (the teeth) count: a launcher's small wiggles before the first
  // tooth (pyenv's shim: a dozen short bash processes) pulled the median down and made that tooth
  // "a spike".
  const anchors = 128;
  const startMs = env.startMs;
  const peaks = majorPeaks;
  const typicalAt: number[] = [];
  // In time order (always, unless the times went back), the peaks and bucket maxima within ±ctxMs
  // of an anchor are a contiguous run, found by bisection: 128 × 2048 tests were 10-30 ms of a
  // cold `memhunt plot`.
  const peakT = Float64Array.from(peaks, (p) => p.tMs);
  const peakV = Float64Array.from(peaks, (p) => p.bytes);
  const topT = env.tMax.subarray(0, env.length);
  const ordered = inOrder(peakT) && inOrder(topT);
  for (let k = 0; k < anchors; k++) {
    // The window keeps its length at the ends of the run (shifted inside it): clipped to its half
    // at the end, a spike 0.1 s before the exit filled most of it and was its own typical top.
    const at = Math.min(Math.max(startMs + ((k + 0.5) * spanMs) / anchors, startMs + ctxMs), startMs + spanMs - ctxMs);
    if (ordered) {
      const [pa, pb] = within(peakT, at, ctxMs);
      if (pb - pa >= 3) {
        typicalAt.push(median(peakV.subarray(pa, pb)));
        continue;
      }
      const [ta, tb] = within(topT, at, ctxMs);
      typicalAt.push(tb > ta ? median(env.vMax.subarray(ta, tb)) : NaN);
      continue;
    }
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
    const typicalTop = typicalAt[Math.min(anchors - 1, Math.max(0, Math.floor(((p.tMs - startMs) / spanMs) * anchors)))]!;
    const above = p.bytes - typicalTop;
    if (above < spikeThreshold(typicalTop, swingBytes)) continue;
    // Both sides must come back near the typical level (a step up has no way back down). The way
    // back is the nearest trough that low on each side: noise on the top of a spike (a plateau
    // that wobbles by more than the zigzag's swing) splits it into several peaks with shallow
    // troughs between them; the spike is the highest of them (the first, on a tie).
    const backLevel = typicalTop + 0.25 * above;
    const before = wayBack(pivots, i, -1, p.bytes, backLevel);
    const after = wayBack(pivots, i, +1, p.bytes, backLevel);
    if (!before || !after) continue;
    const baseline = Math.max(before.bytes, after.bytes);
    const height = p.bytes - baseline;
    // Width at half height: a spike that takes a second to fill on a busy machine is still a spike.
    const durationMs = timeAbove(env, p.tMs, baseline + 0.5 * height);
    if (durationMs > SPIKE_MAX_SHARE * spanMs) continue;
    spikes.push({ tMs: p.tMs, peakBytes: p.bytes, baselineBytes: baseline, heightBytes: height, aboveTypicalBytes: above, durationMs });
    spans.push(spikeSpan(env, p.tMs, baseline, after.tMs));
  }
  return { spikes, spans };
}

/**
 * The body of a spike: the buckets around its top whose lows stay above its baseline, up to the
 * trough it falls back to. A spike that takes seconds to build (a pandas merge on a busy machine:
 * 150 → 317 MiB over 2.4 s) lifts the window minima of that stretch with it; read as floors, they
 * made the floors of a steady leak jump and fall back, and the leak "not distinguishable from noise".
 */
function spikeSpan(env: Envelope, topMs: number, baselineBytes: number, backMs: number): { fromMs: number; toMs: number } {
  let c = 0;
  while (c < env.length - 1 && env.tMax[c]! < topMs) c++;
  let a = c;
  let b = c;
  while (a > 0 && env.vMin[a - 1]! > baselineBytes) a--;
  while (b < env.length - 1 && env.tMin[b + 1]! < backMs && env.vMin[b + 1]! > baselineBytes) b++;
  return { fromMs: Math.min(env.tMin[a]!, topMs), toMs: Math.max(env.tMin[b]!, env.tMax[b]!, topMs) };
}

/** True when x never goes down (and holds no NaN). */
function inOrder(x: Float64Array): boolean {
  for (let i = 1; i < x.length; i++) if (!(x[i]! >= x[i - 1]!)) return false;
  return x.length === 0 || x[0] === x[0];
}

/**
 * [a, b): the indexes of x (in order) with Math.abs(x[i] - at) <= width, by bisection. x[i] - at
 * never goes down as i grows (rounding is monotone), so the test holds on one contiguous run: from
 * the first i with x[i] - at >= -width to the first with x[i] - at > width.
 */
function within(x: Float64Array, at: number, width: number): [number, number] {
  const first = (past: (d: number) => boolean) => {
    let lo = 0;
    let hi = x.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (past(x[mid]! - at)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const a = first((d) => d >= -width);
  const b = first((d) => d > width);
  return [a, Math.max(a, b)];
}

/**
 * From the peak at pivots[i], the nearest trough in direction dir (-1 before, +1 after) at or
 * below level; null when a higher peak comes first (before: or as high), or none is found.
 */
function wayBack(pivots: Pivot[], i: number, dir: -1 | 1, peakBytes: number, level: number): Pivot | null {
  for (let j = i + dir; j >= 0 && j < pivots.length; j += dir) {
    const q = pivots[j]!;
    if (q.kind === 'peak') {
      if (q.bytes > peakBytes || (dir < 0 && q.bytes === peakBytes)) return null;
    } else if (q.bytes <= level) {
      return q;
    }
  }
  return null;
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
    const released = a.shape.release !== null && !inSpike(a.shape.release.atMs);
    // Regular release cycles are a sawtooth, not one batch released once (held-out trial: an 8-cycle
    // pandas loop read "what accumulated was released at 00:02.4").
    if (f.cycles >= SAWTOOTH_MIN_CYCLES && f.periodMs !== null && !k.rising) {
      why.push(`the floors stayed level over ${f.cycles} release cycles, every ~${formatDuration(f.periodMs)} (a sawtooth)`);
    } else if (released && a.shape.release) {
      why.push(`what accumulated was released at ${formatClock(a.shape.release.atMs)} (${formatBytes(a.shape.release.fromBytes)} → ${formatBytes(a.shape.release.toBytes)})`);
    }
    // The rises said here are the ones the evidence's "floors moved X → Y" shows (the retained
    // growth alone starts after the warm-up: 200 MiB filled in 2 s read "rose by 40.0 MiB").
    if (k.oneStep && a.shape.step && a.shape.step.oneJump) why.push(`the floors rose in one step of ${formatBytes(a.shape.step.bytes)} at ${formatClock(a.shape.step.atMs)}, then stayed level`);
    else if (k.oneStep && a.shape.step) why.push(`the floors rose by ${formatBytes(a.shape.step.bytes)} (not in one jump) until ${formatClock(a.shape.step.atMs)}, then stayed level`);
    else if (k.rising && !k.continuing && a.shape.saturatedAtMs !== null) why.push(`the floors rose by ${formatBytes(Math.max(g.retainedBytes, f.lastBytes - f.firstBytes))} and levelled off from ${formatClock(a.shape.saturatedAtMs)} (bounded growth: loading, or a cache that filled)`);
    // Not "then stayed level" when what the floors held was released after (the workers of a pool
    // exiting): that release is the reason, and the floors did not stay level before it.
    else if (!k.rising && !released && a.shape.before && a.shape.before.riseBytes >= g.materialBytes) {
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
    // A trend whose interval excludes zero beside a verdict of no leak read as a contradiction
    // (held-out trial: "+815 MiB/min (… +99.3 MiB/min … +2.62 GiB/min)" under "stable (high)", the
    // lows inside a slow sawtooth's teeth): said with what was kept, which is what the verdict reads.
    const trendOnly = g.retainedBytes < g.materialBytes && (g.lowBytesPerMinute > 0 || g.highBytesPerMinute < 0);
    // Measured after a change of trend: said, beside "floors moved X → Y" over all of them (a cache
    // that filled until 00:04.6 read "moved 19.0 → 70.8 MiB" then "growth 0 B/min").
    const since = g.fromMs > f.firstTMs + 1 ? ` since ${formatClock(g.fromMs)}:` : '';
    // A rate whose interval excludes zero reads as growth whatever follows it: where nothing was kept
    // the rate is not given (it follows the teeth of the curve); where the floors rose and then
    // stopped, it is the rate while they rose (held-out re-trial: "levelled off" beside "+2.06 GiB/min").
    const stopped = !trendOnly && g.lowBytesPerMinute > 0 && (!k.continuing || k.oneStep);
    ev.push(trendOnly
      ? `no growth kept: the floors${since ? ` since ${formatClock(g.fromMs)}` : ''} retained ${formatBytes(Math.max(0, g.retainedBytes))}, under the ${formatBytes(g.materialBytes)} that would count (their lows follow the curve's teeth); ${cyc}`
      : stopped
        ? `growth of the floors${since} ${rateText(g)} while they rose, not to the end; ${cyc}`
        : `growth of the floors${since} ${rateText(g)}; ${cyc}`);
  }
  if (a.verdict === 'leak' && a.shape.before && a.shape.before.riseBytes >= g.materialBytes) {
    ev.push(`before ${formatClock(a.shape.before.untilMs)} the floors rose faster or differently (+${formatBytes(a.shape.before.riseBytes)}: start-up, loading, a worker starting); the rate is measured after it`);
  }
  if (a.shape.warmup) ev.push(`start-up: memory rose ${formatBytes(a.shape.warmup.fromBytes)} → ${formatBytes(a.shape.warmup.toBytes)} in the first ${formatDuration(a.shape.warmup.toMs - a.startMs)} (not counted as growth)`);
  if (a.verdict === 'leak' && a.spikes.length) ev.push(...a.spikes.map(spikeText));
  if (f.acrossSpikes) {
    const x = f.acrossSpikes;
    ev.push(`the lows from ${formatClock(x.fromMs)} to ${formatClock(x.toMs)} are the spike's own climb, not floors: left out (the floors rose ${formatRate(x.beforeBytesPerMinute, true)} before it and ${formatRate(x.afterBytesPerMinute, true)} after)`);
  }
  if (a.projection) ev.push(projectionText(a.projection, null, a.endMs));
  a.evidence = ev;
}
