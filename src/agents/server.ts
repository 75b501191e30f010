/**
 * The host side of the agent protocol (protocol.ts, docs/agent-protocol.md): a Unix socket server
 * in the session's private 0700 directory that
 *  - registers agents by pid when they say hello (a newer protocol major is refused: the process
 *    runs on without its agent, and the host is told why);
 *  - sends them requests with ids and timeouts, and settles each request exactly once: with the
 *    reply, with the agent's error, with "the process ended before answering" when its connection
 *    closes first, or with a timeout;
 *  - forwards the events agents send (sections, snapshots, isolated runs, agent errors);
 *  - serves clients (`memhunt snapshot <pid>`, `memhunt refs <pid>`): their request is forwarded
 *    to that pid's agent, the result handed to the session (which records it), then replied;
 *  - wakes a fork child's agent when a request is for a pid that has none connected yet (wake.ts:
 *    a fork child connects only when asked).
 *
 * It knows nothing about recordings: the session turns what the hooks report into records. Every
 * message from a peer is checked for the fields the host uses before it reaches a hook, so a broken
 * agent yields a problem report, never a malformed record or an exception in memhunt.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { contractProblem } from '../contract/validate';
import { NdjsonPeer } from './ndjson';
import { sendWake, wakePlan } from './wake';
import {
  AGENT_PROTOCOL_VERSION,
  eventProblem,
  resultProblem,
  type AgentEvent,
  type AgentHello,
  type CensusResult,
  type ClientRequest,
  type HostRequest,
  type BreakResult,
  type RefsResult,
  type Reply,
  type TraceSnapshotResult,
} from './protocol';

/** What a request type answers with. */
export interface ResultOf {
  census: CensusResult;
  'trace-start': Record<string, never>;
  'trace-snapshot': TraceSnapshotResult;
  refs: RefsResult;
  break: BreakResult;
  ping: Record<string, never>;
}

type RequestType = HostRequest['type'];
/** A request as callers write it: the server assigns the id. */
export type RequestBody<K extends RequestType> = Omit<Extract<HostRequest, { type: K }>, 'id'>;

/**
 * How long a request may take before the host gives up on it. A census walks every object: a bare
 * gc.get_objects() + sys.getsizeof loop takes 0.37 s per million objects (CPython 3.11, measured
 * here), the census up to twice that, gc.collect() 0.09 s more; a refs request calls
 * gc.get_referrers (0.017 s per million objects) per object along each chain. Heaps of 100 M
 * objects exist, hence minutes. A break answers once pdb is entered, which waits for the main
 * thread to reach Python code (a long C call such as a numpy operation holds it off).
 */
export const DEFAULT_TIMEOUT_MS: Record<RequestType, number> = {
  census: 120_000,
  'trace-start': 10_000,
  'trace-snapshot': 120_000,
  refs: 180_000,
  break: 60_000,
  ping: 5_000,
};

export interface ConnectedAgent {
  pid: number;
  ppid: number;
  runtime: AgentHello['runtime'];
  runtimeVersion: string;
  executable: string;
  argv: string[];
  features: string[];
  protocol: number;
  /** The signal that wakes this process's fork children (their agent connects on it); null: none. */
  wakeSignal: number | null;
  /** The agent serves only while woken (hello `sleeps`): AgentConnection.send wakes it. */
  sleeps?: boolean;
}

/**
 * How long a request waits for a fork child to connect once signalled. Its handler runs in its
 * main thread between two bytecodes: at once in a child waiting in a system call (interrupted),
 * after the current C call returns in a busy one (a long numpy operation).
 */
export const WAKE_TIMEOUT_MS = 5_000;
/**
 * A sleeping agent that said nothing this long after its wake signal, while a request waits, is
 * sent it again, after 1, 2 and 4 s (a slow census says nothing until its reply either: a signal
 * more to an awake agent is ignored by its handler, but interrupts the main thread's system call).
 */
const WAKE_RETRY_MS = 1_000;
const WAKE_RETRIES = 3;
/** After its process ended, how long an agent's connection may stay open before it is closed (see processEnded). */
const ENDED_GRACE_MS = 2_000;

