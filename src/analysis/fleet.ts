/**
 * One row per recording for `memhunt fleet` (issue 14): where it ran, its peak, limit and headroom,
 * how it ended, its verdict and the process that held the most. Rows are small and plain (they
 * cross from worker threads); the series stay in the worker that read them.
 */
import type { MemoryRecording } from '../model/recording';
import { daskWorkerCount, identityText } from '../model/identity';
import { analyzeRecording } from './analyze';
import { parentKillText, type RunSummary } from './summary';
import type { Verdict } from './verdict';
import { formatBytes, formatPercent } from '../units';

export type FleetEnd = 'oom-killed' | 'limit-killed' | 'signalled' | 'failed' | 'ok' | 'no end' | 'detached' | 'interrupted' | 'unknown';

export interface FleetRow {
  file: string;
  /** "batch <job>:<index>", "pod web-0", "executor 3 (pod …)", or the host. */
  identity: string;
  labels: Record<string, string>;
  /** The cluster workers of the recording ("worker tcp://… (name)"), when its agents named any. */
  workers: string[];
  /** Worker processes their parent (Dask's nanny) killed at their memory limit, in words. */
  workerKills: string[];
  host: string | null;
  startWallMs: number;
  durationMs: number;
  /** Samples of the tree total. */
  samples: number;
  metric: string;
  peakBytes: number;
  /** The limit that applies (--limit, else the cgroup's); null when none is known. */
  limitBytes: number | null;
  limitSource: string | null;
  /** Of what the limit counts (the tree metric for --limit, cgroup usage for a cgroup limit). */
  usedShare: number | null;
  headroomBytes: number | null;
  end: FleetEnd;
  /** "OOM killer after 41 min", "exit 1", "SIGTERM" … for the table. */
  endText: string;
  exitCode: number | null;
  verdict: Verdict;
  confidence: string;
  reason: string;
  /** The process holding the most at the tree's peak. */
  top: { pid: number; command: string[]; bytes: number; worker?: string } | null;
  warnings: string[];
}

/** How a recording ended, for the table: its end record (null: cut, or a foreign file that has none). */
export function fleetEndOf(e: MemoryRecording['end'], source: MemoryRecording['meta']['source'], workerKills = 0): { end: FleetEnd; text: string } {
  const r = fleetEndOfRun(e, source);
  return workerKills ? { end: r.end, text: `${r.text}; ${workerKills} worker${workerKills === 1 ? '' : 's'} killed by the Dask nanny` } : r;
}

