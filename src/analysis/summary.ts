/**
 * The facts a user wants first about a run: its peak (and who held the memory then), its end, and
 * how close it came to the limit that would kill it.
 */
import { workerText, type MemoryMetric, type MemoryRecording, type ProcessTrack } from '../model/recording';
import { metricLabel, metricTotal, processMetricSeries, rssTotal } from '../model/metric';
import { seriesMax, valueAt, type Series } from '../model/series';
import { formatBytes, formatClock } from '../units';
import { levelBeforeExit } from './verdict';
import { treeTeardown } from './teardown';

/**
 * A kernel high-water mark (VmHWM) counts as "higher than the samples" when it exceeds them by more
 * than this share and this many bytes: /proc reports KiB and its counters lag a little (man
 * proc_pid_status: "updated lazily"), so a few KiB above a sample is the same peak.
 */
const HWM_MARGIN_SHARE = 0.01;
const HWM_MARGIN_BYTES = 1024 * 1024;

/** The container holds "more than this tree" when its usage at the start exceeded the tree's by this. */
const OTHER_IN_CGROUP_BYTES = 8 * 1024 * 1024;

export interface WorkerSummary {
  pid: number;
  /** "worker tcp://127.0.0.1:41083 (0)" */
  text: string;
  /** Highest sampled RSS of the process. */
  rssPeakBytes: number;
  memoryLimitBytes: number | null;
  exitMs: number | null;
  /**
   * How long it was held at Dask's pause threshold (80% of memory_limit by default: Dask stops giving
   * it tasks), ms: its RSS at 78% of the limit or more for 2 s and more, its peak under the 95% at
   * which the nanny terminates, and not killed (a worker that went through 80% on its way to the
   * kill, or whose job turned the pause off, was never held there); null when it was not.
   */
  heldAtPauseMs: number | null;
  /** Held there (heldAtPauseMs) up to its last sample: paused when it or the recording ended, its
   * tasks waiting (a job that waits on them stalls: trial 5's was ended by SIGTERM after 2 min). */
  heldToEnd: boolean;
}

/** Dask's default distributed.worker.memory.pause: a worker stops running tasks at this share of its memory_limit. */
export const DASK_PAUSE_FRACTION = 0.8;

export interface ParentKillSummary {
  pid: number;
  /** "worker tcp://127.0.0.1:41083 (0)" */
  text: string;
  /** The parent that killed it (the nanny's process). */
  by: number;
  /** The process's highest sampled RSS (what Dask's nanny compares with the limit), bytes. */
  rssBytes: number;
  memoryLimitBytes: number | null;
  /** rssBytes / memoryLimitBytes; null without a limit. */
  share: number | null;
  terminateFraction: number;
  /** When the process was seen gone (else when memhunt learned of the kill). */
  tMs: number;
}

export interface ProcessPeak {
  pid: number;
  command: string[];
  /** "worker tcp://… (name)" for a cluster worker's process. */
  worker?: string;
  /** Highest sampled value in the recording's metric (RSS, PSS or USS); 0 when never read in it. */
  peakBytes: number;
  peakTMs: number;
  /** Highest sampled RSS. */
  rssPeakBytes: number;
  /** The kernel's VmHWM (an RSS peak): can exceed rssPeakBytes when a peak fell between samples. NaN when unknown. */
  hwmBytes: number;
  /**
   * False when the high-water mark may predate the recording: a process already running when
   * `memhunt attach` started (the kernel keeps VmHWM for the life of the process image).
   */
  hwmInRecording: boolean;
}

/** How close the run came to a limit, counted in what that limit counts. */
export interface LimitUse {
  limitBytes: number;
  /** '--limit' (kills on the metric's tree total) or 'cgroup v1'/'cgroup v2' (the kernel kills on the cgroup's usage). */
  source: string;
  /** The highest value of what the limit counts, sampled during the run. */
  usedBytes: number;
  /** "tree RSS", "tree PSS", "cgroup usage". */
  what: string;
  share: number;
  headroomBytes: number;
}

