/**
 * The chart description and its back ends, in process. The spike tests are the rule
 * "peaks survive downsampling": one sample in a million, at its true height, in SVG, PNG (read
 * back from the rasterised pixels), HTML (the data the page draws) and the terminal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildChart } from './chart';
import { shortCommand } from '../model/command';
import { envelope, envelopePoints } from './downsample';
import { FONT_STACK, fitText, textWidth } from './fonts';
import { decodeLevel, pageData, renderHtml, scriptSafeJson } from './html';
import { escapeXml } from './layout';
import { renderPng, rasterise } from './png';
import { clipSegment, renderSvg } from './svg';
import { renderTerminal } from './term';
import { syntheticRecording } from './testkit';
import { byteTicks, timeTicks } from './ticks';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A flat 100 MiB run of n samples with a 1-sample spike to `spikeBytes` at index `at`. */
function flatWithSpike(n: number, at: number, spikeBytes: number) {
  const rec = syntheticRecording({ samples: n, intervalMs: 10, processes: 1 });
  const v = rec.total.values;
  v.fill(100 * MiB);
  v[at] = spikeBytes;
  rec.processes[0]!.rss.values.set(v);
  return rec;
}

test('ticks: round binary sizes and clock units', () => {
  const b = byteTicks(1.7 * GiB, 5);
  assert.equal(b.unit, 'GiB');
  assert.deepEqual(b.ticks.map((t) => t.label), ['0', '0.5 GiB', '1.0 GiB', '1.5 GiB']);
  assert.deepEqual(byteTicks(1.7 * GiB, 8).ticks.map((t) => t.label), ['0', '0.25 GiB', '0.50 GiB', '0.75 GiB', '1.00 GiB', '1.25 GiB', '1.50 GiB']);
  assert.deepEqual(byteTicks(230 * MiB, 5).ticks.map((t) => t.label), ['0', '50 MiB', '100 MiB', '150 MiB', '200 MiB']);
  assert.deepEqual(byteTicks(900 * 1024, 4).ticks.map((t) => t.label), ['0', '250 KiB', '500 KiB', '750 KiB']);
  const s = timeTicks(0, 3780, 8);
  assert.equal(s.unit, 's');
  assert.deepEqual(s.ticks.map((t) => t.label), ['0.0', '0.5', '1.0', '1.5', '2.0', '2.5', '3.0', '3.5']);
  assert.equal(timeTicks(0, 36_000_000, 10).unit, 'h');
  assert.deepEqual(timeTicks(0, 36_000_000, 10).ticks.slice(0, 3).map((t) => t.label), ['0', '1', '2']);
  assert.equal(timeTicks(0, 600_000, 8).unit, 'min');
  assert.deepEqual(timeTicks(0, 300_000, 10).ticks.slice(0, 3).map((t) => t.label), ['0:00', '0:30', '1:00']);
  assert.deepEqual(timeTicks(16_000_000, 17_800_000, 6).ticks.slice(0, 2).map((t) => t.label), ['4:30', '4:35']);
});

test('envelope: min and max per column, in order, nothing copied; empty columns stay empty', () => {
  const t = Float64Array.from({ length: 1000 }, (_, i) => i);
  const v = Float64Array.from({ length: 1000 }, (_, i) => (i === 555 ? 9 : 1));
  const env = envelope({ tMs: t, values: v }, 0, 999, 10);
  assert.equal(env.max[5], 9);
  assert.equal(env.min[5], 1);
  assert.equal(env.count.reduce((a, b) => a + b, 0), 1000);
  const pts = envelopePoints(env);
  assert.equal(Math.max(...pts.y.subarray(0, pts.length)), 9);
  const sparse = envelope({ tMs: Float64Array.of(0, 50, 100), values: Float64Array.of(1, 2, 3) }, 0, 100, 100);
  assert.equal(sparse.count.filter((c) => c > 0).length, 3);
  assert.equal(envelopePoints(sparse).length, 3);
});

