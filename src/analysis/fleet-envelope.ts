/**
 * A fleet's recordings on one wall-clock axis (issue 14, `memhunt plot DIR`): each recording is
 * reduced, where it is read (a worker thread), to the min and max of its tree total per bucket of a
 * grid common to the fleet, so the main thread holds buckets, never series. 1,000 one-hour
 * recordings are 36 M samples; on a 2,000-bucket grid they are 1,000 × 2 × 2,000 floats (16 MB as
 * Float32), and the chart keeps only a band and the few riskiest.
 *
 * Each recording is placed by its own clock (its header's startWallMs): hosts whose clocks disagree
 * are drawn where their clocks say; `clockSkewOf` says so when the files' times show it.
 */
import type { Series } from '../model/series';

/** Buckets of the fleet's time axis: bucket i is [t0WallMs + i·stepMs, t0WallMs + (i+1)·stepMs). */
export interface FleetGrid {
  t0WallMs: number;
  stepMs: number;
  buckets: number;
}

/** One recording on the grid: buckets first … first+min.length−1; NaN where no sample fell. */
export interface GridEnvelope {
  first: number;
  min: Float32Array;
  max: Float32Array;
}

/**
 * The summary footer's envelope of the tree total (spec.ts SummaryRecord.envelope): bucket i is
 * [i·stepMs, (i+1)·stepMs) of the recording's own time, values in KiB, null where no sample fell.
 */
export interface FooterEnvelope {
  stepMs: number;
  minKiB: Array<number | null>;
  maxKiB: Array<number | null>;
}

/** Buckets in a footer: 512 × 2 values are ~6 KiB of JSON, ~2–3 KiB gzipped (the footer is read from the last 16 KiB). */
export const FOOTER_BUCKETS = 512;
/** Buckets of the fleet grid: more than the columns of a 1200-pixel chart, so no pixel lacks its min and max. */
export const FLEET_BUCKETS = 2000;

/** The grid from the fleet's first start to its last end (each by its own clock). */
export function fleetGrid(spans: Array<{ startWallMs: number; durationMs: number }>, buckets = FLEET_BUCKETS): FleetGrid {
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const s of spans) {
    t0 = Math.min(t0, s.startWallMs);
    t1 = Math.max(t1, s.startWallMs + Math.max(0, s.durationMs));
  }
  if (!Number.isFinite(t0)) return { t0WallMs: 0, stepMs: 1, buckets: 1 };
  const span = Math.max(1, t1 - t0);
  const n = Math.max(1, Math.min(buckets, Math.ceil(span)));
  return { t0WallMs: t0, stepMs: span / n, buckets: n };
}

function emptyEnvelope(): GridEnvelope {
  return { first: 0, min: new Float32Array(0), max: new Float32Array(0) };
}

function bucketRange(grid: FleetGrid, fromWallMs: number, toWallMs: number): { first: number; last: number } | null {
  const first = Math.max(0, Math.floor((fromWallMs - grid.t0WallMs) / grid.stepMs));
  const last = Math.min(grid.buckets - 1, Math.floor((toWallMs - grid.t0WallMs) / grid.stepMs));
  return last >= first ? { first, last } : null;
}

/** A recording's series (times from its start) reduced onto the grid: one pass over the samples. */
export function envelopeOnGrid(s: Series, startWallMs: number, grid: FleetGrid): GridEnvelope {
  const n = s.tMs.length;
  if (n === 0) return emptyEnvelope();
  const r = bucketRange(grid, startWallMs + s.tMs[0]!, startWallMs + s.tMs[n - 1]!);
  if (!r) return emptyEnvelope();
  const len = r.last - r.first + 1;
  const min = new Float32Array(len).fill(NaN);
  const max = new Float32Array(len).fill(NaN);
  const off = startWallMs - grid.t0WallMs;
  for (let i = 0; i < n; i++) {
    let b = Math.floor((off + s.tMs[i]!) / grid.stepMs) - r.first;
    if (b < 0) b = 0;
    else if (b >= len) b = len - 1;
    const v = s.values[i]!;
    if (!(min[b]! <= v)) min[b] = v;
    if (!(max[b]! >= v)) max[b] = v;
  }
  return { first: r.first, min, max };
}

