/**
 * A recording session: start (run) or find (attach) the target, sample it until it ends, and
 * leave a complete recording. Everything that can go wrong with the target is recorded, not thrown:
 * only problems before the recording starts (command not found, unknown pid) are errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { CommandError, InputError } from '../errors';
import { findMemoryCgroup, CgroupReader, containerIdFromCgroupPath, type CgroupLocation } from '../procfs/cgroup';
import { inTerminalForeground, readCmdline, readStat, readUid } from '../procfs/process';
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, RECORDING_VERSION, type EndRecord, type HeaderRecord } from '../recording/spec';
import { RecordingOutput, RecordingWriter, roundMs } from '../recording/writer';
import { MEMHUNT_VERSION } from '../version';
import { ThresholdActions, type ThresholdAction } from './actions';
import { AgentSession, type AgentSessionOptions } from './agents';
import { MarkerChannel, MAX_LINE_BYTES, MAX_MARKER_BYTES_PER_SECOND, MAX_MARKERS_PER_SECOND } from './markers';
import { Sampler, type SampleSummary, type ScheduleStep } from './sampler';

/** The command does not exist: exit 127, as a shell says. */
export class CommandNotFoundError extends CommandError {
  override name = 'CommandNotFoundError';
  constructor(message: string) {
    super(message, 127);
  }
}
/** The command exists but cannot be executed: exit 126, as a shell says. */
export class CommandNotExecutableError extends CommandError {
  override name = 'CommandNotExecutableError';
  constructor(message: string) {
    super(message, 126);
  }
}

export interface SessionOptions {
  /** The recording to write; null: a new memhunt_<time>.mh in outputDir (never an existing name). */
  outputPath: string | null;
  /** Where a default-named recording goes (default: the current folder). */
  outputDir?: string;
  /** Header labels: where the run ran (sampler/identity.ts) and the user's --label values. */
  labels?: Record<string, string>;
  /** Added to a default name (memhunt_<time>_<tag>.mh): the container/task identity, file-name safe. */
  outputTag?: string | null;
  /** Replace an output that is not a recording (run --force). */
  force?: boolean;
  /** --interval, or the steady interval of intervalSchedule. */
  intervalMs: number;
  /** The default schedule (no --interval): intervals that coarsen as the run grows; null: intervalMs throughout. */
  intervalSchedule?: readonly ScheduleStep[] | null;
  metric: 'rss' | 'pss' | 'uss';
  limitBytes: number | null;
  /** Prefix for /proc and /sys (tests); "/" in production. */
  procRoot?: string;
  /** The memory cgroup to read; found from the target's pid when undefined (tests inject fixture trees). */
  cgroupLocation?: CgroupLocation | null;
  onSample?: (s: SampleSummary) => void;
  /** --on-threshold actions, each fired once. */
  thresholds?: ThresholdAction[];
  /** Messages for the person at the terminal (threshold actions). */
  notice?: (text: string) => void;
  /**
   * In-process agents (run only): the options of --heap-every / --trace-allocations; null turns
   * them off (--no-agent). Default: injected, with nothing periodic.
   */
  agent?: AgentSessionOptions | null;
  /** `memhunt scale`: the input size of this run, written into the header. */
  scale?: HeaderRecord['scale'];
  /** Called once the target runs and the recording file exists. */
  onStarted?: (info: { pid: number; outputPath: string; cgroupLimitBytes: number | null }) => void;
}

export interface RunOptions extends SessionOptions {
  command: string[];
  env?: NodeJS.ProcessEnv;
  /** The command's stdout goes to memhunt's stderr (`scale --json`: stdout holds only the JSON). */
  stdoutToStderr?: boolean;
}

export interface SessionResult {
  reason: EndRecord['reason'];
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  outputPath: string;
  samples: number;
  /** Bytes of the metric when --limit fired. */
  limitExceededBytes: number | null;
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function makeHeader(o: SessionOptions, mode: 'run' | 'attach', command: string[], rootPid: number, startWallMs: number, cg: CgroupLocation | null, cgLimit: number | null): HeaderRecord {
  return {
    type: 'header', format: RECORDING_FORMAT, version: RECORDING_VERSION, memhuntVersion: MEMHUNT_VERSION, mode,
    command, cwd: process.cwd(), host: os.hostname(),
    containerId: cg ? containerIdFromCgroupPath(cg.path) : null,
    startWallMs, startIso: new Date(startWallMs).toISOString(), intervalMs: o.intervalMs,
    ...(o.intervalSchedule ? { intervalSchedule: o.intervalSchedule.map((st) => ({ ...st })) } : {}),
    metric: o.metric,
    limitBytes: o.limitBytes, rootPid,
    cgroup: cg ? { version: cg.version, path: cg.path, limitBytes: cgLimit } : null,
    fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] },
    labels: { ...(o.labels ?? {}) },
    ...(o.scale ? { scale: o.scale } : {}),
  };
}

