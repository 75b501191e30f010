/** `memhunt run` and `memhunt attach`. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import type { RecordingAnalysis } from '../analysis/analyze';
import { resolveLargestOptions } from '../agents/largest';
import { InputError } from '../errors';
import type { MemoryRecording } from '../model/recording';
import { attachProcess, runCommand, type SessionOptions, type SessionResult } from '../sampler/session';
import { parseThresholdSpec } from '../sampler/actions';
import { DEFAULT_SCHEDULE } from '../sampler/sampler';
import { fileTag, identityFromEnv, parseLabel } from '../model/identity';
import { parseDuration, parseSize } from '../units';
import { EXIT, exitWith } from './exit-codes';
import { LiveStatus, err, formatSummary, notice } from './output';
import { helpProse } from './help';
import { makeFolders, mkdirErrorText } from '../fsutil';

export interface RecordFlags {
  output?: string;
  /** Replace an -o that is not a recording. */
  force?: boolean;
  /** Absent: the default schedule (dense early, 100 ms from 16 s on: DEFAULT_SCHEDULE). */
  interval?: string;
  metric: 'rss' | 'pss' | 'uss';
  limit?: string;
  onThreshold?: string[];
  quiet?: boolean;
  /** `--no-agent` sets false (run only; addAgentOptions). */
  agent?: boolean;
  heapEvery?: string;
  traceAllocations?: boolean;
  /** --allocations (true) or --allocations=MEAN: sampled allocation profiling (docs/allocations.md). */
  allocations?: boolean | string;
  breakAt?: string;
  /** --refs-type NAME (repeatable): back-reference graphs of these types at censuses. */
  refsType?: string[];
  /** --output-dir DIR: a uniquely named recording there (created if missing). */
  outputDir?: string;
  /** --label KEY=VALUE (repeatable): kept in the header's labels. */
  label?: string[];
  /** --upload CMD: run through sh once the recording is closed, {} replaced by its path. */
  upload?: string;
  /** --metrics-port PORT, --metrics-host ADDR, --pushgateway URL, --push-every DURATION (cli/metrics.ts). */
  metricsPort?: string;
  metricsHost?: string;
  pushgateway?: string;
  pushEvery?: string;
  /** --largest N / --duplicates / --min-size SIZE: added to every census (resolveLargestOptions). */
  largest?: string;
  duplicates?: boolean;
  minSize?: string;
}

/** The documented range of --interval: 1 ms (the sampler's floor) to 1 h (a slower run would be one sample long). */
const MIN_INTERVAL_MS = 1;
const MAX_INTERVAL_MS = 3_600_000;

/** --heap-every below this would spend most of the run in censuses (a small program's census takes ~10-50 ms, gc.collect() included). */
const MIN_HEAP_EVERY_MS = 100;

/** --allocations without a mean: one sample per 512 KiB allocated on average, as jemalloc, tcmalloc, Go and dd-trace-py. */
export const DEFAULT_ALLOC_MEAN_BYTES = 512 * 1024;

