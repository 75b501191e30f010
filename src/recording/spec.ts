/**
 * The memhunt recording format, version 1: the contract between `memhunt run` and every reader.
 * Documented for people in docs/recording-format.md; checked against docs/recording-format.schema.json
 * by the tests.
 *
 * File: a sequence of gzip members (RFC 1952 allows concatenation; `zcat file.mh | jq` reads it),
 * each holding newline-delimited JSON records. The writer appends one member at least every second,
 * so a SIGKILL of the target or of memhunt itself loses at most the last second. Readers accept a
 * file cut anywhere: they keep every complete record before the cut and report it.
 *
 * The first record is the header. Records of a type a reader does not know are skipped (forward
 * compatibility within a major version). All sizes are KiB (the unit /proc reports them in),
 * all times are ms since the recording's start on a monotonic clock (three decimals at most).
 */

import type { AgentTrigger, AllocBody, CensusBody, IsolatedBody, RefsBody, TraceBody } from '../contract/shapes';
import { contractProblem, type ContractName } from '../contract/validate';

export type { AgentTrigger, AllocationSite, CensusRow } from '../contract/shapes';

export const RECORDING_FORMAT = 'memhunt-recording';
export const RECORDING_VERSION = 1;
export const RECORDING_EXTENSION = '.mh';

/** Column names of the arrays in a SampleRecord, also written in the header so files describe themselves. */
export const PROCESS_FIELDS = ['pid', 'rssKiB', 'anonKiB', 'fileKiB', 'shmemKiB', 'hwmKiB'] as const;
export const CGROUP_FIELDS = ['usageKiB', 'workingSetKiB', 'peakKiB', 'oomKills'] as const;
export const PSS_FIELDS = ['pid', 'pssKiB', 'ussKiB', 'swapKiB'] as const;

export interface HeaderRecord {
  type: 'header';
  format: typeof RECORDING_FORMAT;
  version: number;
  memhuntVersion: string;
  mode: 'run' | 'attach';
  /** argv of the target (run) or of the attached process. */
  command: string[];
  cwd: string;
  host: string;
  /** Container id guessed from the cgroup path (Docker/Kubernetes/containerd ids), or null. */
  containerId: string | null;
  /** Wall clock at t = 0, ms since the Unix epoch. */
  startWallMs: number;
  /** ISO 8601 form of startWallMs, for people reading with jq. */
  startIso: string;
  /** Requested sampling interval, ms (--interval; with a schedule, its last, steady interval). */
  intervalMs: number;
  /**
   * Added in 1 (optional): without --interval, the intervals in force from fromMs on (dense early,
   * coarsening as the run grows; src/sampler/sampler.ts DEFAULT_SCHEDULE). Absent: intervalMs throughout.
   */
  intervalSchedule?: Array<{ fromMs: number; intervalMs: number }>;
  /** Metric of the tree total, of --limit and of the peak. */
  metric: 'rss' | 'pss' | 'uss';
  /** --limit (rehearsal of a container limit), bytes; null when not given. */
  limitBytes: number | null;
  rootPid: number;
  cgroup: { version: 1 | 2; path: string; limitBytes: number | null } | null;
  fields: { p: string[]; c: string[]; pss: string[] };
  /** Free-form labels for fleets (job id, …); added in 1, empty for now. */
  labels: Record<string, string>;
  /**
   * Written by `memhunt scale` (added in 1, optional): the input size this run was given (`{}` in
   * the command), as typed (`sizeText`: "10000", "2%") and as a number (`size`: 10000, 2), and
   * which repetition of that size it is (1-based).
   */
  scale?: ScaleHeader;
}

export interface ScaleHeader {
  size: number;
  sizeText: string;
  repeat: number;
}

/** A process of the tree seen for the first time. */
export interface ProcRecord {
  type: 'proc';
  t: number;
  pid: number;
  ppid: number;
  cmd: string[];
}

