/**
 * --on-threshold actions: what memhunt does, once, when the tree's memory reaches a size.
 *   mark       record the crossing (drawn on charts)
 *   stop       SIGSTOP every process of the tree so a person can inspect it (gdb -p, py-spy dump);
 *              resume with kill -CONT
 *   kill       SIGKILL the tree
 *   exec=CMD   run CMD with sh -c, MEMHUNT_PID (the process holding the most memory),
 *              MEMHUNT_ROOT_PID, MEMHUNT_PIDS, MEMHUNT_RSS_BYTES, MEMHUNT_THRESHOLD_BYTES and
 *              MEMHUNT_RECORDING in its environment; its output is kept in the recording
 *   snapshot   a heap census of every in-process agent (+ allocation sites with
 *              --trace-allocations, + back-references of the type that grew most), recorded
 *   break      pdb in the Python process with the most memory of its own (USS) (--break-at SIZE is this action)
 * Without a connected agent (--no-agent, attach, no Python process yet) snapshot and break record
 * the crossing with a note that says why nothing was asked.
 */
import { spawn } from 'node:child_process';
import { InputError } from '../errors';
import { readSmapsRollup, readStat } from '../procfs/process';
import { roundMs, type RecordingWriter } from '../recording/writer';
import { parseSize, formatBytes } from '../units';
import type { AgentSession } from './agents';

export type ThresholdActionName = 'mark' | 'stop' | 'kill' | 'exec' | 'snapshot' | 'break';

export interface ThresholdAction {
  bytes: number;
  action: ThresholdActionName;
  /** exec only. */
  command?: string;
  /** As the user wrote it, for messages. */
  spec: string;
  /** The option that asked for it, for messages: "--on-threshold 1GiB:stop" (default) or "--break-at 1GiB". */
  option?: string;
}

const ACTIONS: ThresholdActionName[] = ['mark', 'stop', 'kill', 'exec', 'snapshot', 'break'];

/** Parses "1.5GiB:stop" or "1GiB:exec=py-spy dump --pid $MEMHUNT_PID". */
export function parseThresholdSpec(spec: string): ThresholdAction {
  const colon = spec.indexOf(':');
  if (colon < 0) throw new InputError(`--on-threshold "${spec}" needs SIZE:ACTION, e.g. 1.5GiB:stop or 1GiB:exec='py-spy dump --pid $MEMHUNT_PID'`);
  const bytes = parseSize(spec.slice(0, colon), '--on-threshold size');
  const rest = spec.slice(colon + 1);
  if (rest.startsWith('exec=')) {
    const command = rest.slice(5).trim();
    if (!command) throw new InputError(`--on-threshold "${spec}": exec= needs a command`);
    return { bytes, action: 'exec', command, spec };
  }
  if (!(ACTIONS as string[]).includes(rest) || rest === 'exec') {
    throw new InputError(`--on-threshold "${spec}": unknown action "${rest}"; use mark, stop, kill, exec=CMD, snapshot or break`);
  }
  return { bytes, action: rest as ThresholdActionName, spec };
}

/** Largest kept exec output; the rest is dropped and the record says so. */
const MAX_OUTPUT = 64 * 1024;
/** How long the end of a run waits for exec actions still running. */
const EXEC_GRACE_MS = 30_000;

export interface ActionContext {
  writer: RecordingWriter;
  metric: 'rss' | 'pss' | 'uss';
  rootPid: number;
  recordingPath: string;
  now: () => number;
  livePids: () => number[];
  /** Tell the person at the terminal (stderr). */
  notice: (text: string) => void;
  /** The run's in-process agents; null when there are none, with the reason in noAgentReason. */
  agents?: AgentSession | null;
  /** Why there are no agents: "--no-agent", "memhunt attach does not inject agents", … */
  noAgentReason?: string;
}

type ThresholdBase = { type: 'threshold'; t: number; metric: 'rss' | 'pss' | 'uss'; bytes: number; thresholdBytes: number; action: ThresholdActionName };

export class ThresholdActions {
  private running = new Set<Promise<void>>();
  /** The tree stopped by a `stop` action, until it runs again (poll) or the recording ends (settle). */
  /** seen: a sample has seen the tree in the stopped state (SIGSTOP is delivered asynchronously). */
  private stopped: { fromMs: number; pids: number[]; seen: boolean } | null = null;

