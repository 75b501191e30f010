/**
 * Verdicts for a whole recording: the tree total and every process that lived long enough, and
 * a tree verdict that names the processes responsible. Pure: a MemoryRecording in, data out
 * (`memhunt analyze --json` prints it as is).
 */
import { clipLine } from '../safe-text';
import { pidText, workerText, type MemoryRecording } from '../model/recording';
import { metricTotal, processMetricSeries } from '../model/metric';
import { seriesFrom } from '../model/series';
import { censusWorkMs, parentKillText, summarize, type RunSummary } from './summary';
import { treeTeardown } from './teardown';
import { analyzeSeries, projectionText, rateText, type Growth, type SeriesAnalysis, type Verdict } from './verdict';
import { formatBytes, formatClock, formatDuration, formatPercent, formatRate } from '../units';

/** A process must have lived this share of the recording for its leak to be the tree's. */
const LONG_LIVED_SHARE = 0.5;
/** A leaking process that was not long-lived counts when it kept at least this share of the tree's peak. */
const MATERIAL_SHARE_OF_PEAK = 0.1;
/** A leaking process is named in the verdict when it grows at least this share of the fastest one's rate. */
const MINOR_LEAK_SHARE = 0.1;

export interface ProcessAnalysis extends SeriesAnalysis {
  pid: number;
  ppid: number;
  command: string[];
  firstSeenMs: number;
  exitMs: number | null;
  /** "worker tcp://… (name)" for a cluster worker's process. */
  worker?: string;
}

/**
 * The leak rate a verdict states, with whose floors it is: the tree total's when the total itself
 * leaks, else the fastest leaking process's. A tree total and one process of it grow at different
 * rates (a pool of three workers each keeping 3.8 MiB per task: +580 MiB/min in one worker,
 * +3.67 GiB/min in the total); a rate is never printed or compared without its scope.
 */
export interface LeakRate {
  scope: 'tree' | 'process';
  /** The process, for scope 'process'. */
  pid: number | null;
  /** "tree total" or "pid 6939". */
  label: string;
  growth: Growth;
}

export interface RecordingAnalysis {
  /** The tree's verdict: the total's, or `leak` when a long-lived process leaks even if the total hides it. */
  verdict: Verdict;
  confidence: number;
  confidenceLabel: SeriesAnalysis['confidenceLabel'];
  /** One line for people: the verdict and its main reason. */
  reason: string;
  /** Processes whose own verdict is a leak, most growth first. */
  /** worker: "worker tcp://… (name)" for a cluster worker's process. */
  leakingProcesses: Array<{ pid: number; command: string[]; bytesPerMinute: number; worker?: string }>;
  /** The rate of a leak verdict and its scope (the rate the verdict line, --max-growth and diff use); null unless the verdict is leak. */
  rate: LeakRate | null;
  /** The analysis of the tree total in the recording's metric (sum of RSS, PSS or USS: summary.metric). */
  tree: SeriesAnalysis;
  /** Every process with samples, in order of appearance; short-lived ones get `insufficient data`. */
  processes: ProcessAnalysis[];
  summary: RunSummary;
  /** The limit used for projections and --max-share-of-limit, when one is known. */
  limit: { bytes: number; source: string } | null;
  /** "killed by memhunt at the 400 MiB --limit when …": the run reached its limit (no projection is made then); null otherwise. */
  killedAtLimit: string | null;
  /** A Dask worker held at its pause threshold, in words, when the verdict is stable or insufficient data; null otherwise. */
  pausedWorker: string | null;
  warnings: string[];
}

export interface AnalyzeOptions {
  /** A limit to project against instead of the recording's own (--limit or cgroup). */
  limitBytes?: number | null;
  /** Where that limit came from, in words ("plot --limit", "report --limit"); "given to analyze" by default. */
  limitSource?: string;
  /**
   * The recording's summary when the caller already made it (the chart does): not made again. Only
   * its limit is read here, so a summary of the same recording with more processes is as good.
   */
  summary?: RunSummary;
  /**
   * Judge the tree total only, not each process (the chart of a one-process recording, whose
   * process is the total: the analysis of 1 M samples is half a plot's time). The processes are
   * still read for what the total needs (when the interpreter's shutdown began): a chart that
   * judged a copy without them cut another end and said "released at 00:02.8" where analyze said 00:04.1.
   */
  treeOnly?: boolean;
}

