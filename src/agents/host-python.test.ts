/**
 * End to end with the real Python agent (runtimes/python/) in real interpreters: the oldest and
 * newest Pythons present (pyenv 3.8 and 3.13) and the system's python3, running
 * fixtures/agents/host-leaky.py (Record objects leaked through the global RETAINED on the line
 * marked LEAK) under `node dist/cli/main.js run`. Checks what a user sees: `memhunt heap` names the
 * type and the line, `memhunt refs` reaches the global, a multiprocessing worker reports, a running
 * process answers `memhunt snapshot`, and --break-at stops in pdb on a terminal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { readMemhuntRecording } from '../recording/reader';
import { CLI, FIXTURES, REPO, runCli, runMemhuntInTerminal, tempDir, untilRecording } from '../test-support';

const AGENT = path.join(REPO, 'runtimes', 'python', 'inject', 'sitecustomize.py');
const skip = fs.existsSync(AGENT) ? false : 'the Python agent (runtimes/python/inject/sitecustomize.py) is not there yet';
const LEAKY = path.join(FIXTURES, 'agents', 'host-leaky.py');
const LEAK_LINE = fs.readFileSync(LEAKY, 'utf8').split('\n').findIndex((l) => l.includes('# LEAK')) + 1;

const PYTHONS: Array<[string, string]> = [
  ['3.8 (oldest)', '/root/.pyenv/versions/3.8.18/bin/python3'],
  ['3.13 (newest)', '/root/.pyenv/versions/3.13.0/bin/python3'],
  ['python3', 'python3'],
].filter(([, p]) => p === 'python3' || fs.existsSync(p)) as Array<[string, string]>;

type Recording = Awaited<ReturnType<typeof readMemhuntRecording>>;

/**
 * Runs `memhunt run` on host-leaky.py until the recording holds what the test needs (`enough`),
 * then lets the program end (--until: it runs on after its seconds until told to stop). On a loaded
 * machine censuses take longer and fewer fit in a fixed time: waiting for them, instead of for a
 * number of seconds, keeps the test's meaning (at most 60 s; the program ends itself after 120 s).
 */
async function leakyRun(python: string, args: string[], programArgs: string[], enough: (rec: Recording, stdout: string) => boolean) {
  const dir = tempDir();
  const out = path.join(dir, 'run.mh');
  const stop = path.join(dir, 'stop');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--interval', '20ms', '-o', out, ...args, '--', python, LEAKY, ...programArgs, '--until', stop],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  let ended = false;
  void closed.then(() => (ended = true));
  // Read as it is flushed (at least every second; a cut tail is accepted), each time it changed.
  await untilRecording(out, (rec) => enough(rec, stdout), { everyMs: 100, timeoutMs: 60_000, done: () => ended });
  fs.writeFileSync(stop, '');
  const code = await closed;
  return { dir, out, r: { code, stdout, stderr } };
}

const censusesOf = (rec: Recording, pid?: number) => rec.events.filter((e) => e.kind === 'census' && (pid === undefined || e.pid === pid));

test('--heap-every: the growth names the leaked type, and the recorded back-references reach the global', { skip }, async () => {
  await Promise.all(PYTHONS.map(async ([name, python]) => {
    const { dir, out, r } = await leakyRun(python, ['--heap-every', '300ms'], ['2'],
      (rec) => censusesOf(rec).length >= 3 && rec.events.some((e) => e.kind === 'refs'));
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const heap = await runCli(['heap', out, '--json']);
    assert.equal(heap.code, 0, heap.stderr);
    const proc = JSON.parse(heap.stdout).processes[0];
    assert.ok(proc.censuses.length >= 3, `${name}: ${proc.censuses.length} censuses`);
    const last = proc.growth[proc.growth.length - 1];
    const rec = last.types.find((t: { typeName: string }) => /(^|\.)Record$/.test(t.typeName));
    assert.ok(rec && rec.countDelta > 1000, `${name}: growth names Record: ${JSON.stringify(last.types.slice(0, 4))}`);
    assert.match((await runCli(['heap', out])).stdout, /\+[\d,]+ +[\d.]+ [KM]iB +__main__\.Record/);
    // The growing type's back-references were recorded during the run.
    const svg = path.join(dir, 'refs.svg');
    const refs = await runCli(['refs', out, '--type', 'Record', '-o', svg]);
    assert.equal(refs.code, 0, `${name}: ${refs.stderr}`);
    assert.match(refs.stdout, /held by module __main__ as RETAINED/, `${name}: ${refs.stdout}`);
    assert.match(fs.readFileSync(svg, 'utf8'), /RETAINED/);
  }));
});

