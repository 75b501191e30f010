/**
 * Issue 14, a real engine end to end: Dask distributed (Debian's python3-distributed) under
 * memhunt. A LocalCluster of process workers (fixtures/dask/job.py) where one worker's task module
 * keeps a cache that grows and the other is steady: every worker is recorded, the leaking one is
 * named by its Dask name, not the steady one. A worker past distributed.worker.memory.terminate of
 * its memory_limit: its nanny terminates it, and memhunt says so ("killed by its parent (Dask
 * nanny) at N% of its memory limit"). Workers started separately (`dask worker` under `memhunt
 * run --output-dir`, against a `dask scheduler` on a loopback port): one recording each, brought
 * together by `memhunt fleet`. Skipped, saying why, when /usr/bin/python3 cannot import distributed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { readMemhuntRecording } from '../recording/reader';

const PY = '/usr/bin/python3';
const DASK_DIR = path.join(FIXTURES, 'dask');
const probe = spawnSync(PY, ['-c', 'import distributed'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : `distributed is not importable by ${PY} (apt-get install python3-distributed): ${(probe.stderr || String(probe.error ?? '')).trim().split('\n').pop()}`;
/** The fixtures' modules (job.py, dask_job_tasks.py) importable in every worker process. */
const env = { ...process.env, PYTHONPATH: DASK_DIR };

interface Rec { type: string; [k: string]: unknown }
function records(file: string): Rec[] {
  return zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').split('\n').filter(Boolean).map((l: string) => JSON.parse(l) as Rec);
}

