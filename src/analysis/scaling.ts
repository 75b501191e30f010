/**
 * How a job's peak memory grows with its input size, from a few runs at small sizes: candidate
 * models fitted to (size, peak) points, one chosen by how well it predicts a size it was not fitted
 * on, and the projection at the full size with an interval. Pure: numbers in, numbers out
 * (`memhunt scale` runs the job and prints; docs/architecture.md "Scaling").
 *
 * Models: every one has a fixed part a ≥ 0 (interpreter, libraries, model weights: what the job
 * holds at any size) and a growing part b·g(n), b ≥ 0:
 *   constant   a                  the peak does not depend on the size
 *   linear     a + b·n            b = cost per item
 *   nlogn      a + b·n·ln n       only for sizes that count items (a percentage has no meaningful log)
 *   quadratic  a + b·n²           a pairwise structure (distance matrix, cross join)
 *   power      a + b·n^p          p fitted in [POWER_MIN, POWER_MAX]: anything between or beyond
 *
 * Errors are weighted by a noise model of one run's peak, σ(y) = sqrt((NOISE_REL·y)² + NOISE_ABS²):
 * part of the run-to-run difference grows with the peak (page-granular growth, allocator arenas),
 * part does not (the interpreter's start-up, a sample that catches an arena or not). Sizes usually
 * span a decade or more, and plain least squares would let the largest run alone decide the shape.
 * The fit's residuals and the spread of repeated runs can only scale that model up (φ ≥ 1).
 *
 * The choice: **held-out largest size.** Each model is fitted on the runs below the largest size and
 * predicts it with a standard error (its parameters' uncertainty and one run's noise); the simplest
 * model (MODEL_ORDER) whose prediction is within HELD_OUT_Z standard errors of the actual peak is
 * chosen, as the one-standard-error rule of cross-validation prefers the simplest adequate model
 * (Breiman et al. 1984; Hastie, Tibshirani & Friedman, ESL §7.10). When none passes, the smallest
 * error wins. Why not an information criterion: with the 3–5 sizes people run, AICc is undefined
 * (n − k − 1 ≤ 0 for a 2-parameter model plus its variance with 4 points) or dominated by its
 * small-sample correction, and what we must be good at is extrapolating, which is exactly what the
 * held-out point scores.
 * AICc is still computed where defined and reported beside it.
 */

export type ModelKind = 'constant' | 'linear' | 'nlogn' | 'quadratic' | 'power';

/** Simplest first: the order of the one-standard-error rule's preference. */
export const MODEL_ORDER: readonly ModelKind[] = ['constant', 'linear', 'nlogn', 'quadratic', 'power'];

/** The range of the power law's exponent: below 0.2 it is a constant with noise, beyond 4 nothing a real job survives. */
const POWER_MIN = 0.2;
const POWER_MAX = 4;

/**
 * The least noise assumed for one run's peak: σ(y) = sqrt((NOISE_REL·y)² + NOISE_ABS²). Measured
 * here (BENCHMARKS.md "Scale"): a Python list of N floats, 3 runs per size at a 10 ms interval,
 * spread over 0.7 MiB at 17 MiB and under 0.1 MiB at 45 MiB; a fixed 60 MiB, 0.2 MiB at 70 MiB. A fit
 * whose residuals happen to be smaller than this must not promise more.
 */
export const NOISE_REL = 0.003;
export const NOISE_ABS = 256 * 1024;

export function noiseBytes(peakBytes: number): number {
  return Math.hypot(NOISE_REL * peakBytes, NOISE_ABS);
}

/** Two-sided level of the projection interval. */
export const INTERVAL_LEVEL = 0.9;

/**
 * A model passes the held-out test when the largest size's peak lies within this many standard
 * errors of its prediction (≈ 95% two-sided for a normal error).
 */
const HELD_OUT_Z = 2;

/** Models whose projections at the full size differ by more than this factor disagree. */
export const DISAGREEMENT_FACTOR = 2;

export interface ScalePoint {
  size: number;
  peakBytes: number;
}

