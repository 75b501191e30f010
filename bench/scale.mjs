// `memhunt scale`: run-to-run noise of a peak (the noise model of src/analysis/scaling.ts), and
// how close the projection comes to a measured full-size run, against what people do instead
// (the largest small run scaled by the size ratio; the largest small run + 50%), with mprof's
// peak of the same full-size program beside memhunt's (same machine, same run).
//   node bench/scale.mjs            (~5 minutes on 2 loaded cores)
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPrerequisites, MEMHUNT, OUT_DIR, RESULTS_DIR, SYS_PYTHON, machine } from './lib.mjs';

checkPrerequisites();
const MiB = 1024 * 1024;
const dir = path.join(OUT_DIR, 'scale');
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });

const PROGRAMS = {
  'list of N floats (linear)': {
    text: 'import sys\nn = int(sys.argv[1])\nxs = [float(i) for i in range(n)]\n',
    sizes: [200_000, 400_000, 800_000, 1_600_000], full: 6_400_000,
  },
  'N x N float64 matrix (quadratic)': {
    text: 'import sys\nimport numpy as np\nn = int(sys.argv[1])\nd = np.ones((n, n))\n',
    sizes: [500, 1000, 1500, 2000], full: 4000,
  },
  'pandas merge on a key (linear)': {
    text: [
      'import sys', 'import numpy as np', 'import pandas as pd', 'n = int(sys.argv[1])',
      'rng = np.random.default_rng(0)',
      'left = pd.DataFrame({"k": np.arange(n), "a": rng.random(n), "s": rng.integers(0, 1000, n).astype(str)})',
      'right = pd.DataFrame({"k": rng.permutation(n), "b": rng.random(n)})',
      'm = left.merge(right, on="k")', 'print(len(m))', '',
    ].join('\n'),
    sizes: [50_000, 100_000, 200_000, 400_000], full: 1_600_000,
  },
};

function memhunt(args) {
  const r = spawnSync(process.execPath, [MEMHUNT, ...args], { encoding: 'utf8', maxBuffer: 64 * MiB });
  return r;
}

function mprofPeak(prog, size) {
  const dat = path.join(dir, `mprof-${path.basename(prog)}-${size}.dat`);
  execFileSync(SYS_PYTHON, ['-m', 'mprof', 'run', '-C', '--interval', '0.01', '-o', dat, SYS_PYTHON, prog, String(size)], { stdio: 'ignore' });
  const out = execFileSync(SYS_PYTHON, ['-m', 'mprof', 'peak', dat], { encoding: 'utf8' });
  return Number(/\t(\d+(?:\.\d+)?) MiB/.exec(out)[1]) * MiB;
}

const lines = [];
const log = (s) => { console.log(s); lines.push(s); };
log(`# memhunt scale — node bench/scale.mjs (${machine().date})`);

// 1. Noise: 3 runs per size of the list program.
{
  const prog = path.join(dir, 'floats.py');
  fs.writeFileSync(prog, PROGRAMS['list of N floats (linear)'].text);
  const r = memhunt(['scale', '--json', '--repeat', '3', '--sizes', '100000,400000,1600000', '--full', '1600000', '--dir', path.join(dir, 'noise'), '--', SYS_PYTHON, prog, '{}']);
  const j = JSON.parse(r.stdout);
  log('\n## Run-to-run spread of the peak (3 runs per size, 10 ms interval)');
  log('| size | peaks (MiB) | spread | spread / peak |');
  log('|---|---|---|---|');
  for (const size of [100000, 400000, 1600000]) {
    const ps = j.runs.filter((x) => x.size === size).map((x) => x.peakBytes);
    const spread = Math.max(...ps) - Math.min(...ps);
    log(`| ${size} | ${ps.map((p) => (p / MiB).toFixed(2)).join(', ')} | ${(spread / MiB).toFixed(2)} MiB | ${((spread / Math.max(...ps)) * 100).toFixed(2)}% |`);
  }
}

// 2. Projection against a measured full-size run.
log('\n## Projection at the full size against a measured run of it');
log('| program | sizes → full | model | memhunt projection (90% interval) | measured (memhunt) | measured (mprof -C) | error | × size ratio | largest + 50% |');
log('|---|---|---|---|---|---|---|---|---|');
for (const [name, p] of Object.entries(PROGRAMS)) {
  const prog = path.join(dir, `${name.split(' ')[0]}.py`);
  fs.writeFileSync(prog, p.text);
  const r = memhunt(['scale', '--json', '--sizes', p.sizes.join(','), '--full', String(p.full), '--dir', path.join(dir, name.split(' ')[0]), '--', SYS_PYTHON, prog, '{}']);
  if (!r.stdout) { log(`| ${name} | failed: ${r.stderr.trim().split('\n').pop()} |`); continue; }
  const j = JSON.parse(r.stdout);
  // The full-size run, read by memhunt scale as one recording of three (sizes from the argument).
  const fullMh = path.join(dir, `${name.split(' ')[0]}-full.mh`);
  memhunt(['run', '-q', '-i', '10ms', '-o', fullMh, '--', SYS_PYTHON, prog, String(p.full)]);
  const small = fs.readdirSync(path.join(dir, name.split(' ')[0])).map((f) => path.join(dir, name.split(' ')[0], f));
  const again = JSON.parse(memhunt(['scale', '--json', ...small, fullMh, '--size-from-arg', '2', '--full', String(p.full)]).stdout);
  const measured = again.runs.find((x) => x.size === p.full).peakBytes;
  const mprof = mprofPeak(prog, p.full);
  const largest = j.runs.filter((x) => x.size === p.sizes[p.sizes.length - 1])[0].peakBytes;
  const ratio = largest * (p.full / p.sizes[p.sizes.length - 1]);
  const plus50 = largest * 1.5;
  const err = (v) => `${v >= measured ? '+' : ''}${(((v - measured) / measured) * 100).toFixed(1)}%`;
  const pr = j.projection;
  log(`| ${name} | ${p.sizes.join(', ')} → ${p.full} | ${j.model.kind}${j.decided ? '' : ' (undecided)'} | ${(pr.bytes / MiB).toFixed(1)} MiB (${(pr.lowBytes / MiB).toFixed(1)} … ${(pr.highBytes / MiB).toFixed(1)}) | ${(measured / MiB).toFixed(1)} MiB | ${(mprof / MiB).toFixed(1)} MiB | ${err(pr.bytes)}${measured >= pr.envelope.lowBytes && measured <= pr.envelope.highBytes ? ', inside' : ', OUTSIDE'} | ${err(ratio)} | ${err(plus50)} |`);
}
fs.writeFileSync(path.join(RESULTS_DIR, 'scale.md'), lines.join('\n') + '\n');
fs.rmSync(dir, { recursive: true, force: true });
