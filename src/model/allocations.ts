/**
 * Sampled allocations (`memhunt run --allocations`, docs/allocations.md): the three views of the
 * same samples, per process or for the whole tree.
 *
 *  - peak: the samples live when the estimated live total was highest. The samples and frees are
 *    replayed in the order they happened (each carries its time), so the moment is the exact
 *    sample or free at which the estimate peaked, not a guess from coarser snapshots;
 *  - growth: live at `untilMs` minus live at `sinceMs`, per stack (the leak view: a temporary
 *    allocated and freed in between nets zero);
 *  - allocated: every sample up to `untilMs` (churn).
 *
 * A block of size s was sampled with probability p = 1 - exp(-s/mean); it stands for s/p bytes and
 * 1/p objects (unbiased: E[sum] = the true total). The estimate of a total B made of small blocks
 * has a relative standard error of about sqrt(mean / B): 512 KiB mean, 100 MiB -> ~7%.
 */
import type { AllocFrame } from '../contract/shapes';
import type { AllocBatchEvent, MemoryRecording } from './recording';
import { formatBytes } from '../units';

export type AllocView = 'peak' | 'growth' | 'allocated';

export interface AllocSample {
  pid: number;
  id: number;
  stack: AllocFrame[];
  sizeBytes: number;
  /** Estimated bytes and objects this sample stands for. */
  bytes: number;
  objects: number;
  thread: string;
  tMs: number;
  /** When it was freed, or null if still live at the end of the recording. */
  freedMs: number | null;
}

export interface ProcessAllocations {
  pid: number;
  meanBytes: number;
  samples: AllocSample[];
  dropped: number;
  /** The hooks' own memory, last reported. */
  ownBytes: number;
  /** numpy's array data was sampled (its handler was installed). */
  numpy: boolean;
}

/** Every process's samples, with frees matched; empty when the recording has no allocation samples. */
export function collectAllocations(rec: MemoryRecording): ProcessAllocations[] {
  const bootstraps = new Set(rec.processes.filter((p) => isMultiprocessingBootstrap(p.command)).map((p) => p.pid));
  const frames = new Map<string, AllocFrame>();
  const intern = (f: AllocFrame, pid: number): AllocFrame => {
    // A spawn or forkserver process runs multiprocessing's `-c` string, not the user's: flame put a
    // spawn worker's start-up ("+6.50 MiB <string>:1 <module>") on the user's code.
    if (f[0] === '<string>' && bootstraps.has(pid)) f = [MP_BOOTSTRAP_FILE, f[1], f[2]];
    const key = `${f[0]}\u0000${f[1]}\u0000${f[2]}`;
    let got = frames.get(key);
    if (!got) frames.set(key, (got = f));
    return got;
  };
  const byPid = new Map<number, { p: ProcessAllocations; stacks: Map<number, AllocFrame[]>; ids: Map<number, AllocSample>; threads: Map<number, string> }>();
  for (const ev of rec.events) {
    if (ev.kind !== 'alloc') continue;
    const b = ev as AllocBatchEvent;
    let e = byPid.get(b.pid);
    if (!e) {
      e = { p: { pid: b.pid, meanBytes: b.meanBytes, samples: [], dropped: 0, ownBytes: 0, numpy: false }, stacks: new Map(), ids: new Map(), threads: new Map() };
      byPid.set(b.pid, e);
    }
    e.p.dropped = b.stats.dropped;
    e.p.ownBytes = b.stats.ownBytes;
    if (b.numpy) e.p.numpy = true;
    // Frames are interned: one array per distinct (file, function, line) across the recording, so
    // views and renderers can key on identity (and 100 k stacks share a few thousand frames).
    for (const [id, frames] of b.stacks) e.stacks.set(id, frames.map((f) => intern(f, b.pid)));
    for (const [ident, name] of b.threads) e.threads.set(ident, name);
    for (const [id, stackId, size, thread, t] of b.samples) {
      const p = 1 - Math.exp(-size / b.meanBytes);
      const w = p > 0 ? 1 / p : 1;
      const s: AllocSample = {
        pid: b.pid, id, stack: e.stacks.get(stackId) ?? [['?', '(stack not recorded)', 0]], sizeBytes: size, bytes: size * w, objects: w,
        thread: e.threads.get(thread) ?? `thread-${thread}`, tMs: t, freedMs: null,
      };
      e.ids.set(id, s);
      e.p.samples.push(s);
    }
    for (const [id, t] of b.frees) {
      const s = e.ids.get(id);
      if (s) {
        s.freedMs = Math.max(t, s.tMs);
        e.ids.delete(id);
      }
    }
  }
  return [...byPid.values()].map((e) => e.p);
}