  constructor(readonly actions: ThresholdAction[], private readonly ctx: ActionContext) {}

  get sizes(): number[] {
    return this.actions.map((a) => a.bytes);
  }

  /** Runs action `index`; called by the sampler when the metric reaches its size. */
  fire(index: number, bytes: number, tMs: number, largestPid: number): void {
    const a = this.actions[index]!;
    const c = this.ctx;
    const pids = c.livePids();
    const base = { type: 'threshold' as const, t: roundMs(tMs), metric: c.metric, bytes, thresholdBytes: a.bytes, action: a.action };
    const crossed = `memory reached ${formatBytes(bytes)} (${a.option ?? `--on-threshold ${a.spec}`})`;
    switch (a.action) {
      case 'mark':
        c.writer.append({ ...base, pids: [] });
        c.notice(`${crossed}: marked`);
        break;
      case 'stop': {
        signalAll(pids, 'SIGSTOP');
        c.writer.append({ ...base, pids });
        this.stopped = { fromMs: tMs, pids, seen: false };
        c.notice(
          `${crossed}: stopped the tree (SIGSTOP), pids ${pids.join(' ')}; the largest is ${largestPid}.\n` +
            `  inspect: gdb -p ${largestPid}   or   py-spy dump --pid ${largestPid}   (memhunt keeps recording)\n` +
            `  resume:  kill -CONT ${pids.join(' ')}`,
        );
        break;
      }
      case 'kill':
        c.writer.append({ ...base, pids });
        signalAll(pids, 'SIGKILL');
        c.notice(`${crossed}: killed the tree (SIGKILL)`);
        break;
      case 'exec': {
        c.writer.append({ ...base, pids: [largestPid], command: a.command });
        c.notice(`${crossed}: running ${a.command}`);
        this.exec(a.command!, bytes, a.bytes, largestPid, pids);
        break;
      }
      case 'snapshot':
        this.snapshot(base, crossed, a);
        break;
      case 'break':
        this.breakLargest(base, crossed, bytes);
        break;
    }
    c.writer.flush();
  }

  private noAgent(): string | null {
    const c = this.ctx;
    if (!c.agents) return `no in-process agent: ${c.noAgentReason ?? 'agents are off'}`;
    if (c.agents.agents().length === 0) return 'no in-process agent is connected (no Python process of the tree runs one: not started yet, already ended, or Python older than 3.8)';
    return null;
  }

  private snapshot(base: ThresholdBase, crossed: string, a: ThresholdAction): void {
    const c = this.ctx;
    const none = this.noAgent();
    if (none || !c.agents) {
      c.writer.append({ ...base, pids: [], note: none ?? '' });
      c.notice(`${crossed}: no heap census taken: ${none}`);
      return;
    }
    const { pids, done } = c.agents.snapshotAll(a.option ?? `--on-threshold ${a.spec}`, 'threshold');
    const what = c.agents.options.traceAllocations ? 'heap census and allocation sites' : 'heap census';
    c.writer.append({ ...base, pids, note: pids.length ? `${what} of pid ${pids.join(', ')} requested` : 'every agent was busy with a census already' });
    c.notice(`${crossed}: taking a ${what} of pid ${pids.join(', ')} (memhunt heap ${c.recordingPath} shows it)`);
    this.keep(done);
  }

  private breakLargest(base: ThresholdBase, crossed: string, bytes: number): void {
    const c = this.ctx;
    const none = this.noAgent();
    const target = c.agents?.largestBreakable() ?? null;
    if (none || !c.agents || !target) {
      const why = none ?? 'no connected agent can break (none lists the "break" feature)';
      c.writer.append({ ...base, pids: [], note: why });
      c.notice(`${crossed}: no debugger break: ${why}`);
      return;
    }
    const who = c.agents.describe(target);
    c.writer.append({ ...base, pids: [target.pid], note: `pdb requested in ${who}` });
    // RSS counts a page shared by a fork child and its parent once in each: a Pool's tree "reached"
    // 120 MiB at its start-up (trial 4). Said, with what the tree holds counting each page once.
    if (c.metric === 'rss') {
      let pss = 0;
      let read = 0;
      for (const pid of c.livePids()) {
        const r = readSmapsRollup(pid);
        if (r) {
          pss += r.pssKiB * 1024;
          read++;
        }
      }
      if (read > 1 && pss < base.thresholdBytes) {
        c.notice(`${crossed}: note: the tree's RSS counts the pages its fork children share with their parent once in each process; counting each page once (PSS) it holds ${formatBytes(pss)}, under ${formatBytes(base.thresholdBytes)}. --metric pss judges that.`);
      }
    }
    // Said once the agent has answered that it can break (a terminal, its main thread): a worker
    // whose stdin is /dev/null, with memhunt not in a terminal, gets one line saying why not.
    const announce = () => c.notice(
      // The warning about what the debugger keeps alive is printed by the agent, right above the
      // (Pdb) prompt, where it is seen even with -q.
      `${crossed}: stopping ${who}, the Python process with the most memory, in pdb at the line it is running.\n` +
        `  Type "c" to continue, "q" to quit the program. memhunt keeps recording meanwhile.`,
    );
    const refused = (why: string) => c.notice(`${crossed}: no debugger break in ${who}: ${why}`);
    this.keep(c.agents.breakInto(target.pid, `memhunt: memory reached ${formatBytes(bytes)}`, announce, refused));
  }

