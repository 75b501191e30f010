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
import { RecordingAssembler, expectedSamples, findSplit, readMemhuntRecording } from './reader';
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
  // A negative size is refused the same way by both paths.
  const bad = path.join(dir, 'bad.mh');
  fs.writeFileSync(bad, zlib.gzipSync([JSON.stringify(header), '{"type":"s","t":1,"p":[[1,-5,0,0,0,1]]}'].join('\n') + '\n'));
  await assert.rejects(readMemhuntRecording(bad), /is not a size in bytes/);
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

/** A recording with every kind of state that crosses the middle of the file. */
function writeBusy(file: string, n: number, opts: { soloPid?: (i: number) => number } = {}): void {
  const w = new RecordingWriter(file, { ...header, fields: { p: ['pid', 'rssKiB', 'anonKiB', 'fileKiB', 'shmemKiB', 'hwmKiB'], c: ['usageKiB', 'workingSetKiB', 'peakKiB', 'limitKiB'], pss: ['pid', 'pssKiB', 'ussKiB'] } });
  w.append({ type: 'proc', t: 0, pid: 1, ppid: 0, cmd: ['python3', 'train.py'] });
  for (let i = 0; i < n; i++) {
    const t = i * 10;
    let rows: number[][];
    if (opts.soloPid) {
      rows = [[opts.soloPid(i), 1000 + (i % 97), 900, 100, 0, 1100]];
    } else {
      rows = [[1, 1000 + (i % 97), 900, 100, 0, 1100 + (i % 5)]];
      if (i > n * 0.3 && i < n * 0.8) rows.push([2, 500 + (i % 13), 400, 100, 0, 600]);
      if (i > n * 0.6) rows.push([3, 70, 60, 10, 0, 70]);
    }
    if (i === Math.floor(n * 0.3) + 1) w.append({ type: 'proc', t, pid: 2, ppid: 1, cmd: ['worker', '2'] });
    if (i === Math.floor(n * 0.8)) w.append({ type: 'exit', t, pid: 2, code: 0, signal: null });
    w.append({ type: 's', t, p: rows, c: [5000 + i, 4000, i % 3 === 0 ? null : 6000, 0] });
    if (i % 50 === 0) w.append({ type: 'pss', t, everyMs: 500, p: rows.map((r) => [r[0]!, r[1]! - 10, r[1]! - 20]) });
    if (i === Math.floor(n * 0.2)) w.append({ type: 'marker', t, pid: 1, kind: 'begin', label: 'epoch 1' });
    if (i === Math.floor(n * 0.7)) w.append({ type: 'marker', t, pid: 1, kind: 'end', label: 'epoch 1' });
    if (i === Math.floor(n * 0.55)) w.append({ type: 'cglimit', t, limitBytes: 2 * 1024 ** 3 });
    if (i % 500 === 250) w.append({ type: 'marker', t, pid: null, kind: 'mark', label: `m${i}` });
    if (i % 100 === 99) w.flush();
  }
  w.append({ type: 'end', t: n * 10, reason: 'exited', code: 0, signal: null, samples: n });
  w.close();
}

test('a big file read as two halves at once gives exactly what one pass gives, cut, damaged or whole', async () => {
  const dir = tempDir();
  const both = async (file: string, what: string) => {
    for (const splits of [true, false]) {
      let one: unknown;
      let two: unknown;
      try {
        one = await readMemhuntRecording(file, { splits, splitMinBytes: 0 });
      } catch (e) {
        one = `throws ${(e as Error).message}`;
      }
      try {
        two = await readMemhuntRecording(file, { splits, splitMinBytes: 1 });
      } catch (e) {
        two = `throws ${(e as Error).message}`;
      }
      assert.deepEqual(two, one, `${what} (splits: ${splits})`);
    }
  };
  const busy = path.join(dir, 'busy.mh');
  writeBusy(busy, 6000);
  assert.ok(findSplit(busy, 1), 'the file is cut in two for reading');
  await both(busy, 'processes that come and go, sections across the middle, PSS, cgroup');
  const busyRec = await readMemhuntRecording(busy, { splitMinBytes: 1 });
  assert.equal(busyRec.processes.length, 3);
  assert.equal(busyRec.total.tMs.length, 6000);
  assert.ok(busyRec.events.some((e) => e.kind === 'section' && e.label === 'epoch 1' && e.endMs !== null), 'the section that spans the middle is closed');

  const solo = path.join(dir, 'solo.mh');
  writeBusy(solo, 6000, { soloPid: () => 1 });
  await both(solo, 'one process throughout');
  const soloRec = await readMemhuntRecording(solo, { splitMinBytes: 1 });
  assert.equal(soloRec.total, soloRec.processes[0]!.rss, 'one process: the total still shares its columns');
  const swap = path.join(dir, 'swap.mh');
  writeBusy(swap, 6000, { soloPid: (i) => (i < 4000 ? 1 : 7) });
  await both(swap, 'one process, replaced by another in the second half');
  const early = path.join(dir, 'early.mh');
  writeBusy(early, 6000, { soloPid: (i) => (i < 1000 ? 1 : 7) });
  await both(early, 'one process, replaced by another in the first half');

  // Cut anywhere in the second half (memhunt killed), or damaged in either half.
  const bytes = fs.readFileSync(busy);
  const split = findSplit(busy, 1)!.at;
  for (const cutAt of [split + 1, split + 10, split + 5000, bytes.length - 3000, bytes.length - 1]) {
    const f = path.join(dir, `cut-${cutAt}.mh`);
    fs.writeFileSync(f, bytes.subarray(0, cutAt));
    await both(f, `cut at byte ${cutAt} of ${bytes.length}`);
  }
  for (const at of [Math.floor(split / 2), split + 20, Math.floor((split + bytes.length) / 2)]) {
    const f = path.join(dir, `damaged-${at}.mh`);
    const copy = Buffer.from(bytes);
    for (let k = 0; k < 64; k++) copy[at + k] = copy[at + k]! ^ 0x5a;
    fs.writeFileSync(f, copy);
    await both(f, `damaged at byte ${at}`);
  }
  // Recompressed as one member (zcat | gzip): nothing to cut, read in one pass.
  const single = path.join(dir, 'single.mh');
  fs.writeFileSync(single, zlib.gzipSync(zlib.gunzipSync(bytes)));
  assert.equal(findSplit(single, 1), null);
  await both(single, 'one gzip member');
});
