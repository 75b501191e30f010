/** Terminal output: the end-of-run summary and the live status line. */
import type { RunSummary } from '../analysis/summary';
import { formatBytes, formatClock, formatDuration } from '../units';

/** A command line short enough for one line of a summary. */
export function shortCommand(argv: string[], max = 60): string {
  const text = argv.map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function endText(s: RunSummary): string {
  const e = s.end;
  if (!e) return 'unknown: the recording has no end (memhunt was stopped while recording)';
  switch (e.reason) {
    case 'oom-killer':
      return `killed by the OOM killer (SIGKILL, exit 137) after ${formatDuration(e.tMs)}`;
    case 'limit':
      return `killed by memhunt: --limit exceeded (SIGKILL, exit 137) after ${formatDuration(e.tMs)}`;
    case 'signalled':
      return `terminated by ${e.exitSignal} after ${formatDuration(e.tMs)}`;
    case 'detached':
      return `memhunt detached after ${formatDuration(e.tMs)}; the process kept running`;
    case 'interrupted':
      return `recording interrupted after ${formatDuration(e.tMs)}`;
    default:
      return e.exitCode === null ? `process ended after ${formatDuration(e.tMs)}` : `exit code ${e.exitCode} after ${formatDuration(e.tMs)}`;
  }
}

export function formatSummary(s: RunSummary, opts: { command: string[]; recordingPath: string; recordingBytes?: number; metricNote?: string }): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(10)}${v}`);
  lines.push(`memhunt: ${shortCommand(opts.command, 70)}`);
  if (s.samples === 0) {
    row('peak', 'no samples');
  } else {
    let peak = `${formatBytes(s.peakBytes)} (tree RSS) at ${formatClock(s.peakTMs)}`;
    if (s.topAtPeak && s.processes.length > 1) {
      peak += `, most held by pid ${s.topAtPeak.pid} ${shortCommand(s.topAtPeak.command, 40)} (${formatBytes(s.topAtPeak.bytes)})`;
    }
    row('peak', peak);
    if (s.pssPeakBytes !== null) row('', `${formatBytes(s.pssPeakBytes)} PSS (shared pages counted once)`);
    if (s.cgroupPeakBytes !== null) row('', `${formatBytes(s.cgroupPeakBytes)} cgroup usage (what the container is charged)`);
    row('final', formatBytes(s.finalBytes));
  }
  if (s.limit) {
    const used = Math.max(s.peakBytes, s.cgroupPeakBytes ?? 0);
    const share = (100 * used) / s.limit.bytes;
    const src = s.limit.source === 'limit' ? '--limit' : s.limit.source;
    row('limit', `${formatBytes(s.limit.bytes)} (${src}): peak used ${share.toFixed(0)}%, headroom ${formatBytes(s.limit.bytes - used)}`);
  } else {
    row('limit', 'none (no --limit, no cgroup limit)');
  }
  row('end', endText(s));
  row('processes', `${s.processes.length} seen`);
  row('recording', `${opts.recordingPath} (${s.samples} samples${opts.recordingBytes !== undefined ? `, ${formatBytes(opts.recordingBytes)}` : ''})`);
  return lines.join('\n');
}

const SPARK = '▁▂▃▄▅▆▇█';

/** One-line live status for a terminal, redrawn in place on stderr. */
export class LiveStatus {
  private history: number[] = [];
  private peak = 0;
  private lastDrawMs = -Infinity;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream, private readonly everyMs = 250) {}

  update(tMs: number, totalBytes: number, processes: number, limitBytes: number | null): void {
    if (totalBytes > this.peak) this.peak = totalBytes;
    if (tMs - this.lastDrawMs < this.everyMs) return;
    this.lastDrawMs = tMs;
    this.history.push(totalBytes);
    if (this.history.length > 24) this.history.shift();
    const max = Math.max(...this.history, 1);
    const spark = this.history.map((v) => SPARK[Math.min(7, Math.floor((v / max) * 7.999))]).join('');
    let text = `memhunt ${formatClock(tMs)}  ${formatBytes(totalBytes)}  peak ${formatBytes(this.peak)}`;
    if (limitBytes) text += `  ${((100 * totalBytes) / limitBytes).toFixed(0)}% of ${formatBytes(limitBytes)}`;
    text += `  ${processes} proc  ${spark}`;
    const width = this.stream.columns || 80;
    if (text.length > width - 1) text = text.slice(0, width - 1);
    this.stream.write(`\r\x1b[2K${text}`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
