/**
 * Fault injection (issue 8): terminal escape injection; exit codes as one error type. Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { errorLine } from '../cli/main';
import { CommandError, ExitStatus, FailureError, InputError } from '../errors';
import { RecordingWriter } from '../recording/writer';
import { clipLine, safeJson, safeLine } from '../safe-text';
import { UnitError } from '../units';
import { runCli } from '../test-support';

import { ESC, header, HOSTILE, sandbox } from './kit';

// ------------------------------------------------------------------ 9. terminal escape injection


test('every terminal output replaces control characters: summary, analyze, peak -p, diff, heap, errors', async () => {
  const { dir, env } = sandbox();
  const out = path.join(dir, 'esc.mh');
  const r = await runCli(['run', '-i', '20ms', '-o', out, '--', 'sh', '-c', 'sleep 0.3', HOSTILE], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /\x1b|\u009b|\x07/, 'the end-of-run summary');
  assert.match(r.stderr, /\ufffd\]0;PWNED/);
  // A census with a hostile type name, as an agent could send it.
  const heapRec = path.join(dir, 'heap.mh');
  const w = new RecordingWriter(heapRec, header(['python3', HOSTILE]));
  w.append({ type: 'proc', t: 0, pid: 10, ppid: 1, cmd: ['python3', HOSTILE] });
  for (let i = 0; i < 30; i++) w.append({ type: 's', t: i * 50, p: [[10, 1000 + i, 1000, 0, 0, 1000]] });
  for (const t of [100, 1000]) {
    w.append({ type: 'census', t, pid: 10, trigger: 'periodic', label: HOSTILE, collected: true, objects: 10, totalBytes: 1000 + t, rows: [[HOSTILE, 5, 500 + t]], durationMs: 1, notes: [HOSTILE] } as never);
  }
  w.append({ type: 'end', t: 1500, reason: 'exited', code: 0, signal: null, samples: 30 });
  w.close();
  for (const args of [['summary', out], ['analyze', out], ['peak', '-p', out], ['diff', out, heapRec], ['heap', heapRec], ['heap', heapRec, '--json'], ['analyze', out, '--json'], ['summary', `${dir}/${HOSTILE}.mh`]]) {
    const s = await runCli(args);
    assert.doesNotMatch(s.stdout + s.stderr, /\x1b|\u009b|\x07/, args.join(' '));
  }
  const j = await runCli(['heap', heapRec, '--json']);
  assert.ok(JSON.stringify(JSON.parse(j.stdout)).includes('PWNED'), 'JSON keeps the text, escaped');
});

test('the sanitizer: controls replaced, a cut never leaves a sequence open, JSON escapes C1', () => {
  assert.equal(safeLine(`a${ESC}[31mb\nc\u009bd\u202ee`), 'a\ufffd[31mb\ufffdc\ufffdd\ufffde');
  const cut = clipLine(`python3 ${ESC}]0;${'x'.repeat(100)}\x07 tail`, 20);
  assert.equal([...cut].length, 20);
  assert.doesNotMatch(cut, /\x1b|\x07/);
  assert.equal(JSON.parse(safeJson({ s: '\u009b31m' })).s, '\u009b31m');
  assert.doesNotMatch(safeJson({ s: '\u009b31m' }), /\u009b/);
});

// ------------------------------------------------------------------ issue 11: one error type


test('exit codes travel as one error type and are turned into codes in one place', () => {
  assert.deepEqual(errorLine(new InputError('bad')), { code: 2, message: 'bad' });
  assert.deepEqual(errorLine(new UnitError('bad size')), { code: 2, message: 'bad size' });
  assert.deepEqual(errorLine(new FailureError('broken peer')), { code: 1, message: 'broken peer' });
  assert.deepEqual(errorLine(new CommandError('nope', 127)), { code: 127, message: 'nope' });
  assert.deepEqual(errorLine(new ExitStatus(3)), { code: 3, message: null });
  const sys = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC', syscall: 'write', path: 'out.csv' });
  assert.equal(errorLine(sys).code, 1);
  assert.match(errorLine(sys).message!, /^out\.csv: write failed: ENOSPC/);
  assert.match(errorLine(new TypeError('x')).message!, /^internal error: TypeError: x/);
});

