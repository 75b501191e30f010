/**
 * `memhunt scale` end to end: the real binary runs real Python programs of known memory laws at
 * several sizes, and the projection is checked against a run at a larger size it never saw (issue
 * 16 item 6). Plus recordings read back, a run killed by --limit kept as evidence, and bad input.
 *
 * The programs hold their peak for 0.2 s before exiting, so that the sampler (10 ms) sees it on a
 * loaded machine; the sizes are chosen to run in about a second each here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../test-support';
import { EXIT } from './exit-codes';
import { parseScaleSizes, resolveScaleFlags, sizeFromArgv } from './scale';

const MiB = 1024 * 1024;
/** Debian's interpreter: numpy comes with python3-pandas (.ci/run installs it). */
const PY = '/usr/bin/python3';

/** A list of N floats: 8 B of list slot + a 24 B float in a 32 B pymalloc block (16-byte alignment) = 40 B per item. */
const LIST_PY = `
import sys, time
n = int(sys.argv[1])
xs = [float(i) for i in range(n)]
time.sleep(0.2)
`;

/** An N×N float64 matrix: 8 B per pair, touched (np.ones writes every page). */
const MATRIX_PY = `
import sys, time
import numpy as np
n = int(sys.argv[1])
d = np.ones((n, n))
time.sleep(0.2)
`;

/** A 200 MiB "model" (written, so resident) plus 4 KiB per item (built at run time: a constant b"x" * 4000 would be folded into one shared object). */
const MODEL_PY = `
import sys, time
n = int(sys.argv[1])
model = b"\\x01" * (200 << 20)
items = [bytes([i % 251]) * 4000 for i in range(n)]
time.sleep(0.2)
`;

/** The same 60 MiB whatever N is. */
const CONSTANT_PY = `
import sys, time
n = int(sys.argv[1])
buf = b"\\x03" * (60 << 20)
time.sleep(0.2)
`;

