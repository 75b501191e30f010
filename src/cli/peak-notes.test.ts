import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, FIXTURES, interpreterPython, runCli, tempDir, untilRecording } from '../test-support';

/**
 * The summary says when memhunt's censuses before the peak added a share of it, or when the peak
 * fell during memhunt's own work; `memhunt peak` printed the bare number, read as the program's.
 */
test("peak carries the summary's notes on memhunt's share of the peak, as further tab-separated fields", { timeout: 150_000 }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'run.mh');
  const go = path.join(dir, 'go');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--interval', '20ms', '--heap-every', '200ms', '-o', out, '--', interpreterPython(), path.join(FIXTURES, 'agents', 'census_then_peak.py'), go], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let ended = false;
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => { ended = true; resolve(c); }));
  try {
    await untilRecording(out, (rec) => rec.events.some((e) => e.kind === 'census'), { timeoutMs: 120_000, everyMs: 100, done: () => ended });
  } finally {
    fs.writeFileSync(go, '');
  }
  assert.equal(await exited, 0, stderr);
  const summary = await runCli(['summary', out]);
  assert.equal(summary.code, 0, summary.stderr);
  const notes = summary.stdout.split('\n').map((l) => l.trim()).filter((l) => /^(memhunt's (census|\d+ censuses) before it added|during memhunt's )/.test(l));
  assert.ok(notes.some((n) => /^memhunt's (census|\d+ censuses) before it added [\d.]+ [KM]iB of RSS/.test(n)), summary.stdout);
  const peak = await runCli(['peak', out]);
  assert.equal(peak.code, 0, peak.stderr);
  const fields = peak.stdout.trimEnd().split('\t');
  assert.equal(fields[0], out);
  assert.match(fields[1]!, /^\d+\.\d{3} MiB$/, 'the second field stays mprof\'s');
  for (const n of notes) assert.ok(fields.slice(2).includes(n), `peak lacks "${n}": ${peak.stdout}`);
});
