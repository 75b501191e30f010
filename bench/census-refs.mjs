// Benchmark: census cost by distinct objects, not references (issue 10, item 5). A heap holding
// `[0] * N` (N references to one int): memhunt's census vs the walk a user writes to see untracked
// objects (gc.get_objects() expanded through gc.get_referents, de-duplicated by id: what pympler's
// muppy.get_objects does), same interpreter, same run, best of --rounds.
//   node bench/census-refs.mjs [--rounds 3] [--sizes 2000000,20000000]
// Before the fix, memhunt's census took 32 s and +127 MiB for N = 2 M (4 min 49 s, +1.2 GiB for 20 M).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BENCH_DIR, REPO, fmt, table, writeResult, machine } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const ROUNDS = Number(arg('--rounds', '3'));
const SIZES = arg('--sizes', '2000000,20000000').split(',').map(Number);
const LIB = path.join(REPO, 'runtimes', 'python', 'lib');
const PY = path.join(BENCH_DIR, 'workloads', 'census_refs.py');
const pythons = [['system', '/usr/bin/python3'], ['3.8', '/root/.pyenv/versions/3.8.18/bin/python3'], ['3.13', '/root/.pyenv/versions/3.13.0/bin/python3']].filter(([, p]) => fs.existsSync(p));
const info = machine();
console.log(`census of [0] * N, best of ${ROUNDS}; machine: ${info.nproc} cores, load ${info.loadavgAtStart.join(' ')}\n`);
const rows = [];
for (const [name, py] of pythons) {
  for (const n of SIZES) {
    const r = spawnSync(py, [PY, String(n), String(ROUNDS)], { env: { ...process.env, PYTHONPATH: LIB }, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name} ${n}: ${r.stderr}`);
    rows.push({ interpreter: name, ...JSON.parse(r.stdout.trim().split('\n').pop()) });
  }
}
table([
  ['python', 'references', 'memhunt s', 'by hand s', 'memhunt / by hand', 'memhunt s per M refs', 'memhunt +MiB', 'by hand +MiB'],
  ...rows.map((c) => [c.python, c.references.toLocaleString('en-US'), fmt(c.memhunt, 3), fmt(c.byHand, 3), fmt(c.memhunt / c.byHand, 2),
    fmt(c.memhunt / (c.references / 1e6), 3), fmt(c.memhuntMiB, 0), fmt(c.byHandMiB, 0)]),
]);
writeResult('census-refs', { ...info, rows });
