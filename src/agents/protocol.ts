/**
 * The host ↔ agent protocol, version 1: typed once here, documented in docs/agent-protocol.md.
 * The Python agent (runtimes/python/lib/memhunt/) implements the agent side with the standard library.
 *
 * Transport: one Unix stream socket per session, `$MEMHUNT_AGENT_SOCKET`, inside the session's
 * private 0700 directory. Newline-delimited JSON, UTF-8, one message per line, both ways.
 * Every connection starts with a `hello`. Two kinds of peers connect:
 *  - agents (one connection per Python/Node process of the tree, made when the process starts, and
 *    again in a forked child, whose inherited connection belongs to its parent);
 *  - clients (`memhunt snapshot <pid>` from another terminal), which find the socket through the
 *    target's /proc/PID/environ.
 * Requests carry an `id`; the reply carries the same `id`. Agents may also send events at any time.
 * A peer that receives a message type it does not know ignores it (and replies with an error if it
 * had an id). Version: `protocol` in hello; a host refuses agents with a newer major version.
 */

import type { AllocBody, CensusBody, IsolatedBody, RefsBody, TraceBody } from '../contract/shapes';
import { contractProblem, type ContractName } from '../contract/validate';

export const AGENT_PROTOCOL_VERSION = 1;
export const AGENT_SOCKET_ENV = 'MEMHUNT_AGENT_SOCKET';

// ---------------------------------------------------------------- hello

export interface AgentHello {
  type: 'hello';
  role: 'agent';
  protocol: number;
  pid: number;
  ppid: number;
  runtime: 'python' | 'node';
  /** e.g. "3.11.7" */
  runtimeVersion: string;
  executable: string;
  argv: string[];
  /** Agent capabilities, e.g. ["census", "trace", "refs", "break", "isolated"]. */
  features: string[];
  /**
   * Added in 1.x: the signal whose handler this process installed and its fork children inherit;
   * such a child connects when memhunt sends it (src/agents/wake.ts). Absent: its fork children
   * connect by themselves.
   */
  wakeSignal?: number;
  /**
   * Added in 1.x: the agent has no serving thread while memhunt asks it nothing. Before a line to
   * it while it is asleep, memhunt sends it wakeSignal (its handler starts the thread); when the
   * thread ends it says `{"type":"asleep","lines":N}` (AsleepNotice).
   */
  sleeps?: boolean;
  /** Added in 1.x, with sleeps: no serving thread yet (the first process, at start-up). */
  asleep?: boolean;
}

/**
 * Added in 1.x: a sleeping agent's serving thread ended after reading `lines` lines of this
 * connection. Not an event (nothing is recorded): memhunt wakes the agent again at once when it
 * wrote more lines than that, else before its next line.
 */
export interface AsleepNotice {
  type: 'asleep';
  lines: number;
}

export interface ClientHello {
  type: 'hello';
  role: 'client';
  protocol: number;
}

// ---------------------------------------------------------------- host -> agent requests

export interface CensusRequest {
  id: number;
  type: 'census';
  /** Run gc.collect() first (objgraph always does; a leak that lives between collections then hides). */
  collect: boolean;
  /** How many types to return, largest total size first (the rest are summed into "(other)"). */
  top: number;
  label?: string;
  /** --largest N: also the N objects that own the most memory (added within protocol 1). */
  largest?: number;
  /** --duplicates: also the groups of objects with equal data of at least this many bytes (added within protocol 1). */
  duplicatesMinBytes?: number;
}

export interface TraceStartRequest {
  id: number;
  type: 'trace-start';
  /** tracemalloc frames per traceback (1 = the allocating line only). */
  frames: number;
}

export interface TraceSnapshotRequest {
  id: number;
  type: 'trace-snapshot';
  top: number;
  label?: string;
}

export interface RefsRequest {
  id: number;
  type: 'refs';
  /** Type name as in a census (`DataFrame`, `dict`, `mymod.Record`); null = the fastest-growing type since the previous census. */
  typeName: string | null;
  /** Sample objects to trace back. */
  samples: number;
  maxDepth: number;
}