function script(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

interface Json {
  runs: Array<{ size: number; peakBytes: number; status: string; path: string; end: string }>;
  model: { kind: string; fixedBytes: number; coef: number; exponent: number };
  projection: { bytes: number; lowBytes: number; highBytes: number; envelope: { lowBytes: number; highBytes: number } };
  decided: boolean;
  recommendation: { requestBytes: number; fits: boolean | null; largestSizeThatFits: number | 'any' | null };
  findings: string[];
  powerExponent: number | null;
}

async function scale(args: string[]): Promise<{ json: Json; stderr: string; code: number | null }> {
  const r = await runCli(['scale', '--json', ...args], { timeoutMs: 170_000 });
  assert.equal(r.code === EXIT.OK || r.code === EXIT.LIMIT_VIOLATED, true, `exit ${r.code}: ${r.stderr}`);
  return { json: JSON.parse(r.stdout) as Json, stderr: r.stderr, code: r.code };
}

/** The peak of one run at `size`, as memhunt scale measures it (a scale "run" of one repeat is not possible: 3 sizes are needed, so run + peak). */
async function measured(prog: string, size: number, dir: string): Promise<number> {
  const out = path.join(dir, `held-out-${size}.mh`);
  const r = await runCli(['run', '-q', '-i', '10ms', '-o', out, '--', PY, prog, String(size)], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const p = await runCli(['peak', '-p', out]);
  // The tree's sampled peak, and each process's kernel peak: memhunt scale takes the higher.
  const nums = [...p.stdout.matchAll(/(\d+(?:\.\d+)?) (MiB|GiB|KiB)/g)].map((m) => Number(m[1]) * (m[2] === 'GiB' ? 1024 * MiB : m[2] === 'MiB' ? MiB : 1024));
  const first = /\t(\d+\.\d+) MiB/.exec(p.stdout);
  return Math.max(first ? Number(first[1]) * MiB : 0, ...nums);
}

function assertProjection(j: Json, actual: number, what: string): void {
  const p = j.projection;
  assert.ok(Math.abs(p.bytes / actual - 1) <= 0.15, `${what}: projected ${(p.bytes / MiB).toFixed(1)} MiB, measured ${(actual / MiB).toFixed(1)} MiB`);
  assert.ok(actual >= p.envelope.lowBytes && actual <= p.envelope.highBytes,
    `${what}: measured ${(actual / MiB).toFixed(1)} MiB outside ${(p.envelope.lowBytes / MiB).toFixed(1)} … ${(p.envelope.highBytes / MiB).toFixed(1)} MiB`);
}

test('a list of N floats: linear, 40 B per item within 10%, the projection holds a larger run; recordings read back', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'floats.py', LIST_PY);
  const runs = path.join(dir, 'runs');
  const full = 3_200_000;
  const { json } = await scale(['--sizes', '200000,400000,800000,1600000', '--full', String(full), '--dir', runs, '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'linear', JSON.stringify(json.model));
  assert.ok(Math.abs(json.model.coef / 40 - 1) <= 0.1, `${json.model.coef} B per item`);
  assert.ok(json.findings.some((f) => /per-item cost ≈ \d+(\.\d+)? B per item/.test(f)), json.findings.join('\n'));
  assert.equal(json.runs.length, 4);
  for (const r of json.runs) assert.ok(fs.existsSync(r.path), r.path);
  assertProjection(json, await measured(prog, full, dir), 'list of floats');

  // The same recordings, read back: sizes from their headers, then from the command's argument 2.
  const files = fs.readdirSync(runs).map((f) => path.join(runs, f));
  const again = await scale([...files, '--full', String(full)]);
  assert.equal(again.json.model.kind, 'linear');
  assert.ok(Math.abs(again.json.projection.bytes / json.projection.bytes - 1) < 1e-9);
  const byArg = await scale([...files, '--size-from-arg', '2', '--full', String(full)]);
  assert.equal(byArg.json.projection.bytes, again.json.projection.bytes);
});

test('an N×N float64 matrix: quadratic, 8 B per pair within 10%, the projection holds a larger run', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'matrix.py', MATRIX_PY);
  const full = 4000;
  const { json } = await scale(['--sizes', '500,1000,1500,2000', '--full', String(full), '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'quadratic', JSON.stringify(json.model));
  assert.ok(Math.abs(json.model.coef / 8 - 1) <= 0.1, `${json.model.coef} B per pair`);
  assert.ok(json.findings.some((f) => /superlinear: the growing part grows as N\^[12]\.\d\d: something holds a pairwise structure/.test(f)), json.findings.join('\n'));
  assertProjection(json, await measured(prog, full, dir), 'matrix');
});

test('a fixed 200 MiB model plus 4 KiB per item: the fixed part and the per-item cost are recovered', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'model.py', MODEL_PY);
  const full = 20_000;
  const { json } = await scale(['--sizes', '1250,2500,5000,10000', '--full', String(full), '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'linear', JSON.stringify(json.model));
  // 4000 B of bytes object + its 33 B header, in a malloc'd block of ~4048 B.
  assert.ok(Math.abs(json.model.coef / 4048 - 1) <= 0.1, `${json.model.coef} B per item`);
  assert.ok(json.model.fixedBytes >= 200 * MiB && json.model.fixedBytes <= 1.1 * 215 * MiB, `fixed ${(json.model.fixedBytes / MiB).toFixed(1)} MiB`);
  assertProjection(json, await measured(prog, full, dir), 'model + linear');
});

test('a peak that does not depend on N: constant, and the --limit verdict', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'constant.py', CONSTANT_PY);
  const { json, code } = await scale(['--sizes', '1000,2000,4000,8000', '--full', '1000000', '--limit', '1GiB', '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'constant');
  assert.ok(json.findings.some((f) => /does not depend on the size/.test(f)));
  assert.equal(json.recommendation.fits, true);
  assert.equal(code, EXIT.OK);
});

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