/** Turns typed flags into session options; throws UnitError/InputError on bad values. Pure: tests call it. */
export function resolveRecordOptions(flags: RecordFlags, kind: 'run' | 'attach' = 'run'): Omit<SessionOptions, 'onSample' | 'onStarted' | 'notice'> {
  const fixed = flags.interval !== undefined;
  const intervalMs = fixed ? parseDuration(flags.interval!, '--interval') : DEFAULT_SCHEDULE[DEFAULT_SCHEDULE.length - 1]!.intervalMs;
  if (intervalMs < MIN_INTERVAL_MS) throw new InputError(`--interval ${flags.interval} is below 1ms, the fastest memhunt samples`);
  if (intervalMs > MAX_INTERVAL_MS) throw new InputError(`--interval ${flags.interval} is above 1h, the slowest memhunt samples (1ms .. 1h)`);
  const thresholds = (flags.onThreshold ?? []).map(parseThresholdSpec);
  const agentAction = thresholds.find((t) => t.action === 'snapshot' || t.action === 'break');
  if (kind === 'attach' && agentAction) {
    throw new InputError(`--on-threshold ${agentAction.spec}: ${agentAction.action} needs the in-process agent, which only memhunt run injects; attach can mark, stop, kill or exec=CMD`);
  }
  const agentOff = flags.agent === false;
  const refsTypes = (flags.refsType ?? []).map((n) => n.trim());
  if (refsTypes.some((n) => !/^[A-Za-z_][\w.]*$/.test(n))) throw new InputError(`--refs-type ${refsTypes.find((n) => !/^[A-Za-z_][\w.]*$/.test(n))}: give a type name as a census shows it (DataFrame, mymod.Record)`);
  for (const [given, name] of [[flags.heapEvery, '--heap-every'], [flags.traceAllocations, '--trace-allocations'], [flags.allocations, '--allocations'], [flags.breakAt, '--break-at'], [refsTypes.length > 0, '--refs-type']] as const) {
    if (agentOff && given) throw new InputError(`${name} needs the in-process agent; drop --no-agent`);
  }
  let heapEveryMs: number | null = null;
  if (flags.heapEvery !== undefined) {
    heapEveryMs = parseDuration(flags.heapEvery, '--heap-every');
    if (heapEveryMs < MIN_HEAP_EVERY_MS) throw new InputError(`--heap-every ${flags.heapEvery} is below ${MIN_HEAP_EVERY_MS}ms: the program would spend its time in censuses`);
  }
  if (refsTypes.length && heapEveryMs === null && !thresholds.some((t) => t.action === 'snapshot')) {
    throw new InputError('--refs-type records graphs at censuses: add --heap-every DURATION (or --on-threshold SIZE:snapshot)');
  }
  const census = resolveLargestOptions(flags);
  for (const [given, name] of [[flags.largest, '--largest'], [flags.duplicates, '--duplicates']] as const) {
    if (given === undefined || given === false) continue;
    if (agentOff) throw new InputError(`${name} needs the in-process agent; drop --no-agent`);
    if (heapEveryMs === null && !thresholds.some((t) => t.action === 'snapshot')) throw new InputError(`${name} is added to censuses: add --heap-every DURATION (or --on-threshold SIZE:snapshot)`);
  }
  let allocMeanBytes: number | null = null;
  if (flags.allocations !== undefined && flags.allocations !== false) {
    allocMeanBytes = flags.allocations === true ? DEFAULT_ALLOC_MEAN_BYTES : parseSize(flags.allocations, '--allocations mean');
  }
  if (flags.breakAt !== undefined) {
    const bytes = parseSize(flags.breakAt, '--break-at');
    thresholds.push({ bytes, action: 'break', spec: `${flags.breakAt}:break`, option: `--break-at ${flags.breakAt}` });
  }
  if (flags.outputDir !== undefined && flags.output !== undefined) throw new InputError('give -o FILE or --output-dir DIR, not both');
  const userLabels: Record<string, string> = {};
  for (const spec of flags.label ?? []) {
    try {
      const [k, v] = parseLabel(spec);
      userLabels[k] = v;
    } catch (e) {
      throw new InputError((e as Error).message);
    }
  }
  if (flags.upload !== undefined && !flags.upload.trim()) throw new InputError('--upload needs a command, e.g. --upload \'aws s3 cp {} s3://bucket/runs/\'');
  const identity = identityFromEnv(process.env, userLabels);
  const outputTag = identity.tag ?? (flags.outputDir !== undefined ? fileTag(os.hostname()) || null : null);
  return {
    outputPath: flags.output ?? null,
    ...(flags.outputDir !== undefined ? { outputDir: prepareOutputDir(flags.outputDir) } : {}),
    labels: identity.labels,
    outputTag,
    ...(flags.force ? { force: true } : {}),
    intervalMs,
    intervalSchedule: fixed ? null : DEFAULT_SCHEDULE,
    metric: flags.metric,
    limitBytes: flags.limit === undefined ? null : parseSize(flags.limit, '--limit'),
    thresholds,
    agent: agentOff ? null : { heapEveryMs, traceAllocations: flags.traceAllocations === true, ...(refsTypes.length ? { refsTypes } : {}), ...census, ...(allocMeanBytes ? { allocMeanBytes } : {}) },
  };
}