test('fonts: the bundled font is measured (no system font needed) and text is cut to fit', () => {
  const w = textWidth('memory (RSS)', 12);
  assert.ok(w > 60 && w < 100, `width ${w}`);
  assert.ok(textWidth('MMMM', 12) > textWidth('iiii', 12));
  const cut = fitText('a very long command line that does not fit', 12, 100);
  assert.ok(cut.endsWith('…') && textWidth(cut, 12) <= 100, cut);
});

test('chart: per-process lines for up to 8 processes, the rest folded into "other"', () => {
  const few = buildChart([{ rec: syntheticRecording({ samples: 2000, processes: 4 }), name: 'a.mh' }]);
  assert.deepEqual(few.series.map((s) => s.role), ['total', 'process', 'process', 'process', 'process']);
  assert.match(few.series[1]!.label, /^pid 1000 python3 train\.py --epochs 3$/);
  const many = buildChart([{ rec: syntheticRecording({ samples: 2000, processes: 11 }), name: 'a.mh' }]);
  assert.deepEqual(buildChart([{ rec: syntheticRecording({ samples: 100, processes: 11 }), name: 'a.mh' }], { perProcess: false }).series.map((s) => s.role), ['total']);
  assert.equal(many.series.filter((s) => s.role === 'process').length, 7);
  const other = many.series.find((s) => s.role === 'other')!;
  assert.match(other.label, /other \(4 processes\)/);
  // total = drawn processes + other, at every sample
  const total = many.series[0]!.data;
  const i = 1500;
  let sum = other.data.values[i]!;
  for (const s of many.series.filter((x) => x.role === 'process')) {
    const k = Array.prototype.indexOf.call(s.data.tMs, total.tMs[i]);
    if (k >= 0) sum += s.data.values[k]!;
  }
  assert.equal(sum, total.values[i]);
  // several recordings: one total each, no process lines unless asked
  const two = buildChart([
    { rec: syntheticRecording({ samples: 100, processes: 3 }), name: 'before.mh' },
    { rec: syntheticRecording({ samples: 200, processes: 3 }), name: 'after.mh' },
  ]);
  assert.deepEqual(two.series.map((s) => s.role), ['total', 'total']);
  assert.notEqual(two.series[0]!.color, two.series[1]!.color);
  assert.equal(two.xMaxMs, 2000);
  assert.match(two.title, /\(2 runs\)$/);
});

test('chart: limit and share at the peak, peak, sections, marks, end, trend, title', () => {
  const rec = syntheticRecording({ samples: 5000, processes: 2, sections: 3, limitBytes: GiB, end: 'oom-killer' });
  const c = buildChart([{ rec, name: 'r.mh' }], { trend: true });
  assert.equal(c.title, 'python3 train.py --epochs 3');
  assert.equal(c.limits.length, 1);
  assert.match(c.limits[0]!.label, /^limit 1\.00 GiB \(--limit\) · \d+(\.\d)?% used at the peak \(tree RSS\)$/);
  assert.ok(c.limits[0]!.onChart);
  assert.match(c.peaks[0]!.label, /^peak \d+ MiB at \d/);
  assert.match(c.peaks[0]!.detail, /^pid 1000 python3 train\.py --epochs 3 held/);
  assert.deepEqual(c.sections.map((s) => s.label), ['load-model', 'epoch 1', 'epoch 2', 'epoch 3']);
  assert.equal(c.marks.length, 3);
  assert.equal(c.ends[0]!.label, 'killed by the OOM killer');
  assert.equal(c.ends[0]!.severity, 'bad');
  assert.match(c.trends[0]!.label, /^trend [+−][\d.]+ MiB\/min$/);
  assert.match(c.summary[0]!, /killed by the OOM killer \(SIGKILL, exit 137\) after/);
  assert.equal(buildChart([{ rec, name: 'r.mh' }], { title: 'mine' }).title, 'mine');
  // a limit far above the data is named in the summary but not drawn (it would flatten the lines)
  const far = buildChart([{ rec, name: 'r.mh' }], { limitBytes: 64 * GiB });
  assert.equal(far.limits[0]!.onChart, false);
  assert.ok(far.yMaxBytes < 2 * GiB);
  assert.equal(buildChart([{ rec: syntheticRecording({ samples: 10, end: 'cut' }), name: 'r.mh' }]).ends[0]!.label, 'recording cut (no end)');
  assert.equal(shortCommand(['/usr/bin/python3', 'my job.py', '-v']), 'python3 "my job.py" -v');
  // One shortening for charts, summaries and tables: a kernel thread's name whole (the summary's own
  // read "[kworker/0:1]" as "0:1]"), no control character reaches an SVG, cut with "…".
  assert.equal(shortCommand(['[kworker/0:1]']), '[kworker/0:1]');
  assert.equal(shortCommand(['python3', '-c', 'x\u0007']), 'python3 -c x\ufffd');
  assert.equal(shortCommand(['python3', 'x'.repeat(80)], 20), `python3 ${'x'.repeat(11)}…`);
  assert.equal(shortCommand([]), '(no command line)');
});