function fleetEndOfRun(e: MemoryRecording['end'], source: MemoryRecording['meta']['source']): { end: FleetEnd; text: string } {
  const min = (ms: number) => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${(ms / 1000).toFixed(1)} s`);
  if (!e) return source === 'memhunt' ? { end: 'no end', text: 'no end (recording cut)' } : { end: 'unknown', text: 'not recorded' };
  switch (e.reason) {
    case 'oom-killer':
      return { end: 'oom-killed', text: `OOM killer after ${min(e.tMs)}` };
    case 'limit':
      return { end: 'limit-killed', text: `--limit after ${min(e.tMs)}` };
    case 'signalled':
      return { end: 'signalled', text: `${e.exitSignal ?? 'signal'} after ${min(e.tMs)}` };
    case 'detached':
      return { end: 'detached', text: 'detached' };
    case 'interrupted':
      return { end: 'interrupted', text: 'interrupted' };
    default:
      if (e.exitCode === 0) return { end: 'ok', text: 'exit 0' };
      return { end: e.exitCode === null ? 'unknown' : 'failed', text: e.exitCode === null ? 'ended' : `exit ${e.exitCode}` };
  }
}

export function fleetRowOf(file: string, rec: MemoryRecording): FleetRow {
  const a = analyzeRecording(rec);
  const s = a.summary;
  const workerKills = s.parentKills.map(parentKillText);
  const { end, text } = fleetEndOf(rec.end, rec.meta.source, workerKills.length);
  const workers = [...new Set(s.workers.map((w) => w.text))];
  return {
    file,
    identity: identityText(rec.meta.labels, rec.meta.host, workers),
    workers, workerKills,
    labels: rec.meta.labels ?? {},
    host: rec.meta.host,
    startWallMs: rec.meta.startWallMs,
    durationMs: s.durationMs,
    samples: s.samples,
    metric: s.metricText,
    peakBytes: s.peakBytes,
    ...fleetLimitOf(s),
    end, endText: text,
    exitCode: rec.end?.exitCode ?? null,
    verdict: a.verdict, confidence: a.confidenceLabel, reason: a.reason,
    top: s.topAtPeak ? { pid: s.topAtPeak.pid, command: s.topAtPeak.command, bytes: s.topAtPeak.bytes, ...(s.topAtPeak.worker ? { worker: s.topAtPeak.worker } : {}) } : null,
    warnings: rec.warnings.slice(0, 3),
  };
}

/** Where limitSource names Dask's limit (fleetLimitOf): the table labels the limit so. */
export const DASK_LIMIT_SOURCE = 'Dask memory_limit';

/**
 * The worker whose own memory_limit is a row's limit ("worker tcp://… (0)"), or null when the limit
 * is the container's or --limit. Its share and headroom are that worker's, not the recording's: a
 * LocalCluster's tree peaked at 577 MiB while the limit column said 400 MiB and "95%" (trial 4).
 */
export function daskLimitWorker(r: Pick<FleetRow, 'limitSource'>): string | null {
  const src = r.limitSource ?? '';
  return src.startsWith(`${DASK_LIMIT_SOURCE} (`) && src.endsWith(')') ? src.slice(DASK_LIMIT_SOURCE.length + 2, -1) : null;
}

/** The limit column of a fleet table: "2.00 GiB", "400 MiB (Dask)" of a worker's recording, "400 MiB/worker (Dask)" of a cluster's, or "-". */
export function fleetLimitText(r: Pick<FleetRow, 'limitBytes' | 'limitSource' | 'workers'>): string {
  if (r.limitBytes === null) return '-';
  if (!daskLimitWorker(r)) return formatBytes(r.limitBytes);
  return `${formatBytes(r.limitBytes)}${daskWorkerCount(r.workers) > 1 ? '/worker' : ''} (Dask)`;
}

/**
 * A row's peak against its limit in words: "peak 577 MiB of 2.00 GiB (28%)", or, where the limit is a
 * Dask worker's own, "peak 577 MiB; worker tcp://… (0) 380 MiB of its 400 MiB Dask memory_limit (95%)".
 */
export function peakOfLimitText(r: Pick<FleetRow, 'peakBytes' | 'limitBytes' | 'limitSource' | 'usedShare' | 'headroomBytes'>): string {
  const peak = `peak ${formatBytes(r.peakBytes)}`;
  if (r.limitBytes === null) return peak;
  const worker = daskLimitWorker(r);
  if (!worker) return `${peak} of ${formatBytes(r.limitBytes)} (${r.usedShare === null ? '-' : formatPercent(r.usedShare)})`;
  const used = r.headroomBytes === null ? '' : `${formatBytes(r.limitBytes - r.headroomBytes)} `;
  return `${peak}; ${worker} ${used}of its ${formatBytes(r.limitBytes)} ${DASK_LIMIT_SOURCE}${r.usedShare === null ? '' : ` (${formatPercent(r.usedShare)})`}`;
}

/**
 * The limit of a fleet row: --limit or the container's (cgroup) limit; without either, a Dask
 * worker's own memory_limit (its agent reports it), the worker nearest to its limit deciding the
 * share used: that is the limit Dask's nanny enforces, the one that kills a worker first.
 */
export function fleetLimitOf(s: RunSummary): Pick<FleetRow, 'limitBytes' | 'limitSource' | 'usedShare' | 'headroomBytes'> {
  if (s.limit) {
    const use = s.limitUse;
    return {
      limitBytes: s.limit.bytes, limitSource: s.limit.source === 'limit' ? '--limit' : s.limit.source,
      usedShare: use ? use.share : null, headroomBytes: use ? use.headroomBytes : null,
    };
  }
  let worst: { limitBytes: number; peakBytes: number; text: string } | null = null;
  for (const w of s.workers) {
    if (!w.memoryLimitBytes) continue;
    if (!worst || w.rssPeakBytes / w.memoryLimitBytes > worst.peakBytes / worst.limitBytes) worst = { limitBytes: w.memoryLimitBytes, peakBytes: w.rssPeakBytes, text: w.text };
  }
  if (!worst) return { limitBytes: null, limitSource: null, usedShare: null, headroomBytes: null };
  return {
    limitBytes: worst.limitBytes, limitSource: `${DASK_LIMIT_SOURCE} (${worst.text})`,
    usedShare: worst.peakBytes / worst.limitBytes, headroomBytes: worst.limitBytes - worst.peakBytes,
  };
}

/**
 * A peak at least this many times the fleet's median peak ranks right after the rows nearest their
 * limit, before any verdict: it is what kills a container, whatever its own curve was too short to
 * say (trial 3: worker-7 at 212 MiB beside eleven of ~45 MiB ranked 11th of 12 as "too short").
 */
const PEAK_OUTLIER_RATIO = 2;
/** The fleet must have this many rows for its median peak to mean something. */
const PEAK_OUTLIER_MIN_ROWS = 3;

/**
 * Riskiest first: killed (the OOM killer, then --limit), then the least headroom, then a peak far
 * above the fleet's (PEAK_OUTLIER_RATIO × its median; the highest first), then leaks, failures,
 * and the largest peak.
 */
export function riskOrderFor(rows: readonly FleetRow[]): (a: FleetRow, b: FleetRow) => number {
  const peaks = rows.map((r) => r.peakBytes).filter((x) => Number.isFinite(x) && x > 0).sort((x, y) => x - y);
  const mid = peaks.length ? (peaks[(peaks.length - 1) >> 1]! + peaks[peaks.length >> 1]!) / 2 : 0;
  const outlier = (r: FleetRow) => (peaks.length >= PEAK_OUTLIER_MIN_ROWS && mid > 0 && r.peakBytes >= PEAK_OUTLIER_RATIO * mid ? r.peakBytes : 0);
  return (a, b) => {
    const rank = (r: FleetRow) => (r.end === 'oom-killed' ? 0 : r.end === 'limit-killed' ? 1 : 2);
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    const share = (r: FleetRow) => r.usedShare ?? -1;
    if (share(a) !== share(b)) return share(b) - share(a);
    if (outlier(a) !== outlier(b)) return outlier(b) - outlier(a);
    const leak = (r: FleetRow) => (r.verdict === 'leak' ? 0 : 1);
    if (leak(a) !== leak(b)) return leak(a) - leak(b);
    const failed = (r: FleetRow) => (r.end === 'failed' || r.end === 'signalled' || r.end === 'no end' ? 0 : 1);
    if (failed(a) !== failed(b)) return failed(a) - failed(b);
    return b.peakBytes - a.peakBytes || a.file.localeCompare(b.file);
  };
}

/** riskOrderFor without the fleet's context (no peak is an outlier of a fleet of two). */
export function riskOrder(a: FleetRow, b: FleetRow): number {
  return riskOrderFor([])(a, b);
}

export interface FleetTotals {
  recordings: number;
  oomKilled: number;
  limitKilled: number;
  otherwiseFailed: number;
  leaks: number;
  /** The row with the least headroom (highest share of its limit), when any has a limit. */
  worst: { identity: string; file: string; share: number; headroomBytes: number; worker?: string } | null;
  /** timesMedian: that peak over the fleet's median peak, when it is an outlier (PEAK_OUTLIER_RATIO); null otherwise. */
  highestPeak: { identity: string; file: string; bytes: number; timesMedian: number | null } | null;
  /** Wall-clock span from the first start to the last end, and the hosts seen. */
  firstStartWallMs: number | null;
  lastEndWallMs: number | null;
  hosts: number;
}

export function fleetTotals(rows: FleetRow[]): FleetTotals {
  let worst: FleetTotals['worst'] = null;
  let highest: FleetTotals['highestPeak'] = null;
  let first: number | null = null;
  let last: number | null = null;
  for (const r of rows) {
    if (r.usedShare !== null && (worst === null || r.usedShare > worst.share)) {
      // The share of a Dask worker's own limit is that worker's: named where the row is not that worker.
      const worker = daskLimitWorker(r);
      worst = { identity: r.identity, file: r.file, share: r.usedShare, headroomBytes: r.headroomBytes!, ...(worker && worker !== r.identity ? { worker } : {}) };
    }
    if (highest === null || r.peakBytes > highest.bytes) highest = { identity: r.identity, file: r.file, bytes: r.peakBytes, timesMedian: null };
    first = first === null ? r.startWallMs : Math.min(first, r.startWallMs);
    last = last === null ? r.startWallMs + r.durationMs : Math.max(last, r.startWallMs + r.durationMs);
  }
  const peaks = rows.map((r) => r.peakBytes).filter((x) => Number.isFinite(x) && x > 0).sort((x, y) => x - y);
  const mid = peaks.length ? (peaks[(peaks.length - 1) >> 1]! + peaks[peaks.length >> 1]!) / 2 : 0;
  if (highest && peaks.length >= PEAK_OUTLIER_MIN_ROWS && mid > 0 && highest.bytes >= PEAK_OUTLIER_RATIO * mid) highest.timesMedian = highest.bytes / mid;
  return {
    recordings: rows.length,
    oomKilled: rows.filter((r) => r.end === 'oom-killed').length,
    limitKilled: rows.filter((r) => r.end === 'limit-killed').length,
    otherwiseFailed: rows.filter((r) => r.end === 'failed' || r.end === 'signalled').length,
    leaks: rows.filter((r) => r.verdict === 'leak').length,
    worst, highestPeak: highest,
    firstStartWallMs: first, lastEndWallMs: last,
    hosts: new Set(rows.map((r) => r.host ?? '?')).size,
  };
}
