/**
 * --metric pss: a peak between two PSS readings (issue 16 leftover: sub-second `scale --metric pss`
 * runs, read a few times, came out with their peaks missed). PSS has no kernel high-water mark; the
 * process's PSS at its VmHWM is its reading plus what its RSS grew from then to the VmHWM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { tempDir } from '../test-support';
import { runCommand } from '../sampler/session';
import { formatSummary } from '../cli/output';
import { highestPeak, summarize } from './summary';

const MiB = 2 ** 20;
const INTERVAL_MS = 3000;

// 100 MiB that lives a moment between two readings, signalled right after a sample (as peaks.test.ts).
const BRIEF_PEAK = [
  'import os, sys, time',
  'ready, go, freed, done = sys.argv[1:5]',
  'open(ready, "w").close()',
  'while not os.path.exists(go):',
  '    time.sleep(0.01)',
  'b = b"x" * (100 << 20)',
  'del b',
  'open(freed, "w").close()',
  'while not os.path.exists(done):',
  '    time.sleep(0.01)',
].join('\n');

test('--metric pss: a peak between readings is estimated from VmHWM and named as such', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'brief-pss.mh');
  const [ready, go, freed, done] = ['ready', 'go', 'freed', 'done'].map((n) => path.join(dir, n));
  let afterFree = 0;
  let firstMs = NaN;
  let readySamples = 0;
  const onSample = (x: { tMs: number }) => {
    if (Number.isNaN(firstMs)) firstMs = x.tMs;
    if (!fs.existsSync(go)) {
      const untilNextMs = INTERVAL_MS - ((x.tMs - firstMs) % INTERVAL_MS);
      // After three samples that all came late (every one, on a loaded machine: the stress run hung
      // here for 10 minutes), the next one: a peak then held to a reading is handled below.
      if (fs.existsSync(ready) && (untilNextMs > 0.8 * INTERVAL_MS || ++readySamples > 3)) fs.writeFileSync(go, '');
    } else if (fs.existsSync(freed) && ++afterFree === 2) fs.writeFileSync(done, '');
  };
  const r = await runCommand({
    command: ['python3', '-c', BRIEF_PEAK, ready, go, freed, done], outputPath: f, intervalMs: INTERVAL_MS, metric: 'pss', limitBytes: null, agent: null, onSample,
  });
  assert.equal(r.reason, 'exited');
  const rec = await readMemhuntRecording(f);
  const s = summarize(rec);
  assert.equal(s.metric, 'pss');
  if (s.peakBytes >= 60 * MiB) return; // a starved machine held the 100 MiB until a reading: nothing to estimate
  assert.ok(s.hwmAbovePeak && s.hwmAbovePeak.estimated === 'pss', `sampled PSS peak ${(s.peakBytes / MiB).toFixed(1)} MiB; ${JSON.stringify(s.hwmAbovePeak)}`);
  assert.ok(s.hwmAbovePeak.hwmBytes >= 100 * MiB, `PSS at VmHWM ≈ ${(s.hwmAbovePeak.hwmBytes / MiB).toFixed(1)} MiB`);
  assert.ok(highestPeak(s).bytes >= 100 * MiB);
  const text = formatSummary(s, { command: rec.meta.command, recordingPath: f });
  assert.match(text, /pid \d+ reached ≈ 1\d\d MiB of PSS between readings/, text);
});
