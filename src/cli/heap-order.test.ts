import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, FIXTURES, interpreterPython, runCli, tempDir, untilRecording } from '../test-support';

/**
 * A program whose long calls hold the interpreter: a census asked for during one begins when the
 * call ends, after the next tick was skipped ("still busy with census #5"). `memhunt heap` listed
 * #6 (skipped) before #5, did not say when #5 was asked, and summed it up as "3 censuses (1 failed,
 * 2 skipped)", which read as 3 + 1 + 2 or as 3 in all.
 */
test('heap lists censuses in number order, says when a late one was asked, and counts them unambiguously', { timeout: 170_000 }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'run.mh');
  const stop = path.join(dir, 'stop');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--heap-every', '300ms', '-o', out, '--', interpreterPython(), path.join(FIXTURES, 'agents', 'gil_hold.py'), stop], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let ended = false;
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => { ended = true; resolve(c); }));
  try {
    // Until a census began after a later tick had been skipped.
    await untilRecording(out, (rec) => rec.events.some((e) => e.kind === 'census' && e.askedTMs !== undefined &&
      rec.events.some((s) => s.kind === 'note' && s.skippedCensus !== undefined && s.tMs > e.askedTMs! && s.tMs < e.tMs)), { timeoutMs: 120_000, everyMs: 200, done: () => ended });
  } finally {
    fs.writeFileSync(stop, '');
  }
  assert.equal(await exited, 0, stderr);
  const r = await runCli(['heap', out]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const nums = lines.map((l) => /^ {2}\d\d:\d\d\.\d +every \S+ \S+ #(\d+) /.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
  assert.ok(nums.length >= 3, r.stdout);
  assert.deepEqual(nums, [...nums].sort((a, b) => a - b), r.stdout);
  assert.match(r.stdout, /\(asked then; began at \d\d:\d\d\.\d, [\d.]+ m?s later: the program held the interpreter\)/);
  // The time column is when each was due or asked: in order too.
  const times = lines.map((l) => /^ {2}(\d\d):(\d\d\.\d) +every /.exec(l)).filter((m) => m !== null).map((m) => 60 * Number(m![1]) + Number(m![2]));
  assert.deepEqual(times, [...times].sort((a, b) => a - b), r.stdout);
  const head = /^pid \d+ .*: (\d+) censuses due: (\d+) taken, (\d+) skipped(?:, (\d+) failed)?/m.exec(r.stdout);
  assert.ok(head, r.stdout.split('\n')[0]);
  assert.equal(Number(head[1]), Number(head[2]) + Number(head[3]) + Number(head[4] ?? 0));
  assert.equal(Number(head[1]), nums.length);
  // The report counts them the same way.
  const html = path.join(dir, 'report.html');
  const rep = await runCli(['report', out, '-o', html]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(fs.readFileSync(html, 'utf8'), new RegExp(`<h4 id="heap-[^"]+">[^<]*: ${head[1]} censuses due: ${head[2]} taken, ${head[3]} skipped \\(the previous one was still running\\)${head[4] ? `, ${head[4]} failed` : ''}</h4>`));
});