/** A fitted model, plain data (JSON-safe). Parameters a, b in bytes and bytes per unit of g(n). */
export interface FittedModel {
  kind: ModelKind;
  fixedBytes: number;
  coef: number;
  /** The exponent of n in the growing part (1 linear, 2 quadratic, fitted for power; 1 for nlogn, 0 constant). */
  exponent: number;
  /** The parameters estimated (a parameter pinned at 0 by its constraint is not). */
  free: Array<'a' | 'b' | 'p'>;
  points: number;
  /** Residual sum of squares, each residual in units of the noise model σ(y). */
  wrss: number;
  /** Degrees of freedom of the residuals: points − free parameters. */
  dof: number;
  /** sqrt(wrss/dof): how many times noisier than the noise model the residuals are; NaN with no degrees of freedom. */
  residualScale: number;
  /** Covariance of the free parameters when the noise model holds ((JᵀWJ)⁻¹, W = 1/σ(y)²); multiply by φ². */
  unitCov: number[][];
  /** AICc on all points (k = free parameters + 1 for the variance), null where n − k − 1 ≤ 0. */
  aicc: number | null;
}

export interface Projection {
  size: number;
  bytes: number;
  /** INTERVAL_LEVEL prediction interval of one run at that size. */
  lowBytes: number;
  highBytes: number;
}

export interface HeldOut {
  size: number;
  /** Mean peak of the runs at the held-out size. */
  actualBytes: number;
  predictedBytes: number;
  /** (actual − predicted) / actual. */
  errorRel: number;
  /** Standard error of that prediction, relative to the actual. */
  seRel: number;
  /** The model passes the held-out test: the actual peak is within HELD_OUT_Z standard errors of the prediction (the one criterion the text's `~` uses too). */
  inside: boolean;
}

export interface ModelResult {
  kind: ModelKind;
  /** Fitted on every run; null when there are too few sizes for it. */
  fit: FittedModel | null;
  /** Fitted without the largest size, predicting it; null when too few sizes remain. */
  heldOut: HeldOut | null;
  projection: Projection | null;
  /** Why the model was not fitted or not scored. */
  note: string | null;
}

export interface ScalingOptions {
  fullSize: number;
  /** False when sizes are percentages or fractions: n log n is then not fitted. */
  countsItems: boolean;
}

export interface ScalingAnalysis {
  points: ScalePoint[];
  sizes: number[];
  fullSize: number;
  /** full / largest size measured; ≤ 1 means the projection interpolates. */
  extrapolation: number;
  criterion: string;
  models: ModelResult[];
  chosen: ModelKind;
  /** The models that pass the held-out test (the chosen one first); the power law only when its exponent differs from the chosen shape's. */
  consistent: ModelKind[];
  /**
   * A named shape (linear, quadratic) whose exponent the power law's interval holds but which
   * failed the held-out test itself, while the power law passed: the data cannot decide between
   * them (decided is false). null otherwise.
   */
  contested: ModelKind | null;
  /** False when consistent models' projections at the full size differ by more than DISAGREEMENT_FACTOR, or a shape is contested. */
  decided: boolean;
  /** When undecided: a size whose run would tell the consistent models apart. */
  suggestion: { size: number; bytesByModel: Array<{ kind: ModelKind; bytes: number }> } | null;
  projection: Projection;
  /** The projection's range over the consistent models' intervals (the chosen one's when decided). */
  envelope: { lowBytes: number; highBytes: number };
  /**
   * The noise of one run: the noise model scaled by φ (≥ 1) from the chosen fit's residuals, the
   * spread of repeats, or the model itself ('floor'); relAtLargest = φ·σ(y)/y at the largest size.
   */
  noise: { scale: number; source: 'residuals' | 'repeats' | 'floor'; repeatScale: number | null; relAtLargest: number };
  /** The power law's exponent fitted on every run (descriptive, whatever model was chosen); null with < 3 sizes. */
  powerExponent: number | null;
}

// ---------------------------------------------------------------- fitting

function growth(kind: ModelKind, p: number): (n: number) => number {
  switch (kind) {
    case 'constant': return () => 0;
    case 'linear': return (n) => n;
    case 'nlogn': return (n) => n * Math.log(n);
    case 'quadratic': return (n) => n * n;
    case 'power': return (n) => Math.pow(n, p);
  }
}

function exponentOf(kind: ModelKind, p: number): number {
  return kind === 'constant' ? 0 : kind === 'quadratic' ? 2 : kind === 'power' ? p : 1;
}

