// Benchmark: `memhunt plot` against `mprof plot` on the same data, in the same run.
//   node bench/plot.mjs [--rounds 3] [--samples 1000000] [--processes 1,4] [--big 10000000] [--no-big] [--no-browser]
// Data: a synthetic training-job recording (model load, a sawtooth of batches, a slow leak, one
// 1-sample spike), written with memhunt's own RecordingWriter as `memhunt run` writes it (one gzip
// member per 100 samples = per second at 10 ms), then exported with `memhunt export --format mprof`
// so both tools read the same samples. Shapes: 1 process (mprof: MEM lines only) and 4 processes
// (mprof: MEM + 3 CHLD lines per sample, which mprof plot draws as 3 more lines).
// Measured per run with /usr/bin/time: wall time and peak RSS (wait4's ru_maxrss, exact).
// Also: 10 M samples to PNG (memhunt only: a 10 M-line .dat is 300 MB), and the HTML report of
// 1 M samples: file size, and in Chromium (if /usr/bin/chromium exists) time to first chart and
// to redraw after a zoom. The checks judge the .dat (issue 9: ≥ 5× mprof plot with 1 process and
// with 3 children, peak RSS ≤ mprof's) and that memhunt reads its own .mh at least as fast.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { machine, median, fmt, table, verdict, finish, timed, numOpt, checkPlotPrerequisites, MEMHUNT, SYS_PYTHON, OUT_DIR, REPO } from './lib.mjs';

const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const ROUNDS = numOpt('--rounds', 3);
const SAMPLES = numOpt('--samples', 1_000_000);
const BIG = argv.includes('--no-big') ? 0 : numOpt('--big', 10_000_000);
const SHAPES = (argv.includes('--processes') ? argv[argv.indexOf('--processes') + 1] : '1,4').split(',').map(Number);
const BROWSER = !argv.includes('--no-browser') && fs.existsSync('/usr/bin/chromium');

checkPlotPrerequisites();
const { RecordingWriter } = require(path.join(REPO, 'dist', 'recording', 'writer.js'));

const MiB = 1024 * 1024;
/** Writes a recording of n samples (interval 10 ms) of `procs` processes, streaming. */
function makeRecording(file, n, procs) {
  const w = new RecordingWriter(file, {
    type: 'header', format: 'memhunt-recording', version: 1, memhuntVersion: '0.1.0', mode: 'run',
    command: ['python3', 'train.py', '--epochs', '20'], cwd: '/bench', host: 'bench', containerId: null,
    startWallMs: 1_790_000_000_000, startIso: new Date(1_790_000_000_000).toISOString(), intervalMs: 10, metric: 'rss',
    limitBytes: null, rootPid: 1000, cgroup: null,
    fields: { p: ['pid', 'rssKiB', 'anonKiB', 'fileKiB', 'shmemKiB', 'hwmKiB'], c: [], pss: [] }, labels: {},
  });
  for (let p = 0; p < procs; p++) w.append({ type: 'proc', t: 0, pid: 1000 + p, ppid: p ? 1000 : 999, cmd: p ? ['python3', '-m', 'loader', `--worker=${p}`] : ['python3', 'train.py', '--epochs', '20'] });
  const batch = 500;
  const spikeAt = Math.floor(n * 0.6543);
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < n; i++) {
    const t = i * 10;
    const rows = [];
    for (let p = 0; p < procs; p++) {
      let kib;
      if (p === 0) kib = 80 * 1024 + (i > n * 0.02 ? 300 * 1024 : 0) + ((i % batch) / batch) * 120 * 1024 + (i / n) * 200 * 1024 + rnd() * 2048;
      else kib = (40 + 15 * p) * 1024 + rnd() * 4096;
      if (p === 0 && i === spikeAt) kib += 1500 * 1024;
      kib = Math.round(kib);
      rows.push([1000 + p, kib, kib - 3000, 3000, 0, kib]);
    }
    w.append({ type: 's', t, p: rows });
    // 20 epochs (sections) with a checkpoint mark after each.
    const epoch = Math.floor(n / 20);
    if (i % epoch === 0 && i > 0) {
      w.append({ type: 'marker', t: t - 1, pid: 1000, kind: 'end', label: `epoch ${i / epoch}` });
      w.append({ type: 'marker', t: t - 0.5, pid: 1000, kind: 'mark', label: `checkpoint ${i / epoch}` });
    }
    if (i % epoch === 0 && i + epoch <= n) w.append({ type: 'marker', t: t + 1, pid: 1000, kind: 'begin', label: `epoch ${i / epoch + 1}` });
    if (i % 100 === 99) w.flush();
  }
  w.append({ type: 'exit', t: n * 10, pid: 1000, code: 0, signal: null });
  w.append({ type: 'end', t: n * 10, reason: 'exited', code: 0, signal: null, samples: n });
  w.close();
}

const info = machine();
console.log(`plot: ${ROUNDS} rounds x (memhunt, mprof) on ${SAMPLES.toLocaleString('en-US')} samples; ${info.nproc} cores, ${info.cpu}, ${info.date}, load ${info.loadavgAtStart.join(' ')}\n`);

