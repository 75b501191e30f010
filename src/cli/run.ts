/** `memhunt run` and `memhunt attach`. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Command, Option } from 'commander';
import { analyzeRecording, verdictLineOf, type RecordingAnalysis } from '../analysis/analyze';
import { ExitStatus, InputError } from '../errors';
import type { MemoryRecording } from '../model/recording';
import { readMemhuntRecording } from '../recording/reader';
import { attachProcess, runCommand, type SessionOptions, type SessionResult } from '../sampler/session';
import { parseThresholdSpec } from '../sampler/actions';
import { DEFAULT_SCHEDULE } from '../sampler/sampler';
import { parseDuration, parseSize } from '../units';
import { EXIT } from './exit-codes';
import { LiveStatus, err, formatSummary, notice } from './output';

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
}

/** The documented range of --interval: 1 ms (the sampler's floor) to 1 h (a slower run would be one sample long). */
const MIN_INTERVAL_MS = 1;
const MAX_INTERVAL_MS = 3_600_000;

/** --heap-every below this would spend most of the run in censuses (a small program's census takes ~10-50 ms, gc.collect() included). */
const MIN_HEAP_EVERY_MS = 100;

/** --allocations without a mean: one sample per 512 KiB allocated on average, as jemalloc, tcmalloc, Go and dd-trace-py. */
export const DEFAULT_ALLOC_MEAN_BYTES = 512 * 1024;

/** Turns typed flags into session options; throws UnitError/InputError on bad values. Pure: tests call it. */
export function resolveRecordOptions(flags: RecordFlags): Omit<SessionOptions, 'onSample' | 'onStarted' | 'notice'> {
  const fixed = flags.interval !== undefined;
  const intervalMs = fixed ? parseDuration(flags.interval!, '--interval') : DEFAULT_SCHEDULE[DEFAULT_SCHEDULE.length - 1]!.intervalMs;
  if (intervalMs < MIN_INTERVAL_MS) throw new InputError(`--interval ${flags.interval} is below 1ms, the fastest memhunt samples`);
  if (intervalMs > MAX_INTERVAL_MS) throw new InputError(`--interval ${flags.interval} is above 1h, the slowest memhunt samples (1ms .. 1h)`);
  const thresholds = (flags.onThreshold ?? []).map(parseThresholdSpec);
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
  let allocMeanBytes: number | null = null;
  if (flags.allocations !== undefined && flags.allocations !== false) {
    allocMeanBytes = flags.allocations === true ? DEFAULT_ALLOC_MEAN_BYTES : parseSize(flags.allocations, '--allocations mean');
  }
  if (flags.breakAt !== undefined) {
    const bytes = parseSize(flags.breakAt, '--break-at');
    thresholds.push({ bytes, action: 'break', spec: `${flags.breakAt}:break`, option: `--break-at ${flags.breakAt}` });
  }
  return {
    outputPath: flags.output ?? null,
    ...(flags.force ? { force: true } : {}),
    intervalMs,
    intervalSchedule: fixed ? null : DEFAULT_SCHEDULE,
    metric: flags.metric,
    limitBytes: flags.limit === undefined ? null : parseSize(flags.limit, '--limit'),
    thresholds,
    agent: agentOff ? null : { heapEveryMs, traceAllocations: flags.traceAllocations === true, ...(refsTypes.length ? { refsTypes } : {}), ...(allocMeanBytes ? { allocMeanBytes } : {}) },
  };
}

/** Options of the in-process agents (`run`; docs/agent-protocol.md). */
export function addAgentOptions(cmd: Command): Command {
  return cmd
    .option('--no-agent', 'do not inject the in-process agent into Python processes (sections from memhunt.section and heap censuses then need it back)')
    .option('--heap-every <duration>', 'a heap census of every Python process this often (e.g. 30s): objects by type and the growth between censuses (memhunt heap)')
    .option('--trace-allocations', 'trace allocations with tracemalloc in every Python process; each census then also records the top allocation sites (alone: every 30s); tracemalloc slows allocation-heavy code')
    .option('--allocations [mean]', 'sample allocations in every Python process with their full stacks, one sample per MEAN bytes allocated on average (default 512KiB; smaller: closer estimates, more cost): cheap enough for the real job (memhunt flame, memhunt export --format pprof)')
    .option('--refs-type <name>', 'with --heap-every: also record back-reference graphs of this type (repeatable; e.g. DataFrame, mymod.Record), at the first census where it is alive and whenever its count has doubled (memhunt refs FILE --type NAME)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--break-at <size>', 'when the tree reaches SIZE, stop the Python process with the most memory in pdb at the line it is running (as --on-threshold SIZE:break)');
}

