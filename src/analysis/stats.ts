/**
 * Small robust statistics for the verdicts: medians and quantiles, the Theil–Sen slope with Sen's
 * rank-based confidence interval. Everything here works on a few hundred points at most (the
 * verdict code reduces any recording to bounded envelopes first), so plain sorting is fine.
 */

/** Quantile q in [0, 1] with linear interpolation between order statistics; NaN when empty. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Median absolute deviation scaled to estimate a normal standard deviation (× 1.4826). */
export function robustSigma(values: ArrayLike<number>): number {
  if (values.length < 2) return 0;
  const m = median(values);
  const dev = Array.from(values, (v) => Math.abs(v - m));
  return 1.4826 * median(dev);
}

export interface SlopeEstimate {
  /** Median of the pairwise slopes (Theil–Sen), value units per time unit of the inputs. */
  slope: number;
  /**
   * 90% interval from the ranks of the pairwise slopes (Sen 1968): each end is a one-sided 95%
   * bound, so `low > 0` is a one-sided test at 5% that y grows. ±Infinity when too few points.
   */
  low: number;
  high: number;
  /** Intercept so that the line passes through the medians: median(y - slope·x). */
  intercept: number;
  n: number;
}

/** One-sided level of each end of the interval. */
const ALPHA = 0.05;
const Z_ONE_SIDED = 1.6449;
/** Up to this many points the exact null distribution of Kendall's statistic is used. */
const EXACT_MAX_N = 60;
const exactCache = new Map<number, number>();

/**
 * The largest number of discordant pairs m with P(discordant ≤ m) ≤ ALPHA when the n points are in
 * random order (no trend), or -1 when even 0 is more likely than that. Exact for n ≤ 60, from the
 * distribution of inversions of a random permutation (Mahonian numbers), as probabilities; normal
 * approximation of Kendall's S beyond (Var S = n(n-1)(2n+5)/18, no ties).
 */
function criticalDiscordant(n: number): number {
  const cached = exactCache.get(n);
  if (cached !== undefined) return cached;
  let m: number;
  if (n <= EXACT_MAX_N) {
    m = EXACT_CRITICAL[n] ?? exactCriticalDiscordant(n);
  } else {
    const N = (n * (n - 1)) / 2;
    const C = Z_ONE_SIDED * Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
    m = Math.ceil((N - C) / 2) - 1;
  }
  exactCache.set(n, m);
  return m;
}

/**
 * exactCriticalDiscordant(n) for n = 0..60, as computed by it (verdict.test.ts checks every one):
 * the computation is O(n³) and ran cold at the end of every `memhunt run` (~5-15 ms per n).
 */
export const EXACT_CRITICAL: readonly number[] = [
  -1, -1, -1, -1, 0, 1, 2, 4, 6, 9, 12, 16, 20, 25, 29, 35, 41, 47, 54, 61, 69, 77, 85, 94, 104, 114, 124, 135, 146, 158, 170,
  183, 196, 210, 224, 239, 254, 269, 285, 301, 318, 336, 354, 372, 391, 410, 430, 450, 470, 492, 513, 535, 558, 581, 604, 628,
  653, 677, 703, 729, 755,
];

/** criticalDiscordant(n) from the exact distribution of inversions (n ≤ EXACT_MAX_N). */
export function exactCriticalDiscordant(n: number): number {
  const N = (n * (n - 1)) / 2;
  // p[k] = P(k inversions) for permutations of i elements, built up one element at a time.
  let p = new Float64Array(N + 1);
  p[0] = 1;
  for (let i = 2; i <= n; i++) {
    const next = new Float64Array(N + 1);
    const maxK = (i * (i - 1)) / 2;
    // Inserting the i-th element adds 0..i-1 inversions, each with probability 1/i: a sliding sum.
    let window = 0;
    for (let k = 0; k <= maxK; k++) {
      window += p[k] ?? 0;
      if (k - i >= 0) window -= p[k - i]!;
      next[k] = window / i;
    }
    p = next;
  }
  let cdf = 0;
  let m = -1;
  for (let k = 0; k <= N; k++) {
    cdf += p[k]!;
    if (cdf > ALPHA) break;
    m = k;
  }
  return m;
}

/**
 * Theil–Sen slope of y on x with Sen's distribution-free interval. Robust to up to ~29% of
 * outlying points (one window that caught a spike, one floor that fell at a lucky moment), which
 * least squares is not. With the points sorted by x, moving a trial slope past each pairwise slope
 * turns one pair discordant; the slopes the rank test of Kendall does not reject lie between the
 * (m+1)-th smallest and the (m+1)-th largest pairwise slope, m = criticalDiscordant(n).
 * The interval assumes independent errors: floors of separate release cycles nearly are; a
 * heavily autocorrelated series would make it too narrow.
 */
export function theilSen(x: ArrayLike<number>, y: ArrayLike<number>): SlopeEstimate {
  const n = Math.min(x.length, y.length);
  if (n < 2) return { slope: NaN, low: -Infinity, high: Infinity, intercept: NaN, n };
  const all = new Float64Array((n * (n - 1)) / 2);
  let N = 0;
  // NaN or -0 among the slopes: sorted as before, with the comparator (a typed array's own sort,
  // 3-5× faster cold, orders -0 before 0 and NaN last, where the comparator keeps them in place).
  let plain = true;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - x[i]!;
      if (dx !== 0) {
        const sl = (y[j]! - y[i]!) / dx;
        if (sl !== sl || (sl === 0 && 1 / sl < 0)) plain = false;
        all[N++] = sl;
      }
    }
  }
  if (N === 0) return { slope: NaN, low: -Infinity, high: Infinity, intercept: NaN, n };
  const slopes: ArrayLike<number> = plain ? all.subarray(0, N).sort() : Array.from(all.subarray(0, N)).sort((a, b) => a - b);
  const slope = N % 2 ? slopes[(N - 1) / 2]! : (slopes[N / 2 - 1]! + slopes[N / 2]!) / 2;
  const m = criticalDiscordant(n);
  const low = m >= 0 && m < N ? slopes[m]! : -Infinity;
  const high = m >= 0 && m < N ? slopes[N - 1 - m]! : Infinity;
  const resid: number[] = [];
  for (let i = 0; i < n; i++) resid.push(y[i]! - slope * x[i]!);
  return { slope, low, high, intercept: median(resid), n };
}