/** The memory cgroup's figures of this run: read during it, never a counter left from before. */
export interface ContainerFigures {
  version: 1 | 2;
  /** Highest usage sampled during the run (everything charged: page cache, kernel memory, memhunt itself, other processes). */
  usagePeakBytes: number;
  usagePeakTMs: number;
  /** Highest working set (usage − inactive file) sampled during the run. */
  workingSetPeakBytes: number;
  /**
   * The kernel's own peak (v2 memory.peak, v1 memory.max_usage_in_bytes), only when it rose during
   * the run: then its value was reached during the run, between samples or not. A counter that did
   * not rise still holds a peak from before the run (the kernel never resets it by itself) and is
   * not this run's: null. Also null when it is not clearly above the highest sample (it says nothing more).
   */
  kernelPeakBytes: number | null;
  /** Usage at the first sample, and the tree's RSS then: the difference was already charged to the cgroup. */
  usageAtStartBytes: number;
  treeAtStartBytes: number;
  /** True when the cgroup held clearly more than this tree when it started (memhunt itself, page cache, other processes). */
  holdsMoreThanTree: boolean;
  /**
   * OOM kills in the cgroup during the run, at least: the rises of its kill counter, the first
   * counted as one (the recording keeps the counter's value at each rise, not before the first).
   */
  oomKillsAtLeast: number;
  /** The kill counter after its last rise in the run; null when it did not rise. */
  oomKillCounter: number | null;
}

/**
 * A process's kernel high-water mark above every sample of the tree: a peak that fell between two
 * samples. For the tree it is a lower bound of the true peak (the others held ≥ 0 then).
 */
export interface HwmPeak {
  pid: number;
  command: string[];
  hwmBytes: number;
  /**
   * --metric pss/uss: hwmBytes is the process's PSS (USS) at its high-water mark, estimated as its
   * reading plus what its RSS grew from then to VmHWM (memory added after a read is its own): a
   * run shorter than a second is read a few times only, and its peak fell between the reads.
   */
  estimated?: 'pss' | 'uss';
}

export interface RunSummary {
  durationMs: number;
  samples: number;
  /** What the tree total counts: the recording's --metric (rss, pss, uss). */
  metric: MemoryMetric;
  /** "tree RSS", "tree PSS", "tree USS". */
  metricText: string;
  /** Peak of the tree total in the metric, as sampled. */
  peakBytes: number;
  peakTMs: number;
  /** Peak of the RSS sum when the metric is not RSS (shared pages counted once per process); null otherwise. */
  rssPeakBytes: number | null;
  /** The process holding the most (in the metric) at the moment of the tree's peak. */
  topAtPeak: { pid: number; command: string[]; bytes: number; worker?: string } | null;
  /** Cluster workers of the tree (Dask, as their agents said), first seen first. */
  workers: WorkerSummary[];
  /** Worker processes their parent (Dask's nanny) terminated for exceeding their memory limit. */
  parentKills: ParentKillSummary[];
  /**
   * With the RSS metric: the process whose kernel high-water mark (VmHWM) is the highest, when it
   * is above the tree's sampled peak (the samples missed a peak). null otherwise.
   */
  hwmAbovePeak: HwmPeak | null;
  /**
   * With the RSS metric and several processes: the sum of every process's high-water mark, an
   * upper bound of the tree's peak (the processes need not have peaked at the same moment); null
   * when it says nothing more than the sampled peak.
   */
  hwmSumBytes: number | null;
  /**
   * When the peak fell while an in-process agent took a heap census or an allocation snapshot
   * (which briefly need memory of their own: ~80 bytes per live block for a tracemalloc
   * snapshot), that work, and the highest sample outside all such windows. null otherwise.
   */
  peakDuringAgent: { what: 'census' | 'trace' | 'refs'; pid: number; startMs: number; durationMs: number; peakOutsideBytes: number; peakOutsideTMs: number } | null;
  /**
   * The RSS memhunt's censuses up to the peak added while they ran (their agentRssBytes: the
   * agent's modules, the allocator's arenas their buffers leave), when it is a visible part of
   * the peak: the program's own peak may be lower by up to that much. null otherwise.
   */
  censusesBeforePeak?: { count: number; bytes: number } | null;
  /** The last sample with memory in use: at exit, often taken while the interpreter frees its heap (see beforeExit). */
  finalBytes: number;
  /**
   * The level held before the teardown, when the last samples fall as the process exits (what the
   * program still held at its end; the verdicts leave the fall out too); null when no fall is seen.
   */
  beforeExit: { bytes: number; tMs: number } | null;
  processes: ProcessPeak[];
  /** The limit that applies: --limit if given, else the cgroup limit. */
  limit: { bytes: number; source: 'limit' | 'cgroup v1' | 'cgroup v2' } | null;
  /** How close the run came to that limit, in what it counts; null without a limit. */
  limitUse: LimitUse | null;
  /** The cgroup's figures of this run; null when no cgroup was read. */
  container: ContainerFigures | null;
  end: MemoryRecording['end'];
  /** Set when the recording has no end because another memhunt is still writing it. */
  liveWriter?: MemoryRecording['liveWriter'];
  oomKilled: boolean;
}