export interface AgentServerHooks {
  agentConnected?: (agent: ConnectedAgent) => void;
  agentDisconnected?: (agent: ConnectedAgent) => void;
  event?: (agent: ConnectedAgent, event: AgentEvent) => void;
  /** A client's request was answered by the agent: the session records the result. */
  clientResult?: (agent: ConnectedAgent, request: ClientRequest, result: CensusResult | RefsResult) => void;
  /** A peer misbehaved or was refused (pid when known): for a note in the recording. */
  problem?: (text: string, pid: number | null) => void;
}

/** A request that did not get a result; the message is one line a user can act on. */
export class AgentRequestError extends Error {
  override name = 'AgentRequestError';
  constructor(message: string, readonly reason: 'error' | 'gone' | 'timeout' | 'no-agent' | 'closed' | 'malformed') {
    super(message);
  }
}

interface Pending {
  type: RequestType;
  resolve: (r: unknown) => void;
  reject: (e: AgentRequestError) => void;
  timer: NodeJS.Timeout;
}

class AgentConnection {
  private nextId = 1;
  readonly pending = new Map<number, Pending>();
  private wakeTimer: NodeJS.Timeout | null = null;
  /** Lines written to the agent (an `asleep` notice says how many it read). */
  private linesSent = 0;
  /** A sleeping agent with no serving thread: the next line is preceded by the wake signal. */
  asleep: boolean;

  constructor(readonly info: ConnectedAgent, readonly peer: NdjsonPeer, asleep: boolean, private readonly procRoot: string) {
    this.asleep = asleep && info.sleeps === true && info.wakeSignal !== null;
  }

  /**
   * Writes one line, waking a sleeping agent first (its wake signal: the handler starts its
   * serving thread, which reads what was written). False when the connection is gone or the
   * agent cannot be woken (its process no longer catches the signal).
   */
  send(msg: object): boolean {
    if (this.asleep) {
      if (!this.wake()) return false;
      this.asleep = false;
    }
    if (!this.peer.send(msg)) return false;
    this.linesSent++;
    return true;
  }

  /** Something came from the agent: a wake it was sent has been taken. */
  heard(): void {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
  }

  /**
   * Sends the wake signal; sent again (WAKE_RETRY_MS, doubling) while the agent says nothing and a
   * request waits (a signal the main thread did not see, e.g. taken by another thread while it
   * waited in a call the signal did not interrupt, is not the end of the request).
   */
  private wake(): boolean {
    if (!sendWake(this.info.pid, this.info.wakeSignal!, this.procRoot, true)) return false;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    let tries = 0;
    const again = () => {
      this.wakeTimer = null;
      if (this.pending.size === 0 || this.asleep || ++tries > WAKE_RETRIES) return;
      sendWake(this.info.pid, this.info.wakeSignal!, this.procRoot, true);
      this.wakeTimer = setTimeout(again, WAKE_RETRY_MS << tries);
      this.wakeTimer.unref();
    };
    this.wakeTimer = setTimeout(again, WAKE_RETRY_MS);
    this.wakeTimer.unref();
    return true;
  }

  /** The agent's serving thread ended after reading `lines` lines: wake it again if more were written. */
  fellAsleep(lines: number): void {
    if (!this.info.sleeps || this.info.wakeSignal === null) return;
    // More was written since it last read: wake it again (what came is read by its next thread).
    if (lines < this.linesSent && this.wake()) return;
    this.asleep = true;
  }

  /** Probed only when awake, or asleep with threads of its own (a Dask process starts some): see probeAll. */
  probe(): void {
    if (this.asleep && threadsOf(this.info.pid, this.procRoot) < 2) return;
    this.send({ type: 'probe' });
  }

  request(body: { type: RequestType }, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AgentRequestError(`pid ${this.info.pid} did not answer ${body.type} within ${Math.round(timeoutMs / 1000)} s`, 'timeout'));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { type: body.type, resolve, reject, timer });
      if (!this.send({ ...body, id })) {
        const why = this.asleep ? `pid ${this.info.pid}'s agent sleeps and cannot be woken: its process no longer catches signal ${this.info.wakeSignal}, or blocks it (a program with a SIGURG handler of its own: run with MEMHUNT_AGENT_WAKE=0)` : `pid ${this.info.pid} ended before answering ${body.type}`;
        this.fail(id, new AgentRequestError(why, this.asleep ? 'no-agent' : 'gone'));
      }
    });
  }

  settle(reply: Reply): boolean {
    const p = this.pending.get(reply.id);
    if (!p) return false;
    this.pending.delete(reply.id);
    clearTimeout(p.timer);
    if (reply.ok) p.resolve(reply.result ?? {});
    else p.reject(new AgentRequestError(`pid ${this.info.pid}: ${oneLine(reply.error ?? `${p.type} failed`)}`, 'error'));
    return true;
  }

  fail(id: number, err: AgentRequestError): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
  }

  failAll(make: (type: RequestType) => AgentRequestError): void {
    for (const [id, p] of [...this.pending]) this.fail(id, make(p.type));
  }
}