/** --metrics-port / --pushgateway: started before the command (a port in use is exit 2, nothing runs). */
async function startMetrics(flags: RecordFlags, base: ReturnType<typeof resolveRecordOptions>) {
  const wanted = flags.metricsPort !== undefined || flags.pushgateway !== undefined;
  if (!wanted) {
    if (flags.metricsHost !== undefined) throw new InputError('--metrics-host goes with --metrics-port');
    if (flags.pushEvery !== undefined) throw new InputError('--push-every goes with --pushgateway');
    return null;
  }
  const { LiveMetrics, parsePort, parsePushgateway } = await import('./metrics');
  const port = flags.metricsPort === undefined ? null : parsePort(flags.metricsPort);
  const gateway = flags.pushgateway === undefined ? null : parsePushgateway(flags.pushgateway);
  const pushEveryMs = flags.pushEvery === undefined ? 15_000 : parseDuration(flags.pushEvery, '--push-every');
  if (pushEveryMs < 1000) throw new InputError(`--push-every ${flags.pushEvery}: at least 1s (a Pushgateway is scraped every 15 s or so)`);
  const m = await LiveMetrics.start({
    port, host: flags.metricsHost ?? '127.0.0.1', pushgateway: gateway, pushEveryMs,
    metric: base.metric, labels: base.labels ?? {}, notice,
  });
  if (port !== null && (port === 0 || !flags.quiet)) notice(`metrics for Prometheus at http://${flags.metricsHost ?? '127.0.0.1'}:${m.port}/metrics`);
  return m;
}

/** --output-dir: created when missing (a shared volume's sub-folder); exit 2 when it cannot be. */
function prepareOutputDir(dir: string): string {
  try {
    makeFolders(dir);
  } catch (e) {
    throw new InputError(`--output-dir ${dir}: ${mkdirErrorText(dir, e)}`);
  }
  if (!fs.statSync(dir).isDirectory()) throw new InputError(`--output-dir ${dir}: not a folder`);
  return dir;
}

/**
 * --upload: hands the closed recording to the user's command (e.g. `aws s3 cp {} s3://b/runs/`)
 * through sh, {} replaced by the path quoted for sh (appended when there is no {}), with
 * MEMHUNT_RECORDING set. Its output goes to stderr (stdout is the command's); its failure is a
 * notice and never changes memhunt's exit code: the recording stays where it is.
 */