export function analyzeRecording(rec: MemoryRecording, opts: AnalyzeOptions = {}): RecordingAnalysis {
  const summary = opts.summary ?? summarize(rec);
  let limit: RecordingAnalysis['limit'] = null;
  if (opts.limitBytes) limit = { bytes: opts.limitBytes, source: opts.limitSource ?? 'given to analyze' };
  else if (summary.limit) limit = { bytes: summary.limit.bytes, source: summary.limit.source === 'limit' ? '--limit' : summary.limit.source };
  // A run that was killed at its limit has no "time until the limit" to project: it got there.
  const killedAtLimit = reachedLimit(rec, summary);
  // Time the tree spent stopped (a `stop` action, pdb) is left out of every growth analysis.
  // The memory pdb added while a process was stopped in it (a break's debuggerBytes) is the
  // debugger's, not the program's: subtracted after the pause, from the tree and that process.
  const pauseEvents = rec.events.flatMap((e) => (e.kind === 'pause' ? [e] : []));
  // memhunt's censuses likewise: the time one took in its process (the census, its largest objects
  // and duplicates) is left out, and the RSS it added (its modules, the arenas its buffers leave)
  // is subtracted after it, in that process and the tree. A --largest --duplicates run read
  // "insufficient data: the floors were level … and rose 1.58 MiB only after" from a census's bump.
  const censuses = rec.events.flatMap((e) => (e.kind === 'census' ? [e] : []));
  const pausesFor = (pid: number | null) => [
    ...pauseEvents.map((e) => ({
      fromMs: e.tMs, toMs: e.endMs, bytes: pid === null || e.pids.includes(pid) ? (e.debuggerBytes ?? 0) : 0,
    })),
    ...censuses.filter((e) => pid === null || e.pid === pid).map((e) => ({
      fromMs: e.tMs, toMs: e.tMs + censusWorkMs(e), bytes: Math.max(0, e.agentRssBytes ?? 0), census: true,
    })),
  ];
  const pauses = pausesFor(null);
  const ctx = { limit: killedAtLimit ? null : limit, startWallMs: rec.meta.startWallMs, pauses };
  // --metric decides what is judged: the tree total and each process in RSS, PSS or USS.
  const total = metricTotal(rec).series;
  const shutdown = treeTeardown(rec, total);
  const tree = analyzeSeries(total, { ...ctx, teardown: shutdown && { fromMs: shutdown.fromMs, lead: "the tree's shutdown began", detail: shutdown.text } });
  if (killedAtLimit) tree.evidence.push(killedAtLimit);
  // What memhunt's own censuses added to the curve (their modules at the first, the allocator's
  // arenas their buffers leave): said, so a step at a census is not read as the program's.
  const censusBytes = censuses.reduce((a, e) => a + Math.max(0, e.agentRssBytes ?? 0), 0);
  if (censusBytes >= 256 * 1024 && tree.verdict !== 'insufficient data') {
    const n = censuses.length;
    tree.evidence.push(`memhunt's ${n === 1 ? 'census' : `${n} censuses`} added ${formatBytes(censusBytes)} of RSS while ${n === 1 ? 'it' : 'they'} ran (the agent's modules, the allocator's arenas, and what other threads allocated meanwhile): subtracted after each, and the time ${n === 1 ? 'it' : 'they'} took left out`);
  }
  const treeSpan = tree.endMs - tree.startMs;
  const processes: ProcessAnalysis[] = (opts.treeOnly ? [] : rec.processes)
    .map((p) => ({ p, series: processMetricSeries(rec, p).series }))
    .filter(({ series }) => series.values.length > 0)
    .map(({ p, series }) => ({
      // A process is judged as the program it became: under pyenv's shim the root is bash (3 MiB)
      // until it execs python3 (23 MiB), and that "growth" named the parent of a Pool whose
      // workers were the ones leaking.
      ...analyzeSeries(p.execMs !== undefined ? seriesFrom(series, p.execMs) : series, {
        ...ctx, pauses: pausesFor(p.pid), teardown: p.teardownMs !== undefined ? { fromMs: p.teardownMs, lead: 'its interpreter began its shutdown' } : null,
      }),
      pid: p.pid, ppid: p.ppid, command: p.command, firstSeenMs: p.firstSeenMs, exitMs: p.exitMs,
      ...(p.worker ? { worker: workerText(p.worker)! } : {}),
    }));
  // A process is "long-lived" when it was sampled over at least half of the tree's span. One that
  // was not still counts when what it kept is a real share of the tree's memory: a job that leaked
  // for 27 s under `sh -c 'python3 job.py; sleep 30'` (its 55 MiB were half the tree's peak), or a
  // Dask worker restarted by its nanny, each incarnation killed at its limit (the headline named
  // the driver's +6.7 MiB/min instead). Launchers and short helpers keep nothing that counts.
  const longLived = (p: ProcessAnalysis) => Number.isFinite(treeSpan) && p.endMs - p.startMs >= LONG_LIVED_SHARE * treeSpan;
  const treePeak = tree.peakBytes;
  const keptMuch = (p: ProcessAnalysis) => (p.growth?.retainedBytes ?? 0) >= Math.max(MATERIAL_SHARE_OF_PEAK * treePeak, 1024 * 1024);
  const leakingAll = processes
    .filter((p) => p.verdict === 'leak' && (longLived(p) || keptMuch(p)))
    .sort((a, b) => (b.growth?.bytesPerMinute ?? 0) - (a.growth?.bytesPerMinute ?? 0));
  // Named: the processes the growth is in. One growing at under a tenth of the fastest one's rate is
  // not why the tree grows (a Dask worker's start-up imports under load, +5 MiB/min beside a
  // worker leaking +1.7 GiB/min, were named with it); its own line in `analyze` still says leak.
  const fastest = leakingAll[0]?.growth?.bytesPerMinute ?? 0;
  let leaking = leakingAll.filter((p) => (p.growth?.bytesPerMinute ?? 0) >= MINOR_LEAK_SHARE * fastest);
  // The tree says a spike or step is still under way at its end (rise-after-level), and the one
  // leaking process holds the tree's memory: the process's own window (from its start, after the
  // launcher) saw the same end as a rise to the end. Same data, so the tree's doubt stands (a
  // starved sawtooth at load 20 was called a leak this way); the reason says what the process read.
  let doubted = '';
  let doubtedPid: number | null = null;
  if (tree.verdict === 'insufficient data' && tree.rule === 'rise-after-level' && leaking.length === 1) {
    const peakOf = (values: ArrayLike<number>) => { let m = 0; for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!; return m; };
    const track = rec.processes.find((t) => t.pid === leaking[0]!.pid);
    if (track && peakOf(processMetricSeries(rec, track).series.values) >= 0.8 * peakOf(metricTotal(rec).series.values)) {
      doubted = `; pid ${track.pid} alone reads as a leak (${formatRate(leaking[0]!.growth!.bytesPerMinute, true)}), which the same end of the recording leaves open`;
      doubtedPid = track.pid;
      leaking = [];
    }
  }
  const leakingProcesses = leaking.map((p) => ({
    pid: p.pid, command: p.command, bytesPerMinute: p.growth!.bytesPerMinute, ...(p.worker ? { worker: p.worker } : {}),
  }));

  let verdict = tree.verdict;
  let confidence = tree.confidence;
  let confidenceLabel = tree.confidenceLabel;
  let reason = tree.reason + doubted;
  // Several processes worth naming (not counting launchers seen for a sample or two, like pyenv's shims).
  const multi = processes.filter((p) => p.verdict !== 'insufficient data').length > 1;
  const nameOf = (p: { pid: number; command: string[]; bytesPerMinute: number; worker?: string }) =>
    `${p.worker ? `${p.worker}, pid ${p.pid}` : pidText(p.pid)} (${p.worker ? '' : `${commandLabel(p.command)}, `}${formatRate(p.bytesPerMinute, true)})`;
  // The slower ones are not named in the verdict line but are said in its reason, so a second,
  // slower real leak is not hidden: the reader decides whether it is start-up or a leak.
  const minor = leakingAll.filter((p) => !leaking.includes(p) && p.pid !== doubtedPid);
  const minorText = minor.length
    ? `; also rising, at under a tenth of that rate (start-up, a cache filling, or a slower leak): ${minor.map((p) => nameOf({ pid: p.pid, command: p.command, bytesPerMinute: p.growth!.bytesPerMinute, ...(p.worker ? { worker: p.worker } : {}) })).join(', ')}`
    : '';
  if (leaking.length > 0) {
    const names = leakingProcesses.map(nameOf).join(', ');
    if (tree.verdict === 'leak') {
      if (multi) reason += `; in ${names}`;
    } else {
      // The total can hide a leaking process (another one shrinking, a sawtooth on top).
      verdict = 'leak';
      confidence = leaking[0]!.confidence;
      confidenceLabel = leaking[0]!.confidenceLabel;
      reason = `leak in ${names}: its floors kept rising to the end (the tree total alone says: ${tree.verdict})`;
    }
    reason += minorText;
  } else if (tree.verdict === 'leak' && multi) {
    reason += '; no single process leaks on its own: the growth is spread over the tree (or comes from processes that come and go)';
  }
  // A Dask worker held at its pause threshold (80% of memory_limit by default: Dask stops giving it
  // tasks) levels off whatever the program does: "stable … levelled off" hid a leak the pause held
  // back, in a job that then hung (trial 5). Said with the verdict.
  let pausedWorker: string | null = null;
  if (verdict === 'stable' || verdict === 'insufficient data') {
    for (const w of summary.workers) {
      if (w.heldAtPauseMs === null || !w.memoryLimitBytes) continue;
      pausedWorker = `${w.text} (pid ${w.pid}) sat at ${formatPercent(w.rssPeakBytes / w.memoryLimitBytes)} of its ${formatBytes(w.memoryLimitBytes)} memory_limit for ${formatDuration(w.heldAtPauseMs)}${w.heldToEnd ? ' until it ended' : ''}, where Dask pauses a worker's tasks (distributed.worker.memory.pause, 80% by default): its memory may have levelled because Dask stopped it, not the program${w.heldToEnd ? `; a job waiting on its tasks stalled there (${rec.end?.reason === 'signalled' ? `ended by ${rec.end.exitSignal ?? 'a signal'}` : 'the recording ends with it paused'})` : ''}`;
      reason += `; but ${pausedWorker}`;
      break;
    }
  }
  let rate: LeakRate | null = null;
  if (verdict === 'leak') {
    const src = tree.verdict === 'leak' ? null : processes.find((p) => p.pid === leakingProcesses[0]?.pid);
    if (src && src.growth) rate = { scope: 'process', pid: src.pid, label: pidText(src.pid), growth: src.growth };
    else if (tree.growth) rate = { scope: 'tree', pid: null, label: 'tree total', growth: tree.growth };
  }
  return {
    verdict, confidence, confidenceLabel, reason, leakingProcesses, rate, tree, processes, summary, limit,
    killedAtLimit, pausedWorker, warnings: [...rec.warnings],
  };
}

