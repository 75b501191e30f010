import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticRecording } from '../render/testkit';
import { analyzeRecording } from './analyze';
import { checkLimits } from './limits';
import { summarize } from './summary';

const MiB = 2 ** 20;

test("a peak inside memhunt's own census or allocation snapshot is said so, with the highest sample outside", () => {
  const rec = syntheticRecording({ samples: 1000, intervalMs: 10, spikeAt: 600, spikeBytes: 300 * MiB });
  const plain = summarize(rec);
  assert.equal(plain.peakTMs, 6000);
  assert.equal(plain.peakDuringAgent, null, 'no agent work: nothing to say');
  const base = { pid: 1000, label: '', trigger: 'every' as const };
  // A census long before the spike changes nothing.
  rec.events.push({ kind: 'census', tMs: 1000, ...base, collected: true, objects: 1, totalBytes: 1, rows: [], durationMs: 200, notes: [] });
  assert.equal(summarize(rec).peakDuringAgent, null);
  // An allocation snapshot from 5.9 s, 30 ms long: its window (+ 50 ms) ends before the spike at 6.0 s.
  rec.events.push({
    kind: 'trace', tMs: 5900, ...base, tracedBytes: 1, tracedPeakBytes: 1, rssBytes: 1, tracemallocBytes: 0, durationMs: 30,
    bySize: [], byGrowth: [], byPackage: [],
  });
  assert.equal(summarize(rec).peakDuringAgent, null, 'the window ends before the spike (5.9 s + 30 ms + 50 ms)');
  // One that lasts over the spike: the peak is memhunt's, and the highest sample outside is given.
  rec.events.push({
    kind: 'trace', tMs: 5950, ...base, tracedBytes: 1, tracedPeakBytes: 1, rssBytes: 1, tracemallocBytes: 0, durationMs: 100,
    bySize: [], byGrowth: [], byPackage: [],
  });
  const s = summarize(rec);
  assert.ok(s.peakDuringAgent, 'the peak fell in the snapshot');
  assert.equal(s.peakDuringAgent.what, 'trace');
  assert.equal(s.peakDuringAgent.startMs, 5950);
  assert.ok(s.peakDuringAgent.peakOutsideBytes < s.peakBytes - 150 * MiB, `${s.peakDuringAgent.peakOutsideBytes} outside`);
  const t = s.peakDuringAgent.peakOutsideTMs;
  assert.ok(t < 5950 || t > 5950 + 100 + 50, `the outside peak (${t} ms) is outside every window`);
  // By hand: the highest sample outside [5950, 6100] and [1000, 1250] and [5900, 5980].
  let best = 0;
  for (let i = 0; i < rec.total.tMs.length; i++) {
    const ti = rec.total.tMs[i]!;
    if ((ti >= 1000 && ti <= 1250) || (ti >= 5900 && ti <= 6100)) continue;
    best = Math.max(best, rec.total.values[i]!);
  }
  assert.equal(s.peakDuringAgent.peakOutsideBytes, best);
  // A peak limit is judged on the peak as it happened, and says where it fell.
  const [r] = checkLimits(analyzeRecording(rec), { maxPeakBytes: best });
  assert.equal(r!.status, 'violated');
  assert.match(r!.message, /during memhunt's allocation snapshot of pid 1000; [\d.]+ MiB outside memhunt's snapshots\) is /);
});

test("a peak while memhunt built a back-reference graph is memhunt's too (the graph is recorded when it arrives)", () => {
  const rec = syntheticRecording({ samples: 1000, intervalMs: 10, spikeAt: 600, spikeBytes: 300 * MiB });
  const refs = { kind: 'refs' as const, pid: 1000, trigger: 'every' as const, typeName: 'DataFrame', count: 3, reachedRoot: true, nodes: [], edges: [] };
  // Recorded at 6.5 s after 1 s of work: its window [5.5 s, 6.55 s] holds the spike at 6.0 s.
  rec.events.push({ ...refs, tMs: 6500, durationMs: 1000 });
  const s = summarize(rec);
  assert.ok(s.peakDuringAgent, 'the peak fell in the graph');
  assert.equal(s.peakDuringAgent.what, 'refs');
  assert.equal(s.peakDuringAgent.startMs, 5500);
  assert.ok(s.peakDuringAgent.peakOutsideBytes < s.peakBytes - 150 * MiB);
  // An older recording's graph has no duration: nothing is assumed.
  rec.events.pop();
  rec.events.push({ ...refs, tMs: 6500 });
  assert.equal(summarize(rec).peakDuringAgent, null);
});

