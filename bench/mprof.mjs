// Benchmark: memhunt reading mprof .dat files against mprof itself, in the same run.
//   node bench/mprof.mjs [--rounds 3] [--samples 1000000] [--children 0,3]
// Data: .dat files written here in mprof 0.61's own format ("MEM %.6f %.4f", "CHLD %d %.6f %.4f",
// one CHLD line per child after each MEM line, times 0.1 s apart): a training-job shape (a step
// up, a sawtooth, a slow rise, noise), 1 M samples with no child (31 MB) and with 3 children
// (1 M MEM + 3 M CHLD lines, 139 MB), as `mprof run [-M]` writes them over ~28 hours.
// Each round runs, alternately: `memhunt plot F -o x.png` and `mprof plot -o y.png F`, then
// `memhunt peak F` and `mprof peak F` (Debian's python3-memory-profiler, /usr/bin/python3 -m
// mprof), each under /usr/bin/time (wall, user+system CPU, peak RSS = wait4's ru_maxrss). Ratios
// are medians of the per-round ratios, so that the load of a shared machine cancels out as far as
// it can. memhunt's `peak` line is checked against mprof's (the same number, as mprof prints it).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { machine, median, fmt, table, verdict, finish, timed, opt, numOpt, checkPlotPrerequisites, MEMHUNT, SYS_PYTHON, OUT_DIR } from './lib.mjs';

const ROUNDS = numOpt('--rounds', 3);
const SAMPLES = numOpt('--samples', 1_000_000);
const CHILDREN = String(opt('--children', '0,3')).split(',').map(Number);

checkPlotPrerequisites();
const MiB = 1024 * 1024;

/** Writes n samples in mprof's format, with `children` CHLD lines after each MEM line, streaming. */
function makeDat(file, n, children) {
  const fd = fs.openSync(file, 'w');
  let out = 'CMDLINE /usr/bin/python3 train.py --epochs 20\n';
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const t0 = 1_796_000_000;
  for (let i = 0; i < n; i++) {
    const t = t0 + i * 0.1 + rnd() * 0.002;
    const mib = 80 + (i > n * 0.02 ? 300 : 0) + ((i % 500) / 500) * 120 + (i / n) * 200 + rnd() * 2 + (i === Math.floor(n * 0.6543) ? 1500 : 0);
    out += `MEM ${mib.toFixed(6)} ${t.toFixed(4)}\n`;
    for (let k = 1; k <= children; k++) out += `CHLD ${4000 + k} ${(40 + 15 * k + rnd() * 4).toFixed(6)} ${(t + 0.0011).toFixed(4)}\n`;
    if (out.length > 1 << 20) { fs.writeSync(fd, out); out = ''; }
  }
  fs.writeSync(fd, out);
  fs.closeSync(fd);
}