/**
 * How the run met its limit, when it was killed for it: memhunt's --limit (the recording's end and
 * its limit event) or the kernel's OOM killer. null when it was not.
 */
function reachedLimit(rec: MemoryRecording, s: RunSummary): string | null {
  const reason = rec.end?.reason;
  if (reason === 'limit') {
    const e = rec.events.find((x): x is Extract<typeof x, { kind: 'limit-exceeded' }> => x.kind === 'limit-exceeded');
    const at = e ? ` when the tree ${e.metric.toUpperCase()} reached ${formatBytes(e.bytes)} at ${formatClock(e.tMs)}` : '';
    return `killed by memhunt at the ${formatBytes(rec.meta.limitBytes ?? e?.limitBytes ?? NaN)} --limit${at}`;
  }
  if (reason === 'oom-killer') {
    const e = rec.events.find((x): x is Extract<typeof x, { kind: 'oom-kill' }> => x.kind === 'oom-kill');
    const lim = s.limit && s.limit.source !== 'limit' ? ` at the ${formatBytes(s.limit.bytes)} limit (${s.limit.source})` : '';
    return `killed by the kernel's OOM killer${lim}${e ? ` at ${formatClock(e.tMs)}` : ''}`;
  }
  return null;
}

/**
 * A command line short enough for a verdict: argv[0] and long absolute paths by their base name
 * ("python3 worker_leak.py worker leaky" rather than "/root/.pyenv/versions/3.11.7/bin/python3 …").
 */
