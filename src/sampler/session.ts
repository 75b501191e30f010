/**
 * A recording session: start (run) or find (attach) the target, sample it until it ends, and
 * leave a complete recording. Everything that can go wrong with the target is recorded, not thrown:
 * only problems before the recording starts (command not found, unknown pid) are errors.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from '../errors';
import { findMemoryCgroup, CgroupReader, containerIdFromCgroupPath, type CgroupLocation } from '../procfs/cgroup';
import { inTerminalForeground, readCmdline, readStat, readUid } from '../procfs/process';
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, RECORDING_VERSION, type EndRecord, type HeaderRecord } from '../recording/spec';
import { RecordingWriter, roundMs } from '../recording/writer';
import { MEMHUNT_VERSION } from '../version';
import { ThresholdActions, type ThresholdAction } from './actions';
import { AgentSession, type AgentSessionOptions } from './agents';
import { MarkerChannel } from './markers';
import { Sampler, type SampleSummary } from './sampler';

export class CommandNotFoundError extends InputError {
  override name = 'CommandNotFoundError';
}
export class CommandNotExecutableError extends InputError {
  override name = 'CommandNotExecutableError';
}

export interface SessionOptions {
  outputPath: string;
  intervalMs: number;
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
  /** Called once the target runs and the recording file exists. */
  onStarted?: (info: { pid: number; outputPath: string; cgroupLimitBytes: number | null }) => void;
}

export interface RunOptions extends SessionOptions {
  command: string[];
  env?: NodeJS.ProcessEnv;
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
    startWallMs, startIso: new Date(startWallMs).toISOString(), intervalMs: o.intervalMs, metric: o.metric,
    limitBytes: o.limitBytes, rootPid,
    cgroup: cg ? { version: cg.version, path: cg.path, limitBytes: cgLimit } : null,
    fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] },
    labels: {},
  };
}

/** Refuses to overwrite a file that is not a recording: `-o train.py` must not destroy code. */
export function checkOutputPath(p: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return;
  }
  if (st.isDirectory()) throw new InputError(`output ${p} is a directory; give a file name such as ${p.replace(/\/$/, '')}/run.mh`);
  if (st.size === 0) return;
  const fd = fs.openSync(p, 'r');
  const head = Buffer.alloc(2);
  fs.readSync(fd, head, 0, 2, 0);
  fs.closeSync(fd);
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    throw new InputError(`output ${p} exists and is not a memhunt recording; refusing to overwrite it (choose another -o)`);
  }
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

/** Runs a command under the sampler. Resolves when the command has exited and the recording is closed. */
export async function runCommand(o: RunOptions): Promise<SessionResult> {
  const root = o.procRoot ?? '/';
  checkOutputPath(o.outputPath);
  let markers: MarkerChannel | null = null;
  let sampler: Sampler | null = null;
  let writer: RecordingWriter | null = null;
  const pending: Array<{ t: number; m: { pid: number | null; kind: 'begin' | 'end' | 'mark'; label: string } }> = [];
  markers = new MarkerChannel((m) => {
    if (sampler && writer) writer.append({ type: 'marker', t: roundMs(sampler.now()), ...m });
    else pending.push({ t: 0, m });
  });
  const baseEnv = o.env ?? process.env;
  let agents: AgentSession | null = null;
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
  const env = { ...baseEnv, ...(agents ? agents.environment(baseEnv) : {}), MEMHUNT_MARKERS: markers.fifoPath, MEMHUNT_RECORDING: path.resolve(o.outputPath) };

  let child: ChildProcess;
  try {
    child = await spawnChecked(o.command, env);
  } catch (e) {
    await agents?.close();
    markers.close();
    throw e;
  }
  const pid = child.pid!;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });

  const cg = openCgroup(pid, root, o.cgroupLocation);
  // t = 0 of every sample time and the header's wall clock, read together (SamplerOptions.origin).
  const originPerfMs = performance.now();
  const startWallMs = Date.now();
  writer = new RecordingWriter(o.outputPath, makeHeader(o, 'run', o.command, pid, startWallMs, cg.loc, cg.limit));
  const w = writer;
  let limitBytesHit: number | null = null;
  let oomKillsAtStart: number | null = null;
  try {
    oomKillsAtStart = cg.reader ? cg.reader.read().oomKills : null;
  } catch {
    oomKillsAtStart = null;
  }
  let oomSeen = false;

  const actions = makeActions(o, w, pid, () => s, agents, noAgentReason);
  const s = new Sampler({
    rootPid: pid, intervalMs: o.intervalMs, metric: o.metric, writer: w, cgroup: cg.reader, limitBytes: o.limitBytes,
    procRoot: root, origin: { perfMs: originPerfMs, wallMs: startWallMs }, onSample: o.onSample, thresholds: actions.sizes, onThreshold: (...a) => actions.fire(...a),
    onLimit: (bytes) => {
      limitBytesHit = bytes;
      killTree(s, pid);
    },
    onOomKill: () => {
      oomSeen = true;
    },
  });
  sampler = s;
  for (const p of pending) w.append({ type: 'marker', t: 0, ...p.m });
  agents?.attach(w, () => s.now(), startWallMs);

  const forward = (sig: NodeJS.Signals) => {
    // Ctrl-C (and a terminal hang-up) already reached the target: it is in our process group, the
    // terminal's foreground group. Sending it again would interrupt the program's own clean-up
    // (Python: a second KeyboardInterrupt inside `except KeyboardInterrupt:`).
    if ((sig === 'SIGINT' || sig === 'SIGHUP') && inTerminalForeground()) return;
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  s.start();
  o.onStarted?.({ pid, outputPath: o.outputPath, cgroupLimitBytes: cg.limit });

  const { code, signal } = await exited;
  // One last sample records the root's exit (and anything that died with it).
  s.sampleOnce();
  s.stop();
  // Agents first: closing fails their requests still pending (a daemon child may outlive the
  // root), which ends the threshold actions waiting on them.
  await agents?.close();
  await actions.settle();
  for (const sig of FORWARDED) process.removeListener(sig, forward);
  markers.close();
  if (cg.reader && oomKillsAtStart !== null && !oomSeen) {
    try {
      const now = cg.reader.read().oomKills;
      if (now !== null && now > oomKillsAtStart) {
        oomSeen = true;
        w.append({ type: 'oom', t: roundMs(s.now()), oomKills: now });
      }
    } catch {
      // cgroup gone with the container
    }
  }
  let reason: EndRecord['reason'] = signal ? 'signalled' : 'exited';
  if (limitBytesHit !== null) reason = 'limit';
  else if (signal === 'SIGKILL' && oomSeen) reason = 'oom-killer';
  const t = roundMs(s.now());
  w.append({ type: 'exit', t, pid, code, signal });
  w.append({ type: 'end', t, reason, code, signal, samples: s.samples });
  s.close();
  cg.reader?.close();
  w.close();
  return { reason, exitCode: code, exitSignal: signal, outputPath: o.outputPath, samples: s.samples, limitExceededBytes: limitBytesHit };
}

