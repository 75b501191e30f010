/**
 * The sampling loop: per-process readings of the whole tree, cgroup readings, PSS at an adaptive
 * rate, all appended to the recording.
 *
 * Timing: samples are due at t0 + k·interval. Node's timers have 1 ms granularity and usually fire
 * 0.1–1 ms late, which alone would cap `--interval 1ms` near 500–900 samples/s. So the loop sleeps
 * with setTimeout until about 1.5 ms before the due time and the rest with Atomics.wait (sub-ms
 * precise), then yields to the event loop with setImmediate after each sample so child exits,
 * signals and the marker channel are still served.
 * Late wake-ups: on a loaded 2-core machine about 1% of 1 ms slots start over 1 ms late (the OS
 * schedules us late, a GC pause, the once-a-second flush; BENCHMARKS.md). Up to MAX_CATCH_UP
 * intervals (and at least MAX_CATCH_UP_MS) late, the schedule is kept and the missed samples are
 * taken at once, each with its true time, so the rate asked for is the rate recorded. Later than
 * that (a stopped machine, a debugger), the schedule restarts from now and the skips are counted.
 */
import { performance } from 'node:perf_hooks';
import { ProcessGoneError, ProcessStatusReader, readCmdline, readCmdlineRaw, readSmapsRollup, readStat } from '../procfs/process';
import type { RecordingWriter } from '../recording/writer';
import { roundMs } from '../recording/writer';
import { TreeTracker } from './tree';

/** What the sampler needs from a cgroup reader (src/procfs/cgroup.ts implements it). */
export interface CgroupSource {
  read(): { usageBytes: number; workingSetBytes: number; peakBytes: number | null; oomKills: number | null };
  readLimit(): number | null;
}

/** From fromMs (since the start) on, one sample every intervalMs. */
export interface ScheduleStep {
  fromMs: number;
  intervalMs: number;
}

/**
 * The default schedule (no --interval): dense while the run is short, coarsening to 100 ms.
 * A verdict needs ≥ 30 samples and ≥ 5 floors after the warm-up: at a fixed 100 ms a 2–11 s
 * program left 24 or fewer (issue: 4 of 14 short labelled programs judged; at 10 ms, 14 of 14).
 * Doubling every time the run doubles keeps ~100 samples per doubling: 200 in the first 2 s,
 * ~500 by 16 s. From 16 s on it is the 100 ms that long runs always had, so their steady-state
 * cost is unchanged (≤ 1% of a core; BENCHMARKS.md, bench/idle.mjs); the first 16 s cost
 * ~500 samples instead of ~160.
 */
export const DEFAULT_SCHEDULE: readonly ScheduleStep[] = [
  { fromMs: 0, intervalMs: 10 },
  { fromMs: 2_000, intervalMs: 20 },
  { fromMs: 4_000, intervalMs: 40 },
  { fromMs: 8_000, intervalMs: 80 },
  { fromMs: 16_000, intervalMs: 100 },
];

/** The interval of a schedule at tMs since the start. */
export function intervalAt(schedule: readonly ScheduleStep[], tMs: number): number {
  let interval = schedule[0]!.intervalMs;
  for (const step of schedule) if (tMs >= step.fromMs) interval = step.intervalMs;
  return interval;
}

export interface SamplerOptions {
  rootPid: number;
  /** The interval (--interval), or the last (steady) interval of `schedule`. */
  intervalMs: number;
  /** Intervals that change over the run (the default schedule); null or absent: intervalMs throughout. */
  schedule?: readonly ScheduleStep[] | null;
  metric: 'rss' | 'pss' | 'uss';
  writer: RecordingWriter;
  cgroup: CgroupSource | null;
  /** --limit in bytes: onLimit is called once when the metric's tree total exceeds it. */
  limitBytes: number | null;
  procRoot?: string;
  /**
   * The recording's t = 0: performance.now() and Date.now() read together by the session when it
   * wrote the header's startWallMs. Without it the sampler's own construction time is t = 0, and
   * every sample time is off from the header's wall clock by the time in between (writer and
   * cgroup set-up: tens of ms on a loaded machine), which shifts samples against wall-clock events.
   */
  origin?: { perfMs: number; wallMs: number };
  /** Called after every sample; keep it cheap. */
  onSample?: (s: SampleSummary) => void;
  onLimit?: (bytes: number) => void;
  /** Sizes (bytes) at which onThreshold fires, each once, when the metric's tree total reaches it. */
  thresholds?: number[];
  /** largestPid: the process with the most RSS in that sample (the likely culprit). */
  onThreshold?: (index: number, bytes: number, tMs: number, largestPid: number) => void;
  onOomKill?: (count: number) => void;
  /** Called when a process of the tree is seen gone. */
  onProcessExit?: (pid: number) => void;
}