export function commandLabel(argv: string[], max = 50): string {
  // mprof's children have no command line in the .dat: said, not left blank ("in pid 781 ()").
  if (argv.length === 0 || argv.every((a) => a === '')) return 'no command line';
  const text = argv
    .map((a, i) => (i === 0 || (a.startsWith('/') && a.length > 20) ? a.slice(a.lastIndexOf('/') + 1) || a : a))
    .map((a) => a.replace(/\s+/g, ' '))
    .map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a))
    .join(' ');
  // Sanitised before it is cut, so a "…" never leaves an escape sequence open (src/safe-text.ts).
  return clipLine(text, max);
}

/**
 * The verdict in one line, for the end of `memhunt run` and for `memhunt summary`:
 * "leak (high confidence): +12.3 MiB/min (90% interval +10.1 MiB/min … +14.0 MiB/min); in pid 42 (…)".
 */
export function verdictLine(rec: MemoryRecording, opts: AnalyzeOptions = {}): string {
  return verdictLineOf(analyzeRecording(rec, opts));
}

/** The verdict line; a run killed at its --limit says so whatever the verdict (a short run is often "insufficient data"). */
export function verdictLineOf(a: RecordingAnalysis): string {
  let line = verdictBody(a);
  if (a.pausedWorker) line += `; but ${a.pausedWorker}`;
  return a.killedAtLimit && !line.includes(a.killedAtLimit) ? `${line}; ${a.killedAtLimit}` : line;
}

