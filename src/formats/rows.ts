/**
 * Lines series up on the rows of a table (CSV) or the samples of a line format (mprof .dat), for
 * writers whose output has one row per sample of the tree total.
 *
 * A process's samples are not always at the total's times: memhunt samples a tree at once, but
 * mprof writes each CHLD line with its own `time.time()`, about 1 ms after the MEM line it belongs
 * to. So a row i covers the window [t_i, t_{i+1}) (the last row runs to +Infinity; samples before
 * the first row count for the first row), and a series contributes the last of its samples in that
 * window.
 */
import type { Series } from '../model/series';

export interface RowSamples {
  /** Value per row, bytes; NaN where the series had no sample in that row's window. */
  bytes: Float64Array;
  /** Time of the sample used per row, ms; NaN where there was none. */
  tMs: Float64Array;
}

/**
 * The last sample of `s` in each row window, or NaN (a process not alive, a reading not taken).
 * `carryForward` instead keeps the last value seen at or before the window's end, for series that
 * hold a level and are written only when it changes (the cgroup limit).
 */
export function samplesPerRow(rowTimesMs: Float64Array, s: Series, carryForward = false): RowSamples {
  const rows = rowTimesMs.length;
  const bytes = new Float64Array(rows).fill(NaN);
  const tMs = new Float64Array(rows).fill(NaN);
  let j = 0;
  let lastBytes = NaN;
  let lastTMs = NaN;
  for (let i = 0; i < rows; i++) {
    const windowEndMs = i + 1 < rows ? rowTimesMs[i + 1]! : Infinity;
    let found = false;
    while (j < s.tMs.length && s.tMs[j]! < windowEndMs) {
      lastBytes = s.values[j]!;
      lastTMs = s.tMs[j]!;
      found = true;
      j++;
    }
    if (found || (carryForward && !Number.isNaN(lastBytes))) {
      bytes[i] = lastBytes;
      tMs[i] = lastTMs;
    }
  }
  return { bytes, tMs };
}
