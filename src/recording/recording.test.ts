import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { CorruptRecordingError } from '../errors';
import { tempDir, REPO } from '../test-support';
import { readMemhuntRecording, isMemhuntRecording } from './reader';
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, RECORDING_VERSION, type HeaderRecord } from './spec';
import { RecordingWriter } from './writer';

function header(over: Partial<HeaderRecord> = {}): HeaderRecord {
  return {
    type: 'header', format: RECORDING_FORMAT, version: RECORDING_VERSION, memhuntVersion: '0.0.0-test', mode: 'run',
    command: ['python3', 'x.py'], cwd: '/tmp', host: 'h', containerId: null, startWallMs: 1_700_000_000_000,
    startIso: new Date(1_700_000_000_000).toISOString(), intervalMs: 100, metric: 'rss', limitBytes: null, rootPid: 10,
    cgroup: { version: 2, path: '/job', limitBytes: 1024 ** 3 },
    fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] }, labels: {}, ...over,
  };
}

/** A recording of 3 flushes: root 10 with child 11 that exits, markers, an end. */
function writeSample(file: string, withEnd = true): void {
  const w = new RecordingWriter(file, header());
  w.append({ type: 'proc', t: 0, pid: 10, ppid: 1, cmd: ['python3', 'x.py'] });
  for (let i = 0; i < 30; i++) {
    const t = i * 100;
    const rows = [[10, 1000 + i * 10, 800, 200, 0, 1000 + i * 10]];
    if (i === 5) w.append({ type: 'proc', t, pid: 11, ppid: 10, cmd: ['worker'] });
    if (i >= 5 && i < 20) rows.push([11, 5000, 4900, 100, 0, 5000]);
    if (i === 20) w.append({ type: 'exit', t, pid: 11 });
    w.append({ type: 's', t, p: rows, c: [9000, 8000, 9100, 0] });
    if (i === 3) w.append({ type: 'marker', t, pid: 10, kind: 'begin', label: 'load' });
    if (i === 8) w.append({ type: 'marker', t, pid: 10, kind: 'end', label: 'load' });
    if (i === 9) w.append({ type: 'marker', t, pid: null, kind: 'mark', label: 'epoch 1' });
    if (i % 10 === 9) w.flush();
  }
  if (withEnd) w.append({ type: 'end', t: 2900, reason: 'exited', code: 0, signal: null, samples: 30 });
  w.close();
}

test('writer and reader round-trip every record type', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'a.mh');
  writeSample(f);
  const rec = await readMemhuntRecording(f);
  assert.equal(rec.truncated, false);
  assert.deepEqual(rec.warnings, []);
  assert.equal(rec.total.tMs.length, 30);
  assert.equal(rec.processes.length, 2);
  const child = rec.processes.find((p) => p.pid === 11)!;
  assert.equal(child.exitMs, 2000);
  assert.deepEqual(child.command, ['worker']);
  assert.equal(child.rss.values[0], 5000 * 1024);
  assert.equal(rec.total.values[10], (1100 + 5000) * 1024);
  assert.equal(rec.cgroup!.usage.values[0], 9000 * 1024);
  assert.equal(rec.cgroup!.limit.values[0], 1024 ** 3);
  const section = rec.events.find((e) => e.kind === 'section');
  assert.deepEqual(section, { kind: 'section', startMs: 300, endMs: 800, pid: 10, label: 'load', level: 0 });
  assert.ok(rec.events.some((e) => e.kind === 'mark' && e.label === 'epoch 1'));
  assert.equal(rec.end?.reason, 'exited');
});

test('zcat | jq can read a recording: it is one valid gzip stream of JSON lines', () => {
  const dir = tempDir();
  const f = path.join(dir, 'a.mh');
  writeSample(f);
  const text = execFileSync('sh', ['-c', `zcat '${f}'`]).toString();
  const lines = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].type, 'header');
  assert.equal(lines[lines.length - 1].type, 'end');
  assert.ok(isMemhuntRecording(fs.readFileSync(f)));
});

test('a recording cut at any byte after the header is read up to the cut, with a warning', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'full.mh');
  writeSample(f);
  const full = fs.readFileSync(f);
  const headerLen = zlib.gzipSync(JSON.stringify(header()) + '\n').length; // first member ≈ header
  let lastSamples = -1;
  // Every byte offset in the last 600 bytes, then a stride through the rest.
  const cuts: number[] = [];
  for (let n = headerLen + 1; n < full.length - 600; n += 37) cuts.push(n);
  for (let n = Math.max(headerLen + 1, full.length - 600); n < full.length; n++) cuts.push(n);
  // Nobody writes the cut copies: the search of /proc for a writer (every descriptor of every
  // process, ~15 ms each time) is left out but for the first and last cut.
  const noProc = path.join(dir, 'no-proc');
  for (const [i, n] of cuts.entries()) {
    const g = path.join(dir, 'cut.mh');
    fs.writeFileSync(g, full.subarray(0, n));
    const rec = await readMemhuntRecording(g, i === 0 || i === cuts.length - 1 ? {} : { procRoot: noProc });
    assert.equal(rec.liveWriter, undefined, `cut at ${n}: no writer`);
    if (rec.end !== null) {
      // Cut inside the last member's final bytes (end of block, CRC, size): every record was decoded.
      assert.equal(rec.total.tMs.length, 30);
      continue;
    }
    assert.equal(rec.truncated, true, `cut at ${n}`);
    assert.ok(rec.warnings.length > 0);
    assert.ok(rec.end === null);
    assert.ok(rec.total.tMs.length >= lastSamples - 1, `samples must not shrink much as the cut moves on (${n})`);
    lastSamples = rec.total.tMs.length;
  }
  assert.ok(lastSamples >= 29, `the last cut keeps almost every sample (kept ${lastSamples})`);
});

test('a recording without its end record (memhunt killed) is read and flagged', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'noend.mh');
  writeSample(f, false);
  const rec = await readMemhuntRecording(f);
  assert.equal(rec.truncated, true);
  assert.equal(rec.total.tMs.length, 30);
  assert.match(rec.warnings[0]!, /without its final record/);
});

test('empty, garbage and foreign gzip files are refused clearly', async () => {
  const dir = tempDir();
  const empty = path.join(dir, 'empty.mh');
  fs.writeFileSync(empty, '');
  await assert.rejects(readMemhuntRecording(empty), CorruptRecordingError);
  const garbage = path.join(dir, 'garbage.mh');
  fs.writeFileSync(garbage, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  await assert.rejects(readMemhuntRecording(garbage), CorruptRecordingError);
  const foreign = path.join(dir, 'foreign.mh');
  fs.writeFileSync(foreign, zlib.gzipSync('{"hello":1}\n'));
  await assert.rejects(readMemhuntRecording(foreign), /not a memhunt recording header/);
  const newer = path.join(dir, 'newer.mh');
  fs.writeFileSync(newer, zlib.gzipSync(JSON.stringify(header({ version: 99 })) + '\n'));
  await assert.rejects(readMemhuntRecording(newer), /newer than this memhunt reads/);
  await assert.rejects(readMemhuntRecording(path.join(dir, 'missing.mh')), /no such file/);
});

test('the version-1 fixture recording stays readable', async () => {
  const rec = await readMemhuntRecording(path.join(REPO, 'fixtures', 'memhunt', 'v1', 'example.mh'));
  assert.equal(rec.meta.formatVersion, 1);
  assert.ok(rec.total.tMs.length > 10);
  assert.ok(rec.processes.length >= 2);
  assert.ok(rec.events.some((e) => e.kind === 'section'));
});