test('--trace-allocations: the allocation site that grows is the LEAK line, with its code', { skip }, async () => {
  // Two interpreters at once: this machine may have two CPUs, and a trace snapshot holds one.
  await Promise.all(PYTHONS.slice(0, 2).map(async ([name, python]) => {
    // A trace snapshot of this small heap takes 0.1-1.3 s (slower under load): the run lasts until 3 are recorded.
    const { out, r } = await leakyRun(python, ['--heap-every', '400ms', '--trace-allocations'], ['2', '--per-tick', '200'],
      (rec) => rec.events.filter((e) => e.kind === 'trace').length >= 3);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const text = (await runCli(['heap', out])).stdout;
    assert.match(text, new RegExp(`\\+[\\d.]+ [KM]iB +\\S*host-leaky\\.py:${LEAK_LINE} {2}RETAINED\\.append\\(Record\\(`), `${name}: the top growing site is the LEAK line:\n${text}`);
    // tracemalloc's own traces are in RSS but not traced: they are not counted as native.
    assert.match(text, /tracemalloc's own [\d.]+ [KM]iB, native \(RSS − traced − tracemalloc\) [\d.]+ MiB/);
    const json = JSON.parse((await runCli(['heap', out, '--json'])).stdout);
    const traces = json.processes[0].traces;
    assert.ok(traces.length >= 2, `${name}: ${traces.length} trace snapshots`);
    for (const t of traces) {
      assert.ok(t.tracemallocBytes > 0, `${name}: tracemalloc's own memory is recorded`);
      assert.equal(t.nativeBytes, t.rssBytes - t.tracedBytes - t.tracemallocBytes);
    }
    // The last snapshot taken while it leaked (the one at exit compares the quiet end with it).
    const leaking = traces.filter((t: { label: string }) => t.label !== 'at exit');
    assert.equal(leaking[leaking.length - 1].byGrowth[0].line, LEAK_LINE, `${name}: ${JSON.stringify(leaking[leaking.length - 1].byGrowth[0])}`);
  }));
});

const mpWorkerReports = (method: string) => async () => {
  {
    const { out, r } = await leakyRun('python3', ['--heap-every', '300ms'], ['1.2', '--mp', method], (rec, stdout) => {
      const worker = Number(/worker: ready pid (\d+)/.exec(stdout)?.[1]);
      return censusesOf(rec, worker).length >= 2;
    });
    assert.equal(r.code, 0, `${method}: ${r.stderr}`);
    const worker = Number(/worker: ready pid (\d+)/.exec(r.stdout)?.[1]);
    const rec = await readMemhuntRecording(out);
    assert.ok(rec.events.some((e) => e.kind === 'agent' && e.pid === worker), `${method}: the worker's agent connected`);
    const censuses = rec.events.filter((e) => e.kind === 'census' && e.pid === worker);
    assert.ok(censuses.length >= 2, `${method}: ${censuses.length} censuses of the worker`);
    const lastRows = censuses[censuses.length - 1]!.kind === 'census' ? (censuses[censuses.length - 1] as { rows: Array<[string, number, number]> }).rows : [];
    assert.ok(lastRows.some(([t, n]) => /(^|\.)Record$/.test(t) && n > 1000), `${method}: the worker's census has the Records`);
  }
};
test('multiprocessing workers started by spawn are injected and report', { skip }, mpWorkerReports('spawn'));
// Was todo: 3 runs in 6 beside two CPU hogs got no census of the fork worker. Its agent answered
// every one, with a row of negative bytes (the agent's own objects, sized after the walk, taken
// out of a type's row), which memhunt refused as malformed; rows are now never below zero.
test('multiprocessing workers started by fork are injected and report', { skip }, mpWorkerReports('fork'));

/** Starts memhunt run on a Python program and resolves once it printed its ready line. */
function startRun(args: string[]) {
  const dir = tempDir();
  const out = path.join(dir, 'live.mh');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-o', out, '--', 'python3', LEAKY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /ready pid (\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`run ended before the program was ready: ${stderr}`)));
  });
  return { dir, out, child, ready };
}