export function runUpload(command: string, recordingPath: string): Promise<void> {
  const quoted = `'${recordingPath.replace(/'/g, `'\\''`)}'`;
  const line = command.includes('{}') ? command.split('{}').join(quoted) : `${command} ${quoted}`;
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', line], { stdio: ['ignore', 2, 2], env: { ...process.env, MEMHUNT_RECORDING: recordingPath } });
    child.on('error', (e) => {
      notice(`--upload could not start /bin/sh: ${e.message}; the recording stays at ${recordingPath}`);
      resolve();
    });
    child.on('exit', (code, signal) => {
      if (code !== 0) notice(`--upload failed (${signal ? `killed by ${signal}` : `exit ${code}`}): ${line}; the recording stays at ${recordingPath}`);
      resolve();
    });
  });
}

/** Options of the in-process agents (`run`; docs/agent-protocol.md). */
export function addAgentOptions(cmd: Command): Command {
  return cmd
    .option('--no-agent', 'do not inject the in-process agent into Python processes (sections from memhunt.section and heap censuses then need it back)')
    .option('--heap-every <duration>', 'a heap census of every Python process this often (e.g. 30s): objects by type and the growth between censuses (memhunt heap)')
    .option('--trace-allocations', 'trace allocations with tracemalloc in every Python process; each census then also records the top allocation sites (alone: at 5, 10 and 20 s, then every 30 s); tracemalloc slows allocation-heavy code')
    .option('--allocations [mean]', 'sample allocations in every Python process with their full stacks, one sample per MEAN bytes allocated on average (smaller: closer estimates, more cost); cheap enough for the real job (memhunt flame, memhunt export --format pprof) (default: 512KiB)')
    .option('--refs-type <name>', 'with --heap-every: also record back-reference graphs of this type (repeatable; e.g. DataFrame, mymod.Record), at the first census where it is alive and whenever its count has doubled (memhunt refs FILE --type NAME)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--largest <n>', 'with --heap-every: every census also lists the N objects that own the most memory, each with one chain from a root (memhunt heap)')
    .option('--duplicates', 'with --heap-every: every census also groups the objects holding the same data (copies, conversions; views shown as sharing) (memhunt heap)')
    .option('--min-size <size>', 'with --duplicates: compare objects with at least this much data (default: 1MiB)')
    .option('--break-at <size>', 'when the tree reaches SIZE, stop the Python process with the most memory of its own (USS) in pdb at the line it is running (as --on-threshold SIZE:break)');
}

/** The record options of `run` and `attach` (and `check`): attach has no agent, so no snapshot or break action. */
export function addRecordOptions(cmd: Command, kind: 'run' | 'attach' = 'run'): Command {
  const actions = kind === 'run' ? 'mark, stop (SIGSTOP the tree to inspect it), kill, exec=CMD, snapshot, break' : 'mark, stop (SIGSTOP the tree to inspect it), kill, exec=CMD';
  return cmd
    .option('-o, --output <file>', 'recording to write (default: memhunt_YYYYMMDDhhmmss.mh here, _1, _2… if taken); an existing file is replaced only if it is a recording')
    .option('--force', 'replace the -o file even when it is not a recording')
    .option('-i, --interval <duration>', 'time between samples: 1ms .. 1h; a bare number is seconds, as in mprof (default: 10ms for the first 2s, doubling to 100ms from 16s on, so short runs get a verdict)')
    .addOption(
      new Option('--metric <name>', 'what the tree total counts everywhere (--limit, thresholds, the peak, summary, chart, verdicts, exports): rss, or pss/uss from smaps_rollup (read at an adaptive rate: its cost grows with RSS)')
        .choices(['rss', 'pss', 'uss'])
        .default('rss'),
    )
    .option('--limit <size>', 'rehearse a container limit: SIGKILL the whole tree when the metric exceeds it, exit 137 (e.g. 2GiB, 512MiB, 1.5GB)')
    .option(
      '--on-threshold <size:action>',
      `once the metric reaches SIZE, do ACTION: ${actions}; repeatable`,
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--output-dir <dir>', 'write a uniquely named recording into DIR (created if missing; a shared volume in a cluster): memhunt_<time>_<container or task id>.mh')
    .option('--label <key=value>', 'a label kept in the recording (repeatable; e.g. --label stage=train); the platform\'s ids (AWS Batch, YARN, Spark, Kubernetes) are added by themselves', (v: string, prev: string[] = []) => [...prev, v])
    .option('--upload <command>', 'once the recording is closed, run COMMAND through sh with {} replaced by its path (e.g. \'aws s3 cp {} s3://bucket/runs/\'); a failure is reported, the exit code stays the command\'s')
    .option('--metrics-port <port>', 'serve the tree\'s numbers for Prometheus at http://HOST:PORT/metrics while recording (0: any free port, printed)')
    .option('--metrics-host <address>', 'the address --metrics-port listens on; 0.0.0.0 for a Prometheus outside the container (default: 127.0.0.1)')
    .option('--pushgateway <url>', 'push the same metrics to a Prometheus Pushgateway every --push-every and once at the end (job "memhunt", instance: the container or task)')
    .option('--push-every <duration>', 'how often --pushgateway pushes (default: 15s)')
    .option('-q, --quiet', 'no live status line and no summary');
}

/** mprof run's flags (memory_profiler 0.61 `mprof run --help`), as commander parses them. */
export interface MprofRunFlags {
  includeChildren?: boolean;
  multiprocess?: boolean;
  exitCode?: boolean;
  /** -T: mprof's short form of --interval. */
  T?: string;
  python?: boolean;
  nopython?: boolean;
  backend?: string;
  attach?: boolean;
  timeout?: string;
}

/**
 * mprof run's flags: accepted where they mean something here, refused (exit 2) with memhunt's
 * equivalent where they do not, so `mprof run -C -T 0.05 train.py` works as typed. Hidden from
 * the option list; run's help says what each becomes.
 */
export function addMprofRunOptions(cmd: Command): Command {
  const hidden = (flags: string, text: string) => cmd.addOption(new Option(flags, text).hideHelp());
  hidden('-C, --include-children', 'mprof: sum the children (memhunt always records them)');
  hidden('-M, --multiprocess', 'mprof: each child on its own (memhunt always records them)');
  hidden('-E, --exit-code', 'mprof: exit with the command\'s code (memhunt always does)');
  hidden('-T <duration>', 'mprof: --interval');
  hidden('--python', 'mprof: run the command with python3');
  hidden('--nopython', 'mprof: run a .py command as it is, not with python3');
  hidden('--backend <name>', 'mprof: refused, see --metric');
  hidden('-a, --attach', 'mprof: refused, see memhunt attach');
  hidden('-t, --timeout <seconds>', 'mprof: refused, see timeout(1)');
  return cmd;
}

/**
 * The command and interval run gets from mprof's flags; throws InputError for the mprof flags
 * that have no meaning here, naming what to use instead. `note` is told once that -C/-M are not
 * needed.
 */
export function resolveMprofRunFlags(commandArgs: string[], flags: RecordFlags & MprofRunFlags, note: (text: string) => void): { command: string[]; interval: string | undefined } {
  if (flags.backend !== undefined) {
    const metric = /pss/.test(flags.backend) ? 'pss' : /uss/.test(flags.backend) ? 'uss' : 'rss';
    throw new InputError(`--backend is mprof's; memhunt reads /proc itself and counts with --metric rss|pss|uss (here: --metric ${metric})`);
  }
  if (flags.attach) throw new InputError('--attach is mprof\'s; to record a running process use: memhunt attach <pid>');
  if (flags.timeout !== undefined) throw new InputError(`--timeout is mprof's; memhunt run records until the command ends: memhunt run -- timeout ${flags.timeout} <command>`);
  if (flags.T !== undefined && flags.interval !== undefined) throw new InputError('-T is mprof\'s short form of --interval: give one of them');
  if (flags.python && flags.nopython) throw new InputError('--python and --nopython contradict each other');
  if (flags.includeChildren || flags.multiprocess) {
    note(`${flags.includeChildren ? '--include-children' : '--multiprocess'} is not needed: memhunt always records every child process, each on its own and in the tree total`);
  }
  let command = commandArgs;
  const first = command[0] ?? '';
  // mprof runs a script ending in .py with Python (mprof.py run_action), and --python runs any
  // command with it unless it already starts with "python".
  if ((flags.python && !/^python/.test(first)) || (!flags.nopython && !flags.python && first.endsWith('.py'))) command = ['python3', ...command];
  return { command, interval: flags.interval ?? flags.T };
}