test('dask LocalCluster: every worker recorded, the leaking one named by its Dask name', { skip, timeout: 600_000 }, async () => {
  const dir = tempDir('memhunt-dask-');
  const out = path.join(dir, 'leak.mh');
  const r = await runCli(['run', '-o', out, '--', PY, path.join(DASK_DIR, 'job.py'), 'leak', '60'], { env, cwd: dir, timeoutMs: 400_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const byName = JSON.parse(/^workers (\{.*\})$/m.exec(r.stdout)![1]!.replace(/'/g, '"')) as Record<string, string>;
  const workers = records(out).filter((x) => x.type === 'worker');
  // Both workers, each named once, with its address and limit, in a process of the tree.
  assert.deepEqual(workers.map((w) => w.name).sort(), ['leaky', 'steady'], JSON.stringify(workers));
  for (const w of workers) {
    assert.equal(w.address, byName[w.name as string]);
    assert.equal(w.memoryLimitBytes, 2 * 1024 ** 3);
    assert.equal(w.framework, 'dask');
  }
  const leaky = `worker ${byName.leaky} (leaky)`;
  const steady = `worker ${byName.steady} (steady)`;
  const verdict = /^ {2}verdict {3}(.*)$/m.exec(r.stderr)?.[1] ?? '';
  assert.match(verdict, /^leak /, r.stderr);
  assert.ok(verdict.includes(leaky), `the verdict names ${leaky}: ${verdict}`);
  assert.ok(!verdict.includes('(steady)'), `the verdict does not name the steady worker: ${verdict}`);
  assert.ok(r.stderr.includes(`most held by ${leaky}`), r.stderr);
  // The summary lists every worker; analyze names the process lines after their workers.
  const s = await runCli(['summary', out], { timeoutMs: 120_000 });
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.includes(leaky) && s.stdout.includes(steady), s.stdout);
  const a = await runCli(['analyze', out], { timeoutMs: 120_000 });
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, new RegExp(`pid \\d+ +leak .*${leaky.replace(/[.()]/g, '\\$&')}`), a.stdout);
  assert.doesNotMatch(a.stdout.split('\n').find((l) => l.startsWith('  verdict')) ?? '', /steady/, a.stdout);
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.processes.filter((p) => p.worker).length, 2);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('dask LocalCluster: a worker the nanny terminates at its memory limit is reported as killed by its parent', { skip, timeout: 600_000 }, async () => {
  const dir = tempDir('memhunt-dask-');
  const out = path.join(dir, 'kill.mh');
  const r = await runCli(['run', '-o', out, '--', PY, path.join(DASK_DIR, 'job.py'), 'kill'], { env, cwd: dir, timeoutMs: 400_000 });
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  assert.match(r.stdout, /^killed$/m, 'the job saw KilledWorker');
  const recs = records(out);
  const kill = recs.find((x) => x.type === 'workerkill');
  assert.ok(kill, 'a workerkill record');
  assert.equal(kill.name, 'doomed');
  assert.equal(kill.terminateFraction, 0.95);
  assert.equal(kill.memoryLimitBytes, 300 * 1024 ** 2);
  // The killed pid is the doomed worker's process, and the killer the job's (the nannies run there).
  const doomed = recs.find((x) => x.type === 'worker' && x.name === 'doomed');
  assert.ok(doomed);
  assert.equal(kill.pid, doomed.pid);
  assert.equal(kill.by, recs.find((x) => x.type === 'proc')!.pid);
  const line = /^ {2}killed {4}(.*)$/m.exec(r.stderr)?.[1] ?? '';
  const m = /^worker tcp:\/\/127\.0\.0\.1:\d+ \(doomed\), pid (\d+): killed by its parent \(Dask nanny, pid \d+\) at (\d+)% of its memory limit \(.* of 300 MiB; Dask terminates at 95%\)/.exec(line);
  assert.ok(m, `the killed line: ${line}\n${r.stderr}`);
  assert.equal(Number(m[1]), kill.pid);
  // What memhunt sampled last: close to the nanny's threshold (loose: samples and the nanny's checks interleave).
  assert.ok(Number(m[2]) >= 75 && Number(m[2]) <= 130, line);
  const summary = r.stderr.slice(r.stderr.lastIndexOf('memhunt: '));
  assert.doesNotMatch(summary, /exit code -15|SIGTERM/, summary);
  // fleet carries it from the summary footer.
  const f = await runCli(['fleet', dir, '--json'], { timeoutMs: 120_000 });
  assert.equal(f.code, 0, f.stderr);
  const row = (JSON.parse(f.stdout) as { rows: Array<{ workerKills: string[]; endText: string }> }).rows[0]!;
  assert.equal(row.workerKills.length, 1);
  assert.match(row.endText, /1 worker killed by the Dask nanny/);
  fs.rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(c.exitCode) : c.on('exit', (code) => resolve(code))));
}

test('dask workers started separately under memhunt run --output-dir: one recording each, brought together by fleet', { skip, timeout: 600_000 }, async () => {
  const dir = tempDir('memhunt-dask-');
  const shared = path.join(dir, 'shared');
  const port = await freePort();
  const address = `tcp://127.0.0.1:${port}`;
  const started: ChildProcess[] = [];
  try {
    const scheduler = spawn('/usr/bin/dask', ['scheduler', '--host', '127.0.0.1', '--port', String(port), '--no-dashboard'], { env, cwd: dir, stdio: 'ignore' });
    started.push(scheduler);
    const workers = ['leaky', 'steady'].map((name) => {
      const c = spawn(process.execPath, [path.join(__dirname, 'main.js'), 'run', '-q', '--output-dir', shared, '--', '/usr/bin/dask', 'worker', address,
        '--name', name, '--nworkers', '1', '--nthreads', '1', '--memory-limit', '2GiB', '--no-dashboard', '--host', '127.0.0.1'], { env, cwd: dir, stdio: 'ignore' });
      started.push(c);
      return c;
    });
    const client = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(PY, [path.join(DASK_DIR, 'client.py'), address, '60'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.on('exit', (code) => resolve({ code, out }));
    });
    assert.equal(client.code, 0, client.out.slice(-3000));
    const byName = JSON.parse(/^workers (\{.*\})$/m.exec(client.out)![1]!.replace(/'/g, '"')) as Record<string, string>;
    // client.shutdown() ends the scheduler and the workers: each memhunt closes its recording.
    for (const w of workers) assert.equal(await exited(w), 0);
    const files = fs.readdirSync(shared).filter((f) => f.endsWith('.mh'));
    assert.equal(files.length, 2, files.join(' '));
    const f = await runCli(['fleet', shared, '--json'], { timeoutMs: 120_000 });
    assert.equal(f.code, 0, f.stderr);
    const rows = (JSON.parse(f.stdout) as { rows: Array<{ identity: string; verdict: string; workers: string[]; peakBytes: number; limitBytes: number | null; limitSource: string | null; usedShare: number | null }> }).rows;
    const leaky = rows.find((x) => x.identity === `worker ${byName.leaky} (leaky)`);
    const steady = rows.find((x) => x.identity === `worker ${byName.steady} (steady)`);
    assert.ok(leaky && steady, JSON.stringify(rows));
    assert.equal(leaky.verdict, 'leak');
    // Not asserted: the steady worker's own verdict. Alone in its recording, its start-up (imports of
    // distributed: 20 -> 90 MiB, seconds under load) can be most of its floors' rise, read as a leak.
    assert.ok(steady.peakBytes < leaky.peakBytes, JSON.stringify(rows));
    // No container limit here: the limit column is the worker's own memory_limit, labelled as Dask's.
    for (const row of [leaky, steady]) {
      if (/cgroup/.test(row.limitSource ?? '')) continue; // a container limit wins where there is one
      assert.equal(row.limitBytes, 2 * 1024 ** 3, JSON.stringify(row));
      assert.match(row.limitSource ?? '', /^Dask memory_limit \(worker tcp:/);
      assert.ok(row.usedShare !== null && Math.abs(row.usedShare - row.peakBytes / row.limitBytes!) < 0.05, JSON.stringify(row));
    }
    // Riskiest first: the leak leads the table.
    const t = await runCli(['fleet', shared], { timeoutMs: 120_000 });
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout.split('\n')[1]!, /worker tcp:\/\/127\.0\.0\.1:\d+ \(leaky\) .* leak /, t.stdout);
    assert.match(t.stdout, /^2 recordings from 1 host/m, t.stdout);
    if (!/cgroup/.test(leaky.limitSource ?? '')) assert.match(t.stdout.split('\n')[1]!, /2\.00 GiB \(Dask\)/, t.stdout);
    // And drawn by wall clock, the leaking worker named.
    const p = await runCli(['plot', shared, '-o', path.join(dir, 'workers.svg')], { timeoutMs: 120_000 });
    assert.equal(p.code, 0, p.stderr);
    assert.match(fs.readFileSync(path.join(dir, 'workers.svg'), 'utf8'), />riskiest: worker tcp:\/\/127\.0\.0\.1:\d+ \(leaky\)</);
  } finally {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(started.map(exited));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
