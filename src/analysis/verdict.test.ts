/**
 * Verdicts on synthetic shapes with noise (seeded), one per hard case of the issue, plus the
 * edges: one sample, few cycles, a fall at exit, a process leak hidden in the tree total. The real
 * programs are in corpus.test.ts; these pin the rules down exactly and run in milliseconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MemoryRecording, ProcessTrack } from '../model/recording';
import { emptySeries, SeriesBuilder, type Series } from '../model/series';
import { analyzeRecording, verdictLine } from './analyze';
import { analyzeSeries } from './verdict';
import { EXACT_CRITICAL, exactCriticalDiscordant, theilSen } from './stats';
import { make, rng, saw } from './testkit';
import { DEFAULT_SCHEDULE, intervalAt } from '../sampler/sampler';

const MiB = 1024 * 1024;

function track(pid: number, rss: Series, command = [`proc${pid}`]): ProcessTrack {
  return {
    pid, ppid: 1, command, firstSeenMs: rss.tMs[0] ?? 0, exitMs: null, exitCode: null, exitSignal: null, rss,
    anon: emptySeries(), file: emptySeries(), shmem: emptySeries(), pss: emptySeries(), uss: emptySeries(), hwmBytes: NaN,
  };
}

function recording(processes: ProcessTrack[], limitBytes: number | null = null): MemoryRecording {
  const b = new SeriesBuilder('total');
  const ref = processes[0]!.rss;
  for (let i = 0; i < ref.tMs.length; i++) {
    let sum = 0;
    for (const p of processes) sum += p.rss.values[i] ?? 0;
    b.push(ref.tMs[i]!, sum);
  }
  return {
    meta: {
      source: 'memhunt', formatVersion: 1, memhuntVersion: 'test', mode: 'run', command: ['test'], cwd: null, host: null,
      containerId: null, startWallMs: 0, intervalMs: 50, metric: 'rss', limitBytes, cgroup: null, rootPid: processes[0]!.pid,
    },
    total: b.build(), totalPss: emptySeries(), processes, cgroup: null, events: [], end: null, warnings: [], truncated: false,
  };
}

test('Theil–Sen finds the slope through outliers, with an interval that holds it', () => {
  const x = Array.from({ length: 30 }, (_, i) => i);
  const y = x.map((v) => 2 * v + 5);
  y[3] = 500;
  y[20] = -400;
  const fit = theilSen(x, y);
  assert.equal(fit.slope, 2);
  assert.ok(fit.low <= 2 && fit.high >= 2);
  assert.equal(theilSen([1], [1]).low, -Infinity);
});

test("the table of Theil–Sen's exact critical values is what the exact distribution gives", () => {
  assert.equal(EXACT_CRITICAL.length, 61);
  for (let n = 2; n <= 60; n++) assert.equal(EXACT_CRITICAL[n], exactCriticalDiscordant(n), `n = ${n}`);
});

test('a flat line with allocator noise is stable, with high confidence', () => {
  const a = analyzeSeries(make(30, () => 50, { noiseMiB: 0.3 }));
  assert.equal(a.verdict, 'stable', a.reason);
  assert.equal(a.confidenceLabel, 'high');
  assert.ok(Math.abs(a.baselineBytes / MiB - 50) < 0.5);
});

test('a sawtooth training loop is stable: the floors stay level', () => {
  const a = analyzeSeries(make(20, (t) => 40 + saw(t, 0.5, 100), { seed: 2 }));
  assert.equal(a.verdict, 'stable', a.reason);
  assert.ok(a.floors!.fromCycles);
  assert.ok(a.floors!.cycles >= 35, `cycles ${a.floors!.cycles}`);
  assert.ok(Math.abs(a.floors!.periodMs! - 500) <= 60, `period ${a.floors!.periodMs}`);
});

test('a small steady leak under a large sawtooth is a leak, at the rate of the floors', () => {
  // 0.5 MiB per 0.5 s cycle = 60 MiB/min under 150 MiB teeth.
  const a = analyzeSeries(make(20, (t) => 40 + t * 1 + saw(t, 0.5, 150), { seed: 3 }));
  assert.equal(a.verdict, 'leak', a.reason);
  const g = a.growth!;
  assert.ok(g.lowBytesPerMinute <= 60 * MiB * 1.05 && g.highBytesPerMinute >= 60 * MiB * 0.95, `interval ${g.lowBytesPerMinute / MiB}..${g.highBytesPerMinute / MiB}`);
  assert.ok(Math.abs(g.bytesPerMinute / MiB - 60) < 6, `rate ${g.bytesPerMinute / MiB}`);
  assert.ok(a.evidence.some((e) => /floors \(the lows after each of \d+ releases\) moved/.test(e)), a.evidence.join('\n'));
});

test('a model loaded at start-up, then flat, is stable (a step, not a leak)', () => {
  const a = analyzeSeries(make(10, (t) => (t < 0.8 ? 10 + t * 400 : 330) + saw(t, 0.3, 5), { seed: 4 }));
  assert.equal(a.verdict, 'stable', a.reason);
});

test('a second model loaded late in the run is a step, not a leak', () => {
  const a = analyzeSeries(make(10, (t) => (t < 7.5 ? 300 : 600), { seed: 5 }));
  assert.equal(a.verdict, 'stable', a.reason);
  assert.ok(a.shape.step && Math.abs(a.shape.step.atMs - 7500) < 600, JSON.stringify(a.shape));
  assert.match(a.reason, /one step of 300 MiB/);
});

test('a bounded cache that fills, then saturates, is stable', () => {
  const a = analyzeSeries(make(12, (t) => 30 + 200 * (1 - Math.exp(-t / 1.2)), { seed: 6 }));
  assert.equal(a.verdict, 'stable', a.reason);
  assert.match(a.reason, /levelled off|rose in one step/);
});

test('a batch that accumulates, then releases everything, is stable', () => {
  const a = analyzeSeries(make(8, (t) => (t < 5.5 ? 20 + t * 40 : 20), { seed: 7 }));
  assert.equal(a.verdict, 'stable', a.reason);
  assert.match(a.reason, /released at 00:05\.[5-7] \(2\d\d MiB → 1?\d\.\d+ MiB\)/);
});

test('a linear leak is a leak, and the limit is projected', () => {
  const a = analyzeSeries(make(60, (t) => 100 + t * 2, { seed: 8 }), { limit: { bytes: 1024 * MiB, source: '--limit' } });
  assert.equal(a.verdict, 'leak', a.reason);
  assert.ok(Math.abs(a.growth!.bytesPerMinute / MiB - 120) < 3);
  // At 120 MiB/min from ~220 MiB, 1 GiB is ~6.7 minutes away.
  const eta = a.projection!.etaMs!;
  assert.ok(eta > 6 * 60_000 && eta < 7.5 * 60_000, `eta ${eta}`);
  assert.ok(a.evidence.some((e) => /reach the 1\.00 GiB limit \(--limit\) 6m\d\ds after the end/.test(e)), a.evidence.join('\n'));
});

test('a leak that starts mid-run is a leak', () => {
  const a = analyzeSeries(make(20, (t) => (t < 9 ? 80 : 80 + (t - 9) * 5) + saw(t, 0.4, 30), { seed: 9 }));
  assert.equal(a.verdict, 'leak', a.reason);
});

test('the fall at exit (a heap torn down) does not hide a leak', () => {
  const a = analyzeSeries(make(10, (t) => (t < 9.9 ? 20 + t * 10 : 5), { seed: 10 }));
  assert.equal(a.verdict, 'leak', a.reason);
});

test('a short, high spike on a flat service is a spike, with where and how high', () => {
  const a = analyzeSeries(make(10, (t) => (t >= 4 && t < 4.5 ? 400 : 60), { seed: 11 }));
  assert.equal(a.verdict, 'spike', a.reason);
  assert.equal(a.spikes.length, 1);
  const s = a.spikes[0]!;
  assert.ok(Math.abs(s.tMs - 4000) <= 500 && Math.abs(s.heightBytes / MiB - 340) < 2 && s.durationMs <= 700, JSON.stringify(s));
});

test('spikes on a sawtooth are spikes; the ordinary teeth are not', () => {
  const a = analyzeSeries(make(20, (t) => 20 + (Math.abs(t - 7) < 0.3 || Math.abs(t - 14) < 0.3 ? 300 : saw(t, 0.4, 40)), { seed: 12 }));
  assert.equal(a.verdict, 'spike', a.reason);
  assert.equal(a.spikes.length, 2);
});

test('too little data is a verdict, not an error', () => {
  assert.equal(analyzeSeries(emptySeries()).verdict, 'insufficient data');
  const one = new SeriesBuilder('one');
  one.push(0, 10 * MiB);
  const a = analyzeSeries(one.build());
  assert.equal(a.verdict, 'insufficient data');
  assert.match(a.reason, /only 1 sample/);
  assert.equal(analyzeSeries(make(0.3, () => 10)).verdict, 'insufficient data');
  // Three cycles whose floors rise: too few to tell a leak from noise.
  const few = analyzeSeries(make(1.6, (t) => 20 + t * 10 + saw(t, 0.5, 150), { seed: 13, intervalMs: 10 }));
  assert.equal(few.verdict, 'insufficient data', few.reason);
  assert.match(few.reason, /release cycles/);
});

test('shrinking memory is stable', () => {
  assert.equal(analyzeSeries(make(10, (t) => 300 - t * 20, { seed: 14 })).verdict, 'stable');
});

test('one worker leaking while the parent shrinks: the tree verdict names the worker', () => {
  const parent = track(10, make(20, (t) => 300 - t * 4, { seed: 15 }), ['python3', 'job.py']);
  const worker = track(11, make(20, (t) => 50 + t * 3 + saw(t, 0.5, 20), { seed: 16 }), ['python3', 'job.py', 'worker']);
  const rec = recording([parent, worker]);
  const a = analyzeRecording(rec);
  assert.equal(a.tree.verdict, 'stable', `the total hides it: ${a.tree.reason}`);
  assert.equal(a.verdict, 'leak');
  assert.deepEqual(a.leakingProcesses.map((p) => p.pid), [11]);
  assert.match(a.reason, /leak in pid 11 \(python3 job\.py worker/);
  // The rate is the worker's, and says so (not the tree total's).
  assert.match(verdictLine(rec), /^leak \(\w+ confidence\): floors rising \+[\d.]+ MiB\/min \(90% interval [^)]*\) in pid 11 \(python3 job\.py worker\)$/);
  assert.deepEqual({ scope: a.rate!.scope, pid: a.rate!.pid, label: a.rate!.label }, { scope: 'process', pid: 11, label: 'pid 11' });
  assert.equal(a.rate!.growth.bytesPerMinute, a.processes.find((p) => p.pid === 11)!.growth!.bytesPerMinute);
});

test('the verdict line is one line for every verdict', () => {
  const lines = [
    verdictLine(recording([track(1, make(10, (t) => 100 + t * 5))])),
    verdictLine(recording([track(1, make(10, () => 100))])),
    verdictLine(recording([track(1, make(10, (t) => (t > 5 && t < 5.4 ? 400 : 60)))])),
    verdictLine(recording([track(1, make(0.2, () => 100))])),
  ];
  assert.match(lines[0]!, /^leak \(high confidence\): floors rising \+/);
  assert.match(lines[1]!, /^stable \(high confidence\): the floors stayed level/);
  assert.match(lines[2]!, /^spike \(\w+ confidence\): 1 spike, highest 400 MiB/);
  assert.match(lines[3]!, /^insufficient data \(only \d samples/);
  for (const l of lines) assert.doesNotMatch(l, /\n/);
});

test('a million samples are analysed in well under a second', () => {
  const s = make(1_000_000 / 100, (t) => 50 + saw(t, 1, 30) + t * 0.01, { intervalMs: 10 });
  const t0 = performance.now();
  const a = analyzeSeries(s);
  const ms = performance.now() - t0;
  // A loose sanity bound (speed is measured by bench/analyze.mjs): 1.18 s was seen at load 20.
  assert.ok(ms < 5000, `${ms} ms`);
  assert.equal(a.samples, s.values.length);
});

/** A flat ETL-like job: start-up to 80 MiB in 1 s, then level, with one 0.5 s concat to 243 MiB at atS (a 0.3 s ramp, 0.2 s held). */
function loneSpike(durationS: number, atS: number, intervalMs: number, seed: number): Series {
  return make(durationS, (t) => {
    let v = t < 1 ? 10 + t * 70 : 80;
    if (t >= atS && t < atS + 0.3) v += (163 * (t - atS)) / 0.3;
    else if (t >= atS + 0.3 && t < atS + 0.5) v += 163;
    return v;
  }, { intervalMs, noiseMiB: 0.3, seed });
}