/** How `<string>` frames of a multiprocessing spawn or forkserver process are named (see isMultiprocessingBootstrap). */
export const MP_BOOTSTRAP_FILE = '<multiprocessing bootstrap>';

/** python -c "from multiprocessing.spawn import spawn_main; spawn_main(...)" and its forkserver and resource tracker kin. */
export function isMultiprocessingBootstrap(command: readonly string[]): boolean {
  const i = command.indexOf('-c');
  return i >= 0 && /^\s*from multiprocessing\.(?:spawn|forkserver|resource_tracker|popen_\w+) import /.test(command[i + 1] ?? '');
}

export interface LivePeak {
  tMs: number;
  bytes: number;
}

/** The moment the estimated live total of these samples was highest (replayed in time order). */
export function livePeak(samples: AllocSample[]): LivePeak {
  const steps: [number, number][] = [];
  for (const s of samples) {
    steps.push([s.tMs, s.bytes]);
    if (s.freedMs !== null) steps.push([s.freedMs, -s.bytes]);
  }
  // Allocations before frees at the same time: a peak is never missed by a tie.
  steps.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let live = 0;
  let best: LivePeak = { tMs: 0, bytes: 0 };
  for (const [t, d] of steps) {
    live += d;
    if (live > best.bytes) best = { tMs: t, bytes: live };
  }
  return best;
}

export function liveAt(s: AllocSample, tMs: number): boolean {
  return s.tMs <= tMs && (s.freedMs === null || s.freedMs > tMs);
}

export interface ViewOptions {
  view: AllocView;
  /** Only these processes (default: all). */
  pid?: number | null;
  /** The moment of the live views (default: the end); the end of the allocated view. */
  atMs?: number | null;
  /** growth: since this moment (default: the first sample). */
  sinceMs?: number | null;
}

/** One weighted stack of a view: estimated bytes and objects (negative in a growth view for what shrank). */
export interface WeightedStack {
  stack: AllocFrame[];
  bytes: number;
  objects: number;
  pids: Set<number>;
}

export interface AllocViewResult {
  view: AllocView;
  /** What moment the view shows (peak: the peak's time; growth: until). */
  tMs: number;
  sinceMs: number | null;
  totalBytes: number;
  stacks: WeightedStack[];
  /** Processes counted. */
  pids: number[];
}

/** The stacks of a view, largest first (by absolute bytes). */
export function allocView(procs: ProcessAllocations[], o: ViewOptions): AllocViewResult {
  const chosen = o.pid != null ? procs.filter((p) => p.pid === o.pid) : procs;
  const all = chosen.flatMap((p) => p.samples);
  const endMs = all.reduce((m, s) => Math.max(m, s.tMs, s.freedMs ?? 0), 0);
  const acc = new Map<string, WeightedStack>();
  const add = (s: AllocSample, sign: number): void => {
    const key = stackKey(s.stack);
    let w = acc.get(key);
    if (!w) acc.set(key, (w = { stack: s.stack, bytes: 0, objects: 0, pids: new Set() }));
    w.bytes += sign * s.bytes;
    w.objects += sign * s.objects;
    w.pids.add(s.pid);
  };
  let tMs = o.atMs ?? endMs;
  let sinceMs: number | null = null;
  if (o.view === 'peak') {
    tMs = o.atMs ?? livePeak(all).tMs;
    for (const s of all) if (liveAt(s, tMs)) add(s, 1);
  } else if (o.view === 'allocated') {
    for (const s of all) if (s.tMs <= tMs) add(s, 1);
  } else {
    sinceMs = o.sinceMs ?? 0;
    for (const s of all) {
      if (liveAt(s, tMs)) add(s, 1);
      if (liveAt(s, sinceMs)) add(s, -1);
    }
  }
  const stacks = [...acc.values()].filter((w) => Math.abs(w.bytes) >= 0.5).sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes));
  return { view: o.view, tMs, sinceMs, totalBytes: stacks.reduce((n, w) => n + w.bytes, 0), stacks, pids: chosen.map((p) => p.pid) };
}