test('a 1-sample spike in 1 M samples: true height in SVG and in the PNG pixels', () => {
  const n = 1_000_000;
  const rec = flatWithSpike(n, 400_000, 1 * GiB);
  // a second, smaller spike that is not the peak (no marker drawn at it)
  rec.total.values[700_000] = 600 * MiB;
  rec.processes[0]!.rss.values[700_000] = 600 * MiB;
  const chart = buildChart([{ rec, name: 'spike.mh' }]);
  const t0 = Date.now();
  const out = renderPng(chart, { keepPixels: true });
  const ms = Date.now() - t0;
  assert.ok(ms < 3000, `render took ${ms} ms`);
  const { plot, yMaxBytes } = out;
  const yOf = (b: number) => plot.top + plot.height - (b / yMaxBytes) * plot.height;
  // SVG: the total's path reaches exactly the spike's y.
  const totalPath = /<path d="([^"]+)" fill="none" stroke="#1a1a1a"/.exec(out.svg)![1]!;
  const ys = [...totalPath.matchAll(/[ML][\d.]+ ([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(Math.abs(Math.min(...ys) - yOf(GiB)) < 0.11, `svg top ${Math.min(...ys)} vs ${yOf(GiB)}`);
  assert.ok(ys.some((y) => Math.abs(y - yOf(600 * MiB)) < 0.11), 'the second spike is in the path');
  // PNG: in each spike's pixel column, the topmost dark pixel inside the plot is at its height.
  const topDark = (tMs: number) => {
    const xc = plot.left + (tMs / chart.xMaxMs) * plot.width;
    let best = Infinity;
    for (let x = Math.floor(xc) - 2; x <= Math.ceil(xc) + 2; x++) {
      for (let y = Math.ceil(plot.top) + 1; y < plot.top + plot.height; y++) {
        const i = (y * out.width + x) * 4;
        const [r, g, b] = [out.pixels[i]!, out.pixels[i + 1]!, out.pixels[i + 2]!];
        if (r < 110 && g < 110 && b < 110) {
          best = Math.min(best, y);
          break;
        }
      }
    }
    return best;
  };
  for (const [idx, bytes] of [[400_000, GiB], [700_000, 600 * MiB]] as const) {
    const top = topDark(idx * 10);
    assert.ok(Math.abs(top - yOf(bytes)) <= 2.5, `spike of ${bytes / MiB} MiB: top pixel row ${top}, expected ${yOf(bytes).toFixed(1)}`);
  }
  // and the flat line is where 100 MiB is
  assert.ok(Math.abs(topDark(100_000 * 10) - yOf(100 * MiB)) <= 2.5);
});

test('a 1-sample spike in 1 M samples: true height in the HTML data and the terminal', () => {
  const n = 1_000_000;
  const rec = flatWithSpike(n, 654_321, 3 * GiB);
  const chart = buildChart([{ rec, name: 'spike.mh' }]);
  const data = pageData(chart);
  assert.ok(data.levels.length >= 2);
  for (const lv of data.levels) {
    const [total] = decodeLevel(lv.gzipBase64, data.series.length, lv.buckets);
    let max = -1;
    let min = Infinity;
    for (let i = 0; i < lv.buckets; i++) {
      if (total!.max[i]! > max) max = total!.max[i]!;
      if (total!.min[i]! >= 0 && total!.min[i]! < min) min = total!.min[i]!;
    }
    assert.equal(max, (3 * GiB) / 1024, `level of ${lv.buckets} buckets keeps the spike`);
    assert.equal(min, (100 * MiB) / 1024);
  }
  const html = renderHtml(chart);
  assert.ok(html.length < 5_000_000, `${html.length} bytes`);

  const term = renderTerminal(chart, { columns: 100, rows: 12, color: false });
  const lines = term.text.split('\n');
  const plotLines = lines.slice(term.plotLine, term.plotLine + term.rows);
  const dotsH = term.rows * 4;
  const topDot = Math.round(((3 * GiB) / term.yMaxBytes) * (dotsH - 1));
  const expectRow = term.rows - 1 - Math.floor(topDot / 4);
  const firstInked = plotLines.findIndex((l) => /[\u2801-\u28ff]/.test(l.slice(term.plotColumn)));
  assert.equal(firstInked, expectRow, term.text);
  const spikeCol = term.plotColumn + Math.floor(Math.floor((654_321 / n) * term.dotColumns) / 2);
  const cell = [...plotLines[expectRow]!][spikeCol] ?? '';
  assert.match(cell, /[\u2801-\u28ff]/, `cell at the spike's column: "${cell}" in "${plotLines[expectRow]}"`);
  for (const l of lines) assert.ok([...l].length <= 100, `line longer than the terminal: ${l}`);
});

test('strings from a recording are escaped in SVG and HTML; the SVG stays valid XML with control characters', () => {
  const evil = ['python3', '<script>window.__xss=1</script>', '"onerror="window.__xss=2', "it's & <b>", '\x1b[31mred\x07'];
  const rec = syntheticRecording({ samples: 300, processes: 2, sections: 2, command: evil });
  rec.events.push({ kind: 'mark', tMs: 100, pid: null, label: '<img src=x onerror=alert(1)>' });
  const chart = buildChart([{ rec, name: '<b>name</b>.mh' }]);
  const { svg } = renderSvg(chart);
  assert.doesNotMatch(svg, /<script|<img|<b>/);
  assert.match(svg, /&lt;script&gt;window\.__xss=1&lt;\/script&gt;/);
  assert.doesNotMatch(svg, /[\x00-\x08\x0b\x0c\x0e-\x1f]/);
  const png = rasterise(svg); // resvg refuses malformed XML
  assert.ok(png.png.length > 1000);
  const html = renderHtml(chart);
  assert.equal(html.match(/<script/g)!.length, 3, 'only the three script elements of the page');
  assert.doesNotMatch(html, /<img src=x/);
  assert.doesNotMatch(html, /"onerror="window/);
  assert.equal(scriptSafeJson({ a: '</script><!--' }), '{"a":"\\u003c/script\\u003e\\u003c!--"}');
  // The terminal gets no control characters from the recording (an ESC would drive the terminal).
  const term = renderTerminal(chart, { columns: 100, color: false }).text;
  assert.doesNotMatch(term, /[\x00-\x09\x0b-\x1f\x7f]/);
  assert.match(term, /\ufffd\[31mred\ufffd/);
  assert.equal(escapeXml('a"b\'c&d'), 'a&quot;b&#39;c&amp;d');
});

test('PNG text: the cut font draws Latin, Cyrillic, Armenian; a script it lacks (Arabic) still comes from the full DejaVu Sans', () => {
  const ink = (text: string) => {
    const { svg } = renderSvg(buildChart([{ rec: syntheticRecording({ samples: 50, processes: 1, command: ['python3', text] }), name: 'x.mh' }]));
    const out = rasterise(svg, { keepPixels: true });
    // Dark pixels in the title row (top 30 px, left half): the title is the command line.
    let dark = 0;
    for (let y = 4; y < 30; y++) {
      for (let x = 0; x < out.width / 2; x++) if (out.pixels[(y * out.width + x) * 4]! < 128) dark++;
    }
    return dark;
  };
  const base = ink('');
  assert.ok(ink('train.py') > base + 50, 'Latin letters are drawn');
  assert.ok(ink('\u0531\u0532\u0533\u0534\u0535\u0536') > base + 50, 'Armenian letters are drawn');
  assert.ok(ink('\u0416\u03a9\u2192\u25be') > base + 30, 'Cyrillic, Greek and symbols are drawn');
  // Not in the cut: from the full font (in regular weight: resvg's fallback ignores the weight).
  const line = (text: string) => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40" font-family="${escapeXml(FONT_STACK)}"><text x="5" y="30" font-size="24">${text}</text></svg>`;
    const out = rasterise(svg, { keepPixels: true });
    let dark = 0;
    for (let i = 0; i < out.pixels.length; i += 4) if (out.pixels[i]! < 128) dark++;
    return dark;
  };
  assert.ok(line('\u0627\u0644\u0639\u0631\u0628\u064a\u0629') > 150, 'Arabic letters are drawn');
  assert.ok(line('abc') > 150, 'and Latin ones in the same kind of SVG');
});

test('layout: long runs, many sections and marks: labels never overlap', () => {
  const rec = syntheticRecording({ samples: 200_000, intervalMs: 180, processes: 6, sections: 120, limitBytes: GiB, end: 'limit' });
  const chart = buildChart([{ rec, name: 'long.mh' }], { trend: true });
  const { svg } = renderSvg(chart);
  // Every text's box (from the font's metrics) against every other.
  const boxes: Array<{ x0: number; x1: number; y0: number; y1: number; t: string }> = [];
  for (const m of svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)" font-size="([\d.]+)"([^>]*)>([^<]*)<\/text>/g)) {
    const [x, y, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const text = m[5]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
    const w = textWidth(text, size, /bold/.test(m[4]!));
    const anchor = /text-anchor="end"/.test(m[4]!) ? 'end' : /text-anchor="middle"/.test(m[4]!) ? 'middle' : 'start';
    const x0 = anchor === 'end' ? x - w : anchor === 'middle' ? x - w / 2 : x;
    boxes.push({ x0, x1: x0 + w, y0: y - size * 0.8, y1: y + size * 0.2, t: text });
  }
  assert.ok(boxes.length > 20);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      const overlap = a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5;
      assert.ok(!overlap, `"${a.t}" overlaps "${b.t}"`);
    }
  }
  assert.match(svg, /section \(\d+ not labelled\)/);
});