/**
 * One sample. `p` has one row per live process of the tree, columns as PROCESS_FIELDS;
 * `c` the cgroup reading as CGROUP_FIELDS (peakKiB null where the kernel has no peak), absent
 * when no memory cgroup was found.
 */
export interface SampleRecord {
  type: 's';
  t: number;
  p: number[][];
  c?: (number | null)[];
}

/** PSS/USS of the tree, read from smaps_rollup at an adaptive rate: `everyMs` is the period in force. */
export interface PssRecord {
  type: 'pss';
  t: number;
  everyMs: number;
  p: number[][];
}

/** A process left the tree. `code`/`signal` are known only for the root memhunt started. */
export interface ExitRecord {
  type: 'exit';
  t: number;
  pid: number;
  code?: number | null;
  signal?: string | null;
}

/** A line written to the marker channel ($MEMHUNT_MARKERS). */
export interface MarkerRecord {
  type: 'marker';
  t: number;
  pid: number | null;
  kind: 'begin' | 'end' | 'mark';
  label: string;
}

/** The chosen metric crossed --limit; memhunt killed the tree. */
export interface LimitRecord {
  type: 'limit';
  t: number;
  metric: 'rss' | 'pss' | 'uss';
  bytes: number;
  limitBytes: number;
}

/**
 * Added in 1: the tree (or part of it) was stopped from t to endMs: SIGSTOP by `--on-threshold
 * SIZE:stop` until it ran again (SIGCONT from anyone), or a process held in pdb by `--break-at`.
 * Written when the pause ends, or at the end of the recording (endMs = then) if it never did.
 * Analyses leave paused time out of the growth: memory cannot grow while the program is stopped.
 */
export interface PauseRecord {
  type: 'pause';
  t: number;
  endMs: number;
  /** The processes that were stopped. */
  pids: number[];
  cause: 'stop' | 'break';
  /**
   * Added in 1.x, breaks only: RSS the stopped process gained in pdb (importing pdb, ~4-11 MiB,
   * and what the user's commands kept). Analyses subtract it from the samples after the pause:
   * the debugger's memory, not the program's growth.
   */
  debuggerBytes?: number;
}

/** The cgroup's OOM-kill counter rose. */
export interface OomRecord {
  type: 'oom';
  t: number;
  oomKills: number;
}

/** The cgroup limit changed during the run (or was first read); null = unlimited. */
export interface CgroupLimitRecord {
  type: 'cglimit';
  t: number;
  limitBytes: number | null;
}

/**
 * The metric reached a --on-threshold size and its action ran (added in 1: readers that predate
 * it skip it). `pids` are the processes the action applied to (stop/kill: the whole tree).
 */
export interface ThresholdRecord {
  type: 'threshold';
  t: number;
  metric: 'rss' | 'pss' | 'uss';
  bytes: number;
  thresholdBytes: number;
  action: 'mark' | 'stop' | 'kill' | 'exec' | 'snapshot' | 'break';
  pids: number[];
  /** exec: the command line run with sh -c. */
  command?: string;
  /** What happened, in words (e.g. "no in-process agent answered"). */
  note?: string;
}

/** The result of an exec action: its exit and its output (stdout and stderr, first 64 KiB). */
export interface ActionResultRecord {
  type: 'action';
  t: number;
  action: 'exec';
  command: string;
  code: number | null;
  signal: string | null;
  output: string;
  outputTruncated: boolean;
}

// ---------------------------------------------------------------- in-process agents (added in 1)
// Written by `memhunt run` when Python processes of the tree run the injected agent
// (docs/agent-protocol.md). Readers that predate them skip them. Sizes here are bytes (field names
// end in Bytes), as the agents measure them; times are the recording's `t`.

/** An agent connected: this process of the tree can be looked into. */
export interface AgentRecord {
  type: 'agent';
  t: number;
  pid: number;
  runtime: 'python' | 'node';
  /** e.g. "3.11.7" */
  runtimeVersion: string;
  /** Protocol version the agent speaks. */
  protocol: number;
  /** What it can do: census, trace, refs, break, isolated. */
  features: string[];
}

