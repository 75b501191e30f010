/**
 * Issue 14, `memhunt plot DIR`: a fleet drawn by wall clock. Recordings made by the project's
 * writer with distinct starts (one 60 s after the others) check the alignment in the chart model
 * and in the SVG's coordinates; real `memhunt run --output-dir` recordings check the whole path to
 * PNG and SVG with the riskiest named; bad input gets one line and exit code 2.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeRecording } from '../analysis/analyze';
import { clockSkewLine, clockSkewOf, envelopeOnGrid, fleetGrid, footerEnvelopeOf, footerEnvelopeOnGrid } from '../analysis/fleet-envelope';
import { readMemhuntRecording } from '../recording/reader';
import * as spec from '../recording/spec';
import { RecordingWriter } from '../recording/writer';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { appendSummaryFooter, fleetFooterOf } from './footer';
import { buildFleetPlot } from './fleet-plot';

const MiB = 1024 * 1024;
const T0 = Date.UTC(2026, 11, 1, 8, 0, 0);
const PY = '/usr/bin/python3';
const made: string[] = [];
/** A temporary folder, removed when the file's tests are done. */
const scratch = () => {
  const d = tempDir('memhunt-fleetplot-');
  made.push(d);
  return d;
};
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** One recording by the project's writer: `mib(tS)` per 100 ms sample for `seconds`, a section and a mark, the summary footer. */
async function writeRecording(file: string, o: { pod: string; startWallMs: number; seconds: number; mib: (tS: number) => number; limitMiB?: number; footer?: boolean }) {
  const header: spec.HeaderRecord = {
    type: 'header', format: spec.RECORDING_FORMAT, version: spec.RECORDING_VERSION, memhuntVersion: 'test', mode: 'run',
    command: ['python3', 'job.py'], cwd: '/job', host: `node-${o.pod}`, containerId: null,
    startWallMs: o.startWallMs, startIso: new Date(o.startWallMs).toISOString(), intervalMs: 100, metric: 'rss',
    limitBytes: o.limitMiB ? o.limitMiB * MiB : null, rootPid: 100, cgroup: null,
    fields: { p: [...spec.PROCESS_FIELDS], c: [...spec.CGROUP_FIELDS], pss: [...spec.PSS_FIELDS] },
    labels: { platform: 'kubernetes', podName: o.pod },
  } as spec.HeaderRecord;
  const w = new RecordingWriter(file, header);
  w.append({ type: 'proc', t: 0, pid: 100, ppid: 1, cmd: ['python3', 'job.py'] } as spec.RecordingRecord);
  const n = o.seconds * 10;
  let t = 0;
  for (let i = 0; i < n; i++) {
    t = i * 100;
    const kib = Math.round(o.mib(t / 1000) * 1024);
    if (i === 10) w.append({ type: 'marker', t, pid: 100, kind: 'begin', label: 'load' } as spec.RecordingRecord);
    if (i === 30) w.append({ type: 'marker', t, pid: 100, kind: 'end', label: 'load' } as spec.RecordingRecord);
    if (i === 40) w.append({ type: 'marker', t, pid: 100, kind: 'mark', label: 'epoch 1' } as spec.RecordingRecord);
    w.append({ type: 's', t, p: [[100, kib, kib, 0, 0, kib]] } as spec.RecordingRecord);
    if (i % 10 === 9) w.flush();
  }
  w.append({ type: 'end', t, reason: 'exited', code: 0, signal: null, samples: n } as spec.RecordingRecord);
  w.close();
  if (o.footer !== false) {
    const rec = await readMemhuntRecording(file);
    assert.ok(appendSummaryFooter(file, rec, analyzeRecording(rec)));
  }
  // Files written in place: mtime at the end by the recording's clock (the skew check reads it).
  const end = new Date(o.startWallMs + t + 300);
  fs.utimesSync(file, end, end);
}

async function writerFleet(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await writeRecording(path.join(dir, 'a.mh'), { pod: 'web-0', startWallMs: T0, seconds: 120, mib: () => 100 });
  await writeRecording(path.join(dir, 'b.mh'), { pod: 'web-1', startWallMs: T0 + 1000, seconds: 120, mib: () => 150 });
  // Started 60 s later, the riskiest: it grows to 90% of its limit.
  await writeRecording(path.join(dir, 'late.mh'), { pod: 'web-late', startWallMs: T0 + 60_000, seconds: 60, mib: (s) => 100 + 3 * s, limitMiB: 310 });
  await writeRecording(path.join(dir, 'c.mh'), { pod: 'web-2', startWallMs: T0 + 2000, seconds: 100, mib: (s) => 120 + (s % 10) });
}