  private keep(p: Promise<void>): void {
    this.running.add(p);
    void p.then(() => this.running.delete(p));
  }

  private exec(command: string, bytes: number, thresholdBytes: number, largestPid: number, pids: number[]): void {
    const c = this.ctx;
    const env = {
      ...process.env,
      MEMHUNT_PID: String(largestPid),
      MEMHUNT_ROOT_PID: String(c.rootPid),
      MEMHUNT_PIDS: pids.join(' '),
      MEMHUNT_RSS_BYTES: String(Math.round(bytes)),
      MEMHUNT_THRESHOLD_BYTES: String(thresholdBytes),
      MEMHUNT_RECORDING: c.recordingPath,
    };
    const p = new Promise<void>((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const child = spawn('sh', ['-c', command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const keep = (d: Buffer) => {
        if (size >= MAX_OUTPUT) {
          truncated = true;
          return;
        }
        const part = d.subarray(0, MAX_OUTPUT - size);
        if (part.length < d.length) truncated = true;
        chunks.push(part);
        size += part.length;
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const timer = setTimeout(() => child.kill('SIGKILL'), EXEC_GRACE_MS);
      timer.unref();
      child.on('error', (err) => {
        chunks.push(Buffer.from(`memhunt: cannot run sh: ${err.message}\n`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        c.writer.append({
          type: 'action', t: roundMs(c.now()), action: 'exec', command, code, signal,
          output: Buffer.concat(chunks).toString('utf8'), outputTruncated: truncated,
        });
        c.notice(`exec ${command} ended with ${signal ?? `exit code ${code}`}; its output is in the recording (memhunt summary)`);
        resolve();
      });
    });
    this.keep(p);
  }

  /**
   * Called after every sample: a tree stopped by `stop` runs again when none of its processes is
   * in the stopped state any more ('T' in /proc/PID/stat: SIGCONT from anyone, or they are gone).
   * The pause is then recorded, from the stop to the first sample that saw it running.
   */
  poll(tMs: number): void {
    const st = this.stopped;
    if (!st) return;
    const stillStopped = st.pids.some((pid) => {
      const state = readStat(pid)?.state;
      return state === 'T' || state === 't';
    });
    if (stillStopped) st.seen = true;
    // SIGSTOP takes effect asynchronously: the first samples after it may still see the tree
    // running (seen on a loaded machine: a pause of 0 ms). The pause ends only once it was seen,
    // or when the tree never stopped within STOP_SEEN_WITHIN_MS (it was resumed at once, or gone).
    else if (st.seen || tMs - st.fromMs > STOP_SEEN_WITHIN_MS) this.endPause(tMs);
  }

  private endPause(tMs: number): void {
    const st = this.stopped!;
    this.stopped = null;
    this.ctx.writer.append({ type: 'pause', t: roundMs(st.fromMs), endMs: roundMs(Math.max(tMs, st.fromMs)), pids: st.pids, cause: 'stop' });
  }

  /** Waits for exec actions (each is killed after 30 s) and agent requests still running; a pause still going on ends with the recording. */
  async settle(): Promise<void> {
    await Promise.all([...this.running]);
    if (this.stopped) this.endPause(this.ctx.now());
  }
}

/** How long a stopped tree may take to show state T before the pause is taken as over. */
const STOP_SEEN_WITHIN_MS = 2000;

function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // gone
    }
  }
}