export class AgentServer {
  private readonly agentsByPid = new Map<number, AgentConnection>();
  private readonly peers = new Set<NdjsonPeer>();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Fork children signalled and not connected yet: pid -> resolves with the agent, or null. */
  private readonly waking = new Map<number, Promise<ConnectedAgent | null>>();
  /**
   * pids sent the wake signal: never twice (one that did not connect in time does when its main
   * thread gets back to Python; a program's own SIGURG handler gets one signal, not one a census).
   */
  private readonly signalled = new Set<number>();
  private readonly connectWaiters = new Set<() => void>();
  private closed = false;
  /** Connections accepted and messages read so far: quiesce() waits until a turn brings none. */
  private activity = 0;

  private constructor(readonly socketPath: string, private readonly server: net.Server, private readonly hooks: AgentServerHooks, private readonly procRoot: string) {
    server.on('connection', (s) => this.accept(s));
  }

  /** Listens on socketPath (its directory must exist and should be private). */
  static listen(socketPath: string, hooks: AgentServerHooks = {}, procRoot = '/'): Promise<AgentServer> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.removeListener('error', reject);
        server.on('error', () => {
          // accept() errors (EMFILE) drop that one peer; the server goes on
        });
        // The socket must not keep memhunt alive on its own: the session decides when it ends.
        server.unref();
        resolve(new AgentServer(socketPath, server, hooks, procRoot));
      });
    });
  }

  /** Agents connected now, in the order they said hello. */
  agents(): ConnectedAgent[] {
    return [...this.agentsByPid.values()].map((c) => c.info);
  }

  agent(pid: number): ConnectedAgent | undefined {
    return this.agentsByPid.get(pid)?.info;
  }

  /**
   * The processes of pids that have no agent connected but can be woken (wake.ts), each described
   * by its connected ancestor's agent (its features and runtime; pid, ppid and argv its own).
   */
  wakeable(pids: Iterable<number>): ConnectedAgent[] {
    const out: ConnectedAgent[] = [];
    if (this.closed) return out;
    for (const pid of pids) {
      if (this.agentsByPid.has(pid) || this.signalled.has(pid)) continue;
      const plan = wakePlan(pid, (p) => this.signalOf(p), this.procRoot);
      const from = plan ? this.agentsByPid.get(plan.ancestor)?.info : undefined;
      if (!from) continue;
      out.push({ ...from, pid, ppid: ppidOf(pid, this.procRoot) ?? plan!.ancestor, argv: cmdlineOf(pid, this.procRoot) ?? from.argv });
    }
    return out;
  }

  /**
   * pid's agent: the connected one, or, for a fork child that has none yet, the one that connects
   * after it was sent the wake signal (WAKE_TIMEOUT_MS at most); null when there is none.
   */
  wake(pid: number, timeoutMs = WAKE_TIMEOUT_MS): Promise<ConnectedAgent | null> {
    const now = this.agentsByPid.get(pid)?.info;
    if (now) return Promise.resolve(now);
    if (this.closed) return Promise.resolve(null);
    const already = this.waking.get(pid);
    if (already) return already;
    if (this.signalled.has(pid)) return Promise.resolve(null);
    const plan = wakePlan(pid, (p) => this.signalOf(p), this.procRoot);
    if (!plan || !sendWake(pid, plan.signal, this.procRoot)) return Promise.resolve(null);
    this.signalled.add(pid);
    const p = new Promise<ConnectedAgent | null>((resolve) => {
      const check = () => {
        const a = this.agentsByPid.get(pid)?.info;
        if (!a && !this.closed && Date.now() < until) return;
        clearTimeout(timer);
        this.connectWaiters.delete(check);
        this.waking.delete(pid);
        resolve(a ?? null);
      };
      const until = Date.now() + timeoutMs;
      const timer = setTimeout(check, timeoutMs + 1);
      timer.unref();
      this.connectWaiters.add(check);
    });
    this.waking.set(pid, p);
    return p;
  }

  /**
   * The sampler saw pid end: its agent is gone even though its connection may stay open (fork
   * children that were never woken hold a copy of it until they end).
   */
  processEnded(pid: number): void {
    this.signalled.delete(pid);
    const c = this.agentsByPid.get(pid);
    if (!c) return;
    // What it sent last (an exit batch, a reply) may still be unread: its connection is let be
    // for ENDED_GRACE_MS, and closed then only when it is still open.
    const timer = setTimeout(() => {
      if (this.closed || this.agentsByPid.get(pid) !== c) return;
      this.agentsByPid.delete(pid);
      c.failAll((type) => new AgentRequestError(`pid ${pid} ended before answering ${type}`, 'gone'));
      this.hooks.agentDisconnected?.(c.info);
      c.peer.close();
    }, ENDED_GRACE_MS);
    timer.unref();
  }

  private signalOf(pid: number): number | null | undefined {
    const c = this.agentsByPid.get(pid);
    return c ? c.info.wakeSignal : undefined;
  }

  /**
   * Sends the probe line (no id, no reply) to every connected agent: an agent answers with an
   * event only when it has facts that changed (a DaskEvent). Older agents ignore it.
   */
  probeAll(): void {
    if (this.closed) return;
    for (const c of this.agentsByPid.values()) c.probe();
  }

  /**
   * Sends a request to pid's agent (waking a fork child's first: wake()); rejects with
   * AgentRequestError (never anything else).
   */
  request<K extends RequestType>(pid: number, body: RequestBody<K>, timeoutMs = DEFAULT_TIMEOUT_MS[body.type as K]): Promise<ResultOf[K]> {
    if (this.closed) return Promise.reject(new AgentRequestError('memhunt is ending; no more requests', 'closed'));
    const send = (): Promise<ResultOf[K]> => {
      const conn = this.agentsByPid.get(pid);
      if (this.closed) return Promise.reject(new AgentRequestError('memhunt is ending; no more requests', 'closed'));
      if (!conn) {
        const text = this.signalled.has(pid)
          ? `pid ${pid}, a fork child, did not connect within ${WAKE_TIMEOUT_MS / 1000} s of the wake signal (its main thread runs Python again only after a long C call returns; it connects then)`
          : noAgentText(pid);
        return Promise.reject(new AgentRequestError(text, 'no-agent'));
      }
      return conn.request(body, timeoutMs).then((r) => checkResult(body.type, r, pid) as ResultOf[K]);
    };
    const p = this.agentsByPid.has(pid) ? send() : this.wake(pid).then(send);
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Waits until no request is in flight, or timeoutMs. */
  async settle(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < until) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((r) => {
          timer = setTimeout(r, Math.max(1, until - Date.now()));
        }),
      ]);
      clearTimeout(timer);
    }
  }

  /**
   * Lets what processes said before they ended arrive: a connection still in the listen backlog is
   * accepted and its messages read. (An agent that connects, says its hooks could not load, and
   * whose short program exits, all before memhunt's event loop has turned: under load that line was
   * lost when the server closed at once.) Returns after a turn of the loop that brought nothing new,
   * at most maxMs after the call.
   */
  async quiesce(maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    let seen = -1;
    while (!this.closed && seen !== this.activity && Date.now() < until) {
      seen = this.activity;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Fails what is still pending, closes every connection and removes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.agentsByPid.values()) c.failAll((type) => new AgentRequestError(`memhunt ended before pid ${c.info.pid} answered ${type}`, 'closed'));
    for (const w of [...this.connectWaiters]) w();
    for (const p of this.peers) p.close();
    await new Promise<void>((r) => this.server.close(() => r()));
    fs.rmSync(this.socketPath, { force: true });
  }

  private accept(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    let role: 'agent' | 'client' | null = null;
    let conn: AgentConnection | null = null;
    this.activity++;
    const peer: NdjsonPeer = new NdjsonPeer(
      socket,
      (msg) => {
        this.activity++;
        const m = msg as { type: string; id?: unknown };
        if (role === null) {
          if (m.type !== 'hello') {
            this.problem(`a peer sent "${m.type}" before its hello; connection closed`, null);
            peer.close();
            return;
          }
          role = this.hello(peer, msg as AgentHello | { role: string; protocol: unknown }, (c) => (conn = c));
          if (role === null) peer.close();
          return;
        }
        if (role === 'agent') this.fromAgent(conn!, msg);
        else this.fromClient(peer, msg);
      },
      (why) => this.problem(`${conn ? `the agent of pid ${conn.info.pid}` : 'a peer'} sent ${why}`, conn ? conn.info.pid : null),
    );
    this.peers.add(peer);
    peer.onClose(() => {
      this.peers.delete(peer);
      const c = conn as AgentConnection | null;
      if (!c) return;
      c.failAll((type) => new AgentRequestError(`pid ${c.info.pid} ended (or closed its connection) before answering ${type}`, 'gone'));
      if (this.agentsByPid.get(c.info.pid) === c) {
        this.agentsByPid.delete(c.info.pid);
        this.hooks.agentDisconnected?.(c.info);
      }
    });
  }

  /** Checks a hello; returns the peer's role, or null when it is refused. */
  private hello(peer: NdjsonPeer, h: AgentHello | { role: string; protocol: unknown }, setConn: (c: AgentConnection) => void): 'agent' | 'client' | null {
    const protocol = (h as { protocol: unknown }).protocol;
    const pid = (h as { pid?: unknown }).pid;
    const who = h.role === 'agent' && isPid(pid) ? `the agent of pid ${pid}` : `a ${typeof h.role === 'string' ? h.role : 'peer'}`;
    if (typeof protocol !== 'number' || !Number.isFinite(protocol)) {
      this.problem(`${who} sent a hello without a protocol version; refused`, isPid(pid) ? pid : null);
      return null;
    }
    if (Math.floor(protocol) > AGENT_PROTOCOL_VERSION) {
      const text = `${who} speaks protocol ${protocol}, newer than this memhunt's (${AGENT_PROTOCOL_VERSION}); it was refused (upgrade memhunt)`;
      // No id to answer: id 0 is never a request's, so the peer can only take it as a refusal.
      peer.send({ type: 'reply', id: 0, ok: false, error: text });
      this.problem(text, isPid(pid) ? pid : null);
      return null;
    }
    if (h.role !== 'agent' && h.role !== 'client') {
      this.problem(`a peer said hello with an unknown role "${String(h.role).slice(0, 40)}"; refused`, null);
      return null;
    }
    const shape = contractProblem(h.role === 'agent' ? 'agentHello' : 'clientHello', h);
    if (shape !== null) {
      this.problem(`${who} sent a malformed hello (${shape}); refused`, isPid(pid) ? pid : null);
      return null;
    }
    if (h.role === 'client') return 'client';
    const a = h as AgentHello;
    const info: ConnectedAgent = {
      pid: a.pid, ppid: a.ppid, runtime: a.runtime, runtimeVersion: a.runtimeVersion, executable: a.executable,
      argv: a.argv, features: a.features, protocol, wakeSignal: typeof a.wakeSignal === 'number' ? a.wakeSignal : null,
      ...(a.sleeps === true ? { sleeps: true } : {}),
    };
    const conn = new AgentConnection(info, peer, a.asleep === true, this.procRoot);
    setConn(conn);
    // The same pid again: the process exec'd a new interpreter, or reconnected. The newest wins;
    // requests sent to the old connection still settle on it.
    this.agentsByPid.set(info.pid, conn);
    this.hooks.agentConnected?.(info);
    for (const w of [...this.connectWaiters]) w();
    return 'agent';
  }

  private fromAgent(conn: AgentConnection, msg: unknown): void {
    const m = msg as { type: string; id?: unknown };
    const pid = conn.info.pid;
    conn.heard();
    if (m.type === 'reply') {
      const r = msg as Reply;
      const shape = contractProblem('reply', r);
      if (shape !== null) {
        // Without a usable id the request cannot be told; it settles by its timeout.
        if (typeof r.id === 'number') conn.fail(r.id, new AgentRequestError(`pid ${pid} sent a malformed reply (${shape})`, 'malformed'));
        this.problem(`the agent of pid ${pid} sent a malformed reply (${shape})`, pid);
        return;
      }
      if (!conn.settle(r)) this.problem(`the agent of pid ${pid} answered request ${String(r.id)}, which is not pending (late after a timeout?)`, pid);
      return;
    }
    if (m.type === 'asleep') {
      const lines = (msg as { lines?: unknown }).lines;
      if (typeof lines === 'number' && Number.isInteger(lines) && lines >= 0) conn.fellAsleep(lines);
      else this.problem(`the agent of pid ${pid} sent a malformed "asleep" notice`, pid);
      return;
    }
    const problem = eventProblem(msg);
    if (problem !== null) {
      if (typeof m.id === 'number') conn.send({ type: 'reply', id: m.id, ok: false, error: `the host does not handle "${m.type}"` });
      this.problem(`the agent of pid ${pid} sent ${problem}`, pid);
      return;
    }
    this.hooks.event?.(conn.info, msg as AgentEvent);
  }

  private fromClient(peer: NdjsonPeer, msg: unknown): void {
    const m = msg as ClientRequest | { type: string; id?: unknown };
    if (typeof m.id !== 'number') {
      peer.send({ type: 'reply', id: 0, ok: false, error: `"${m.type}" without an id` });
      return;
    }
    const id = m.id;
    const answer = (p: Promise<CensusResult | RefsResult>, req: ClientRequest) => {
      // Taken now: the agent may disconnect right after answering, and the result is still recorded.
      const agent = this.agent(req.pid);
      p.then(
        (result) => {
          if (agent) this.hooks.clientResult?.(agent, req, result);
          peer.send({ type: 'reply', id, ok: true, result });
        },
        (e: Error) => peer.send({ type: 'reply', id, ok: false, error: e.message }),
      );
    };
    if (m.type !== 'client-census' && m.type !== 'client-refs') {
      peer.send({ type: 'reply', id, ok: false, error: `this memhunt does not know "${String(m.type).slice(0, 40)}"` });
      return;
    }
    const shape = contractProblem(m.type === 'client-census' ? 'clientCensusRequest' : 'clientRefsRequest', m);
    if (shape !== null) {
      peer.send({ type: 'reply', id, ok: false, error: `a malformed ${m.type} request (${shape})` });
      return;
    }
    const r = m as ClientRequest;
    if (r.type === 'client-census') {
      answer(
        this.request<'census'>(r.pid, {
          type: 'census', collect: r.collect, top: r.top, label: r.label ? r.label.slice(0, 200) : 'memhunt snapshot',
          ...(r.largest !== undefined ? { largest: r.largest } : {}),
          ...(r.duplicatesMinBytes !== undefined ? { duplicatesMinBytes: r.duplicatesMinBytes } : {}),
        }),
        r,
      );
    } else {
      answer(this.request<'refs'>(r.pid, { type: 'refs', typeName: r.typeName || null, samples: r.samples, maxDepth: r.maxDepth }), r);
    }
  }

  private problem(text: string, pid: number | null): void {
    this.hooks.problem?.(text, pid);
  }
}

