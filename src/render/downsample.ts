/**
 * Downsampling that never hides a peak: per output column (a pixel, a braille dot, a bucket of the
 * HTML pyramid) keep the minimum and the maximum, in the order they occurred. A line through those
 * points covers every sample's height: a 1-sample spike among 10 M samples is drawn at its true
 * value, where taking every n-th sample (or the mean) would drop or flatten it. Cost: one pass over
 * the samples in the range, O(columns) memory; the input's typed arrays are never copied.
 */
import type { Series } from '../model/series';

export interface Envelope {
  /** Columns, each spanning (t1 - t0) / columns ms from t0. */
  columns: number;
  /** Per column: min and max in bytes (NaN when no sample fell in it), and whether the min came first. */
  min: Float64Array;
  max: Float64Array;
  minFirst: Uint8Array;
  /** Number of samples per column (0 = empty). */
  count: Uint32Array;
}

/** First index with tMs[i] >= t (tMs non-decreasing). */
export function lowerBound(tMs: Float64Array, t: number): number {
  let lo = 0;
  let hi = tMs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (tMs[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Min/max per column of the samples with t0 <= t <= t1 (a sample at t1 goes to the last column). */
export function envelope(s: Series, t0: number, t1: number, columns: number): Envelope {
  const cols = Math.max(1, Math.floor(columns));
  const min = new Float64Array(cols).fill(NaN);
  const max = new Float64Array(cols).fill(NaN);
  const minFirst = new Uint8Array(cols);
  const count = new Uint32Array(cols);
  const span = t1 - t0;
  const scale = span > 0 ? cols / span : 0;
  const tArr = s.tMs;
  const vArr = s.values;
  const n = tArr.length;
  // One column's run of samples at a time, its min and max in locals. A sample belongs to column
  // floor((t - t0) * scale) (the last column also takes t1); `(t - t0) * scale < c + 1` is the
  // same test without the floor, so samples land exactly where a per-sample floor puts them.
  let i = lowerBound(tArr, t0);
  while (i < n) {
    const t = tArr[i]!;
    if (t > t1) break;
    let c = Math.floor((t - t0) * scale);
    if (c >= cols) c = cols - 1;
    const limit = c === cols - 1 ? Infinity : c + 1;
    let lo = vArr[i]!;
    let hi = lo;
    let loAt = i;
    let hiAt = i;
    let k = i + 1;
    for (; k < n; k++) {
      const tk = tArr[k]!;
      if (tk > t1 || (tk - t0) * scale >= limit) break;
      const v = vArr[k]!;
      if (v < lo) {
        lo = v;
        loAt = k;
      } else if (v > hi) {
        hi = v;
        hiAt = k;
      }
    }
    if (count[c] === 0) {
      min[c] = lo;
      max[c] = hi;
      minFirst[c] = loAt <= hiAt ? 1 : 0;
    }
    count[c] = count[c]! + (k - i);
    i = k;
  }
  return { columns: cols, min, max, minFirst, count };
}

/**
 * The envelope as a polyline: per non-empty column one point (one sample, or min = max) or two
 * (min and max in the order they happened), at the column's centre. x is a column index + 0.5.
 */
export function envelopePoints(env: Envelope): { x: Float64Array; y: Float64Array; length: number } {
  const x = new Float64Array(env.columns * 2);
  const y = new Float64Array(env.columns * 2);
  let k = 0;
  for (let c = 0; c < env.columns; c++) {
    if (env.count[c] === 0) continue;
    const lo = env.min[c]!;
    const hi = env.max[c]!;
    const xc = c + 0.5;
    if (lo === hi) {
      x[k] = xc;
      y[k++] = lo;
    } else if (env.minFirst[c]) {
      x[k] = xc;
      y[k++] = lo;
      x[k] = xc;
      y[k++] = hi;
    } else {
      x[k] = xc;
      y[k++] = hi;
      x[k] = xc;
      y[k++] = lo;
    }
  }
  return { x, y, length: k };
}
