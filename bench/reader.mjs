// Reading .mh recordings: the cost of checking every record at the door (issue 11) and of long
// lines (issue 8), against the reader of another build of memhunt and against zcat, in one run.
//
//   node bench/reader.mjs [--base DIR] [--samples N] [--rounds K] [--line-mb 25,50,100,200]
//
// --base DIR: a checkout of an earlier memhunt, built (DIR/dist): its reader is timed beside this
// one, alternately, on the same files (a busy machine slows both alike). Without it only this
// build and zcat are timed. Each reading runs in a fresh child process (time and peak RSS are its
// own). Results: bench/results/reader.json and a summary on stdout.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(BENCH_DIR, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : def);
const BASE = opt('--base', null);
const N = Number(opt('--samples', 10_000_000));
const ROUNDS = Number(opt('--rounds', 3));
const LINE_MB = String(opt('--line-mb', '25,50,100,200')).split(',').map(Number);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-bench-reader-'));

const builds = [['this', REPO], ...(BASE ? [['base', path.resolve(BASE)]] : [])];

/** One reading in a child process: wall seconds, peak RSS (MiB), samples read, warnings. */
function read(repo, file) {
  const code = `
    const { readMemhuntRecording } = require(${JSON.stringify(path.join(repo, 'dist', 'recording', 'reader.js'))});
    const t0 = process.hrtime.bigint();
    readMemhuntRecording(process.argv[1], { splits: false }).then((r) => {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.log(JSON.stringify({ s, samples: r.total.tMs.length, warnings: r.warnings.length, first: r.warnings[0] ?? null }));
    }, (e) => console.log(JSON.stringify({ error: String(e.message).slice(0, 200) })));`;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, '-e', code, file], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const out = JSON.parse(r.stdout.trim().split('\n').pop());
  const rssKiB = Number(r.stderr.trim().split('\n').pop());
  return { ...out, rssMiB: Math.round(rssKiB / 1024) };
}

function zcat(file) {
  const t0 = process.hrtime.bigint();
  execFileSync('sh', ['-c', `zcat "${file}" | wc -l`], { encoding: 'utf8' });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// 1. N samples of one process, written as memhunt writes them (one member per 100 samples = 1 s at 10 ms).
const big = path.join(dir, 'big.mh');
{
  const { RecordingWriter } = (await import(path.join(REPO, "dist", "recording", "writer.js"))).default;
  const spec = (await import(path.join(REPO, "dist", "recording", "spec.js"))).default;
  const w = new RecordingWriter(big, {
    type: 'header', format: spec.RECORDING_FORMAT, version: 1, memhuntVersion: 'bench', mode: 'run', command: ['bench'], cwd: '/', host: 'h',
    containerId: null, startWallMs: Date.now(), startIso: new Date().toISOString(), intervalMs: 10, metric: 'rss', limitBytes: null, rootPid: 1,
    cgroup: { version: 2, path: '/b', limitBytes: null }, fields: { p: [...spec.PROCESS_FIELDS], c: [...spec.CGROUP_FIELDS], pss: [...spec.PSS_FIELDS] }, labels: {},
  });
  for (let i = 0; i < N; i++) {
    const kib = 100_000 + ((i * 7919) % 50_000);
    w.append({ type: 's', t: i * 10 + 0.123, p: [[4242, kib, kib - 20_000, 20_000, 0, 150_000]], c: [kib + 50_000, kib + 40_000, null, 0] });
    if (i % 100 === 99) w.flush();
    if (i % 1000 === 0) w.append({ type: 'marker', t: i * 10 + 0.2, pid: null, kind: 'mark', label: `m${i}` });
  }
  w.append({ type: 'end', t: N * 10, reason: 'exited', code: 0, signal: null, samples: N });
  w.close();
}
const results = { date: new Date().toISOString(), samples: N, file: {}, lines: {} };
console.log(`reading ${N.toLocaleString('en')} samples (${(fs.statSync(big).size / 2 ** 20).toFixed(1)} MiB compressed), ${ROUNDS} rounds, alternating:`);
const times = Object.fromEntries([...builds.map(([n]) => [n, []]), ['zcat', []]]);
const rss = Object.fromEntries(builds.map(([n]) => [n, []]));
for (let k = 0; k < ROUNDS; k++) {
  for (const [name, repo] of builds) {
    const r = read(repo, big);
    if (r.error || r.samples !== N) throw new Error(`${name}: ${JSON.stringify(r)}`);
    times[name].push(r.s);
    rss[name].push(r.rssMiB);
  }
  times.zcat.push(zcat(big));
}
for (const [name] of builds) {
  results.file[name] = { seconds: median(times[name]), peakRssMiB: median(rss[name]) };
  console.log(`  ${name.padEnd(5)} ${median(times[name]).toFixed(2)} s, ${median(rss[name])} MiB peak  (${(median(times[name]) / median(times.zcat)).toFixed(2)}× zcat | wc -l)`);
}
results.file.zcat = { seconds: median(times.zcat) };
console.log(`  zcat  ${median(times.zcat).toFixed(2)} s`);
if (BASE) console.log(`  this/base: ${(results.file.this.seconds / results.file.base.seconds).toFixed(3)}× time`);

// 2. One long line (a marker label of L MB) between samples.
console.log('one long line between samples:');
for (const mb of LINE_MB) {
  const f = path.join(dir, `line${mb}.mh`);
  const header = JSON.stringify({ type: 'header', format: 'memhunt-recording', version: 1, memhuntVersion: 'bench', mode: 'run', command: ['b'], cwd: '/', host: 'h', containerId: null, startWallMs: 1, startIso: 'x', intervalMs: 10, metric: 'rss', limitBytes: null, rootPid: 1, cgroup: null, fields: { p: [], c: [], pss: [] }, labels: {} });
  const s = (t) => `{"type":"s","t":${t},"p":[[1,1000,900,100,0,1000]]}`;
  const gz = zlib.createGzip({ level: 1 });
  const out = fs.createWriteStream(f);
  gz.pipe(out);
  gz.write(`${header}\n${s(0)}\n{"type":"marker","t":1,"pid":null,"kind":"mark","label":"`);
  const block = 'x'.repeat(1 << 20);
  for (let i = 0; i < mb; i++) gz.write(block);
  gz.end(`"}\n${s(2)}\n{"type":"end","t":3,"reason":"exited","code":0,"signal":null,"samples":2}\n`);
  await new Promise((r) => out.on('close', r));
  results.lines[mb] = {};
  for (const [name, repo] of builds) {
    const r = read(repo, f);
    results.lines[mb][name] = r;
    console.log(`  ${String(mb).padStart(4)} MB  ${name.padEnd(5)} ${r.error ? `error: ${r.error}` : `${r.s.toFixed(2)} s, ${r.samples} samples, ${r.warnings} warning(s)`}, ${r.rssMiB} MiB peak`);
  }
}
fs.mkdirSync(path.join(BENCH_DIR, 'results'), { recursive: true });
fs.writeFileSync(path.join(BENCH_DIR, 'results', 'reader.json'), JSON.stringify(results, null, 2) + '\n');
fs.rmSync(dir, { recursive: true, force: true });
