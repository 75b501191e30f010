// Benchmarks of the verdicts (memhunt analyze). Plain ESM over the compiled dist/; build first.
//
//   node bench/analyze.mjs speed [--samples N]   analysis time of an N-sample recording (default
//                                                10 M), built in memory; then the same written as
//                                                a real .mh and read back: read time reported apart
//   node bench/analyze.mjs duration              records the corpus (fixtures/corpus) under
//                                                memhunt run, truncates each recording at growing
//                                                lengths, and finds from when the verdict is right
//   node bench/analyze.mjs duration --from DIR   the same on recordings made earlier (DIR/<workload>.mh);
//                                                --keep keeps fresh recordings in .bench-out/
//   node bench/analyze.mjs                       both
//
// Results: bench/results/analyze.json (and a summary on stdout).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH_DIR, '..');
const require = createRequire(import.meta.url);
const dist = (p) => path.join(REPO, 'dist', p);
if (!fs.existsSync(dist('analysis/analyze.js'))) {
  console.error('bench: dist/ is missing: build first (npx tsc -p .)');
  process.exit(2);
}
const { SeriesBuilder, emptySeries } = require(dist('model/series.js'));
const { analyzeRecording } = require(dist('analysis/analyze.js'));
const { readMemhuntRecording } = require(dist('recording/reader.js'));
const { RecordingWriter } = require(dist('recording/writer.js'));
const spec = require(dist('recording/spec.js'));

const MiB = 1024 * 1024;
const OUT_DIR = path.join(REPO, '.bench-out');
const RESULTS = path.join(BENCH_DIR, 'results', 'analyze.json');

function machine() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  return { date: new Date().toISOString(), cpu, nproc: os.cpus().length, memTotalMiB: Math.round(os.totalmem() / MiB), node: process.version, loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A day-long shape: sawtooth of 1 s period, 200 MiB teeth, a slow leak, noise. Deterministic. */
function shapeAt(i, dtMs) {
  const t = (i * dtMs) / 1000;
  const noise = ((i * 2654435761) % 1000) / 1000 - 0.5;
  return (300 + t * 0.002 + ((t % 1) * 200) + noise) * MiB;
}

function syntheticRecording(n, dtMs) {
  const total = new SeriesBuilder('total', n);
  for (let i = 0; i < n; i++) total.push(i * dtMs, Math.round(shapeAt(i, dtMs) / 1024) * 1024);
  const rss = total.build();
  const track = { pid: 1, ppid: 0, command: ['python3', 'train.py'], firstSeenMs: 0, exitMs: null, exitCode: null, exitSignal: null, rss, anon: emptySeries(), file: emptySeries(), shmem: emptySeries(), pss: emptySeries(), uss: emptySeries(), hwmBytes: NaN };
  return {
    meta: { source: 'memhunt', formatVersion: 1, memhuntVersion: 'bench', mode: 'run', command: ['python3', 'train.py'], cwd: null, host: null, containerId: null, startWallMs: 0, intervalMs: dtMs, metric: 'rss', limitBytes: 8 * 1024 * MiB, cgroup: null, rootPid: 1 },
    total: rss, totalPss: emptySeries(), processes: [track], cgroup: null, events: [], end: { tMs: (n - 1) * dtMs, reason: 'exited', exitCode: 0, exitSignal: null }, warnings: [], truncated: false,
  };
}

function timeAnalysis(rec, runs = 5) {
  const ms = [];
  let a;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    a = analyzeRecording(rec);
    ms.push(performance.now() - t0);
  }
  return { medianMs: +median(ms).toFixed(1), minMs: +Math.min(...ms).toFixed(1), runs, verdict: a.verdict, cycles: a.tree.floors?.cycles ?? null, ratePerMin: a.tree.growth ? +(a.tree.growth.bytesPerMinute / MiB).toFixed(3) : null };
}

