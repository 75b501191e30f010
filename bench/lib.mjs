// Shared helpers of the benchmarks (plain ESM, Node built-ins only).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(BENCH_DIR, '..');
/** The CLI measured: this checkout's build, or MEMHUNT_BENCH_CLI (another build's dist/cli/main.js, to compare two versions). */
export const MEMHUNT = process.env.MEMHUNT_BENCH_CLI ? path.resolve(process.env.MEMHUNT_BENCH_CLI) : path.join(REPO, 'dist', 'cli', 'main.js');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');
/** Scratch folder for recordings (ignored by .gitignore); emptied by each benchmark at the end. */
export const OUT_DIR = path.join(REPO, '.bench-out');
/** memory_profiler is installed for the system Python only (python3 on PATH is a pyenv without it). */
export const SYS_PYTHON = '/usr/bin/python3';
export const TREE_PY = path.join(BENCH_DIR, 'workloads', 'tree.py');
export const CPU_PY = path.join(BENCH_DIR, 'workloads', 'cpu_loop.py');
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function checkPrerequisites() {
  if (!fs.existsSync(MEMHUNT)) {
    console.error(`bench: ${MEMHUNT} is missing: build first (npx tsc -p .)`);
    process.exit(2);
  }
  try {
    execFileSync(SYS_PYTHON, ['-c', 'import mprof, memory_profiler, psutil'], { stdio: 'ignore' });
  } catch {
    console.error(`bench: ${SYS_PYTHON} cannot import mprof/memory_profiler/psutil (apt-get install python3-memory-profiler)`);
    process.exit(2);
  }
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.mkdirSync(OUT_DIR, { recursive: true });
}

export function machine() {
  const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return ''; } };
  const model = /model name\s*:\s*(.*)/.exec(read('/proc/cpuinfo'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  return {
    date: execFileSync('date', { encoding: 'utf8' }).trim(),
    dateIso: new Date().toISOString(),
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    kernel: os.release(),
    cpu: model,
    memTotalMiB: Math.round(os.totalmem() / 2 ** 20),
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    python: execFileSync(SYS_PYTHON, ['--version'], { encoding: 'utf8' }).trim(),
    memoryProfiler: execFileSync(SYS_PYTHON, ['-c', 'import memory_profiler as m; print(m.__version__)'], { encoding: 'utf8' }).trim(),
    clkTck: CLK_TCK,
  };
}

/** utime+stime (clock ticks) of one process alone (fields 14 and 15 of /proc/PID/stat), or null. */
export function cpuTicks(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); } catch { return null; }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3, so field N is rest[N - 3].
  const state = rest[0];
  if (state === 'Z' || state === 'X') return null;
  return Number(rest[11]) + Number(rest[12]);
}

/** VmRSS and VmHWM in KiB of one process, or null. */
export function memStatus(pid) {
  let text;
  try { text = fs.readFileSync(`/proc/${pid}/status`, 'latin1'); } catch { return null; }
  const f = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const rss = f('VmRSS');
  if (!Number.isFinite(rss)) return null; // zombie
  return { rssKiB: rss, hwmKiB: f('VmHWM') };
}

const liveGroups = new Set();
function killLeftovers() {
  for (const pgid of liveGroups) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
  }
  liveGroups.clear();
}
process.on('exit', killLeftovers);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { killLeftovers(); process.exit(130); });
}

/**
 * Runs a command in its own process group and polls the spawned process itself (the profiler,
 * not its children) every pollMs: CPU ticks (the last value read before it exited), VmRSS/VmHWM.
 * Resolves with wall time, the CPU series, memory peaks and stdout.
 */
export function runMonitored(cmd, args, { pollMs = 50, cwd = REPO, captureStdout = false } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, detached: true, stdio: ['ignore', captureStdout ? 'pipe' : 'ignore', 'pipe'] });
    const pid = child.pid;
    liveGroups.add(pid);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const series = []; // [msSinceSpawn, ticks]
    let lastTicks = 0;
    let maxRssKiB = 0;
    let hwmKiB = 0;
    const poll = () => {
      const t = cpuTicks(pid);
      if (t !== null) { lastTicks = t; series.push([performance.now() - t0, t]); }
      const m = memStatus(pid);
      if (m) { maxRssKiB = Math.max(maxRssKiB, m.rssKiB); hwmKiB = Math.max(hwmKiB, m.hwmKiB); }
    };
    poll();
    const timer = setInterval(poll, pollMs);
    child.on('error', (e) => { clearInterval(timer); liveGroups.delete(pid); reject(e); });
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const wallMs = performance.now() - t0;
      // Leave the group alone if it ended cleanly; kill anything the run left behind.
      try { process.kill(-pid, 'SIGKILL'); } catch { /* none left */ }
      liveGroups.delete(pid);
      resolve({ pid, code, signal, wallMs, cpuTicks: lastTicks, cpuSeries: series, maxRssKiB, hwmKiB, stdout, stderr });
    });
  });
}

/** CPU rate (share of one core) between two times (ms since spawn), from a polled series. */
export function cpuShareBetween(series, fromMs, toMs) {
  const at = (ms) => {
    let best = series[0];
    for (const p of series) if (Math.abs(p[0] - ms) < Math.abs(best[0] - ms)) best = p;
    return best;
  };
  const a = at(fromMs);
  const b = at(toMs);
  if (b[0] <= a[0]) return NaN;
  return ((b[1] - a[1]) / CLK_TCK) / ((b[0] - a[0]) / 1000);
}

