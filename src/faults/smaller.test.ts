/**
 * Fault injection (issue 8): marker writes that cannot block, stale run directories, modes, units, file names in errors. Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { type HeaderRecord } from '../recording/spec';
import { RecordingWriter } from '../recording/writer';
import { UnitError, parseSize } from '../units';
import { CLI, runCli, waitForSamples } from '../test-support';

import { header, isRoot, runDirs, sandbox } from './kit';

// ------------------------------------------------------------------ 10. smaller


test('memhunt mark never blocks: without a reader it returns at once; under a run it marks', async () => {
  const { dir, env } = sandbox();
  const fifo = path.join(dir, 'orphan-fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const started = Date.now();
  const r = await runCli(['mark', 'checkpoint'], { env: { ...env, MEMHUNT_MARKERS: fifo }, timeoutMs: 20_000 });
  assert.equal(r.signal, null, 'it returned by itself');
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^memhunt: mark: the memhunt run that set MEMHUNT_MARKERS has ended\n$/);
  assert.ok(Date.now() - started < 15_000);
  const none = await runCli(['mark', 'x'], { env: { ...env, MEMHUNT_MARKERS: '' } });
  assert.deepEqual([none.code, none.stderr], [0, '']);
  const out = path.join(dir, 'm.mh');
  const run = await runCli(['run', '-q', '-i', '20ms', '-o', out, '--', 'sh', '-c', `'${process.execPath}' '${CLI}' mark --begin load data; sleep 0.2; '${process.execPath}' '${CLI}' mark --end load data; '${process.execPath}' '${CLI}' mark done`], { env });
  assert.equal(run.code, 0, run.stderr);
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.events.some((e) => e.kind === 'section' && e.label === 'load data' && e.endMs !== null), JSON.stringify(rec.events));
  assert.ok(rec.events.some((e) => e.kind === 'mark' && e.label === 'done'));
});

test('run directories of killed runs are removed by the next run (only ours, only when their memhunt is gone)', async () => {
  const { dir, tmp, env } = sandbox();
  const out = path.join(dir, 'k.mh');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-i', '20ms', '-o', out, '--', 'sleep', '30'], { stdio: 'ignore', env });
  // Ready: the first flush of samples is on disk (the header names the command's pid).
  await waitForSamples(out);
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  // memhunt's child lives on, orphaned: end it by the pid the recording names.
  const killed = await readMemhuntRecording(out);
  try {
    if (killed.meta.rootPid) process.kill(killed.meta.rootPid, 'SIGKILL');
  } catch {
    // gone
  }
  const stale = runDirs(tmp);
  assert.equal(stale.length, 1, 'the killed run left its directory');
  // A directory whose owner still runs (this test process) and one without an owner file stay.
  const live = path.join(tmp, 'memhunt-Live01');
  fs.mkdirSync(live, { mode: 0o700 });
  const myStart = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[19];
  fs.writeFileSync(path.join(live, 'owner'), `${process.pid} ${myStart}\n`);
  const foreign = path.join(tmp, 'memhunt-NoOwnr');
  fs.mkdirSync(foreign, { mode: 0o700 });
  const r = await runCli(['run', '-q', '-o', path.join(dir, 'next.mh'), '--', 'true'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(runDirs(tmp).sort(), ['memhunt-Live01', 'memhunt-NoOwnr']);
  // crash safety: the recording of the killed run is readable up to its last flush.
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.total.tMs.length >= 1);
  assert.equal(rec.end, null);
});

test('recordings are 0600 whatever the umask', async () => {
  const { dir, env } = sandbox();
  const r = spawnSync('sh', ['-c', `umask 000; exec '${process.execPath}' '${CLI}' run -q -- true`], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [f] = fs.readdirSync(dir).filter((n) => n.endsWith('.mh'));
  assert.equal(fs.statSync(path.join(dir, f!)).mode & 0o777, 0o600);
  // And an existing recording replaced with -o becomes 0600 too.
  const old = path.join(dir, 'old.mh');
  fs.copyFileSync(path.join(dir, f!), old);
  fs.chmodSync(old, 0o644);
  assert.equal((await runCli(['run', '-q', '-o', old, '--', 'true'], { env })).code, 0);
  assert.equal(fs.statSync(old).mode & 0o777, 0o600);
});

test('sizes are whole bytes ≥ 1 and intervals within 1ms..1h', async () => {
  assert.throws(() => parseSize('0.1B'), UnitError);
  assert.throws(() => parseSize('1.5B'), /whole number of bytes/);
  assert.throws(() => parseSize('0.0001KiB'), /less than one byte/);
  assert.throws(() => parseSize('99999999TiB'), /too large/);
  assert.equal(parseSize('1.5KiB'), 1536);
  for (const args of [['--limit', '0.1B'], ['--limit', '0B'], ['-i', '2h'], ['-i', '0.5ms']]) {
    const r = await runCli(['run', '-q', ...args, '--', 'true']);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  }
});

test('"version":"1" (a string) is refused by the reader', async () => {
  const { dir } = sandbox();
  const f = path.join(dir, 'v.mh');
  const h = { ...header(['x']), version: '1' } as unknown as HeaderRecord;
  const w = new RecordingWriter(f, h);
  w.append({ type: 'end', t: 0, reason: 'exited', code: 0, signal: null, samples: 0 });
  w.close();
  const r = await runCli(['summary', f]);
  assert.equal(r.code, 2, r.stdout);
});

test('as root, snapshot of a process without an agent says so (not "another user")', async () => {
  const target = spawn('sleep', ['20'], { stdio: 'ignore' });
  try {
    const r = await runCli(['snapshot', String(target.pid)]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `memhunt: pid ${target.pid} was not started under memhunt run with the agent\n`);
    if (isRoot) {
      const one = await runCli(['snapshot', '1']);
      assert.equal(one.code, 2);
      assert.doesNotMatch(one.stderr, /another user/);
    }
  } finally {
    target.kill('SIGKILL');
  }
});

test('errors name the file', async () => {
  const { dir } = sandbox();
  const f = path.join(dir, 'bad.csv');
  fs.writeFileSync(f, 'time_s,total_mib\n0,1\noops,2\n');
  const r = await runCli(['summary', f]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^memhunt: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
});

test('a running process that closed its descriptors is not said to have ended', async () => {
  const { dir, env } = sandbox();
  const ready = path.join(dir, 'ready');
  // Written then renamed: the file must not be seen before it holds the pid (read empty once under load: "0").
  const script = `import os, time\nopen(${JSON.stringify(ready + '.tmp')}, "w").write(str(os.getpid()))\nos.rename(${JSON.stringify(ready + '.tmp')}, ${JSON.stringify(ready)})\nos.closerange(3, 65536)\ntime.sleep(20)\n`;
  const run = spawn(process.execPath, [CLI, 'run', '-q', '-o', path.join(dir, 'c.mh'), '--', 'python3', '-c', script], { stdio: 'ignore', env });
  try {
    for (let i = 0; i < 600 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(fs.readFileSync(ready, 'utf8'));
    await new Promise((r) => setTimeout(r, 500));
    const r = await runCli(['snapshot', String(pid), '--timeout', '20s'], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /has ended|pid \d+ ended|has exited/);
    assert.match(r.stderr, new RegExp(`^memhunt: (pid ${pid} is running, but its agent is no longer connected|no agent is connected for pid ${pid} .*; pid ${pid} is still running)`));
  } finally {
    run.kill('SIGTERM');
    await new Promise((r) => run.on('exit', r));
  }
});

