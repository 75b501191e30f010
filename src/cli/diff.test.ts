/** `memhunt diff`: two runs side by side, text and JSON, on recordings from the real writer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { saw, writeSyntheticRecording } from './analysis-testkit';
import { EXIT } from './exit-codes';

function pair() {
  const dir = tempDir();
  const before = writeSyntheticRecording(path.join(dir, 'pandas-2.1.mh'), [
    { pid: 10, cmd: ['python3', 'etl.py'], mib: (t) => 200 + t * 4 + saw(t, 0.5, 100) },
  ], { durationS: 30 });
  const after = writeSyntheticRecording(path.join(dir, 'pandas-2.2.mh'), [
    { pid: 11, cmd: ['python3', 'etl.py'], mib: (t) => 150 + saw(t, 0.5, 100) },
  ], { durationS: 30 });
  return { before, after };
}

test('diff shows peak, growth and verdict side by side, and what changed', async () => {
  const { before, after } = pair();
  const r = await runCli(['diff', before, after]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0]!, /^memhunt diff: the leak is gone \(stable\); peak down \d+ MiB \(\d+%\)$/);
  assert.match(r.stdout, /\n {2}peak +4\d\d MiB +2\d\d MiB +-\d+\.?\d* MiB \(-\d+%\)\n/);
  assert.match(r.stdout, /\n {2}growth +\+240 MiB\/min \(tree total\) +none sustained \(.*\) +-240 MiB\/min\n/);
  assert.match(r.stdout, /\n {2}verdict +leak \(high\) +stable \(high\) +changed\n/);
  assert.match(r.stdout, /\n {2}recording +.*pandas-2\.1\.mh +.*pandas-2\.2\.mh/);
  const back = await runCli(['diff', after, before]);
  assert.match(back.stdout.split('\n')[0]!, /^memhunt diff: a leak appeared; peak up/);
});

test('diff --json has both analyses and the conclusion', async () => {
  const { before, after } = pair();
  const j = JSON.parse((await runCli(['diff', '--json', before, after])).stdout);
  assert.equal(j.before.verdict, 'leak');
  assert.equal(j.after.verdict, 'stable');
  assert.match(j.conclusion, /the leak is gone/);
  assert.ok(j.before.summary.peakBytes > j.after.summary.peakBytes);
});

test('diff works across formats and refuses what is not a recording', async () => {
  const { before } = pair();
  const r = await runCli(['diff', before, path.join(FIXTURES, 'mprof', '0.61', 'plain.dat')]);
  assert.equal(r.code, 0, r.stderr);
  const bad = await runCli(['diff', before, path.join(FIXTURES, 'invalid', 'garbage.bin')]);
  assert.equal(bad.code, EXIT.USAGE);
  assert.match(bad.stderr, /^memhunt: .*garbage\.bin: not a recording memhunt can read/);
  const missing = await runCli(['diff', before]);
  assert.equal(missing.code, EXIT.USAGE);
  assert.match(missing.stderr, /^memhunt diff: missing required argument 'after'/);
});

test('diff compares leak rates in one scope and says which (trial 3: a forked and a spawned pool whose workers leak)', async () => {
  // Both verdicts are the workers' (the tree totals alone read stable and spike): the conclusion
  // compared the totals' +3.67 and +2.51 GiB/min ("slower, -31%") under headlines of +580 and
  // +980 MiB/min (spawn leaks faster).
  const dir = path.join(FIXTURES, 'memhunt', 'trial3');
  const r = await runCli(['diff', path.join(dir, 'pool_fork.mh'), path.join(dir, 'pool_spawn.mh')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^memhunt diff: still leaking, faster \(\+\d+%, fastest leaking process: pid 6939 → pid 7084\)/, r.stdout);
  assert.match(r.stdout, /\n {2}growth +\+580 MiB\/min \(pid 6939\) +\+980 MiB\/min \(pid 7084\) +\+400 MiB\/min\n/, r.stdout);
  // Two tree-total leaks: the totals, said so.
  const t = await runCli(['diff', path.join(dir, 'slc1.mh'), path.join(dir, 'sl.mh')]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^memhunt diff: still leaking, (faster|slower) \([+-]\d+%, tree totals\)/, t.stdout);
});
