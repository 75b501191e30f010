/**
 * `memhunt check`: the real binary running real programs; exit codes (0, the limit-violated code,
 * the target's own), what is printed, JUnit XML, and bad limits refused before anything runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, pythonPath, runCli, tempDir } from '../test-support';
import { EXIT } from './exit-codes';

/** ~3 s of a healthy sawtooth: batches of 20 MiB (mmap'd, really returned), freed each time. */
const STABLE_PY = `
import time
t0 = time.monotonic()
while time.monotonic() - t0 < 3.0:
    b = [b"\\x01" * (10 << 20), b"\\x01" * (10 << 20)]
    time.sleep(0.1)
    del b
    time.sleep(0.05)
`;

/** ~3 s of a steady leak: 1 MiB kept every 50 ms. */
const LEAK_PY = `
import time
kept = []
t0 = time.monotonic()
while time.monotonic() - t0 < 3.0:
    kept.append(bytearray(b"\\x02" * (1 << 20)))
    time.sleep(0.05)
`;

test('check passes a healthy run: exit 0, each limit reported ok', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'ok.mh');
  const r = await runCli(['check', '--no-leak', '--max-peak', '1GiB', '--max-growth', '5MiB/min', '--interval', '50ms', '-o', out, '--', pythonPath(), '-c', STABLE_PY]);
  assert.equal(r.code, EXIT.OK, r.stderr);
  assert.match(r.stderr, /memhunt check: python3 -c/);
  // A 20 MiB sawtooth: stable; on a starved machine (load 20) its few teeth can read as spikes, or
  // pyenv's shims take 5 s and leave 3 s of the program: insufficient data. Never a leak.
  assert.match(r.stderr, /verdict {3}(?:stable|spike|insufficient data)/);
  assert.match(r.stderr, /ok {7}--max-peak 1\.00 GiB: peak \d+\.?\d* MiB \(tree RSS at [\d:.]+\) is \d+\.?\d*% of 1\.00 GiB/);
  assert.match(r.stderr, /ok {7}--no-leak: no leak/);
  assert.match(r.stderr, /ok {7}--max-growth 5\.00 MiB\/min: no sustained growth/);
  assert.ok(fs.existsSync(out));
});

test('check fails a leaking run with the limit-violated code: which limit, by how much, where the recording is; JUnit XML too', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'leak.mh');
  const junit = path.join(dir, 'reports', 'memory.xml');
  fs.mkdirSync(path.dirname(junit));
  const r = await runCli(['check', '-q', '--no-leak', '--max-growth', '5MiB/min', '--max-peak', '10GiB', '--junit', junit, '--interval', '50ms', '-o', out, '--', pythonPath(), '-c', LEAK_PY]);
  assert.equal(r.code, EXIT.LIMIT_VIOLATED, r.stderr);
  assert.match(r.stderr, /memhunt check: python3 -c " import time kept = \[\] t0 = time\.monotonic\(\) while/);
  assert.match(r.stderr, /verdict {3}leak \(\w+ confidence\): floors rising \+/);
  assert.match(r.stderr, /VIOLATED --no-leak: leak\b.*floors kept rising/);
  assert.match(r.stderr, /VIOLATED --max-growth 5\.00 MiB\/min: growth (?:in pid \d+ )?\+[\d.]+ [MG]iB\/min \(90% interval .*\) is [\d.]+ [MG]iB\/min over 5\.00 MiB\/min/);
  assert.match(r.stderr, /ok {7}--max-peak 10\.0 GiB/);
  assert.ok(r.stderr.includes(`memhunt check: 2 of 3 limits violated (--max-growth, --no-leak); recording: ${out}\n`), r.stderr);
  const xml = fs.readFileSync(junit, 'utf8');
  assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="memhunt check" tests="4" failures="2" errors="0" skipped="0"/);
  assert.match(xml, /<testcase classname="memhunt\.check" name="--no-leak" time="0"><failure type="memory-limit" message="leak\b[^"]*floors kept rising/);
  assert.match(xml, /<testcase classname="memhunt\.check" name="--max-peak 10\.0 GiB" time="0"><\/testcase>/);
  assert.match(xml, /<property name="recording" value="[^"]*leak\.mh"\/>/);
  assert.deepEqual(fs.readdirSync(path.dirname(junit)), ['memory.xml'], 'written atomically: no temporary file left');
});

test("check returns the target's own code when the target fails, and still reports the limits", async () => {
  const dir = tempDir();
  const r = await runCli(['check', '--no-leak', '-q', '-o', path.join(dir, 'f.mh'), '--', 'sh', '-c', 'sleep 0.3; exit 5']);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /memhunt check: the command failed \(exit code 5\); recording: .*f\.mh/);
  assert.match(r.stderr, /skipped {2}--no-leak: not judged/);
  const nf = await runCli(['check', '--no-leak', '-o', path.join(dir, 'g.mh'), '--', 'no-such-command-xyz']);
  assert.equal(nf.code, EXIT.NOT_FOUND);
});

test('check refuses missing, malformed and contradictory limits before running anything', async () => {
  const dir = tempDir();
  const marker = path.join(dir, 'ran');
  const cases: Array<[string[], RegExp]> = [
    [[], /check needs at least one limit: --max-peak, --max-growth, --no-leak or --max-share-of-limit/],
    [['--max-growth', '5MiB/fortnight'], /--max-growth "5MiB\/fortnight" has an unknown time unit "fortnight"/],
    [['--max-share-of-limit', '120%'], /--max-share-of-limit "120%" must be more than 0% and at most 100%/],
    [['--max-peak', '3GiB', '--limit', '2GiB'], /--max-peak 3\.00 GiB contradicts --limit 2\.00 GiB: the run is killed at the limit/],
    [['--no-leak', '--max-growth', '5MiB/min', '--max-growth', '6MiB/min'], /--max-growth is given twice with different values/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['check', ...args, '-o', path.join(dir, 'x.mh'), '--', 'touch', marker], { cwd: dir });
    assert.equal(r.code, EXIT.USAGE, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
  }
  assert.equal(fs.existsSync(marker), false, 'the command never ran');
});

test('check (or run) given a recording where the command goes: refused with the command that reads it (held-out trial 5: "command not found", 127)', async () => {
  const dir = tempDir();
  const rec = path.join(dir, 'job.mh');
  fs.copyFileSync(path.join(FIXTURES, 'corpus', 'heldout5', 'recorded', 'p01_saw_fast.r2.mh'), rec);
  const c = await runCli(['check', '--no-leak', rec]);
  assert.equal(c.code, 2, c.stderr);
  assert.equal(c.stderr, `memhunt: ${rec} is a recording, not a command: check runs a command (after --); for a recording: memhunt analyze with the same limits, e.g. memhunt analyze --no-leak ${rec}\n`);
  const r = await runCli(['run', rec]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /is a recording, not a command: run runs a command \(after --\); for a recording: memhunt summary /);
  assert.ok(!fs.readdirSync(dir).some((f) => f !== 'job.mh'), 'nothing written');
});