test("a census's window holds its largest objects and duplicates; censuses that added RSS before the peak are said", () => {
  const rec = syntheticRecording({ samples: 1000, intervalMs: 10, spikeAt: 600, spikeBytes: 300 * MiB });
  const base = { pid: 1000, label: 'every 2.00 s #3', trigger: 'every' as const, collected: true, objects: 1, totalBytes: 1, rows: [] };
  // dups.mh: the census from 4.0 s took 340 ms, then its largest objects and duplicates 2.26 s more;
  // the peak (6.0 s here) fell in that second part and was called the program's.
  rec.events.push({ kind: 'census', tMs: 4000, ...base, durationMs: 340, notes: ['largest/duplicates took 2258 ms after the census'], agentRssBytes: 22 * MiB });
  const s = summarize(rec);
  assert.ok(s.peakDuringAgent, 'the peak fell in the census with its largest/duplicates');
  assert.equal(s.peakDuringAgent.what, 'census');
  assert.equal(s.peakDuringAgent.durationMs, 340 + 2258);
  assert.deepEqual(s.censusesBeforePeak, { count: 1, bytes: 22 * MiB });
  // A census after the peak, or one that added next to nothing, is not said.
  rec.events.pop();
  rec.events.push({ kind: 'census', tMs: 7000, ...base, durationMs: 340, notes: [], agentRssBytes: 22 * MiB });
  rec.events.push({ kind: 'census', tMs: 1000, ...base, durationMs: 340, notes: [], agentRssBytes: 100 * 1024 });
  const later = summarize(rec);
  assert.equal(later.peakDuringAgent, null);
  assert.equal(later.censusesBeforePeak, null);
});

test('"final" where the teardown is visible (trial 3): the last sample at exit and the level held before it, the same in summary and diff', async () => {
  // spike_leak.py held 222 MiB at 6.96 s; its last sample, taken while the interpreter freed its
  // heap, read 69.3 MiB, and "final 69.3 MiB" was all summary and diff said.
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES, runCli } = await import('../test-support');
  const { finalText } = await import('./summary');
  const file = `${FIXTURES}/memhunt/trial3/sl.mh`;
  const s = summarize(await readMemhuntRecording(file));
  assert.ok(Math.abs(s.finalBytes / MiB - 69.3) < 0.1, `final ${s.finalBytes / MiB}`);
  assert.ok(s.beforeExit, 'the teardown is seen');
  assert.ok(Math.abs(s.beforeExit.bytes / MiB - 221.9) < 0.5, `before exit ${s.beforeExit.bytes / MiB}`);
  assert.ok(s.beforeExit.tMs > 6800 && s.beforeExit.tMs < 7100, `at ${s.beforeExit.tMs}`);
  assert.equal(finalText(s), '69.3 MiB at exit; 222 MiB before the teardown at 00:07.0');
  const sum = await runCli(['summary', file]);
  assert.equal(sum.code, 0, sum.stderr);
  assert.match(sum.stdout, /\n {2}final {5}69\.3 MiB at exit; 222 MiB before the teardown at 00:07\.0\n/, sum.stdout);
  const d = await runCli(['diff', `${FIXTURES}/memhunt/trial3/slc1.mh`, file]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /\n {2}final +65\.1 MiB at exit; 218 MiB before the teardown at 00:08\.\d +69\.3 MiB at exit; 222 MiB before the teardown at 00:07\.0 +\+4\.\d+ MiB \(\+2%\) \(held before exit\)\n/, d.stdout);
  // No fall at the end: final is the last sample, as before.
  const flat = summarize(syntheticRecording({ samples: 400, intervalMs: 10 }));
  assert.equal(flat.beforeExit, null);
  assert.equal(finalText(flat), (await import('../units')).formatBytes(flat.finalBytes));
});
