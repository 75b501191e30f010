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
  /** 95% interval from the ranks of the pairwise slopes (Sen 1968); ±Infinity when too few points. */
  low: number;
  high: number;
  /** Intercept so that the line passes through the medians: median(y - slope·x). */
  intercept: number;
  n: number;
}

/**
 * Theil–Sen slope of y on x with Sen's distribution-free 95% interval. Robust to up to ~29% of
 * outlying points (one window that caught a spike, one floor that fell at a lucky moment), which
 * least squares is not. The interval assumes independent errors: floors of separate release
 * cycles nearly are; a heavily autocorrelated series would make it too narrow.
 */
export function theilSen(x: ArrayLike<number>, y: ArrayLike<number>): SlopeEstimate {
  const n = Math.min(x.length, y.length);
  if (n < 2) return { slope: NaN, low: -Infinity, high: Infinity, intercept: NaN, n };
  const slopes: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - x[i]!;
      if (dx !== 0) slopes.push((y[j]! - y[i]!) / dx);
    }
  }
  if (slopes.length === 0) return { slope: NaN, low: -Infinity, high: Infinity, intercept: NaN, n };
  slopes.sort((a, b) => a - b);
  const N = slopes.length;
  const slope = N % 2 ? slopes[(N - 1) / 2]! : (slopes[N / 2 - 1]! + slopes[N / 2]!) / 2;
  // Sen (1968), as in Gilbert (1987) §16.4: C = z·sqrt(Var S), Var S = n(n-1)(2n+5)/18 (no ties);
  // the limits are the M1-th and (M2+1)-th smallest slopes, M1 = (N-C)/2, M2 = (N+C)/2.
  const C = 1.96 * Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
  const m1 = Math.floor((N - C) / 2);
  const m2 = Math.ceil((N + C) / 2);
  const low = m1 >= 1 ? slopes[m1 - 1]! : -Infinity;
  const high = m2 < N ? slopes[m2]! : Infinity;
  const resid: number[] = [];
  for (let i = 0; i < n; i++) resid.push(y[i]! - slope * x[i]!);
  return { slope, low, high, intercept: median(resid), n };
}
