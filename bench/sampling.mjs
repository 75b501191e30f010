// Benchmark 1: sampling a 5-process tree at 1 ms, memhunt vs mprof, in the same run.
//   node bench/sampling.mjs [--rounds 3] [--seconds 10]
// Workload: bench/workloads/tree.py (a Python parent + 4 children holding 20/30/40/50 MiB,
// sleeping; CPU ~0). Each round runs memhunt then mprof (order alternates between rounds).
// Measured per run:
//   samples/s    memhunt: 's' records / (t_last - t_first); mprof: MEM lines / (ts_last - ts_first)
//   CPU          utime+stime of the profiler process alone (/proc/PID/stat 14+15), polled every
//                50 ms, last value kept: whole run (start-up included) and steady state (the CPU
//                rate between 2 s after start and 1.5 s before the end / the steady sample rate)
//   size         recording bytes per sample and per process-sample (one process's reading)
// Control (each round): bench/workloads/timer-floor.mjs, memhunt's timing strategy with no work,
// shows how many 1 ms slots this machine loses by itself (scheduling noise on a shared VM).
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  checkPrerequisites, machine, runMonitored, readMh, readDat, sampleRates, cpuShareBetween, median, fmt, table,
  writeResult, verdict, rmOut, MEMHUNT, SYS_PYTHON, TREE_PY, OUT_DIR, CLK_TCK, BENCH_DIR,
} from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const ROUNDS = opt('--rounds', 3);
const SECONDS = opt('--seconds', 10);

checkPrerequisites();
const info = machine();
console.log(`sampling: ${ROUNDS} rounds x (memhunt, mprof), ${SECONDS} s tree of 5 processes, interval 1 ms`);
console.log(`machine: ${info.nproc} cores, ${info.cpu}, kernel ${info.kernel}, ${info.date}, load ${info.loadavgAtStart.join(' ')}\n`);

function derive(kind, run, rec) {
  const rates = sampleRates(rec.samples);
  const processSamples = rec.samples.reduce((a, s) => a + s.n, 0);
  const cpuS = run.cpuTicks / CLK_TCK;
  const steadyShare = cpuShareBetween(run.cpuSeries, 2000, run.wallMs - 1500);
  const out = {
    kind,
    exit: run.code,
    wallS: run.wallMs / 1000,
    samples: rates.count,
    durationS: rates.durationS,
    samplesPerS: rates.perS,
    steadySamplesPerS: rates.steadyPerS,
    maxGapMs: rates.maxGapMs,
    processSamples,
    processesPerSample: processSamples / rates.count,
    cpuS,
    cpuUsPerSample: (cpuS / rates.count) * 1e6,
    steadyCpuShare: steadyShare,
    steadyCpuUsPerSample: (steadyShare / rates.steadyPerS) * 1e6,
    bytes: rec.bytes,
    bytesPerSample: rec.bytes / rates.count,
    bytesPerProcessSample: rec.bytes / processSamples,
    profilerPeakRssMiB: run.hwmKiB / 1024,
  };
  if (kind === 'memhunt') {
    out.uncompressedBytesPerSample = rec.uncompressedBytes / rates.count;
    out.expectedSamples = Math.floor(rates.durationS * 1000) + 1;
    out.missedPct = 100 * (1 - rates.count / out.expectedSamples);
  }
  return out;
}

async function runMemhunt(i) {
  const file = path.join(OUT_DIR, `sampling-${i}.mh`);
  rmOut(file);
  const run = await runMonitored(process.execPath, [MEMHUNT, 'run', '--interval', '1ms', '-o', file, '-q', '--', SYS_PYTHON, TREE_PY, String(SECONDS)]);
  if (run.code !== 0) throw new Error(`memhunt exited ${run.code}: ${run.stderr}`);
  const r = derive('memhunt', run, readMh(file));
  rmOut(file);
  return r;
}