test('footer envelope: the tree total per bucket in the footer, and on the grid as the samples put it', async () => {
  const dir = scratch();
  const file = path.join(dir, 'x.mh');
  await writeRecording(file, { pod: 'p', startWallMs: T0, seconds: 100, mib: (s) => 100 + s });
  const f = fleetFooterOf(file);
  assert.ok(f?.envelope, 'the footer holds the envelope');
  assert.ok(f.envelope.minKiB.length <= 512);
  const rec = await readMemhuntRecording(file);
  const s = rec.total;
  assert.deepEqual(footerEnvelopeOf(s), f.envelope);
  const grid = fleetGrid([{ startWallMs: T0 - 10_000, durationMs: 130_000 }], 200);
  const fromSamples = envelopeOnGrid(s, T0, grid);
  const fromFooter = footerEnvelopeOnGrid(f.envelope, T0, grid);
  assert.equal(fromSamples.first, Math.floor(10_000 / grid.stepMs), 'starts 10 s into the grid');
  assert.ok(Math.abs(fromFooter.first - fromSamples.first) <= 1);
  const maxOf = (a: Float32Array) => a.reduce((m, v) => (v > m ? v : m), 0);
  assert.ok(Math.abs(maxOf(fromFooter.max) - maxOf(fromSamples.max)) <= 1024, 'the same peak, to the KiB');
});

