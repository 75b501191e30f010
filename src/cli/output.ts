/**
 * Terminal output: every command writes what people read through out()/err()/outJson() here, so
 * text from outside memhunt (command lines, type names, labels, file names) passes the one
 * sanitizer (src/safe-text.ts) on its way to the terminal; also the end-of-run summary and the
 * live status line.
 */
import { AGENT_WORK_NAMES, DASK_PAUSE_FRACTION, finalText, hwmText, parentKillText, type RunSummary } from '../analysis/summary';
import { pidText, type RecordingEvent, type RecordingMeta } from '../model/recording';
import { shortCommand } from '../model/command';
import { clipLine, safeJson, safeLine, safeText } from '../safe-text';
import { formatBytes, formatClock, formatDuration, formatPercent } from '../units';

export { safeLine, safeText, clipLine };

/** Writes text for people on stdout, control characters replaced (newlines and tabs kept). */
export function out(text: string): void {
  process.stdout.write(safeText(text));
}

/** Writes text for people on stderr, control characters replaced (newlines and tabs kept). */
export function err(text: string): void {
  process.stderr.write(safeText(text));
}

/** Writes one "memhunt: ..." line on stderr; the message cannot break the line or the terminal. */
export function notice(message: string): void {
  // A notice may have several lines (the break message); each is made safe on its own, so the
  // line breaks stay line breaks and nothing else of the message can steer the terminal.
  process.stderr.write(`memhunt: ${message.split('\n').map((l) => safeLine(l)).join('\n')}\n`);
}

/** The peak fell while memhunt's agent worked in a process (a census, a snapshot, a graph), or null: the summary's and `peak`'s note. */
export function peakDuringAgentText(s: RunSummary): string | null {
  const a = s.peakDuringAgent;
  if (!a) return null;
  return `during memhunt's ${AGENT_WORK_NAMES[a.what]} of pid ${a.pid} (${formatDuration(a.durationMs)} from ${formatClock(a.startMs)}), which needs memory of its own; ` +
    `highest outside memhunt's snapshots: ${formatBytes(a.peakOutsideBytes)} at ${formatClock(a.peakOutsideTMs)}`;
}

/** memhunt's censuses before the peak added a share of it (RunSummary.censusesBeforePeak), or null: the summary's and `peak`'s note. */
export function censusesBeforePeakText(s: RunSummary): string | null {
  const cb = s.censusesBeforePeak;
  if (!cb) return null;
  return `memhunt's ${cb.count === 1 ? 'census' : `${cb.count} censuses`} before it added ${formatBytes(cb.bytes)} of RSS while ${cb.count === 1 ? 'it' : 'they'} ran ` +
    `(the agent's modules, the allocator's arenas): the program's own peak may be up to that much lower`;
}

/** Writes a value as indented JSON on stdout (C1 and bidi controls escaped: safeJson). */
export function outJson(value: unknown, replacer?: (key: string, value: unknown) => unknown): void {
  process.stdout.write(safeJson(value, replacer) + '\n');
}