const results = { machine: info, rounds: ROUNDS, samples: SAMPLES, shapes: [], big: null, html: null };
const files = [];
if (!SHAPES.includes(1)) throw new Error('--processes must include 1 (the HTML report and the checks use the 1-process recording)');
for (const procs of SHAPES) {
  const mh = path.join(OUT_DIR, `plot-${procs}p.mh`);
  const dat = path.join(OUT_DIR, `plot-${procs}p.dat`);
  files.push(mh, dat);
  let t0 = performance.now();
  makeRecording(mh, SAMPLES, procs);
  const genS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  execFileSync(process.execPath, [MEMHUNT, 'export', mh, '--format', 'mprof', '-o', dat], { stdio: 'ignore' });
  console.log(`${procs} process${procs > 1 ? 'es' : ''}: wrote ${path.basename(mh)} (${fmt(fs.statSync(mh).size / MiB, 1)} MiB, ${fmt(genS, 1)} s) and ${path.basename(dat)} (${fmt(fs.statSync(dat).size / MiB, 1)} MiB)`);
  const runs = { memhunt: [], memhuntDat: [], mprof: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Which tool goes first alternates; memhunt reads the same samples from its own .mh and from
    // the mprof .dat (the target is the .dat: the file a user of mprof already has).
    const order = r % 2 === 0 ? ['memhunt', 'memhuntDat', 'mprof'] : ['mprof', 'memhuntDat', 'memhunt'];
    for (const kind of order) {
      const out = path.join(OUT_DIR, `plot-${kind}.png`);
      files.push(out);
      if (kind === 'memhunt') runs.memhunt.push(timed(process.execPath, [MEMHUNT, 'plot', mh, '-o', out]));
      else if (kind === 'memhuntDat') runs.memhuntDat.push(timed(process.execPath, [MEMHUNT, 'plot', dat, '-o', out]));
      else runs.mprof.push(timed(SYS_PYTHON, ['-m', 'mprof', 'plot', '-o', out, dat]));
    }
  }
  const m = (xs, k) => median(xs.map((x) => x[k]));
  const shape = {
    processes: procs,
    mhBytes: fs.statSync(mh).size,
    datBytes: fs.statSync(dat).size,
    memhunt: { wallS: m(runs.memhunt, 'wallS'), cpuS: m(runs.memhunt, 'cpuS'), peakRssMiB: Math.max(...runs.memhunt.map((x) => x.peakRssMiB)), runs: runs.memhunt },
    memhuntFromDat: { wallS: m(runs.memhuntDat, 'wallS'), cpuS: m(runs.memhuntDat, 'cpuS'), peakRssMiB: Math.max(...runs.memhuntDat.map((x) => x.peakRssMiB)), runs: runs.memhuntDat },
    mprof: { wallS: m(runs.mprof, 'wallS'), cpuS: m(runs.mprof, 'cpuS'), peakRssMiB: Math.max(...runs.mprof.map((x) => x.peakRssMiB)), runs: runs.mprof },
  };
  // Ratios: medians of the per-round ratios (the load of a shared machine cancels out as far as it can).
  const perRound = (xs) => median(xs.map((x, i) => runs.mprof[i].wallS / x.wallS));
  shape.speedup = perRound(runs.memhunt);
  shape.datSpeedup = perRound(runs.memhuntDat);
  shape.cpuRatio = shape.mprof.cpuS / shape.memhunt.cpuS;
  shape.datCpuRatio = shape.mprof.cpuS / shape.memhuntFromDat.cpuS;
  shape.mhOverDat = median(runs.memhunt.map((x, i) => x.wallS / runs.memhuntDat[i].wallS));
  results.shapes.push(shape);
}

console.log();
table([
  ['PNG of 1 M samples', 'memhunt .mh s', 'memhunt .dat s', 'mprof .dat s', 'speed-up .dat (.mh)', 'CPU s memhunt .mh/.dat/mprof', 'peak MiB memhunt .mh/.dat', 'mprof peak MiB'],
  ...results.shapes.map((s) => [
    `${s.processes} process${s.processes > 1 ? 'es' : ''}`, fmt(s.memhunt.wallS), fmt(s.memhuntFromDat.wallS), fmt(s.mprof.wallS), `${fmt(s.datSpeedup, 1)}x (${fmt(s.speedup, 1)}x)`,
    `${fmt(s.memhunt.cpuS)} / ${fmt(s.memhuntFromDat.cpuS)} / ${fmt(s.mprof.cpuS)}`, `${fmt(s.memhunt.peakRssMiB, 0)} / ${fmt(s.memhuntFromDat.peakRssMiB, 0)}`, fmt(s.mprof.peakRssMiB, 0),
  ]),
]);

