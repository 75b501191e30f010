/**
 * The facts a user wants first about a run: its peak (and who held the memory then), its end, and
 * how close it came to the limit that would kill it.
 */
import type { MemoryRecording, ProcessTrack } from '../model/recording';
import { seriesMax, valueAt } from '../model/series';

export interface ProcessPeak {
  pid: number;
  command: string[];
  /** Highest sampled RSS. */
  peakBytes: number;
  peakTMs: number;
  /** The kernel's VmHWM: can exceed peakBytes when a peak fell between samples. NaN when unknown. */
  hwmBytes: number;
}

export interface RunSummary {
  durationMs: number;
  samples: number;
  /** Peak of the tree total (RSS sum). */
  peakBytes: number;
  peakTMs: number;
  /** The process holding the most RSS at the moment of the tree's peak. */
  topAtPeak: { pid: number; command: string[]; bytes: number } | null;
  /**
   * When the peak fell while an in-process agent took a heap census or an allocation snapshot
   * (which briefly need memory of their own: ~80 bytes per live block for a tracemalloc
   * snapshot), that work, and the highest sample outside all such windows. null otherwise.
   */
  peakDuringAgent: { what: 'census' | 'trace'; pid: number; startMs: number; durationMs: number; peakOutsideBytes: number; peakOutsideTMs: number } | null;
  finalBytes: number;
  processes: ProcessPeak[];
  /** The limit that applies: --limit if given, else the cgroup limit. */
  limit: { bytes: number; source: 'limit' | 'cgroup v1' | 'cgroup v2' } | null;
  /** Peak of cgroup usage (the container's own number) where recorded. */
  cgroupPeakBytes: number | null;
  /** Peak of PSS sum where read. */
  pssPeakBytes: number | null;
  end: MemoryRecording['end'];
  oomKilled: boolean;
}

function processPeak(p: ProcessTrack): ProcessPeak {
  const m = seriesMax(p.rss);
  return { pid: p.pid, command: p.command, peakBytes: m.index < 0 ? 0 : m.bytes, peakTMs: m.tMs, hwmBytes: p.hwmBytes };
}

export function summarize(rec: MemoryRecording): RunSummary {
  const t = rec.total;
  const n = t.tMs.length;
  const peak = seriesMax(t);
  let topAtPeak: RunSummary['topAtPeak'] = null;
  if (peak.index >= 0) {
    for (const p of rec.processes) {
      if (p.rss.tMs.length === 0 || p.firstSeenMs > peak.tMs || (p.exitMs !== null && p.exitMs < peak.tMs)) continue;
      const v = valueAt(p.rss, peak.tMs);
      if (Number.isFinite(v) && (topAtPeak === null || v > topAtPeak.bytes)) topAtPeak = { pid: p.pid, command: p.command, bytes: v };
    }
  }
  const peakDuringAgent = peak.index >= 0 ? agentWorkAtPeak(rec, peak.tMs) : null;
  let limit: RunSummary['limit'] = null;
  if (rec.meta.limitBytes !== null) limit = { bytes: rec.meta.limitBytes, source: 'limit' };
  else if (rec.cgroup && rec.cgroup.limit.values.length > 0) {
    // The latest limit in force (a limit can change during a run).
    const limits = rec.cgroup.limit.values;
    limit = { bytes: limits[limits.length - 1]!, source: rec.meta.cgroup?.version === 2 ? 'cgroup v2' : 'cgroup v1' };
  }
  let cgroupPeakBytes: number | null = null;
  if (rec.cgroup) {
    const usagePeak = seriesMax(rec.cgroup.usage);
    const kernelPeak = seriesMax(rec.cgroup.peak);
    const candidates = [usagePeak.bytes, kernelPeak.bytes].filter(Number.isFinite);
    cgroupPeakBytes = candidates.length ? Math.max(...candidates) : null;
  }
  const pss = seriesMax(rec.totalPss);
  const durationMs = rec.end ? rec.end.tMs : n ? t.tMs[n - 1]! : 0;
  return {
    durationMs,
    samples: n,
    peakBytes: peak.index < 0 ? 0 : peak.bytes,
    peakTMs: peak.tMs,
    topAtPeak,
    peakDuringAgent,
    finalBytes: lastNonZero(t.values),
    processes: rec.processes.map(processPeak).sort((a, b) => b.peakBytes - a.peakBytes),
    limit,
    cgroupPeakBytes,
    pssPeakBytes: pss.index < 0 ? null : pss.bytes,
    end: rec.end,
    oomKilled: rec.end?.reason === 'oom-killer',
  };
}

/**
 * The census or allocation snapshot, if any, whose window (its duration, plus one sampling
 * interval for the memory it freed to show) holds tMs; with the highest sample outside every
 * such window.
 */
function agentWorkAtPeak(rec: MemoryRecording, tMs: number): RunSummary['peakDuringAgent'] {
  const slack = Math.max(rec.meta.intervalMs ?? 100, 50);
  const windows: Array<[number, number]> = [];
  let hit: { what: 'census' | 'trace'; pid: number; startMs: number; durationMs: number } | null = null;
  for (const e of rec.events) {
    if (e.kind !== 'census' && e.kind !== 'trace') continue;
    const from = e.tMs;
    const to = e.tMs + Math.max(0, e.durationMs) + slack;
    windows.push([from, to]);
    if (tMs >= from && tMs <= to && !hit) hit = { what: e.kind, pid: e.pid, startMs: e.tMs, durationMs: e.durationMs };
  }
  if (!hit) return null;
  windows.sort((a, b) => a[0] - b[0]);
  const t = rec.total.tMs;
  const v = rec.total.values;
  let best = -1;
  let w = 0;
  for (let i = 0; i < t.length; i++) {
    const ti = t[i]!;
    while (w < windows.length && windows[w]![1] < ti) w++;
    let inside = false;
    for (let k = w; k < windows.length && windows[k]![0] <= ti; k++) {
      if (ti <= windows[k]![1]) {
        inside = true;
        break;
      }
    }
    if (!inside && (best < 0 || v[i]! > v[best]!)) best = i;
  }
  return { ...hit, peakOutsideBytes: best < 0 ? 0 : v[best]!, peakOutsideTMs: best < 0 ? NaN : t[best]! };
}

/** Memory at the end: the last sample that still had live processes (the very last one, taken
 * after the target exited, is usually empty). */
function lastNonZero(values: Float64Array): number {
  for (let i = values.length - 1; i >= 0; i--) if (values[i]! > 0) return values[i]!;
  return 0;
}