test('a lone spike on a flat job is a spike wherever it falls, and start-up is not stretched over it', () => {
  // Before: at 30 s of 90 s noise on the spike's top split it into two peaks and it was missed
  // ("stable: what accumulated was released"); at 88 s the fall was taken for the exit; inside the
  // warm-up the start-up was said to last until the spike's fall.
  for (const [dur, at] of [[90, 3], [90, 8.5], [90, 14], [90, 30], [90, 60], [90, 88], [20, 1.5], [20, 9], [20, 14], [20, 19], [8, 4]] as const) {
    const a = analyzeSeries(loneSpike(dur, at, 100, Math.round(at * 10)));
    assert.equal(a.verdict, 'spike', `${dur} s, spike at ${at} s: ${a.reason} [${a.rule}]`);
    assert.equal(a.rule, 'spike');
    assert.equal(a.spikes.length, 1, `${dur} s, spike at ${at} s: ${a.spikes.length} spikes`);
    const s = a.spikes[0]!;
    assert.ok(Math.abs(s.tMs - (at + 0.3) * 1000) <= 400 && Math.abs(s.heightBytes / MiB - 163) < 5, JSON.stringify(s));
    const startUp = a.evidence.find((e) => e.startsWith('start-up'));
    if (startUp) assert.match(startUp, /in the first (\d{3} ms|1\.\d+ s)/, `${dur} s, spike at ${at} s: ${startUp}`);
  }
});

