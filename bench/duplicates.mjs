// Benchmark: `--duplicates` (the agent's duplicate search, runtimes/python/lib/memhunt/_largest.py).
//   node bench/duplicates.mjs [--mib 256] [--rounds 3]
// A heap holding one float64 array of MIB MiB as copies, bytes, other strides, a float32
// conversion and a list, plus two unrelated arrays of the same size (bench/workloads/duplicates_heap.py),
// on Debian's python3 (numpy). Reports, best of --rounds:
//   - seconds per GiB of candidate data (objects of >= 1 MiB whose data can be compared) spent by
//     the duplicate search after the census: target <= 0.5 s/GiB;
//   - against what a user writes without memhunt: blake2b of every candidate's whole data;
//   - the census alone (what `snapshot` without --duplicates costs: that code path is unchanged).
// Writes bench/results/duplicates.json.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { BENCH_DIR, REPO, SYS_PYTHON, fmt, machine, table, verdict, writeResult } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const MIB = opt('--mib', 256);
const ROUNDS = opt('--rounds', 3);
const info = machine();
console.log(`duplicates: one ${MIB} MiB float64 array held several ways + 2 unrelated, best of ${ROUNDS}; ${info.nproc} cores, load ${info.loadavgAtStart.join(' ')}\n`);
const runs = [];
// Groups as sets of holders (the order of equal-ranked holders follows the walk's order).
const canon = (gs) => JSON.stringify(gs.map((g) => g.map((h) => JSON.stringify(h)).sort()).sort());
const sameGroups = (a, b) => canon(a) === canon(b);
const v = [];
for (const mix of ['mixed', 'plain']) {
  const r = spawnSync(SYS_PYTHON, [path.join(BENCH_DIR, 'workloads', 'duplicates_heap.py'), String(MIB), String(ROUNDS), mix], {
    env: { ...process.env, PYTHONPATH: path.join(REPO, 'runtimes', 'python', 'lib') }, encoding: 'utf8', maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    console.error(`bench: the workload failed: ${r.stderr}`);
    process.exit(1);
  }
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  const gib = res.found.candidateBytes / 1024 ** 3;
  const perGib = res.best.duplicatesMs / 1000 / gib;
  const fullPerGib = res.best.fullHash / gib;
  // CPU seconds: the machine is shared, and wall time on a loaded one is mostly waiting for a core.
  const cpuPerGib = (res.best.censusWithDuplicatesCpu - res.best.censusCpu) / gib;
  const fullCpuPerGib = res.best.fullHashCpu / gib;
  console.log(`${mix}: ${mix === 'plain' ? 'the array, its copy, bytes of it, 2 unrelated' : 'copy, bytes, Fortran-order copy, float32, list of a quarter + its copy, 2 unrelated'}`);
  table([
    ['', 'candidate GiB', 'read to confirm GiB', 'census s', 'census + duplicates s', 'duplicates s', 's per GiB', 'full blake2b s', 's per GiB', 'x memhunt'],
    ['wall', fmt(gib, 2), fmt(res.found.readBytes / 1024 ** 3, 2), fmt(res.best.census, 3), fmt(res.best.censusWithDuplicates, 3), fmt(res.best.duplicatesMs / 1000, 3), fmt(perGib, 3),
      fmt(res.best.fullHash, 3), fmt(fullPerGib, 3), fmt(fullPerGib / perGib, 1)],
    ['CPU', '', '', fmt(res.best.censusCpu, 3), fmt(res.best.censusWithDuplicatesCpu, 3), fmt(res.best.censusWithDuplicatesCpu - res.best.censusCpu, 3), fmt(cpuPerGib, 3),
      fmt(res.best.fullHashCpu, 3), fmt(fullCpuPerGib, 3), fmt(fullCpuPerGib / cpuPerGib, 1)],
  ]);
  const purePerGib = res.best.pureDuplicatesMs / 1000 / gib;
  const pureCpuPerGib = (res.best.pureCensusWithDuplicatesCpu - res.best.censusCpu) / gib;
  console.log(`C helpers: ${res.found.native ? 'yes' : 'no'}; the pure-Python fallback in the same run: ${fmt(purePerGib, 3)} s/GiB wall, ${fmt(pureCpuPerGib, 3)} s/GiB CPU (${fmt(purePerGib / perGib, 1)}x, ${fmt(pureCpuPerGib / cpuPerGib, 1)}x); same groups: ${sameGroups(res.found.pureGroups, res.found.groups)}`);
  console.log(`groups: ${JSON.stringify(res.found.groups)}\n`);
  runs.push({ mix, result: res, secondsPerGib: perGib, cpuSecondsPerGib: cpuPerGib, pureSecondsPerGib: purePerGib, pureCpuSecondsPerGib: pureCpuPerGib, fullHashSecondsPerGib: fullPerGib, fullHashCpuSecondsPerGib: fullCpuPerGib });
  v.push(verdict(`${mix}: duplicate search <= 0.5 s per GiB of candidate data (wall)`, perGib <= 0.5, `${fmt(perGib, 3)} s/GiB wall, ${fmt(cpuPerGib, 3)} s/GiB CPU`));
  const want = mix === 'plain' ? 1 : 2;
  v.push(verdict(`${mix}: the copies grouped (float32 as converted), the unrelated arrays in none`, res.found.groups.length === want && !JSON.stringify(res.found.groups).includes('other'),
    `${res.found.groups.length} groups`));
}
console.log('(python 3.11 (Debian); CPU of the duplicate search = CPU of census + duplicates − CPU of the census alone, chains included)');
for (const x of v) console.log(x.line);
console.log(`wrote ${writeResult('duplicates', { ...info, mib: MIB, rounds: ROUNDS, runs, verdicts: v })}`);
