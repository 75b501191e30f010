/** `memhunt plot` end to end: the real binary on real and broken files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { outputFormat, parsePlotFlags } from './plot';

const EXAMPLE = path.join(FIXTURES, 'memhunt', 'v1', 'example.mh');
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('plot flags are typed data', () => {
  const p = parsePlotFlags({ limit: '2GiB', size: '1600x800', trend: true, maxProcesses: '4', title: 'x', rows: '10' });
  assert.deepEqual(p, { chart: { title: 'x', perProcess: undefined, trend: true, limitBytes: 2 * 1024 ** 3, maxProcesses: 4 }, width: 1600, height: 800, rows: 10 });
  assert.equal(parsePlotFlags({ perProcess: false }).chart.perProcess, false);
  assert.throws(() => parsePlotFlags({ size: '20x20' }), /WIDTHxHEIGHT/);
  assert.throws(() => parsePlotFlags({ limit: '100' }), /needs a unit/);
  assert.throws(() => parsePlotFlags({ maxProcesses: '0' }), /1 to 64/);
  assert.equal(outputFormat('a/b.PNG'), 'png');
  assert.equal(outputFormat('r.htm'), 'html');
  assert.throws(() => outputFormat('r.jpg'), /cannot write "\.jpg"; plot writes \.png, \.svg or \.html/);
});

test('plot writes a PNG, an SVG and an HTML report of a recording', async () => {
  const dir = tempDir();
  for (const ext of ['png', 'svg', 'html']) {
    const out = path.join(dir, `m.${ext}`);
    const r = await runCli(['plot', EXAMPLE, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `wrote ${out}\n`);
    const data = fs.readFileSync(out);
    if (ext === 'png') assert.deepEqual(data.subarray(0, 8), PNG_MAGIC);
    else assert.match(data.toString(), ext === 'svg' ? /^<svg[^>]*>[\s\S]*python3 examples\/train\.py 2/ : /^<!doctype html>[\s\S]*<h1>python3 examples\/train\.py 2<\/h1>/);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['m.html', 'm.png', 'm.svg'], 'no temporary files left');
});

test('plot with no arguments draws the newest recording here into memhunt_<time>.png', async () => {
  const dir = tempDir();
  fs.copyFileSync(EXAMPLE, path.join(dir, 'memhunt_20261127150102.mh'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'memhunt_20261126090000.mh'));
  const r = await runCli(['plot'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'memhunt_20261127150102.png')).subarray(0, 8), PNG_MAGIC);
  const empty = tempDir();
  const none = await runCli(['plot'], { cwd: empty });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^memhunt: no recording in this folder/);
});

test('bad input: one line, exit 2, and no output file', async () => {
  const dir = tempDir();
  const empty = path.join(dir, 'empty.mh');
  fs.writeFileSync(empty, '');
  const headerCut = path.join(dir, 'cut-header.mh');
  fs.writeFileSync(headerCut, fs.readFileSync(EXAMPLE).subarray(0, 15));
  const foreign = path.join(FIXTURES, 'invalid', 'garbage.bin');
  const cases: Array<[string[], RegExp]> = [
    [[path.join(dir, 'missing.mh')], /missing\.mh: no such file/],
    [[empty], /the file is empty/],
    [[headerCut], /cut-header\.mh: not a memhunt recording/],
    [[foreign], /not a recording memhunt can read/],
    [[EXAMPLE, '-o', path.join(dir, 'x.jpg')], /cannot write "\.jpg"; plot writes \.png, \.svg or \.html/],
    [[EXAMPLE, '-o', EXAMPLE], /is one of the recordings/],
    [[EXAMPLE, '--size', 'big'], /--size "big" must be WIDTHxHEIGHT/],
  ];
  for (const [args, message] of cases) {
    const out = args.includes('-o') ? [] : ['-o', path.join(dir, 'out.png')];
    const r = await runCli(['plot', ...args, ...out]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^memhunt/);
  }
  assert.deepEqual(fs.readdirSync(dir).sort(), ['cut-header.mh', 'empty.mh'], 'nothing written, no temporary file left');
});

test('a recording cut after some samples (memhunt was killed) is drawn, with a warning', async () => {
  const dir = tempDir();
  const cut = path.join(dir, 'cut.mh');
  const whole = fs.readFileSync(EXAMPLE);
  fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const r = await runCli(['plot', cut, '-o', path.join(dir, 'cut.svg')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /cut\.mh: .*(cut|damaged|without its final record)/);
  assert.match(fs.readFileSync(path.join(dir, 'cut.svg'), 'utf8'), /recording cut \(no end\)/);
});

test('mprof files, several recordings on one axis, and the terminal chart', async () => {
  const dir = tempDir();
  const dat = path.join(FIXTURES, 'mprof', '0.61', 'include-children-multiprocess.dat');
  const r1 = await runCli(['plot', dat, '-o', path.join(dir, 'mprof.png'), '--trend']);
  assert.equal(r1.code, 0, r1.stderr);
  const r2 = await runCli(['plot', EXAMPLE, dat, '-o', path.join(dir, 'compare.svg'), '--title', 'before <and> after']);
  assert.equal(r2.code, 0, r2.stderr);
  const svg = fs.readFileSync(path.join(dir, 'compare.svg'), 'utf8');
  assert.match(svg, /before &lt;and&gt; after/);
  assert.match(svg, /example\.mh \(python3/);
  assert.match(svg, /include-children-multiprocess\.dat \(/);
  const r3 = await runCli(['plot', EXAMPLE, '--term'], { env: { ...process.env, COLUMNS: '72', NO_COLOR: '1' } });
  assert.equal(r3.code, 0, r3.stderr);
  const lines = r3.stdout.trimEnd().split('\n');
  for (const l of lines) assert.ok([...l].length <= 72, `wider than $COLUMNS: "${l}"`);
  assert.match(r3.stdout, /[\u2801-\u28ff]/);
  assert.match(r3.stdout, /exit 0/);
  assert.match(r3.stdout, /epoch 1/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['compare.svg', 'mprof.png'], '--term alone writes no file');
  const colour = await runCli(['plot', EXAMPLE, '--term'], { env: { ...process.env, COLUMNS: '90', FORCE_COLOR: '1' } });
  assert.match(colour.stdout, /\x1b\[3\dm/, 'per-process lines in colour');
  assert.match(colour.stdout, /pid \d+ python3/);
});