test('lines over the plot are kept inside it by their coordinates (no clip-path: resvg makes each a full-size layer)', () => {
  const box = { x0: 10, y0: 10, x1: 110, y1: 60 };
  assert.deepEqual(clipSegment(20, 20, 100, 50, box), [20, 20, 100, 50], 'inside: unchanged');
  assert.deepEqual(clipSegment(0, 35, 120, 35, box), [10, 35, 110, 35], 'cut at both sides');
  assert.deepEqual(clipSegment(10, 60, 110, -40, box), [10, 60, 60, 10], 'a steep trend leaves through the top');
  assert.equal(clipSegment(0, 0, 5, 100, box), null, 'outside');
  const rec = syntheticRecording({ samples: 5000, processes: 3, sections: 6, limitBytes: 64 * 1024 * 1024, end: 'limit' });
  const { svg } = renderSvg(buildChart([{ rec, name: 'x.mh' }], { trend: true }));
  assert.doesNotMatch(svg, /clip-path|<clipPath/);
});

test('envelope equals a per-sample min/max on random series, windows and column counts', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let round = 0; round < 40; round++) {
    const n = 1 + Math.floor(rnd() * 3000);
    const t = new Float64Array(n);
    const v = new Float64Array(n);
    let at = rnd() * 100;
    for (let i = 0; i < n; i++) {
      at += rnd() < 0.1 ? 0 : rnd() * 10; // repeated times too
      t[i] = at;
      v[i] = Math.floor(rnd() * 50); // ties
    }
    const t0 = rnd() < 0.5 ? 0 : t[Math.floor(rnd() * n)]!;
    const t1 = rnd() < 0.5 ? t[n - 1]! : t0 + rnd() * (t[n - 1]! - t0);
    const cols = 1 + Math.floor(rnd() * 400);
    const env = envelope({ tMs: t, values: v }, t0, t1, cols);
    const span = t1 - t0;
    const scale = span > 0 ? cols / span : 0;
    const min = new Array<number>(cols).fill(NaN);
    const max = new Array<number>(cols).fill(NaN);
    const minAt = new Array<number>(cols).fill(0);
    const maxAt = new Array<number>(cols).fill(0);
    const count = new Array<number>(cols).fill(0);
    for (let i = 0; i < n; i++) {
      if (t[i]! < t0 || t[i]! > t1) continue;
      const c = Math.min(cols - 1, Math.floor((t[i]! - t0) * scale));
      if (count[c] === 0 || v[i]! < min[c]!) [min[c], minAt[c]] = [v[i]!, i];
      if (count[c] === 0 || v[i]! > max[c]!) [max[c], maxAt[c]] = [v[i]!, i];
      count[c]!++;
    }
    for (let c = 0; c < cols; c++) {
      const what = `round ${round}, column ${c} of ${cols}`;
      assert.equal(env.count[c], count[c], what);
      if (count[c] === 0) continue;
      assert.equal(env.min[c], min[c], what);
      assert.equal(env.max[c], max[c], what);
      assert.equal(env.minFirst[c], minAt[c]! <= maxAt[c]! ? 1 : 0, what);
    }
  }
});

