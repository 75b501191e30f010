/**
 * The reader's byte-level fast path for sample lines must give exactly what JSON.parse gives, and
 * fall back to it for anything it does not recognise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { tempDir } from '../test-support';
import { RecordingAssembler, deadChunkCollection, expectedSamples, readMemhuntRecording } from './reader';
import type { HeaderRecord, RecordingRecord } from './spec';
import { RecordingWriter } from './writer';

const header: HeaderRecord = {
  type: 'header', format: 'memhunt-recording', version: 1, memhuntVersion: '0.1.0', mode: 'run', command: ['x'], cwd: '/', host: 'h',
  containerId: null, startWallMs: 1, startIso: '1970-01-01T00:00:00.001Z', intervalMs: 10, metric: 'rss', limitBytes: null, rootPid: 1,
  cgroup: { version: 2, path: '/x', limitBytes: 1 << 30 }, fields: { p: [], c: [], pss: [] }, labels: {},
};

/** Same records through JSON.parse + add() only. */
function slowRead(file: string) {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  const asm = new RecordingAssembler();
  for (const line of text.split('\n')) if (line) asm.add(JSON.parse(line) as RecordingRecord);
  return asm.finish(false);
}

test('fast sample parsing equals JSON.parse, with odd numbers, nulls, long lines and multi-byte text across chunks', async () => {
  const file = path.join(tempDir(), 'f.mh');
  const w = new RecordingWriter(file, header);
  const label = 'é€😀'.repeat(40_000); // ~360 KB of multi-byte text: crosses the reader's 256 KiB chunks
  w.append({ type: 'marker', t: 0.5, pid: 1, kind: 'mark', label });
  for (let i = 0; i < 20_000; i++) {
    const t = i * 10.001 + (i % 7) * 0.001;
    const rows = i % 50 === 49 ? [] : [[1, 1000 + i, 500, 499, 1, 2000 + i], [2, 123456789 + (i % 3), 0, 0, 0, 123456789]];
    const c = i % 3 === 0 ? [5000 + i, 4000, null, 0] : i % 3 === 1 ? [5000 + i, 4000, 9000, null] : undefined;
    w.append(c ? { type: 's', t, p: rows, c } : { type: 's', t, p: rows });
    if (i % 1000 === 0) w.flush();
  }
  w.append({ type: 'end', t: 200_100, reason: 'exited', code: 0, signal: null, samples: 20_000 });
  w.close();
  const fast = await readMemhuntRecording(file);
  const slow = slowRead(file);
  assert.deepEqual(fast.total, slow.total);
  assert.deepEqual(fast.processes, slow.processes);
  assert.deepEqual(fast.cgroup, slow.cgroup);
  assert.equal((fast.events[0] as { label: string }).label, label);
  assert.deepEqual(fast.warnings, []);
  // Without the split: the same totals and RSS, no anon/file/shmem.
  const lean = await readMemhuntRecording(file, { splits: false });
  assert.deepEqual(lean.total, slow.total);
  assert.deepEqual(lean.processes[1]!.rss, slow.processes[1]!.rss);
  assert.equal(lean.processes[1]!.anon.tMs.length, 0);
});

test('the tree total is the sum of the rows of each sample, whether one process stays alone or others come and go', async () => {
  // One process throughout (its total shares the process's columns), one joined late, one that
  // starts with an empty tree, one replaced by another pid, and one whose first line is a slow-path line.
  const shapes: Array<(i: number) => number[][]> = [
    () => [[1, 0, 0, 0, 0, 0]],
    (i) => (i < 300 ? [[1, 0, 0, 0, 0, 0]] : [[1, 0, 0, 0, 0, 0], [2, 7, 0, 0, 0, 7]]),
    (i) => (i < 5 ? [] : [[1, 0, 0, 0, 0, 0]]),
    (i) => (i < 400 ? [[1, 0, 0, 0, 0, 0]] : [[3, 0, 0, 0, 0, 0]]),
    (i) => (i === 700 ? [[1, 0, 0, 0, 0, 0], [2, 1, 0, 0, 0, 1]] : [[1, 0, 0, 0, 0, 0]]),
  ];
  for (const [k, shape] of shapes.entries()) {
    const file = path.join(tempDir(), `shape${k}.mh`);
    const w = new RecordingWriter(file, header);
    const expectT: number[] = [];
    const expectV: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const rows = shape(i).map((r) => [r[0]!, 1000 + ((i * 37 + r[0]! * 11) % 500) + r[1]!, 0, 0, 0, 2000]);
      const t = i * 10;
      if (i === 0 && k === 4) w.append({ type: 's', p: rows, t }); // other key order: the JSON.parse path
      else w.append({ type: 's', t, p: rows });
      expectT.push(t);
      expectV.push(rows.reduce((a, r) => a + r[1]! * 1024, 0));
    }
    w.append({ type: 'end', t: 10_000, reason: 'exited', code: 0, signal: null, samples: 1000 });
    w.close();
    for (const splits of [true, false]) {
      const rec = await readMemhuntRecording(file, { splits });
      assert.deepEqual([...rec.total.tMs], expectT, `shape ${k}: times`);
      assert.deepEqual([...rec.total.values], expectV, `shape ${k}: values`);
      const p1 = rec.processes.find((p) => p.pid === 1)!;
      if (k === 0) assert.equal(rec.total, p1.rss, 'one process throughout: the total is its rss');
      else assert.notEqual(rec.total.values, p1.rss.values, `shape ${k}: the total has its own columns`);
    }
  }
});

