/**
 * Fault injection (issue 8): marker floods. Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { runCli } from '../test-support';

import { sandbox } from './kit';

// ------------------------------------------------------------------ 6b. marker flood


test('a marker flood is bounded and noted; the HTML plot of many markers works and says what it left out', async () => {
  const { dir, env } = sandbox();
  const out = path.join(dir, 'flood.mh');
  // ~3 s of marks of 900 bytes written as fast as the FIFO takes them.
  const flood = `
import os, time, errno
fd = os.open(os.environ["MEMHUNT_MARKERS"], os.O_WRONLY | os.O_NONBLOCK)
line = ("mark " + "x" * 900 + "\\n").encode()
end = time.time() + 3
n = 0
while time.time() < end:
    try:
        os.write(fd, line); n += 1
    except BlockingIOError:
        time.sleep(0.0005)
print(n)
`;
  const r = await runCli(['run', '-q', '-i', '50ms', '-o', out, '--', 'python3', '-c', flood], { env, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const written = Number(r.stdout.trim());
  const rec = await readMemhuntRecording(out);
  const marks = rec.events.filter((e) => e.kind === 'mark');
  const notes = rec.events.filter((e) => e.kind === 'note' && /marker line.*dropped/.test(e.text));
  const seconds = (rec.end?.tMs ?? 0) / 1000;
  assert.ok(written > marks.length, `written ${written}, kept ${marks.length}`);
  assert.ok(marks.length <= 1000 * (seconds + 2), `${marks.length} marks in ${seconds} s`);
  assert.ok(marks.every((m) => m.kind === 'mark' && m.label.length <= 200), 'labels are cut');
  assert.ok(notes.length >= 1, 'a note says how many were dropped');
  const html = path.join(dir, 'flood.html');
  const p = await runCli(['plot', out, '-o', html], { timeoutMs: 120_000 });
  assert.equal(p.code, 0, p.stderr);
  const page = fs.readFileSync(html, 'utf8');
  if (marks.length > 2000) assert.match(page, /marks are left out of this page/);
  assert.ok(page.length < 20 * 1024 * 1024, `page of ${page.length} characters`);
});

