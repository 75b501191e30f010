/**
 * When a recorded tree began to shut down: what its interpreters said (`teardown` records: each
 * Python agent's atexit hook) and the processes that ended just before the end. The memory freed
 * after that is interpreters tearing down their heaps and processes ending, not the program
 * releasing it: the verdicts and "final … before the teardown" leave it out.
 */
import type { MemoryRecording } from '../model/recording';
import type { Series } from '../model/series';
import { shutdownWindowMs } from './verdict';

export interface TreeTeardown {
  /** Recording ms: the earliest shutdown of the chain that reaches the end of the run. */
  fromMs: number;
  /** The processes whose interpreters said they began their shutdown (teardown records). */
  said: number[];
  /** The processes that ended (no word from an interpreter: os._exit, a kill, no agent). */
  ended: number[];
  /** In words, for the evidence: "pid 6939, 6940 ended; pid 6922's interpreter began its shutdown". */
  text: string;
}

/**
 * The tree's shutdown: walking back from the end of the total over the processes whose
 * interpreters said they began their shutdown, each one that ended within shutdownWindowMs of the
 * end or of the shutdown of the one after it; the shutdown begins with the earliest of theirs
 * (never before the middle of the run). A Dask worker's interpreter freed its 200 MiB cache 1.3 s
 * before it ended, 2.3 s before the end of a 23.7 s run (the client and scheduler ended after it),
 * and the tree total read "stable: released"; a lone process's shutdown may take longer than its
 * exit window (a finaliser that waits). A process that ended mid-run (a Pool worker done with its
 * tasks) is not the tree's shutdown: its memory left while the program ran. Null when no
 * interpreter said so (no agent, Node, an mprof file, a recording made before 2026-12-03).
 */
export function treeTeardown(rec: MemoryRecording, total: Series): TreeTeardown | null {
  const n = total.tMs.length;
  if (n < 2) return null;
  const start = total.tMs[0]!;
  const end = total.tMs[n - 1]!;
  const windowMs = shutdownWindowMs(end - start);
  // A process's memory is in the total until its last sample; an interpreter's shutdown from when it said so.
  const lastSample = (p: MemoryRecording['processes'][number]) => (p.rss.tMs.length ? p.rss.tMs[p.rss.tMs.length - 1]! : NaN);
  const candidates = rec.processes
    .flatMap((p) => {
      if (p.teardownMs !== undefined && p.teardownMs <= end) return [{ pid: p.pid, t: p.teardownMs, endMs: Math.min(end, p.exitMs ?? end), said: true }];
      if (p.exitMs !== null && p.exitMs < end && Number.isFinite(lastSample(p))) return [{ pid: p.pid, t: lastSample(p), endMs: p.exitMs, said: false }];
      return [];
    })
    .sort((a, b) => b.endMs - a.endMs);
  let fromMs = end;
  const chain: typeof candidates = [];
  for (const x of candidates) {
    if (x.endMs < fromMs - windowMs) break;
    fromMs = Math.min(fromMs, x.t);
    chain.push(x);
  }
  if (!chain.length || fromMs >= end || fromMs < start + 0.5 * (end - start)) return null;
  chain.sort((a, b) => a.t - b.t);
  const said = chain.filter((x) => x.said).map((x) => x.pid);
  const ended = chain.filter((x) => !x.said).map((x) => x.pid);
  const parts: string[] = [];
  if (ended.length) parts.push(`pid ${ended.join(', ')} ended`);
  if (said.length) parts.push(said.length === 1 ? `pid ${said[0]}'s interpreter began its shutdown` : `the interpreters of pid ${said.join(', ')} began their shutdown`);
  return { fromMs, said, ended, text: parts.join('; ') };
}
