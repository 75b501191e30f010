/**
 * A minimal host side of the agent protocol, for tests only (nothing outside *.test.ts imports
 * it): a Unix socket in a private 0700 directory that accepts agents, keeps their hello and events,
 * and sends requests with ids and awaits their replies. It drives the real agents over the real
 * wire format (docs/agent-protocol.md) without the session machinery of server.ts, so the agent's
 * own tests do not depend on the host; tests of the whole flow use `memhunt run` instead.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { contractProblem } from '../contract/validate';
import { sendWake, wakePlan } from './wake';
import { AGENT_SOCKET_ENV, eventProblem, resultProblem, type AgentEvent, type AgentHello, type HostRequest, type Reply } from './protocol';

const REPO = path.resolve(__dirname, '..', '..');
export const PYTHON_INJECT_DIR = path.join(REPO, 'runtimes', 'python', 'inject');
export const PYTHON_LIB_DIR = path.join(REPO, 'runtimes', 'python', 'lib');

/** A request without its id (the peer numbers them). */
export type RequestBody = HostRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class AgentConnection {
  readonly events: AgentEvent[] = [];
  /** Every message after the hello, in order (replies and events). */
  readonly messages: Array<Record<string, unknown>> = [];
  closed = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  /** The type of each request sent, by id: its reply's result is checked against that type's schema. */
  private readonly asked = new Map<number, string>();
  /** Messages of this agent that break the contract (docs/recording-format.schema.json): every test expects none. */
  readonly violations: string[] = [];
  private readonly listeners: Array<() => void> = [];
  /** A sleeping agent without its serving thread (hello `asleep`, or an `asleep` notice since): woken before the next line, as memhunt does. */
  asleep: boolean;
  /** Lines written to the agent; `asleep` notices received. */
  private linesSent = 0;
  sleeps = 0;
  private heardCount = 0;
  /** Wake signals sent again because the agent said nothing for a second (tests may expect none). */
  wakeRetries = 0;

  constructor(readonly hello: AgentHello, readonly socket: net.Socket) {
    this.asleep = hello.sleeps === true && hello.asleep === true && typeof hello.wakeSignal === 'number';
  }

  get pid(): number {
    return this.hello.pid;
  }

  /** Sends a request and resolves with its reply (rejects after timeoutMs or when the agent goes). */
  request<T = unknown>(body: RequestBody | Record<string, unknown>, timeoutMs = 20_000): Promise<Reply<T>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no reply to ${JSON.stringify(body)} from pid ${this.pid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r as Reply<T>);
      });
      this.asked.set(id, String((body as { type?: unknown }).type));
      this.sendRaw(JSON.stringify({ ...body, id }) + '\n');
    });
  }

  /** Writes bytes as they are (for malformed-input tests). */
  sendRaw(text: string): void {
    if (this.closed) return;
    if (this.asleep) {
      this.asleep = false;
      this.wake();
    }
    this.linesSent += text.split('\n').length - 1;
    this.socket.write(text);
  }

  /** Resolves with the first event (already received or to come) that matches. */
  waitForEvent(pred: (e: AgentEvent) => boolean, timeoutMs = 20_000): Promise<AgentEvent> {
    return waitFor(() => this.events.find(pred), this.listeners, timeoutMs, `an event from pid ${this.pid}`);
  }

  /** Resolves once the agent has said `asleep` n times in all. */
  waitAsleep(n = 1, timeoutMs = 20_000): Promise<true> {
    return waitFor(() => (this.sleeps >= n ? true : undefined), this.listeners, timeoutMs, `pid ${this.pid} to say asleep (${n})`);
  }

  waitClosed(timeoutMs = 20_000): Promise<true> {
    return waitFor(() => (this.closed ? true : undefined), this.listeners, timeoutMs, `pid ${this.pid} to disconnect`);
  }

  /** Called by the peer for each message after the hello. */
  /** As server.ts does: the wake signal, sent again after 1, 2 and 4 s while the agent says nothing and a request waits. */
  private wake(): void {
    sendWake(this.pid, this.hello.wakeSignal!, '/', true);
    const heardBefore = this.heardCount;
    let tries = 0;
    const again = () => {
      if (this.closed || this.asleep || this.heardCount !== heardBefore || this.waiting.size === 0 || ++tries > 3) return;
      this.wakeRetries++;
      sendWake(this.pid, this.hello.wakeSignal!, '/', true);
      setTimeout(again, 1000 << tries).unref();
    };
    setTimeout(again, 1000).unref();
  }

  receive(msg: Record<string, unknown>): void {
    this.heardCount++;
    if (msg.type === 'asleep') {
      // Not an event: the agent's serving thread ended after reading `lines` lines (server.ts fellAsleep).
      const lines = msg.lines;
      if (typeof lines !== 'number' || !Number.isInteger(lines) || lines < 0 || this.hello.sleeps !== true) this.violations.push(`pid ${this.pid}: a malformed or unexpected asleep notice: ${JSON.stringify(msg)}`);
      else if (lines < this.linesSent) this.wake();
      else this.asleep = true;
      this.sleeps++;
      this.notify();
      return;
    }
    this.check(msg);
    this.messages.push(msg);
    if (msg.type === 'reply' && typeof msg.id === 'number') {
      const done = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      done?.(msg as unknown as Reply);
    } else if (typeof msg.type === 'string' && msg.id === undefined) {
      this.events.push(msg as unknown as AgentEvent);
    }
    this.notify();
  }

  /**
   * Checks what the agent sent against the same schema memhunt's host checks with (the host drops
   * fields the schema does not name: here they are reported, so the agent cannot drift from it).
   */
  check(msg: Record<string, unknown>): void {
    const before = JSON.stringify(msg);
    let problem: string | null;
    if (msg.type === 'hello') problem = contractProblem('agentHello', msg);
    else if (msg.type === 'reply') {
      problem = contractProblem('reply', msg);
      const type = this.asked.get(msg.id as number);
      if (problem === null && msg.ok === true && type !== undefined && type in RESULT_TYPES) problem = resultProblem(type as HostRequest['type'], msg.result);
    } else problem = eventProblem(msg);
    if (problem === null && JSON.stringify(msg) !== before) problem = 'fields the schema does not declare';
    if (problem !== null) this.violations.push(`pid ${this.hello?.pid ?? '?'}: ${problem}: ${before.slice(0, 300)}`);
  }

  markClosed(): void {
    this.closed = true;
    this.notify();
  }

  private notify(): void {
    for (const l of this.listeners.slice()) l();
  }
}