export function noAgentText(pid: number): string {
  return `no agent is connected for pid ${pid} in this run (not a Python process, Python older than 3.8, or it has exited)`;
}

function oneLine(s: string): string {
  const first = String(s).split('\n').find((l) => l.trim()) ?? String(s);
  return first.length > 300 ? `${first.slice(0, 299)}…` : first;
}

/** The thread count of /proc/PID/stat (field 20); 0 when it cannot be read. */
function threadsOf(pid: number, root: string): number {
  try {
    const text = fs.readFileSync(path.join(root, 'proc', String(pid), 'stat'), 'latin1');
    const n = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[17]);
    return Number.isInteger(n) ? n : 0;
  } catch {
    return 0;
  }
}

function ppidOf(pid: number, root: string): number | null {
  try {
    const m = /^PPid:\s*(\d+)/m.exec(fs.readFileSync(path.join(root, 'proc', String(pid), 'status'), 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function cmdlineOf(pid: number, root: string): string[] | null {
  try {
    const parts = fs.readFileSync(path.join(root, 'proc', String(pid), 'cmdline')).toString('utf8').split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts.length ? parts : null;
  } catch {
    return null;
  }
}

function isPid(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function checkResult(type: RequestType, r: unknown, pid: number): unknown {
  const problem = resultProblem(type, r);
  if (problem) throw new AgentRequestError(`pid ${pid} answered ${type} with a malformed result (${problem})`, 'malformed');
  return r;
}
