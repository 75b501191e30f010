/**
 * The tree total and per-process series in the recording's metric (`--metric rss|pss|uss`): the one
 * place that decides which series the peak, the summary, the chart, the verdicts and the exports
 * count, so that none of them falls back to the RSS sum on its own.
 *
 * What the model holds (src/model/recording.ts): `total` is the RSS sum for memhunt's own
 * recordings whatever the metric; `totalPss` the PSS sum at each smaps_rollup read; each process's
 * `pss`/`uss` series. An import that holds only a total in its metric (mprof's `--backend
 * psutil_pss`, whose MEM lines are PSS) has that total in `total` and no PSS/USS series.
 *
 * PSS/USS are read at an adaptive rate (their cost grows with RSS; src/sampler/sampler.ts): the
 * metric's series can have fewer points than the RSS one.
 */
import type { MemoryMetric, MemoryRecording, ProcessTrack } from './recording';
import { emptySeries, SeriesBuilder, type Series } from './series';

export interface MetricSeries {
  series: Series;
  /** What the series counts (the recording's metric, or 'rss' where it had to fall back). */
  metric: MemoryMetric;
}

/** "tree RSS", "tree PSS", "tree USS". */
export function metricLabel(metric: MemoryMetric): string {
  return metric.toUpperCase();
}

/** Sum of every process's USS at each smaps_rollup read (all rows of one read share its time). */
function ussTotal(rec: MemoryRecording): Series {
  const points: Array<[number, number]> = [];
  for (const p of rec.processes) {
    const s = p.uss;
    for (let i = 0; i < s.tMs.length; i++) points.push([s.tMs[i]!, s.values[i]!]);
  }
  if (points.length === 0) return emptySeries();
  points.sort((a, b) => a[0] - b[0]);
  const b = new SeriesBuilder('tree USS', points.length);
  let t = points[0]![0];
  let sum = 0;
  for (const [tMs, v] of points) {
    if (tMs !== t) {
      b.push(t, sum);
      t = tMs;
      sum = 0;
    }
    sum += v;
  }
  b.push(t, sum);
  return b.build();
}

/** True when the recording holds per-process or tree PSS/USS readings (memhunt's own, or its JSON). */
function hasSmapsReadings(rec: MemoryRecording): boolean {
  return rec.totalPss.tMs.length > 0 || rec.processes.some((p) => p.pss.tMs.length > 0 || p.uss.tMs.length > 0);
}

/**
 * The tree total the recording's metric counts. A memhunt recording with `--metric pss|uss` but not
 * a single smaps_rollup read (no sample at all) falls back to the RSS sum, and says so in `metric`.
 */
export function metricTotal(rec: MemoryRecording): MetricSeries {
  const m = rec.meta.metric;
  if (m === 'rss') return { series: rec.total, metric: 'rss' };
  if (hasSmapsReadings(rec)) {
    const s = m === 'pss' ? rec.totalPss : ussTotal(rec);
    if (s.tMs.length > 0) return { series: s, metric: m };
  }
  // An import whose total is already in its metric (mprof's PSS/USS backends) keeps it; a memhunt
  // recording without readings has only the RSS sum.
  if (rec.meta.source === 'memhunt' || hasSmapsReadings(rec)) return { series: rec.total, metric: 'rss' };
  return { series: rec.total, metric: m };
}

/** The RSS sum over the tree when the recording has it (memhunt's own; imports in RSS), else null. */
export function rssTotal(rec: MemoryRecording): Series | null {
  if (rec.meta.metric === 'rss' || rec.meta.source === 'memhunt' || hasSmapsReadings(rec)) return rec.total;
  return null;
}

/**
 * One process's series in the recording's metric. Processes of an import have RSS only (mprof
 * writes CHLD lines in RSS whatever its backend): their RSS is returned, labelled so. A process of
 * a memhunt recording that ended before its first PSS read has an empty series in that metric.
 */
export function processMetricSeries(rec: MemoryRecording, p: ProcessTrack): MetricSeries {
  const m = rec.meta.metric;
  if (m === 'rss') return { series: p.rss, metric: 'rss' };
  if (!hasSmapsReadings(rec)) return { series: p.rss, metric: 'rss' };
  return { series: m === 'pss' ? p.pss : p.uss, metric: m };
}