test('snapshot <pid> and refs <pid> answer for a running injected process, and are recorded', { skip }, async () => {
  // Runs until killed (--until a file that never appears; 120 s at most), however slow the machine.
  const run = startRun(['0', '--until', '/nonexistent/memhunt-test-never']);
  try {
    const pid = await run.ready;
    // The agent says hello from its own thread at start-up: retry briefly until it is registered.
    let snap = await runCli(['snapshot', String(pid), '--top', '10']);
    for (let i = 0; i < 40 && snap.code !== 0 && /no agent is connected/.test(snap.stderr); i++) {
      await new Promise((r) => setTimeout(r, 50));
      snap = await runCli(['snapshot', String(pid), '--top', '10']);
    }
    assert.equal(snap.code, 0, snap.stderr);
    assert.match(snap.stdout, new RegExp(`^pid ${pid}: [\\d,]+ objects`));
    assert.match(snap.stdout, /Record/);
    const png = path.join(run.dir, 'refs.png');
    const refs = await runCli(['refs', String(pid), '--type', 'Record', '-o', png]);
    assert.equal(refs.code, 0, refs.stderr);
    assert.match(refs.stdout, /RETAINED/);
    assert.ok(fs.statSync(png).size > 2000);
    const bad = await runCli(['refs', String(pid), '--type', 'Recrod']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^memhunt: no objects of type "Recrod" alive in pid \d+; close names: .*Record/);
  } finally {
    const closed = run.child.exitCode !== null || run.child.signalCode !== null ? Promise.resolve() : new Promise((r) => run.child.on('close', r));
    run.child.kill('SIGINT');
    await closed;
  }
  const rec = await readMemhuntRecording(run.out);
  assert.ok(rec.events.some((e) => e.kind === 'census' && e.trigger === 'client'));
  assert.ok(rec.events.some((e) => e.kind === 'refs' && e.trigger === 'client'));
});

test('--break-at stops the largest Python process in pdb on a terminal; "c" continues to the end', { skip }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'brk.mh');
  // The program leaks until it is told to stop (once pdb was seen), however slow the machine is.
  const stop = path.join(dir, 'stop');
  // Without -q: the live status line is on, as a person at a terminal has it.
  const cmd = [process.execPath, CLI, 'run', '-o', out, '--break-at', '40MiB', '--', 'python3', LEAKY, '0', '--until', stop].map((a) => `'${a}'`).join(' ');
  // script(1) gives memhunt and Python a pseudo-terminal, as a person at a terminal has.
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], cwd: dir });
  let text = '';
  let continued = false;
  let promptAt = -1;
  let whilePrompt = '';
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
    if (promptAt < 0 && text.includes('(Pdb)')) {
      promptAt = text.length;
      // The user types at the prompt: memhunt's live status line must not be redrawn over it
      // (it was, every 0.25 s). Look at what reaches the terminal for a while, then continue.
      setTimeout(() => {
        whilePrompt = text.slice(promptAt);
        continued = true;
        fs.writeFileSync(stop, '');
        child.stdin!.write('c\n');
      }, 1500);
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  assert.ok(continued, `pdb prompt seen:\n${text}`);
  const status = /\x1b\[2K(?:\x1b\[7m)?memhunt \d/;
  assert.doesNotMatch(whilePrompt, status, 'no live status drawn while pdb has the terminal');
  assert.match(text, status, 'the live status is drawn (a terminal)');
  assert.equal(text.match(/stay referenced by the debugger/g)?.length, 1, `the warning, once:\n${text}`);
  assert.equal(code, 0, text);
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.events.some((e) => e.kind === 'threshold' && e.action === 'break' && /pdb requested/.test(e.note ?? '')));
  const entered = rec.events.find((e) => e.kind === 'note' && /entered pdb/.test(e.text));
  assert.ok(entered && entered.kind === 'note');
  // The time in pdb, from its stop to "c", is a pause the verdict leaves out (issue 9).
  const pause = rec.events.find((e) => e.kind === 'pause');
  assert.ok(pause && pause.kind === 'pause' && pause.cause === 'break' && pause.tMs === entered.tMs && pause.endMs > pause.tMs, JSON.stringify(pause));
  assert.ok(rec.end && pause.endMs < rec.end.tMs, 'the pause ended at "c", before the end of the run');
});

test('--break-at in a Pool worker (stdin /dev/null): pdb on memhunt\'s terminal, at the line the message names; the summary says it stopped', { skip }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'brk.mh');
  const prog = path.join(FIXTURES, 'agents', 'pool_break.py');
  // A pseudo-terminal for memhunt, as a person at a terminal has; the worker's stdin is /dev/null.
  const { code, text, prompted } = await runMemhuntInTerminal(['run', '-o', out, '--break-at', '60MiB', '--', 'python3', prog], { cwd: dir, answer: 'c\n', boundMs: 60_000 });
  assert.ok(prompted, `pdb prompt seen:\n${text}`);
  assert.equal(code, 0, text);
  const worker = /worker: ready pid (\d+)/.exec(text)?.[1];
  const said = new RegExp(`memhunt: break in pid ${worker} at \\S*pool_break\\.py:(\\d+) in work\\(\\)`).exec(text);
  assert.ok(said, `the break message names the worker:\n${text}`);
  const shown = /> \S*pool_break\.py\((\d+)\)work\(\)/.exec(text);
  assert.ok(shown, `pdb shows where it stopped:\n${text}`);
  assert.equal(said[1], shown[1], 'the message names the line pdb shows');
  assert.match(text, /result 80/);
  assert.match(text, new RegExp(`pid ${worker} stopped in pdb at`), `the summary says the break happened:\n${text}`);
  assert.doesNotMatch(text, /not a terminal/);
});