/** A footer's envelope moved onto the grid (each footer bucket into the grid bucket of its middle). */
export function footerEnvelopeOnGrid(e: FooterEnvelope, startWallMs: number, grid: FleetGrid): GridEnvelope {
  const k = e.minKiB.length;
  if (k === 0) return emptyEnvelope();
  const r = bucketRange(grid, startWallMs, startWallMs + k * e.stepMs);
  if (!r) return emptyEnvelope();
  const len = r.last - r.first + 1;
  const min = new Float32Array(len).fill(NaN);
  const max = new Float32Array(len).fill(NaN);
  for (let i = 0; i < k; i++) {
    const lo = e.minKiB[i];
    const hi = e.maxKiB[i];
    if (lo === null || lo === undefined || hi === null || hi === undefined) continue;
    // A footer bucket wider than a grid bucket covers several: its min and max go into each.
    const from = Math.floor((startWallMs + i * e.stepMs - grid.t0WallMs) / grid.stepMs) - r.first;
    const to = Math.floor((startWallMs + (i + 1) * e.stepMs - 1e-6 - grid.t0WallMs) / grid.stepMs) - r.first;
    for (let b = Math.max(0, from); b <= Math.min(len - 1, to); b++) {
      const vlo = lo * 1024;
      const vhi = hi * 1024;
      if (!(min[b]! <= vlo)) min[b] = vlo;
      if (!(max[b]! >= vhi)) max[b] = vhi;
    }
  }
  return { first: r.first, min, max };
}

/** The footer's envelope of a series (tree total): FOOTER_BUCKETS buckets over its duration, KiB. */
export function footerEnvelopeOf(s: Series, buckets = FOOTER_BUCKETS): FooterEnvelope | null {
  const n = s.tMs.length;
  if (n === 0) return null;
  const span = Math.max(1, s.tMs[n - 1]!);
  const k = Math.max(1, Math.min(buckets, n));
  // Steps in whole milliseconds, so the footer's JSON stays short and exact.
  const stepMs = Math.max(1, Math.ceil((span + 1) / k));
  const count = Math.min(k, Math.floor(span / stepMs) + 1);
  const minKiB: Array<number | null> = new Array(count).fill(null);
  const maxKiB: Array<number | null> = new Array(count).fill(null);
  for (let i = 0; i < n; i++) {
    const b = Math.min(count - 1, Math.max(0, Math.floor(s.tMs[i]! / stepMs)));
    const v = s.values[i]! / 1024;
    const lo = Math.floor(v);
    const hi = Math.ceil(v);
    if (minKiB[b] === null || lo < minKiB[b]!) minKiB[b] = lo;
    if (maxKiB[b] === null || hi > maxKiB[b]!) maxKiB[b] = hi;
  }
  return { stepMs, minKiB, maxKiB };
}

/**
 * Per bucket, over many recordings: the lowest min, the highest max, how many had a sample, and a
 * histogram of their highs (HIST_BINS linear bins up to `topBytes`, the fleet's highest peak, known
 * from the rows before any envelope is read) for the median and the 90th percentile: 2,000 × 128
 * counts, 1 MiB, whatever the number of recordings.
 */
export const HIST_BINS = 128;

export class FleetBand {
  readonly min: Float32Array;
  readonly max: Float32Array;
  readonly count: Uint32Array;
  private readonly hist: Uint32Array;
  recordings = 0;
  constructor(readonly grid: FleetGrid, private readonly topBytes: number) {
    this.min = new Float32Array(grid.buckets).fill(NaN);
    this.max = new Float32Array(grid.buckets).fill(NaN);
    this.count = new Uint32Array(grid.buckets);
    this.hist = new Uint32Array(grid.buckets * HIST_BINS);
  }

  add(e: GridEnvelope): void {
    this.recordings++;
    const scale = this.topBytes > 0 ? HIST_BINS / this.topBytes : 0;
    for (let i = 0; i < e.min.length; i++) {
      const lo = e.min[i]!;
      const hi = e.max[i]!;
      if (lo !== lo) continue;
      const b = e.first + i;
      if (!(this.min[b]! <= lo)) this.min[b] = lo;
      if (!(this.max[b]! >= hi)) this.max[b] = hi;
      this.count[b]!++;
      this.hist[b * HIST_BINS + Math.min(HIST_BINS - 1, Math.max(0, Math.floor(hi * scale)))]!++;
    }
  }

