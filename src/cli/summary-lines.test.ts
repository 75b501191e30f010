/**
 * What the run summary, `summary` and `heap` say (issue 12, items found by the last trial): the
 * limit named as the user gave it, a kill at the limit in the verdict, a damaged file's loss as a
 * note, no "0 heap censuses" unless censuses were asked for, and advice that matches the
 * recording. The real binary, real interpreters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, runCli, tempDir } from '../test-support';

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const EXAMPLE = path.join(FIXTURES, 'memhunt', 'v1', 'example.mh');
const MPROF_DAT = path.join(FIXTURES, 'mprof', '0.61', 'include-children.dat');

const verdictOf = (stderr: string) => /^ {2}verdict +(.*)$/m.exec(stderr)?.[1] ?? '';

test('run --limit: a run killed at its limit says so in the verdict, and the limit is "--limit", not "given to analyze"', async () => {
  const dir = tempDir();
  // 80 MiB touched at once against a 40 MiB limit: killed within the first samples.
  const r = await runCli(['run', '--interval', '10ms', '--limit', '40MiB', '-o', path.join(dir, 'k.mh'), '--', PYTHON, '-c', "import time\nx = b'x' * (80 << 20)\ntime.sleep(30)"]);
  assert.equal(r.code, 137, r.stderr);
  assert.match(r.stderr, /^ {2}end {7}killed by memhunt: --limit exceeded/m);
  assert.match(verdictOf(r.stderr), /killed by memhunt at the 40\.0 MiB --limit/, r.stderr);
  assert.doesNotMatch(r.stderr, /given to analyze/);
  // check reads the same analysis: its share of the limit names --limit too.
  const c = await runCli(['check', '--interval', '10ms', '--limit', '2GiB', '--max-share-of-limit', '90%', '-o', path.join(dir, 'c.mh'), '--', PYTHON, '-c', "x = b'x' * (20 << 20)"]);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /of the 2\.00 GiB limit \(--limit\)/);
  assert.doesNotMatch(c.stderr, /given to analyze/);
});

test('summary of a damaged recording says what was lost as a note in the summary, as analyze does', async () => {
  const dir = tempDir();
  const full = fs.readFileSync(EXAMPLE);
  const cut = path.join(dir, 'cut.mh');
  fs.writeFileSync(cut, full.subarray(0, full.length - 40));
  const s = await runCli(['summary', cut]);
  assert.equal(s.code, 0, s.stderr);
  // Said on stderr as every reader says it (one line per loss), and in the summary's notes.
  assert.ok(s.stderr.trim().split('\n').every((l) => l.startsWith(`memhunt: ${cut}: `)), s.stderr);
  const notes = s.stdout.split('\n').filter((l) => /^ {2}note {6}\S/.test(l));
  assert.ok(notes.length >= 1, s.stdout);
  const a = await runCli(['analyze', cut]);
  for (const n of notes) assert.ok(a.stdout.includes(n.replace(/^ {2}note {6}/, '')), `analyze says it too: ${n}`);
});

test('the agents row only when censuses were taken or asked for; --heap-every on a non-Python program says once that it needs Python; heap advice matches the recording', async () => {
  const dir = tempDir();
  const py = path.join(dir, 'py.mh');
  const plain = await runCli(['run', '--interval', '10ms', '-o', py, '--', PYTHON, '-c', 'import time; time.sleep(0.5)']);
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /agents|heap census/, 'nothing asked, nothing said');
  const heapPy = await runCli(['heap', py]);
  assert.match(heapPy.stdout, /the agent ran in 1 Python process but took no census .*--heap-every 30s/);

  const asked = await runCli(['run', '--interval', '10ms', '--heap-every', '1h', '-o', path.join(dir, 'a.mh'), '--', PYTHON, '-c', 'import time; time.sleep(0.5)']);
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stderr, /^ {2}agents {4}1 Python process \(pid \d+\): 0 heap censuses$/m, 'asked for and none came: said');

  const node = path.join(dir, 'node.mh');
  const n = await runCli(['run', '--interval', '10ms', '--heap-every', '200ms', '-o', node, '--', process.execPath, '-e', 'setTimeout(() => {}, 600)']);
  assert.equal(n.code, 0, n.stderr);
  assert.equal(n.stderr.match(/heap censuses .* need a Python process/g)?.length, 1, n.stderr);
  const heapNode = await runCli(['heap', node]);
  assert.match(heapNode.stdout, /no Python process ran in it: heap censuses need a Python target/);
  assert.doesNotMatch(heapNode.stdout, /--heap-every/, 'no advice to do what was done');

  const heapMprof = await runCli(['heap', MPROF_DAT]);
  assert.match(heapMprof.stdout, /an mprof \.dat file holds memory over time only/);
});

test('a Dask worker that sat at its pause threshold says so (trial 4: a job hung 2 minutes, "insufficient data" only)', async () => {
  const r = await runCli(['summary', path.join(FIXTURES, 'memhunt', 'trial4', 'dask_paused_worker.mh')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /worker tcp:\/\/[\d.:]+ \(0\), pid \d+: peak [\d.]+ MiB of its 400 MiB limit \(8\d%, held [\dms.]+: Dask pauses a worker's tasks at 80% of its limit by default, distributed\.worker\.memory\.pause\)/, r.stdout);
  // The other worker, far below it, says nothing of the kind.
  assert.doesNotMatch(r.stdout, /\(1\), pid \d+: peak [\d.]+ MiB of its 400 MiB limit \(/, r.stdout);
  // The verdict says it too: a leak Dask's pause held back levels off (trial 5: "stable" hid it).
  const a = await runCli(['analyze', path.join(FIXTURES, 'memhunt', 'trial4', 'dask_paused_worker.mh')]);
  assert.match(a.stdout, /verdict +.*; but worker tcp:\/\/[\d.:]+ \(0\) \(pid \d+\) sat at 8\d% of its 400 MiB memory_limit for [\dms.]+( until it ended)?, where Dask pauses/, a.stdout);
  // Workers that went through 80% on their way to the nanny's kill were never held there (trial 5).
  const restarted = await runCli(['summary', path.join(FIXTURES, 'memhunt', 'trial4', 'dask_restarted_worker.mh')]);
  assert.doesNotMatch(restarted.stdout, /Dask pauses/, restarted.stdout);
});