export interface RecordOutcome {
  /** The exit code `run`/`attach` would return. */
  code: number;
  result: SessionResult;
  /** The recording read back (null when it could not be read). */
  recording: MemoryRecording | null;
  /**
   * The analysis behind the printed summary and verdict (null with --quiet or without a
   * recording). A --limit reaches it through the recording (source "--limit").
   */
  analysis: RecordingAnalysis | null;
}

/** The recording read back at the end: its reader (and the contract's validators) load only then. */
async function readBack(file: string): Promise<MemoryRecording> {
  return (await import('../recording/reader')).readMemhuntRecording(file);
}

/**
 * Records with a live status on a terminal, reads the recording back, prints the summary (unless
 * --quiet) and works out the exit code. Shared by `run`, `attach` and commands built on them.
 */
export async function record(kind: 'run' | 'attach', flags: RecordFlags, start: (o: SessionOptions) => Promise<SessionResult>, command: () => string[]): Promise<RecordOutcome> {
  const base = resolveRecordOptions(flags, kind);
  const metrics = await startMetrics(flags, base);
  const live = !flags.quiet && process.stderr.isTTY ? new LiveStatus(process.stderr) : null;
  let result: SessionResult;
  try {
    live?.start();
    result = await start({
      ...base,
      notice: (text) => notice(text),
      onSample: live || metrics
        ? (s) => {
            // Not over pdb's prompt: the status line was redrawn every 0.25 s while the user typed.
            if (!s.inPdb) live?.update(s.tMs, s.metricBytes ?? s.totalRssBytes, s.processes, base.limitBytes ?? s.limitBytes);
            metrics?.update(s);
          }
        : undefined,
    });
  } finally {
    live?.stop();
    await metrics?.end();
  }
  let recording: MemoryRecording | null = null;
  try {
    recording = await readBack(result.outputPath);
  } catch (e) {
    notice(`recorded to ${result.outputPath}, but could not read it back: ${(e as Error).message}`);
  }
  const agent = base.agent ?? null;
  const censusesAsked = agent !== null && (agent.heapEveryMs !== null || agent.traceAllocations || (base.thresholds ?? []).some((t) => t.action === 'snapshot'));
  if (recording && censusesAsked && !recording.events.some((e) => e.kind === 'agent' && e.runtime === 'python')) {
    // Said once, at the end: a Node (or any non-Python) program gets no census, and nothing else would say so.
    notice('no heap census was taken: heap censuses (--heap-every, --trace-allocations, SIZE:snapshot) need a Python process in the tree, and none ran with the agent');
  }
  let analysis: RecordingAnalysis | null = null;
  // Loaded only now: sampling does not carry the analysis in its heap.
  const an = recording ? await import('../analysis/analyze') : null;
  if (recording && an) {
    // The recording carries --limit (meta.limitBytes): the analysis names it "--limit", as the summary does.
    analysis = an.analyzeRecording(recording);
    // The summary footer (cli/footer.ts): memhunt fleet then reads this recording's first and last members
    // only. Appended before the summary is printed, so the size the summary states is the file's final size.
    (await import('./footer')).appendSummaryFooter(result.outputPath, recording, analysis);
  }
  if (!flags.quiet && recording && an && analysis) {
    const size = fs.statSync(result.outputPath).size;
    err(
      formatSummary(analysis.summary, {
        command: command(), recordingPath: result.outputPath, recordingBytes: size, events: recording.events,
        verdict: an.verdictLineOf(analysis), censusesAsked,
      }) + '\n',
    );
  }
  if (flags.upload !== undefined) await runUpload(flags.upload, result.outputPath);
  return { code: exitCodeOf(kind, result), result, recording, analysis };
}