/** Sample records of a memhunt recording: [{t, p}] plus counts. */
export function readMh(file) {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  const samples = [];
  let header = null;
  let end = null;
  let uncompressedBytes = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    uncompressedBytes += Buffer.byteLength(line) + 1;
    if (line.includes('"type":"s"')) {
      const r = JSON.parse(line);
      samples.push({ t: r.t, n: r.p.length });
    } else if (line.includes('"type":"header"')) header = JSON.parse(line);
    else if (line.includes('"type":"end"')) end = JSON.parse(line);
  }
  return { samples, header, end, bytes: fs.statSync(file).size, uncompressedBytes };
}

/** MEM and CHLD lines of an mprof .dat: [{t (s), n (process readings)}]. */
export function readDat(file) {
  const text = fs.readFileSync(file, 'utf8');
  const samples = [];
  let chld = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('MEM ')) {
      const f = line.split(' ');
      samples.push({ t: Number(f[2]) * 1000, n: 1 });
    } else if (line.startsWith('CHLD ')) {
      chld++;
      if (samples.length) samples[samples.length - 1].n++;
    }
  }
  return { samples, chldLines: chld, bytes: fs.statSync(file).size };
}

/** Rate over a recording: count / (last − first), also over its middle 60% (steady state). */
export function sampleRates(samples) {
  const n = samples.length;
  if (n < 2) return { count: n, durationS: 0, perS: 0, steadyPerS: 0, gapsOver2x: 0, maxGapMs: 0 };
  const first = samples[0].t;
  const last = samples[n - 1].t;
  const dur = (last - first) / 1000;
  const lo = first + 0.2 * (last - first);
  const hi = first + 0.8 * (last - first);
  const mid = samples.filter((s) => s.t >= lo && s.t <= hi).length;
  let maxGap = 0;
  for (let i = 1; i < n; i++) maxGap = Math.max(maxGap, samples[i].t - samples[i - 1].t);
  return { count: n, durationS: dur, perS: n / dur, steadyPerS: mid / ((hi - lo) / 1000), maxGapMs: maxGap };
}

export function median(xs) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function fmt(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (typeof x !== 'number') return String(x);
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Prints an aligned text table: rows of cells, first row is the header. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
}

export function writeResult(name, obj) {
  const file = path.join(RESULTS_DIR, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(obj, null, 2) + '\n');
  return file;
}

export function verdict(label, pass, detail) {
  return { label, pass, detail, line: `${pass ? 'PASS' : 'FAIL'}  ${label}: ${detail}` };
}

export function rmOut(...files) {
  for (const f of files) { try { fs.unlinkSync(f); } catch { /* gone */ } }
}

/** The value after a command-line flag (`--rounds 3`), or def when the flag is absent. */
export function opt(name, def, argv = process.argv.slice(2)) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : def;
}

/** A numeric option: Number(value after the flag), or def. */
export function numOpt(name, def, argv = process.argv.slice(2)) {
  const v = opt(name, undefined, argv);
  return v === undefined ? def : Number(v);
}

export const TIME = '/usr/bin/time';

/** What the plot and mprof benchmarks need: the build, /usr/bin/time, mprof and matplotlib (exit 2 naming what is missing). */
export function checkPlotPrerequisites() {
  if (!fs.existsSync(MEMHUNT)) { console.error(`bench: ${MEMHUNT} is missing: build first (npx tsc -p .)`); process.exit(2); }
  if (!fs.existsSync(TIME)) { console.error('bench: /usr/bin/time is missing (apt-get install time)'); process.exit(2); }
  try { execFileSync(SYS_PYTHON, ['-c', 'import mprof, matplotlib'], { stdio: 'ignore' }); } catch {
    console.error(`bench: ${SYS_PYTHON} cannot import mprof/matplotlib (apt-get install python3-memory-profiler python3-matplotlib)`);
    process.exit(2);
  }
  fs.mkdirSync(OUT_DIR, { recursive: true });
}

/**
 * Runs a command under /usr/bin/time (cwd: OUT_DIR): wall s, CPU s (user + system, all threads),
 * peak RSS in MiB (wait4's ru_maxrss, exact) and its stdout (not enumerable). Throws when the command fails.
 */
export function timed(cmd, args) {
  const r = spawnSync(TIME, ['-f', '%e %U %S %M', cmd, ...args], { encoding: 'utf8', cwd: OUT_DIR, maxBuffer: 64 * 2 ** 20 });
  const last = r.stderr.trim().split('\n').pop();
  const [wall, user, sys, kib] = last.split(' ').map(Number);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  // stdout is not enumerable: the results JSON keeps the figures only.
  return Object.defineProperty({ wallS: wall, cpuS: user + sys, peakRssMiB: kib / 1024 }, 'stdout', { value: r.stdout });
}

/** The end of a benchmark: prints the checks and the load, writes results/<name>.json, removes the scratch files. */
export function finish(name, results, checks, scratch = []) {
  console.log();
  for (const c of checks) console.log(c.line);
  results.checks = checks;
  results.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  console.log(`load average at the end: ${results.loadavgAtEnd.join(' ')}`);
  console.log(`\nresults: ${writeResult(name, results)}`);
  rmOut(...scratch);
}