async function runMprof(i) {
  const file = path.join(OUT_DIR, `sampling-${i}.dat`);
  rmOut(file);
  const run = await runMonitored(SYS_PYTHON, ['-m', 'mprof', 'run', '-C', '-M', '--interval', '0.001', '-o', file, SYS_PYTHON, TREE_PY, String(SECONDS)]);
  if (run.code !== 0) throw new Error(`mprof exited ${run.code}: ${run.stderr}`);
  const r = derive('mprof', run, readDat(file));
  rmOut(file);
  return r;
}

function runFloor() {
  const out = execFileSync(process.execPath, [path.join(BENCH_DIR, 'workloads', 'timer-floor.mjs'), String(SECONDS)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

const runs = { memhunt: [], mprof: [], floor: [] };
for (let i = 0; i < ROUNDS; i++) {
  const order = i % 2 === 0 ? ['memhunt', 'mprof', 'floor'] : ['floor', 'mprof', 'memhunt'];
  for (const kind of order) {
    if (kind === 'floor') {
      const f = runFloor();
      runs.floor.push(f);
      console.log(`  round ${i + 1} control: empty 1 ms timer loop ${fmt(f.samplesPerS, 1)} ticks/s, longest gap ${fmt(f.maxGapMs, 1)} ms`);
      continue;
    }
    const r = kind === 'memhunt' ? await runMemhunt(i) : await runMprof(i);
    runs[kind].push(r);
    console.log(`  round ${i + 1} ${kind.padEnd(7)} ${fmt(r.samplesPerS, 1)} samples/s, CPU ${fmt(r.cpuS)} s = ${fmt(r.cpuUsPerSample, 1)} µs/sample, ${fmt(r.bytesPerSample, 1)} B/sample`);
  }
}

const keys = ['samples', 'durationS', 'samplesPerS', 'steadySamplesPerS', 'maxGapMs', 'processesPerSample', 'cpuS', 'cpuUsPerSample',
  'steadyCpuShare', 'steadyCpuUsPerSample', 'bytes', 'bytesPerSample', 'bytesPerProcessSample', 'profilerPeakRssMiB'];
const med = {};
for (const kind of ['memhunt', 'mprof']) {
  med[kind] = {};
  for (const k of keys) med[kind][k] = median(runs[kind].map((r) => r[k]));
}
med.floor = { samplesPerS: median(runs.floor.map((f) => f.samplesPerS)), maxGapMs: median(runs.floor.map((f) => f.maxGapMs)), cpuShare: median(runs.floor.map((f) => f.cpuShare)) };
med.memhunt.missedPct = median(runs.memhunt.map((r) => r.missedPct));
med.memhunt.uncompressedBytesPerSample = median(runs.memhunt.map((r) => r.uncompressedBytesPerSample));
// Ratios are medians of per-round ratios (both tools measured in the same round).
const perRound = (f) => median(runs.memhunt.map((m, i) => f(m, runs.mprof[i])));
const ratios = {
  samplesPerS: perRound((m, p) => m.samplesPerS / p.samplesPerS),
  cpuPerSample: perRound((m, p) => p.cpuUsPerSample / m.cpuUsPerSample),
  steadyCpuPerSample: perRound((m, p) => p.steadyCpuUsPerSample / m.steadyCpuUsPerSample),
  bytesPerSample: perRound((m, p) => m.bytesPerSample / p.bytesPerSample),
  bytesPerProcessSample: perRound((m, p) => m.bytesPerProcessSample / p.bytesPerProcessSample),
};

console.log(`\nmedians of ${ROUNDS} runs each (ratios: median of per-round ratios)`);
const M = med.memhunt;
const P = med.mprof;
table([
  ['metric', 'memhunt 1ms', 'mprof -C -M -T 0.001', 'ratio'],
  ['samples', fmt(M.samples, 0), fmt(P.samples, 0), ''],
  ['recording duration (s)', fmt(M.durationS), fmt(P.durationS), ''],
  ['samples/s (whole recording)', fmt(M.samplesPerS, 1), fmt(P.samplesPerS, 1), `${fmt(ratios.samplesPerS)}x`],
  ['samples/s (middle 60%)', fmt(M.steadySamplesPerS, 1), fmt(P.steadySamplesPerS, 1), ''],
  ['longest gap between samples (ms)', fmt(M.maxGapMs, 1), fmt(P.maxGapMs, 1), ''],
  ['memhunt samples missed vs 1/ms (%)', fmt(M.missedPct), '', ''],
  ['process readings per sample', fmt(M.processesPerSample), fmt(P.processesPerSample), ''],
  ['profiler CPU, whole run (s)', fmt(M.cpuS), fmt(P.cpuS), ''],
  ['CPU per sample, whole run (µs)', fmt(M.cpuUsPerSample, 1), fmt(P.cpuUsPerSample, 1), `mprof/memhunt ${fmt(ratios.cpuPerSample, 1)}x`],
  ['CPU steady state (% of a core)', fmt(M.steadyCpuShare * 100, 1), fmt(P.steadyCpuShare * 100, 1), ''],
  ['CPU per sample, steady (µs)', fmt(M.steadyCpuUsPerSample, 1), fmt(P.steadyCpuUsPerSample, 1), `mprof/memhunt ${fmt(ratios.steadyCpuPerSample, 1)}x`],
  ['recording size (bytes)', fmt(M.bytes, 0), fmt(P.bytes, 0), ''],
  ['bytes per sample', fmt(M.bytesPerSample, 2), fmt(P.bytesPerSample, 2), `memhunt/mprof ${fmt(ratios.bytesPerSample, 3)}`],
  ['bytes per process-sample', fmt(M.bytesPerProcessSample, 2), fmt(P.bytesPerProcessSample, 2), `memhunt/mprof ${fmt(ratios.bytesPerProcessSample, 3)}`],
  ['memhunt uncompressed bytes/sample', fmt(M.uncompressedBytesPerSample, 1), '', ''],
  ['profiler peak RSS (MiB)', fmt(M.profilerPeakRssMiB, 1), fmt(P.profilerPeakRssMiB, 1), ''],
]);
console.log(`control: memhunt's timing loop with no work: ${fmt(med.floor.samplesPerS, 1)} ticks/s (longest gap ${fmt(med.floor.maxGapMs, 1)} ms, ${fmt(med.floor.cpuShare * 100, 1)}% of a core)`);

const verdicts = [
  verdict('(a) memhunt --interval 1ms sustains >= 1,000 samples/s', M.samplesPerS >= 1000, `${fmt(M.samplesPerS, 1)} samples/s (median; ${fmt(M.missedPct)}% of 1 ms slots missed; the empty timer loop alone: ${fmt(med.floor.samplesPerS, 1)}/s)`),
  { label: '(b) mprof -C -M --interval 0.001 samples/s (no target)', pass: null, detail: `${fmt(P.samplesPerS, 1)} samples/s`, line: `INFO  (b) mprof -C -M --interval 0.001 samples/s (no target): ${fmt(P.samplesPerS, 1)} samples/s (memhunt ${fmt(ratios.samplesPerS, 2)}x as many)` },
  verdict('(c) profiler CPU per sample: mprof/memhunt >= 10x', ratios.cpuPerSample >= 10, `${fmt(ratios.cpuPerSample, 1)}x whole run (${fmt(M.cpuUsPerSample, 1)} vs ${fmt(P.cpuUsPerSample, 1)} µs), ${fmt(ratios.steadyCpuPerSample, 1)}x steady state`),
  verdict('(d) recording bytes per sample: memhunt <= 1/4 of mprof', ratios.bytesPerSample <= 0.25 && ratios.bytesPerProcessSample <= 0.25, `${fmt(ratios.bytesPerSample, 3)} per sample, ${fmt(ratios.bytesPerProcessSample, 3)} per process-sample`),
];
console.log('');
for (const v of verdicts) console.log(v.line);
const file = writeResult('sampling', { benchmark: 'sampling', machine: info, rounds: ROUNDS, seconds: SECONDS, runs, medians: med, ratios, verdicts });
console.log(`\nresult: ${file}`);