async function speed(n) {
  const dtMs = 10;
  console.log(`speed: ${n.toLocaleString('en')} samples (${((n * dtMs) / 3_600_000).toFixed(1)} h at ${dtMs} ms), one process (tree total + its RSS: two series analysed)`);
  const t0 = performance.now();
  const rec = syntheticRecording(n, dtMs);
  const buildMs = performance.now() - t0;
  const inMemory = timeAnalysis(rec);
  console.log(`  analysis (in memory): median ${inMemory.medianMs} ms, min ${inMemory.minMs} ms over ${inMemory.runs} runs -> ${inMemory.verdict}, ${inMemory.cycles} cycles, ${inMemory.ratePerMin} MiB/min (true 0.12)`);

  // The same as a real recording: written with the real writer, read back with the real reader.
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `analyze-${n}.mh`);
  const header = {
    type: 'header', format: spec.RECORDING_FORMAT, version: spec.RECORDING_VERSION, memhuntVersion: 'bench', mode: 'run', command: ['python3', 'train.py'], cwd: REPO, host: os.hostname(), containerId: null,
    startWallMs: Date.now(), startIso: new Date().toISOString(), intervalMs: dtMs, metric: 'rss', limitBytes: null, rootPid: 1, cgroup: null,
    fields: { p: [...spec.PROCESS_FIELDS], c: [...spec.CGROUP_FIELDS], pss: [...spec.PSS_FIELDS] }, labels: {},
  };
  const tw = performance.now();
  const w = new RecordingWriter(file, header);
  w.append({ type: 'proc', t: 0, pid: 1, ppid: 0, cmd: ['python3', 'train.py'] });
  for (let i = 0; i < n; i++) {
    const kib = Math.round(shapeAt(i, dtMs) / 1024);
    w.append({ type: 's', t: i * dtMs, p: [[1, kib, kib - 4000, 4000, 0, kib]] });
    if (i % 100 === 99) w.flush(); // one member per second of recording, as the sampler writes
  }
  w.append({ type: 'end', t: (n - 1) * dtMs, reason: 'exited', code: 0, signal: null, samples: n });
  w.close();
  const writeMs = performance.now() - tw;
  const tr = performance.now();
  const back = await readMemhuntRecording(file);
  const readMs = performance.now() - tr;
  const fromFile = timeAnalysis(back, 3);
  const bytes = fs.statSync(file).size;
  fs.rmSync(file);
  console.log(`  file: ${(bytes / MiB).toFixed(1)} MiB .mh; read ${(readMs / 1000).toFixed(1)} s; analysis of what was read: median ${fromFile.medianMs} ms`);
  return { samples: n, intervalMs: dtMs, buildInMemoryMs: +buildMs.toFixed(0), analysisInMemory: inMemory, file: { bytes, writeMs: +writeMs.toFixed(0), readMs: +readMs.toFixed(0), analysis: fromFile } };
}

// ---------------------------------------------------------------------------------------------
// Minimum duration: truncate real corpus recordings.

function sliceSeries(s, tMax) {
  let n = 0;
  while (n < s.tMs.length && s.tMs[n] <= tMax) n++;
  return { tMs: s.tMs.subarray(0, n), values: s.values.subarray(0, n) };
}

function truncate(rec, tMax) {
  return {
    ...rec,
    total: sliceSeries(rec.total, tMax),
    processes: rec.processes.filter((p) => p.firstSeenMs <= tMax).map((p) => ({ ...p, rss: sliceSeries(p.rss, tMax), exitMs: p.exitMs !== null && p.exitMs <= tMax ? p.exitMs : null })),
    cgroup: null, end: null, truncated: true,
  };
}

