/**
 * `memhunt scale` end to end, the fast part: a run killed by --limit kept as evidence, every run
 * failing, bad input, flags parsed without running. The laws (linear, quadratic, fixed + linear,
 * constant) against measured runs are in scale-linear, scale-quadratic and scale-model.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../test-support';
import { EXIT } from './exit-codes';
import { parseScaleSizes, resolveScaleFlags, sizeFromArgv } from './scale';
import { MiB, PY, script, LIST_PY } from './scale-testkit';

test('a run killed by --limit is reported, kept, not fitted; the request does not fit: exit 3', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'floats.py', LIST_PY);
  const runs = path.join(dir, 'runs');
  const r = await runCli(['scale', '--sizes', '100000,200000,400000,1600000', '--full', '3200000', '--limit', '48MiB', '--dir', runs, '--', PY, prog, '{}'], { timeoutMs: 170_000 });
  assert.equal(r.code, EXIT.LIMIT_VIOLATED, r.stderr);
  assert.match(r.stdout, /! 1,600,000 +≥ \d+(\.\d+)? MiB .*killed by --limit/);
  assert.match(r.stdout, /size 1,600,000 was killed by --limit \(over 48\.0 MiB\)/);
  assert.match(r.stdout, /limit {6}48\.0 MiB \(--limit\): does NOT fit; the largest size that fits ≈ /);
  assert.ok(fs.existsSync(path.join(runs, 'n1600000.mh')));
});

test('every run failing: the command\'s own exit code, the runs listed, the recordings kept', async () => {
  const dir = tempDir('memhunt-scale-');
  const runs = path.join(dir, 'runs');
  const r = await runCli(['scale', '--sizes', '1,2,3', '--full', '10', '--dir', runs, '--', PY, '-c', 'import sys; sys.exit(5)', '{}'], { timeoutMs: 120_000 });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /only 0 sizes ran to completion; fitting needs 3/);
  assert.match(r.stderr, /the recordings are kept in /);
  assert.match(r.stderr, /exit code 5 is the command's own, at size 3/);
  assert.equal(fs.readdirSync(runs).length, 3);
});

test('bad input: one line, exit 2, nothing run', async () => {
  const dir = tempDir('memhunt-scale-');
  const cases: Array<[string[], RegExp]> = [
    [['--sizes', '10,20', '--full', '100', '--', 'true', '{}'], /needs at least 3/],
    [['--sizes', '10,5,20', '--full', '100', '--', 'true', '{}'], /not increasing/],
    [['--sizes', '10,2x,40', '--full', '100', '--', 'true', '{}'], /"2x" is not a size/],
    [['--sizes', '1%,2,4', '--full', '100%', '--', 'true', '{}'], /mixes percentages and numbers/],
    [['--sizes', '1%,2%,4%', '--full', '100', '--', 'true', '{}'], /must be of one kind/],
    [['--sizes', '10,20,40', '--full', '100', '--', 'true'], /no \{\} placeholder/],
    [['--sizes', '10,20,40', '--', 'true', '{}'], /--full is required/],
    [['--sizes', '10,20,40', '--full', '100', '--repeat', '0', '--', 'true', '{}'], /--repeat "0"/],
    [['--sizes', '10,20,40', '--full', '100', '-o', 'x.gif', '--', 'true', '{}'], /\.png, \.svg or \.html/],
    [['--full', '100'], /give --sizes and a command/],
    [[path.join(dir, 'missing.mh'), '--full', '100'], /no such file/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['scale', '--dir', path.join(dir, 'never'), ...args]);
    assert.equal(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  }
  assert.equal(fs.existsSync(path.join(dir, 'never')), false);
});

test('flags and sizes parse without running anything', () => {
  assert.deepEqual(parseScaleSizes('1%, 2%,4%').map((s) => [s.text, s.value, s.percent]), [['1%', 1, true], ['2%', 2, true], ['4%', 4, true]]);
  assert.deepEqual(parseScaleSizes('1e4,2e4,4e4').map((s) => s.value), [1e4, 2e4, 4e4]);
  assert.equal(sizeFromArgv(['python3', 'etl.py', '5000'], '2'), '5000');
  assert.equal(sizeFromArgv(['python3', 'etl.py', '--rows', '5000'], '--rows'), '5000');
  assert.equal(sizeFromArgv(['python3', 'etl.py', '--rows=5000'], '--rows'), '5000');
  const r = resolveScaleFlags(['python3', 'x.py', '{}'], { sizes: '1,2,3', full: '3', repeat: '2', jobs: '1', interval: '10ms', metric: 'rss', margin: '0%', round: '64MiB', unit: 'row' });
  assert.equal(r.marginRel, 0);
  assert.equal(r.repeat, 2);
  assert.equal(r.roundBytes, 64 * MiB);
});
