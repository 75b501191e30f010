/**
 * What a process is called: its argv is read when it appears, again while it is young (a child
 * between fork() and exec() still shows its parent's), and again whenever its name changes (an
 * exec however late: under load pyenv's shim reached python3 after the young-process window, and
 * run, summary and fleet named the job "bash …/pyenv-exec python3").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { runCli, tempDir } from '../test-support';

test('a launcher that execs the real program late is named by the program', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'late.mh');
  // The shell waits 2.5 s (past the 2 s young-process window), then becomes python3.
  const py = 'import time; x = bytearray(30 << 20); time.sleep(0.5)';
  const r = await runCli(['run', '-o', out, '--', 'sh', '-c', `sleep 2.5; exec python3 -c '${py}'`]);
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  const root = rec.processes.find((p) => p.pid === rec.meta.rootPid);
  assert.ok(root, 'the root process is in the recording');
  assert.match(path.basename(root.command[0]!), /^python3/, `root command: ${root.command.join(' ')}`);
  assert.match(r.stderr, /most held by pid \d+ (?:\S*\/)?python3 -c "import time; x = bytearray/, r.stderr);
});
