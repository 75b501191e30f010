/**
 * Waking a fork child's agent (docs/agent-protocol.md, "Fork children"). A Python fork child runs
 * none of the agent at the fork: it inherits the wake signal's handler (installed by the agent of
 * the process that forked it, which names the signal in its hello as `wakeSignal`) and connects
 * when it gets that signal. memhunt sends it only to a process that
 *   - has a connected ancestor whose hello named the signal (the nearest connected one),
 *   - runs the same executable as that ancestor (a fork child does; an exec'd program, which may
 *     handle the signal for its own reasons, does not), and
 *   - catches the signal now and does not block it (/proc/PID/status SigCgt and SigBlk): a child
 *     that exec'd has the default action again and is never signalled.
 * The default signal, SIGURG, is ignored by default: a child that execs between the check and the
 * signal is not harmed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** How far up the tree a process's connected ancestor is looked for. */
const MAX_DEPTH = 64;

export interface StatusFacts {
  ppid: number;
  /** The signal masks, as bigints (bit n-1 = signal n). */
  caught: bigint;
  blocked: bigint;
}

/** PPid, SigCgt and SigBlk of a /proc/PID/status text; null when one is missing. */
export function parseStatusSignals(text: string): StatusFacts | null {
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const ppid = field('PPid');
  const cgt = field('SigCgt');
  const blk = field('SigBlk');
  if (ppid === undefined || cgt === undefined || blk === undefined || !/^[0-9a-f]+$/i.test(cgt) || !/^[0-9a-f]+$/i.test(blk)) return null;
  return { ppid: Number(ppid), caught: BigInt(`0x${cgt}`), blocked: BigInt(`0x${blk}`) };
}

/** True when the masks say the process catches signal and does not block it. */
export function catchesUnblocked(facts: StatusFacts, signal: number): boolean {
  const bit = 1n << BigInt(signal - 1);
  return (facts.caught & bit) !== 0n && (facts.blocked & bit) === 0n;
}

function statusOf(pid: number, procRoot: string): StatusFacts | null {
  try {
    return parseStatusSignals(fs.readFileSync(path.join(procRoot, 'proc', String(pid), 'status'), 'latin1'));
  } catch {
    return null;
  }
}

function exeOf(pid: number, procRoot: string): string | null {
  try {
    return fs.readlinkSync(path.join(procRoot, 'proc', String(pid), 'exe'));
  } catch {
    return null;
  }
}

/**
 * The signal to wake pid with and the connected ancestor it inherited the handler from, or null
 * when pid must not be signalled. `signalOf(pid)`: the wake signal a connected agent named in its
 * hello (null: none), undefined when pid has no connected agent.
 */
export function wakePlan(pid: number, signalOf: (pid: number) => number | null | undefined, procRoot = '/'): { signal: number; ancestor: number } | null {
  const facts = statusOf(pid, procRoot);
  if (!facts) return null;
  let p = facts.ppid;
  for (let depth = 0; depth < MAX_DEPTH && p > 1; depth++) {
    const sig = signalOf(p);
    if (sig !== undefined) {
      if (sig === null || !Number.isInteger(sig) || sig < 1 || sig > 64) return null;
      if (!catchesUnblocked(facts, sig)) return null;
      const exe = exeOf(pid, procRoot);
      if (exe === null || exe !== exeOf(p, procRoot)) return null;
      return { signal: sig, ancestor: p };
    }
    const up = statusOf(p, procRoot);
    if (!up) return null;
    p = up.ppid;
  }
  return null;
}

/**
 * Sends the wake signal, checking the status once more right before; false when not sent.
 * `connected`: pid's own agent installed the handler (a sleeping agent): only "caught" is checked,
 * since a signal blocked for a moment (glibc blocks all of them in the thread that forks or starts
 * a thread) stays pending and is delivered when unblocked.
 */
export function sendWake(pid: number, signal: number, procRoot = '/', connected = false): boolean {
  const facts = statusOf(pid, procRoot);
  if (!facts) return false;
  if (connected ? (facts.caught & (1n << BigInt(signal - 1))) === 0n : !catchesUnblocked(facts, signal)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