/** Weighted least squares of y = a + b·g with a, b ≥ 0; weights 1/σ(y)². */
function fitAB(points: ScalePoint[], g: (n: number) => number, withB: boolean): { a: number; b: number; wrss: number } {
  const gs = points.map((pt) => g(pt.size));
  const scale = Math.max(...gs.map(Math.abs), Number.MIN_VALUE);
  const x = gs.map((v) => v / scale);
  const y = points.map((pt) => pt.peakBytes);
  const w = y.map((v) => 1 / noiseBytes(v) ** 2);
  let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < y.length; i++) {
    sw += w[i]!; sx += w[i]! * x[i]!; sy += w[i]! * y[i]!; sxx += w[i]! * x[i]! * x[i]!; sxy += w[i]! * x[i]! * y[i]!;
  }
  const wrss = (a: number, bs: number) => y.reduce((s, yi, i) => s + w[i]! * (yi - a - bs * x[i]!) ** 2, 0);
  const candidates: Array<{ a: number; bs: number }> = [{ a: sy / sw, bs: 0 }];
  if (withB) {
    const det = sw * sxx - sx * sx;
    if (det > 1e-12 * sw * sxx) {
      const bs = (sw * sxy - sx * sy) / det;
      const a = (sy - bs * sx) / sw;
      if (a >= 0 && bs >= 0) candidates.push({ a, bs });
    }
    if (sxx > 0) candidates.push({ a: 0, bs: Math.max(0, sxy / sxx) });
  }
  let best = candidates[0]!;
  let bestR = wrss(best.a, best.bs);
  for (const c of candidates.slice(1)) {
    const r = wrss(c.a, c.bs);
    if (r < bestR) {
      best = c;
      bestR = r;
    }
  }
  return { a: best.a, b: best.bs / scale, wrss: bestR };
}

/** Inverse of a small symmetric positive matrix (Gauss–Jordan with column scaling); null when singular. */
function invert(m: number[][]): number[][] | null {
  const k = m.length;
  const d = m.map((row, i) => Math.sqrt(Math.abs(row[i]!)) || 1);
  const a = m.map((row, i) => [...row.map((v, j) => v / (d[i]! * d[j]!)), ...Array.from({ length: k }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < k; c++) {
    let piv = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[piv]![c]!)) piv = r;
    if (Math.abs(a[piv]![c]!) < 1e-12) return null;
    [a[c], a[piv]] = [a[piv]!, a[c]!];
    const pv = a[c]![c]!;
    for (let j = 0; j < 2 * k; j++) a[c]![j]! /= pv;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      if (f !== 0) for (let j = 0; j < 2 * k; j++) a[r]![j] = a[r]![j]! - f * a[c]![j]!;
    }
  }
  return a.map((row, i) => row.slice(k).map((v, j) => v / (d[i]! * d[j]!)));
}

/** d prediction / d free parameter at n. */
function gradient(m: Pick<FittedModel, 'kind' | 'coef' | 'exponent' | 'free'>, n: number): number[] {
  const g = growth(m.kind, m.exponent);
  return m.free.map((f) => (f === 'a' ? 1 : f === 'b' ? g(n) : m.coef * Math.pow(n, m.exponent) * Math.log(n)));
}