function makeActions(o: SessionOptions, w: RecordingWriter, rootPid: number, sampler: () => Sampler, agents: AgentSession | null, noAgentReason: string): ThresholdActions {
  return new ThresholdActions(o.thresholds ?? [], {
    writer: w, metric: o.metric, rootPid, recordingPath: o.outputPath,
    now: () => sampler().now(),
    livePids: () => sampler().livePids(),
    notice: o.notice ?? (() => {}),
    agents, noAgentReason,
  });
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
function spawnChecked(command: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command;
    if (!file) {
      reject(new InputError('no command given; usage: memhunt run [options] -- <command> [args...]'));
      return;
    }
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: 'inherit', env });
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
  checkOutputPath(o.outputPath);
  const cg = openCgroup(o.pid, root, o.cgroupLocation);
  const originPerfMs = performance.now();
  const startWallMs = Date.now();
  const w = new RecordingWriter(o.outputPath, makeHeader(o, 'attach', readCmdline(o.pid, root), o.pid, startWallMs, cg.loc, cg.limit));
  let finish: (r: EndRecord['reason']) => void = () => {};
  const done = new Promise<EndRecord['reason']>((resolve) => {
    finish = resolve;
  });
  let limitBytesHit: number | null = null;
  const actions = makeActions(o, w, o.pid, () => s, null, 'memhunt attach does not inject agents (memhunt run does)');
  const s = new Sampler({
    rootPid: o.pid, intervalMs: o.intervalMs, metric: o.metric, writer: w, cgroup: cg.reader, limitBytes: o.limitBytes,
    procRoot: root, origin: { perfMs: originPerfMs, wallMs: startWallMs }, onSample: o.onSample, thresholds: actions.sizes, onThreshold: (...a) => actions.fire(...a),
    onLimit: (bytes) => {
      limitBytesHit = bytes;
      killTree(s, o.pid);
    },
    onProcessExit: (pid) => {
      if (pid === o.pid) finish(limitBytesHit !== null ? 'limit' : 'exited');
    },
  });
  const detach = () => finish('detached');
  for (const sig of FORWARDED) process.on(sig, detach);
  s.start();
  o.onStarted?.({ pid: o.pid, outputPath: o.outputPath, cgroupLimitBytes: cg.limit });
  const reason = await done;
  s.stop();
  await actions.settle();
  for (const sig of FORWARDED) process.removeListener(sig, detach);
  const t = roundMs(s.now());
  w.append({ type: 'end', t, reason, code: null, signal: reason === 'limit' ? 'SIGKILL' : null, samples: s.samples });
  s.close();
  cg.reader?.close();
  w.close();
  return {
    reason, exitCode: null, exitSignal: reason === 'limit' ? 'SIGKILL' : null, outputPath: o.outputPath,
    samples: s.samples, limitExceededBytes: limitBytesHit,
  };
}