test('a spike in the last seconds is not the fall at exit; a real teardown still is', () => {
  const spikeAtEnd = analyzeSeries(loneSpike(60, 58.5, 100, 3));
  assert.equal(spikeAtEnd.verdict, 'spike', spikeAtEnd.reason);
  const leakThenExit = analyzeSeries(make(60, (t) => (t < 59.8 ? 20 + t * 3 : 5), { seed: 4, intervalMs: 100 }));
  assert.equal(leakThenExit.verdict, 'leak', leakThenExit.reason);
  // A steady leak whose last sample was taken halfway through the interpreter's teardown (seen in
  // CI: 1 MiB per 50 ms for 3.6 s, the last sample 69.6 → 53.7 MiB, about where memory was 0.8 s
  // before): "stable: what accumulated was released at 00:03.6" before, not a spike either.
  for (const seed of [1, 2, 3, 4, 5]) {
    const halfway = analyzeSeries(make(3.6, (t) => (t < 3.58 ? 3 + t * 18.6 : 53.7), { seed, intervalMs: 50, noiseMiB: 0.2 }));
    assert.equal(halfway.verdict, 'leak', `seed ${seed}: ${halfway.reason} [${halfway.rule}]`);
  }
});

test('every analysis names the rule that decided, and every insufficient-data reason is one rule', () => {
  const cases: Array<[Series, string]> = [
    [emptySeries(), 'too-few-samples'],
    [make(0.8, () => 10, { intervalMs: 10 }), 'too-short-analysed'],
    [make(1.6, (t) => 20 + t * 10 + saw(t, 0.5, 150), { seed: 13, intervalMs: 10 }), 'few-cycles-rising'],
    [make(30, () => 50, { noiseMiB: 0.3 }), 'stable'],
    [make(60, (t) => 100 + t * 2, { seed: 8 }), 'leak'],
  ];
  for (const [s, rule] of cases) assert.equal(analyzeSeries(s).rule, rule, analyzeSeries(s).reason);
});