/** Fits one model on the points; null when there are too few distinct sizes for it (or for nlogn with sizes < 2). */
export function fitModel(kind: ModelKind, points: ScalePoint[]): FittedModel | null {
  const distinct = new Set(points.map((p) => p.size)).size;
  const need = kind === 'constant' ? 1 : kind === 'power' ? 3 : 2;
  if (distinct < need || points.length === 0) return null;
  let a: number, b: number, p = exponentOf(kind, 1), wrss: number;
  if (kind === 'power') {
    // Variable projection: for a given p the problem is linear in (a, b); p by a grid, then golden section.
    const at = (q: number) => fitAB(points, growth('power', q), true);
    let bestP = POWER_MIN;
    let bestR = Infinity;
    for (let q = POWER_MIN; q <= POWER_MAX + 1e-9; q += 0.02) {
      const r = at(q).wrss;
      if (r < bestR) {
        bestR = r;
        bestP = q;
      }
    }
    let lo = Math.max(POWER_MIN, bestP - 0.02);
    let hi = Math.min(POWER_MAX, bestP + 0.02);
    const phi = (Math.sqrt(5) - 1) / 2;
    for (let i = 0; i < 40; i++) {
      const m1 = hi - phi * (hi - lo);
      const m2 = lo + phi * (hi - lo);
      if (at(m1).wrss <= at(m2).wrss) hi = m2;
      else lo = m1;
    }
    p = (lo + hi) / 2;
    ({ a, b, wrss } = at(p));
  } else {
    ({ a, b, wrss } = fitAB(points, growth(kind, 1), kind !== 'constant'));
  }
  const free: FittedModel['free'] = [];
  if (a > 0 || b === 0) free.push('a');
  if (b > 0) {
    free.push('b');
    if (kind === 'power') free.push('p');
  }
  const model = { kind, coef: b, exponent: p, free };
  const jtwj = free.map(() => free.map(() => 0));
  for (const pt of points) {
    const w = 1 / noiseBytes(pt.peakBytes) ** 2;
    const gr = gradient(model, pt.size);
    for (let i = 0; i < free.length; i++) for (let j = 0; j < free.length; j++) jtwj[i]![j]! += w * gr[i]! * gr[j]!;
  }
  const unitCov = invert(jtwj) ?? free.map((_, i) => free.map((__, j) => (i === j ? Infinity : 0)));
  const n = points.length;
  const dof = n - free.length;
  const k = free.length + 1;
  const aicc = n - k - 1 > 0 ? n * Math.log(Math.max(wrss / n, 0.01)) + 2 * k + (2 * k * (k + 1)) / (n - k - 1) : null;
  return {
    kind, fixedBytes: a, coef: b, exponent: p, free, points: n, wrss, dof,
    residualScale: dof > 0 ? Math.sqrt(wrss / dof) : NaN, unitCov, aicc,
  };
}

/** Standard error of the power law's exponent (0 when it is not free). */
function exponentSe(m: FittedModel, scale: number): number {
  const i = m.free.indexOf('p');
  return i < 0 ? 0 : scale * Math.sqrt(m.unitCov[i]![i]!);
}

/** The growth coefficient b in standard errors (0 when b is pinned at 0). */
function growthT(m: FittedModel, scale: number): number {
  const i = m.free.indexOf('b');
  return i < 0 ? 0 : m.coef / (scale * Math.sqrt(m.unitCov[i]![i]!));
}

/**
 * The most a growth the data cannot see could add at the full size: the linear model's slope at
 * its upper HELD_OUT_Z standard errors, times the distance from the largest size. For a chosen
 * constant model, where "no growth" is only "no growth above the noise".
 */
export function unseenGrowthBytes(a: ScalingAnalysis): number {
  const lin = a.models.find((m) => m.kind === 'linear')?.fit;
  if (!lin) return NaN;
  const i = lin.free.indexOf('b');
  const scale = Math.max(1, a.noise.scale);
  let upper: number;
  if (i >= 0) upper = lin.coef + HELD_OUT_Z * scale * Math.sqrt(lin.unitCov[i]![i]!);
  else {
    // b pinned at 0: the slope's standard error from the two-parameter design at the points.
    const pts = a.points;
    let sw = 0, sx = 0, sxx = 0;
    for (const p of pts) {
      const w = 1 / noiseBytes(p.peakBytes) ** 2;
      sw += w; sx += w * p.size; sxx += w * p.size * p.size;
    }
    upper = HELD_OUT_Z * scale * Math.sqrt(sw / (sw * sxx - sx * sx));
  }
  return Math.max(0, upper) * Math.max(0, a.fullSize - a.sizes[a.sizes.length - 1]!);
}

export function predict(m: Pick<FittedModel, 'kind' | 'fixedBytes' | 'coef' | 'exponent'>, n: number): number {
  return m.fixedBytes + m.coef * growth(m.kind, m.exponent)(n);
}

/**
 * The INTERVAL_LEVEL prediction interval of one run (or the mean of `runs` runs) at size n:
 * ŷ ± t(dof) · φ · sqrt(gᵀ (JᵀWJ)⁻¹ g + σ(ŷ)²/runs), φ the noise scale (≥ 1).
 */
export function predictInterval(m: FittedModel, n: number, scale: number, runs = 1): Projection & { seBytes: number } {
  const y = predict(m, n);
  const g = gradient(m, n);
  let varMean = 0;
  for (let i = 0; i < g.length; i++) for (let j = 0; j < g.length; j++) varMean += g[i]! * m.unitCov[i]![j]! * g[j]!;
  const se = scale * Math.sqrt(varMean + noiseBytes(y) ** 2 / runs);
  const t = tQuantile(1 - (1 - INTERVAL_LEVEL) / 2, Math.max(1, m.dof));
  return { size: n, bytes: y, lowBytes: Math.max(0, y - t * se), highBytes: y + t * se, seBytes: se };
}

