/**
 * The scaling fits on synthetic peaks with known laws and seeded noise: the right model chosen,
 * coefficients recovered, the projection's interval holding the truth, and "cannot decide" when the
 * sizes are too small to tell. The real programs are in cli/scale.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeScaling, fitModel, noiseBytes, predict, recommend, tQuantile, type ScalePoint } from './scaling';

const MiB = 1024 * 1024;

/** Deterministic noise (mulberry32), then Box–Muller for a normal deviate. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-12)) * Math.cos(2 * Math.PI * u());
}

/**
 * Peaks f(n) with normal noise of `noise` times memhunt's noise model (0.3% + 256 KiB): 2 is a
 * job twice as noisy as the runs measured here (BENCHMARKS.md "Scale").
 */
function points(sizes: number[], f: (n: number) => number, noise: number, seed: number, repeats = 1): ScalePoint[] {
  const r = rng(seed);
  const out: ScalePoint[] = [];
  for (const n of sizes) for (let k = 0; k < repeats; k++) out.push({ size: n, peakBytes: f(n) + noise * noiseBytes(f(n)) * r() });
  return out;
}

const SIZES = [10_000, 20_000, 40_000, 80_000];

test('Student t quantiles match the tables', () => {
  assert.ok(Math.abs(tQuantile(0.95, 1) - 6.3138) < 1e-3);
  assert.ok(Math.abs(tQuantile(0.95, 2) - 2.92) < 1e-3);
  assert.ok(Math.abs(tQuantile(0.95, 10) - 1.8125) < 1e-3);
  assert.ok(Math.abs(tQuantile(0.975, 30) - 2.0423) < 1e-3);
  assert.ok(Math.abs(tQuantile(0.95, 1e6) - 1.6449) < 1e-3);
});

test('exact laws are recovered: fixed part, per-item cost, exponent', () => {
  const lin = fitModel('linear', SIZES.map((n) => ({ size: n, peakBytes: 30 * MiB + 1900 * n })))!;
  assert.ok(Math.abs(lin.fixedBytes - 30 * MiB) < 1024);
  assert.ok(Math.abs(lin.coef - 1900) < 0.01);
  const pw = fitModel('power', SIZES.map((n) => ({ size: n, peakBytes: 20 * MiB + 8 * n ** 1.5 })))!;
  assert.ok(Math.abs(pw.exponent - 1.5) < 0.01, `exponent ${pw.exponent}`);
  const q = fitModel('quadratic', SIZES.map((n) => ({ size: n, peakBytes: 25 * MiB + 8 * n * n })))!;
  assert.ok(Math.abs(q.coef - 8) < 1e-6);
});

test('a linear job with noise twice the model: linear chosen, per-item cost within 10%, the truth inside the interval at 60x', () => {
  let inside = 0;
  let linear = 0;
  const trials = 40;
  for (let seed = 1; seed <= trials; seed++) {
    const f = (n: number) => 30 * MiB + 1900 * n;
    const a = analyzeScaling(points(SIZES, f, 2, seed), { fullSize: 5_000_000, countsItems: true });
    if (a.chosen === 'linear') {
      linear++;
      const fit = a.models.find((m) => m.kind === 'linear')!.fit!;
      assert.ok(Math.abs(fit.coef / 1900 - 1) < 0.1, `seed ${seed}: ${fit.coef} B per item`);
    }
    const truth = f(5_000_000);
    if (truth >= a.envelope.lowBytes && truth <= a.envelope.highBytes) inside++;
  }
  // Measured: 31/40 linear (the rest n log n or a power law near 1: without repeats the noise is
  // guessed), 35/40 inside a 90% interval; with noise as the model (1x) 38/40 and 40/40.
  assert.ok(linear >= trials * 0.7, `linear chosen ${linear}/${trials}`);
  assert.ok(inside >= trials * 0.85, `truth inside ${inside}/${trials}`);
});

test('a quadratic job (N×N float64) is told from a linear one and projected within its interval', () => {
  let quadratic = 0;
  let inside = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const f = (n: number) => 28 * MiB + 8 * n * n;
    const sizes = [500, 1000, 1500, 2000];
    const a = analyzeScaling(points(sizes, f, 2, seed), { fullSize: 4000, countsItems: true });
    if (a.chosen === 'quadratic') quadratic++;
    else assert.equal(a.chosen, 'power', `seed ${seed}`);
    const truth = f(4000);
    if (truth >= a.envelope.lowBytes && truth <= a.envelope.highBytes) inside++;
    if (a.chosen === 'quadratic') assert.ok(Math.abs(a.projection.bytes / truth - 1) < 0.15);
  }
  assert.ok(quadratic >= 15, `quadratic chosen ${quadratic}/20`);
  assert.ok(inside >= 17, `truth inside ${inside}/20`);
});

test('a peak that does not depend on N: constant chosen (growth within the noise can still be undecided at 60x)', () => {
  let constant = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const a = analyzeScaling(points(SIZES, () => 120 * MiB, 2, seed), { fullSize: 5_000_000, countsItems: true });
    if (a.chosen === 'constant') {
      constant++;
      assert.ok(Math.abs(a.projection.bytes / (120 * MiB) - 1) < 0.03);
    }
    if (!a.decided) assert.ok(a.suggestion, 'an undecided analysis suggests a size');
  }
  assert.ok(constant >= 18, `constant chosen ${constant}/20`);
});

