/**
 * Process-tree discovery from /proc/*\/stat parent pids, as YARN does. /proc/PID/task/TID/children
 * is not used: it needs CONFIG_PROC_CHILDREN, lists one thread's children only, and drops entries
 * while children exit (proc(5): "most code should probably not use this interface").
 *
 * Cost: a scan lists /proc (one readdir) and reads /proc/PID/stat only for pids it has not seen in
 * the previous scan, so a steady machine costs one readdir per scan instead of one read per process
 * (a full read of 72 pids is ~1.8 ms here). Processes that start and exit between two scans are
 * missed; the scan period is recorded so readers know the resolution.
 *
 * Most scans find nothing new (a tree that sleeps, a quiet machine): before listing /proc, a scan
 * reads the last pid the kernel handed out (the fifth field of /proc/loadavg, through an fd kept
 * open). When it has not moved since the last listing, no process (or thread) was created anywhere
 * in memhunt's pid namespace, nor in any namespace below it (a pid there takes one here too), so
 * the listing would find only pids already seen: it is skipped. A readdir of /proc and ~500 names
 * per scan was a large part of an idle `memhunt run` (bench/idle.mjs). Where /proc/loadavg is
 * emulated (gVisor prints 0, lxcfs refreshes its own figure every few seconds), the check would
 * hide new processes: /proc is still listed at least every VERIFY_MS, and a listing that finds a
 * pid the unmoved last pid did not announce turns the check off for good.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { listPids, readStatBrief } from '../procfs/process';

/** /proc is listed at least this often, to check that the last pid can be trusted. */
const VERIFY_MS = 1000;

const loadavgBuf = Buffer.alloc(128);

/** The last pid handed out (the fifth field of /proc/loadavg), or -1 when it cannot be read. */
export function lastPid(fd: number): number {
  let n: number;
  try {
    n = fs.readSync(fd, loadavgBuf, 0, loadavgBuf.length, 0);
  } catch {
    return -1;
  }
  // "0.52 0.58 0.59 1/467 12345\n": the digits after the last space.
  let end = n;
  while (end > 0 && (loadavgBuf[end - 1]! < 48 || loadavgBuf[end - 1]! > 57)) end--;
  let i = end;
  while (i > 0 && loadavgBuf[i - 1]! >= 48 && loadavgBuf[i - 1]! <= 57) i--;
  if (i === end || i === 0 || loadavgBuf[i - 1] !== 32) return -1;
  let v = 0;
  for (let k = i; k < end; k++) v = v * 10 + (loadavgBuf[k]! - 48);
  // No process has pid 0: an emulated file that says so says nothing.
  return v > 0 ? v : -1;
}

export class TreeTracker {
  /** pids of the tree, with the start time that identifies each across pid reuse. */
  readonly members = new Map<number, number>();
  private seen = new Set<number>();
  /** /proc/loadavg, open for the scans' last-pid check; -1 when it cannot be opened (every scan lists /proc). */
  private loadavgFd = -1;
  /** The last pid handed out at the last listing of /proc; -1 before the first. */
  private listedAtPid = -1;
  /** performance.now() of the last listing. */
  private listedAtMs = -Infinity;
  /** Listings of /proc skipped because no process was created since the last one (for tests). */
  skippedScans = 0;

  constructor(rootPid: number, private readonly root = '/') {
    const st = readStatBrief(rootPid, root);
    this.members.set(rootPid, st ? st.startTicks : 0);
    try {
      this.loadavgFd = fs.openSync(path.join(root, 'proc', 'loadavg'), 'r');
    } catch {
      this.loadavgFd = -1;
    }
  }

  /** Closes the fd of /proc/loadavg; scans after it list /proc every time. */
  close(): void {
    if (this.loadavgFd < 0) return;
    try {
      fs.closeSync(this.loadavgFd);
    } catch {
      // already closed
    }
    this.loadavgFd = -1;
  }

  /** Forgets a member that exited, so a later process reusing its pid is examined afresh. */
  remove(pid: number): void {
    this.members.delete(pid);
    this.seen.delete(pid);
  }

  /** Returns the pids that joined the tree since the last scan, with their parent. */
  scan(): Array<{ pid: number; ppid: number }> {
    const last = this.loadavgFd >= 0 ? lastPid(this.loadavgFd) : -1;
    const nowMs = performance.now();
    // Listed although the last pid did not move: a check of the last pid.
    const verifying = last >= 0 && last === this.listedAtPid;
    if (verifying && nowMs - this.listedAtMs < VERIFY_MS) {
      this.skippedScans++;
      return [];
    }
    this.listedAtPid = last;
    this.listedAtMs = nowMs;
    const pids = listPids(this.root);
    const now = new Set<number>(pids);
    const fresh: Array<{ pid: number; ppid: number }> = [];
    const unknownParents = new Map<number, { ppid: number; startTicks: number }>();
    for (const pid of pids) {
      if (this.seen.has(pid) || this.members.has(pid)) continue;
      // A new pid the last pid did not announce: it cannot be trusted here (or a process started
      // between the two reads: the check is then off for nothing, never wrong).
      if (verifying) this.close();
      const st = readStatBrief(pid, this.root);
      // A zombie has exited and holds no memory; it stays listed until its parent reaps it.
      if (!st || st.state === 'Z' || st.state === 'X') continue;
      unknownParents.set(pid, { ppid: st.ppid, startTicks: st.startTicks });
      if (this.members.has(st.ppid)) {
        this.members.set(pid, st.startTicks);
        fresh.push({ pid, ppid: st.ppid });
      }
    }
    // A grandchild can be listed before its new parent: resolve chains among this scan's new pids.
    let grew = fresh.length > 0;
    while (grew) {
      grew = false;
      for (const [pid, { ppid, startTicks }] of unknownParents) {
        if (!this.members.has(pid) && this.members.has(ppid)) {
          this.members.set(pid, startTicks);
          fresh.push({ pid, ppid });
          grew = true;
        }
      }
    }
    this.seen = now;
    return fresh;
  }
}