test('time the tree spent stopped is left out of the growth: a leak held 14 s in pdb is still a leak', () => {
  // Leaking 3 MiB/s with a sawtooth on top; stopped (flat) from 13 s to 27 s.
  const leakWithPause = (t: number) => {
    const running = t < 13 ? t : t < 27 ? 13 : t - 14;
    return 100 + 3 * running + (t >= 13 && t < 27 ? 0 : saw(running, 0.5, 20));
  };
  const s = make(40, leakWithPause, { seed: 21 });
  // Without the pause the plateau dilutes the rate (here to ~106 MiB/min; on a real job it read
  // as "the floors rose in one step").
  const blind = analyzeSeries(s);
  assert.ok(blind.verdict !== 'leak' || blind.growth!.bytesPerMinute / MiB < 150, `without the pause: ${blind.reason}`);
  const a = analyzeSeries(s, { pauses: [{ fromMs: 13_000, toMs: 27_000 }] });
  assert.equal(a.verdict, 'leak', a.reason);
  assert.ok(Math.abs(a.growth!.bytesPerMinute / MiB - 180) < 20, `rate ${a.growth!.bytesPerMinute / MiB} MiB/min`);
  // Times stay recording times.
  assert.equal(a.endMs, 40_000);
  assert.ok(a.growth!.toMs > 27_000);
  assert.ok(a.evidence.some((e) => /stopped for 14\.0 s \(00:13\.0–00:27\.0\): left out of the growth/.test(e)), a.evidence.join('\n'));
  // analyzeRecording takes the pauses from the recording's events.
  const rec = recording([track(1, s)]);
  rec.events.push({ kind: 'pause', tMs: 13_000, endMs: 27_000, pids: [1], cause: 'stop' });
  assert.equal(analyzeRecording(rec).tree.verdict, 'leak');
});