const info = machine();
console.log(`mprof: ${ROUNDS} rounds x (plot, peak) x (memhunt, mprof) on ${SAMPLES.toLocaleString('en-US')} samples; ${info.nproc} cores, ${info.cpu}, ${info.date}, load ${info.loadavgAtStart.join(' ')}\n`);
const results = { machine: info, rounds: ROUNDS, samples: SAMPLES, shapes: [] };
const files = [];
for (const children of CHILDREN) {
  const dat = path.join(OUT_DIR, `mprof-${children}c.dat`);
  const pngs = [path.join(OUT_DIR, 'mprof-memhunt.png'), path.join(OUT_DIR, 'mprof-mprof.png')];
  files.push(dat, ...pngs);
  const t0 = performance.now();
  makeDat(dat, SAMPLES, children);
  console.log(`${children} children: wrote ${path.basename(dat)} (${fmt(fs.statSync(dat).size / MiB, 1)} MiB) in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  const runs = { plot: { memhunt: [], mprof: [] }, peak: { memhunt: [], mprof: [] } };
  let peakLinesAgree = true;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['memhunt', 'mprof'] : ['mprof', 'memhunt'];
    for (const tool of order) {
      if (tool === 'memhunt') runs.plot.memhunt.push(timed(process.execPath, [MEMHUNT, 'plot', dat, '-o', pngs[0]]));
      else runs.plot.mprof.push(timed(SYS_PYTHON, ['-m', 'mprof', 'plot', '-o', pngs[1], dat]));
    }
    for (const tool of order) {
      if (tool === 'memhunt') runs.peak.memhunt.push(timed(process.execPath, [MEMHUNT, 'peak', dat]));
      else runs.peak.mprof.push(timed(SYS_PYTHON, ['-m', 'mprof', 'peak', dat]));
    }
    // The same number as mprof prints (second tab-separated field of the first line).
    const ours = runs.peak.memhunt.at(-1).stdout.split('\n')[0].split('\t')[1];
    const theirs = runs.peak.mprof.at(-1).stdout.split('\n')[0].split('\t')[1];
    if (ours !== theirs) peakLinesAgree = false;
    console.log(`  round ${r + 1}: plot ${fmt(runs.plot.memhunt.at(-1).wallS)} s vs ${fmt(runs.plot.mprof.at(-1).wallS)} s, peak ${fmt(runs.peak.memhunt.at(-1).wallS)} s vs ${fmt(runs.peak.mprof.at(-1).wallS)} s (load ${os.loadavg()[0].toFixed(1)})`);
  }
  const summary = (xs) => ({ wallS: median(xs.map((x) => x.wallS)), cpuS: median(xs.map((x) => x.cpuS)), peakRssMiB: Math.max(...xs.map((x) => x.peakRssMiB)), runs: xs });
  const ratio = (a, b, k) => median(a.map((x, i) => b[i][k] / x[k]));
  const shape = { children, datBytes: fs.statSync(dat).size, peakLinesAgree };
  for (const cmd of ['plot', 'peak']) {
    shape[cmd] = {
      memhunt: summary(runs[cmd].memhunt),
      mprof: summary(runs[cmd].mprof),
      speedup: ratio(runs[cmd].memhunt, runs[cmd].mprof, 'wallS'),
      cpuRatio: ratio(runs[cmd].memhunt, runs[cmd].mprof, 'cpuS'),
    };
    shape[cmd].rssRatio = shape[cmd].memhunt.peakRssMiB / shape[cmd].mprof.peakRssMiB;
  }
  results.shapes.push(shape);
}

console.log();
table([
  ['1 M samples', 'memhunt s', 'mprof s', 'speed-up (wall)', 'CPU s memhunt / mprof', 'CPU ratio', 'peak RSS MiB memhunt / mprof'],
  ...results.shapes.flatMap((s) => ['plot', 'peak'].map((cmd) => [
    `${cmd}, ${s.children} children`, fmt(s[cmd].memhunt.wallS), fmt(s[cmd].mprof.wallS), `${fmt(s[cmd].speedup, 1)}x`,
    `${fmt(s[cmd].memhunt.cpuS)} / ${fmt(s[cmd].mprof.cpuS)}`, `${fmt(s[cmd].cpuRatio, 1)}x`,
    `${fmt(s[cmd].memhunt.peakRssMiB, 0)} / ${fmt(s[cmd].mprof.peakRssMiB, 0)}`,
  ])),
]);

const checks = [];
for (const s of results.shapes) {
  const who = `${s.children} children`;
  checks.push(verdict(`plot >= 5x faster than mprof plot (${who})`, s.plot.speedup >= 5, `${fmt(s.plot.memhunt.wallS)} s vs ${fmt(s.plot.mprof.wallS)} s = ${fmt(s.plot.speedup, 1)}x`));
  checks.push(verdict(`plot peak RSS <= mprof plot's (${who})`, s.plot.rssRatio <= 1, `${fmt(s.plot.memhunt.peakRssMiB, 0)} vs ${fmt(s.plot.mprof.peakRssMiB, 0)} MiB`));
  checks.push(verdict(`peak >= 3x faster than mprof peak (${who})`, s.peak.speedup >= 3, `${fmt(s.peak.memhunt.wallS)} s vs ${fmt(s.peak.mprof.wallS)} s = ${fmt(s.peak.speedup, 1)}x`));
  checks.push(verdict(`peak RSS <= mprof peak's (${who})`, s.peak.rssRatio <= 1, `${fmt(s.peak.memhunt.peakRssMiB, 0)} vs ${fmt(s.peak.mprof.peakRssMiB, 0)} MiB`));
  checks.push(verdict(`memhunt peak prints mprof peak's number (${who})`, s.peakLinesAgree, s.peakLinesAgree ? 'same line' : 'differs'));
}
finish('mprof', results, checks, files);