// ---------------------------------------------------------------- noise

/** Pooled spread of runs repeated at the same size, in units of the noise model; null without repeats. */
export function repeatScale(points: ScalePoint[]): number | null {
  const bySize = groupBySize(points);
  let ss = 0;
  let dof = 0;
  for (const ys of bySize.values()) {
    if (ys.length < 2) continue;
    const mean = ys.reduce((s, v) => s + v, 0) / ys.length;
    for (const v of ys) ss += ((v - mean) / noiseBytes(mean)) ** 2;
    dof += ys.length - 1;
  }
  return dof > 0 ? Math.sqrt(ss / dof) : null;
}

function groupBySize(points: ScalePoint[]): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (const p of points) m.set(p.size, [...(m.get(p.size) ?? []), p.peakBytes]);
  return m;
}

function noiseOf(fit: FittedModel | null, rep: number | null): { scale: number; source: ScalingAnalysis['noise']['source'] } {
  const resid = fit && fit.dof > 0 ? fit.residualScale : 0;
  const r = rep ?? 0;
  if (resid >= r && resid >= 1) return { scale: resid, source: 'residuals' };
  if (r >= 1) return { scale: r, source: 'repeats' };
  return { scale: 1, source: 'floor' };
}

// ---------------------------------------------------------------- the analysis

export class ScalingInputError extends Error {
  override name = 'ScalingInputError';
}