/** Samples f(tSeconds) on memhunt's default schedule (10 ms, doubling to 100 ms: src/sampler/sampler.ts); 0 after the exit stays 0. */
function makeDefault(durationS: number, f: (tS: number) => number, seed = 1, noiseMiB = 0.3): Series {
  const r = rng(seed);
  const b = new SeriesBuilder('synthetic');
  for (let t = 0; t <= durationS * 1000; ) {
    const x = f(t / 1000);
    b.push(t, (x > 0 ? Math.max(0, x + noiseMiB * (2 * r() - 1)) : 0) * MiB);
    t += intervalAt(DEFAULT_SCHEDULE, t);
  }
  return b.build();
}

test('issue 9: a spike released 0.1 s before the exit is a spike of its own height, not a step or the exit', () => {
  // Before: "stable: the floors rose in one step of 150 MiB" (the fall read as the exit) or
  // "stable: the floors stayed level" (the spike filled the clipped window of its typical top).
  for (const d of [2.5, 3, 4, 5, 6, 8, 11]) {
    for (const seed of [1, 2]) {
      const s = makeDefault(d + 0.05, (t) => (t < 0.3 ? 10 + 100 * t : t >= d ? 0 : t > d - 0.6 && t < d - 0.1 ? 190 : 40), seed);
      const a = analyzeSeries(s);
      assert.equal(a.verdict, 'spike', `${d} s, seed ${seed}: ${a.reason} [${a.rule}]`);
      assert.ok(Math.abs(a.spikes[0]!.heightBytes / MiB - 150) < 5, `${d} s: height ${a.spikes[0]!.heightBytes / MiB} MiB`);
    }
  }
});

test('issue 9: a leak after a launcher\'s start-up (pyenv shim: short bash processes coming and going) is a leak in the tree total', () => {
  // Before: the launcher's ~5 MiB ups and downs were 6 "release cycles", the floors were their
  // troughs, all before the leak began: "stable". The recorded corpus steady_leak.mh was one.
  const shim = (t: number) => 3 + 4 * Math.abs(Math.sin(t * 9)) + (Math.floor(t * 4) % 2) * 5;
  const s = makeDefault(7, (t) => (t < 2.5 ? shim(t) : t >= 6.9 ? 0 : 8 + 16 * (t - 2.5)), 3);
  const a = analyzeSeries(s);
  assert.equal(a.verdict, 'leak', `${a.reason} [${a.rule}]`);
  assert.ok(Math.abs(a.growth!.bytesPerMinute / MiB - 960) < 150, `rate ${a.growth!.bytesPerMinute / MiB} MiB/min`);
});

test('issue 9: level for most of the run, then a climb cut by the exit, is not called a leak', () => {
  // A 200 MiB buffer filled over 2.4 s on a starved machine at the end of a flat job (the
  // held-out h05_spike_late.py): "leak (high confidence) +6.55 GiB/min" before.
  const s = makeDefault(10, (t) => (t < 1.8 ? 3 + 22 * t : t < 7.2 ? 43 : t < 9.6 ? 43 + 160 * (t - 7.2) : 0), 5);
  const a = analyzeSeries(s);
  assert.equal(a.verdict, 'insufficient data', a.reason);
  assert.equal(a.rule, 'rise-after-level');
  // A steady leak under a sawtooth and a leak from mid-run stay leaks.
  assert.equal(analyzeSeries(make(20, (t) => 100 + 2 * t + saw(t, 0.5, 40), { seed: 9 })).verdict, 'leak');
  assert.equal(analyzeSeries(make(20, (t) => (t < 9 ? 80 : 80 + (t - 9) * 5) + saw(t, 0.4, 30), { seed: 1, intervalMs: 10 })).verdict, 'leak');
});

test('issue 9: the first tooth of a sawtooth after a launcher\'s small wiggles is not a spike', () => {
  // Held-out h01_list_sawtooth.py under the pyenv shim: "spike: one short excursion" before,
  // the launcher's 5 MiB wiggles pulling the typical top down to 14 MiB.
  const s = makeDefault(7.3, (t) => (t < 1 ? 3 + 5 * Math.abs(Math.sin(t * 20)) : t >= 7.25 ? 0 : 24 + saw(t - 1, 0.55, 29)), 7);
  const a = analyzeSeries(s);
  assert.equal(a.verdict, 'stable', `${a.reason} [${a.rule}]`);
});