/**
 * Opens the output of a session before anything else happens (issue 8: a run whose output cannot
 * be written must not start its command): see RecordingOutput.open.
 */
export function openSessionOutput(o: SessionOptions): RecordingOutput {
  return RecordingOutput.open(o.outputPath, { dir: o.outputDir, force: o.force, tag: o.outputTag ?? null });
}

export function openCgroup(pid: number, root: string, injected: CgroupLocation | null | undefined) {
  let loc: CgroupLocation | null;
  try {
    loc = injected === undefined ? findMemoryCgroup(pid, root) : injected;
  } catch {
    loc = null; // the target exited before its cgroup could be read: record without one
  }
  if (!loc) return { loc: null, reader: null, limit: null };
  let reader: CgroupReader | null = null;
  try {
    reader = new CgroupReader(loc);
    return { loc, reader, limit: reader.readLimit() };
  } catch {
    reader?.close(); // its files are open if only the limit could not be read
    return { loc: null, reader: null, limit: null };
  }
}

/**
 * One recording session, shared by run and attach: the output, then one writer, cgroup reader,
 * sampler and set of threshold actions, and a close() that always runs (try/finally in both).
 */
class Recording {
  readonly writer: RecordingWriter;
  readonly sampler: Sampler;
  readonly actions: ThresholdActions;
  private readonly cg: ReturnType<typeof openCgroup>;
  private closed = false;
  limitBytesHit: number | null = null;
  oomSeen = false;
  private readonly oomKillsAtStart: number | null;

  constructor(
    o: SessionOptions, output: RecordingOutput, mode: 'run' | 'attach', command: string[], readonly rootPid: number,
    agents: AgentSession | null, noAgentReason: string, hooks: { onProcessExit?: (pid: number) => void } = {},
  ) {
    const root = o.procRoot ?? '/';
    this.cg = openCgroup(rootPid, root, o.cgroupLocation);
    // t = 0 of every sample time and the header's wall clock, read together (SamplerOptions.origin).
    const originPerfMs = performance.now();
    const startWallMs = Date.now();
    try {
      this.writer = new RecordingWriter(output, makeHeader(o, mode, command, rootPid, startWallMs, this.cg.loc, this.cg.limit));
    } catch (e) {
      this.cg.reader?.close();
      output.abort();
      throw e;
    }
    let oomKills: number | null = null;
    try {
      oomKills = this.cg.reader ? this.cg.reader.read().oomKills : null;
    } catch {
      oomKills = null;
    }
    this.oomKillsAtStart = oomKills;
    const w = this.writer;
    this.actions = new ThresholdActions(o.thresholds ?? [], {
      writer: w, metric: o.metric, rootPid, recordingPath: w.filePath,
      now: () => this.sampler.now(),
      livePids: () => this.sampler.livePids(),
      notice: o.notice ?? (() => {}),
      agents, noAgentReason,
    });
    this.sampler = new Sampler({
      rootPid, intervalMs: o.intervalMs, schedule: o.intervalSchedule ?? null, metric: o.metric, writer: w, cgroup: this.cg.reader, limitBytes: o.limitBytes,
      procRoot: root, origin: { perfMs: originPerfMs, wallMs: startWallMs },
      onSample: (x) => {
        this.actions.poll(x.tMs);
        x.inPdb = agents?.inPdb() ?? false;
        o.onSample?.(x);
      },
      thresholds: this.actions.sizes, onThreshold: (...a) => this.actions.fire(...a),
      onLimit: (bytes) => {
        this.limitBytesHit = bytes;
        killTree(this.sampler, rootPid);
      },
      onOomKill: () => {
        this.oomSeen = true;
      },
      onProcessExit: (pid) => {
        agents?.processExited(pid);
        hooks.onProcessExit?.(pid);
      },
    });
    agents?.attach(w, () => this.sampler.now(), startWallMs, () => this.sampler.livePids());
    this.startWallMs = startWallMs;
  }

  readonly startWallMs: number;

  get cgroupLimitBytes(): number | null {
    return this.cg.limit;
  }

