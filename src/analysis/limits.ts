/**
 * Limits a run must hold (`memhunt check`, `memhunt analyze --max-…`), checked against an
 * analysis. Pure data in and out; parsing the flags is cli's job, printing too.
 */
import type { RecordingAnalysis } from './analyze';
import { formatBytes, formatClock, formatPercent, formatRate } from '../units';
import { rateText } from './verdict';
import { AGENT_WORK_NAMES, highestPeak } from './summary';

export interface Limits {
  /** --max-peak: the tree's peak in the recording's metric (the highest known: sampled, or a kernel high-water mark above it) must stay at or under this. */
  maxPeakBytes?: number;
  /** --max-growth: a sustained growth (a leak verdict) must not be faster than this. */
  maxGrowthBytesPerMinute?: number;
  /** --no-leak: the verdict must not be `leak`. */
  noLeak?: boolean;
  /** --max-share-of-limit: the peak must stay at or under this share (0..1] of the limit, counted as the limit counts (--limit: the metric's tree total; a cgroup limit: the cgroup's usage). */
  maxShareOfLimit?: number;
}

export interface LimitResult {
  /** The flag as a user would write it, e.g. "--max-peak 2.00 GiB". */
  name: string;
  /** 'ok', 'violated', or 'not judged' (insufficient data for a growth/leak limit: it passes). */
  status: 'ok' | 'violated' | 'not judged';
  /** What was measured, in words. */
  actual: string;
  /** One sentence: why it holds or by how much it is violated. */
  message: string;
}

export function hasLimits(l: Limits): boolean {
  return l.maxPeakBytes !== undefined || l.maxGrowthBytesPerMinute !== undefined || !!l.noLeak || l.maxShareOfLimit !== undefined;
}

/**
 * The peak --max-peak is judged on: the highest peak known to have happened in the metric's tree
 * total (the sampled one, or with RSS a process's kernel high-water mark above it: a peak that fell
 * between samples), and which it was. A peak inside memhunt's own snapshot is judged as it
 * happened (the kernel counts it too), but said, so that a run without them can be tried.
 */
function judgedPeak(a: RecordingAnalysis): { bytes: number; what: string } {
  const s = a.summary;
  const h = highestPeak(s);
  if (s.hwmAbovePeak) return h;
  const a2 = s.peakDuringAgent;
  const inSnapshot = a2
    ? `, during memhunt's ${AGENT_WORK_NAMES[a2.what]} of pid ${a2.pid}; ${formatBytes(a2.peakOutsideBytes)} outside memhunt's snapshots`
    : '';
  return { bytes: s.peakBytes, what: `${s.metricText} at ${formatClock(s.peakTMs)}${inSnapshot}` };
}

const pct = formatPercent;

export function checkLimits(a: RecordingAnalysis, l: Limits): LimitResult[] {
  const out: LimitResult[] = [];
  if (l.maxPeakBytes !== undefined) {
    const peak = judgedPeak(a);
    const max = l.maxPeakBytes;
    const over = peak.bytes - max;
    out.push({
      name: `--max-peak ${formatBytes(max)}`,
      status: over > 0 ? 'violated' : 'ok',
      actual: `peak ${formatBytes(peak.bytes)} (${peak.what})`,
      message: over > 0
        ? `peak ${formatBytes(peak.bytes)} (${peak.what}) is ${formatBytes(over)} (${pct(over / max)}) over ${formatBytes(max)}`
        : `peak ${formatBytes(peak.bytes)} (${peak.what}) is ${pct(peak.bytes / max)} of ${formatBytes(max)}`,
    });
  }
  if (l.maxGrowthBytesPerMinute !== undefined) {
    const max = l.maxGrowthBytesPerMinute;
    const name = `--max-growth ${formatRate(max)}`;
    if (a.verdict === 'insufficient data') {
      out.push({ name, status: 'not judged', actual: 'insufficient data', message: `not judged: ${a.tree.evidence[0] ?? 'insufficient data'}` });
    } else if (a.verdict !== 'leak') {
      const g = a.tree.growth;
      out.push({
        name, status: 'ok', actual: 'no sustained growth',
        message: `no sustained growth (${a.verdict})${g ? `; floors ${rateText(g)}` : ''}`,
      });
    } else {
      // The verdict's rate, in its scope (the tree total, or the fastest leaking process).
      const g = a.rate?.growth ?? a.tree.growth!;
      const over = g.bytesPerMinute - max;
      const where = a.rate?.scope === 'process' ? ` in ${a.rate.label}` : '';
      out.push({
        name, status: over > 0 ? 'violated' : 'ok', actual: `growth ${formatRate(g.bytesPerMinute, true)}${where}`,
        message: over > 0
          ? `growth${where} ${rateText(g)} is ${formatRate(over)} over ${formatRate(max)}`
          : `growth${where} ${rateText(g)} is within ${formatRate(max)}`,
      });
    }
  }
  if (l.noLeak) {
    const name = '--no-leak';
    if (a.verdict === 'insufficient data') {
      out.push({ name, status: 'not judged', actual: 'insufficient data', message: `not judged: ${a.tree.evidence[0] ?? 'insufficient data'}` });
    } else {
      out.push({
        name, status: a.verdict === 'leak' ? 'violated' : 'ok', actual: `verdict ${a.verdict} (${a.confidenceLabel} confidence)`,
        message: a.verdict === 'leak' ? a.reason : `no leak: ${a.reason}`,
      });
    }
  }
  if (l.maxShareOfLimit !== undefined) {
    const share = l.maxShareOfLimit;
    const name = `--max-share-of-limit ${pct(share)}`;
    const use = a.summary.limitUse;
    if (!a.limit) {
      // cli refuses this before recording; kept for library callers.
      out.push({ name, status: 'not judged', actual: 'no limit', message: 'not judged: the recording has no limit (no cgroup limit, no --limit)' });
    } else {
      // The recording's own limit is judged in what it counts (--limit: the metric's tree total;
      // a cgroup limit: the cgroup's usage); a limit given to analyze, on the tree total.
      const own = use !== null && use.limitBytes === a.limit.bytes;
      const usedBytes = own ? use.usedBytes : a.summary.peakBytes;
      const what = own ? use.what : a.summary.metricText;
      const allowed = share * a.limit.bytes;
      const used = usedBytes / a.limit.bytes;
      out.push({
        name, status: usedBytes > allowed ? 'violated' : 'ok',
        actual: `peak ${formatBytes(usedBytes)} (${what}) = ${pct(used)} of ${formatBytes(a.limit.bytes)} (${a.limit.source})`,
        message: usedBytes > allowed
          ? `peak ${formatBytes(usedBytes)} (${what}) is ${pct(used)} of the ${formatBytes(a.limit.bytes)} limit (${a.limit.source}), ${formatBytes(usedBytes - allowed)} over ${pct(share)}`
          : `peak ${formatBytes(usedBytes)} (${what}) is ${pct(used)} of the ${formatBytes(a.limit.bytes)} limit (${a.limit.source})`,
      });
    }
  }
  return out;
}
