/**
 * The in-process agents of a `memhunt run`: the run's agent server (src/agents/server.ts), the
 * environment that injects the agents, and everything they report turned into records:
 *
 *   agent hello            -> `agent`
 *   section begin/end      -> `marker` with the agent's pid (so they become sections, as FIFO markers do)
 *   snapshot event         -> `census` (+ `trace` when the program traces allocations)
 *   census / trace / refs  -> `census` / `trace` / `refs` with their trigger
 *   isolated event         -> `isolated`
 *   agent-error, refusals, failed requests -> `note`
 *   dask event (answer to a probe) -> `worker` (a Dask worker in that process), `workerkill`
 *                                     (a worker process its nanny terminated at its memory limit)
 *
 * Requests: --heap-every (a census of every agent, plus a trace snapshot with --trace-allocations,
 * plus, once per type, the back-references of the type that grew most), --on-threshold
 * SIZE:snapshot (the same at the crossing) and SIZE:break / --break-at (pdb in the Python process
 * with the most RSS). A request that fails (the process ended mid-census, a timeout, the agent's
 * error) becomes a note; nothing already recorded is lost and the run goes on.
 */
import { makeRunDir } from '../rundir';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PERSIST_WINDOW, pickGrowingTypeWithReason } from '../agents/heap';
import type { AgentEvent, CensusResult, RefsResult, TraceSnapshotResult } from '../agents/protocol';
import { agentEnvironment } from '../agents/runtime';
import { AgentRequestError, AgentServer, type ConnectedAgent } from '../agents/server';
import { allocationsNote } from '../model/allocations';
import type { HeapCensusEvent } from '../model/recording';
import { parseStatus, readSmapsRollup } from '../procfs/process';
import type { AgentTrigger, RecordingRecord } from '../recording/spec';
import { roundMs, type RecordingWriter } from '../recording/writer';
import { formatDuration } from '../units';

export interface AgentSessionOptions {
  /** --heap-every: a census of every agent this often; null = never. */
  heapEveryMs: number | null;
  /** --trace-allocations: agents start tracemalloc at start-up; trace snapshots go with each census. */
  traceAllocations: boolean;
  /** tracemalloc frames per traceback (1 = the allocating line only). */
  traceFrames?: number;
  /** --refs-type: type names to record back-reference graphs of at censuses (besides the automatic one). */
  refsTypes?: string[];
  /** --largest N: every census also lists the N objects that own the most memory. */
  largest?: number;
  /** --duplicates (--min-size): every census also groups objects holding the same data of at least this many bytes. */
  duplicatesMinBytes?: number;
  /** --allocations[=MEAN]: sampled allocations with this mean (bytes between samples); absent = off. */
  allocMeanBytes?: number;
}

/**
 * Types kept per census. A census lists types largest first and sums the rest into "(other)";
 * growth is exact only for listed types. 200 covers every type a leak hunt cares about (programs
 * have a few hundred to a few thousand types, most of them tiny: classes, functions) for ~10 KB of
 * recording per census.
 */
const CENSUS_TOP = 200;
const TRACE_TOP = 25;
const REFS_SAMPLES = 3;
const REFS_DEPTH = 12;
/**
 * --trace-allocations without --heap-every: a trace snapshot (no census) of every agent this often,
 * so the growth between snapshots says where memory is allocated. A snapshot pauses the program:
 * tracemalloc.take_snapshot() + statistics('lineno') took 0.29 s + 2.2 s for a million live blocks
 * (CPython 3.11, measured here), so every 30 s costs under 10% even on such a heap; --heap-every
 * sets another period.
 */
export const TRACE_ONLY_EVERY_MS = 30_000;
/** The delays before the first trace snapshots when tracing alone (then TRACE_ONLY_EVERY_MS). */
const TRACE_ONLY_FIRST_MS = [5_000, 5_000, 10_000];
/**
 * Longest Unix socket path: sun_path holds 108 bytes with the terminating NUL (Linux unix(7)).
 * libuv (Node 20) silently cuts a longer path when it binds, which would create the socket
 * somewhere else entirely, so a longer path is never handed to it.
 */
