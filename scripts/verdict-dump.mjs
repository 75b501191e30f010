// Dumps the verdicts (label, confidence, reason, evidence and the facts behind them) of every
// recording fixture, the recorded corpus and a few thousand generated series, one JSON line each,
// so a change to src/analysis/verdict.ts can be compared before and after:
//   npm run build && node scripts/verdict-dump.mjs > before.jsonl   (on the old code)
//   npm run build && node scripts/verdict-dump.mjs > after.jsonl && cmp before.jsonl after.jsonl
// Options: --generated-only, --recordings-only. The generated series are seeded (mulberry32), so
// two runs of the same code print the same bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { analyzeSeries } = require(path.join(root, 'dist/analysis/verdict.js'));
const { analyzeRecording } = require(path.join(root, 'dist/analysis/analyze.js'));
const { loadRecording } = require(path.join(root, 'dist/cli/load.js'));
// The generators of src/analysis/verdict.test.ts.
const { make, saw } = require(path.join(root, 'dist/analysis/testkit.js'));

const MiB = 1024 * 1024;
const args = new Set(process.argv.slice(2));

/** The part of an analysis this comparison pins down (new fields are left out on purpose). */
function facts(a) {
  return {
    verdict: a.verdict, confidence: a.confidence, confidenceLabel: a.confidenceLabel, reason: a.reason, evidence: a.evidence,
    samples: a.samples, analyzedFromMs: a.analyzedFromMs, analyzedToMs: a.analyzedToMs, baselineBytes: a.baselineBytes,
    growth: a.growth, floors: a.floors, spikes: a.spikes, projection: a.projection, shape: a.shape,
  };
}
const out = (o) => process.stdout.write(JSON.stringify(o, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) + '\n');

async function recordings() {
  const files = [];
  const walk = (d) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (/\.(mh|dat|json|csv)$/.test(n) && !n.endsWith('labels.json')) files.push(p);
    }
  };
  walk(path.join(root, 'fixtures/memhunt'));
  walk(path.join(root, 'fixtures/mprof'));
  if (fs.existsSync(path.join(root, 'fixtures/corpus/recorded'))) walk(path.join(root, 'fixtures/corpus/recorded'));
  for (const f of files) {
    const rel = path.relative(root, f);
    let rec;
    try {
      rec = await loadRecording(f);
    } catch (e) {
      out({ file: rel, error: String(e.message) });
      continue;
    }
    const a = analyzeRecording(rec);
    out({ file: rel, what: 'tree', ...facts(a.tree) });
    for (const p of a.processes) out({ file: rel, what: `pid ${p.pid}`, ...facts(p) });
    out({ file: rel, what: 'recording', verdict: a.verdict, reason: a.reason });
  }
}

function generated() {
  const shapes = {
    flat: () => 50,
    leak: (t) => 100 + t * 2,
    slowLeak: (t) => 100 + t * 0.3,
    sawtooth: (t) => 40 + saw(t, 0.5, 100),
    leakUnderSaw: (t) => 40 + t + saw(t, 0.5, 150),
    modelStep: (t) => (t < 0.8 ? 10 + t * 400 : 330) + saw(t, 0.3, 5),
    lateStep: (t, d) => (t < 0.75 * d ? 300 : 600),
    cache: (t) => 30 + 200 * (1 - Math.exp(-t / 1.2)),
    batch: (t, d) => (t < 0.7 * d ? 20 + t * 40 : 20),
    midLeak: (t, d) => (t < 0.45 * d ? 80 : 80 + (t - 0.45 * d) * 5) + saw(t, 0.4, 30),
    exitFall: (t, d) => (t < d - 0.1 ? 20 + t * 10 : 5),
    spikeMid: (t, d) => (Math.abs(t - 0.4 * d) < 0.25 ? 400 : 60),
    spikeEarly: (t, d) => (Math.abs(t - 0.08 * d) < 0.25 ? 243 : 80),
    spikeLate: (t, d) => (Math.abs(t - 0.9 * d) < 0.25 ? 243 : 80),
    spikesOnSaw: (t, d) => 20 + (Math.abs(t - 0.35 * d) < 0.3 || Math.abs(t - 0.7 * d) < 0.3 ? 300 : saw(t, 0.4, 40)),
    shrinking: (t) => 300 - t * 20 > 10 ? 300 - t * 20 : 10,
    fewCycles: (t) => 20 + t * 10 + saw(t, 0.5, 150),
    stepLeak: (t) => 50 + 5 * Math.floor(t),
    slowSaw: (t) => 60 + saw(t, 2.5, 80),
  };
  const durations = [0.3, 1, 2, 3, 5, 8, 12, 20, 40];
  const intervals = [10, 50, 100];
  const noises = [0.05, 0.3, 2];
  let n = 0;
  for (const [name, f] of Object.entries(shapes)) {
    for (const d of durations) {
      for (const dt of intervals) {
        for (const noise of noises) {
          for (const seed of [1, 2]) {
            const s = make(d, (t) => f(t, d), { intervalMs: dt, noiseMiB: noise, seed: seed + n });
            const a = analyzeSeries(s);
            out({ series: `${name} ${d}s @${dt}ms ±${noise} seed ${seed}`, ...facts(a) });
          }
        }
      }
    }
    n++;
  }
  // With a limit, for the projections.
  for (const d of [5, 20, 60]) out({ series: `leak+limit ${d}s`, ...facts(analyzeSeries(make(d, (t) => 100 + t * 2, { intervalMs: 50, noiseMiB: 0.2, seed: 8 }), { limit: { bytes: 1024 * MiB, source: '--limit' } })) });
}

if (!args.has('--generated-only')) await recordings();
if (!args.has('--recordings-only')) generated();