test('a step after a launcher\'s start-up is measured from the floors before the climb, not from partway up it', () => {
  // pyenv's shim: ~1 s of bash processes coming and going (3–13 MiB), then python3 allocates 50 MiB
  // over 0.5 s and holds it. Before: "the floors rose in one step of 15.6 MiB" (the analysed floors
  // began at 1.5 s, partway up the climb).
  const f = (t: number) => (t < 1.0 ? 4 + 8 * Math.abs(Math.sin(t * 30)) : t < 1.1 ? 3 : t < 1.6 ? 13 + (t - 1.1) * 100 : t < 2.65 ? 63.4 : 0);
  const a = analyzeSeries(make(2.7, f, { seed: 3, intervalMs: 20, noiseMiB: 0.1 }));
  if (a.shape.step) assert.ok(a.shape.step.bytes / MiB > 45, `step ${a.shape.step.bytes / MiB} MiB: ${a.reason}`);
  assert.ok(!/one step of (?:[0-3]?\d(?:\.\d+)?) MiB/.test(a.reason), a.reason);
});

test('a fill that levels off is said with the rise the evidence shows, not the part after the warm-up', async () => {
  // Recorded: 40 × 5 MiB over ~2 s (4 s on a loaded machine), held 1 s. Before: "the floors rose by
  // 40.0 MiB and levelled off" beside "floors moved 34.5 MiB → 210 MiB".
  const { readMemhuntRecording } = await import('../recording/reader');
  const { analyzeRecording } = await import('./analyze');
  const { FIXTURES } = await import('../test-support');
  const rec = await readMemhuntRecording(`${FIXTURES}/memhunt/v1/fill_then_hold.mh`);
  const a = analyzeRecording(rec).tree;
  const m = /rose by ([\d.]+) MiB/.exec(a.reason);
  assert.ok(m, a.reason);
  assert.ok(Number(m[1]) > 150, a.reason);
});

test('stairs are not "one step": six 30 MiB stairs 0.7 s apart, then level', () => {
  // Seen: a pandas job adding a 30.5 MiB DataFrame every 0.7 s read "one step of 166 MiB".
  const f = (t: number) => (t < 0.5 ? 60 : 60 + 30 * Math.min(6, Math.floor((t - 0.5) / 0.7) + 1));
  const a = analyzeSeries(make(7.5, f, { seed: 5, intervalMs: 20, noiseMiB: 0.2 }));
  assert.notEqual(a.verdict, 'leak', a.reason);
  assert.doesNotMatch(a.reason, /one step of/, a.reason);
  // One jump still is one step.
  const one = analyzeSeries(make(7.5, (t) => (t < 3 ? 60 : 240), { seed: 5, intervalMs: 20, noiseMiB: 0.2 }));
  if (one.shape.step) assert.match(one.reason, /one step of 1[78]\d(\.\d+)? MiB/, one.reason);
});

test('a starved sawtooth whose tree says "still under way at the end" is not made a leak by its one big process', async () => {
  // Recorded by the live corpus at load 20 (fixtures/memhunt/loaded/): pyenv's shims took the first
  // seconds, the teeth came late, the last one was rising at the end. The tree: rise-after-level
  // (insufficient data); the python process alone, from its own start, read the same end as a leak.
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES } = await import('../test-support');
  const rec = await readMemhuntRecording(`${FIXTURES}/memhunt/loaded/sawtooth_train_load20.mh`);
  const a = analyzeRecording(rec);
  assert.equal(a.tree.rule, 'rise-after-level');
  assert.equal(a.verdict, 'insufficient data', a.reason);
  assert.deepEqual(a.leakingProcesses, []);
  assert.match(a.reason, /pid \d+ alone reads as a leak \(\+[\d.]+ [MG]iB\/min\), which the same end of the recording leaves open/);
  assert.ok(a.processes.some((p) => p.verdict === 'leak'), 'the process line still says what it read');
});

