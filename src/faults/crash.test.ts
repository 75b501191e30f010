/**
 * Fault injection (issue 8): crash safety (these passed before issue 8; kept so they never regress). Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { CLI, runCli, waitForSamples } from '../test-support';

import { sandbox } from './kit';

// ------------------------------------------------------------------ crash safety (passed before; kept)


test('crash safety: memhunt SIGKILLed at a random moment leaves a recording readable to its last flush', async () => {
  const { dir, env } = sandbox();
  for (let round = 0; round < 2; round++) {
    const out = path.join(dir, `kill${round}.mh`);
    const child = spawn(process.execPath, [CLI, 'run', '-q', '-i', '10ms', '-o', out, '--', 'python3', '-c', 'import time\nb=[]\nfor i in range(200):\n  b.append(bytearray(1<<18)); time.sleep(0.05)'], { stdio: 'ignore', env });
    // Ready: a flush with samples is on disk (a size check was fooled by run's one-byte write probe).
    await waitForSamples(out);
    await new Promise((r) => setTimeout(r, Math.random() * 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const rec = await readMemhuntRecording(out);
    assert.ok(rec.total.tMs.length >= 1, `round ${round}: ${rec.total.tMs.length} samples`);
    assert.equal(rec.end, null);
    assert.ok(rec.warnings.some((w) => /stopped while recording|cut/.test(w)), rec.warnings.join('; '));
  }
});

test('crash safety: a target SIGKILLed (as by the OOM killer) is recorded with its signal and 137', async () => {
  const { dir, env } = sandbox();
  const out = path.join(dir, 't.mh');
  const r = await runCli(['run', '-q', '-i', '20ms', '-o', out, '--', 'sh', '-c', 'sleep 0.3; kill -9 $$'], { env });
  assert.equal(r.code, 137);
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.end?.exitSignal, 'SIGKILL');
});