function runCorpusWorkload(w, out) {
  const prog = path.join(REPO, 'fixtures', 'corpus', w.file);
  const interp = w.file.endsWith('.py') ? 'python3' : process.execPath;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [dist('cli/main.js'), 'run', '-q', '--interval', '50ms', '-o', out, '--', interp, prog], { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${w.file} exited ${code}`))));
  });
}

async function duration({ from, keep, quiet }) {
  const labels = JSON.parse(fs.readFileSync(path.join(REPO, 'fixtures', 'corpus', 'labels.json'), 'utf8'));
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const recorded = [];
  if (from) {
    // Recordings made earlier, named <workload>.mh (e.g. by the corpus test's way of running them).
    for (const w of labels.workloads) {
      const out = path.join(from, w.file.replace(/\.\w+$/, '.mh'));
      if (fs.existsSync(out)) recorded.push({ w, out });
    }
    keep = true;
    if (!quiet) console.log(`duration: ${recorded.length} corpus recordings from ${from}, truncated at 0.25 s steps`);
  } else {
    console.log(`duration: recording ${labels.workloads.length} corpus workloads (2 at a time), then truncating each at 0.25 s steps`);
    const queue = [...labels.workloads];
    await Promise.all([0, 1].map(async () => {
      while (queue.length) {
        const w = queue.shift();
        const out = path.join(OUT_DIR, `${w.file.replace(/\.\w+$/, '')}.mh`);
        await runCorpusWorkload(w, out);
        recorded.push({ w, out });
      }
    }));
  }
  const rows = [];
  for (const { w, out } of recorded.sort((a, b) => labels.workloads.indexOf(a.w) - labels.workloads.indexOf(b.w))) {
    const rec = await readMemhuntRecording(out);
    const full = analyzeRecording(rec);
    const endMs = rec.total.tMs[rec.total.tMs.length - 1];
    const steps = [];
    for (let t = 500; t < endMs; t += 250) steps.push(t);
    steps.push(endMs);
    const verdicts = steps.map((t) => {
      const a = analyzeRecording(truncate(rec, t));
      return { tMs: t, verdict: a.verdict, cycles: a.tree.floors?.cycles ?? 0, leaking: a.leakingProcesses.map((p) => p.command.join(' ')) };
    });
    const right = (v) => v.verdict === w.expected && (!w.leakingProcess || (v.leaking.length === 1 && v.leaking[0].includes(w.leakingProcess)));
    // From when on is every verdict right?
    let k = verdicts.length;
    while (k > 0 && right(verdicts[k - 1])) k--;
    const firstRight = k < verdicts.length ? verdicts[k] : null;
    const wrongBefore = verdicts.slice(0, k).filter((v) => v.verdict !== 'insufficient data').map((v) => `${(v.tMs / 1000).toFixed(2)}s:${v.verdict}`);
    const leakWrong = verdicts.filter((v) => w.expected !== 'leak' && v.verdict === 'leak').map((v) => (v.tMs / 1000).toFixed(2));
    rows.push({
      file: w.file, expected: w.expected, fullVerdict: full.verdict, recordedS: +(endMs / 1000).toFixed(2),
      reliableFromS: firstRight ? +(firstRight.tMs / 1000).toFixed(2) : null, cyclesThen: firstRight ? firstRight.cycles : null,
      periodMs: full.tree.floors?.periodMs ? Math.round(full.tree.floors.periodMs) : null,
      wrongVerdictsBefore: wrongBefore, leakVerdictAtS: leakWrong,
      verdicts: verdicts.map((v) => `${(v.tMs / 1000).toFixed(2)}:${v.verdict === 'insufficient data' ? '?' : v.verdict}`).join(' '),
    });
    if (!keep) fs.rmSync(out);
  }
  console.log('  workload                 expected  full     reliable from  cycles then  wrong verdicts before (other than insufficient data)');
  for (const r of rows) {
    console.log(`  ${r.file.padEnd(24)} ${r.expected.padEnd(9)} ${r.fullVerdict.padEnd(8)} ${String(r.reliableFromS ?? '-').padStart(6)} s of ${String(r.recordedS).padEnd(5)} ${String(r.cyclesThen ?? '-').padStart(5)}        ${r.wrongVerdictsBefore.join(' ') || '-'}`);
  }
  return rows;
}

const args = process.argv.slice(2);
const mode = args.find((a) => !a.startsWith('--')) ?? 'all';
const samplesArg = args.indexOf('--samples');
const n = samplesArg >= 0 ? Number(args[samplesArg + 1]) : 10_000_000;
const results = fs.existsSync(RESULTS) ? JSON.parse(fs.readFileSync(RESULTS, 'utf8')) : {};
results.machine = machine();
if (mode === 'speed' || mode === 'all') results.speed = await speed(n);
const fromArg = args.indexOf('--from');
const durationOpts = { from: fromArg >= 0 ? args[fromArg + 1] : null, keep: args.includes('--keep'), quiet: false };
if (mode === 'duration' || mode === 'all') {
  const rows = await duration(durationOpts);
  if (!durationOpts.from) results.duration = rows; // only fresh recordings go into the results
}
fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
console.log(`wrote ${path.relative(REPO, RESULTS)}`);
