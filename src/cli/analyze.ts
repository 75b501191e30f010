/**
 * `memhunt analyze`: the verdict on a recording (leak, stable, spike, insufficient data) with its
 * evidence, optionally judged against limits. Also the limit flags and the printing that
 * `memhunt check` and `memhunt diff` share.
 */
import { Command } from 'commander';
import { analyzeRecording, commandLabel, verdictLineOf, type ProcessAnalysis, type RecordingAnalysis } from '../analysis/analyze';
import { checkLimits, hasLimits, type LimitResult, type Limits } from '../analysis/limits';
import { hwmText } from '../analysis/summary';
import { projectionText, spikeText } from '../analysis/verdict';
import { InputError } from '../errors';
import { NO_PID, pidText } from '../model/recording';
import { formatBytes, formatDuration, formatRate, parsePercent, parseRate, parseSize } from '../units';
import { EXIT, exitWith } from './exit-codes';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { out, outJson } from './output';
import { helpProse } from './help';

/** Raw limit flags as commander gives them (each repeatable so a contradiction can be seen). */
export interface LimitFlags {
  maxPeak?: string[];
  maxGrowth?: string[];
  /** commander's negatable `--no-leak`: false when given. */
  leak?: boolean;
  maxShareOfLimit?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addLimitOptions(cmd: Command): Command {
  return cmd
    .option('--max-peak <size>', 'fail when the tree\'s peak in the recording\'s metric exceeds SIZE: the sampled peak, or a process\'s kernel high-water mark (VmHWM) when that is higher; e.g. 2GiB', collect)
    .option('--max-growth <rate>', 'fail when memory leaks faster than RATE, e.g. 5MiB/min, 1GiB/h (growth that stops is not counted)', collect)
    .option('--no-leak', 'fail when the verdict is leak (for the tree or any long-lived process)')
    .option('--max-share-of-limit <percent>', 'fail when the peak exceeds PERCENT of the limit, counted as the limit counts: --limit the metric\'s tree total, a cgroup limit the cgroup\'s usage; e.g. 80%', collect);
}

/** One value per flag; the same flag twice with different values is a contradiction. */
function single<T>(flag: string, raw: string[] | undefined, parse: (s: string, what: string) => T, same: (a: T, b: T) => boolean): T | undefined {
  if (!raw || raw.length === 0) return undefined;
  const values = raw.map((r) => parse(r, flag));
  for (let i = 1; i < values.length; i++) {
    if (!same(values[0]!, values[i]!)) {
      throw new InputError(`${flag} is given twice with different values (${raw[0]}, ${raw[i]}); give it once`);
    }
  }
  return values[0];
}

/**
 * Typed limits from the flags; throws UnitError/InputError on malformed or contradictory ones.
 * `killLimitBytes` is `--limit` (check kills the tree there), for the contradiction with --max-peak.
 */
export function resolveLimits(flags: LimitFlags, killLimitBytes: number | null = null): Limits {
  const eq = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
  const limits: Limits = {
    maxPeakBytes: single('--max-peak', flags.maxPeak, parseSize, eq),
    maxGrowthBytesPerMinute: single('--max-growth', flags.maxGrowth, parseRate, eq),
    noLeak: flags.leak === false,
    maxShareOfLimit: single('--max-share-of-limit', flags.maxShareOfLimit, parsePercent, eq),
  };
  if (killLimitBytes !== null && limits.maxPeakBytes !== undefined && limits.maxPeakBytes >= killLimitBytes) {
    throw new InputError(
      `--max-peak ${formatBytes(limits.maxPeakBytes)} contradicts --limit ${formatBytes(killLimitBytes)}: ` +
        'the run is killed at the limit before its peak could reach --max-peak; lower --max-peak or raise --limit',
    );
  }
  return limits;
}

function processLine(p: ProcessAnalysis, all: ProcessAnalysis[]): string {
  const life = p.exitMs !== null ? `, exited at ${formatDuration(p.exitMs)}` : '';
  let detail = '';
  if (p.verdict === 'leak' && p.growth) detail = `: ${formatRate(p.growth.bytesPerMinute, true)}, floors ${formatBytes(p.floors!.firstBytes)} → ${formatBytes(p.floors!.lastBytes)}`;
  else if (p.verdict === 'spike' && p.spikes.length) detail = `: ${spikeText(p.spikes.reduce((a, b) => (b.heightBytes > a.heightBytes ? b : a)))}`;
  else if (p.verdict === 'insufficient data') detail = ` (${p.samples} samples${life})`;
  // mprof's process has no pid in its .dat: "(no pid)", not "pid 0" (said once below the list).
  const head = `${p.pid === NO_PID ? '(no pid)   ' : `pid ${String(p.pid).padEnd(7)}`} ${p.verdict.padEnd(17)} peak ${formatBytes(p.peakBytes).padStart(9)}`;
  // A fork child runs its parent's command line (a Pool's workers): said, so the leaking worker is
  // told from its parent by more than its pid (trial 4).
  const parent = all.find((q) => q.pid === p.ppid);
  const forkOf = !p.worker && parent && parent.command.join('\0') === p.command.join('\0') ? ` (fork of ${pidText(parent.pid)})` : '';
  return `${head}  ${p.worker ?? commandLabel(p.command, 50)}${forkOf}${detail}`;
}

/** The human report of `memhunt analyze`. */
export function formatAnalysis(a: RecordingAnalysis, opts: { file: string; command: string[]; limits?: LimitResult[]; allProcesses?: boolean }): string {
  const out: string[] = [];
  const s = a.summary;
  out.push(`memhunt analyze: ${opts.file}: ${commandLabel(opts.command, 70)}`);
  out.push(`  recorded  ${formatDuration(s.durationMs)}, ${s.samples} samples, ${s.processes.length} process${s.processes.length === 1 ? '' : 'es'}; peak ${formatBytes(s.peakBytes)} (${s.metricText})`);
  const hwm = hwmText(s);
  if (hwm) out.push(`            ${hwm}`);
  out.push(`  verdict   ${verdictLineOf(a)}`);
  // The tree's own reading, said as such when the verdict comes from a process (a pool whose workers
  // leak reads "released" in the total when they exit): the header scopes every line under it.
  out.push(a.verdict === 'leak' && a.tree.verdict !== 'leak'
    ? `  evidence (tree total, which on its own reads ${a.tree.verdict}; the leak is in ${a.leakingProcesses.map((p) => pidText(p.pid)).join(', ') || 'the processes below'}):`
    : '  evidence (tree total):');
  for (const e of a.tree.evidence) out.push(`    - ${e}`);
  if (a.limit && !a.tree.projection) out.push(`    - limit ${formatBytes(a.limit.bytes)} (${a.limit.source})`);
  const shown = a.processes.filter((p) => opts.allProcesses || p.samples >= 10 || p.verdict !== 'insufficient data');
  if (a.processes.length > 1) {
    out.push('  processes:');
    for (const p of shown) out.push(`    ${processLine(p, a.processes)}`);
    if (shown.some((p) => p.pid === NO_PID)) out.push('    (no pid): the process mprof started; a .dat holds no pid for it, only its children\'s (CHLD lines)');
    const hidden = a.processes.length - shown.length;
    if (hidden > 0) out.push(`    (${hidden} short-lived process${hidden === 1 ? '' : 'es'} with fewer than 10 samples not shown)`);
    for (const p of a.processes) {
      if (p.verdict === 'leak' && p.projection && p.projection.etaMs !== null && a.tree.verdict !== 'leak') out.push(`    ${pidText(p.pid)}: ${projectionText(p.projection, null, p.endMs)}`);
    }
  }
  if (opts.limits && opts.limits.length) out.push(formatLimitResults(opts.limits));
  for (const w of a.warnings) out.push(`  note      ${w}`);
  return out.join('\n');
}

export function formatLimitResults(results: LimitResult[]): string {
  const out = ['  limits:'];
  for (const r of results) {
    const mark = r.status === 'ok' ? 'ok      ' : r.status === 'violated' ? 'VIOLATED' : 'skipped ';
    out.push(`    ${mark} ${r.name}: ${r.message}`);
  }
  return out.join('\n');
}

/** The JSON of `memhunt analyze --json` (and of diff --json): the analysis as is, with the file; unbounded interval ends are null. */
export function analysisJson(a: RecordingAnalysis, file: string, limits?: LimitResult[]): unknown {
  return { file, ...a, limits: limits ?? null };
}

export function registerAnalyzeCommand(program: Command): void {
  const cmd = addLimitOptions(
    program
      .command('analyze')
      .summary('say whether a recording leaks, spikes or is stable, with the evidence; check limits')
      .description(
        'Judge a recording (memhunt .mh or mprof .dat): leak, stable, spike or insufficient data, for the\n' +
          'tree and for each process, with a confidence and the evidence: growth of the floors (the lows\n' +
          'after each release) in MiB/min with a 90% interval, how the floors moved, spikes and their\n' +
          'height above the baseline, and when the limit would be reached at the current rate.\n' +
          `With limits, exits ${EXIT.LIMIT_VIOLATED} when one is violated.`,
      )
      .argument('[recording]', 'file or index from memhunt list (default: the newest)')
      .option('--json', 'print the analysis as JSON on stdout')
      .option('--limit <size>', 'project against this container limit instead of the recording\'s own (--limit or cgroup)')
      .option('-a, --all-processes', 'list every process, also those seen for fewer than 10 samples'),
  );
  cmd.addHelpText(
    'after',
    helpProse(`
Verdicts: leak (the floors kept rising to the end and were not given back), stable (level floors,
growth that levelled off, or memory accumulated and then released), spike (short excursions far
above the usual level), insufficient data (too short, or too few release cycles, to say).

Examples:
  memhunt analyze run.mh
  memhunt analyze run.mh --json | jq .verdict
  memhunt analyze mprofile_20261126101500.dat --limit 4GiB
  memhunt analyze run.mh --no-leak --max-peak 2GiB       exit ${EXIT.LIMIT_VIOLATED} when a limit is violated`),
  );
  cmd.action(async (arg: string | undefined, flags: LimitFlags & { json?: boolean; limit?: string; allProcesses?: boolean }) => {
    const limits = resolveLimits(flags);
    const limitBytes = flags.limit === undefined ? null : parseSize(flags.limit, '--limit');
    const file = arg ? resolveRecordingArg(arg) : newestRecording('.');
    const rec = await loadRecording(file);
    if (rec.total.values.length === 0) throw new InputError(`${file}: the recording has no samples`);
    const a = analyzeRecording(rec, { limitBytes });
    if (limits.maxShareOfLimit !== undefined && !a.limit) {
      throw new InputError(`--max-share-of-limit: ${file} has no limit (no --limit, no cgroup memory limit); give one with --limit SIZE`);
    }
    const results = hasLimits(limits) ? checkLimits(a, limits) : undefined;
    if (flags.json) {
      outJson(analysisJson(a, file, results), jsonReplacer);
    } else {
      out(formatAnalysis(a, { file, command: rec.meta.command, limits: results, allProcesses: flags.allProcesses }) + '\n');
    }
    if (results?.some((r) => r.status === 'violated')) exitWith(EXIT.LIMIT_VIOLATED);
  });
}

/** JSON has no Infinity: unbounded interval ends become null. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}