export interface BreakRequest {
  id: number;
  type: 'break';
  /** Why, shown by the agent before the pdb prompt. */
  reason: string;
  /** Added in 1.x: only answer whether a break can be made (a terminal, the main thread); nothing stops. */
  check?: boolean;
}

export interface PingRequest {
  id: number;
  type: 'ping';
}

export type HostRequest = CensusRequest | TraceStartRequest | TraceSnapshotRequest | RefsRequest | BreakRequest | PingRequest;

// ---------------------------------------------------------------- client -> host requests

/** From `memhunt snapshot <pid>`: ask the agent of pid for a census, record it, and return it. */
export interface ClientCensusRequest {
  id: number;
  type: 'client-census';
  pid: number;
  collect: boolean;
  top: number;
  /** Recorded with the census (default "memhunt snapshot"). */
  label?: string;
  /** As in CensusRequest (added within protocol 1). */
  largest?: number;
  duplicatesMinBytes?: number;
}

/**
 * From `memhunt refs <pid> --type NAME`: ask the agent of pid for a back-reference graph (a `refs`
 * request), record it, and return it. Added in protocol 1 (host side only: agents never see it).
 */
export interface ClientRefsRequest {
  id: number;
  type: 'client-refs';
  pid: number;
  typeName: string | null;
  samples: number;
  maxDepth: number;
}

export type ClientRequest = ClientCensusRequest | ClientRefsRequest;

// ---------------------------------------------------------------- replies

export interface Reply<T = unknown> {
  id: number;
  type: 'reply';
  ok: boolean;
  result?: T;
  /** When ok is false: one line a user can act on. */
  error?: string;
}

export type { AllocationSite, CensusRow, PackageShare, RefsEdge, RefsNode } from '../contract/shapes';

/** Reply to `census` (the census of a snapshot event too). */
export interface CensusResult extends CensusBody {
  /** Wall clock when the census was taken, ms since the epoch. */
  wallMs: number;
}

/** Reply to `trace-snapshot` (the trace of a snapshot event too). */
export interface TraceSnapshotResult extends TraceBody {
  wallMs: number;
}

/** Reply to `refs`. */
export type RefsResult = RefsBody;

/** Reply to `break`, once pdb has stopped. */
export interface BreakResult {
  /**
   * Added in 1.x: wall clock when the main thread took the call, before pdb was imported (older
   * agents: when pdb stopped); absent for a check.
   */
  wallMs?: number;
}

// ---------------------------------------------------------------- agent -> host events

/** A section from `with memhunt.section(...)` / the decorator; also sent for markers. */
export interface SectionEvent {
  type: 'section';
  kind: 'begin' | 'end';
  label: string;
  wallMs: number;
}

/** `memhunt.snapshot("after epoch 1")`: the agent took a census (and a trace snapshot if tracing). */
export interface SnapshotEvent {
  type: 'snapshot';
  label: string;
  census: CensusResult;
  trace: TraceSnapshotResult | null;
}

/** `memhunt.isolated(fn)` finished: the child's pid and peak RSS. */
export interface IsolatedEvent extends IsolatedBody {
  type: 'isolated';
}

/** A batch of sampled allocations (about every second while `--allocations` samples). */
export interface AllocEvent extends AllocBody {
  type: 'alloc';
  wallMs: number;
}

/** Something in the agent failed; the program goes on. */
export interface AgentErrorEvent {
  type: 'agent-error';
  message: string;
}

/** Added in 1.x: the program runs on after a break (`c`, or `q`): the time in pdb was a pause. */
export interface BreakEndEvent {
  type: 'break-end';
  wallMs: number;
  /** Added in 1.x: RSS the process gained in pdb, from the call (before pdb's import) to `c`. */
  debuggerBytes?: number;
}

/**
 * Added within protocol 1: the Dask workers running in this process and the worker processes its
 * nannies terminated for exceeding their memory limit. Sent in answer to a probe (a host -> agent
 * line `{"type":"probe"}`, no id, no reply), only when it differs from what was sent last; an agent
 * in a process that never imported distributed sends nothing.
 */