test('plot DIR: recordings aligned by wall clock; one started 60 s later is drawn 60 s to the right; the riskiest named', { timeout: 120_000 }, async () => {
  const dir = scratch();
  await writerFleet(path.join(dir, 'fleet'));
  const fp = await buildFleetPlot([...['a', 'b', 'late', 'c'].map((n) => path.join(dir, 'fleet', `${n}.mh`))], { threads: 1 });
  assert.equal(fp.rows[0]!.identity, 'pod web-late', 'the one nearest its limit is the riskiest');
  const line = (who: string) => fp.chart.series.find((s) => s.label.endsWith(who))!;
  const late = line('pod web-late');
  const early = line('pod web-0');
  assert.ok(late.label.startsWith('riskiest: '));
  const step = fp.grid.stepMs;
  assert.ok(Math.abs(early.data.tMs[0]! - 0) <= step, `web-0 starts at the axis' start (${early.data.tMs[0]})`);
  assert.ok(Math.abs(late.data.tMs[0]! - 60_000) <= step, `web-late starts 60 s in (${late.data.tMs[0]}, bucket ${step} ms)`);
  // Sections and marks on the same axis: its "load" section began 1 s after its start.
  const sec = fp.chart.sections.find((s) => s.input === fp.chart.series.indexOf(late) - (fp.chart.series[0]!.id === 'fleet-band' ? 1 : 0) && s.label === 'load');
  assert.ok(sec, JSON.stringify(fp.chart.sections));
  assert.ok(Math.abs(sec.startMs - 61_000) < 1, `section at 61 s (${sec.startMs})`);
  assert.ok(fp.chart.limits.some((l) => l.bytes === 310 * MiB), 'its limit is drawn');
  assert.deepEqual(fp.notices, [], 'no skew: every file was written at its end');

  // The same through the CLI, to SVG: the riskiest named in its text, and 60 s to the right in pixels.
  const svgFile = path.join(dir, 'fleet.svg');
  const r = await runCli(['plot', path.join(dir, 'fleet'), '-o', svgFile], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const svg = fs.readFileSync(svgFile, 'utf8');
  assert.match(svg, />riskiest: pod web-late</);
  const firstX = (color: string) => Number(new RegExp(`<path d="M([\\d.]+) [\\d.]+L[^"]*" fill="none" stroke="${color}"`).exec(svg)![1]);
  const frame = /<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="none" stroke="#b3b3b3"/.exec(svg)!;
  const [left, width] = [Number(frame[1]), Number(frame[2])];
  const xMaxMs = fp.grid.buckets * fp.grid.stepMs;
  const expected = left + (60_000 / xMaxMs) * width;
  const x = firstX('#d62728');
  assert.ok(Math.abs(x - expected) <= 3, `the late line starts at x=${x}, expected ${expected.toFixed(1)}`);
  assert.ok(['#1f77b4', '#ff7f0e', '#2ca02c'].some((c) => firstX(c) < left + 3), 'web-0 starts at the left edge');
});

test('plot DIR: clock skew seen in the files\' times is one notice line', { timeout: 120_000 }, async () => {
  const dir = scratch();
  const fleet = path.join(dir, 'fleet');
  await writerFleet(fleet);
  // web-1's host clock runs 40 s ahead: its file was last written 40 s before the end it recorded.
  const st = fs.statSync(path.join(fleet, 'b.mh'));
  const t = new Date(st.mtimeMs - 40_000);
  fs.utimesSync(path.join(fleet, 'b.mh'), t, t);
  const r = await runCli(['plot', fleet, '-o', path.join(dir, 'f.png')], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /clock skew/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /pod web-1's clock is off by 40 s \(ahead of the file times\)/);
  const f = await runCli(['fleet', fleet], { timeoutMs: 60_000 });
  assert.equal(f.code, 0, f.stderr);
  assert.match(f.stdout + f.stderr, /clock skew: pod web-1's clock is off by 40 s/, 'the fleet table says it too');
  // Copied files (new mtimes, all different) show nothing.
  const none = clockSkewOf([0, 1, 2, 3, 4].map((i) => ({ identity: `p${i}`, endWallMs: T0 + i * 1000, mtimeMs: T0 + 3_600_000 + i * 17_000 })));
  assert.equal(clockSkewLine(none), null);
});

test('plot DIR of real recordings (memhunt run --output-dir with labels): PNG and SVG, the one killed at its limit named', { timeout: 300_000 }, async () => {
  const dir = scratch();
  const shared = path.join(dir, 'shared');
  const run = (pod: string, mib: number, extra: string[] = []) =>
    runCli(['run', '-q', '--interval', '20ms', '--output-dir', shared, '--label', `name=${pod}`, ...extra, '--', PY, '-c', `import time; x = bytearray(${mib} << 20); time.sleep(0.3)`], { timeoutMs: 120_000 });
  for (const r of await Promise.all([run('ok-0', 30), run('ok-1', 60)])) assert.equal(r.code, 0, r.stderr);
  const killed = await run('hog', 400, ['--limit', '120MiB']);
  assert.equal(killed.code, 137, killed.stderr);
  fs.writeFileSync(path.join(shared, 'README.txt'), 'not a recording\n');
  const png = path.join(dir, 'fleet.png');
  const p = await runCli(['plot', shared, '-o', png], { timeoutMs: 60_000 });
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stderr, /wrote .*fleet\.png \(3 recordings by wall clock; riskiest: .*hog/);
  assert.deepEqual([...fs.readFileSync(png).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const svgFile = path.join(dir, 'fleet.svg');
  const s = await runCli(['plot', '--fleet', ...fs.readdirSync(shared).filter((f) => f.endsWith('.mh')).map((f) => path.join(shared, f)), '-o', svgFile], { timeoutMs: 60_000 });
  assert.equal(s.code, 0, s.stderr);
  const svg = fs.readFileSync(svgFile, 'utf8');
  assert.match(svg, />riskiest: [^<]*hog</);
  assert.match(svg, /killed: --limit exceeded/);
  assert.match(svg, /limit 120 MiB/);
  const htmlFile = path.join(dir, 'fleet.html');
  const h = await runCli(['plot', shared, '-o', htmlFile], { timeoutMs: 60_000 });
  assert.equal(h.code, 0, h.stderr);
  assert.match(fs.readFileSync(htmlFile, 'utf8'), /riskiest: [^<"]*hog/);
  // The default output of a folder: DIR.png beside it.
  const d = await runCli(['plot', shared], { timeoutMs: 60_000 });
  assert.equal(d.code, 0, d.stderr);
  assert.ok(fs.existsSync(`${shared}.png`));
});

test('plot DIR: an empty folder, a folder of foreign files, foreign files given with --fleet: one line, exit 2, no picture', { timeout: 60_000 }, async () => {
  const dir = scratch();
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  const foreign = path.join(dir, 'foreign');
  fs.mkdirSync(foreign);
  fs.writeFileSync(path.join(foreign, 'a.txt'), 'hello\n');
  fs.writeFileSync(path.join(foreign, 'b.mh'), 'not gzip\n');
  const out = path.join(dir, 'x.png');
  for (const [args, re] of [
    [[empty], /^memhunt: no recordings in .*empty: record with memhunt run --output-dir/],
    [[foreign], /^memhunt: no recordings in .*foreign \(2 other files\)/],
    [['--fleet', path.join(foreign, 'b.mh')], /^memhunt: none of the 1 files could be read as a recording/],
  ] as Array<[string[], RegExp]>) {
    const r = await runCli(['plot', ...args, '-o', out], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines[lines.length - 1]!, re);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
    assert.ok(!fs.existsSync(out), 'no picture written');
  }
});

test('report DIR of more than 8 recordings: the fleet page (bounded path), a row each, the riskiest in detail', { timeout: 120_000 }, async () => {
  const dir = scratch();
  const fleet = path.join(dir, 'fleet');
  fs.mkdirSync(fleet);
  for (let i = 0; i < 10; i++) {
    await writeRecording(path.join(fleet, `r${i}.mh`), { pod: `w-${i}`, startWallMs: T0 + i * 5000, seconds: 20, mib: (s) => 50 + i * 10 + (i === 7 ? 8 * s : 0), limitMiB: 400 });
  }
  const out = path.join(dir, 'fleet.html');
  const r = await runCli(['report', fleet, '-o', out], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /a fleet of 10 recordings by wall clock; the 3 riskiest in detail/);
  const html = fs.readFileSync(out, 'utf8');
  assert.match(html, /riskiest: pod w-7/);
  for (let i = 0; i < 10; i++) assert.match(html, new RegExp(`<td>pod w-${i}</td>`), `a row for w-${i}`);
  assert.equal((html.match(/<section class="recording"/g) ?? []).length, 3, 'three recordings in detail');
});

test('plot DIR: recordings without the summary footer (an older memhunt, a cut file) are read whole in the workers, at the same place', { timeout: 120_000 }, async () => {
  const dir = scratch();
  const fleet = path.join(dir, 'fleet');
  fs.mkdirSync(fleet);
  for (let i = 0; i < 12; i++) {
    await writeRecording(path.join(fleet, `r${i}.mh`), { pod: `w-${i}`, startWallMs: T0 + i * 10_000, seconds: 30, mib: () => 100 + i, footer: i % 2 === 0 });
  }
  assert.equal(fleetFooterOf(path.join(fleet, 'r1.mh')), null, 'r1 has no footer');
  const fp = await buildFleetPlot(fs.readdirSync(fleet).map((f) => path.join(fleet, f)), { threads: 2 });
  assert.equal(fp.rows.length, 12);
  assert.deepEqual(fp.notices, []);
  const band = fp.chart.series.find((s) => s.id === 'fleet-band')!;
  assert.match(band.label, /the other 7 recordings/);
  // Every bucket of the fleet's span holds a recording: the band starts at 0 and ends at 140 s.
  const step = fp.grid.stepMs;
  assert.ok(Math.abs(fp.grid.buckets * step - 140_000) < 200, `span ${fp.grid.buckets * step}`);
  const riskiest = fp.chart.series.find((s) => s.label.startsWith('riskiest: '))!;
  assert.equal(riskiest.label, 'riskiest: pod w-11', 'the largest peak leads when none has a limit');
  assert.ok(Math.abs(riskiest.data.tMs[0]! - 110_000) <= step, `w-11 starts 110 s in (${riskiest.data.tMs[0]})`);
});

test('fleet and plot DIR (trial 3): a peak 4× the rest ranks first whatever its verdict ("too short"), and the chart names it riskiest', { timeout: 120_000 }, async () => {
  // worker-7 peaked 212 MiB beside eleven of 34-54 MiB; its curve was too short for a verdict and it
  // ranked 11th of 12, the chart naming worker-11 (51.6 MiB) and hiding worker-7 in the band.
  const dir = path.join(FIXTURES, 'memhunt', 'trial3', 'fleet');
  const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
  const fp = await buildFleetPlot(files, { threads: 2 });
  assert.equal(fp.rows[0]!.identity, 'worker-7', fp.rows.map((r) => r.identity).join(', '));
  assert.equal(fp.rows[0]!.verdict, 'insufficient data');
  const riskiest = fp.chart.series.find((s) => s.label.startsWith('riskiest: '))!;
  assert.equal(riskiest.label, 'riskiest: worker-7');
  const t = await runCli(['fleet', dir], { timeoutMs: 60_000 });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout.split('\n')[1]!, /^ 1 {2}worker-7 +212 MiB/, t.stdout);
  assert.match(t.stdout, /highest peak 212 MiB in worker-7 \(4\.\d× the median peak: ranked with the riskiest\)/, t.stdout);
});

test('plot of recordings from one host: each line named by its file, not ten times the host; the verdict said once (trial 4)', async () => {
  const files = ['sl', 'slc1', 'slc2'].map((f) => path.join(FIXTURES, 'memhunt', 'trial3', `${f}.mh`));
  const p = await buildFleetPlot(files, { threads: 2 });
  assert.deepEqual(p.rows.map((r) => r.identity), ['vm', 'vm', 'vm']);
  const labels = p.chart.series.map((s) => s.label.replace(/^riskiest: /, ''));
  assert.deepEqual([...labels].sort(), ['sl.mh', 'slc1.mh', 'slc2.mh']);
  const v = p.chart.verdicts[0]!.text;
  assert.match(v, /^riskiest: slc?\d?\.mh: leak \(high\): /, v);
  assert.doesNotMatch(v, /leak \(high\): leak/, v);
});
