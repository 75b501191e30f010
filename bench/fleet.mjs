// `memhunt fleet` at scale (issue 14 target: 1,000 recordings of one hour each at 100 ms, 36 M
// samples in all, made by the project's own writer: the table in <= 10 s and <= 512 MiB peak RSS on
// a 2-core machine; the fleet PNG, `memhunt plot DIR`, in <= 15 s). There is no other tool that reads a fleet of memory recordings; the reference
// in the same run is `memhunt peak` over the same files (one process reading them one by one,
// what a user would script), as a ratio; for the PNG, `memhunt plot` of several files without
// --fleet (every series whole, one chart) on a subset, scaled.
//
//   node bench/fleet.mjs [--recordings 1000] [--keep]
//
// Recordings are generated into .bench-out/fleet/ (kept with --keep; reused when present with the
// same count). Results: bench/results/fleet.json and stdout.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { MEMHUNT, OUT_DIR, REPO, checkPrerequisites, fmt, machine, runMonitored, table, writeResult } from './lib.mjs';

const require = createRequire(import.meta.url);
const { RecordingWriter } = require(path.join(REPO, 'dist', 'recording', 'writer.js'));
const spec = require(path.join(REPO, 'dist', 'recording', 'spec.js'));
const { readMemhuntRecording } = require(path.join(REPO, 'dist', 'recording', 'reader.js'));
const { analyzeRecording } = require(path.join(REPO, 'dist', 'analysis', 'analyze.js'));
const { appendSummaryFooter } = require(path.join(REPO, 'dist', 'cli', 'footer.js'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--recordings', 1000);
const KEEP = process.argv.includes('--keep');
const SAMPLES = 36_000;
const INTERVAL_MS = 100;
const MiB = 1024;  // KiB per MiB (rows are in KiB)
checkPrerequisites();

function header(i, variant) {
  const start = Date.UTC(2026, 11, 1, 8, 0, 0) + i * 1000;
  return {
    type: 'header', format: spec.RECORDING_FORMAT, version: spec.RECORDING_VERSION, memhuntVersion: 'bench', mode: 'run',
    command: ['python3', 'train.py', '--shard', String(i)], cwd: '/job', host: `ip-10-0-${i >> 8}-${i & 255}`, containerId: null,
    startWallMs: start, startIso: new Date(start).toISOString(), intervalMs: INTERVAL_MS, metric: 'rss',
    limitBytes: variant.limitMiB ? variant.limitMiB * 1024 * 1024 : null, rootPid: 100, cgroup: null,
    fields: { p: [...spec.PROCESS_FIELDS], c: [...spec.CGROUP_FIELDS], pss: [...spec.PSS_FIELDS] },
    labels: { platform: 'aws-batch', awsBatchJobId: `etl:${i}`, awsBatchArrayIndex: String(i) },
  };
}

// Ten shapes of an hour: sawtooths, a slow leak, a spike, workers, a run killed at its limit.
const VARIANTS = Array.from({ length: 10 }, (_, v) => ({
  procs: 1 + (v % 3),
  limitMiB: v === 9 ? 2000 : null,
  mib: (p, tS) => {
    const base = 300 + 40 * p + ((tS % (20 + v)) / (20 + v)) * (100 + 10 * v);
    const leak = v % 4 === 1 ? tS * 0.3 : 0;
    const spike = v === 5 && tS > 1800 && tS < 1805 ? 900 : 0;
    const kill = v === 9 ? tS * 0.5 : 0;
    return base + leak + spike + kill;
  },
}));

async function writeBase(file, v, variant) {
  const h = header(0, variant);
  const w = new RecordingWriter(file, h);
  for (let p = 0; p < variant.procs; p++) w.append({ type: 'proc', t: 0, pid: 100 + p, ppid: p ? 100 : 1, cmd: ['python3', 'train.py', p ? `worker${p}` : 'main'] });
  let t = 0;
  let n = 0;
  for (let i = 0; i < SAMPLES; i++) {
    t = i * INTERVAL_MS;
    const rows = [];
    for (let p = 0; p < variant.procs; p++) {
      const kib = Math.round(variant.mib(p, t / 1000) * MiB);
      rows.push([100 + p, kib, kib, 0, 0, kib]);
    }
    w.append({ type: 's', t, p: rows });
    n++;
    if (i % 10 === 9) w.flush(); // a member a second, as the sampler writes them
    if (variant.limitMiB && rows.reduce((s, r) => s + r[1], 0) > variant.limitMiB * MiB) {
      w.append({ type: 'limit', t, metric: 'rss', bytes: rows.reduce((s, r) => s + r[1], 0) * 1024, limitBytes: variant.limitMiB * 1024 * 1024 });
      break;
    }
  }
  w.append({ type: 'end', t, reason: variant.limitMiB ? 'limit' : 'exited', code: variant.limitMiB ? null : 0, signal: variant.limitMiB ? 'SIGKILL' : null, samples: n });
  w.close();
  // The summary footer, as `memhunt run` appends it once it has read the recording back.
  const rec = await readMemhuntRecording(file);
  if (!appendSummaryFooter(file, rec, analyzeRecording(rec))) throw new Error('bench: no footer written');
  const bytes = fs.readFileSync(file);
  const first = zlib.gzipSync(JSON.stringify(h) + '\n', { level: 3 });
  if (!bytes.subarray(0, first.length).equals(first)) throw new Error('bench: the header member is not where expected');
  return { body: bytes.subarray(first.length), samples: n };
}

const dir = path.join(OUT_DIR, 'fleet');
// The stamp names the footer's version: footers with the tree total's envelope (plot DIR reads it).
const stamp = path.join(dir, `.made-${N}-envelope`);
let totalSamples = 0;
if (!fs.existsSync(stamp)) {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  const bases = [];
  for (const [v, variant] of VARIANTS.entries()) bases.push({ variant, ...(await writeBase(path.join(dir, `.base-${v}.mh`), v, variant)) });
  for (let i = 0; i < N; i++) {
    const b = bases[i % bases.length];
    const h = zlib.gzipSync(JSON.stringify(header(i, b.variant)) + '\n', { level: 3 });
    fs.writeFileSync(path.join(dir, `memhunt_20261201080000_batch-etl-${i}.mh`), Buffer.concat([h, b.body]));
    totalSamples += b.samples;
  }
  for (let v = 0; v < VARIANTS.length; v++) fs.rmSync(path.join(dir, `.base-${v}.mh`));
  fs.writeFileSync(stamp, String(totalSamples));
  console.log(`generated ${N} recordings (${(totalSamples / 1e6).toFixed(1)} M samples) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} else {
  totalSamples = Number(fs.readFileSync(stamp, 'utf8'));
}
const diskMiB = fs.readdirSync(dir).filter((f) => f.endsWith('.mh')).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0) / 2 ** 20;

const m = machine();
const fleet = await runMonitored(process.execPath, [MEMHUNT, 'fleet', dir, '--top', '20'], { pollMs: 100, captureStdout: true });
if (fleet.code !== 0) throw new Error(`fleet failed: ${fleet.stderr}`);
const pngOut = path.join(OUT_DIR, 'fleet.png');
fs.rmSync(pngOut, { force: true });
const plot = await runMonitored(process.execPath, [MEMHUNT, 'plot', dir, '-o', pngOut], { pollMs: 100 });
if (plot.code !== 0) throw new Error(`plot failed: ${plot.stderr}`);
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.mh')).map((f) => path.join(dir, f));
// The reference for the PNG: `memhunt plot` of PLOT_SUBSET files as one chart (each read whole), scaled.
const PLOT_SUBSET = Math.min(files.length, 10);
const plotOut = path.join(OUT_DIR, 'fleet-subset.png');
fs.rmSync(plotOut, { force: true });
const plotWhole = await runMonitored(process.execPath, [MEMHUNT, 'plot', ...files.slice(0, PLOT_SUBSET), '-o', plotOut], { pollMs: 100 });
if (plotWhole.code !== 0) throw new Error(`plot (subset) failed: ${plotWhole.stderr}`);
plotWhole.wallMs *= files.length / PLOT_SUBSET;
fs.rmSync(plotOut, { force: true });
// The reference, in the same run: `memhunt peak` over the same files, one process (on a sample of
// SUBSET files, scaled: reading every sample of 1,000 hours takes minutes), and fleet --reanalyze
// (whole reads in worker threads, no footers) on the same subset.
const SUBSET = Math.min(files.length, 40);
const peak = await runMonitored(process.execPath, [MEMHUNT, 'peak', ...files.slice(0, SUBSET)], { pollMs: 100 });
peak.wallMs *= files.length / SUBSET;
const subDir = path.join(OUT_DIR, 'fleet-subset');
fs.rmSync(subDir, { recursive: true, force: true });
fs.mkdirSync(subDir);
for (const f of files.slice(0, SUBSET)) fs.linkSync(f, path.join(subDir, path.basename(f)));
const whole = await runMonitored(process.execPath, [MEMHUNT, 'fleet', subDir, '--reanalyze', '--top', '1'], { pollMs: 100 });
whole.wallMs *= files.length / SUBSET;
fs.rmSync(subDir, { recursive: true, force: true });
const row = (name, r) => [name, `${fmt(r.wallMs / 1000, 1)} s`, `${fmt(r.hwmKiB / 1024, 0)} MiB`];
table([
  ['command', 'wall', 'peak RSS'],
  row(`memhunt fleet (${N} recordings, ${(totalSamples / 1e6).toFixed(1)} M samples, ${fmt(diskMiB, 0)} MiB)`, fleet),
  row(`memhunt peak (one process; ${SUBSET} files, wall scaled to ${files.length})`, peak),
  row(`memhunt fleet --reanalyze (whole reads; ${SUBSET} files, wall scaled to ${files.length})`, whole),
  row(`memhunt plot DIR -o fleet.png (${N} recordings by wall clock)`, plot),
  row(`memhunt plot FILES -o x.png (every series whole; ${PLOT_SUBSET} files, wall scaled to ${files.length})`, plotWhole),
]);
console.log(fleet.stdout.split('\n').slice(-2).join('\n'));
const pass = fleet.wallMs <= 10_000 && fleet.hwmKiB <= 512 * 1024;
console.log(`target: <= 10 s and <= 512 MiB: ${pass ? 'met' : 'NOT met'}; memhunt peak (scaled) / fleet wall: ${fmt(peak.wallMs / fleet.wallMs, 1)}x`);
const plotPass = plot.wallMs <= 15_000;
console.log(`fleet PNG target: <= 15 s: ${plotPass ? 'met' : 'NOT met'} (${fmt(plot.wallMs / 1000, 1)} s, peak RSS ${fmt(plot.hwmKiB / 1024, 0)} MiB; ${pngOut}); plot of the files whole (scaled) / plot DIR: ${fmt(plotWhole.wallMs / plot.wallMs, 1)}x`);
writeResult('fleet', { machine: m, recordings: N, samples: totalSamples, diskMiB, fleet: { wallMs: fleet.wallMs, hwmKiB: fleet.hwmKiB }, peakScaled: { wallMs: peak.wallMs, hwmKiB: peak.hwmKiB }, reanalyzeScaled: { wallMs: whole.wallMs, hwmKiB: whole.hwmKiB }, subset: SUBSET, pass, plot: { wallMs: plot.wallMs, hwmKiB: plot.hwmKiB, pass: plotPass }, plotWholeScaled: { wallMs: plotWhole.wallMs, hwmKiB: plotWhole.hwmKiB, subset: PLOT_SUBSET } });
if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