function processPeak(rec: MemoryRecording, p: ProcessTrack): ProcessPeak {
  const m = seriesMax(processMetricSeries(rec, p).series);
  const r = seriesMax(p.rss);
  const firstSampleMs = rec.total.tMs.length ? rec.total.tMs[0]! : 0;
  return {
    pid: p.pid, command: p.command, peakBytes: m.index < 0 ? 0 : m.bytes, peakTMs: m.tMs,
    rssPeakBytes: r.index < 0 ? 0 : r.bytes, hwmBytes: p.hwmBytes,
    hwmInRecording: rec.meta.mode !== 'attach' || p.firstSeenMs > firstSampleMs,
    ...(p.worker ? { worker: workerText(p.worker)! } : {}),
  };
}

/** True when a kernel high-water mark is clearly above a sampled value (see HWM_MARGIN_*). */
export function hwmClearlyAbove(hwmBytes: number, sampledBytes: number): boolean {
  return Number.isFinite(hwmBytes) && hwmBytes > sampledBytes + Math.max(HWM_MARGIN_BYTES, HWM_MARGIN_SHARE * sampledBytes);
}

function containerFigures(rec: MemoryRecording): ContainerFigures | null {
  const cg = rec.cgroup;
  if (!cg || cg.usage.tMs.length === 0) return null;
  const usage = seriesMax(cg.usage);
  const ws = seriesMax(cg.workingSet);
  const kp = cg.peak.values;
  // The kernel's peak is this run's only when it rose during the run (see ContainerFigures).
  const kernelPeakBytes = kp.length >= 2 && kp[kp.length - 1]! > kp[0]! ? kp[kp.length - 1]! : null;
  const usageAtStartBytes = cg.usage.values[0]!;
  const rss = rssTotal(rec) ?? rec.total;
  const treeAtStart = valueAt(rss, cg.usage.tMs[0]!);
  const treeAtStartBytes = Number.isFinite(treeAtStart) ? treeAtStart : 0;
  const ooms = rec.events.filter((e): e is Extract<typeof e, { kind: 'oom-kill' }> => e.kind === 'oom-kill');
  const oomKillsAtLeast = ooms.length ? ooms[ooms.length - 1]!.oomKills - ooms[0]!.oomKills + 1 : 0;
  return {
    version: rec.meta.cgroup?.version ?? 1,
    usagePeakBytes: usage.bytes, usagePeakTMs: usage.tMs,
    workingSetPeakBytes: ws.index < 0 ? NaN : ws.bytes,
    kernelPeakBytes: kernelPeakBytes !== null && hwmClearlyAbove(kernelPeakBytes, usage.bytes) ? kernelPeakBytes : null,
    usageAtStartBytes, treeAtStartBytes,
    holdsMoreThanTree: usageAtStartBytes - treeAtStartBytes > OTHER_IN_CGROUP_BYTES,
    oomKillsAtLeast,
    oomKillCounter: ooms.length ? ooms[ooms.length - 1]!.oomKills : null,
  };
}