  /**
   * Per bucket, the high that a share `q` of the recordings present there stayed at or under (the
   * top of its histogram bin: at most topBytes / HIST_BINS above the true value); NaN where none was.
   */
  quantile(q: number): Float32Array {
    const out = new Float32Array(this.grid.buckets).fill(NaN);
    const width = this.topBytes / HIST_BINS;
    for (let b = 0; b < this.grid.buckets; b++) {
      const n = this.count[b]!;
      if (n === 0) continue;
      const want = Math.max(1, Math.ceil(q * n));
      let seen = 0;
      for (let k = 0; k < HIST_BINS; k++) {
        seen += this.hist[b * HIST_BINS + k]!;
        if (seen >= want) {
          out[b] = Math.min(this.max[b]!, (k + 1) * width);
          break;
        }
      }
    }
    return out;
  }
}

/** A per-bucket value as a series (one point in the middle of each bucket that has one). */
export function bucketSeries(grid: FleetGrid, values: Float32Array): Series {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === values[i]) n++;
  const tMs = new Float64Array(n);
  const v = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== values[i]) continue;
    tMs[k] = (i + 0.5) * grid.stepMs;
    v[k++] = values[i]!;
  }
  return { tMs, values: v };
}

/**
 * An envelope as a series the chart back ends draw (times from the grid's start): per bucket its
 * min then its max, a quarter and three quarters into the bucket. Drawn with min/max per pixel
 * column (render/downsample.ts) it is the band the samples covered, no peak lost.
 */
export function envelopeSeries(grid: FleetGrid, first: number, min: Float32Array, max: Float32Array): Series {
  let n = 0;
  for (let i = 0; i < min.length; i++) if (min[i] === min[i]) n++;
  const tMs = new Float64Array(2 * n);
  const values = new Float64Array(2 * n);
  let k = 0;
  for (let i = 0; i < min.length; i++) {
    if (min[i] !== min[i]) continue;
    const t = (first + i) * grid.stepMs;
    tMs[k] = t + 0.25 * grid.stepMs;
    values[k++] = min[i]!;
    tMs[k] = t + 0.75 * grid.stepMs;
    values[k++] = max[i]!;
  }
  return { tMs, values };
}

/**
 * Clock skew that the files show (they cannot show it all): a recording's file was last written
 * (its mtime, by the file system's clock) when its run ended, give or take the final flush. A file
 * last written more than SKEW_MS before the end its own clock recorded means that host's clock runs
 * ahead; and where most files of a folder were written in place (their mtime − end offsets agree
 * within a second), one whose offset differs from theirs by more than SKEW_MS has a clock off by
 * about that much. Copied files (new mtimes) show nothing, and are not blamed.
 */
export const SKEW_MS = 5000;

export interface SkewInput {
  identity: string;
  /** By the recording's clock: startWallMs + its duration. */
  endWallMs: number;
  mtimeMs: number;
}

export interface ClockSkew {
  /** Recordings whose clock disagrees with the file times. */
  count: number;
  /** The largest disagreement: its recording and by how much its clock is ahead (negative: behind). */
  worst: { identity: string; aheadMs: number } | null;
}

export function clockSkewOf(items: SkewInput[]): ClockSkew {
  const offsets = items.map((r) => r.mtimeMs - r.endWallMs).sort((a, b) => a - b);
  const q = (p: number) => offsets[Math.min(offsets.length - 1, Math.floor(p * offsets.length))]!;
  // "Written in place": the middle half of the offsets within a second of each other (and at least 4 files).
  const inPlace = offsets.length >= 4 && q(0.75) - q(0.25) <= 1000;
  const median = offsets.length ? q(0.5) : 0;
  let count = 0;
  let worst: ClockSkew['worst'] = null;
  for (const r of items) {
    const off = r.mtimeMs - r.endWallMs;
    let ahead = 0;
    if (off < -SKEW_MS) ahead = -off;
    else if (inPlace && Math.abs(off - median) > SKEW_MS) ahead = median - off;
    if (ahead === 0) continue;
    count++;
    if (!worst || Math.abs(ahead) > Math.abs(worst.aheadMs)) worst = { identity: r.identity, aheadMs: ahead };
  }
  return { count, worst };
}

/** One line for the plot's notice and the fleet table's footnote; null when no skew is seen. */
export function clockSkewLine(s: ClockSkew): string | null {
  if (!s.worst) return null;
  const secs = Math.round(Math.abs(s.worst.aheadMs) / 1000);
  const who = s.count === 1 ? `${s.worst.identity}'s clock` : `${s.count} recordings' clocks (most: ${s.worst.identity})`;
  return `clock skew: ${who} ${s.count === 1 ? 'is' : 'are'} off by ${secs} s (${s.worst.aheadMs > 0 ? 'ahead of' : 'behind'} the file times); each recording is placed by its own clock`;
}