export function stackKey(stack: AllocFrame[]): string {
  return stack.map((f) => `${f[0]}\u0000${f[1]}\u0000${f[2]}`).join('\u0001');
}

// ---------------------------------------------------------------- attribution

const SITE = /[/\\](?:site|dist)-packages[/\\]([^/\\]+)/;
const STDLIB = /[/\\]lib[/\\]python\d+(?:\.\d+)?t?[/\\]|^<frozen /;
const MEMHUNT = /[/\\]runtimes[/\\]python[/\\](?:lib|inject)[/\\]/;
const COMMAND_LINE_CODE = new Set(['<string>', '<stdin>', '<console>']);

/** The package a file belongs to: a site-packages name, "stdlib", "(memhunt)", or "(your code)". */
export function packageOf(file: string): string {
  // Pseudo-files: code typed or given on the command line is the user's; what a library generated
  // (numpy < 1.25 wraps its functions in "<__array_function__ internals>") is not: a 305 MiB spike
  // at np_spike.py:6 was put on "<__array_function__ internals>:200 …public_api" as "your code".
  if (file.startsWith('<')) {
    if (COMMAND_LINE_CODE.has(file)) return '(your code)';
    if (file.startsWith('<memhunt')) return '(memhunt)'; // the agent's numpy import hook (_alloc.HOOK_FILENAME)
    if (file === MP_BOOTSTRAP_FILE) return 'multiprocessing';
    if (file.startsWith('<frozen ')) return 'stdlib';
    return file === '<__array_function__ internals>' ? 'numpy' : '(generated)';
  }
  const m = SITE.exec(file);
  if (m) return m[1]!.replace(/\.py$/, '').replace(/-[\d.]+.*$/, '');
  if (MEMHUNT.test(file)) return '(memhunt)';
  if (STDLIB.test(file)) return 'stdlib';
  return '(your code)';
}

/** The innermost frame in the user's own code (not stdlib, not site-packages); the innermost frame when there is none. */
export function userFrame(stack: AllocFrame[]): AllocFrame | null {
  for (const f of stack) if (packageOf(f[0]) === '(your code)') return f;
  return stack[0] ?? null;
}

export interface LineRow {
  file: string;
  line: number;
  name: string;
  package: string;
  bytes: number;
  objects: number;
}

/** Bytes by the innermost user line of each stack (the attribution of every terminal view). */
export function byUserLine(stacks: WeightedStack[]): LineRow[] {
  const acc = new Map<string, LineRow>();
  for (const w of stacks) {
    const f = userFrame(w.stack);
    if (!f) continue;
    const key = `${f[0]}:${f[2]}`;
    let r = acc.get(key);
    if (!r) acc.set(key, (r = { file: f[0], line: f[2], name: f[1], package: packageOf(f[0]), bytes: 0, objects: 0 }));
    r.bytes += w.bytes;
    r.objects += w.objects;
  }
  return [...acc.values()].sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes));
}

/** Bytes by the package of the innermost user frame... of the innermost frame (who allocated). */
export function byPackage(stacks: WeightedStack[]): { package: string; bytes: number }[] {
  const acc = new Map<string, number>();
  for (const w of stacks) {
    const f = w.stack[0];
    const pkg = f ? packageOf(f[0]) : '?';
    acc.set(pkg, (acc.get(pkg) ?? 0) + w.bytes);
  }
  return [...acc.entries()].map(([pkg, bytes]) => ({ package: pkg, bytes })).sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes));
}