/**
 * How close the run came to its limit. --limit kills on the metric's tree total, so it is judged
 * on that; the kernel's OOM killer acts on the cgroup's usage (page cache and every other process
 * of the container included), so a cgroup limit is judged on the highest usage sampled during the
 * run (the kernel's peak when it is this run's and higher).
 */
function limitUseOf(limit: RunSummary['limit'], peakBytes: number, metricText: string, container: ContainerFigures | null): LimitUse | null {
  if (!limit) return null;
  let used = peakBytes;
  let what = metricText;
  if (limit.source !== 'limit' && container) {
    used = Math.max(container.usagePeakBytes, container.kernelPeakBytes ?? 0);
    what = 'cgroup usage';
  }
  return {
    limitBytes: limit.bytes, source: limit.source === 'limit' ? '--limit' : limit.source, usedBytes: used, what,
    share: used / limit.bytes, headroomBytes: limit.bytes - used,
  };
}

/**
 * "sampled peak 87.4 MiB; pid 42 reached 130 MiB between samples (kernel's VmHWM)", for every
 * place that prints the tree's peak; null when the samples caught the highest peak the kernel knows.
 */
export function hwmText(s: RunSummary): string | null {
  const h = s.hwmAbovePeak;
  if (!h) return null;
  let text = h.estimated
    ? `sampled peak ${formatBytes(s.peakBytes)}; pid ${h.pid} reached ≈ ${formatBytes(h.hwmBytes)} of ${h.estimated.toUpperCase()} between readings (its ${h.estimated.toUpperCase()} reading plus what its RSS grew from then to its kernel high-water mark, VmHWM)`
    : `sampled peak ${formatBytes(s.peakBytes)}; pid ${h.pid} reached ${formatBytes(h.hwmBytes)} between samples (its kernel high-water mark, VmHWM)`;
  if (s.hwmSumBytes !== null) text += `; the tree's true peak lies between ${formatBytes(h.hwmBytes)} and ${formatBytes(s.hwmSumBytes)} (every process's high-water mark summed, not at one moment)`;
  return text;
}

/** The highest peak known to have happened: the sampled tree peak, or a process's VmHWM above it. */
export function highestPeak(s: RunSummary): { bytes: number; what: string } {
  if (s.hwmAbovePeak?.estimated) return { bytes: s.hwmAbovePeak.hwmBytes, what: `pid ${s.hwmAbovePeak.pid}'s ${s.hwmAbovePeak.estimated.toUpperCase()} at its kernel high-water mark (VmHWM), estimated, reached between readings; sampled ${s.metricText} peak ${formatBytes(s.peakBytes)}` };
  if (s.hwmAbovePeak) return { bytes: s.hwmAbovePeak.hwmBytes, what: `pid ${s.hwmAbovePeak.pid}'s kernel high-water mark (VmHWM), reached between samples; sampled ${s.metricText} peak ${formatBytes(s.peakBytes)}` };
  return { bytes: s.peakBytes, what: `${s.metricText}, sampled` };
}

