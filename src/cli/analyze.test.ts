/**
 * `memhunt analyze` end to end: the real binary on recordings written by the real writer (and on
 * mprof's own files), text and JSON, limits and their exit code, and bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { saw, writeSyntheticRecording } from './analysis-testkit';
import { resolveLimits } from './analyze';
import { EXIT } from './exit-codes';

const MiB = 1024 * 1024;

function recordings() {
  const dir = tempDir();
  const leak = writeSyntheticRecording(path.join(dir, 'leak.mh'), [
    { pid: 100, cmd: ['python3', 'train.py'], mib: (t) => 40 + t * 2 + saw(t, 0.5, 60) },
  ], { durationS: 30 });
  const stable = writeSyntheticRecording(path.join(dir, 'stable.mh'), [
    { pid: 100, cmd: ['python3', 'train.py'], mib: (t) => 40 + saw(t, 0.5, 60) },
  ], { durationS: 30 });
  const worker = writeSyntheticRecording(path.join(dir, 'worker.mh'), [
    { pid: 100, cmd: ['python3', 'job.py'], mib: () => 50 },
    { pid: 101, cmd: ['python3', 'job.py', 'worker', '1'], mib: (t) => 20 + saw(t, 0.3, 30) },
    { pid: 102, cmd: ['python3', 'job.py', 'worker', '2'], mib: (t) => 20 + t * 1.5 + saw(t, 0.3, 30) },
  ], { durationS: 20, limitBytes: 1024 * MiB });
  const one = writeSyntheticRecording(path.join(dir, 'one.mh'), [{ pid: 100, cmd: ['true'], mib: () => 3 }], { durationS: 0, samples: 1 });
  const none = writeSyntheticRecording(path.join(dir, 'none.mh'), [{ pid: 100, cmd: ['true'], mib: () => 3 }], { durationS: 0, samples: 0 });
  return { dir, leak, stable, worker, one, none };
}

test('limit flags are typed data: parsed and checked without starting a process', () => {
  assert.deepEqual(resolveLimits({ maxPeak: ['2GiB'], maxGrowth: ['5MiB/min'], leak: false, maxShareOfLimit: ['80%'] }), {
    maxPeakBytes: 2 * 1024 ** 3, maxGrowthBytesPerMinute: 5 * MiB, noLeak: true, maxShareOfLimit: 0.8,
  });
  assert.deepEqual(resolveLimits({ leak: true }), { maxPeakBytes: undefined, maxGrowthBytesPerMinute: undefined, noLeak: false, maxShareOfLimit: undefined });
  assert.equal(resolveLimits({ maxPeak: ['1GiB', '1024MiB'] }).maxPeakBytes, 1024 ** 3, 'the same value twice is fine');
  assert.throws(() => resolveLimits({ maxPeak: ['1GiB', '2GiB'] }), /--max-peak is given twice with different values \(1GiB, 2GiB\)/);
  assert.throws(() => resolveLimits({ maxGrowth: ['5MiB/fortnight'] }), /unknown time unit "fortnight"/);
  assert.throws(() => resolveLimits({ maxShareOfLimit: ['120%'] }), /at most 100%/);
  assert.throws(() => resolveLimits({ maxPeak: ['3GiB'] }, 2 * 1024 ** 3), /--max-peak 3\.00 GiB contradicts --limit 2\.00 GiB/);
});

test('analyze prints the verdict with its evidence; a leak is a leak', async () => {
  const { leak, stable } = recordings();
  const r = await runCli(['analyze', leak]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^memhunt analyze: .*leak\.mh: python3 train\.py\n/);
  assert.match(r.stdout, /\n {2}verdict {3}leak \(high confidence\): floors rising \+1\d\d MiB\/min \(90% interval \+\d+ MiB\/min … \+\d+ MiB\/min\)/);
  assert.match(r.stdout, /floors \(the lows after each of \d+ releases\) moved 4\d\.\d MiB → [\d.]+ MiB/);
  const s = await runCli(['analyze', stable]);
  assert.equal(s.code, 0);
  assert.match(s.stdout, /verdict {3}stable \(high confidence\): the floors stayed level/);
});

test('a process rising at under a tenth of the leaking one\'s rate is not in the verdict line but is said in its reason', async () => {
  const dir = tempDir();
  const two = writeSyntheticRecording(path.join(dir, 'two.mh'), [
    { pid: 100, cmd: ['python3', 'job.py'], mib: () => 50 },
    { pid: 101, cmd: ['python3', 'job.py', 'worker', '1'], mib: (t) => 20 + t * 0.1 + saw(t, 0.3, 5) },
    { pid: 102, cmd: ['python3', 'job.py', 'worker', '2'], mib: (t) => 20 + t * 1.5 + saw(t, 0.3, 30) },
  ], { durationS: 20 });
  const j = JSON.parse((await runCli(['analyze', two, '--json'])).stdout);
  assert.equal(j.processes.find((p: { pid: number }) => p.pid === 101).verdict, 'leak', 'worker 1 rises too (6 MiB/min)');
  assert.deepEqual(j.leakingProcesses.map((p: { pid: number }) => p.pid), [102]);
  assert.match(j.reason, /also rising, at under a tenth of that rate \(start-up, a cache filling, or a slower leak\): pid 101 \(python3 job\.py worker 1, \+[\d.]+ MiB\/min\)/);
  const r = await runCli(['analyze', two]);
  assert.doesNotMatch(r.stdout.split('\n').find((l) => l.startsWith('  verdict')) ?? '', /pid 101/);
});

test('analyze --json has the verdict, the tree, each process and the limits; no Infinity', async () => {
  const { worker } = recordings();
  const r = await runCli(['analyze', worker, '--json', '--no-leak']);
  assert.equal(r.code, EXIT.LIMIT_VIOLATED);
  const j = JSON.parse(r.stdout);
  assert.equal(j.verdict, 'leak');
  assert.deepEqual(j.leakingProcesses.map((p: { pid: number }) => p.pid), [102]);
  assert.equal(j.processes.find((p: { pid: number }) => p.pid === 100).verdict, 'stable');
  assert.equal(j.processes.find((p: { pid: number }) => p.pid === 101).verdict, 'stable');
  assert.ok(Math.abs(j.processes.find((p: { pid: number }) => p.pid === 102).growth.bytesPerMinute / MiB - 90) < 5);
  assert.equal(j.limit.bytes, 1024 * MiB);
  assert.equal(j.limits[0].status, 'violated');
  assert.ok(j.tree.projection.etaMs > 0, 'projected time to the 1 GiB --limit');
  assert.doesNotMatch(r.stdout, /Infinity|NaN/);
});

test('analyze names the leaking worker and projects it to the limit', async () => {
  const { worker } = recordings();
  const r = await runCli(['analyze', worker]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /verdict {3}leak .* in pid 102 \(python3 job\.py worker 2\)/);
  assert.match(r.stdout, /pid 101 +stable .*python3 job\.py worker 1/);
  assert.match(r.stdout, /pid 102 +leak .*python3 job\.py worker 2: \+\d+\.?\d* MiB\/min/);
  assert.match(r.stdout, /reach the 1\.00 GiB limit \(--limit\)/);
});

test('analyze with limits exits 3 on a violation and says which and by how much', async () => {
  const { leak } = recordings();
  const r = await runCli(['analyze', leak, '--max-peak', '100MiB', '--max-growth', '1GiB/h', '--no-leak', '--limit', '4GiB', '--max-share-of-limit', '50%']);
  assert.equal(r.code, EXIT.LIMIT_VIOLATED, r.stderr);
  assert.match(r.stdout, /VIOLATED --max-peak 100 MiB: peak 1\d\d MiB \(tree RSS at [\d:.]+\) is \d+\.?\d* MiB \(\d+%\) over 100 MiB/);
  assert.match(r.stdout, /VIOLATED --max-growth 17\.1 MiB\/min: growth \+1\d\d MiB\/min .* is \d+ MiB\/min over 17\.1 MiB\/min/);
  assert.match(r.stdout, /VIOLATED --no-leak: leak: the floors kept rising/);
  assert.match(r.stdout, /ok {7}--max-share-of-limit 50%: peak 1\d\d MiB \(tree RSS\) is [\d.]+% of the 4\.00 GiB limit \(given to analyze\)/);
  const ok = await runCli(['analyze', leak, '--max-peak', '1GiB', '--max-growth', '1GiB/min']);
  assert.equal(ok.code, 0);
});

test('one sample is a verdict (insufficient data); an empty or sample-less recording is an error', async () => {
  const { one, none } = recordings();
  const r = await runCli(['analyze', one]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /verdict {3}insufficient data \(only 1 sample with memory in use/);
  const j = JSON.parse((await runCli(['analyze', one, '--json'])).stdout);
  assert.equal(j.verdict, 'insufficient data');
  const n = await runCli(['analyze', none]);
  assert.equal(n.code, EXIT.USAGE);
  assert.match(n.stderr, /^memhunt: .*none\.mh: the recording has no samples\n$/);
  const e = await runCli(['analyze', path.join(FIXTURES, 'invalid', 'empty.dat')]);
  assert.equal(e.code, EXIT.USAGE);
  assert.match(e.stderr, /^memhunt: .*empty\.dat: the file is empty\n$/);
});

test('a growth limit on too little data is skipped, not failed', async () => {
  const { one } = recordings();
  const r = await runCli(['analyze', one, '--no-leak', '--max-growth', '5MiB/min']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /skipped {2}--no-leak: not judged: only 1 sample/);
});

test('bad limits are one clear line and exit 2', async () => {
  const { leak } = recordings();
  const cases: Array<[string[], RegExp]> = [
    [['--max-growth', '5MiB/fortnight'], /^memhunt: --max-growth "5MiB\/fortnight" has an unknown time unit "fortnight"; use s, min, h or day/],
    [['--max-share-of-limit', '120%', '--limit', '1GiB'], /^memhunt: --max-share-of-limit "120%" must be more than 0% and at most 100%/],
    [['--max-peak', 'lots'], /^memhunt: --max-peak "lots" is not a size/],
    [['--max-peak', '1GiB', '--max-peak', '2GiB'], /^memhunt: --max-peak is given twice with different values \(1GiB, 2GiB\); give it once/],
    [['--max-share-of-limit', '80%'], /^memhunt: --max-share-of-limit: .* has no limit \(no --limit, no cgroup memory limit\); give one with --limit SIZE/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['analyze', leak, ...args]);
    assert.equal(r.code, EXIT.USAGE, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});

test("analyze reads mprof's .dat files", async () => {
  const r = await runCli(['analyze', path.join(FIXTURES, 'mprof', '0.61', 'multiprocess.dat')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /memhunt analyze: .*multiprocess\.dat: python3 children\.py/);
  assert.match(r.stdout, /verdict {3}(stable|spike|leak|insufficient data)/);
  assert.match(r.stdout, /processes:/);
});

test("issue 9: memory_profiler's own numpy example (frees 760 MiB when its function returns, then exits) is not a leak", async () => {
  // fixtures/mprof/0.61/numpy-example.dat: `mprof run numpy_example.py` (make-fixtures.sh), the
  // example shipped with memory_profiler. It climbs to 1.2 GiB, falls to 475 MiB when
  // process_data returns (its FUNC line ends at 475 MiB), holds that 0.4 s, then exits. The fall
  // at exit was cut at the 1.2 GiB top before: "leak (high confidence) +5.18 GiB/min".
  const r = await runCli(['analyze', '--json', path.join(FIXTURES, 'mprof', '0.61', 'numpy-example.dat')]);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(r.stdout) as { verdict: string; tree: { analyzedToMs: number; endMs: number; reason: string } };
  assert.notEqual(a.verdict, 'leak', a.tree.reason);
  // The release at the end is analysed (only the exit's own fall is left out).
  assert.ok(a.tree.endMs - a.tree.analyzedToMs < 500, `analysed to ${a.tree.analyzedToMs} of ${a.tree.endMs} ms`);
});

test('analyze of an mprof -C -M .dat: the process mprof started is "(no pid)", said once, never "pid 0"; its children by their CHLD pids', async () => {
  const file = path.join(FIXTURES, 'mprof', '0.61', 'include-children-multiprocess.dat');
  const chld = [...new Set(fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('CHLD ')).map((l) => l.split(' ')[1]!).filter((p) => p !== '0'))];
  assert.ok(chld.length >= 2, chld.join(','));
  const r = await runCli(['analyze', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /\bpid 0\b/, r.stdout);
  assert.match(r.stdout, /^ {4}\(no pid\) +\S.* python3 children\.py/m);
  assert.match(r.stdout, /^ {4}\(no pid\): the process mprof started; a \.dat holds no pid for it, only its children's \(CHLD lines\)$/m);
  for (const pid of chld) assert.match(r.stdout, new RegExp(`^ {4}pid ${pid} `, 'm'));
  const s = await runCli(['summary', file]);
  assert.doesNotMatch(s.stdout, /\bpid 0\b/, s.stdout);
});

test('mprof children, which have no command line in the .dat, are said to have none (trial 5: "in pid 781 ()", "most held by pid 781 ?")', async () => {
  const dat = path.join(FIXTURES, 'mprof', '0.61', 'matrix', 'psutil_pss-C-M.dat');
  const a = await runCli(['analyze', dat]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /pid \d+ .* no command line/);
  assert.doesNotMatch(a.stdout, /\(\)|pid \d+ \?/);
  const s = await runCli(['summary', dat]);
  assert.match(s.stdout, /most held by pid \d+ \(no command line\)/);
});
