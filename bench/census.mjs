// Benchmark: the Python agent (runtimes/python/), side by side in one run.
//   node bench/census.mjs [--objects 2000000] [--rounds 5] [--idle-rounds 12] [--iterations 8000000]
// 1. Census of a heap of OBJECTS objects (as memhunt's census counts them: gc-tracked plus the
//    untracked ones reached from them) vs a bare `for o in gc.get_objects(): sys.getsizeof(o)`
//    loop (target: <= 2x) and objgraph.typestats (Debian python3-objgraph, so /usr/bin/python3;
//    pympler is not packaged by Debian). Two heap shapes (bench/workloads/census_heap.py), best of
//    --rounds, on /usr/bin/python3 and on the oldest and newest pyenv Pythons present.
// 2. Idle agent: bench/workloads/cpu_loop.py with the agent connected to a listening socket (and
//    doing nothing) vs without it, alternating runs, median of the per-round ratios (target <= 2%).
//    Plus the start-up cost (`python3 -c pass`, median of 30).
// 3. --trace-allocations (the agent starting tracemalloc with 1 frame) vs plain `python3 -X
//    tracemalloc=1` on the same workload, both against no tracing.
// Needs the build (dist/agents/test-peer.js is the socket peer). Writes bench/results/census.json.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BENCH_DIR, REPO, CPU_PY, median, fmt, table, writeResult, machine } from './lib.mjs';

const argv = process.argv.slice(2);
const opt = (name, def) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : def; };
const OBJECTS = opt('--objects', 2_000_000);
const ROUNDS = opt('--rounds', 5);
const IDLE_ROUNDS = opt('--idle-rounds', 15);
const ITER = opt('--iterations', 8_000_000);
const LIB = path.join(REPO, 'runtimes', 'python', 'lib');
const HEAP_PY = path.join(BENCH_DIR, 'workloads', 'census_heap.py');
const SYS_PY = '/usr/bin/python3';
const PEER = path.join(REPO, 'dist', 'agents', 'test-peer.js');

if (!fs.existsSync(PEER)) {
  console.error(`bench: ${PEER} is missing: build first (npx tsc -p .)`);
  process.exit(2);
}
const { TestPeer } = await import(PEER);
const objgraph = spawnSync(SYS_PY, ['-c', 'import objgraph'], { stdio: 'ignore' }).status === 0;
if (!objgraph) console.log('note: objgraph is not importable by /usr/bin/python3 (apt-get install python3-objgraph): that column is n/a\n');

const pythons = [['system', SYS_PY], ['3.8', '/root/.pyenv/versions/3.8.18/bin/python3'], ['3.13', '/root/.pyenv/versions/3.13.0/bin/python3']]
  .filter(([, p]) => fs.existsSync(p));
const info = { ...machine(), pythons: Object.fromEntries(pythons.map(([n, p]) => [n, execFileSync(p, ['--version'], { encoding: 'utf8' }).trim()])) };
console.log(`census: heaps of ${OBJECTS.toLocaleString('en-US')} objects, best of ${ROUNDS}; machine: ${info.nproc} cores, ${info.cpu}, load ${info.loadavgAtStart.join(' ')}\n`);

