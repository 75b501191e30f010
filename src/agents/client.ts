/**
 * The client side of the agent socket, for commands run from another terminal while `memhunt run`
 * records (`memhunt snapshot <pid>`, `memhunt refs <pid>`): find the run's socket in the target's
 * environment, check that memhunt made it, say hello as a client, send one request, wait for its
 * reply.
 *
 * Trust: the environment of a process is the process's to write. A program of another user could
 * start itself with MEMHUNT_AGENT_SOCKET naming a socket it serves, and get root (running
 * `memhunt snapshot <pid>`) to connect and print its replies. So the path is used only when it is
 * a socket memhunt made for a run containing the process (verifyRunSocket, src/rundir.ts):
 *   - it is <tmp>/memhunt-XXXXXX/agent.sock, the directory a real directory (not a link) of mode
 *     0700, directory and socket owned by the target's user;
 *   - the directory's owner file names a live process (pid and start time) of that same user,
 *     which is an ancestor of the target and holds the socket's listening end.
 * Replies are checked with the protocol's contract (clientReplyProblem) before use: a malformed one
 * is one line and exit 1 (FailureError).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { FailureError, InputError } from '../errors';
import { processInfo, verifyRunSocket } from '../rundir';
import { NdjsonPeer } from './ndjson';
import { AGENT_PROTOCOL_VERSION, AGENT_SOCKET_ENV, clientReplyProblem, type ClientRequest, type Reply } from './protocol';

export interface AgentTarget {
  pid: number;
  socketPath: string;
  /** The recording the run writes ($MEMHUNT_RECORDING), when known. */
  recordingPath: string | null;
}

/** Why a process cannot be asked, in words, when reading its environment fails. */
function environError(pid: number, file: string, e: unknown): InputError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') return new InputError(`no process with pid ${pid}`);
  if (code === 'EACCES' || code === 'EPERM') {
    const me = process.getuid?.() ?? -1;
    const uid = processInfo(pid)?.uid ?? null;
    if (me !== 0 && uid !== null && uid !== me) {
      return new InputError(`cannot read the environment of pid ${pid} (${code}): it belongs to uid ${uid}, not to you (uid ${me}); run memhunt as that user or as root`);
    }
    // Root, or our own process: the kernel's ptrace access check refused (a container without
    // CAP_SYS_PTRACE, a process that made itself non-dumpable, Yama's ptrace_scope).
    return new InputError(`cannot read the environment of pid ${pid} (${code}): the kernel refused it (ptrace access check); it was not started by memhunt run, or memhunt lacks CAP_SYS_PTRACE here`);
  }
  return new InputError(`cannot read ${file}: ${(e as Error).message}`);
}

/**
 * The socket of the memhunt run that started pid, from /proc/PID/environ (the environment the
 * process was started with: what memhunt gave it, whatever the program did to os.environ since),
 * verified (verifyRunSocket) before it is returned.
 */
export function findAgentTarget(pid: number, procRoot = '/'): AgentTarget {
  const file = path.join(procRoot, 'proc', String(pid), 'environ');
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    throw environError(pid, file, e);
  }
  let socketPath: string | null = null;
  let recordingPath: string | null = null;
  for (const entry of raw.toString('utf8').split('\0')) {
    if (entry.startsWith(`${AGENT_SOCKET_ENV}=`)) socketPath = entry.slice(AGENT_SOCKET_ENV.length + 1);
    else if (entry.startsWith('MEMHUNT_RECORDING=')) recordingPath = entry.slice('MEMHUNT_RECORDING='.length);
  }
  if (!socketPath) {
    const st = processInfo(pid, procRoot);
    if (!st || !st.running) throw new InputError(`no process with pid ${pid}`);
    throw new InputError(`pid ${pid} was not started under memhunt run with the agent`);
  }
  verifyRunSocket(pid, socketPath, procRoot);
  return { pid, socketPath, recordingPath };
}

export type ClientRequestBody = ClientRequest extends infer R ? (R extends ClientRequest ? Omit<R, 'id'> : never) : never;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An error message from the host, as one line of bounded length. */
function hostText(v: unknown, fallback: string): string {
  const s = typeof v === 'string' && v.trim() ? v : fallback;
  const first = s.split('\n').find((l) => l.trim()) ?? s;
  return first.length > 500 ? `${first.slice(0, 499)}…` : first;
}

/** True while pid exists and is not a zombie. */
function running(pid: number): boolean {
  return processInfo(pid)?.running === true;
}

/**
 * Sends one client request to the host of target and resolves with its result. Every failure is
 * one line: an InputError (exit 2) when the run has ended, the host refused us, the agent answered
 * with an error or no answer came within timeoutMs; a FailureError (exit 1) when the reply is
 * malformed.
 */
export function askHost<T>(target: AgentTarget, body: ClientRequestBody, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const socket = net.createConnection(target.socketPath);
    const done = (err: Error | null, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    // The agent's connection can close while its process runs on (a program that closes every
    // descriptor, os.closerange): the host then says it ended; say what really happened.
    const agentError = (text: string) => {
      if (/^pid \d+ ended/.test(text) && running(target.pid)) {
        return new InputError(`pid ${target.pid} is running, but its agent is no longer connected to memhunt (the program closed the agent's socket, e.g. by closing its file descriptors); memhunt cannot look inside it any more`);
      }
      return new InputError(text);
    };
    const timer = setTimeout(() => done(new InputError(`pid ${target.pid} did not answer within ${Math.round(timeoutMs / 1000)} s (a census of a very large heap takes long; try again with a longer --timeout)`)), timeoutMs);
    socket.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        done(new InputError(`the memhunt run that started pid ${target.pid} has ended (its socket ${target.socketPath} is gone)`));
      } else if (e.code === 'EACCES') {
        done(new InputError(`cannot connect to ${target.socketPath} (EACCES): the run belongs to another user; run memhunt as that user or as root`));
      } else {
        done(new InputError(`cannot connect to ${target.socketPath}: ${e.message}`));
      }
    });
    socket.once('connect', () => {
      const peer = new NdjsonPeer(
        socket,
        (msg) => {
          if (!isObject(msg) || msg.type !== 'reply') return;
          // Checked with the one contract (protocol.ts, the JSON Schema) before anything is used.
          const problem = clientReplyProblem(msg, body.type);
          if (problem) {
            done(new FailureError(`pid ${target.pid}: ${problem}`));
            return;
          }
          const r = msg as unknown as Reply<T>;
          if (r.id === 0 && !r.ok) done(agentError(hostText(r.error, 'the memhunt run refused this client')));
          else if (r.id === 1) done(r.ok ? null : agentError(hostText(r.error, `${body.type} failed`)), r.result as T);
        },
        (why) => done(new FailureError(`pid ${target.pid}: a malformed reply from the memhunt run (${why})`)),
      );
      peer.onClose(() => done(new InputError(`the memhunt run that started pid ${target.pid} closed the connection before answering (it is ending?)`)));
      peer.send({ type: 'hello', role: 'client', protocol: AGENT_PROTOCOL_VERSION });
      peer.send({ ...body, id: 1 });
    });
  });
}
