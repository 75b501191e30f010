// Benchmark: the cost of sampled allocation profiling (memhunt run --allocations, default mean
// 512 KiB) against the plain program and tracemalloc (1 and 16 frames), on the same workloads in
// one run (issue 13's targets: <= 5% slowdown).
//   node bench/alloc.mjs [--rounds 5] [--pandas-rounds 6] [--loop 2000000] [--no-tm16] [--before CLI]
// Workloads (each prints its own wall time around the work only: imports, memhunt's start-up and
// the one-time build of the hooks are not counted):
//   pandas  bench/workloads/alloc_pandas.py: DataFrame build + groupby/agg + from_records, N rounds
//   loop    bench/workloads/alloc_loop.py: 2 M small dicts/lists/strings made, 1/16 kept a while
// Configurations, in a rotating order per round:
//   plain          python3 W
//   memhunt        memhunt run -q -- python3 W                  (the agent, no sampling: the floor)
//   allocations    memhunt run -q --allocations -- python3 W    (default mean 512 KiB)
//   tracemalloc 1  python3 -X tracemalloc=1 W
//   tracemalloc 16 python3 -X tracemalloc=16 W
//   before         with --before OTHER/dist/cli/main.js: another build's --allocations (its own hooks,
//                  built ahead too), in the same rounds: a before/after under the same load
// Slowdown = time / plain time in the same round; the median over rounds is reported, for the
// workload's wall time and for its CPU time (process_time: every thread of the process, the
// agent's draining thread included). The machine is shared (2 cores): when other tenants load it,
// wall times stretch with the queue and the CPU-time ratio is the steadier of the two.
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { checkPrerequisites, machine, runMonitored, median, fmt, table, writeResult, verdict, rmOut, MEMHUNT, SYS_PYTHON, OUT_DIR, BENCH_DIR } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const ROUNDS = opt('--rounds', 5);
const PANDAS_ROUNDS = opt('--pandas-rounds', 6);
const LOOP = opt('--loop', 2_000_000);
const TM16 = !argv.includes('--no-tm16');
const TARGET = 1.05;
const bi = argv.indexOf('--before');
const BEFORE = bi >= 0 ? path.resolve(argv[bi + 1]) : null;

checkPrerequisites();
// The hooks are built once, ahead, so no round pays for the compiler.
execFileSync(process.execPath, [MEMHUNT, 'build-native', '--python', SYS_PYTHON], { stdio: 'inherit' });
if (BEFORE) execFileSync(process.execPath, [BEFORE, 'build-native', '--python', SYS_PYTHON], { stdio: 'inherit' });
const info = machine();
const WORKLOADS = {
  pandas: [path.join(BENCH_DIR, 'workloads', 'alloc_pandas.py'), String(PANDAS_ROUNDS)],
  loop: [path.join(BENCH_DIR, 'workloads', 'alloc_loop.py'), String(LOOP)],
};
const mh = (extra, cli = MEMHUNT) => (w, i) => { const f = path.join(OUT_DIR, `alloc-${i}.mh`); return [process.execPath, [cli, 'run', '-q', ...extra, '-o', f, '--', SYS_PYTHON, ...w], f]; };
const CONFIGS = {
  plain: (w) => [SYS_PYTHON, w, null],
  memhunt: mh([]),
  allocations: mh(['--allocations']),
  'tracemalloc 1': (w) => [SYS_PYTHON, ['-X', 'tracemalloc=1', ...w], null],
  ...(TM16 ? { 'tracemalloc 16': (w) => [SYS_PYTHON, ['-X', 'tracemalloc=16', ...w], null] } : {}),
  ...(BEFORE ? { before: mh(['--allocations'], BEFORE) } : {}),
};
const names = Object.keys(CONFIGS);
console.log(`alloc: ${ROUNDS} rounds x (${names.join(', ')}) on pandas (${PANDAS_ROUNDS} rounds) and loop (${LOOP})`);
console.log(`machine: ${info.nproc} cores, ${info.cpu}, kernel ${info.kernel}, ${info.date}, load ${info.loadavgAtStart.join(' ')}\n`);

const results = {};
for (const [wname, w] of Object.entries(WORKLOADS)) {
  const runs = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < ROUNDS; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]);
    const line = [];
    for (const name of order) {
      const [cmd, args, file] = CONFIGS[name](w, i);
      if (file) rmOut(file);
      const run = await runMonitored(cmd, args, { captureStdout: true, pollMs: 200 });
      if (file) rmOut(file);
      const m = /WORKLOAD_ELAPSED ([\d.]+) \d+ ([\d.]+)/.exec(run.stdout);
      if (run.code !== 0 || !m) throw new Error(`${wname}/${name} failed (exit ${run.code}): ${run.stderr}${run.stdout}`);
      runs[name].push(Number(m[1]));
      cpu[name].push(Number(m[2]));
      line.push(`${name} ${fmt(Number(m[1]), 2)} s`);
    }
    console.log(`  ${wname} round ${i + 1}: ${line.join(', ')}`);
  }
  const ratios = Object.fromEntries(names.map((n) => [n, median(runs[n].map((t, i) => t / runs.plain[i]))]));
  const cpuRatios = Object.fromEntries(names.map((n) => [n, median(cpu[n].map((t, i) => t / cpu.plain[i]))]));
  results[wname] = { seconds: runs, cpuSeconds: cpu, medianRatio: ratios, medianCpuRatio: cpuRatios };
}

console.log('');
table([['workload', ...names.map((n) => `${n} (x)`)], ...Object.entries(results).flatMap(([w, r]) => [[`${w} wall`, ...names.map((n) => fmt(r.medianRatio[n], 3))], [`${w} cpu`, ...names.map((n) => fmt(r.medianCpuRatio[n], 3))]])]);
const checks = Object.entries(results).map(([w, r]) => verdict(`${w}: --allocations slowdown <= ${TARGET}x`, r.medianCpuRatio.allocations <= TARGET, `median CPU ${fmt(r.medianCpuRatio.allocations, 3)}x, wall ${fmt(r.medianRatio.allocations, 3)}x (memhunt without sampling ${fmt(r.medianRatio.memhunt, 3)}x; tracemalloc 1 frame ${fmt(r.medianRatio['tracemalloc 1'], 2)}x${TM16 ? `, 16 frames ${fmt(r.medianRatio['tracemalloc 16'], 2)}x` : ''}${BEFORE ? `; before: CPU ${fmt(r.medianCpuRatio.before, 3)}x, wall ${fmt(r.medianRatio.before, 3)}x` : ''})`));
console.log('');
for (const c of checks) console.log(c.line);
console.log(`\nwrote ${writeResult('alloc', { machine: info, before: BEFORE, rounds: ROUNDS, pandasRounds: PANDAS_ROUNDS, loop: LOOP, results, checks })}`);