test('--refs-type of a type made later: no word until it exists, then its graph; agent types never named', { skip }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'late.mh');
  const prog = path.join(dir, 'late.py');
  const ready = path.join(dir, 'made');
  const stop = path.join(dir, 'stop');
  // The class is made once a few censuses have run without it, and the program ends once its graph is recorded.
  fs.writeFileSync(prog, [
    'import os, time',
    `while not os.path.exists(${JSON.stringify(ready)}): time.sleep(0.05)`,
    'class Late: pass',
    'keep = [Late() for _ in range(100)]',
    `while not os.path.exists(${JSON.stringify(stop)}): time.sleep(0.05)`,
  ].join('\n'));
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-o', out, '--heap-every', '200ms', '--refs-type', 'Late', '--', 'python3', prog], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const until = (what: (rec: Recording) => boolean) => untilRecording(out, what, { everyMs: 100, timeoutMs: 60_000 });
  await until((rec) => censusesOf(rec).length >= 4);
  fs.writeFileSync(ready, '');
  await until((rec) => rec.events.some((e) => e.kind === 'refs' && /(^|\.)Late$/.test(e.typeName)));
  fs.writeFileSync(stop, '');
  assert.equal(await closed, 0, stderr);
  assert.doesNotMatch(stderr, /Late|no object|_memhunt_agent/, stderr);
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.events.some((e) => e.kind === 'refs' && /(^|\.)Late$/.test(e.typeName)), 'the graph of Late');
  assert.ok(!rec.events.some((e) => e.kind === 'note' && /refs Late/.test(e.text)), 'no failed refs noted');
});

const DEBIAN_PANDAS = fs.existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import pandas'], { stdio: 'ignore' }).status === 0;

test('refs <pid> --json on pandas (Debian): an array behind a frame reaches the frame and its holder; short labels, labelled edges; the frame unchanged', { skip: skip || (DEBIAN_PANDAS ? false : 'no pandas in /usr/bin/python3') }, async () => {
  const dir = tempDir();
  const prog = path.join(dir, 'frames.py');
  const go = path.join(dir, 'go');
  fs.writeFileSync(prog, [
    'import os, time, numpy as np, pandas as pd',
    'class Store: pass',
    'STORE = Store()',
    'STORE.table = pd.DataFrame(np.random.rand(200000, 5), columns=list("abcde"))  # its block holds raw.T, a view',
    'print("ready pid %d" % os.getpid(), flush=True)',
    `while not os.path.exists(${JSON.stringify(go)}): time.sleep(0.05)`,
    'print("item cache %d, index cache %s" % (len(STORE.table._item_cache), sorted(STORE.table.index._cache)), flush=True)',
  ].join('\n'));
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-o', path.join(dir, 'f.mh'), '--', '/usr/bin/python3', prog], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  try {
    for (let i = 0; i < 600 && !/ready pid \d+/.test(stdout); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(/ready pid (\d+)/.exec(stdout)?.[1]);
    let r = await runCli(['refs', String(pid), '--type', 'ndarray', '--samples', '1', '--json']);
    for (let i = 0; i < 40 && r.code !== 0 && /no agent is connected/.test(r.stderr); i++) {
      await new Promise((res) => setTimeout(res, 50));
      r = await runCli(['refs', String(pid), '--type', 'ndarray', '--samples', '1', '--json']);
    }
    assert.equal(r.code, 0, r.stderr);
    const g = JSON.parse(r.stdout) as { typeName: string; reachedRoot: boolean; nodes: Array<{ type: string; label: string }>; edges: Array<{ label: string }>; chains: string[] };
    assert.equal(g.typeName, 'numpy.ndarray');
    assert.ok(g.reachedRoot, JSON.stringify(g));
    const frame = g.nodes.find((n) => n.type === 'pandas.core.frame.DataFrame');
    assert.equal(frame?.label, 'DataFrame 200000×5');
    const labels = g.edges.map((e) => e.label);
    for (const l of ['base', 'values', 'blocks', '_mgr', 'table', 'STORE']) assert.ok(labels.includes(l), `${l} in ${labels.join(', ')}`);
    assert.ok(g.chains.some((c) => /held by pandas\.core\.frame\.DataFrame 200000×5 as _mgr/.test(c)), g.chains.join('\n'));
  } finally {
    fs.writeFileSync(go, '');
    await closed;
  }
  assert.match(stdout, /item cache 0, index cache \[\]/);
});
