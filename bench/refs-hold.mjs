// How long a back-reference graph holds the program (pyfix5): N floats / small dicts / instances
// of a class in a module-level list, the graph built in another thread of the program while one
// of its threads ticks every 1 ms. memhunt's graph (runtimes/python/lib/memhunt/_refs.py, budget
// BUDGET_MS) against objgraph by hand (by_type, find_backref_chain, show_backrefs) when Debian's
// python3 has it, and against another checkout's agent with --before DIR (its runtimes/python/lib).
//   node bench/refs-hold.mjs [--sizes 1000000,3000000] [--kinds float,dict,user] [--before DIR] [--no-objgraph]
// Workload: bench/workloads/refs_hold.py. held = the sum of the program's gaps of 20 ms or more.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BENCH_DIR, REPO, table, writeResult, machine } from './lib.mjs';

const argv = process.argv.slice(2);
const arg = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : def; };
const SIZES = arg('--sizes', '1000000,3000000').split(',').map(Number);
const KINDS = arg('--kinds', 'float,dict,user').split(',');
const BEFORE = arg('--before', null);
const PY = '/usr/bin/python3';
const WORKLOAD = path.join(BENCH_DIR, 'workloads', 'refs_hold.py');
const LIB = path.join(REPO, 'runtimes', 'python', 'lib');
const HAS_OBJGRAPH = !argv.includes('--no-objgraph') && spawnSync(PY, ['-c', 'import objgraph'], { encoding: 'utf8' }).status === 0;
const info = machine();
console.log(`refs hold: ${KINDS.join(', ')} x ${SIZES.join(', ')} on ${PY}; machine: ${info.nproc} cores, ${info.date}, load ${info.loadavgAtStart.join(' ')}${HAS_OBJGRAPH ? '' : '; objgraph absent'}\n`);

function once(how, kind, n, lib) {
  const r = spawnSync(PY, [WORKLOAD, how, kind, String(n)], { env: { ...process.env, PYTHONPATH: lib }, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return { how, kind, n, error: (r.stderr || String(r.signal)).trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const rows = [];
for (const kind of KINDS) {
  for (const n of SIZES) {
    const ways = [['memhunt', 'memhunt', LIB]];
    if (BEFORE) ways.push(['memhunt before', 'memhunt', path.resolve(BEFORE)]);
    if (HAS_OBJGRAPH) ways.push(['objgraph', 'objgraph', LIB]);
    const got = {};
    for (const [name, how, lib] of ways) {
      got[name] = once(how, kind, n, lib);
      rows.push({ way: name, ...got[name] });
    }
    console.log(`${kind} ${n}: ${Object.entries(got).map(([k, v]) => `${k} held ${v.heldMs ?? '?'} ms`).join(', ')}`);
  }
}
console.log('');
const ms = (x) => (x === undefined ? 'n/a' : x.toLocaleString('en-US'));
table([
  ['kind', 'N', 'way', 'graph ms', 'its CPU ms', 'program max gap ms', 'program held ms', 'names HELD', 'cut'],
  ...rows.map((r) => [r.kind, r.n.toLocaleString('en-US'), r.way, ms(r.graphMs), ms(r.graphCpuMs), ms(r.maxGapMs), ms(r.heldMs),
    r.error ? `error: ${r.error}` : String(r.namesHolder), r.cut ? `${r.cut.stage}/${r.cut.reason} at ${r.cut.afterMs} ms, ${r.cut.objectsExamined} examined` : '-']),
]);
const ratioRows = [];
for (const kind of KINDS) {
  for (const n of SIZES) {
    const m = rows.find((r) => r.kind === kind && r.n === n && r.way === 'memhunt');
    for (const other of ['memhunt before', 'objgraph']) {
      const o = rows.find((r) => r.kind === kind && r.n === n && r.way === other);
      if (m && o && o.heldMs > 0) ratioRows.push([kind, n.toLocaleString('en-US'), `${other} / memhunt (held)`, (o.heldMs / Math.max(1, m.heldMs)).toFixed(1)]);
    }
  }
}
if (ratioRows.length) {
  console.log('');
  table([['kind', 'N', 'ratio', 'x'], ...ratioRows]);
}
const file = writeResult('refs-hold', { machine: info, sizes: SIZES, kinds: KINDS, before: BEFORE, rows });
console.log(`\nresults: ${file}`);