function exitCodeOf(kind: 'run' | 'attach', result: SessionResult): number {
  if (result.reason === 'limit') return EXIT.LIMIT_KILLED;
  if (kind === 'attach') return EXIT.OK;
  if (result.exitSignal) return 128 + (os.constants.signals[result.exitSignal] ?? 0);
  return result.exitCode ?? EXIT.FAILURE;
}

export function registerRunCommands(program: Command): void {
  const run = addRecordOptions(
    program
      .command('run')
      .summary('record the memory of a command and all its child processes')
      .description(
        'Run a command and record the memory of it and every descendant until it exits. ' +
          'stdin/stdout/stderr pass through; SIGINT/SIGTERM/SIGHUP are forwarded; memhunt exits ' +
          'with the command\'s exit code (128+N when signal N ended it).',
      )
      .argument('<command...>', 'the command to run, after --')
      .passThroughOptions(),
  );
  addAgentOptions(run);
  addMprofRunOptions(run);
  run.addHelpText(
    'after',
    helpProse(`
What is recorded, per process: RSS with its anon/file/shmem split and the kernel's peak (VmHWM);
for the tree: the sum of RSS (shared pages are counted once per process that maps them, as YARN
and Spark count them; --metric pss avoids that), and the container's cgroup usage, working set
(usage - inactive file, what Kubernetes evicts on), limit, peak and OOM-kill counter. The summary
gives the container's figures of this run only: the highest usage and working set sampled during
it, the kernel's cgroup peak only if it rose during the run (it is never reset, so it can hold a
peak from long before), and says when the cgroup held more than this tree at the start. When a
process's VmHWM shows a peak the samples missed, the summary says so: "sampled peak X; pid P
reached Y between samples".

Markers: the command sees $MEMHUNT_MARKERS, a FIFO. Any process of the tree can write lines
"begin <label>", "end <label>" or "mark <label>" (optionally prefixed by its pid) to it;
they appear as sections and marks in the recording. From a shell script: memhunt mark (never
blocks). At most 1000 markers per second are kept (labels cut at 200 characters); a note in the
recording counts the rest. See the README for Python and Node snippets.

Output: opened before the command starts (a folder that is missing or read-only, a full disk:
exit 2, nothing runs); the default name never collides with a concurrent run's; an existing -o
is replaced only if it is a recording (--force for anything else); mode 0600.

Python processes: every Python (3.8+) process of the tree, multiprocessing workers included, runs
memhunt's agent (injected through PYTHONPATH; --no-agent turns it off). Idle, it costs nothing.
It takes heap censuses (--heap-every, --on-threshold SIZE:snapshot, memhunt snapshot <pid>),
allocation sites (--trace-allocations), back-references (memhunt refs) and breaks into pdb
(--break-at). In the program, "import memhunt" gives memhunt.section("load"), as a with-block
or a decorator, memhunt.snapshot("after epoch 1") and memhunt.isolated(fn, *args).

mprof habits: a command ending in .py runs with python3, as mprof runs it (--python: any command;
--nopython: the script as it is). -C/--include-children and -M/--multiprocess are accepted and not
needed: every child is always recorded, on its own and in the tree total. -T is --interval, and
-E/--exit-code is what memhunt always does. mprof's --backend, --attach and --timeout are refused
with memhunt's equivalent (--metric, memhunt attach, timeout(1)).

Examples:
  memhunt run -- python3 train.py --epochs 3
  memhunt run -C -T 0.05 train.py                                 as with mprof run (python3 train.py)
  memhunt run --interval 10ms -o run.mh -- ./job.sh
  memhunt run --metric pss -- python3 -m multiprocessing_job     shared pages counted once
  memhunt run --limit 2GiB -- python3 etl.py                     reproduce a 2 GiB OOM kill locally
  memhunt run --on-threshold 1.5GiB:stop -- ./job.sh             freeze the tree at 1.5 GiB to inspect it
  memhunt run --on-threshold 1GiB:exec='py-spy dump --pid $MEMHUNT_PID' -- ./job.sh
  memhunt run --heap-every 30s -o run.mh -- python3 train.py     then: memhunt heap run.mh
  memhunt run --heap-every 30s --trace-allocations -- python3 train.py    ... and where it was allocated
  memhunt run --allocations -- python3 train.py                  sampled allocations; then: memhunt flame run.mh
  memhunt run --on-threshold 3GiB:snapshot -- python3 train.py   census + allocation sites at 3 GiB
  memhunt run --break-at 3GiB -- python3 train.py                pdb where memory crossed 3 GiB
  memhunt mark checkpoint                                        (from a script inside the command; never blocks)`)
  );
  run.action(async (commandArgs: string[], flags: RecordFlags & MprofRunFlags) => {
    const { command, interval } = resolveMprofRunFlags(commandArgs, flags, notice);
    const outcome = await record('run', { ...flags, interval }, (o) => runCommand({ ...o, command }), () => command);
    exitWith(outcome.code);
  });

  const attach = addRecordOptions(
    program
      .command('attach')
      .summary('record an already running process and its descendants')
      .description(
        'Record a running process and every descendant until it exits, or until you press Ctrl-C ' +
          '(memhunt detaches; the process keeps running).',
      )
      .argument('<pid>', 'process id to record'),
    'attach',
  );
  attach.addHelpText('after', helpProse('\nExamples:\n  memhunt attach 4242\n  memhunt attach --interval 1s -o nightly.mh $(pgrep -f train.py)'));
  attach.action(async (pidText: string, flags: RecordFlags) => {
    if (!/^\d+$/.test(pidText) || Number(pidText) < 1) throw new InputError(`"${pidText}" is not a process id`);
    const pid = Number(pidText);
    let argv: string[] = [`pid ${pid}`];
    const outcome = await record(
      'attach', flags,
      async (o) => {
        const r = await attachProcess({ ...o, pid });
        try {
          argv = (await readBack(r.outputPath)).meta.command;
        } catch {
          // keep the pid label
        }
        return r;
      },
      () => argv,
    );
    exitWith(outcome.code);
  });
}

export { exitWith };