export interface SampleSummary {
  tMs: number;
  totalRssBytes: number;
  /** The tree total in --metric (the last PSS/USS read with pss/uss); null before the first read. */
  metricBytes: number | null;
  processes: number;
  cgroupUsageBytes: number | null;
  limitBytes: number | null;
  /** This sample's rows, [pid, rssKiB, anonKiB, fileKiB, shmemKiB, hwmKiB] (read-only: the recording's own). */
  rows: readonly (readonly number[])[];
  /** The cgroup's working set and OOM-kill counter at this sample (null without a cgroup). */
  cgroupWorkingSetBytes: number | null;
  oomKills: number | null;
  /** Samples taken so far. */
  samples: number;
  /** A process of the tree is stopped in pdb (--break-at, break): its prompt has the terminal. Set by the session. */
  inPdb?: boolean;
}

const KiB = 1024;
// Scanning /proc for new children more often than every 10 ms costs more than it finds.
const MIN_SCAN_MS = 10;
// PSS reads may use at most this share of one core (CPU time; smaps_rollup is ~4 ms per GiB of RSS here).
const PSS_BUDGET = 0.05;
const FLUSH_EVERY_MS = 1000;
/** Above this share of a limit, each sample is flushed as it is taken. */
const NEAR_LIMIT_SHARE = 0.9;
const MAX_CATCH_UP = 5;
const COARSE_INTERVAL_MS = 20;
const MAX_CATCH_UP_MS = 25;
const CMD_RECHECK_MS = 2000;

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class Sampler {
  readonly t0: number;
  readonly startWallMs: number;
  samples = 0;
  skipped = 0;
  private readers = new Map<number, ProcessStatusReader>();
  private ppids = new Map<number, number>();
  private tree: TreeTracker;
  private nextDue: number;
  private lastScanMs = -Infinity;
  private lastFlushMs = 0;
  private pssEveryMs: number;
  /** The interval in force (changes along opts.schedule). */
  private intervalMs: number;
  private nextPssMs = 0;
  private lastPssTotalBytes: number | null = null;
  private lastOomKills: number | null = null;
  private lastLimit: number | null | undefined = undefined;
  private lastLimitReadMs = -Infinity;
  /** Young processes: their argv is read again at each scan during their first CMD_RECHECK_MS,
   * because a child caught between fork() and exec() still shows its parent's command line, and
   * launchers (pyenv shims, `env`, shell wrappers) exec several times in their first moments. */
  private recheckCmd = new Map<number, number>();
  /** Each live process's argv as last recorded (NUL-joined). */
  private lastCmd = new Map<number, string>();
  private running = false;
  private limitFired = false;
  /** Thresholds still to fire (Infinity once fired). */
  private readonly pendingThresholds: Float64Array;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private readonly root: string;

  constructor(private readonly opts: SamplerOptions) {
    this.t0 = opts.origin?.perfMs ?? performance.now();
    this.startWallMs = opts.origin?.wallMs ?? Date.now();
    this.root = opts.procRoot ?? '/';
    this.pendingThresholds = Float64Array.from(opts.thresholds ?? []);
    this.tree = new TreeTracker(opts.rootPid, this.root);
    this.nextDue = this.t0;
    // (start() moves it to the first sample: the schedule starts there, not at the origin, which
    // the session may have read some set-up time earlier.)
    this.intervalMs = opts.schedule ? intervalAt(opts.schedule, 0) : opts.intervalMs;
    this.pssEveryMs = this.intervalMs;
  }

  now(): number {
    return performance.now() - this.t0;
  }

  /** Takes the first sample at once and keeps sampling until stop(). */
  start(): void {
    this.running = true;
    this.nextDue = performance.now();
    this.addProcess(this.opts.rootPid, readStat(this.opts.rootPid, this.root)?.ppid ?? 0);
    this.tick();
  }

  private tick = (): void => {
    this.timer = null;
    if (!this.running) return;
    this.sampleOnce();
    if (this.opts.schedule) this.intervalMs = intervalAt(this.opts.schedule, this.nextDue - this.t0);
    const interval = this.intervalMs;
    this.nextDue += interval;
    const nowAbs = performance.now();
    if (this.nextDue < nowAbs - Math.max(MAX_CATCH_UP * interval, MAX_CATCH_UP_MS)) {
      this.skipped += Math.floor((nowAbs - this.nextDue) / interval);
      this.nextDue = nowAbs;
    }
    this.schedule();
  };

  private schedule(): void {
    const delay = this.nextDue - performance.now();
    // At 20 ms and more, a timer's ~1 ms lateness is under 5% of an interval: one plain timer per
    // sample costs least (the default 100 ms runs for hours; BENCHMARKS.md §2).
    if (this.intervalMs >= COARSE_INTERVAL_MS) {
      this.timer = delay > 0 ? setTimeout(this.tick, delay) : setImmediate(this.tick);
      return;
    }
    if (delay > 2) {
      this.timer = setTimeout(this.fine, delay - 1.5);
    } else {
      this.timer = setImmediate(this.fine);
    }
  }

  private fine = (): void => {
    this.timer = null;
    if (!this.running) return;
    const rest = this.nextDue - performance.now();
    if (rest > 1.6) {
      this.schedule();
      return;
    }
    if (rest > 0.02) Atomics.wait(sleeper, 0, 0, rest);
    this.tick();
  };

  /** One sample of the tree: discovery (when due), readings, cgroup, PSS (when due), flush (when due). */
  sampleOnce(): void {
    const w = this.opts.writer;
    const t = this.now();
    if (t - this.lastScanMs >= Math.max(MIN_SCAN_MS, this.intervalMs) || this.readers.size === 0) {
      this.lastScanMs = t;
      if (this.recheckCmd.size) this.recheckCommands();
      for (const { pid, ppid } of this.tree.scan()) this.addProcess(pid, ppid);
    }
    const rows: number[][] = [];
    let totalKiB = 0;
    for (const [pid, reader] of this.readers) {
      try {
        const r = reader.read();
        rows.push([pid, r.rssKiB, r.anonKiB, r.fileKiB, r.shmemKiB, r.hwmKiB]);
        totalKiB += r.rssKiB;
        if (reader.renamed) this.commandChanged(pid, t);
      } catch (e) {
        if (!(e instanceof ProcessGoneError)) throw e;
        this.dropProcess(pid, t);
      }
    }
    const ts = roundMs(t);
    let cgUsage: number | null = null;
    let cgWorkingSet: number | null = null;
    let cgOomKills: number | null = null;
    if (this.opts.cgroup) {
      try {
        const c = this.opts.cgroup.read();
        cgUsage = c.usageBytes;
        cgWorkingSet = c.workingSetBytes;
        cgOomKills = c.oomKills;
        w.append({
          type: 's', t: ts, p: rows,
          c: [Math.round(c.usageBytes / KiB), Math.round(c.workingSetBytes / KiB), c.peakBytes === null ? null : Math.round(c.peakBytes / KiB), c.oomKills],
        });
        if (c.oomKills !== null) {
          if (this.lastOomKills !== null && c.oomKills > this.lastOomKills) {
            w.append({ type: 'oom', t: ts, oomKills: c.oomKills });
            this.opts.onOomKill?.(c.oomKills);
          }
          this.lastOomKills = c.oomKills;
        }
        if (t - this.lastLimitReadMs >= 1000) {
          this.lastLimitReadMs = t;
          const limit = this.opts.cgroup.readLimit();
          if (this.lastLimit !== undefined && limit !== this.lastLimit) w.append({ type: 'cglimit', t: ts, limitBytes: limit });
          this.lastLimit = limit;
        }
      } catch {
        // The cgroup can vanish when a container ends before memhunt does: keep the process data.
        this.opts.cgroup = null;
        w.append({ type: 's', t: ts, p: rows });
      }
    } else {
      w.append({ type: 's', t: ts, p: rows });
    }
    this.samples++;
    if (this.opts.metric !== 'rss' && t >= this.nextPssMs) this.readPss(t);

    const limit = this.opts.limitBytes;
    const metricBytes = this.opts.metric === 'rss' ? totalKiB * KiB : this.lastPssTotalBytes;
    const pending = this.pendingThresholds;
    if (metricBytes !== null) {
      let largest = -1;
      for (let i = 0; i < pending.length; i++) {
        if (metricBytes >= pending[i]!) {
          pending[i] = Infinity;
          if (largest < 0) {
            largest = this.opts.rootPid;
            let largestKiB = -1;
            for (const row of rows) {
              if (row[1]! > largestKiB) {
                largestKiB = row[1]!;
                largest = row[0]!;
              }
            }
          }
          this.opts.onThreshold?.(i, metricBytes, t, largest);
        }
      }
    }
    if (limit !== null && !this.limitFired) {
      if (metricBytes !== null && metricBytes > limit) {
        this.limitFired = true;
        w.append({ type: 'limit', t: ts, metric: this.opts.metric, bytes: metricBytes, limitBytes: limit });
        w.flush();
        this.opts.onLimit?.(metricBytes);
      }
    }
    // Near a limit (above NEAR_LIMIT_SHARE of --limit, or of the cgroup's limit) every sample is
    // flushed: an OOM kill of the container then loses at most one interval (docs/cluster.md).
    const cgLimit = this.lastLimit ?? null;
    const nearLimit =
      (limit !== null && metricBytes !== null && metricBytes > NEAR_LIMIT_SHARE * limit) ||
      (cgLimit !== null && cgUsage !== null && cgUsage > NEAR_LIMIT_SHARE * cgLimit);
    if (nearLimit || t - this.lastFlushMs >= FLUSH_EVERY_MS) {
      this.lastFlushMs = t;
      w.flush();
    }
    this.opts.onSample?.({
      tMs: t, totalRssBytes: totalKiB * KiB, metricBytes, processes: rows.length, cgroupUsageBytes: cgUsage,
      limitBytes: limit ?? this.lastLimit ?? null,
      rows, cgroupWorkingSetBytes: cgWorkingSet, oomKills: cgOomKills, samples: this.samples,
    });
  }

  /** PSS/USS of every live process; the next read is scheduled so reads stay within PSS_BUDGET of wall time. */
  private readPss(t: number): void {
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const rows: number[][] = [];
    let sum = 0;
    let useSum = 0;
    for (const pid of this.readers.keys()) {
      const r = readSmapsRollup(pid, this.root);
      if (!r) continue;
      rows.push([pid, r.pssKiB, r.ussKiB, r.swapKiB]);
      sum += r.pssKiB;
      useSum += r.ussKiB;
    }
    // The cost is the CPU time the reads took (the kernel's page-table walk is system time of this
    // process), not their wall time: on a loaded machine one read descheduled for 0.5 s once pushed
    // the next read 11 s away and PSS missed three children that lived 2 s. The wall time bounds it
    // (cpuUsage also counts Node's other threads).
    const cpu = process.cpuUsage(cpuBefore);
    const costMs = Math.min(performance.now() - started, (cpu.user + cpu.system) / 1000);
    this.pssEveryMs = Math.max(this.intervalMs, Math.ceil(costMs / PSS_BUDGET));
    this.nextPssMs = t + this.pssEveryMs;
    this.lastPssTotalBytes = (this.opts.metric === 'uss' ? useSum : sum) * KiB;
    this.opts.writer.append({ type: 'pss', t: roundMs(t), everyMs: this.pssEveryMs, p: rows });
  }

  private addProcess(pid: number, ppid: number): void {
    if (this.readers.has(pid)) return;
    let reader: ProcessStatusReader;
    try {
      reader = new ProcessStatusReader(pid, this.root);
    } catch {
      this.tree.remove(pid);
      return;
    }
    this.readers.set(pid, reader);
    const cmd = readCmdline(pid, this.root);
    this.recheckCmd.set(pid, this.now() + CMD_RECHECK_MS);
    this.lastCmd.set(pid, cmd.join('\0'));
    this.opts.writer.append({ type: 'proc', t: roundMs(this.now()), pid, ppid, cmd });
    this.ppids.set(pid, ppid);
  }

  /**
   * The process exec'd (its name changed) after its young-process window: under load pyenv's shim
   * reached python3 later than CMD_RECHECK_MS and the run, its summary and fleet named it
   * "bash …/pyenv-exec python3".
   */
  private commandChanged(pid: number, t: number): void {
    const cmd = readCmdlineRaw(pid, this.root);
    const joined = cmd.join('\0');
    if (!cmd.length || joined === this.lastCmd.get(pid)) return;
    this.lastCmd.set(pid, joined);
    this.opts.writer.append({ type: 'proc', t: roundMs(t), pid, ppid: this.ppids.get(pid) ?? 0, cmd });
  }

  private recheckCommands(): void {
    const t = this.now();
    for (const [pid, untilMs] of this.recheckCmd) {
      if (!this.readers.has(pid) || t > untilMs) this.recheckCmd.delete(pid);
      else this.commandChanged(pid, t);
    }
  }

  private dropProcess(pid: number, t: number): void {
    this.readers.get(pid)?.close();
    this.readers.delete(pid);
    this.ppids.delete(pid);
    this.lastCmd.delete(pid);
    this.tree.remove(pid);
    this.opts.writer.append({ type: 'exit', t: roundMs(t), pid });
    this.opts.onProcessExit?.(pid);
  }

  /** pids currently in the tree (for signalling it). */
  livePids(): number[] {
    return [...this.readers.keys()];
  }

  /** Stops the loop; takes no further sample. */
  stop(): void {
    this.running = false;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
  }

  /** Closes every fd; after stop(). */
  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
    this.tree.close();
  }
}
