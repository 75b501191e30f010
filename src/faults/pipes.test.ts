/**
 * Fault injection (issue 8): stdout drained before exit, closed pipes. Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, runCli } from '../test-support';

import { bigRecording, sandbox, slowReader } from './kit';

// ------------------------------------------------------------------ 3. pipes


test('stdout is drained before exit: a slow reader gets the whole export, heap and analyze JSON', async () => {
  const { dir } = sandbox();
  const rec = bigRecording(dir);
  const csvFile = path.join(dir, 'big.csv');
  assert.equal((await runCli(['export', rec, '-f', 'csv', '-o', csvFile])).code, 0);
  const expected = fs.statSync(csvFile).size;
  assert.ok(expected > 1024 * 1024, `the CSV is ${expected} bytes, far beyond a pipe's 64 KiB`);
  const r = await slowReader(['export', rec, '-f', 'csv', '-o', '-'], 1000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.bytes, expected);
  for (const args of [['analyze', rec, '--json'], ['heap', rec, '--json'], ['export', rec, '-f', 'json', '-o', '-']]) {
    const s = await slowReader(args, 700);
    assert.equal(s.code, 0, `${args.join(' ')}: ${s.stderr}`);
    assert.doesNotThrow(() => JSON.parse(s.text), `${args.join(' ')} printed whole JSON`);
  }
});

test('a closed pipe (| head -1) ends memhunt quietly: no stack trace, exit 0', async () => {
  const { dir } = sandbox();
  const rec = bigRecording(dir);
  for (const args of [`export '${rec}' -f csv -o -`, `analyze '${rec}' --json`]) {
    const r = spawnSync('bash', ['-c', `'${process.execPath}' '${CLI}' ${args} | head -1 >/dev/null; echo "rc=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
    assert.equal(r.stderr, 'rc=0\n', args);
  }
});