test('lines the fast path does not know go through JSON.parse: exponents, spaces, other key order, bad values', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'odd.mh');
  const lines = [
    JSON.stringify(header),
    '{"type":"s","t":1e1,"p":[[1,100,50,50,0,100]]}',
    '{"type": "s", "t": 20, "p": [[1, 200, 100, 100, 0, 200]]}',
    '{"t":30,"type":"s","p":[[1,300,150,150,0,300]]}',
    '{"type":"s","t":40,"p":[[1,400.5,200,200,0,400]]}',
    '{"type":"s","t":50,"p":[[1,500,250,250,0]]}',
    '{"type":"end","t":60,"reason":"exited","code":0,"signal":null,"samples":5}',
  ];
  fs.writeFileSync(file, zlib.gzipSync(lines.join('\n') + '\n'));
  const rec = await readMemhuntRecording(file);
  assert.deepEqual([...rec.total.tMs], [10, 20, 30, 40, 50]);
  assert.deepEqual([...rec.total.values], [100, 200, 300, 400.5, 500].map((k) => k * 1024));
  // A negative size or a sample going back in time is refused the same way by both paths: the
  // fast path hands the line to the checked one, which skips it with a warning naming the record.
  const bad = path.join(dir, 'bad.mh');
  const badLines = [
    JSON.stringify(header),
    '{"type":"s","t":1,"p":[[1,-5,0,0,0,1]]}',
    '{"type":"s","t":2,"p":[[1,5,0,0,0,1]]}',
    '{"type":"s","t":1.5,"p":[[1,6,0,0,0,1]]}',
    '{"type": "s", "t": 1.5, "p": [[1, 6, 0, 0, 0, 1]]}',
  ];
  fs.writeFileSync(bad, zlib.gzipSync(badLines.join('\n') + '\n'));
  const r = await readMemhuntRecording(bad);
  assert.deepEqual([...r.total.tMs], [2]);
  assert.match(r.warnings.join('\n'), /record 2 a "s" record: p\[0\]\[1\] must be >= 0; skipped/);
  assert.match(r.warnings.join('\n'), /record 4 \(a sample at 1\.5 ms\) comes before the previous sample \(2 ms\); skipped/);
  assert.match(r.warnings.join('\n'), /record 5 \(a sample at 1\.5 ms\)/);
});

test('reading a big recording collects its dead decompression chunks with V8\'s young-generation collector', async () => {
  const file = path.join(tempDir(), 'big.mh');
  const w = new RecordingWriter(file, header);
  for (let i = 0; i < 120_000; i++) {
    w.append({ type: 's', t: i * 10, p: [[1, 100_000 + (i % 977), 90_000, 10_000, 0, 200_000]] });
    if (i % 100 === 99) w.flush();
  }
  w.append({ type: 'end', t: 1_200_000, reason: 'exited', code: 0, signal: null, samples: 120_000 });
  w.close();
  const rec = await readMemhuntRecording(file, { splits: false });
  assert.equal(rec.total.tMs.length, 120_000);
  // > 4 MiB of NDJSON went through: the collector was asked for, and this Node gave it.
  assert.equal(deadChunkCollection(), 'on');
});

test('the sample count read from the end of the file sizes the columns; a wrong or missing hint changes nothing', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'n.mh');
  const w = new RecordingWriter(file, header);
  for (let i = 0; i < 5000; i++) {
    w.append({ type: 's', t: i, p: [[1, 100 + i, 50, 50, 0, 100 + i]] });
    if (i % 100 === 99) w.flush();
  }
  w.append({ type: 'end', t: 5000, reason: 'exited', code: 0, signal: null, samples: 5000 });
  w.close();
  assert.equal(expectedSamples(file), 5000);
  const cut = path.join(dir, 'cut.mh');
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
  assert.equal(expectedSamples(cut), null);
  const exact = await readMemhuntRecording(file);
  for (const hint of [null, 10, 4999, 5000, 100_000]) {
    const r = await readMemhuntRecording(file, { expectedSamples: hint });
    assert.deepEqual([...r.total.values], [...exact.total.values], `hint ${hint}`);
    assert.deepEqual([...r.processes[0]!.rss.tMs], [...exact.processes[0]!.rss.tMs]);
  }
});