/**
 * Line-by-line, like memory_profiler's @profile report without decorating anything: for each
 * line of the user's files that is on any stack of the view, the bytes allocated under it
 * (inclusive: the line itself and everything it called). A line that appears twice in one stack
 * (recursion) counts once.
 */
export function inclusiveUserLines(stacks: WeightedStack[]): LineRow[] {
  const acc = new Map<string, LineRow>();
  for (const w of stacks) {
    const seen = new Set<string>();
    for (const f of w.stack) {
      if (packageOf(f[0]) !== '(your code)') continue;
      const key = `${f[0]}:${f[2]}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let r = acc.get(key);
      if (!r) acc.set(key, (r = { file: f[0], line: f[2], name: f[1], package: '(your code)', bytes: 0, objects: 0 }));
      r.bytes += w.bytes;
      r.objects += w.objects;
    }
  }
  return [...acc.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line));
}

/** The live estimate of a process at a time (for "not seen: RSS minus this"). */
export function liveBytesAt(p: ProcessAllocations, tMs: number): number {
  let n = 0;
  for (const s of p.samples) if (liveAt(s, tMs)) n += s.bytes;
  return n;
}

/** Folded stacks (flamegraph.pl / inferno / speedscope): root first, `frame;frame;frame bytes`. */
export function foldedStacks(stacks: WeightedStack[]): string {
  const lines: string[] = [];
  for (const w of stacks) {
    if (w.bytes <= 0) continue;
    const names = w.stack.slice().reverse().map((f) => `${f[1]} (${shortFile(f[0])}:${f[2]})`.replace(/[;\n\r]/g, '_'));
    lines.push(`${names.join(';')} ${Math.round(w.bytes)}`);
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

export function shortFile(file: string): string {
  const m = SITE.exec(file);
  if (m) return file.slice(m.index + m[0].length - m[1]!.length);
  const parts = file.split(/[/\\]/);
  return parts.slice(-2).join('/');
}

/** The note of a run with --allocations that recorded no sample (ALLOCATIONS_NOTE starts it). */
export function allocationsNote(meanBytes: number, pythonPids: number[], samplingPids: number[]): string {
  if (pythonPids.length === 0) return `${ALLOCATIONS_NOTE} no Python process ran with memhunt's agent; nothing sampled (sampled allocations are Python's)`;
  if (samplingPids.length === 0) {
    return `${ALLOCATIONS_NOTE} no Python process could run the sampling hooks (pid ${pythonPids.join(', ')}: see the notes before); nothing sampled`;
  }
  return `${ALLOCATIONS_NOTE} pid ${samplingPids.join(', ')} sampled, but allocated too little for a sample (one per ${formatBytes(meanBytes)} allocated on average): give a smaller mean, e.g. --allocations=64KiB`;
}

export const ALLOCATIONS_NOTE = '--allocations:';

/**
 * Why a recording has no sampled allocation, in words after "has no sampled allocations: ": the
 * run's own note when it has one, else what its agents say (a recording made before the note).
 */
export function noAllocationsReason(rec: MemoryRecording): string {
  const note = rec.events.find((e) => e.kind === 'note' && e.text.startsWith(ALLOCATIONS_NOTE));
  if (note && note.kind === 'note') return `it was recorded with ${note.text.replace(ALLOCATIONS_NOTE, '--allocations, and')}`;
  const python = rec.events.filter((e) => e.kind === 'agent' && e.runtime === 'python');
  if (python.length === 0) return 'no Python process ran with memhunt\'s agent (sampled allocations are Python\'s: memhunt run --allocations -- python3 ...)';
  if (python.some((e) => e.kind === 'agent' && e.features.includes('alloc'))) {
    return 'its Python processes ran the sampling hooks, but no sample reached the recording (a short run may allocate less than one mean): record again with a smaller mean, e.g. --allocations=64KiB';
  }
  return 'record with memhunt run --allocations -- CMD';
}