test('the HTML chart titles its y axis with the metric, as the SVG does (trial 4: "memory (RSS)" over PSS data)', async () => {
  const { readMprofDatFile } = await import('../formats/mprof-dat');
  const { FIXTURES } = await import('../test-support');
  const rec = readMprofDatFile(`${FIXTURES}/mprof/0.61/matrix/psutil_pss-C-M.dat`);
  const chart = buildChart([{ rec, name: 'psutil_pss-C-M.dat' }]);
  assert.match(chart.yTitle, /PSS/);
  const data = pageData(chart);
  assert.equal(data.yTitle, chart.yTitle);
  assert.ok(renderHtml(chart).includes('label: data.yTitle'), 'the page script titles the axis from the data');
});

test('mprof PSS file: its children are RSS lines (CHLD is always RSS), labelled so on a PSS axis, and the peak label says so', async () => {
  const { readMprofDatFile } = await import('../formats/mprof-dat');
  const { FIXTURES } = await import('../test-support');
  const rec = readMprofDatFile(`${FIXTURES}/mprof/0.61/matrix/psutil_pss-C-M.dat`);
  const chart = buildChart([{ rec, name: 'psutil_pss-C-M.dat' }]);
  const children = chart.series.filter((s) => s.role === 'process');
  assert.ok(children.length >= 2, chart.series.map((s) => s.label).join(', '));
  for (const c of children) assert.match(c.label, /^mprof child \d+ \(RSS\)$/);
  assert.match(chart.peaks.map((p) => p.detail).join(' '), /held [\d.]+ MiB \(RSS\)/, JSON.stringify(chart.peaks));
  // An RSS recording's processes are on an RSS axis: nothing added.
  const rss = readMprofDatFile(`${FIXTURES}/mprof/0.61/matrix/psutil-C-M.dat`);
  for (const s of buildChart([{ rec: rss, name: 'psutil-C-M.dat' }]).series) assert.doesNotMatch(s.label, /\(RSS\)/);
});

test('chart caption: the process that held most at the peak is named by its Dask worker, as the summary names it', async () => {
  const { readMemhuntRecording } = await import('../recording/reader');
  const { FIXTURES } = await import('../test-support');
  const rec = await readMemhuntRecording(`${FIXTURES}/memhunt/loaded/dask_leak_teardown.mh`);
  const chart = buildChart([{ rec, name: 'dask_leak_teardown.mh' }]);
  // It read "most held by pid 26924 python3 -B -c "from multiproc…" (the worker's command line).
  assert.match(chart.summary.join('\n'), /most held by worker tcp:\/\/127\.0\.0\.1:\d+ \(leaky\), pid \d+\)/, chart.summary.join('\n'));
});