const MAX_SOCKET_PATH = 107;
/**
 * Graphs of the automatically chosen type per process: one when it reaches a global or a class;
 * up to this many while its chains end only in frames of running functions (objects being built).
 */
const AUTO_GRAPH_TRIES = 3;
/** How long the end of a run waits for requests still in flight (the processes are usually gone). */
const END_GRACE_MS = 3_000;
/**
 * How often every agent is probed for the facts it learns late (a Dask worker's name and address
 * exist once the worker has started; a nanny's kill). A probe is one line; the agent answers only
 * when something changed, and a process that never imported distributed does one dict look-up.
 */
const PROBE_EVERY_MS = 1000;
/** After a process of the tree ends, the agents are probed at once, at most this often. */
const PROBE_SOON_MS = 100;

export class AgentSession {
  private writer: RecordingWriter | null = null;
  private now: () => number = () => 0;
  private startWallMs = Date.now();
  private pending: RecordingRecord[] = [];
  private readonly busy = new Set<number>();
  /** What each busy pid is doing (the label of its census), for the note of a census skipped. */
  private readonly busyWith = new Map<number, { what: string; sinceMs: number }>();
  /** The last censuses of each pid (PERSIST_WINDOW + 1): which type grows persistently. */
  private readonly recentCensuses = new Map<number, HeapCensusEvent[]>();
  /** --refs-type: the count of each named type at its last graph, per pid. */
  private readonly namedGraphed = new Map<number, Map<string, number>>();
  /** --refs-type: censuses without a row of the named type, per "pid\0name" (see namedRefs). */
  private readonly namedMisses = new Map<string, number>();
  /** Automatic graphs asked per pid and type (see AUTO_GRAPH_TRIES). */
  private readonly refsTried = new Map<number, Map<string, number>>();
  private readonly errorsShown = new Set<number>();
  /** --allocations: the Python agents that connected, those that run the sampling hooks, the samples recorded. */
  private readonly pythonPids = new Set<number>();
  private readonly samplingPids = new Set<number>();
  private allocSamples = 0;
  /** Processes held in pdb by a break: pid -> when pdb stopped (recording ms). */
  private readonly openBreaks = new Map<number, number>();
  private readonly work = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private soonTimer: NodeJS.Timeout | null = null;
  private lastProbeMs = 0;
  /** Worker identities and nanny kills already recorded ("pid\0name\0address", killed pids). */
  private readonly workersSeen = new Set<string>();
  private readonly killsSeen = new Set<number>();
  private ticks = 0;
  /** The processes of the tree now (the sampler's): fork children without an agent yet are among them. */
  private livePids: () => number[] = () => [];
  private server!: AgentServer;
  /** The socket's directory when it is not the session's (a long TMPDIR); removed at close. */
  private ownDir: string | null = null;

  private constructor(readonly options: AgentSessionOptions, private readonly notice: (text: string) => void, private readonly procRoot: string) {}