// HTML report of the 1-process, 1 M-sample recording.
{
  const mh = path.join(OUT_DIR, 'plot-1p.mh');
  const html = path.join(OUT_DIR, 'plot-1p.html');
  files.push(html);
  const run = timed(process.execPath, [MEMHUNT, 'plot', mh, '-o', html]);
  results.html = { wallS: run.wallS, peakRssMiB: run.peakRssMiB, bytes: fs.statSync(html).size };
  if (BROWSER) {
    const { chromium } = require('playwright-core');
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    let t0 = performance.now();
    await page.goto(`file://${html}`);
    await page.waitForFunction('window.memhuntChart !== undefined');
    results.html.firstChartMs = performance.now() - t0;
    const zooms = [];
    for (const [a, b] of [[0.4, 0.5], [0.42, 0.43], [0.421, 0.4215]]) {
      await page.waitForTimeout(200);
      const before = await page.evaluate('window.memhuntRefreshes || 0');
      t0 = performance.now();
      await page.evaluate(`window.memhuntChart.setScale('x', { min: ${a * SAMPLES * 10}, max: ${b * SAMPLES * 10} })`);
      await page.waitForFunction(`(window.memhuntRefreshes || 0) > ${before}`);
      await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      zooms.push(performance.now() - t0);
    }
    results.html.zoomRedrawMs = zooms;
    await browser.close();
  }
  console.log(`\nHTML report of 1 M samples: ${fmt(results.html.bytes / MiB, 2)} MiB in ${fmt(results.html.wallS)} s` +
    (results.html.firstChartMs ? `; Chromium: chart drawn ${fmt(results.html.firstChartMs, 0)} ms after opening, zoom redraws ${results.html.zoomRedrawMs.map((z) => fmt(z, 0)).join(', ')} ms` : ''));
}

// 10 M samples: memhunt only.
if (BIG > 0) {
  const mh = path.join(OUT_DIR, 'plot-big.mh');
  const out = path.join(OUT_DIR, 'plot-big.png');
  files.push(mh, out);
  const t0 = performance.now();
  makeRecording(mh, BIG, 1);
  console.log(`\n${BIG.toLocaleString('en-US')} samples: wrote ${path.basename(mh)} (${fmt(fs.statSync(mh).size / MiB, 1)} MiB) in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  const runs = [];
  for (let r = 0; r < Math.min(2, ROUNDS); r++) runs.push(timed(process.execPath, [MEMHUNT, 'plot', mh, '-o', out]));
  results.big = { samples: BIG, mhBytes: fs.statSync(mh).size, wallS: median(runs.map((x) => x.wallS)), peakRssMiB: Math.max(...runs.map((x) => x.peakRssMiB)), runs };
  // One process: its times and RSS, 8 bytes each (the tree total shares them).
  results.big.columnsMiB = (BIG * 2 * 8) / MiB;
  console.log(`PNG of ${BIG.toLocaleString('en-US')} samples: ${fmt(results.big.wallS)} s, peak RSS ${fmt(results.big.peakRssMiB, 0)} MiB (the columns themselves: ${fmt(results.big.columnsMiB, 0)} MiB)`);
}

// Issue 9: "plot of a 1 M-sample .dat >= 5x faster than mprof plot with 1 process and with 3
// children, peak RSS <= mprof's": judged on the .dat column. memhunt's own .mh must be read at
// least as fast as the .dat of the same samples (median of per-round ratios, 10% for noise).
const one = results.shapes[0];
const checks = [];
for (const s of results.shapes) {
  const what = s.processes === 1 ? '1 process' : `${s.processes - 1} children`;
  checks.push(verdict(`PNG of a 1 M-sample .dat >= 5x faster than mprof plot (${what})`, s.datSpeedup >= 5,
    `${fmt(s.memhuntFromDat.wallS)} s vs ${fmt(s.mprof.wallS)} s, median per-round ratio ${fmt(s.datSpeedup, 1)}x (CPU ${fmt(s.datCpuRatio, 1)}x)`));
  checks.push(verdict(`memhunt plot of the .dat: peak RSS <= mprof's (${what})`, s.memhuntFromDat.peakRssMiB <= s.mprof.peakRssMiB,
    `${fmt(s.memhuntFromDat.peakRssMiB, 0)} vs ${fmt(s.mprof.peakRssMiB, 0)} MiB`));
  checks.push(verdict(`memhunt's own .mh plotted at least as fast as the .dat (${what})`, s.mhOverDat <= 1.1,
    `${fmt(s.memhunt.wallS)} vs ${fmt(s.memhuntFromDat.wallS)} s, .mh/.dat ${fmt(s.mhOverDat, 2)}`));
}
checks.push(
  verdict('memhunt peak RSS <= 150 MB (1 M samples PNG, .mh)', one.memhunt.peakRssMiB * MiB <= 150e6, `${fmt(one.memhunt.peakRssMiB * MiB / 1e6, 0)} MB`),
  verdict('HTML report of 1 M samples <= 5 MB', results.html.bytes <= 5e6, `${fmt(results.html.bytes / 1e6, 2)} MB`),
);
if (results.big) checks.push(verdict('PNG of 10 M samples <= 10 s', results.big.wallS <= 10, `${fmt(results.big.wallS)} s`));
finish('plot', results, checks, files);