export function summarize(rec: MemoryRecording): RunSummary {
  const total = metricTotal(rec);
  const t = total.series;
  const metricText = `tree ${metricLabel(total.metric)}`;
  const n = rec.total.tMs.length;
  const peak = seriesMax(t);
  let topAtPeak: RunSummary['topAtPeak'] = null;
  if (peak.index >= 0) {
    for (const p of rec.processes) {
      const ps = processMetricSeries(rec, p).series;
      if (ps.tMs.length === 0 || p.firstSeenMs > peak.tMs || (p.exitMs !== null && p.exitMs < peak.tMs)) continue;
      const v = valueAt(ps, peak.tMs);
      if (Number.isFinite(v) && (topAtPeak === null || v > topAtPeak.bytes)) topAtPeak = { pid: p.pid, command: p.command, bytes: v, ...(p.worker ? { worker: workerText(p.worker)! } : {}) };
    }
  }
  const peakBytes = peak.index < 0 ? 0 : peak.bytes;
  const peakDuringAgent = peak.index >= 0 ? agentWorkAtPeak(t, rec, peak.tMs) : null;
  let limit: RunSummary['limit'] = null;
  if (rec.meta.limitBytes !== null) limit = { bytes: rec.meta.limitBytes, source: 'limit' };
  else if (rec.cgroup && rec.cgroup.limit.values.length > 0) {
    // The latest limit in force (a limit can change during a run).
    const limits = rec.cgroup.limit.values;
    limit = { bytes: limits[limits.length - 1]!, source: rec.meta.cgroup?.version === 2 ? 'cgroup v2' : 'cgroup v1' };
  }
  const processes = rec.processes.map((p) => processPeak(rec, p)).sort((a, b) => b.peakBytes - a.peakBytes);
  // VmHWM is an RSS peak: it bounds the tree's RSS sum, not its PSS or USS.
  let hwmAbovePeak: HwmPeak | null = null;
  let hwmSumBytes: number | null = null;
  if (total.metric === 'rss' && peak.index >= 0) {
    let sum = 0;
    let allKnown = true;
    for (const p of processes) {
      if (!Number.isFinite(p.hwmBytes) || !p.hwmInRecording) {
        allKnown = false;
        continue;
      }
      sum += p.hwmBytes;
      if (hwmClearlyAbove(p.hwmBytes, peakBytes) && (hwmAbovePeak === null || p.hwmBytes > hwmAbovePeak.hwmBytes)) {
        hwmAbovePeak = { pid: p.pid, command: p.command, hwmBytes: p.hwmBytes };
      }
    }
    if (hwmAbovePeak && allKnown && processes.length > 1 && sum > hwmAbovePeak.hwmBytes + HWM_MARGIN_BYTES) hwmSumBytes = sum;
  } else if ((total.metric === 'pss' || total.metric === 'uss') && peak.index >= 0) {
    // A process's PSS (USS) at its VmHWM: its reading where its RSS was highest, plus what its RSS
    // grew from then to the high-water mark (what a process adds is its own: counted whole). A
    // sub-second run is read a few times and its peak is often between two readings, or after the
    // last (issue 16: a list of N floats came out quadratic from PSS peaks of 5.7, 8.4, 17.8 MiB).
    for (const track of rec.processes) {
      if (!Number.isFinite(track.hwmBytes) || (rec.meta.mode === 'attach' && track.firstSeenMs <= rec.total.tMs[0]!)) continue;
      const m = processMetricSeries(rec, track);
      if (m.metric === 'rss' || m.series.tMs.length === 0) continue;
      let best = -1;
      let bestRss = -Infinity;
      for (let i = 0; i < m.series.tMs.length; i++) {
        const r = valueAt(track.rss, m.series.tMs[i]!);
        if (Number.isFinite(r) && r > bestRss) {
          bestRss = r;
          best = i;
        }
      }
      if (best < 0) continue;
      const estimate = m.series.values[best]! + Math.max(0, track.hwmBytes - bestRss);
      if (hwmClearlyAbove(estimate, peakBytes) && (hwmAbovePeak === null || estimate > hwmAbovePeak.hwmBytes)) {
        hwmAbovePeak = { pid: track.pid, command: track.command, hwmBytes: estimate, estimated: m.metric };
      }
    }
  }
  const rss = total.metric === 'rss' ? null : rssTotal(rec);
  const rssPeak = rss ? seriesMax(rss) : null;
  const container = containerFigures(rec);
  const durationMs = rec.end ? rec.end.tMs : n ? rec.total.tMs[n - 1]! : 0;
  return {
    durationMs,
    samples: n,
    metric: total.metric,
    metricText,
    peakBytes,
    peakTMs: peak.tMs,
    rssPeakBytes: rssPeak && rssPeak.index >= 0 ? rssPeak.bytes : null,
    topAtPeak,
    ...clusterWorkers(rec),
    hwmAbovePeak,
    hwmSumBytes,
    peakDuringAgent,
    censusesBeforePeak: peak.index >= 0 ? censusesBefore(rec, peak.tMs, peakBytes) : null,
    finalBytes: lastNonZero(t.values),
    beforeExit: levelBeforeExit(t, treeTeardown(rec, t)?.fromMs ?? null),
    processes,
    limit,
    limitUse: limitUseOf(limit, peakBytes, metricText, container),
    container,
    end: rec.end,
    ...(rec.liveWriter ? { liveWriter: rec.liveWriter } : {}),
    oomKilled: rec.end?.reason === 'oom-killer',
  };
}

