// Benchmark: what one census costs on a pandas heap (the trial's pd_hold3.py: 80 DataFrames of
// 20000x10 floats + a str column, ~297 MiB), memhunt's census against objgraph.show_growth (what a
// user would run instead; it counts gc.get_objects() by type only), same interpreter, same run.
// VmHWM added by the census (reset just before it) and its time, best of --rounds.
//   node bench/census-pandas.mjs [--rounds 3] [--frames 80]
// Before the fix (object arrays' items handed to the walk as one list, every id in the de-duplication
// set) memhunt's census added 218 MiB to VmHWM and took 3.5-6 s: a snapshot at a threshold caused the
// OOM kill it was meant to explain.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { BENCH_DIR, REPO, fmt, table, writeResult, machine } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const ROUNDS = Number(arg('--rounds', '3'));
const FRAMES = arg('--frames', '80');
const LIB = path.join(REPO, 'runtimes', 'python', 'lib');
const PY = path.join(BENCH_DIR, 'workloads', 'census_pandas.py');
const info = machine();
console.log(`one census of ${FRAMES} DataFrames with a str column, best of ${ROUNDS}; machine: ${info.nproc} cores, load ${info.loadavgAtStart.join(' ')}\n`);
const best = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const tool of ['memhunt', 'objgraph']) {
    const p = spawnSync('/usr/bin/python3', [PY, FRAMES, tool], { env: { ...process.env, PYTHONPATH: LIB }, encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${tool}: ${p.stderr}`);
    const got = JSON.parse(p.stdout.trim().split('\n').pop());
    const b = best[tool];
    best[tool] = b ? { ...got, seconds: Math.min(b.seconds, got.seconds), hwmAddedMiB: Math.min(b.hwmAddedMiB, got.hwmAddedMiB) } : got;
  }
}
const m = best.memhunt, o = best.objgraph;
table([
  ['tool', 'heap MiB', 'VmHWM added MiB', 'seconds'],
  ['memhunt census', fmt(m.rssMiB, 0), fmt(m.hwmAddedMiB, 1), fmt(m.seconds, 2)],
  ['objgraph.show_growth', fmt(o.rssMiB, 0), fmt(o.hwmAddedMiB, 1), fmt(o.seconds, 2)],
  ['memhunt / objgraph', '', '', fmt(m.seconds / o.seconds, 1)],
]);
writeResult('census-pandas', { ...info, rounds: ROUNDS, frames: Number(FRAMES), memhunt: m, objgraph: o });