  /** Time since the start, µs-rounded, for records. */
  t(): number {
    return roundMs(this.sampler.now());
  }

  /** An OOM kill the sampler did not see (the counter rose after the last sample). */
  checkOomAtEnd(): void {
    if (!this.cg.reader || this.oomKillsAtStart === null || this.oomSeen) return;
    try {
      const now = this.cg.reader.read().oomKills;
      if (now !== null && now > this.oomKillsAtStart) {
        this.oomSeen = true;
        this.writer.append({ type: 'oom', t: this.t(), oomKills: now });
      }
    } catch {
      // cgroup gone with the container
    }
  }

  /** Writes the end record and closes everything. */
  end(end: Omit<EndRecord, 'type' | 't' | 'samples'>): number {
    const samples = this.sampler.samples;
    this.writer.append({ type: 'end', t: this.t(), samples, ...end });
    this.close();
    return samples;
  }

  /** Stops sampling and closes the files; the recording is then complete up to its last record. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sampler.stop();
      this.sampler.close();
    } finally {
      this.cg.reader?.close();
      this.writer.close();
    }
  }
}

/** Runs a command under the sampler. Resolves when the command has exited and the recording is closed. */
export async function runCommand(o: RunOptions): Promise<SessionResult> {
  const root = o.procRoot ?? '/';
  // First: an output that cannot be written stops here, before any directory, socket or process exists.
  const output = openSessionOutput(o);
  let markers: MarkerChannel | null = null;
  let agents: AgentSession | null = null;
  let rec: Recording | null = null;
  // Signals are taken from now on: one that arrives before the command runs is passed to it as
  // soon as it does (memhunt must not die by it and leave an empty output behind).
  let pid: number | null = null;
  const early: NodeJS.Signals[] = [];
  const forward = (sig: NodeJS.Signals) => {
    // Ctrl-C (and a terminal hang-up) already reached the target: it is in our process group, the
    // terminal's foreground group. Sending it again would interrupt the program's own clean-up
    // (Python: a second KeyboardInterrupt inside `except KeyboardInterrupt:`).
    if ((sig === 'SIGINT' || sig === 'SIGHUP') && inTerminalForeground()) return;
    if (pid === null) {
      early.push(sig);
      return;
    }
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  try {
    const pending: Array<{ pid: number | null; kind: 'begin' | 'end' | 'mark'; label: string }> = [];
    const droppedNote = (n: number, bytes: number) => {
      const text = `${n} marker line${n === 1 ? '' : 's'} (${bytes} bytes) dropped: the marker channel keeps at most ${MAX_MARKERS_PER_SECOND} markers and ${MAX_MARKER_BYTES_PER_SECOND / 1024} KiB per second, lines up to ${MAX_LINE_BYTES} bytes`;
      if (rec) rec.writer.append({ type: 'note', t: rec.t(), pid: null, text });
    };
    markers = new MarkerChannel((m) => {
      if (rec) rec.writer.append({ type: 'marker', t: rec.t(), ...m });
      else pending.push(m);
    }, droppedNote);
    const baseEnv = o.env ?? process.env;
    let noAgentReason = '--no-agent';
    if (o.agent !== null) {
      try {
        agents = await AgentSession.start(markers.dir, o.agent ?? { heapEveryMs: null, traceAllocations: false }, o.notice ?? (() => {}), root);
      } catch (e) {
        // A socket path longer than sun_path (108 bytes, from a long TMPDIR) or an exotic file
        // system: record without agents rather than not at all.
        noAgentReason = `the agent socket could not be created in ${markers.dir} (${(e as Error).message})`;
        o.notice?.(`in-process agents are off: ${noAgentReason}`);
      }
    }
    const env = { ...baseEnv, ...(agents ? agents.environment(baseEnv) : {}), MEMHUNT_MARKERS: markers.fifoPath, MEMHUNT_RECORDING: path.resolve(output.path) };

    const child = await spawnChecked(o.command, env, o.stdoutToStderr === true);
    const childPid = child.pid!;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const r = new Recording(o, output, 'run', o.command, childPid, agents, noAgentReason);
    rec = r;
    for (const m of pending.splice(0)) r.writer.append({ type: 'marker', t: 0, ...m });
    pid = childPid;
    for (const sig of early.splice(0)) forward(sig);
    r.sampler.start();
    o.onStarted?.({ pid: childPid, outputPath: output.path, cgroupLimitBytes: r.cgroupLimitBytes });

    const { code, signal } = await exited;
    // One last sample records the root's exit (and anything that died with it).
    r.sampler.sampleOnce();
    r.sampler.stop();
    // Agents first: closing fails their requests still pending (a daemon child may outlive the
    // root), which ends the threshold actions waiting on them.
    await agents?.close();
    agents = null;
    await r.actions.settle();
    markers.close();
    markers = null;
    r.checkOomAtEnd();
    let reason: EndRecord['reason'] = signal ? 'signalled' : 'exited';
    if (r.limitBytesHit !== null) reason = 'limit';
    else if (signal === 'SIGKILL' && r.oomSeen) reason = 'oom-killer';
    r.writer.append({ type: 'exit', t: r.t(), pid: childPid, code, signal });
    const samples = r.end({ reason, code, signal });
    return { reason, exitCode: code, exitSignal: signal, outputPath: output.path, samples, limitExceededBytes: r.limitBytesHit };
  } finally {
    for (const sig of FORWARDED) process.removeListener(sig, forward);
    await agents?.close();
    markers?.close();
    if (rec) rec.close();
    else output.abort(); // the command never started: no recording, no file left behind
  }
}

/** SIGKILL every process of the tree, as the OOM killer would (with memory.oom.group, the whole container). */
function killTree(s: Sampler, rootPid: number): void {
  s.sampleOnce(); // pick up children started since the last scan
  const pids = new Set([rootPid, ...s.livePids()]);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Spawns with inherited stdio; turns spawn failures into clear errors with exit codes 127/126. */
function spawnChecked(command: string[], env: NodeJS.ProcessEnv, stdoutToStderr = false): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command;
    if (!file) {
      reject(new InputError('no command given; usage: memhunt run [options] -- <command> [args...]'));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: stdoutToStderr ? ['inherit', 2, 'inherit'] : 'inherit', env });
    } catch (e) {
      reject(new CommandNotFoundError(`${file}: ${(e as Error).message}`));
      return;
    }
    if (child.pid !== undefined) {
      resolve(child);
      return;
    }
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new CommandNotFoundError(`${file}: command not found`));
      else if (err.code === 'EACCES') reject(new CommandNotExecutableError(`${file}: permission denied (not executable)`));
      else reject(new CommandNotFoundError(`${file}: cannot start (${err.message})`));
    });
  });
}

