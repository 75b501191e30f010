/**
 * Shared pages: a parent touches 120 MiB, then forks two children that only sleep. Each child
 * maps the same pages, so the RSS sum counts them three times; PSS splits them and sums to about
 * one copy. This is why --metric pss exists (mprof issue #151, psrecord #21).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readMemhuntRecording } from '../recording/reader';
import { runCli, tempDir } from '../test-support';

const MiB = 1024 * 1024;

test('--metric pss records PSS that counts fork-shared pages once, at an adaptive rate', async () => {
  const out = path.join(tempDir(), 'pss.mh');
  const script = [
    'import os, time',
    'b = bytearray(120 * 2**20)',
    'b[::4096] = b"\\x01" * len(range(0, len(b), 4096))',
    'kids = []',
    'for _ in range(2):',
    '    pid = os.fork()',
    '    if pid == 0:',
    '        time.sleep(1.5); os._exit(0)',
    '    kids.append(pid)',
    'for k in kids: os.waitpid(k, 0)',
  ].join('\n');
  const r = await runCli(['run', '-q', '--metric', 'pss', '--interval', '20ms', '-o', out, '--', 'python3', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  let rssPeak = 0;
  for (const v of rec.total.values) rssPeak = Math.max(rssPeak, v);
  let pssPeak = 0;
  for (const v of rec.totalPss.values) pssPeak = Math.max(pssPeak, v);
  assert.ok(rssPeak > 3 * 120 * MiB, `RSS sum counts the shared 120 MiB three times: ${(rssPeak / MiB).toFixed(0)} MiB`);
  assert.ok(pssPeak > 120 * MiB && pssPeak < 1.6 * 120 * MiB, `PSS sum counts it about once: ${(pssPeak / MiB).toFixed(0)} MiB`);
  // The adaptive rate, checked on what was recorded rather than on a count a busy machine cannot
  // promise (the cost of a read, hence the period, grows with load: "PSS read 8 times" once):
  // each read names the period then in force, never shorter than --interval, and the next read
  // comes no sooner than that period.
  const reads = zlib.gunzipSync(fs.readFileSync(out)).toString('utf8').split('\n').filter((l) => l.startsWith('{"type":"pss"'))
    .map((l) => JSON.parse(l) as { t: number; everyMs: number; p: number[][] });
  assert.equal(reads.length, rec.totalPss.tMs.length);
  assert.ok(reads.filter((r) => r.p.length === 3).length >= 2, `PSS read ${reads.length} times, ${reads.filter((r) => r.p.length === 3).length} with all three processes`);
  for (let k = 0; k + 1 < reads.length; k++) {
    assert.ok(reads[k]!.everyMs >= 20, `read ${k}: period ${reads[k]!.everyMs} ms below --interval`);
    assert.ok(reads[k + 1]!.t - reads[k]!.t >= reads[k]!.everyMs - 0.01, `reads ${k}–${k + 1}: ${reads[k + 1]!.t - reads[k]!.t} ms apart, period ${reads[k]!.everyMs} ms`);
  }
  const child = rec.processes.find((p) => p.pid !== rec.meta.rootPid && p.pss.values.length > 0)!;
  let ussMax = 0;
  for (const v of child.uss.values) ussMax = Math.max(ussMax, v);
  assert.ok(ussMax < 20 * MiB, `a forked child's own (unique) memory is small: ${(ussMax / MiB).toFixed(1)} MiB`);
});