function endText(s: RunSummary, source: RecordingMeta['source']): string {
  const e = s.end;
  // Only memhunt's own recordings have an end record; other tools' files (mprof's .dat) never do.
  if (!e && source !== 'memhunt') return `not recorded (${source} files have no end)`;
  if (!e && s.liveWriter) return `not yet: pid ${s.liveWriter.pid} is still recording it (figures so far)`;
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

export function formatSummary(
  s: RunSummary,
  opts: {
    command: string[]; recordingPath: string; recordingBytes?: number; events?: RecordingEvent[]; verdict?: string; source?: RecordingMeta['source'];
    /** What the reader lost (a cut or damaged recording), printed as notes as `analyze` prints them. */
    notes?: string[];
    /** Censuses were asked for (--heap-every, a snapshot threshold, --trace-allocations): "0 heap censuses" is then news. */
    censusesAsked?: boolean;
  },
): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(10)}${v}`);
  lines.push(`memhunt: ${shortCommand(opts.command, 70)}`);
  if (s.samples === 0) {
    row('peak', 'no samples');
  } else {
    let peak = `${formatBytes(s.peakBytes)} (${s.metricText}) at ${formatClock(s.peakTMs)}`;
    if (s.topAtPeak && s.processes.length > 1) {
      peak += `, most held by ${s.topAtPeak.worker ? `${s.topAtPeak.worker}, pid ${s.topAtPeak.pid}` : `${pidText(s.topAtPeak.pid)} ${shortCommand(s.topAtPeak.command, 40)}`} (${formatBytes(s.topAtPeak.bytes)})`;
    }
    row('peak', peak);
    const hwm = hwmText(s);
    if (hwm) row('', hwm);
    const during = peakDuringAgentText(s);
    if (during) row('', during);
    const before = censusesBeforePeakText(s);
    if (before) row('', before);
    if (s.rssPeakBytes !== null) row('', `${formatBytes(s.rssPeakBytes)} tree RSS sum (shared pages counted once per process that maps them)`);
    row('final', finalText(s));
  }
  const c = s.container;
  if (c) {
    const ws = Number.isFinite(c.workingSetPeakBytes) ? `, working set ${formatBytes(c.workingSetPeakBytes)}` : '';
    row('container', `cgroup v${c.version}, sampled during the run: highest usage ${formatBytes(c.usagePeakBytes)} at ${formatClock(c.usagePeakTMs)}${ws}`);
    if (c.kernelPeakBytes !== null) row('', `the kernel's cgroup peak rose to ${formatBytes(c.kernelPeakBytes)} during the run (between samples)`);
    if (c.holdsMoreThanTree) {
      row('', `the cgroup holds more than this tree: ${formatBytes(c.usageAtStartBytes)} was charged at the start, when the tree had ${formatBytes(c.treeAtStartBytes)} ` +
        '(memhunt itself, page cache, other processes of the container)');
    }
    if (c.oomKillsAtLeast > 0) row('', `the OOM killer ran in the cgroup during the run: ${c.oomKillsAtLeast === 1 ? 'at least one kill' : `at least ${c.oomKillsAtLeast} kills`} (its kill counter rose to ${c.oomKillCounter})`);
  }
  const u = s.limitUse;
  if (u) {
    const verb = u.headroomBytes < 0 ? 'over by' : 'headroom';
    row('limit', `${formatBytes(u.limitBytes)} (${u.source}, counts ${u.what}): peak used ${formatPercent(u.share)}, ${verb} ${formatBytes(Math.abs(u.headroomBytes))}`);
  } else {
    row('limit', 'none (no --limit, no cgroup limit)');
  }
  row('end', endText(s, opts.source ?? 'memhunt'));
  for (const e of opts.events ?? []) {
    if (e.kind === 'threshold') {
      row('threshold', `${formatBytes(e.thresholdBytes)} reached at ${formatClock(e.tMs)}: ${e.action}${e.command ? ` ${e.command}` : ''}${e.note ? ` (${e.note})` : ''}`);
      if (e.action === 'stop') {
        // How long the tree stayed stopped (the chart draws it as a band; trial 4 found it only there).
        const p = (opts.events ?? []).find((x): x is Extract<RecordingEvent, { kind: 'pause' }> => x.kind === 'pause' && x.cause === 'stop' && x.tMs >= e.tMs - 1 && x.tMs <= e.tMs + 2000);
        if (p) row('', p.endMs > p.tMs ? `stopped ${formatDuration(p.endMs - p.tMs)}, resumed at ${formatClock(p.endMs)} (left out of the growth analysis)` : 'stopped to the end of the recording');
      }
      const breakPid = e.action === 'break' ? /pdb requested in pid (\d+)/.exec(e.note ?? '')?.[1] : undefined;
      if (breakPid) row('', breakOutcome(opts.events ?? [], Number(breakPid), e.tMs));
    } else if (e.kind === 'action-output') {
      const lines = e.output.split('\n').filter((l) => l.trim());
      const status = e.exitSignal ?? `exit ${e.exitCode}`;
      row('', `${e.command}: ${status}, ${lines.length} line${lines.length === 1 ? '' : 's'} of output${lines.length ? ':' : ''}`);
      for (const l of lines.slice(0, 8)) row('', `  | ${clipLine(l, 100)}`);
      if (lines.length > 8) row('', `  | … (${lines.length - 8} more lines: zcat ${opts.recordingPath} | jq -r 'select(.type=="action").output')`);
    }
  }
  const agents = (opts.events ?? []).filter((e) => e.kind === 'agent');
  const count = (kind: string) => (opts.events ?? []).filter((e) => e.kind === kind).length;
  const [censuses, traces, graphs] = [count('census'), count('trace'), count('refs')];
  // The agents row only when they recorded something, or when censuses were asked for and none came.
  if (agents.length && (censuses || traces || graphs || opts.censusesAsked)) {
    const parts: string[] = [];
    if (censuses || opts.censusesAsked) parts.push(`${censuses} heap census${censuses === 1 ? '' : 'es'}`);
    if (traces) parts.push(`${traces} allocation snapshot${traces === 1 ? '' : 's'}`);
    if (graphs) parts.push(`${graphs} back-reference graph${graphs === 1 ? '' : 's'}`);
    const pids = [...new Set(agents.map((e) => (e.kind === 'agent' ? e.pid : 0)))];
    row('agents', `${pids.length} Python process${pids.length === 1 ? '' : 'es'} (pid ${pids.slice(0, 6).join(', ')}${pids.length > 6 ? ', …' : ''}): ${parts.join(', ')}` +
      (censuses ? `; memhunt heap ${opts.recordingPath}` : ''));
  }
  if (opts.verdict) row('verdict', opts.verdict);
  // Cluster workers (Dask, named by their agents), each with its peak and limit; a nanny's kill on its own line.
  s.workers.slice(0, 8).forEach((w, i) => {
    // A job whose worker sat at Dask's pause threshold hung for minutes and read only "insufficient data" (trial 4).
    const paused = w.heldAtPauseMs !== null && w.memoryLimitBytes ? ` (${formatPercent(w.rssPeakBytes / w.memoryLimitBytes)}, held ${formatDuration(w.heldAtPauseMs)}: Dask pauses a worker's tasks at ${formatPercent(DASK_PAUSE_FRACTION)} of its limit by default, distributed.worker.memory.pause)` : '';
    row(i === 0 ? 'workers' : '', `${w.text}, pid ${w.pid}: peak ${formatBytes(w.rssPeakBytes)}${w.memoryLimitBytes ? ` of its ${formatBytes(w.memoryLimitBytes)} limit${paused}` : ''}${w.exitMs !== null ? `, ended at ${formatClock(w.exitMs)}` : ''}`);
  });
  if (s.workers.length > 8) row('', `… ${s.workers.length - 8} more`);
  for (const k of s.parentKills) row('killed', parentKillText(k));
  row('processes', `${s.processes.length} seen`);
  row('recording', `${opts.recordingPath} (${s.samples} samples${opts.recordingBytes !== undefined ? `, ${formatBytes(opts.recordingBytes)}` : ''})`);
  for (const n of opts.notes ?? []) row('note', n);
  return lines.join('\n');
}