export function addRecordOptions(cmd: Command): Command {
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
      'once the metric reaches SIZE, do ACTION: mark, stop (SIGSTOP the tree to inspect it), kill, exec=CMD, snapshot, break; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('-q, --quiet', 'no live status line and no summary');
}

export interface RecordOutcome {
  /** The exit code `run`/`attach` would return. */
  code: number;
  result: SessionResult;
  /** The recording read back (null when it could not be read). */
  recording: MemoryRecording | null;
  /**
   * The analysis behind the printed summary and verdict (null with --quiet or without a
   * recording). A --limit is passed to it as analyzeRecording's limitBytes ("given to analyze").
   */
  analysis: RecordingAnalysis | null;
}

/**
 * Records with a live status on a terminal, reads the recording back, prints the summary (unless
 * --quiet) and works out the exit code. Shared by `run`, `attach` and commands built on them.
 */
export async function record(kind: 'run' | 'attach', flags: RecordFlags, start: (o: SessionOptions) => Promise<SessionResult>, command: () => string[]): Promise<RecordOutcome> {
  const base = resolveRecordOptions(flags);
  const live = !flags.quiet && process.stderr.isTTY ? new LiveStatus(process.stderr) : null;
  let result: SessionResult;
  try {
    live?.start();
    result = await start({
      ...base,
      notice: (text) => notice(text),
      onSample: live ? (s) => live.update(s.tMs, s.metricBytes ?? s.totalRssBytes, s.processes, base.limitBytes ?? s.limitBytes) : undefined,
    });
  } finally {
    live?.stop();
  }
  let recording: MemoryRecording | null = null;
  try {
    recording = await readMemhuntRecording(result.outputPath);
  } catch (e) {
    notice(`recorded to ${result.outputPath}, but could not read it back: ${(e as Error).message}`);
  }
  let analysis: RecordingAnalysis | null = null;
  if (!flags.quiet && recording) {
    const size = fs.statSync(result.outputPath).size;
    analysis = analyzeRecording(recording, { limitBytes: base.limitBytes });
    err(
      formatSummary(analysis.summary, {
        command: command(), recordingPath: result.outputPath, recordingBytes: size, events: recording.events,
        verdict: verdictLineOf(analysis),
      }) + '\n',
    );
  }
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
        'Run a command and record the memory of it and every descendant until it exits.\n' +
          'stdin/stdout/stderr pass through; SIGINT/SIGTERM/SIGHUP are forwarded; memhunt exits\n' +
          'with the command\'s exit code (128+N when signal N ended it).',
      )
      .argument('<command...>', 'the command to run, after --')
      .passThroughOptions(),
  );
  addAgentOptions(run);
  run.addHelpText(
    'after',
    `
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

Examples:
  memhunt run -- python3 train.py --epochs 3
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
  memhunt mark checkpoint                                        (from a script inside the command; never blocks)`,
  );
  run.action(async (commandArgs: string[], flags: RecordFlags) => {
    const outcome = await record('run', flags, (o) => runCommand({ ...o, command: commandArgs }), () => commandArgs);
    exitWith(outcome.code);
  });

  const attach = addRecordOptions(
    program
      .command('attach')
      .summary('record an already running process and its descendants')
      .description(
        'Record a running process and every descendant until it exits, or until you press Ctrl-C\n' +
          '(memhunt detaches; the process keeps running).',
      )
      .argument('<pid>', 'process id to record'),
  );
  attach.addHelpText('after', '\nExamples:\n  memhunt attach 4242\n  memhunt attach --interval 1s -o nightly.mh $(pgrep -f train.py)');
  attach.action(async (pidText: string, flags: RecordFlags) => {
    if (!/^\d+$/.test(pidText) || Number(pidText) < 1) throw new InputError(`"${pidText}" is not a process id`);
    const pid = Number(pidText);
    let argv: string[] = [`pid ${pid}`];
    const outcome = await record(
      'attach', flags,
      async (o) => {
        const r = await attachProcess({ ...o, pid });
        try {
          argv = (await readMemhuntRecording(r.outputPath)).meta.command;
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

/** Ends an action with code: nothing for 0, else an ExitStatus that main() turns into the exit code. */
export function exitWith(code: number): void {
  if (code !== EXIT.OK) throw new ExitStatus(code);
}