  /**
   * Starts the server on a socket in dir (the session's private 0700 directory), or in a private
   * directory of its own under /tmp when that path is too long for a Unix socket.
   */
  static async start(dir: string, options: AgentSessionOptions, notice: (text: string) => void, procRoot = '/'): Promise<AgentSession> {
    const s = new AgentSession(options, notice, procRoot);
    let socketPath = path.join(dir, 'agent.sock');
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      s.ownDir = makeRunDir('/tmp');
      socketPath = path.join(s.ownDir, 'agent.sock');
    }
    s.server = await AgentServer.listen(socketPath, {
      agentConnected: (a) => s.connected(a),
      event: (a, ev) => s.onEvent(a, ev),
      clientResult: (a, req, result) => {
        const t = s.tOf((result as CensusResult).wallMs);
        if (req.type === 'client-census') s.recordCensus(a.pid, t, req.label || 'memhunt snapshot', 'client', result as CensusResult);
        else s.recordRefs(a.pid, s.t(), 'client', result as RefsResult);
      },
      problem: (text, pid) => s.append({ type: 'note', t: s.t(), pid, text }),
      // A process that ends in pdb (killed, or `q` before the agent could say so) ends its pause.
      agentDisconnected: (a) => s.endBreak(a.pid, s.now()),
    }, procRoot);
    return s;
  }

  /** Variables to add to the target's environment. */
  environment(base: NodeJS.ProcessEnv): Record<string, string> {
    return agentEnvironment(base, this.server.socketPath, {
      trace: this.options.traceAllocations, traceFrames: this.options.traceFrames ?? 1,
      ...(this.options.allocMeanBytes ? { allocations: this.options.allocMeanBytes } : {}),
    });
  }

  /** From now on records go to writer, with times from now(); records held so far are written at t = 0. */
  attach(writer: RecordingWriter, now: () => number, startWallMs: number, livePids: () => number[] = () => []): void {
    this.livePids = livePids;
    this.writer = writer;
    this.now = now;
    this.startWallMs = startWallMs;
    for (const r of this.pending.splice(0)) writer.append(r);
    this.probeTimer = setInterval(() => this.probe(), PROBE_EVERY_MS);
    this.probeTimer.unref();
    // --allocations: agents that could not load the hooks trace with tracemalloc instead (their
    // features lack "alloc"): they get the trace snapshots --trace-allocations alone would take.
    if (this.options.heapEveryMs !== null) {
      const everyMs = this.options.heapEveryMs;
      this.timer = setInterval(() => this.everyTick(everyMs), everyMs);
      this.timer.unref();
    } else if (this.options.traceAllocations || this.options.allocMeanBytes) {
      // Trace snapshots alone: at 5, 10 and 20 s, then every 30 s. Every 30 s from the start gave a
      // 15 s job none at all ("no allocation snapshots: record with --trace-allocations").
      let k = 0;
      const next = () => {
        const delay = TRACE_ONLY_FIRST_MS[k] ?? TRACE_ONLY_EVERY_MS;
        k++;
        this.timer = setTimeout(() => {
          this.everyTick(delay);
          if (this.timer) next();
        }, delay);
        this.timer.unref();
      };
      next();
    }
  }

  agents(): ConnectedAgent[] {
    return this.server.agents();
  }

  /**
   * Every agent that can be asked now: the connected ones, then the fork children of the tree
   * that have none connected yet but connect when asked (the server wakes them at the request).
   */
  private targets(): ConnectedAgent[] {
    let live: number[] = [];
    try {
      live = this.livePids();
    } catch {
      live = [];
    }
    return [...this.server.agents(), ...this.server.wakeable(live)];
  }

  /**
   * A process of the tree ended: probe the agents now (at most every PROBE_SOON_MS), so that a
   * Dask nanny that killed it says so while it is still there (a job that ends right after a
   * KilledWorker closes its nannies well within a periodic probe's second).
   */
  processExited(pid?: number): void {
    if (pid !== undefined) this.server.processEnded(pid);
    if (this.soonTimer || !this.probeTimer) return;
    const wait = Math.max(0, this.lastProbeMs + PROBE_SOON_MS - Date.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      this.probe();
    }, wait);
    this.soonTimer.unref();
  }

  private probe(): void {
    this.lastProbeMs = Date.now();
    this.server.probeAll();
  }

  /**
   * A census of every connected agent (+ a trace snapshot when tracing, + the back-references of
   * the type that grew most since its previous census, once per type), recorded. Resolves when
   * every request has settled; failures are recorded as notes. Returns the pids asked.
   */
  snapshotAll(label: string, trigger: AgentTrigger): { pids: number[]; done: Promise<void> } {
    const pids: number[] = [];
    const all: Promise<void>[] = [];
    for (const a of this.targets()) {
      if (!has(a, 'census')) continue;
      if (this.busy.has(a.pid)) {
        // Said, not silent: a run showed censuses #1 #3 #9 #18 #23 and no word on the others.
        // What it is busy with, and since when: "#3 still running" of a census that took 340 ms
        // two seconds before was its largest objects and duplicates (2.26 s more), not the census.
        const running = this.busyWith.get(a.pid);
        const busy = running ? `${running.what}, under way for ${formatDuration(Math.max(0, this.now() - running.sinceMs))}` : 'a request';
        this.append({
          type: 'note', t: this.t(), pid: a.pid, skippedCensus: label,
          text: `census ${label} skipped: pid ${a.pid} was still busy with ${busy}`,
        });
        continue;
      }
      pids.push(a.pid);
      all.push(this.track(this.lookInto(a, label, trigger)));
    }
    return { pids, done: Promise.all(all).then(() => undefined) };
  }

  /** The agent (with the break feature) of the process with the most RSS now, or null. */
  /** "pid 29261 (python3 pool_leak.py, a fork of pid 29225)": a fork child runs its parent's command line. */
  describe(a: ConnectedAgent): string {
    const parent = this.targets().find((p) => p.pid === a.ppid);
    const fork = parent && parent.argv.join('\0') === a.argv.join('\0') ? `, a fork of pid ${parent.pid}` : '';
    return `pid ${a.pid} (${a.argv.join(' ') || a.executable}${fork})`;
  }

  largestBreakable(): ConnectedAgent | null {
    let best: ConnectedAgent | null = null;
    let bestKiB = -1;
    for (const a of this.targets()) {
      if (!has(a, 'break')) continue;
      // Its own memory (USS: the pages only it maps), not RSS: a Pool's fork workers each count
      // the pages they share with their parent, and the break stopped the parent waiting in
      // threading.py instead of the worker that grew (trial 4). RSS when smaps_rollup is not readable.
      const own = readSmapsRollup(a.pid, this.procRoot);
      const kib = own ? own.ussKiB : rssKiB(a.pid, this.procRoot);
      if (kib > bestKiB) {
        bestKiB = kib;
        best = a;
      }
    }
    return best;
  }

  /**
   * Asks pid's agent whether it can enter pdb (a terminal, its main thread) and, when it can, calls
   * announce() and asks it to; resolves once pdb has stopped (or with a note when it could not:
   * then announce() is never called, so nothing says the process is stopping when it is not).
   * The time in pdb is recorded as a pause (cause "break") once the agent says the program runs on.
   */
  breakInto(pid: number, reason: string, announce: () => void = () => {}, refused: (why: string) => void = () => {}): Promise<void> {
    const fail = (e: AgentRequestError) => {
      this.append({ type: 'note', t: this.t(), pid, text: `break failed: ${e.message}` });
      refused(e.message);
    };
    return this.track(
      this.server.request<'break'>(pid, { type: 'break', reason, check: true }).then(
        () => {
          announce();
          return this.server.request<'break'>(pid, { type: 'break', reason }).then(
            (r) => {
              const fromMs = r.wallMs !== undefined ? this.tOf(r.wallMs) : this.t();
              this.openBreaks.set(pid, fromMs);
              this.append({ type: 'note', t: fromMs, pid, text: `pid ${pid} entered pdb (${reason})` });
            },
            fail,
          );
        },
        fail,
      ),
    );
  }

  /** Whether a process of the tree is stopped in pdb now (its prompt has the terminal). */
  inPdb(): boolean {
    return this.openBreaks.size > 0;
  }

  /** A break that ended (`c`, `q`, the process gone, the run over): its pause, recorded once. */
  private endBreak(pid: number, endMs: number, debuggerBytes?: number): void {
    const fromMs = this.openBreaks.get(pid);
    if (fromMs === undefined) return;
    this.openBreaks.delete(pid);
    this.append({
      type: 'pause', t: fromMs, endMs: roundMs(Math.max(fromMs, endMs)), pids: [pid], cause: 'break',
      ...(debuggerBytes !== undefined && Number.isFinite(debuggerBytes) && debuggerBytes >= 0 ? { debuggerBytes } : {}),
    });
    this.writer?.flush();
  }

  /** Stops periodic censuses, waits a little for requests in flight, closes the server. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.soonTimer = null;
    await this.server.quiesce(END_GRACE_MS);
    await this.server.settle(END_GRACE_MS);
    await this.server.close();
    await Promise.allSettled([...this.work]);
    for (const pid of [...this.openBreaks.keys()]) this.endBreak(pid, this.now());
    this.noteNothingSampled();
    if (this.ownDir) fs.rmSync(this.ownDir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------------------------------

  private t(): number {
    return roundMs(this.now());
  }

  /** Recording time of an agent's wall-clock time, kept within [0, now]: clocks may step. */
  private tOf(wallMs: unknown): number {
    const now = this.now();
    if (typeof wallMs !== 'number' || !Number.isFinite(wallMs)) return roundMs(now);
    return roundMs(Math.min(now, Math.max(0, wallMs - this.startWallMs)));
  }

  private append(r: RecordingRecord): void {
    if (this.writer) this.writer.append(r);
    else this.pending.push(r);
  }

  private track(p: Promise<void>): Promise<void> {
    this.work.add(p);
    void p.finally(() => this.work.delete(p));
    return p;
  }

  /**
   * --allocations that sampled nothing is said once, at the end (a `node leak.js` run said nothing,
   * and flame then asked to record with --allocations, which it was); flame repeats the note.
   */
  private noteNothingSampled(): void {
    const mean = this.options.allocMeanBytes;
    if (!mean || this.allocSamples > 0) return;
    const text = allocationsNote(mean, [...this.pythonPids], [...this.samplingPids]);
    this.append({ type: 'note', t: this.t(), pid: null, text });
    // Hooks that could not load have said so in their one line each (tracemalloc runs instead).
    if (this.pythonPids.size === 0 || this.samplingPids.size > 0) this.notice(text);
  }

  private connected(a: ConnectedAgent): void {
    if (a.runtime === 'python') this.pythonPids.add(a.pid);
    if (a.runtime === 'python' && has(a, 'alloc')) this.samplingPids.add(a.pid);
    this.append({ type: 'agent', t: this.t(), pid: a.pid, runtime: a.runtime, runtimeVersion: a.runtimeVersion, protocol: a.protocol, features: a.features });
  }

  private onEvent(a: ConnectedAgent, ev: AgentEvent): void {
    switch (ev.type) {
      case 'section':
        this.append({ type: 'marker', t: this.tOf(ev.wallMs), pid: a.pid, kind: ev.kind, label: ev.label });
        break;
      case 'snapshot': {
        const t = this.tOf(ev.census.wallMs);
        this.recordCensus(a.pid, t, ev.label, 'program', ev.census);
        if (ev.trace) this.recordTrace(a.pid, this.tOf(ev.trace.wallMs), ev.label, 'program', ev.trace);
        break;
      }
      case 'isolated': {
        const { type: _type, ...body } = ev;
        this.append({ type: 'isolated', t: this.t(), pid: a.pid, ...body });
        break;
      }
      case 'break-end':
        this.endBreak(a.pid, this.tOf(ev.wallMs), ev.debuggerBytes);
        break;
      case 'trace-final':
        // The sites at the process's exit: the last word of the periodic trace snapshots.
        this.recordTrace(a.pid, this.tOf(ev.trace.wallMs), 'at exit', 'every', ev.trace);
        break;
      case 'exiting':
        // The interpreter's shutdown began: what it frees from now on is its teardown.
        this.append({ type: 'teardown', t: this.tOf(ev.wallMs), pid: a.pid });
        break;
      case 'dask':
        for (const w of ev.workers) {
          const key = `${a.pid}\0${w.name}\0${w.address ?? ''}`;
          if (this.workersSeen.has(key)) continue;
          this.workersSeen.add(key);
          this.append({ type: 'worker', t: this.t(), pid: a.pid, framework: 'dask', name: w.name, address: w.address, memoryLimitBytes: w.memoryLimitBytes });
        }
        for (const k of ev.kills) {
          if (this.killsSeen.has(k.pid)) continue;
          this.killsSeen.add(k.pid);
          this.append({
            type: 'workerkill', t: this.t(), pid: k.pid, by: a.pid, framework: 'dask',
            name: k.name, address: k.address, memoryLimitBytes: k.memoryLimitBytes, terminateFraction: k.terminateFraction,
          });
        }
        break;
      case 'alloc': {
        // Wall-clock times of the agent become the recording's (ms since its start, within [0, now]).
        const { type: _type, wallMs, ...body } = ev;
        const t = this.tOf(wallMs);
        this.allocSamples += body.samples.length;
        this.append({
          type: 'alloc', t, pid: a.pid, ...body,
          samples: body.samples.map(([id, stack, size, thread, wall]) => [id, stack, size, thread, this.tOf(wall)]),
          frees: body.frees.map(([id, wall]) => [id, this.tOf(wall)]),
        });
        break;
      }
      case 'agent-error':
        if (ev.message.startsWith('sampled allocations unavailable')) {
          // The one line the brief promises: the hooks could not load here, tracemalloc runs instead.
          this.append({ type: 'note', t: this.t(), pid: a.pid, text: ev.message });
          this.notice(ev.message);
          break;
        }
        this.append({ type: 'note', t: this.t(), pid: a.pid, text: `agent error: ${ev.message}` });
        if (!this.errorsShown.has(a.pid)) {
          this.errorsShown.add(a.pid);
          this.notice(`the agent in pid ${a.pid} reported an error (the program goes on): ${ev.message.split('\n')[0]}`);
        }
        break;
    }
    this.writer?.flush();
  }

  private everyTick(everyMs: number): void {
    // Numbered when a process is there to ask: a tick before the first agent connected took #1,
    // and heap's list then started at #2.
    if (this.options.heapEveryMs !== null && !this.targets().some((a) => has(a, 'census'))) return;
    this.ticks++;
    const label = this.options.heapEveryMs !== null ? `every ${formatDuration(everyMs)} #${this.ticks}` : `trace #${this.ticks}`;
    if (this.options.heapEveryMs !== null) {
      this.snapshotAll(label, 'every');
      return;
    }
    // --trace-allocations alone: allocation sites only (no census, whose pause grows with the heap).
    for (const a of this.targets()) {
      if (!has(a, 'trace') || this.busy.has(a.pid)) continue;
      if (!this.options.traceAllocations && has(a, 'alloc')) continue;
      this.busy.add(a.pid);
      this.track(
        this.traceInto(a.pid, label, 'every').then(() => undefined).finally(() => {
          this.busy.delete(a.pid);
          this.writer?.flush();
        }),
      );
    }
  }

  /** Census, trace snapshot and refs of one agent, one after the other (an agent answers one request at a time). */
  private async lookInto(a: ConnectedAgent, label: string, trigger: AgentTrigger): Promise<void> {
    const pid = a.pid;
    this.busy.add(pid);
    const busyWith = (what: string) => this.busyWith.set(pid, { what, sinceMs: this.now() });
    const { largest, duplicatesMinBytes } = this.options;
    const extra = [largest !== undefined ? 'largest objects' : '', duplicatesMinBytes !== undefined ? 'duplicates' : ''].filter(Boolean).join(' and ');
    busyWith(extra ? `census ${label} (the census, then its ${extra})` : `census ${label}`);
    try {
      let census: CensusResult;
      const askedT = this.t();
      try {
        census = await this.server.request<'census'>(pid, {
          type: 'census', collect: true, top: CENSUS_TOP, label,
          ...(largest !== undefined ? { largest } : {}), ...(duplicatesMinBytes !== undefined ? { duplicatesMinBytes } : {}),
        });
      } catch (e) {
        this.failed(pid, 'census', label, e);
        return;
      }
      const ev = this.recordCensus(pid, this.tOf(census.wallMs), label, trigger, census, askedT);
      if (this.options.traceAllocations && has(a, 'trace')) {
        busyWith(`the allocation snapshot after census ${label}`);
        if (!(await this.traceInto(pid, label, trigger))) return;
      }
      const recent = this.recentCensuses.get(pid) ?? [];
      recent.push(ev);
      if (recent.length > PERSIST_WINDOW + 1) recent.shift();
      this.recentCensuses.set(pid, recent);
      if (has(a, 'refs')) {
        const pick = pickGrowingTypeWithReason(recent);
        const typeName = pick?.typeName ?? null;
        const tried = this.refsTried.get(pid) ?? new Map<string, number>();
        this.refsTried.set(pid, tried);
        const n = typeName ? tried.get(typeName) ?? 0 : AUTO_GRAPH_TRIES;
        if (typeName && n < AUTO_GRAPH_TRIES) {
          busyWith(`the back-references of ${typeName} after census ${label}`);
          const g = await this.refsOf(pid, typeName, trigger, label, false, pick!.why);
          // Once per type when its chains end at a global or a class attribute (what keeps a leak);
          // again at a later census when they ended only in running functions' frames (objects the
          // program was still building) or nowhere.
          tried.set(typeName, g && g.nodes.some((x) => x.kind === 'module' || x.kind === 'class' || x.kind === 'global') ? AUTO_GRAPH_TRIES : n + 1);
        }
        for (const name of this.options.refsTypes ?? []) {
          busyWith(`the back-references of ${name} after census ${label}`);
          await this.namedRefs(pid, name, ev, trigger, label);
        }
      }
    } finally {
      this.busy.delete(pid);
      this.busyWith.delete(pid);
      this.writer?.flush();
    }
  }

  /** absentIsQuiet: the type may not exist yet (--refs-type): the agent's "no object of type" is no failure. */
  private async refsOf(pid: number, typeName: string, trigger: AgentTrigger, label: string, absentIsQuiet = false, why?: string): Promise<RefsResult | null> {
    try {
      const started = this.t();
      const g = await this.server.request<'refs'>(pid, { type: 'refs', typeName, samples: REFS_SAMPLES, maxDepth: REFS_DEPTH });
      const t = this.t();
      this.recordRefs(pid, t, trigger, g, Math.max(0, Math.round(t - started)), why ?? `--refs-type ${typeName}`);
      return g;
    } catch (e) {
      if (absentIsQuiet && e instanceof AgentRequestError && /^(pid \d+: )?no object of type /.test(e.message)) return null;
      this.failed(pid, `refs ${typeName}`, label, e);
      return null;
    }
  }

  /**
   * --refs-type NAME: a graph of NAME at the first census where it is alive, and again whenever
   * its count has doubled since (a graph costs a pass over the heap per level followed). Until the
   * type exists, nothing is said: a census that lists every type and not NAME asks nothing; one cut
   * at its top (an "(other)" row) may hide it, so the agent is asked at the 1st, 2nd, 4th, 8th…
   * such census, and its "no object of type" answer is not a failure.
   */
  private async namedRefs(pid: number, name: string, ev: HeapCensusEvent, trigger: AgentTrigger, label: string): Promise<void> {
    const row = ev.rows.find((r) => r[0] === name || r[0].slice(r[0].lastIndexOf('.') + 1) === name);
    const graphed = this.namedGraphed.get(pid) ?? new Map<string, number>();
    this.namedGraphed.set(pid, graphed);
    const before = graphed.get(name);
    if (row ? before !== undefined && row[1] < 2 * before : before !== undefined) return;
    if (!row) {
      if (!ev.rows.some((r) => r[0] === '(other)')) return;
      const key = `${pid}\0${name}`;
      const misses = (this.namedMisses.get(key) ?? 0) + 1;
      this.namedMisses.set(key, misses);
      if ((misses & (misses - 1)) !== 0) return;
    }
    const g = await this.refsOf(pid, name, trigger, label, true);
    if (g) graphed.set(name, g.count);
  }

  /**
   * A trace snapshot of pid, recorded (a failure as a note). False when the process is gone.
   * The caller marks pid busy and flushes.
   */
  private async traceInto(pid: number, label: string, trigger: AgentTrigger): Promise<boolean> {
    try {
      const tr = await this.server.request<'trace-snapshot'>(pid, { type: 'trace-snapshot', top: TRACE_TOP, label });
      this.recordTrace(pid, this.tOf(tr.wallMs), label, trigger, tr);
      return true;
    } catch (e) {
      this.failed(pid, 'trace-snapshot', label, e);
      return !isGone(e);
    }
  }

  private failed(pid: number, what: string, label: string, e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.append({ type: 'note', t: this.t(), pid, text: `${what} (${label}) failed: ${msg}` });
    // A process that ended between two censuses is normal at the end of a run; say nothing then.
    if (!isGone(e)) this.notice(`${what} of pid ${pid} failed: ${msg}`);
  }

  // Results arrive checked against the schema (src/agents/server.ts), fields of later versions
  // dropped: their bodies are recorded as they are, with the record's envelope.
  /** askedT: when memhunt asked for it (the census begins when the program lets the agent's thread run). */
  private recordCensus(pid: number, t: number, label: string, trigger: AgentTrigger, c: CensusResult, askedT?: number): HeapCensusEvent {
    const { wallMs: _wallMs, ...body } = c;
    const asked = askedT !== undefined ? { askedT: Math.min(askedT, t) } : {};
    this.append({ type: 'census', t, pid, label, trigger, ...body, ...asked });
    return { kind: 'census', tMs: t, pid, label, trigger, ...body, ...(askedT !== undefined ? { askedTMs: Math.min(askedT, t) } : {}) };
  }

  private recordTrace(pid: number, t: number, label: string, trigger: AgentTrigger, tr: TraceSnapshotResult): void {
    const { wallMs: _wallMs, ...body } = tr;
    this.append({ type: 'trace', t, pid, label, trigger, ...body });
  }

  private recordRefs(pid: number, t: number, trigger: AgentTrigger, g: RefsResult, durationMs?: number, why?: string): void {
    this.append({ type: 'refs', t, pid, trigger, ...g, ...(durationMs !== undefined ? { durationMs } : {}), ...(why !== undefined ? { why } : {}) });
    this.writer?.flush();
  }
}

/** The process ended (or memhunt is ending): nothing more to ask it. */
function isGone(e: unknown): boolean {
  return e instanceof AgentRequestError && (e.reason === 'gone' || e.reason === 'closed' || e.reason === 'no-agent');
}

function has(a: ConnectedAgent, feature: string): boolean {
  // An agent that lists no features is taken to have them all (features arrived with protocol 1).
  return a.features.length === 0 || a.features.includes(feature);
}

function rssKiB(pid: number, root: string): number {
  try {
    return parseStatus(fs.readFileSync(path.join(root, 'proc', String(pid), 'status'), 'latin1')).rssKiB;
  } catch {
    return -1;
  }
}