/**
 * A heap census (the agent's CensusBody): live objects by type. `t` is when it began (the agent's
 * clock: a census memhunt asked for begins when the program lets the agent's thread run).
 */
export interface CensusRecord extends CensusBody {
  type: 'census';
  t: number;
  pid: number;
  label: string;
  trigger: AgentTrigger;
  /** When memhunt asked for it (--heap-every, SIZE:snapshot); absent for the program's own and in older recordings. */
  askedT?: number;
}

/** A tracemalloc snapshot (with --trace-allocations): top sites by size and by growth, by package. */
export interface TraceRecord extends TraceBody {
  type: 'trace';
  t: number;
  pid: number;
  label: string;
  trigger: AgentTrigger;
}

/** A back-reference graph: sample objects of a type and the chains of referrers that keep them alive. */
export interface RefsRecord extends RefsBody {
  type: 'refs';
  /** When the graph arrived (its end). */
  t: number;
  pid: number;
  trigger: AgentTrigger;
  /** How long the agent took to build it (ms), the memory it used counted in that window; absent in older recordings. */
  durationMs?: number;
  /** Why this type was followed (the automatic graph's choice, or `--refs-type NAME`); absent in older recordings and for `memhunt refs` and the program's own graphs. */
  why?: string;
}

/** memhunt.isolated(fn) ran fn in a child process, which has exited. */
export interface IsolatedRecord extends IsolatedBody {
  type: 'isolated';
  t: number;
  /** The process that called memhunt.isolated. */
  pid: number;
}

/** Sampled allocations of one process, one batch about every second (`memhunt run --allocations`; added in 1). */
export interface AllocRecord extends AllocBody {
  type: 'alloc';
  t: number;
  pid: number;
}

/** Added in 1: a cluster worker's identity (Dask), as the agent of process pid reported it. */
export interface WorkerIdentity {
  /** Dask's Worker.name ("0" in a LocalCluster, `dask worker --name`). */
  name: string;
  /** "tcp://127.0.0.1:41083"; null before the worker listens. */
  address: string | null;
  /** The worker's memory_limit, bytes; null when it has none. */
  memoryLimitBytes: number | null;
}

/** Added in 1: process pid is a Dask worker (its agent found a running distributed.Worker in it). */
export interface WorkerRecord extends WorkerIdentity {
  type: 'worker';
  t: number;
  pid: number;
  framework: 'dask';
}

/**
 * Added in 1: worker process pid was terminated by its parent, Dask's nanny in process `by`, for
 * exceeding `terminateFraction` of its memory limit (distributed.worker.memory.terminate), as the
 * nanny's agent reported. `t` is when memhunt learned it (within about a second of the kill).
 */
export interface WorkerKillRecord extends WorkerIdentity {
  type: 'workerkill';
  t: number;
  pid: number;
  by: number;
  framework: 'dask';
  terminateFraction: number;
}

/**
 * Added in 1: process pid's interpreter began its shutdown at t (its agent's atexit hook, after the
 * program's own handlers): what it frees from then on is its teardown, which analyses leave out
 * (a Dask worker's cache freed a second before the worker ended read as "released").
 */
export interface TeardownRecord {
  type: 'teardown';
  t: number;
  pid: number;
}

/** Something worth knowing in words: an agent's error, a refused agent, a request that failed. */
export interface NoteRecord {
  type: 'note';
  t: number;
  /** The process it is about, when there is one. */
  pid: number | null;
  text: string;
  /** A census that was due (its label, e.g. "every 1s #2") and not taken; the text says why. Optional (added within version 1). */
  skippedCensus?: string;
}

/** The last record. Its absence means memhunt itself was killed or the file was cut. */
export interface EndRecord {
  type: 'end';
  t: number;
  reason: 'exited' | 'signalled' | 'limit' | 'oom-killer' | 'detached' | 'interrupted';
  code: number | null;
  signal: string | null;
  samples: number;
}