export interface DaskEvent {
  type: 'dask';
  workers: Array<{ name: string; address: string | null; memoryLimitBytes: number | null }>;
  kills: Array<{ pid: number; name: string; address: string | null; memoryLimitBytes: number | null; terminateFraction: number }>;
}

/** The probe line (host -> agent, no id, no reply): agents answer with facts that changed (a DaskEvent). Older agents ignore it. */
export const PROBE_LINE = '{"type":"probe"}\n';

/**
 * Added in 1.x: the allocation sites at the process's exit (atexit), from an agent that traces
 * allocations: a run shorter than the first periodic trace snapshot still has its final sites.
 */
export interface TraceFinalEvent {
  type: 'trace-final';
  trace: TraceSnapshotResult;
}

/**
 * Added in 1.x: the interpreter began its shutdown (the agent's atexit hook, registered at start-up,
 * runs after the program's own handlers and its threads): the memory it frees from here on is its
 * teardown (module globals, caches), not a release the program made. Recorded as a `teardown` record.
 */
export interface ExitingEvent {
  type: 'exiting';
  wallMs: number;
}

export type AgentEvent = DaskEvent | SectionEvent | SnapshotEvent | IsolatedEvent | AgentErrorEvent | BreakEndEvent | TraceFinalEvent | AllocEvent | ExitingEvent;

export type AgentMessage = AgentHello | Reply | AgentEvent;

// ---------------------------------------------------------------- checks (the schema's definitions)

/** The schema definition of each request's result. */
const RESULT_OF: Readonly<Record<HostRequest['type'], ContractName>> = {
  census: 'censusResult', 'trace-start': 'emptyResult', 'trace-snapshot': 'traceSnapshotResult', refs: 'refsResult', break: 'breakResult', ping: 'emptyResult',
};

const EVENT_OF: Readonly<Record<AgentEvent['type'], ContractName>> = {
  section: 'sectionEvent', snapshot: 'snapshotEvent', isolated: 'isolatedEvent', 'agent-error': 'agentErrorEvent', 'break-end': 'breakEndEvent', 'trace-final': 'traceFinalEvent', alloc: 'allocEvent', dask: 'daskEvent', exiting: 'exitingEvent',
};

/** Null when result is what `request` answers with; else one line saying what is wrong. */
export function resultProblem(request: HostRequest['type'], result: unknown): string | null {
  return contractProblem(RESULT_OF[request], result);
}

/** Null when msg is an agent event of this protocol; else what is wrong with it, as words ("a \"snapshot\" event: census.rows must be an array"). */
export function eventProblem(msg: unknown): string | null {
  const type = (msg as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(EVENT_OF, type)) return `a message of unknown type ${JSON.stringify(String(type)).slice(0, 60)}`;
  const p = contractProblem(EVENT_OF[type as AgentEvent['type']], msg);
  return p === null ? null : `a malformed "${type}" event (${p})`;
}

/**
 * For clients (`memhunt snapshot <pid>`, `memhunt refs <pid>`): null when `reply` is a well-formed
 * reply to a request of type `request` — a refusal or error (`ok` false, with `error`), or a
 * result of the right shape (a CensusResult for client-census, a RefsResult for client-refs);
 * else one line saying what is wrong, for an error message (exit 1).
 */
export function clientReplyProblem(reply: unknown, request: ClientRequest['type']): string | null {
  const envelope = contractProblem('reply', reply);
  if (envelope !== null) return `a malformed reply from the memhunt run (${envelope})`;
  const r = reply as Reply;
  if (!r.ok) return typeof r.error === 'string' ? null : 'a malformed reply from the memhunt run (an error without a message)';
  const p = contractProblem(request === 'client-census' ? 'censusResult' : 'refsResult', r.result);
  return p === null ? null : `a malformed ${request === 'client-census' ? 'census' : 'refs'} result from the memhunt run (${p})`;
}