export interface AttachOptions extends SessionOptions {
  pid: number;
}

/**
 * Records an already running process and its descendants until the process exits or memhunt is
 * interrupted (SIGINT/SIGTERM/SIGHUP detach: the target keeps running).
 */
export async function attachProcess(o: AttachOptions): Promise<SessionResult> {
  const root = o.procRoot ?? '/';
  const st = readStat(o.pid, root);
  if (!st || st.state === 'Z') throw new InputError(`no process with pid ${o.pid}`);
  if (o.pid === process.pid) throw new InputError(`pid ${o.pid} is memhunt itself`);
  const uid = readUid(o.pid, root);
  const me = process.getuid?.() ?? 0;
  if (me !== 0 && uid !== null && uid !== me) {
    throw new InputError(`pid ${o.pid} belongs to uid ${uid}, not to you (uid ${me}); attach to your own processes or run memhunt as root`);
  }
  const output = openSessionOutput(o);
  let finish: (r: EndRecord['reason']) => void = () => {};
  const done = new Promise<EndRecord['reason']>((resolve) => {
    finish = resolve;
  });
  const detach = () => finish('detached');
  let rec: Recording | null = null;
  try {
    const r = new Recording(o, output, 'attach', readCmdline(o.pid, root), o.pid, null, 'memhunt attach does not inject agents (memhunt run does)', {
      onProcessExit: (pid) => {
        if (pid === o.pid) finish(r.limitBytesHit !== null ? 'limit' : 'exited');
      },
    });
    rec = r;
    for (const sig of FORWARDED) process.on(sig, detach);
    r.sampler.start();
    o.onStarted?.({ pid: o.pid, outputPath: output.path, cgroupLimitBytes: r.cgroupLimitBytes });
    const reason = await done;
    r.sampler.stop();
    await r.actions.settle();
    const signal = reason === 'limit' ? 'SIGKILL' : null;
    const samples = r.end({ reason, code: null, signal });
    return { reason, exitCode: null, exitSignal: signal, outputPath: output.path, samples, limitExceededBytes: r.limitBytesHit };
  } finally {
    for (const sig of FORWARDED) process.removeListener(sig, detach);
    if (rec) rec.close();
    else output.abort();
  }
}