test('a leak interrupted by a slow spike is a leak: the spike\'s climb is not read as floors (trial 3, spike_leak.py)', async () => {
  // spike_leak.py keeps 8 MB every 0.1 s; at i = 10 a pandas merge took 1-2.4 s to build up to
  // +165 MiB on a busy machine, then was freed. Two of three recordings read "spike … no leak …
  // not distinguishable from noise" while the floors went 30.7 → 218 MiB: the merge's climb was
  // among the floors (a jump and a fall of 165 MiB in their middle).
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES } = await import('../test-support');
  for (const name of ['sl', 'slc1', 'slc2']) {
    const rec = await readMemhuntRecording(`${FIXTURES}/memhunt/trial3/${name}.mh`);
    const a = analyzeRecording(rec);
    assert.equal(a.verdict, 'leak', `${name}: ${a.reason} [${a.tree.rule}]`);
    assert.equal(a.tree.rule, 'leak', name);
    assert.equal(a.tree.spikes.length, 1, `${name}: the spike is still said`);
    assert.ok(a.tree.growth!.lowBytesPerMinute > 0, name);
  }
  const sl = analyzeRecording(await readMemhuntRecording(`${FIXTURES}/memhunt/trial3/slc2.mh`)).tree;
  assert.ok(sl.floors!.acrossSpikes, 'slc2: the floors inside the spike were left out');
  assert.ok(sl.evidence.some((e) => /the spike's own climb, not floors: left out/.test(e)), sl.evidence.join('\n'));
});

test('a leak before and after a spike that takes 2.5 s to build is a leak; a load that stops where the spike begins is not', () => {
  // 30 MiB/s kept, paused while a 170 MiB spike builds for 2.4 s and is freed (spike_leak.py's shape).
  const leak = (t: number) => {
    const kept = 20 + 30 * Math.min(t, 4) + 30 * Math.max(0, t - 6.5);
    const spike = t >= 4 && t < 6.4 ? 170 * ((t - 4) / 2.4) : 0;
    return kept + spike;
  };
  const a = analyzeSeries(make(8.5, leak, { seed: 3, intervalMs: 20, noiseMiB: 0.5 }));
  assert.equal(a.verdict, 'leak', `${a.reason} [${a.rule}]`);
  assert.ok(a.floors!.acrossSpikes);
  // The same climb, but the load is done where the spike begins: at most a few MiB after it, then level.
  const load = (t: number) => {
    const kept = 20 + 30 * Math.min(t, 4) + 4 * Math.min(Math.max(0, t - 6.5), 1);
    const spike = t >= 4 && t < 6.4 ? 170 * ((t - 4) / 2.4) : 0;
    return kept + spike;
  };
  const b = analyzeSeries(make(8.5, load, { seed: 3, intervalMs: 20, noiseMiB: 0.5 }));
  assert.notEqual(b.verdict, 'leak', `${b.reason} [${b.rule}]`);
  assert.equal(b.floors?.acrossSpikes ?? null, null);
});

test('one rate per scope (trial 3, a pool whose workers leak): the verdict line labels each rate, the tree evidence says it is the tree\'s', async () => {
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES } = await import('../test-support');
  const { formatAnalysis } = await import('../cli/analyze');
  for (const name of ['pool_fork', 'pool_spawn']) {
    const rec = await readMemhuntRecording(`${FIXTURES}/memhunt/trial3/${name}.mh`);
    const a = analyzeRecording(rec);
    assert.equal(a.verdict, 'leak', name);
    // The workers' exits at the end are the tree's shutdown, left out (and said): the tree total no
    // longer reads "stable" for a chart that climbs to 381 MiB (the re-trial's contradiction).
    assert.ok(a.tree.evidence.some((e) => /^the tree's shutdown began at [\d:.]+ \(pid [\d, ]+ ended\)/.test(e)), `${name}: ${a.tree.evidence.join('\n')}`);
    assert.notEqual(a.tree.verdict, 'stable', name);
    const first = a.leakingProcesses[0]!;
    const line = verdictLine(rec);
    if (a.tree.verdict === 'leak') {
      // pool_spawn: the total leaks too; its rate is the tree's, and each worker is named with its own.
      assert.equal(a.rate!.label, 'tree total', name);
      assert.match(line, / in the tree total; in pid /, line);
      for (const p of a.leakingProcesses) assert.match(line, new RegExp(`pid ${p.pid} \\([^)]*\\) at \\+[\\d.]+ [MG]iB/min`), line);
      continue;
    }
    assert.equal(a.rate!.label, `pid ${first.pid}`, name);
    // The headline's rate is pid N's, and each other leaking worker is named with its own rate.
    assert.match(line, new RegExp(`floors rising \\${a.rate!.growth.bytesPerMinute >= 0 ? '+' : '-'}[\\d.]+ [MG]iB/min \\(90% interval [^)]*\\) in pid ${first.pid} `), line);
    for (const p of a.leakingProcesses.slice(1)) assert.match(line, new RegExp(`pid ${p.pid} \\([^)]*\\) at \\+[\\d.]+ [MG]iB/min`), line);
    const text = formatAnalysis(a, { file: `${name}.mh`, command: rec.meta.command });
    // A fork worker runs its parent's command line: its row says whose fork it is (trial 4).
    if (name === 'pool_fork') assert.match(text, /pid \d+ +leak .* python3 pool\.py fork \(fork of pid \d+\): \+/, text);
    assert.match(text, new RegExp(`evidence \\(tree total, which on its own reads ${a.tree.verdict}; the leak is in pid ${first.pid}`), text);
    // No "then stayed level" where the evidence also says the floors were released (the workers exiting).
    assert.ok(!(a.tree.evidence.some((e) => /then stayed level/.test(e)) && a.tree.evidence.some((e) => /was released at/.test(e))), a.tree.evidence.join('\n'));
  }
});

// Recorded beside two CPU hogs (load 10, 2026-12-03) with the agents' `exiting` events: the
// workers', the scheduler's and the client's interpreters began their shutdown within 0.6 s of
// each other, 1 s before the end; what they freed then (780 MiB → 11 MiB) is their teardown. Two
// such runs before the event existed (stress runs 3 and 4) read "stable: what accumulated was
// released" when the leaky worker's interpreter freed its cache 1.2 s before it ended; a process's
// own slow shutdown is src/cli/teardown.test.ts (fails without the event).
test('a Dask leak whose workers free their caches while shutting down is a leak, the shutdown said', async () => {
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES } = await import('../test-support');
  const rec = await readMemhuntRecording(`${FIXTURES}/memhunt/loaded/dask_leak_teardown.mh`);
  const a = analyzeRecording(rec);
  assert.equal(a.verdict, 'leak', verdictLine(rec));
  assert.equal(a.tree.verdict, 'leak', a.tree.reason);
  const leaky = a.processes.find((p) => p.worker?.endsWith('(leaky)'));
  assert.ok(leaky && leaky.verdict === 'leak', a.processes.map((p) => `${p.pid} ${p.worker ?? ''} ${p.verdict}`).join('\n'));
  // Every process that said it: the tree's shutdown begins with the earliest of them, and is said.
  const said = rec.processes.filter((p) => p.teardownMs !== undefined);
  assert.ok(said.length >= 3, `${said.length} teardown records`);
  const first = Math.min(...said.filter((p) => p.exitMs !== null).map((p) => p.teardownMs!));
  assert.ok(a.tree.analyzedToMs <= first, `analysed to ${a.tree.analyzedToMs} ms, the first shutdown at ${first} ms`);
  assert.ok(a.tree.evidence.some((e) => /^the tree's shutdown began at [\d:.]+ \(.*the interpreters of pid [\d, ]+ began their shutdown\): .* is left out, a shutdown and not a release$/.test(e)), a.tree.evidence.join('\n'));
});

// New-user trial 4 (2026-12-03): `memhunt check --no-leak -- sh -c 'python3 slow_leak.py; sleep 30'`
// passed a job that leaked 55 MiB in 27 s (its process lived under half of the tree's span, so it was
// not "long-lived", and the tree total fell when it exited: "stable"); a Dask worker restarted by its
// nanny twice (each incarnation killed at its limit) had the driver's +6.7 MiB/min in the headline.
test('a leaking process that kept a real share of the tree counts, however long it lived (trial 4)', async () => {
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES } = await import('../test-support');
  const sh = analyzeRecording(await readMemhuntRecording(`${FIXTURES}/memhunt/trial4/leak_then_sleep.mh`));
  assert.equal(sh.verdict, 'leak', sh.reason);
  assert.match(sh.leakingProcesses[0]!.command.join(' '), /slow_leak\.py/);
  const dr = analyzeRecording(await readMemhuntRecording(`${FIXTURES}/memhunt/trial4/dask_restarted_worker.mh`));
  assert.equal(dr.verdict, 'leak', dr.reason);
  // Both incarnations of worker (0) named, fastest first; the driver is not the headline.
  assert.deepEqual(dr.leakingProcesses.map((p) => p.worker?.replace(/^worker tcp:\/\/[\d.:]+ /, '')), ['(0)', '(0)']);
  assert.equal(dr.rate!.pid, dr.leakingProcesses[0]!.pid);
  assert.match(dr.reason, /also rising, at under a tenth of that rate .*dask_restart\.py/);
});