/** Fits, chooses, projects. Needs ≥ 3 distinct sizes with positive peaks. */
export function analyzeScaling(points: ScalePoint[], opts: ScalingOptions): ScalingAnalysis {
  const usable = points.filter((p) => p.size > 0 && p.peakBytes > 0).sort((x, y) => x.size - y.size);
  const sizes = [...new Set(usable.map((p) => p.size))];
  if (sizes.length < 3) throw new ScalingInputError(`${sizes.length} size${sizes.length === 1 ? '' : 's'} with a usable run; fitting needs at least 3`);
  const largest = sizes[sizes.length - 1]!;
  const rep = repeatScale(usable);
  const train = usable.filter((p) => p.size < largest);
  const test = usable.filter((p) => p.size === largest);
  const actual = test.reduce((s, p) => s + p.peakBytes, 0) / test.length;
  // The noise one run's peak has, for the held-out test: from repeats, the floor, or the residuals
  // of the most flexible model (the power law) on every run. Not each model's own residuals: a
  // model that misses the curve's bend has large residuals, and they would excuse its miss.
  const powerFitAll = fitModel('power', usable);
  const commonScale = Math.max(1, rep ?? 0, powerFitAll && powerFitAll.dof > 0 ? powerFitAll.residualScale : 0);
  const kinds = MODEL_ORDER.filter((k) => k !== 'nlogn' || (opts.countsItems && sizes[0]! >= 2));

  const models: ModelResult[] = kinds.map((kind) => {
    const fit = fitModel(kind, usable);
    if (!fit) return { kind, fit: null, heldOut: null, projection: null, note: `needs ${kind === 'power' ? 3 : 2} sizes` };
    const pr = predictInterval(fit, opts.fullSize, noiseOf(fit, rep).scale);
    const projection: Projection = { size: pr.size, bytes: pr.bytes, lowBytes: pr.lowBytes, highBytes: pr.highBytes };
    const trainFit = fitModel(kind, train);
    if (!trainFit) {
      return { kind, fit, heldOut: null, projection, note: `needs ${kind === 'power' ? 4 : 3} sizes to be scored on a held-out size` };
    }
    const h = predictInterval(trainFit, largest, Math.max(commonScale, trainFit.dof > 0 && kind === 'power' ? trainFit.residualScale : 0), test.length);
    const heldOut: HeldOut = {
      size: largest, actualBytes: actual, predictedBytes: h.bytes, errorRel: (actual - h.bytes) / actual,
      seRel: h.seBytes / actual, inside: Math.abs(actual - h.bytes) <= HELD_OUT_Z * h.seBytes,
    };
    return { kind, fit, heldOut, projection, note: null };
  });
  if (!opts.countsItems || sizes[0]! < 2) {
    models.splice(2, 0, { kind: 'nlogn', fit: null, heldOut: null, projection: null, note: 'not fitted: the sizes are not counts of items (n log n depends on the unit)' });
  }

  // z: how far the held-out size's actual peak is from the model's prediction, in standard errors
  // of that prediction (which include the model's own uncertainty: a flexible model fitted
  // exactly through three noisy points has a wide one, and pays for it by coming last in MODEL_ORDER).
  const scored = models.filter((m) => m.heldOut);
  const passes = scored.filter((m) => m.heldOut!.inside);
  let contested: ModelResult | null = null;
  let chosenResult = passes[0] ?? scored.reduce((x, y) => (Math.abs(y.heldOut!.errorRel) < Math.abs(x.heldOut!.errorRel) ? y : x));
  const powerAll = models.find((m) => m.kind === 'power')?.fit ?? null;
  if (chosenResult.kind === 'power' && powerAll) {
    // A power law whose exponent is 1 or 2 within its uncertainty is that shape, with one parameter
    // less: the simpler shape failed the held-out test by noise, not by its form.
    const se = exponentSe(powerAll, noiseOf(powerAll, rep).scale);
    const shape = models.find((m) => (m.kind === 'linear' || m.kind === 'quadratic') && m.fit && Math.abs(powerAll.exponent - m.fit.exponent) <= HELD_OUT_Z * se);
    // Only a shape that passed the held-out test itself replaces the power law. One that failed
    // it (its exponent fits, its prediction of the largest size did not) is not presented as
    // settled: the data cannot decide between it and the power law (a shape chosen that way was
    // 80% off at the full size). With constant noise some model failing is normal; this case is
    // narrower: the power law passed, the named shape did not.
    if (shape && passes.includes(shape)) chosenResult = shape;
    else if (shape) contested = shape;
  }
  const chosenFit0 = chosenResult.fit!;
  // The power law is the chosen shape itself when its exponent's interval holds the shape's exponent.
  const powerSame = (m: ModelResult) => m.kind === 'power' && powerAll !== null && chosenResult.kind !== 'constant' &&
    Math.abs(powerAll.exponent - chosenFit0.exponent) <= HELD_OUT_Z * exponentSe(powerAll, noiseOf(powerAll, rep).scale);
  // An alternative counts only when the data show its growth (coefficient ≥ 2 standard errors):
  // a slope fitted to noise projects noise, and 100x out any noise is "more than 2x".
  const grows = (m: ModelResult) => growthT(m.fit!, noiseOf(m.fit!, rep).scale) >= HELD_OUT_Z;
  const consistent = [chosenResult, ...passes.filter((m) => m !== chosenResult && !powerSame(m) && grows(m))];
  const projs = consistent.map((m) => m.projection!.bytes);
  const decided = contested === null && Math.max(...projs) <= DISAGREEMENT_FACTOR * Math.min(...projs);
  const nz = noiseOf(chosenFit0, rep);
  const yLargest = predict(chosenFit0, largest);
  const noise: ScalingAnalysis['noise'] = { ...nz, repeatScale: rep, relAtLargest: (nz.scale * noiseBytes(yLargest)) / yLargest };

  let suggestion: ScalingAnalysis['suggestion'] = null;
  const undecidedModels = contested ? [...consistent, contested] : consistent;
  if (!decided) suggestion = suggestSize(undecidedModels.map((m) => m.fit!), largest, opts.fullSize, noise.scale);

  const envelope = {
    lowBytes: Math.min(...undecidedModels.map((m) => (decided && m !== chosenResult ? Infinity : m.projection!.lowBytes))),
    highBytes: Math.max(...undecidedModels.map((m) => (decided && m !== chosenResult ? -Infinity : m.projection!.highBytes))),
  };
  const power = powerAll;
  return {
    points: usable, sizes, fullSize: opts.fullSize, extrapolation: opts.fullSize / largest,
    criterion:
      `held-out largest size: each model, fitted on the smaller sizes, predicts the largest; the simplest whose ` +
      `prediction is within ${HELD_OUT_Z} standard errors of the measured peak is chosen`,
    models, chosen: chosenResult.kind, consistent: consistent.map((m) => m.kind), contested: contested?.kind ?? null, decided, suggestion,
    projection: chosenResult.projection!, envelope, noise,
    powerExponent: power && power.coef > 0 ? power.exponent : null,
  };
}

