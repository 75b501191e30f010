// Fork cost under memhunt's Python agent, against the same program without memhunt, in one run.
//   node bench/fork.mjs [--rounds 5] [--forks 200] [--tasks 200] [--before OTHER/dist/cli/main.js]
// Workload: bench/workloads/fork_cost.py
//   fork: the median time from just before os.fork() in the parent to the child's first statement
//         (the child's at-fork hooks run in between: that is where an agent reconnects), over
//         --forks forks; and the median round trip (fork, child exits at once, waitpid);
//   pool: the wall time of multiprocessing Pool(2, maxtasksperchild=1) ('fork') over --tasks
//         trivial tasks: a new forked worker per task.
// Three ways, interleaved round by round: plain `python3 fork_cost.py`; `memhunt run -q --no-agent`
// (memhunt's sampling alone); `memhunt run -q` (with the agent). Ratios are against plain; the
// target (issue 8) is agent/plain ≤ 1.20 for the child's start and for the pool.
// --before CLI: a fourth way, `memhunt run -q` of another build (an older checkout's
// dist/cli/main.js, with its own runtimes/), interleaved in the same rounds: before/after figures
// from one run.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BENCH_DIR, MEMHUNT, OUT_DIR, machine, checkPrerequisites, median, fmt, table, writeResult, verdict, rmOut } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const ROUNDS = opt('--rounds', 5);
const FORKS = opt('--forks', 200);
const TASKS = opt('--tasks', 200);
const TARGET = 1.2;
const BEFORE = (() => { const i = argv.indexOf('--before'); return i >= 0 ? path.resolve(argv[i + 1]) : null; })();
if (BEFORE && !fs.existsSync(BEFORE)) { console.error(`bench: --before ${BEFORE}: no such file`); process.exit(2); }
const WORKLOAD = path.join(BENCH_DIR, 'workloads', 'fork_cost.py');
const pyenv = (v) => `/root/.pyenv/versions/${v}/bin/python3`;
const PYTHONS = [['3.8', pyenv('3.8.18')], ['3.13', pyenv('3.13.0')], ['debian 3.11', '/usr/bin/python3']].filter(([, p]) => fs.existsSync(p));

checkPrerequisites();
const info = machine();
console.log(`fork: ${ROUNDS} rounds x (plain, memhunt --no-agent, memhunt) x ${PYTHONS.map(([n]) => n).join(', ')}; ${FORKS} forks, pool of ${TASKS} tasks`);
console.log(`machine: ${info.nproc} cores, ${info.cpu}, kernel ${info.kernel}, ${info.date}, load ${info.loadavgAtStart.join(' ')}${BEFORE ? `; before: ${BEFORE}` : ''}\n`);

const out = path.join(OUT_DIR, 'fork.mh');
function once(how, python, mode, n) {
  const prog = [python, WORKLOAD, mode, String(n)];
  const [cmd, args] = how === 'plain' ? [python, prog.slice(1)]
    : [process.execPath, [how === 'before' ? BEFORE : MEMHUNT, 'run', '-q', ...(how === 'no-agent' ? ['--no-agent'] : []), '-o', out, '--', ...prog]];
  rmOut(out);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const line = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !line?.startsWith('{')) throw new Error(`${how} ${mode} ${python}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(line);
}

const HOWS = ['plain', 'no-agent', 'agent', ...(BEFORE ? ['before'] : [])];
const results = {};
const rows = [['python', 'measure', 'plain', 'memhunt --no-agent', 'memhunt (agent)', 'agent / plain', 'agent / no-agent', ...(BEFORE ? ['before (agent)', 'before / plain'] : [])]];
const verdicts = [];
for (const [name, python] of PYTHONS) {
  once('agent', python, 'fork', 5); // the agent's bytecode is written once (a first run compiles it)
  if (BEFORE) once('before', python, 'fork', 5);
  const got = Object.fromEntries(HOWS.map((h) => [h, { child: [], round: [], pool: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const how of HOWS) {
      const f = once(how, python, 'fork', FORKS);
      got[how].child.push(f.childStartMs);
      got[how].round.push(f.roundTripMs);
      got[how].pool.push(once(how, python, 'pool', TASKS).wallMs);
    }
  }
  const m = Object.fromEntries(HOWS.map((h) => [h, { child: median(got[h].child), round: median(got[h].round), pool: median(got[h].pool) }]));
  results[name] = { raw: got, median: m };
  for (const [key, label, digits] of [['child', 'child start (ms, median)', 3], ['round', 'fork round trip (ms, median)', 3], ['pool', `Pool(maxtasksperchild=1), ${TASKS} tasks (ms)`, 0]]) {
    const ratio = m.agent[key] / m.plain[key];
    rows.push([name, label, fmt(m.plain[key], digits), fmt(m['no-agent'][key], digits), fmt(m.agent[key], digits), fmt(ratio, 2), fmt(m.agent[key] / m['no-agent'][key], 2),
      ...(BEFORE ? [fmt(m.before[key], digits), fmt(m.before[key] / m.plain[key], 2)] : [])]);
    if (key !== 'round') verdicts.push(verdict(`${name} ${label}: agent/plain ≤ ${TARGET}`, ratio <= TARGET, fmt(ratio, 2)));
  }
}
table(rows);
console.log('');
for (const v of verdicts) console.log(v.line);
console.log(`load at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
rmOut(out);
console.log(`\nresults: ${writeResult('fork', { machine: info, rounds: ROUNDS, forks: FORKS, tasks: TASKS, results, verdicts })}`);
