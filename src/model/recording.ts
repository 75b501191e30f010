/**
 * The in-memory recording every reader produces and every analysis and renderer consumes. It does
 * not know where the data came from (memhunt's own file, mprof's .dat, …); `source` only says so
 * for messages.
 */
import type { AgentTrigger, AllocBody, CensusBody, CensusRow, IsolatedBody, RefsBody, TraceBody } from '../contract/shapes';
import { emptySeries, type Series } from './series';

export type MemoryMetric = 'rss' | 'pss' | 'uss';

export interface RecordingMeta {
  /** Which reader made this: 'memhunt' for our own recordings, 'mprof' for memory_profiler's .dat. */
  source: 'memhunt' | 'mprof' | 'csv' | 'json';
  /** The recording format version of the file (memhunt) or null. */
  formatVersion: number | null;
  memhuntVersion: string | null;
  mode: 'run' | 'attach' | 'import';
  /** argv of the target (mprof files: the CMDLINE split on spaces). */
  command: string[];
  cwd: string | null;
  host: string | null;
  containerId: string | null;
  /** Wall-clock time of t = 0, ms since the Unix epoch. */
  startWallMs: number;
  /** Requested sampling interval (with a schedule: its last, steady interval). */
  intervalMs: number | null;
  /** memhunt's default schedule when no --interval was given: the interval from fromMs on. */
  intervalSchedule?: Array<{ fromMs: number; intervalMs: number }>;
  /** The metric the tree total, --limit and the peak are based on. */
  metric: MemoryMetric;
  /** `--limit` given to memhunt (a rehearsal limit), bytes. */
  limitBytes: number | null;
  cgroup: CgroupMeta | null;
  rootPid: number | null;
  /** Where the run ran (platform, container/task ids) and the user's --label values; absent when none. */
  labels?: Record<string, string>;
  /** The input size of a `memhunt scale` run (its header's `scale`); absent otherwise. */
  scale?: { size: number; sizeText: string; repeat: number };
}

export interface CgroupMeta {
  version: 1 | 2;
  /** Path of the memory cgroup as /proc/PID/cgroup names it. */
  path: string;
  /** The effective limit at the start (smallest over the cgroup and its ancestors), bytes; null when unlimited. */
  limitBytes: number | null;
}

export interface ProcessTrack {
  pid: number;
  ppid: number;
  /** argv as read from /proc/PID/cmdline (or the process name in brackets for kernel-named ones). */
  command: string[];
  /** First and last time the process was seen, ms since start. */
  firstSeenMs: number;
  /**
   * When its command line last changed (it exec'd: pyenv's shim becoming python3, a fork child
   * becoming another program); absent when it never did. Its memory before that was another program's.
   */
  execMs?: number;
  /** When it was seen gone; null when it was alive at the end of the recording. */
  exitMs: number | null;
  /** Exit code or signal, known only for the root process memhunt started. */
  exitCode: number | null;
  exitSignal: string | null;
  rss: Series;
  /** RSS split (bytes); empty series when the source has no split (mprof). */
  anon: Series;
  file: Series;
  shmem: Series;
  /** PSS/USS, read at an adaptive rate (their cost grows with RSS); empty when not read. */
  pss: Series;
  uss: Series;
  /** The kernel's high-water mark of RSS (VmHWM): peaks between samples are not lost. NaN when unknown. */
  hwmBytes: number;
  /** The cluster worker this process ran (a Dask worker: its agent said so); absent otherwise. */
  worker?: ClusterWorker;
  /** The process's parent (Dask's nanny) terminated it for exceeding its memory limit, as the parent's agent said. */
  killedByParent?: ParentKill;
  /**
   * When its interpreter began its shutdown (its agent's atexit hook said so), ms since start; absent
   * when not known (no agent, os._exit, a kill). What it freed after that was its teardown.
   */
  teardownMs?: number;
}

export interface ClusterWorker {
  framework: 'dask';
  /** Dask's worker name ("0" in a LocalCluster, `dask worker --name`). */
  name: string;
  /** "tcp://127.0.0.1:41083", or null before it listened. */
  address: string | null;
  /** The worker's memory_limit, bytes; null when none. */
  memoryLimitBytes: number | null;
}

export interface ParentKill extends ClusterWorker {
  /** The pid of the parent that killed it (the nanny's process). */
  by: number;
  /** distributed.worker.memory.terminate: the share of the limit past which the nanny kills. */
  terminateFraction: number;
  /** When memhunt learned it (within about a second of the kill). */
  tMs: number;
}

/** "worker tcp://127.0.0.1:41083 (0)": how every command names a worker process; null for other processes. */
/**
 * The pid an imported mprof .dat gives the process mprof started: mprof never writes its pid (its
 * children's CHLD lines carry theirs). 0 is never a real process of a tree, so it cannot collide.
 */
export const NO_PID = 0;

/** "pid 4242", or for the process of an mprof .dat, whose pid the file does not hold, "mprof's process (no pid in the .dat)". */
export function pidText(pid: number): string {
  return pid === NO_PID ? "mprof's process (no pid in the .dat)" : `pid ${pid}`;
}

export function workerText(w: ClusterWorker | undefined): string | null {
  if (!w) return null;
  if (!w.address) return `worker ${w.name}`;
  return w.name && w.name !== w.address ? `worker ${w.address} (${w.name})` : `worker ${w.address}`;
}

export interface CgroupSeries {
  usage: Series;
  workingSet: Series;
  /** Kernel peak (v2 memory.peak, v1 max_usage_in_bytes); empty when not available. */
  peak: Series;
  /** Limit over time (it can be changed at run time); empty when unlimited. */
  limit: Series;
}