/** Whether a --break-at break happened: the agent's answer, recorded as a note about that pid. */
function breakOutcome(events: RecordingEvent[], pid: number, fromMs: number): string {
  for (const e of events) {
    if (e.kind !== 'note' || e.pid !== pid || e.tMs < fromMs) continue;
    if (/entered pdb/.test(e.text)) return `pid ${pid} stopped in pdb at ${formatClock(e.tMs)}`;
    if (/^break failed/.test(e.text)) return `no break: ${e.text.replace(/^break failed: /, '')}`;
  }
  return `pid ${pid} never answered the break request (it ended, or its main thread ran no Python code)`;
}

const SPARK = '▁▂▃▄▅▆▇█';

/**
 * One-line live status for a terminal, kept on the bottom row. The target writes to the same
 * terminal, so a status redrawn with "\r" would be broken by every line the program prints.
 * Instead the rows above the last become a scroll region (DECSTBM, as apt's progress bar does):
 * the program's output scrolls there, and the status stays below it. On a terminal too small for
 * that (< 5 rows), it falls back to redrawing in place.
 */
export class LiveStatus {
  private history: number[] = [];
  private peak = 0;
  private lastDrawMs = -Infinity;
  private active = false;
  private rows = 0;
  private readonly onResize = () => this.setRegion();

  constructor(private readonly stream: NodeJS.WriteStream, private readonly everyMs = 250) {}

  private setRegion(): void {
    this.rows = this.stream.rows || 0;
    if (this.rows < 5) return;
    // Make room for the status row, keep the cursor where the program will write next.
    this.stream.write(`\n\x1b7\x1b[1;${this.rows - 1}r\x1b8\x1b[1A`);
  }

  /** Reserves the bottom row; call once before the first update. */
  start(): void {
    this.active = true;
    this.setRegion();
    this.stream.on('resize', this.onResize);
  }

  update(tMs: number, totalBytes: number, processes: number, limitBytes: number | null): void {
    if (totalBytes > this.peak) this.peak = totalBytes;
    if (!this.active || tMs - this.lastDrawMs < this.everyMs) return;
    this.lastDrawMs = tMs;
    this.history.push(totalBytes);
    if (this.history.length > 24) this.history.shift();
    const max = Math.max(...this.history, 1);
    const spark = this.history.map((v) => SPARK[Math.min(7, Math.floor((v / max) * 7.999))]).join('');
    let text = `memhunt ${formatClock(tMs)}  ${formatBytes(totalBytes)}  peak ${formatBytes(this.peak)}`;
    if (limitBytes) text += `  ${formatPercent(totalBytes / limitBytes)} of ${formatBytes(limitBytes)}`;
    text += `  ${processes} proc  ${spark}`;
    const width = this.stream.columns || 80;
    if (text.length > width - 1) text = text.slice(0, width - 1);
    if (this.rows >= 5) this.stream.write(`\x1b7\x1b[${this.rows};1H\x1b[2K\x1b[7m${text}\x1b[0m\x1b8`);
    else this.stream.write(`\r\x1b[2K${text}`);
  }

  /** Gives the bottom row back and restores the whole screen as the scroll region. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.stream.removeListener('resize', this.onResize);
    if (this.rows >= 5) this.stream.write(`\x1b7\x1b[r\x1b[${this.rows};1H\x1b[2K\x1b8`);
    else this.stream.write('\r\x1b[2K');
  }
}
