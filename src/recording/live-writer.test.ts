import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, runCli, tempDir } from '../test-support';
import { findLiveWriter } from './live-writer';
import { readMemhuntRecording } from './reader';

test('summary and heap on a recording another memhunt is still writing: "still being written by pid N", not "stopped while recording"', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'live.mh');
  const stop = path.join(dir, 'stop');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-o', out, '--', 'sh', '-c', `i=0; while [ ! -e '${stop}' ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const closed = new Promise<number | null>((r) => child.on('close', r));
  try {
    // Until the first flush holds a sample.
    for (let i = 0; i < 300; i++) {
      const rec = await readMemhuntRecording(out).catch(() => null);
      if (rec && rec.total.values.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(findLiveWriter(out)?.pid, child.pid);
    const s = await runCli(['summary', out]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`end +not yet: pid ${child.pid} is still recording it`));
    assert.match(s.stderr, new RegExp(`still being written by pid ${child.pid} \\(`));
    assert.doesNotMatch(s.stdout + s.stderr, /stopped while recording/);
    const h = await runCli(['heap', out]);
    assert.doesNotMatch(h.stdout + h.stderr, /stopped while recording/);
  } finally {
    fs.writeFileSync(stop, '');
    await closed;
  }
  assert.equal(findLiveWriter(out), null);
  const done = await runCli(['summary', out]);
  assert.match(done.stdout, /end +exit code 0/);
  assert.doesNotMatch(done.stderr, /still being written/);
});

test('a cut recording nobody writes still says memhunt stopped while recording; readers are not writers', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'cut.mh');
  const r = await runCli(['run', '-q', '-o', out, '--', 'sleep', '0.3']);
  assert.equal(r.code, 0, r.stderr);
  const bytes = fs.readFileSync(out);
  // Drop the last gzip members: the summary footer run appends, and the one with the end record.
  let last = bytes.length;
  for (let k = 0; k < 2; k++) {
    for (let i = last - 10; i > 0; i--) if (bytes[i] === 0x1f && bytes[i + 1] === 0x8b && bytes[i + 2] === 8) { last = i; break; }
  }
  fs.writeFileSync(out, bytes.subarray(0, last));
  const fd = fs.openSync(out, 'r'); // a reader (as `tail -f` would be) is not a writer
  try {
    const s = await runCli(['summary', out]);
    assert.match(s.stderr, /stopped while recording/);
    assert.match(s.stdout, /end +unknown/);
  } finally {
    fs.closeSync(fd);
  }
});