export type RecordingEvent =
  | { kind: 'mark'; tMs: number; pid: number | null; label: string }
  | {
      kind: 'section';
      startMs: number;
      /** null when the section never ended (program killed inside it). */
      endMs: number | null;
      pid: number | null;
      label: string;
      /** Nesting depth (mprof FUNC level, or from begin/end pairing). */
      level: number;
      /** Memory at start and end as the source reported it (mprof FUNC), bytes. */
      startBytes?: number;
      endBytes?: number;
    }
  | { kind: 'limit-exceeded'; tMs: number; metric: MemoryMetric; bytes: number; limitBytes: number }
  | { kind: 'oom-kill'; tMs: number; oomKills: number }
  /** The tree was stopped from tMs to endMs (SIGSTOP by --on-threshold SIZE:stop; pdb at --break-at): left out of the growth analysis. */
  | { kind: 'pause'; tMs: number; endMs: number; pids: number[]; cause: 'stop' | 'break'; debuggerBytes?: number }
  | {
      kind: 'threshold';
      tMs: number;
      bytes: number;
      thresholdBytes: number;
      action: 'mark' | 'stop' | 'kill' | 'exec' | 'snapshot' | 'break';
      command: string | null;
      note: string | null;
    }
  | { kind: 'action-output'; tMs: number; command: string; exitCode: number | null; exitSignal: string | null; output: string }
  | {
      kind: 'note';
      tMs: number;
      text: string;
      /** The process the note is about (agent notes), when known. */
      pid?: number | null;
      /** The label of a census that was due and skipped (the text says why). */
      skippedCensus?: string;
    }
  | AgentConnectedEvent
  | HeapCensusEvent
  | AllocationSitesEvent
  | RefsGraphEvent
  | IsolatedRunEvent
  | AllocBatchEvent;

// ---------------------------------------------------------------- in-process agents
// What the Python agents saw inside processes of the tree (docs/agent-protocol.md). Sizes in bytes.

export type { AgentTrigger, AllocationSite } from '../contract/shapes';
export type { RefsNode as RefsGraphNode } from '../contract/shapes';
/** One type of a census: its name, how many live objects, their total size (bytes). */
export type HeapCensusRow = CensusRow;

export interface AgentConnectedEvent {
  kind: 'agent';
  tMs: number;
  pid: number;
  runtime: 'python' | 'node';
  runtimeVersion: string;
  features: string[];
}

/** A heap census (fields: src/contract/shapes.ts, CensusBody). */
export interface HeapCensusEvent extends CensusBody {
  kind: 'census';
  /** When it began. */
  tMs: number;
  pid: number;
  label: string;
  trigger: AgentTrigger;
  /** When memhunt asked for it (CensusRecord.askedT); absent for the program's own censuses and in older recordings. */
  askedTMs?: number;
}

/** A tracemalloc snapshot: where the live memory Python allocated was allocated (fields: TraceBody). */
export interface AllocationSitesEvent extends Omit<TraceBody, 'tracemallocBytes'> {
  kind: 'trace';
  tMs: number;
  pid: number;
  label: string;
  trigger: AgentTrigger;
  /** tracemalloc's own memory; 0 when not recorded (recordings before it was added). */
  tracemallocBytes: number;
}

/** Who keeps objects of a type alive: referrer chains from samples back to roots (fields: RefsBody). */
export interface RefsGraphEvent extends RefsBody {
  kind: 'refs';
  /** When the graph arrived (its end). */
  tMs: number;
  pid: number;
  trigger: AgentTrigger;
  /** How long it took to build (ms); absent in older recordings. */
  durationMs?: number;
  /** Why this type was followed (RefsRecord.why); absent in older recordings. */
  why?: string;
}

/** memhunt.isolated(fn): fn ran in a child process whose memory went back to the OS when it exited. */
export interface IsolatedRunEvent extends IsolatedBody {
  kind: 'isolated';
  tMs: number;
  pid: number;
}

/** A batch of sampled allocations of one process (fields: AllocBody; sample and free times are ms since the start). */
export interface AllocBatchEvent extends AllocBody {
  kind: 'alloc';
  tMs: number;
  pid: number;
}

export type EndReason = 'exited' | 'signalled' | 'limit' | 'oom-killer' | 'detached' | 'interrupted';

export interface RecordingEnd {
  tMs: number;
  reason: EndReason;
  exitCode: number | null;
  exitSignal: string | null;
}

export interface MemoryRecording {
  meta: RecordingMeta;
  /** Tree total per sample: the sum of RSS over the live processes (shared pages counted once per process), bytes. */
  total: Series;
  /** Sum of PSS over the tree where PSS was read; empty otherwise. */
  totalPss: Series;
  processes: ProcessTrack[];
  cgroup: CgroupSeries | null;
  events: RecordingEvent[];
  /** null when the recording has no end line (memhunt was killed, or the file was cut). */
  end: RecordingEnd | null;
  /** Problems the reader tolerated (cut tail, unknown lines), in words for the user. */
  warnings: string[];
  /** True when the file ends without its final line or mid-record. */
  truncated: boolean;
  /** A recording with no end that a live process still has open for writing (another memhunt run). */
  liveWriter?: { pid: number; command: string[] };
}

/**
 * A process known only by its RSS over time (mprof's CHLD lines, a CSV column): the split, PSS and
 * USS are empty, the exit code and kernel peak unknown.
 */
export function rssOnlyTrack(t: { pid: number; ppid: number; command: string[]; rss: Series; firstSeenMs: number; exitMs: number | null }): ProcessTrack {
  return {
    ...t,
    exitCode: null,
    exitSignal: null,
    anon: emptySeries(),
    file: emptySeries(),
    shmem: emptySeries(),
    pss: emptySeries(),
    uss: emptySeries(),
    hwmBytes: NaN,
  };
}