function waitFor<T>(get: () => T | undefined, listeners: Array<() => void>, timeoutMs: number, what: string): Promise<T> {
  const now = get();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const check = () => {
      const v = get();
      if (v === undefined) return;
      clearTimeout(timer);
      listeners.splice(listeners.indexOf(check), 1);
      resolve(v);
    };
    const timer = setTimeout(() => {
      listeners.splice(listeners.indexOf(check), 1);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    listeners.push(check);
  });
}

const RESULT_TYPES: Record<HostRequest['type'], true> = { census: true, 'trace-start': true, 'trace-snapshot': true, refs: true, break: true, ping: true };

export class TestPeer {
  readonly agents: AgentConnection[] = [];
  /** Lines that were not JSON, or connections whose first message was not a hello. */
  readonly problems: string[] = [];
  private readonly listeners: Array<() => void> = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(readonly dir: string, readonly socketPath: string, private readonly server: net.Server) {}

  static async start(): Promise<TestPeer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-peer-'));
    fs.chmodSync(dir, 0o700);
    const socketPath = path.join(dir, 'agent.sock');
    const server = net.createServer();
    const peer = new TestPeer(dir, socketPath, server);
    server.on('connection', (s) => peer.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return peer;
  }

  /** The environment memhunt gives a Python target (docs/agent-protocol.md, "Injection"). */
  pythonEnv(options?: { trace?: boolean; traceFrames?: number }, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...base, [AGENT_SOCKET_ENV]: this.socketPath };
    // As memhunt run does (src/agents/runtime.ts): the program's own entries before the public package.
    env.PYTHONPATH = [PYTHON_INJECT_DIR, ...(base.PYTHONPATH ? [base.PYTHONPATH] : []), PYTHON_LIB_DIR].join(':');
    if (options) env.MEMHUNT_AGENT_OPTIONS = JSON.stringify({ trace: !!options.trace, traceFrames: options.traceFrames ?? 1 });
    return env;
  }

  /** Resolves with the first agent (connected or to come) whose hello matches. */
  waitForAgent(pred: (h: AgentHello) => boolean = () => true, timeoutMs = 20_000): Promise<AgentConnection> {
    return waitFor(() => this.agents.find((a) => pred(a.hello)), this.listeners, timeoutMs, 'an agent to connect');
  }

  /**
   * As memhunt does for a fork child that has not connected (src/agents/wake.ts): checks that pid
   * may be woken (a connected ancestor named the wake signal, same executable, the signal caught),
   * sends the signal and resolves with its agent. Rejects when pid may not be signalled.
   */
  wakeAgent(pid: number, timeoutMs = 20_000): Promise<AgentConnection> {
    const signalOf = (p: number) => {
      const a = this.agents.filter((c) => c.hello.pid === p && !c.closed).pop();
      return a ? a.hello.wakeSignal ?? null : undefined;
    };
    const plan = wakePlan(pid, signalOf);
    if (!plan) return Promise.reject(new Error(`pid ${pid} may not be sent the wake signal`));
    if (!sendWake(pid, plan.signal)) return Promise.reject(new Error(`pid ${pid}: the wake signal was not sent`));
    return this.waitForAgent((h) => h.pid === pid, timeoutMs);
  }

  /** Closes the socket; throws when an agent sent anything that breaks the contract (every test using a peer checks it). */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.dir, { recursive: true, force: true });
    const violations = this.agents.flatMap((a) => a.violations);
    if (violations.length > 0) throw new Error(`the agent broke the contract (docs/recording-format.schema.json):\n${violations.join('\n')}`);
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    let conn: AgentConnection | null = null;
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.problems.push(`not JSON: ${line.slice(0, 200)}`);
          continue;
        }
        if (conn === null) {
          if (msg.type !== 'hello' || msg.role !== 'agent') {
            this.problems.push(`first message is not an agent hello: ${line.slice(0, 200)}`);
            socket.destroy();
            return;
          }
          conn = new AgentConnection(msg as unknown as AgentHello, socket);
          conn.check(msg);
          this.agents.push(conn);
          for (const l of this.listeners.slice()) l();
        } else {
          conn.receive(msg);
        }
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      conn?.markClosed();
    });
  }
}