function verdictBody(a: RecordingAnalysis): string {
  if (a.verdict === 'insufficient data') return `insufficient data (${a.tree.evidence[0] ?? 'too little recorded'})`;
  const head = `${a.verdict} (${a.confidenceLabel} confidence)`;
  if (a.verdict === 'leak') {
    // The rate with its scope: the tree total's, or the fastest leaking process's (then each
    // other leaking process with its own rate), never one process's rate as if it were the tree's.
    const r = a.rate;
    const multi = a.processes.filter((p) => p.verdict !== 'insufficient data').length > 1;
    const who = (p: RecordingAnalysis['leakingProcesses'][number]) => (p.worker ? `${p.worker} (pid ${p.pid})` : `${pidText(p.pid)} (${commandLabel(p.command, 40)})`);
    let line = `${head}: floors rising ${r ? rateText(r.growth) : ''}`;
    if (r && r.scope === 'process') {
      const [first, ...rest] = a.leakingProcesses;
      line += ` in ${first ? who(first) : r.label}`;
      if (rest.length) line += `; also in ${rest.map((p) => `${who(p)} at ${formatRate(p.bytesPerMinute, true)}`).join(', ')}`;
    } else {
      if (multi) line += ' in the tree total';
      if (a.leakingProcesses.length && multi) line += `; in ${a.leakingProcesses.map((p) => `${who(p)} at ${formatRate(p.bytesPerMinute, true)}`).join(', ')}`;
    }
    const proj = a.tree.projection;
    if (proj && a.tree.verdict === 'leak' && proj.etaMs !== null) line += `; ${projectionText(proj, null, a.tree.endMs)}`;
    else if (a.killedAtLimit) line += `; ${a.killedAtLimit}`;
    for (const k of a.summary.parentKills) line += `; ${parentKillText(k)}`;
    return line;
  }
  if (a.verdict === 'spike') {
    const s = a.tree.spikes.reduce((x, y) => (y.heightBytes > x.heightBytes ? y : x));
    return `${head}: ${a.tree.spikes.length} spike${a.tree.spikes.length > 1 ? 's' : ''}, highest ${formatBytes(s.peakBytes)} (+${formatBytes(s.heightBytes)} above baseline); no leak`;
  }
  return `${head}: ${a.tree.reason.replace(/^stable: /, '')}`;
}
