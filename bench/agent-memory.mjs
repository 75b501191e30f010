// The Python agent's own memory, in one run, against the same programs without it (and mprof).
//   node bench/agent-memory.mjs [--rounds 5]
// 1. Idle: bench/workloads/idle_rss.py reports its own VmRSS/RssAnon/RssFile after 0.5 s, run plain,
//    under `memhunt run --no-agent` and under `memhunt run` (agent), on 3.8, 3.13 and Debian's 3.11;
//    with bytecode writable, and with PYTHONDONTWRITEBYTECODE=1 (common in container images).
//    Target (issue 9): the agent adds ≤ 0.5 MiB of RSS to an idle process.
// 2. Multi-process: bench/workloads/pool_mem.py (a Pool of 4 workers, 'spawn' and 'fork') under
//    `mprof run -C` (interval 0.1 s) and `memhunt run -i 100ms` (agent, and --no-agent): the peak of
//    the tree total each reports (`mprof peak`, `memhunt peak`). Target: memhunt's within 2% of
//    mprof's.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BENCH_DIR, MEMHUNT, OUT_DIR, SYS_PYTHON, machine, checkPrerequisites, median, fmt, table, writeResult, verdict, rmOut } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const ROUNDS = opt('--rounds', 5);
const IDLE = path.join(BENCH_DIR, 'workloads', 'idle_rss.py');
const POOL = path.join(BENCH_DIR, 'workloads', 'pool_mem.py');
const pyenv = (v) => `/root/.pyenv/versions/${v}/bin/python3`;
const PYTHONS = [['3.8', pyenv('3.8.18')], ['3.13', pyenv('3.13.0')], ['debian 3.11', SYS_PYTHON]].filter(([, p]) => fs.existsSync(p));

checkPrerequisites();
const info = machine();
console.log(`agent memory: ${ROUNDS} rounds; ${info.nproc} cores, ${info.cpu}, ${info.date}, load ${info.loadavgAtStart.join(' ')}\n`);

const mh = path.join(OUT_DIR, 'agent-memory.mh');
const dat = path.join(OUT_DIR, 'agent-memory.dat');
function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
const memhuntArgs = (how, extra, prog) => [MEMHUNT, 'run', '-q', ...(how === 'no-agent' ? ['--no-agent'] : []), ...extra, '-o', mh, '--', ...prog];

// ---- 1. idle
const idleRows = [['python', 'bytecode', 'plain RSS', '--no-agent', 'agent', 'added by agent (KiB)', 'of which anon', 'of which file']];
const verdicts = [];
const idle = {};
for (const [name, python] of PYTHONS) {
  for (const dontWrite of [false, true]) {
    const env = { ...process.env };
    delete env.PYTHONDONTWRITEBYTECODE;
    if (dontWrite) env.PYTHONDONTWRITEBYTECODE = '1';
    const got = { plain: [], 'no-agent': [], agent: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const how of Object.keys(got)) {
        rmOut(mh);
        const out = how === 'plain' ? run(python, [IDLE], env) : run(process.execPath, memhuntArgs(how, [], [python, IDLE]), env);
        got[how].push(JSON.parse(out.trim().split('\n').pop()));
      }
    }
    const med = (how, k) => median(got[how].map((x) => x[k]));
    const added = med('agent', 'VmRSS') - med('no-agent', 'VmRSS');
    const label = dontWrite ? 'PYTHONDONTWRITEBYTECODE=1' : 'writable';
    idle[`${name} ${label}`] = got;
    idleRows.push([name, label, med('plain', 'VmRSS'), med('no-agent', 'VmRSS'), med('agent', 'VmRSS'), added,
      med('agent', 'RssAnon') - med('no-agent', 'RssAnon'), med('agent', 'RssFile') - med('no-agent', 'RssFile')]);
    verdicts.push(verdict(`${name} (${label}) idle: added ≤ 512 KiB`, added <= 512, `${added} KiB`));
  }
}
table(idleRows);

// ---- 2. multi-process peaks, mprof vs memhunt
console.log('');
const peakRows = [['start method', 'mprof run -C (MiB)', 'memhunt --no-agent', 'memhunt (agent)', 'agent / mprof', '--no-agent / mprof']];
const peaks = {};
const mib = (text) => Number(/([\d.]+) MiB/.exec(text)?.[1]);
const memhuntPeak = (text) => {
  // "X MiB" or "X GiB" on the first line of `memhunt peak`.
  const m = /([\d.]+) (KiB|MiB|GiB)/.exec(text);
  return m ? Number(m[1]) * { KiB: 1 / 1024, MiB: 1, GiB: 1024 }[m[2]] : NaN;
};
for (const method of ['spawn', 'fork']) {
  const got = { mprof: [], 'no-agent': [], agent: [] };
  const prog = [SYS_PYTHON, POOL, method];
  for (let r = 0; r < ROUNDS; r++) {
    rmOut(dat);
    run('mprof', ['run', '-C', '-T', '0.1', '-o', dat, ...prog]);
    got.mprof.push(mib(run('mprof', ['peak', dat])));
    for (const how of ['no-agent', 'agent']) {
      rmOut(mh);
      run(process.execPath, memhuntArgs(how, ['-i', '100ms'], prog));
      got[how].push(memhuntPeak(run(process.execPath, [MEMHUNT, 'peak', mh])));
    }
  }
  const m = Object.fromEntries(Object.keys(got).map((k) => [k, median(got[k])]));
  peaks[method] = { raw: got, median: m };
  const ratio = m.agent / m.mprof;
  peakRows.push([method, fmt(m.mprof, 1), fmt(m['no-agent'], 1), fmt(m.agent, 1), fmt(ratio, 3), fmt(m['no-agent'] / m.mprof, 3)]);
  verdicts.push(verdict(`Pool(4) ${method}: memhunt's peak within 2% of mprof's`, Math.abs(ratio - 1) <= 0.02, fmt(ratio, 3)));
}
table(peakRows);
console.log('');
for (const v of verdicts) console.log(v.line);
rmOut(mh, dat);
console.log(`\nresults: ${writeResult('agent-memory', { machine: info, rounds: ROUNDS, idle, peaks, verdicts })}`);