/** What memhunt's own work in a process is called where a peak falls in it. */
const LARGEST_TOOK = /^largest\/duplicates took (\d+(?:\.\d+)?) ms after the census/;

/** How long a census's request took in its process: the census, then its largest objects and duplicates (the agent's note). */
export function censusWorkMs(e: { durationMs: number; notes?: string[] }): number {
  let ms = Math.max(0, e.durationMs);
  for (const n of e.notes ?? []) {
    const m = LARGEST_TOOK.exec(n);
    if (m) ms += Number(m[1]);
  }
  return ms;
}

/** The censuses up to tMs whose added RSS is at least 2% of the peak (and 1 MiB), or null. */
function censusesBefore(rec: MemoryRecording, tMs: number, peakBytes: number): { count: number; bytes: number } | null {
  let count = 0;
  let bytes = 0;
  for (const e of rec.events) {
    if (e.kind !== 'census' || e.tMs > tMs || e.agentRssBytes === undefined || e.agentRssBytes <= 0) continue;
    count++;
    bytes += e.agentRssBytes;
  }
  return count > 0 && bytes >= Math.max(1024 * 1024, 0.02 * peakBytes) ? { count, bytes } : null;
}

export const AGENT_WORK_NAMES = { census: 'heap census', trace: 'allocation snapshot', refs: 'back-reference graph' } as const;

/**
 * The census, allocation snapshot or back-reference graph, if any, whose window (its duration, plus one sampling
 * interval for the memory it freed to show) holds tMs; with the highest sample outside every
 * such window.
 */