// ------------------------------------------------------------------ 1. census speed
const census = [];
for (const [name, py] of pythons) {
  for (const shape of ['mixed', 'containers']) {
    const r = spawnSync(py, [HEAP_PY, shape, String(OBJECTS), String(ROUNDS)], { env: { ...process.env, PYTHONPATH: LIB }, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`${name} ${shape}: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop());
    census.push({ interpreter: name, ...res, ratio: res.memhunt / res.bare, trackedOnlyRatio: res.memhuntTrackedOnly / res.bare });
  }
}
table([
  ['python', 'heap', 'objects', 'gc-tracked', 'C walk', 'bare loop s', 'memhunt s', 'x bare', 'CPU x bare', 'pure-Python walk s', 'x bare', 'tracked part s', 'x bare', 'objgraph s'],
  ...census.map((c) => [c.python, c.shape, c.objects.toLocaleString('en-US'), c.tracked.toLocaleString('en-US'), c.native ? 'yes' : 'no', fmt(c.bare, 3), fmt(c.memhunt, 3), fmt(c.ratio, 2),
    fmt(c.memhuntCpu / c.bareCpu, 2), fmt(c.memhuntPure, 3), fmt(c.memhuntPure / c.bare, 1),
    fmt(c.memhuntTrackedOnly, 3), fmt(c.trackedOnlyRatio, 2), c.objgraph === null ? 'n/a' : fmt(c.objgraph, 3)]),
]);
console.log();

// ------------------------------------------------------------------ 2. idle agent
function runPy(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(SYS_PY, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ out, wallMs: performance.now() - t0 }) : reject(new Error(`exit ${code}: ${err}`))));
  });
}
const elapsed = (out) => Number(/WORKLOAD_ELAPSED ([\d.]+)/.exec(out)[1]);
const cpuOf = (out) => Number(/WORKLOAD_ELAPSED [\d.]+ \d+ ([\d.]+)/.exec(out)[1]);
const peer = await TestPeer.start();
const plainEnv = { ...process.env };
delete plainEnv.PYTHONPATH;
const agentEnv = peer.pythonEnv(undefined, plainEnv);
const traceEnv = peer.pythonEnv({ trace: true, traceFrames: 1 }, plainEnv);
// Rotating order of three runs per round; "bare again" is a null control: its ratio to "bare"
// shows the noise of the method on this (shared, 2-core) machine.
const idleRuns = { bare: [], 'bare again': [], agent: [] };
const names = Object.keys(idleRuns);
for (let i = 0; i < IDLE_ROUNDS; i++) {
  for (let k = 0; k < names.length; k++) {
    const which = names[(k + i) % names.length];
    const { out } = await runPy([CPU_PY, String(ITER)], which === 'agent' ? agentEnv : plainEnv);
    idleRuns[which].push({ wallS: elapsed(out), cpuS: cpuOf(out) });
  }
}
const ratiosOf = (which, key) => idleRuns[which].map((r, i) => r[key] / idleRuns.bare[i][key]);
const idle = {
  bare: idleRuns.bare.map((r) => r.wallS), agent: idleRuns.agent.map((r) => r.wallS),
  ratios: ratiosOf('agent', 'wallS'), cpuRatios: ratiosOf('agent', 'cpuS'),
  nullRatios: ratiosOf('bare again', 'wallS'), nullCpuRatios: ratiosOf('bare again', 'cpuS'),
};
const connected = peer.agents.length;
// Start-up, with the agent's bytecode cached (in a private PYTHONPYCACHEPREFIX, as when its
// __pycache__ is writable) and without (PYTHONDONTWRITEBYTECODE, a read-only install): each
// interpreter then compiles the agent's start-up modules.
fs.mkdirSync(path.join(REPO, '.bench-out'), { recursive: true }); // absent in a fresh worktree
const cacheDir = fs.mkdtempSync(path.join(REPO, '.bench-out', 'pycache-'));
const cached = (env) => { const e = { ...env, PYTHONPYCACHEPREFIX: cacheDir }; delete e.PYTHONDONTWRITEBYTECODE; return e; };
const uncached = (env) => ({ ...env, PYTHONDONTWRITEBYTECODE: '1' });
const startup = { bare: [], agent: [], agentNoCache: [] };
await runPy(['-c', 'pass'], cached(agentEnv)); // writes the cache
for (let i = 0; i < 30; i++) {
  startup.bare.push((await runPy(['-c', 'pass'], cached(plainEnv))).wallMs);
  startup.agent.push((await runPy(['-c', 'pass'], cached(agentEnv))).wallMs);
  startup.agentNoCache.push((await runPy(['-c', 'pass'], uncached(agentEnv))).wallMs);
}
fs.rmSync(cacheDir, { recursive: true, force: true });
// ------------------------------------------------------------------ 3. tracing
const tracing = { bare: [], agent: [], tracemalloc: [] };
for (let i = 0; i < Math.max(4, IDLE_ROUNDS >> 1); i++) {
  tracing.bare.push(elapsed((await runPy([CPU_PY, String(ITER)], plainEnv)).out));
  tracing.agent.push(elapsed((await runPy([CPU_PY, String(ITER)], traceEnv)).out));
  tracing.tracemalloc.push(elapsed((await runPy(['-X', 'tracemalloc=1', CPU_PY, String(ITER)], plainEnv)).out));
}
await peer.close();

const idleSummary = {
  rounds: IDLE_ROUNDS, iterations: ITER, agentsConnected: connected,
  bareMedianS: median(idle.bare), agentMedianS: median(idle.agent), medianRatio: median(idle.ratios), ratios: idle.ratios,
  cpuMedianRatio: median(idle.cpuRatios), cpuRatios: idle.cpuRatios,
  nullMedianRatio: median(idle.nullRatios), nullCpuMedianRatio: median(idle.nullCpuRatios), nullRatios: idle.nullRatios,
  startupBareMs: median(startup.bare), startupAgentMs: median(startup.agent), startupAgentNoBytecodeCacheMs: median(startup.agentNoCache),
};
const traceSummary = {
  bareMedianS: median(tracing.bare), agentTraceMedianS: median(tracing.agent), tracemallocMedianS: median(tracing.tracemalloc),
  agentTraceRatio: median(tracing.agent) / median(tracing.bare), tracemallocRatio: median(tracing.tracemalloc) / median(tracing.bare),
};
table([
  ['idle agent (cpu_loop.py)', 'value'],
  ['bare, median s', fmt(idleSummary.bareMedianS, 3)],
  ['agent connected, median s', fmt(idleSummary.agentMedianS, 3)],
  ['slowdown, median of per-round ratios (wall)', `${fmt((idleSummary.medianRatio - 1) * 100, 2)}%`],
  ['... of the workload\'s CPU time', `${fmt((idleSummary.cpuMedianRatio - 1) * 100, 2)}%`],
  ['null control: bare again / bare (wall, CPU)', `${fmt((idleSummary.nullMedianRatio - 1) * 100, 2)}%, ${fmt((idleSummary.nullCpuMedianRatio - 1) * 100, 2)}%`],
  ['agents that connected', `${connected} of ${IDLE_ROUNDS}`],
  ['start-up `python3 -c pass`, bare, median ms', fmt(idleSummary.startupBareMs, 1)],
  ['start-up with the agent, median ms', fmt(idleSummary.startupAgentMs, 1)],
  ['... agent bytecode not cached, median ms', fmt(idleSummary.startupAgentNoBytecodeCacheMs, 1)],
]);
console.log();
table([
  ['tracing (cpu_loop.py)', 'median s', 'x bare'],
  ['no tracing', fmt(traceSummary.bareMedianS, 3), '1.00'],
  ['agent, --trace-allocations (1 frame)', fmt(traceSummary.agentTraceMedianS, 3), fmt(traceSummary.agentTraceRatio, 2)],
  ['python3 -X tracemalloc=1', fmt(traceSummary.tracemallocMedianS, 3), fmt(traceSummary.tracemallocRatio, 2)],
]);

const pass = {
  census: census.every((c) => c.ratio <= 2),
  censusTrackedPart: census.every((c) => c.trackedOnlyRatio <= 2),
  idle: idleSummary.medianRatio <= 1.02,
};
console.log(`\n${pass.census ? 'PASS' : 'FAIL'}  census <= 2x the bare loop (whole census, untracked objects included)`);
console.log(`${pass.censusTrackedPart ? 'PASS' : 'FAIL'}  census of the gc-tracked objects <= 2x the bare loop over the same objects`);
console.log(`${pass.idle ? 'PASS' : 'FAIL'}  idle agent slowdown <= 2%`);
const file = writeResult('census', { machine: info, objects: OBJECTS, rounds: ROUNDS, census, idle: idleSummary, tracing: traceSummary, pass });
console.log(`\nresults: ${path.relative(REPO, file)}`);
