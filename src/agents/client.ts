/**
 * The client side of the agent socket, for commands run from another terminal while `memhunt run`
 * records (`memhunt snapshot <pid>`, `memhunt refs <pid>`): find the run's socket in the target's
 * environment, say hello as a client, send one request, wait for its reply.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { InputError } from '../errors';
import { NdjsonPeer } from './ndjson';
import { AGENT_PROTOCOL_VERSION, AGENT_SOCKET_ENV, type ClientRequest, type Reply } from './protocol';

export interface AgentTarget {
  pid: number;
  socketPath: string;
  /** The recording the run writes ($MEMHUNT_RECORDING), when known. */
  recordingPath: string | null;
}

/**
 * The socket of the memhunt run that started pid, from /proc/PID/environ (the environment the
 * process was started with: what memhunt gave it, whatever the program did to os.environ since).
 */
export function findAgentTarget(pid: number, procRoot = '/'): AgentTarget {
  const file = path.join(procRoot, 'proc', String(pid), 'environ');
  let raw: Buffer;
  try {
    raw = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') throw new InputError(`no process with pid ${pid}`);
    if (code === 'EACCES' || code === 'EPERM') {
      throw new InputError(`cannot read the environment of pid ${pid} (${code}): it belongs to another user; run memhunt as that user or as root`);
    }
    throw new InputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let socketPath: string | null = null;
  let recordingPath: string | null = null;
  for (const entry of raw.toString('utf8').split('\0')) {
    if (entry.startsWith(`${AGENT_SOCKET_ENV}=`)) socketPath = entry.slice(AGENT_SOCKET_ENV.length + 1);
    else if (entry.startsWith('MEMHUNT_RECORDING=')) recordingPath = entry.slice('MEMHUNT_RECORDING='.length);
  }
  if (!socketPath) throw new InputError(`pid ${pid} was not started under memhunt run with the agent`);
  return { pid, socketPath, recordingPath };
}

export type ClientRequestBody = ClientRequest extends infer R ? (R extends ClientRequest ? Omit<R, 'id'> : never) : never;

/**
 * Sends one client request to the host of target and resolves with its result. Every failure is
 * an InputError with one line: the run has ended (socket gone), the host refused us, the agent
 * answered with an error, or no answer came within timeoutMs.
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
      const peer = new NdjsonPeer(socket, (msg) => {
        const r = msg as Reply<T>;
        if (r.type !== 'reply') return;
        if (r.id === 0 && !r.ok) done(new InputError(r.error ?? 'the memhunt run refused this client'));
        else if (r.id === 1) done(r.ok ? null : new InputError(r.error ?? `${body.type} failed`), r.result as T);
      });
      peer.onClose(() => done(new InputError(`the memhunt run that started pid ${target.pid} closed the connection before answering (it is ending?)`)));
      peer.send({ type: 'hello', role: 'client', protocol: AGENT_PROTOCOL_VERSION });
      peer.send({ ...body, id: 1 });
    });
  });
}