/**
 * After the end record (added in 1, optional): the run's figures and verdict, written once the
 * recording is read back, in its own last gzip member, so that `memhunt fleet` reads the header
 * and this member only. Derived: readers of the whole file recompute it and ignore this.
 */
export interface SummaryRecord {
  type: 'summary';
  t: number;
  memhuntVersion: string;
  metric: 'rss' | 'pss' | 'uss';
  samples: number;
  durationMs: number;
  peakBytes: number;
  peakTMs: number;
  limitBytes: number | null;
  limitSource: string | null;
  usedShare: number | null;
  headroomBytes: number | null;
  verdict: string;
  confidence: string;
  reason: string;
  /** `worker`: added in 1 (optional), that process's cluster worker, "tcp://127.0.0.1:41083 (0)". */
  top: { pid: number; command: string[]; bytes: number; worker?: string } | null;
  /** Added in 1 (optional): the cluster workers of the tree, "tcp://127.0.0.1:41083 (0)". */
  workers?: string[];
  /** Added in 1 (optional): worker processes their parent (Dask's nanny) killed at their memory limit, in words. */
  workerKills?: string[];
  end: { reason: EndRecord['reason']; code: number | null; signal: string | null };
  /**
   * Added in 1 (optional): the tree total's min and max per bucket of the run's own time (bucket i
   * is [i·stepMs, (i+1)·stepMs) ms; KiB; null where no sample fell; at most 512 buckets), so that
   * `memhunt plot DIR` draws a fleet from headers and footers (analysis/fleet-envelope.ts).
   */
  envelope?: { stepMs: number; minKiB: Array<number | null>; maxKiB: Array<number | null> };
}

export type RecordingRecord =
  | HeaderRecord
  | SummaryRecord
  | ProcRecord
  | SampleRecord
  | PssRecord
  | ExitRecord
  | MarkerRecord
  | LimitRecord
  | OomRecord
  | PauseRecord
  | CgroupLimitRecord
  | ThresholdRecord
  | ActionResultRecord
  | AgentRecord
  | CensusRecord
  | TraceRecord
  | RefsRecord
  | IsolatedRecord
  | AllocRecord
  | WorkerRecord
  | TeardownRecord
  | WorkerKillRecord
  | NoteRecord
  | EndRecord;

/** The record types of this version, each with its definition in the schema. */
const RECORD_CHECKS: Readonly<Record<RecordingRecord['type'], ContractName>> = {
  header: 'headerRecord', proc: 'procRecord', s: 'sRecord', pss: 'pssRecord', exit: 'exitRecord', marker: 'markerRecord',
  limit: 'limitRecord', oom: 'oomRecord', pause: 'pauseRecord', cglimit: 'cglimitRecord', threshold: 'thresholdRecord', action: 'actionRecord',
  agent: 'agentRecord', census: 'censusRecord', trace: 'traceRecord', refs: 'refsRecord', isolated: 'isolatedRecord', alloc: 'allocRecord',
  worker: 'workerRecord', workerkill: 'workerkillRecord', teardown: 'teardownRecord', note: 'noteRecord', end: 'endRecord', summary: 'summaryRecord',
};

/**
 * Checks one parsed line against the schema: `record` when it is a record of this version,
 * `unknown` for a record type this version does not know (a later writer's: readers skip it), or
 * `problem`, one line saying what is wrong (`p[0] must be an array`, `lacks "t"`).
 */
export function checkRecord(value: unknown): { record: RecordingRecord } | { unknown: string } | { problem: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: 'is not a JSON object' };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string') return { problem: 'has no "type"' };
  const name = Object.prototype.hasOwnProperty.call(RECORD_CHECKS, type) ? RECORD_CHECKS[type as RecordingRecord['type']] : undefined;
  if (name === undefined) return { unknown: type };
  const problem = contractProblem(name, value);
  return problem === null ? { record: value as RecordingRecord } : { problem: `a "${type}" record: ${problem}` };
}