function agentWorkAtPeak(total: Series, rec: MemoryRecording, tMs: number): RunSummary['peakDuringAgent'] {
  const slack = Math.max(rec.meta.intervalMs ?? 100, 50);
  const windows: Array<[number, number]> = [];
  let hit: { what: 'census' | 'trace' | 'refs'; pid: number; startMs: number; durationMs: number } | null = null;
  for (const e of rec.events) {
    let from: number;
    let durationMs: number;
    if (e.kind === 'census') {
      // With --largest/--duplicates, what follows the census is part of its work (dups.mh: the
      // census took 340 ms, its largest objects and duplicates 2.26 s more, the peak fell there).
      from = e.tMs;
      durationMs = censusWorkMs(e);
    } else if (e.kind === 'trace') {
      from = e.tMs;
      durationMs = Math.max(0, e.durationMs);
    } else if (e.kind === 'refs' && e.durationMs !== undefined) {
      // A graph is recorded when it arrives: its window ends there. (Building one walked the heap
      // for seconds and held 140 MiB that the summary called the program's peak.)
      durationMs = Math.max(0, e.durationMs);
      from = e.tMs - durationMs;
    } else {
      continue;
    }
    const to = from + durationMs + slack;
    windows.push([from, to]);
    if (tMs >= from && tMs <= to && !hit) hit = { what: e.kind, pid: e.pid, startMs: from, durationMs };
  }
  if (!hit) return null;
  windows.sort((a, b) => a[0] - b[0]);
  const t = total.tMs;
  const v = total.values;
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

function seriesPeak(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
  return m;
}

/** The Dask workers of the tree and the ones their nanny killed (records `worker`, `workerkill`). */
function clusterWorkers(rec: MemoryRecording): { workers: WorkerSummary[]; parentKills: ParentKillSummary[] } {
  const workers: WorkerSummary[] = [];
  const parentKills: ParentKillSummary[] = [];
  for (const p of rec.processes) {
    const w = p.worker ?? p.killedByParent;
    if (!w) continue;
    const text = workerText(w)!;
    const rssPeakBytes = seriesPeak(p.rss.values);
    let nearPauseMs = 0;
    if (w.memoryLimitBytes) {
      const { tMs, values } = p.rss;
      for (let i = 1; i < tMs.length; i++) if (values[i - 1]! >= 0.78 * w.memoryLimitBytes) nearPauseMs += tMs[i]! - tMs[i - 1]!;
    }
    const share = w.memoryLimitBytes ? rssPeakBytes / w.memoryLimitBytes : 0;
    const held = share >= DASK_PAUSE_FRACTION && share < 0.95 && !p.killedByParent && nearPauseMs >= 2000;
    const last = lastNonZero(p.rss.values);
    const heldToEnd = held && last >= 0.78 * w.memoryLimitBytes!;
    workers.push({ pid: p.pid, text, rssPeakBytes, memoryLimitBytes: w.memoryLimitBytes, exitMs: p.exitMs, heldAtPauseMs: held ? nearPauseMs : null, heldToEnd });
    const k = p.killedByParent;
    if (k) {
      parentKills.push({
        pid: p.pid, text, by: k.by, rssBytes: rssPeakBytes, memoryLimitBytes: k.memoryLimitBytes,
        share: k.memoryLimitBytes ? rssPeakBytes / k.memoryLimitBytes : null, terminateFraction: k.terminateFraction, tMs: p.exitMs ?? k.tMs,
      });
    }
  }
  return { workers, parentKills };
}

/**
 * "worker tcp://127.0.0.1:35231 (doomed), pid 29649: killed by its parent (Dask nanny, pid 29635)
 * at 97% of its memory limit (300 MiB) at 00:06.6": what the nanny did, in the words every command uses.
 */
export function parentKillText(k: ParentKillSummary): string {
  const at = k.share !== null
    ? `at ${Math.round(k.share * 100)}% of its memory limit (${formatBytes(k.rssBytes)} of ${formatBytes(k.memoryLimitBytes!)}; Dask terminates at ${Math.round(k.terminateFraction * 100)}%)`
    : `for exceeding its memory limit (${formatBytes(k.rssBytes)} at its highest)`;
  return `${k.text}, pid ${k.pid}: killed by its parent (Dask nanny, pid ${k.by}) ${at} at ${formatClock(k.tMs)}`;
}

/**
 * "final" in words, the same in `summary`, at the end of `run` and in `diff`: the last sample, and
 * when the teardown is visible, the level held before it ("69.3 MiB at exit; 222 MiB before the
 * teardown at 00:06.9").
 */
export function finalText(s: Pick<RunSummary, 'finalBytes' | 'beforeExit'>): string {
  if (!s.beforeExit) return formatBytes(s.finalBytes);
  return `${formatBytes(s.finalBytes)} at exit; ${formatBytes(s.beforeExit.bytes)} before the teardown at ${formatClock(s.beforeExit.tMs)}`;
}

/** What the program held at its end: the level before the teardown when one is seen, else the last sample. */
export function heldAtEndBytes(s: Pick<RunSummary, 'finalBytes' | 'beforeExit'>): number {
  return s.beforeExit ? s.beforeExit.bytes : s.finalBytes;
}