/**
 * The smallest size (doubling from the largest measured, up to the full size) at which the models
 * differ by at least four noise SDs and 10%: one run there tells them apart.
 */
function suggestSize(fits: FittedModel[], largest: number, full: number, scale: number): ScalingAnalysis['suggestion'] {
  const candidates: number[] = [];
  for (let s = largest * 2; s < full; s *= 2) candidates.push(s);
  candidates.push(full);
  for (const s of candidates) {
    const ys = fits.map((f) => predict(f, s));
    const lo = Math.min(...ys);
    if (Math.max(...ys) / lo - 1 >= Math.max((4 * scale * noiseBytes(lo)) / lo, 0.1)) {
      return { size: roundSize(s, largest), bytesByModel: fits.map((f, i) => ({ kind: f.kind, bytes: ys[i]! })) };
    }
  }
  return null;
}

/** A size people would type: two significant digits, at least the magnitude of the sizes given. */
function roundSize(s: number, largest: number): number {
  if (Number.isInteger(largest) && s >= 100) {
    const mag = Math.pow(10, Math.floor(Math.log10(s)) - 1);
    return Math.ceil(s / mag) * mag;
  }
  return Number(s.toPrecision(2));
}

// ---------------------------------------------------------------- recommendation

export interface RecommendOptions {
  /** Added on top of the projection's upper bound, e.g. 0.1 for 10%. */
  marginRel: number;
  /** The request is rounded up to a multiple of this (e.g. 256 MiB). */
  roundBytes: number;
  limitBytes: number | null;
}

export interface Recommendation {
  requestBytes: number;
  basisBytes: number;
  marginRel: number;
  roundBytes: number;
  limitBytes: number | null;
  /** Whether the request fits under the limit; null without a limit. */
  fits: boolean | null;
  /**
   * The largest size whose upper bound plus margin stays under the limit (null without a limit;
   * Infinity when the model does not grow).
   */
  largestSizeThatFits: number | null;
}

export function recommend(a: ScalingAnalysis, o: RecommendOptions): Recommendation {
  const basis = a.envelope.highBytes;
  const requestBytes = Math.ceil((basis * (1 + o.marginRel)) / o.roundBytes) * o.roundBytes;
  let largestSizeThatFits: number | null = null;
  if (o.limitBytes !== null) {
    const chosen = a.models.find((m) => m.kind === a.chosen)!.fit!;
    const upper = (n: number) => predictInterval(chosen, n, a.noise.scale).highBytes * (1 + o.marginRel);
    const limit = o.limitBytes;
    let lo = a.sizes[0]! / 1e6;
    let hi = Math.max(a.fullSize, a.sizes[a.sizes.length - 1]!) * 1e6;
    if (upper(hi) <= limit) largestSizeThatFits = Infinity;
    else if (upper(lo) > limit) largestSizeThatFits = 0;
    else {
      for (let i = 0; i < 200 && hi / lo > 1 + 1e-6; i++) {
        const mid = Math.sqrt(lo * hi);
        if (upper(mid) <= limit) lo = mid;
        else hi = mid;
      }
      largestSizeThatFits = lo;
    }
  }
  return {
    requestBytes, basisBytes: basis, marginRel: o.marginRel, roundBytes: o.roundBytes, limitBytes: o.limitBytes,
    fits: o.limitBytes === null ? null : requestBytes <= o.limitBytes, largestSizeThatFits,
  };
}

// ---------------------------------------------------------------- Student's t

/** ln Γ(x), Lanczos (g = 7, 9 terms): ~15 digits for x > 0. */
function lnGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let s = c[0]!;
  for (let i = 1; i < 9; i++) s += c[i]! / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Regularized incomplete beta I_x(a, b), continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 300; i++) {
    const m = Math.floor(i / 2);
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-12) break;
  }
  return front * (f - 1);
}

/** P(T ≤ t) for Student's t with `dof` degrees of freedom. */
export function tCdf(t: number, dof: number): number {
  const x = dof / (dof + t * t);
  const tail = 0.5 * incompleteBeta(x, dof / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The q-quantile (q in (0.5, 1)) of Student's t, by bisection on the CDF. */
export function tQuantile(q: number, dof: number): number {
  let lo = 0;
  let hi = 1e7;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (tCdf(mid, dof) < q) lo = mid;
    else hi = mid;
    if (hi - lo < 1e-10 * Math.max(1, mid)) break;
  }
  return (lo + hi) / 2;
}
