/**
 * Labels never collide: hostile layouts rendered to SVG, and every pair of text boxes the renderer
 * placed (svg.ts returns each with its box, measured with the bundled font's metrics) checked for
 * overlap, and each box for lying inside the picture. Also the chart's new marks of item 2 of
 * issue 12: the verdict line, section deltas, pause bands, lost spans, the marks cap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readMemhuntRecording } from '../recording/reader';
import { verdictLine } from '../analysis/analyze';
import { FIXTURES, tempDir } from '../test-support';
import { buildChart, clockWords, lostSpans, processName, sectionDelta } from './chart';
import { pageData } from './html';
import { renderPng } from './png';
import { MAX_SVG_MARKS, renderSvg, type TextBox } from './svg';
import { syntheticRecording } from './testkit';
import type { MemoryRecording } from '../model/recording';

const MiB = 1024 * 1024;

function overlaps(a: TextBox, b: TextBox): boolean {
  // Boxes that touch (share an edge) do not overlap; 0.5 px of rounding is allowed.
  return a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5;
}

function assertNoCollision(name: string, texts: TextBox[], W: number, H: number): void {
  const drawn = texts.filter((t) => t.text.trim() !== '');
  for (const t of drawn) {
    assert.ok(t.x0 >= -0.5 && t.x1 <= W + 0.5 && t.y0 >= -0.5 && t.y1 <= H + 0.5, `${name}: "${t.text}" (${t.area}) is outside the ${W}x${H} picture: ${JSON.stringify(t)}`);
  }
  for (let i = 0; i < drawn.length; i++) {
    for (let j = i + 1; j < drawn.length; j++) {
      const a = drawn[i]!;
      const b = drawn[j]!;
      assert.ok(!overlaps(a, b), `${name}: "${a.text}" (${a.area}) overlaps "${b.text}" (${b.area})\n${JSON.stringify(a)}\n${JSON.stringify(b)}`);
    }
  }
}

type Event = MemoryRecording['events'][number];

function hostile(): Array<{ name: string; recs: MemoryRecording[]; size?: [number, number]; trend?: boolean }> {
  const out: Array<{ name: string; recs: MemoryRecording[]; size?: [number, number]; trend?: boolean }> = [];
  // Labels at the same time: ten marks, three sections and a threshold all at 5 s, the peak there too.
  {
    const r = syntheticRecording({ samples: 2000, intervalMs: 5, processes: 4, limitBytes: 700 * MiB, spikeAt: 1000, spikeBytes: 300 * MiB });
    const ev: Event[] = [];
    for (let i = 0; i < 10; i++) ev.push({ kind: 'mark', tMs: 5000, pid: null, label: `checkpoint ${i}` });
    for (let i = 0; i < 3; i++) ev.push({ kind: 'section', startMs: 5000, endMs: 5000 + 50 * (i + 1), pid: null, label: `epoch ${i}`, level: i });
    ev.push({ kind: 'threshold', tMs: 5000, bytes: 400 * MiB, thresholdBytes: 400 * MiB, action: 'mark', command: null, note: null });
    r.events.push(...ev);
    out.push({ name: 'same time', recs: [r] });
  }
  // The peak at the left edge, and at the right edge.
  {
    const a = syntheticRecording({ samples: 1500, intervalMs: 10, processes: 3, spikeAt: 0, spikeBytes: 900 * MiB, sections: 4 });
    out.push({ name: 'peak at the left edge', recs: [a] });
    const b = syntheticRecording({ samples: 1500, intervalMs: 10, processes: 3, spikeAt: 1499, spikeBytes: 900 * MiB, sections: 4, limitBytes: 1200 * MiB });
    out.push({ name: 'peak at the right edge', recs: [b], trend: true });
  }
  // Twenty sections (with marks at each end), and nested ones.
  {
    const r = syntheticRecording({ samples: 3000, intervalMs: 10, processes: 5, sections: 20, limitBytes: 800 * MiB });
    r.events.push({ kind: 'section', startMs: 1000, endMs: 25_000, pid: null, label: 'training loop', level: 1 });
    r.events.push({ kind: 'pause', tMs: 12_000, endMs: 14_000, pids: [1000], cause: 'stop' });
    out.push({ name: '20 sections', recs: [r], trend: true });
  }
  // Long names everywhere, small picture.
  {
    const long = 'x'.repeat(40);
    const r = syntheticRecording({ samples: 1000, intervalMs: 10, processes: 9, command: ['python3', `/very/long/path/${long}/train_${long}.py`, '--config', `configs/${long}.yaml`], limitBytes: 900 * MiB });
    r.processes.forEach((p, i) => {
      if (i > 0) p.command = ['python3', '-m', `a.very.long.module.name.${long}.worker`, `--rank=${i}`];
    });
    for (let i = 0; i < 6; i++) r.events.push({ kind: 'section', startMs: i * 1500, endMs: i * 1500 + 1400, pid: null, label: `section with a very long name number ${i} ${long}`, level: 0 });
    for (let i = 0; i < 6; i++) r.events.push({ kind: 'mark', tMs: i * 1500 + 700, pid: null, label: `a long mark label ${i} ${long}` });
    out.push({ name: 'long names', recs: [r], size: [640, 420] });
    out.push({ name: 'long names, large', recs: [r] });
  }
  // Several recordings, each with sections, one damaged (a lost span) and one stopped.
  {
    const a = syntheticRecording({ samples: 1200, intervalMs: 10, processes: 2, sections: 3 });
    const b = syntheticRecording({ samples: 1500, intervalMs: 10, processes: 2, sections: 5, end: 'oom-killer' });
    b.warnings.push('compressed data is damaged in the gzip member at byte 4242 (invalid block type); skipped 900 bytes (1 gzip member) to the next good member, at byte 5142; the records between 4.0 s and 6.5 s are lost');
    b.events.push({ kind: 'pause', tMs: 9000, endMs: 11_000, pids: [1000], cause: 'break' });
    b.events.push({ kind: 'oom-kill', tMs: 14_900, oomKills: 1 });
    out.push({ name: 'several recordings', recs: [a, b, syntheticRecording({ samples: 900, intervalMs: 10, processes: 1, end: 'cut' })] });
  }
  // A thousand marks.
  {
    const r = syntheticRecording({ samples: 5000, intervalMs: 10, processes: 2 });
    for (let i = 0; i < 1000; i++) r.events.push({ kind: 'mark', tMs: i * 50, pid: null, label: `batch ${i}` });
    out.push({ name: 'a thousand marks', recs: [r] });
  }
  return out;
}

test('hostile layouts: no two text boxes of the SVG intersect, and none leaves the picture', () => {
  for (const h of hostile()) {
    const chart = buildChart(h.recs.map((rec, i) => ({ rec, name: `run${i}.mh` })), { trend: h.trend });
    for (const [W, H] of h.size ? [h.size] : [[1200, 600], [800, 500]] as Array<[number, number]>) {
      const r = renderSvg(chart, { width: W, height: H });
      assert.ok(r.texts.length > 5, `${h.name}: texts recorded`);
      assertNoCollision(`${h.name} ${W}x${H}`, r.texts, W, H);
    }
  }
});

test('hostile layouts: what could not be placed is said in the legend, and the legend is not cut while room is left', () => {
  const h = hostile().find((x) => x.name === 'same time')!;
  const chart = buildChart(h.recs.map((rec) => ({ rec, name: 'a.mh' })));
  const r = renderSvg(chart, { width: 1200, height: 600 });
  const legend = r.texts.filter((t) => t.area === 'legend').map((t) => t.text);
  assert.ok(legend.some((t) => /\d+ mark labels? not placed \(no room\)/.test(t)), legend.join(' | '));
  // Entries are cut only when longer than a whole row: the process labels are whole.
  for (const s of chart.series) assert.ok(legend.includes(s.label), `"${s.label}" whole in the legend: ${legend.join(' | ')}`);
  const many = hostile().find((x) => x.name === 'a thousand marks')!;
  const r2 = renderSvg(buildChart([{ rec: many.recs[0]!, name: 'a.mh' }]), { width: 1200, height: 600 });
  assert.ok(r2.texts.some((t) => t.area === 'legend' && new RegExp(`^\\+${1000 - MAX_SVG_MARKS} more marks`).test(t.text)), 'marks over the cap are counted');
  assert.ok((r2.svg.match(/stroke-dasharray="3 3"|y2="[\d.]+" stroke="#777"/g) ?? []).length <= MAX_SVG_MARKS + 2, 'at most the cap of mark lines');
});

test('chart: the verdict line, section deltas, pauses, lost spans and names', () => {
  const rec = syntheticRecording({ samples: 3000, intervalMs: 10, processes: 3, sections: 3, leakBytesPerSample: 50 * 1024 });
  rec.events.push({ kind: 'pause', tMs: 10_000, endMs: 12_500, pids: [1000], cause: 'stop' });
  rec.warnings.push('compressed data is damaged …; the records between 20.0 s and 22.5 s are lost');
  // What the reader keeps of such a file: no sample inside the lost span.
  const cut = (s: { tMs: Float64Array; values: Float64Array }) => {
    const keep = [...s.tMs.keys()].filter((i) => s.tMs[i]! <= 20_000 || s.tMs[i]! >= 22_500);
    return { tMs: Float64Array.from(keep, (i) => s.tMs[i]!), values: Float64Array.from(keep, (i) => s.values[i]!) };
  };
  rec.total = cut(rec.total);
  for (const p of rec.processes) p.rss = cut(p.rss);
  const chart = buildChart([{ rec, name: 'a.mh' }]);
  assert.equal(chart.verdicts.length, 1);
  assert.match(chart.verdicts[0]!.text, /^verdict: leak \(/);
  const epoch = chart.sections.find((s) => s.label === 'epoch 1')!;
  assert.match(epoch.delta, /^[+−]\d+(\.\d+)? MiB$/);
  assert.deepEqual(chart.pauses.map((p) => [p.startMs, p.endMs, p.label]), [[10_000, 12_500, 'stopped 2.5 s (--on-threshold stop)']]);
  assert.deepEqual(chart.gaps.map((g) => [g.startMs, g.endMs]), [[20_000, 22_500]]);
  assert.match(chart.peaks[0]!.label, /^peak \d+ MiB at \d+(\.\d)? s$/);
  const svg = renderSvg(chart).svg;
  assert.match(svg, /fill="url\(#memhunt-pause\)"/);
  assert.ok(renderSvg(chart).texts.some((t) => t.area === 'header' && t.text.startsWith('verdict: leak')), 'the verdict is in the picture');
  // The lost span breaks the lines: a move (M) inside the total's path after the first point.
  const totalPath = /<path d="([^"]+)"[^>]*stroke="#1a1a1a"/.exec(svg)![1]!;
  assert.ok((totalPath.match(/M/g) ?? []).length >= 2, 'the total is not drawn across the lost span');
  const data = pageData(chart);
  assert.equal(data.pauses.length, 1);
  assert.equal(data.gaps.length, 1);
  assert.equal(data.sections[1]!.delta, chart.sections[1]!.delta);
  // The PNG is the same picture: it renders.
  assert.ok(renderPng(chart, { width: 900, height: 450 }).png.length > 1000);

  // A launcher too small for a line of its own, alone beside two processes: its own line, not "other (1 processes)".
  const small = syntheticRecording({ samples: 500, processes: 3 });
  small.processes[2]!.rss.values.fill(64 * 1024);
  const three = buildChart([{ rec: small, name: 'a.mh' }]);
  assert.deepEqual(three.series.map((s) => s.role), ['total', 'process', 'process', 'process']);
  // Four processes, three lines: "other (2 processes)".
  const four = buildChart([{ rec: syntheticRecording({ samples: 500, processes: 4 }), name: 'a.mh' }], { maxProcesses: 3 });
  assert.match(four.series.find((s) => s.role === 'other')!.label, /^other \(2 processes\)$/);
  // Short-lived helpers (fewer than 10 samples: pyenv's shims) under 10% of the peak go into
  // "other" even above 2% of it.
  const shims = syntheticRecording({ samples: 500, processes: 4 });
  const peakOf = (r: typeof shims) => Math.max(...r.total.values);
  for (const p of shims.processes.slice(2)) {
    p.rss = { tMs: p.rss.tMs.slice(0, 5), values: p.rss.values.slice(0, 5).fill(0.05 * peakOf(shims)) };
  }
  assert.deepEqual(buildChart([{ rec: shims, name: 'a.mh' }]).series.map((s) => s.role === 'other' ? s.label : s.role), ['total', 'process', 'process', 'other (2 processes)']);
  // A census every second of a 4 s run: a mark each (not one per second of chart).
  const censused = syntheticRecording({ samples: 400, processes: 1 });
  for (let k = 1; k <= 3; k++) censused.events.push({ kind: 'census', tMs: k * 900, pid: 1000, label: `every 1s #${k}`, trigger: 'every', collected: true, objects: 1, totalBytes: 1, rows: [], durationMs: 5, notes: [] });
  assert.equal(buildChart([{ rec: censused, name: 'a.mh' }]).marks.filter((m) => m.label === 'heap census').length, 3);
  // mprof's children have no command line.
  const m = syntheticRecording({ samples: 100, processes: 2 });
  m.meta.source = 'mprof';
  m.processes[1]!.command = [];
  assert.equal(processName(m, m.processes[1]!), 'mprof child 1001');
  assert.equal(sectionDelta({ tMs: Float64Array.of(0, 10, 20), values: Float64Array.of(MiB, 3 * MiB, 2 * MiB) }, 0, 15), '+2.00 MiB');
  assert.equal(clockWords(9700), '9.7 s');
  assert.equal(clockWords(185_000), '3 min 05 s');
  assert.deepEqual(lostSpans(['x; the records between the start and 2.0 s are lost'], 10_000), [{ startMs: 0, endMs: 2000 }]);
});

test('chart: identical worker lines are told apart (the later one dashed), the process that held most at the peak is thicker', () => {
  const rec = syntheticRecording({ samples: 800, processes: 3 });
  // Two identical workers.
  rec.processes[2]!.rss = rec.processes[1]!.rss;
  rec.processes[2]!.firstSeenMs = rec.processes[1]!.firstSeenMs;
  const chart = buildChart([{ rec, name: 'a.mh' }]);
  const procs = chart.series.filter((s) => s.role === 'process');
  const w1 = procs.find((s) => s.id === 'r0-p1001')!;
  const w2 = procs.find((s) => s.id === 'r0-p1002')!;
  assert.notEqual(w1.dash, w2.dash, 'one of two identical lines is dashed');
  const root = procs.find((s) => s.id === 'r0-p1000')!;
  assert.equal(root.widthPx, 2, 'the root held most at the peak: drawn thicker');
});

test('a really damaged recording: the span the reader lost is a gap in the lines, with a note, not a straight line', async () => {
  // The header of a real recording, then ten gzip members of 100 samples each (a 200-400 MiB
  // sawtooth), as memhunt writes them; one byte of the 5th member flipped.
  const header = zlib.gunzipSync(fs.readFileSync(path.join(FIXTURES, 'memhunt', 'v1', 'example.mh'))).toString('utf8').split('\n')[0]!;
  const members: string[][] = [[header, JSON.stringify({ type: 'proc', t: 0, pid: 9073, ppid: 1, cmd: ['python3', 'x.py'] })]];
  for (let m = 0; m < 10; m++) {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      const kib = (200 + ((m * 100 + i) % 50) * 4) * 1024;
      lines.push(JSON.stringify({ type: 's', t: m * 1000 + i * 10, p: [[9073, kib, kib, 0, 0, kib]] }));
    }
    members.push(lines);
  }
  members.push([JSON.stringify({ type: 'end', t: 10_000, reason: 'exited', code: 0, signal: null, samples: 1000 })]);
  const gz = members.map((m) => zlib.gzipSync(m.join('\n') + '\n'));
  const at = gz.slice(0, 5).reduce((a, b) => a + b.length, 0) + Math.floor(gz[5]!.length / 2);
  const bytes = Buffer.concat(gz);
  bytes[at] ^= 0x55;
  const file = path.join(tempDir(), 'damaged.mh');
  fs.writeFileSync(file, bytes);
  const rec = await readMemhuntRecording(file);
  assert.ok(rec.warnings.some((w) => /are lost/.test(w)), rec.warnings.join('\n'));
  const chart = buildChart([{ rec, name: 'damaged.mh' }]);
  assert.equal(chart.gaps.length, 1);
  const g = chart.gaps[0]!;
  assert.ok(g.startMs >= 3900 && g.startMs <= 4000 && g.endMs === 5000, JSON.stringify(g));
  const r = renderSvg(chart);
  assert.ok(r.texts.some((t) => t.area === 'legend' && /^lost \d.* \(damaged recording\)$/.test(t.text)), 'the legend names the lost span');
  const totalPath = /<path d="([^"]+)"[^>]*stroke="#1a1a1a"/.exec(r.svg)![1]!;
  // Only the lost span breaks the line: two runs of points, the second starting right of the gap.
  const runs = totalPath.split('M').filter(Boolean);
  assert.equal(runs.length, 2, totalPath.slice(0, 200));
  const xAfter = Number(runs[1]!.split(' ')[0]);
  assert.ok(Math.abs(xAfter - (r.plot.left + (5000 / chart.xMaxMs) * r.plot.width)) < 3, `the line starts again at 5.0 s: x ${xAfter}`);
  // The page's data has it too (the page script breaks its lines there).
  assert.deepEqual(pageData(chart).gaps.map((x) => x.input), [0]);
});

test('chart: the verdict line is the one of memhunt analyze, with one process and with several', () => {
  for (const processes of [1, 3]) {
    for (const leak of [0, 80 * 1024]) {
      const rec = syntheticRecording({ samples: 4000, intervalMs: 10, processes, leakBytesPerSample: leak });
      assert.equal(buildChart([{ rec, name: 'a.mh' }]).verdicts[0]!.text, `verdict: ${verdictLine(rec)}`);
    }
  }
});