test('a fixed 200 MiB model plus a linear part: the fixed part and the per-item cost are recovered', () => {
  const f = (n: number) => 200 * MiB + 4096 * n;
  let linear = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const a = analyzeScaling(points([50_000, 100_000, 200_000, 400_000], f, 2, seed), { fullSize: 2_000_000, countsItems: true });
    if (a.chosen !== 'linear') continue;
    linear++;
    const fit = a.models.find((m) => m.kind === 'linear')!.fit!;
    assert.ok(Math.abs(fit.fixedBytes / (200 * MiB) - 1) < 0.1, `fixed ${fit.fixedBytes / MiB} MiB`);
    assert.ok(Math.abs(fit.coef / 4096 - 1) < 0.1, `${fit.coef} B per item`);
  }
  assert.ok(linear >= 7, `linear chosen ${linear}/10`);
});

test('power law with a fitted exponent wins when the growth is neither n nor n²', () => {
  const f = (n: number) => 10 * MiB + 50 * n ** 1.5;
  const a = analyzeScaling(points([10_000, 20_000, 40_000, 80_000, 160_000], f, 1, 3, 2), { fullSize: 1_000_000, countsItems: true });
  assert.equal(a.chosen, 'power');
  assert.ok(Math.abs(a.powerExponent! - 1.5) < 0.1, `exponent ${a.powerExponent}`);
});

test('too small to tell: a big fixed part hides the growth; says it cannot decide and suggests a size', () => {
  // 200 MiB fixed and 8 MiB of growth as n^1.5 at the largest size: clearly growing, but the bend
  // is within the noise of one run, so linear and quadratic both predict the largest size; at 100x
  // they differ by far more than 2x.
  const f = (n: number) => 200 * MiB + 8 * MiB * (n / 400) ** 1.5;
  const a = analyzeScaling(points([100, 200, 300, 400], f, 0, 1), { fullSize: 40_000, countsItems: true });
  assert.equal(a.decided, false);
  assert.ok(a.consistent.includes('quadratic') && a.consistent.includes('linear'));
  // The size suggested tells them apart: they differ there by more than 10%.
  const s = a.suggestion!;
  assert.ok(s.size > 400 && s.size <= 40_000, JSON.stringify(s));
  const ys = s.bytesByModel.map((m) => m.bytes);
  assert.ok(Math.max(...ys) / Math.min(...ys) >= 1.1);
  // The range given covers every model that fits.
  assert.ok(a.envelope.highBytes >= a.models.find((m) => m.kind === 'quadratic')!.projection!.bytes);
});

test('percentages: n log n is not fitted (its log depends on the unit), the rest works', () => {
  const a = analyzeScaling(points([1, 2, 4, 8], (n) => 40 * MiB + 20 * MiB * n, 1, 11), { fullSize: 100, countsItems: false });
  assert.equal(a.models.find((m) => m.kind === 'nlogn')!.fit, null);
  assert.equal(a.chosen, 'linear');
  assert.ok(Math.abs(a.projection.bytes / (40 * MiB + 2000 * MiB) - 1) < 0.1);
});

test('three sizes are enough (power then unscored); fewer are refused', () => {
  const a = analyzeScaling(points([1000, 2000, 4000], (n) => 10 * MiB + 1000 * n, 2, 2), { fullSize: 100_000, countsItems: true });
  assert.equal(a.models.find((m) => m.kind === 'power')!.heldOut, null);
  assert.throws(() => analyzeScaling(points([1000, 2000], (n) => n * 1000 + 1, 0, 1), { fullSize: 5000, countsItems: true }), /at least 3/);
});

test('recommendation: upper bound + margin rounded up, and the largest size under the limit', () => {
  const f = (n: number) => 100 * MiB + 1024 * n;
  const a = analyzeScaling(points([100_000, 200_000, 400_000, 800_000], f, 2, 4), { fullSize: 4_000_000, countsItems: true });
  const r = recommend(a, { marginRel: 0.1, roundBytes: 256 * MiB, limitBytes: 2048 * MiB });
  assert.equal(r.requestBytes % (256 * MiB), 0);
  assert.ok(r.requestBytes >= a.envelope.highBytes * 1.1);
  assert.equal(r.fits, false); // ~4 GiB needed
  const fit = a.models.find((m) => m.kind === a.chosen)!.fit!;
  assert.ok(r.largestSizeThatFits! > 800_000 && r.largestSizeThatFits! < 2_000_000, String(r.largestSizeThatFits));
  assert.ok(predict(fit, r.largestSizeThatFits!) < 2048 * MiB);
});

test('issue 16: a named shape that failed its held-out test is never presented as settled (undecided, with a size to run)', () => {
  // Seeded cases where the power law passed and its exponent held 1 (or 2), but that shape's own
  // prediction of the largest size missed by more than 2 standard errors. Before: the shape was
  // chosen and `decided` was true.
  const cases: Array<[string, (n: number) => number, number, number, string]> = [
    ['linear', (n) => 100 * MiB + 2000 * n, 2, 11, 'linear'],
    ['quadratic', (n) => 50 * MiB + 0.05 * n * n, 4, 27, 'quadratic'],
  ];
  for (const [name, f, noise, seed, shape] of cases) {
    const a = analyzeScaling(points(SIZES, f, noise, seed), { fullSize: 5_000_000, countsItems: true });
    assert.equal(a.contested, shape, name);
    assert.equal(a.decided, false, `${name}: decided`);
    assert.ok(a.suggestion && a.suggestion.size > 80_000, `${name}: a size to run next`);
    // One criterion: heldOut.inside is the held-out test the choice uses.
    for (const m of a.models) if (m.heldOut) assert.equal(m.heldOut.inside, Math.abs(m.heldOut.errorRel) / m.heldOut.seRel <= 2, `${name} ${m.kind}`);
    assert.equal(a.models.find((m) => m.kind === shape)!.heldOut!.inside, false);
  }
});
