/**
 * The .mh reader at the door of the data contract: records of the wrong shape, lines that are not
 * JSON, damaged gzip members and over-long lines lose only themselves, each with a warning naming
 * the record; the commands that read recordings never crash on them (issue 8 items 5 and 6,
 * issue 11 item 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { runCli, tempDir } from '../test-support';
import { MAX_RECORD_BYTES, readMemhuntRecording } from './reader';
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, type HeaderRecord } from './spec';

const HEADER: HeaderRecord = {
  type: 'header', format: RECORDING_FORMAT, version: 1, memhuntVersion: '0.0.0-test', mode: 'run', command: ['python3', 'x.py'],
  cwd: '/tmp', host: 'h', containerId: null, startWallMs: 1_700_000_000_000, startIso: new Date(1_700_000_000_000).toISOString(),
  intervalMs: 100, metric: 'rss', limitBytes: null, rootPid: 10, cgroup: null,
  fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] }, labels: {},
};

const sample = (t: number, kib = 1000) => JSON.stringify({ type: 's', t, p: [[10, kib, kib - 100, 100, 0, kib]] });
const END = (t: number, samples: number) => JSON.stringify({ type: 'end', t, reason: 'exited', code: 0, signal: null, samples });
const CENSUS = {
  type: 'census', t: 50, pid: 10, label: 'x', trigger: 'every', collected: true, objects: 3, totalBytes: 300,
  rows: [['dict', 2, 200], ['list', 1, 100]], durationMs: 1, notes: [],
};

/** Writes lines as one gzip member per group. */
function write(file: string, ...members: string[][]): string {
  fs.writeFileSync(file, Buffer.concat(members.map((m) => zlib.gzipSync(m.join('\n') + '\n'))));
  return file;
}

test('a record of the wrong shape after a valid header is skipped with a warning; summary and heap do not crash', async () => {
  const dir = tempDir();
  // The two crashes of issue 11: `rec.p is not iterable` (summary) and a census without fields (heap).
  const f = write(path.join(dir, 'bad.mh'), [
    JSON.stringify(HEADER), sample(0), '{"type":"s","t":2}', sample(100, 1200), JSON.stringify({ type: 'census', t: 150, pid: 10 }),
    JSON.stringify({ ...CENSUS, t: 160 }), sample(200, 1300), END(300, 3),
  ]);
  const rec = await readMemhuntRecording(f);
  assert.deepEqual([...rec.total.tMs], [0, 100, 200]);
  assert.equal(rec.truncated, false);
  assert.deepEqual(rec.warnings, [
    'record 3 a "s" record: lacks "p"; skipped',
    'record 5 a "census" record: lacks "collected"; skipped',
  ]);
  assert.equal(rec.events.filter((e) => e.kind === 'census').length, 1);
  const summary = await runCli(['summary', f]);
  assert.equal(summary.code, 0, summary.stderr);
  assert.match(summary.stderr, new RegExp(`memhunt: ${f}: record 3 a "s" record: lacks "p"; skipped`));
  assert.doesNotMatch(summary.stderr, /internal error|TypeError|stopped while recording/);
  const heap = await runCli(['heap', f]);
  assert.equal(heap.code, 0, heap.stderr);
  assert.match(heap.stdout, /dict/);
  assert.doesNotMatch(heap.stderr, /internal error|TypeError/);
});

test('each record type: missing fields and wrong types are skipped, extra fields ignored, unknown types skipped and counted', async () => {
  const dir = tempDir();
  const good: Record<string, Record<string, unknown>> = {
    proc: { type: 'proc', t: 1, pid: 11, ppid: 10, cmd: ['w'] },
    s: { type: 's', t: 1, p: [[10, 1000, 900, 100, 0, 1000]] },
    pss: { type: 'pss', t: 1, everyMs: 100, p: [[10, 900, 800, 0]] },
    exit: { type: 'exit', t: 1, pid: 11 },
    marker: { type: 'marker', t: 1, pid: null, kind: 'mark', label: 'm' },
    limit: { type: 'limit', t: 1, metric: 'rss', bytes: 10, limitBytes: 5 },
    oom: { type: 'oom', t: 1, oomKills: 1 },
    cglimit: { type: 'cglimit', t: 1, limitBytes: null },
    threshold: { type: 'threshold', t: 1, metric: 'rss', bytes: 10, thresholdBytes: 5, action: 'mark', pids: [10] },
    action: { type: 'action', t: 1, action: 'exec', command: 'true', code: 0, signal: null, output: '', outputTruncated: false },
    agent: { type: 'agent', t: 1, pid: 10, runtime: 'python', runtimeVersion: '3.11', protocol: 1, features: [] },
    census: { ...CENSUS, t: 1 },
    trace: {
      type: 'trace', t: 1, pid: 10, label: 'x', trigger: 'every', tracedBytes: 1, tracedPeakBytes: 1, rssBytes: 2, durationMs: 1,
      bySize: [{ file: 'a.py', line: 1, code: '', package: '(main)', bytes: 1, count: 1, bytesDelta: null }], byGrowth: [], byPackage: [],
    },
    refs: {
      type: 'refs', t: 1, pid: 10, trigger: 'client', typeName: 'X', count: 1, reachedRoot: true,
      nodes: [{ id: 'a', type: 'X', label: '', kind: 'sample', bytes: 1 }], edges: [],
    },
    isolated: { type: 'isolated', t: 1, pid: 10, label: 'f', childPid: 12, peakRssBytes: 1, durationMs: 1, ok: true },
    note: { type: 'note', t: 1, pid: null, text: 'n' },
  };
  for (const [type, rec] of Object.entries(good)) {
    const first = Object.keys(rec).find((k) => k !== 'type')!;
    const { [first]: _dropped, ...missing } = rec;
    const wrongType = { ...rec, [first]: 'oops' };
    const extra = { ...rec, addedLater: { any: 'thing' } };
    const f = write(path.join(dir, `${type}.mh`), [
      JSON.stringify(HEADER), JSON.stringify(missing), JSON.stringify(wrongType), JSON.stringify(extra),
      '{"type":"from-the-future","t":1}', '{"type":"from-the-future"}', END(2, type === 's' ? 1 : 0),
    ]);
    const r = await readMemhuntRecording(f);
    const why = `${type}: ${JSON.stringify(r.warnings)}`;
    assert.equal(r.warnings.length, 3, why);
    assert.equal(r.warnings[0], `record 2 a "${type}" record: lacks "${first}"; skipped`, why);
    assert.match(r.warnings[1]!, new RegExp(`^record 3 a "${type}" record: ${first} must be (a|an) [a-z ]+; skipped$`), why);
    assert.equal(r.warnings[2], 'skipped records of types this memhunt does not know (2 "from-the-future"): written by a later memhunt? Upgrade to see them', why);
    // The extra field was read past, and is not carried into the model.
    assert.doesNotMatch(JSON.stringify(r.events), /addedLater/, type);
    if (type === 's') assert.deepEqual([...r.total.tMs], [1]);
    if (type === 'census') assert.equal(r.events.filter((e) => e.kind === 'census').length, 1);
  }
});

test('a header with version "1" (a string) or of the wrong shape is refused: exit 2, one line', async () => {
  const dir = tempDir();
  const f = write(path.join(dir, 'v.mh'), [JSON.stringify({ ...HEADER, version: '1' }), sample(0), END(1, 1)]);
  await assert.rejects(readMemhuntRecording(f), /the header is malformed: version must be an integer/);
  const r = await runCli(['summary', f]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /version must be an integer/);
});

test('a non-JSON line mid-file is skipped with a warning; the rest is read; no "stopped while recording" when the end is there', async () => {
  const dir = tempDir();
  const f = write(path.join(dir, 'nj.mh'), [JSON.stringify(HEADER), sample(0), sample(100)], ['{"type":"s","t":2\u0000\u001b]0;x', sample(200), sample(300), END(400, 3)]);
  const rec = await readMemhuntRecording(f);
  assert.deepEqual([...rec.total.tMs], [0, 100, 200, 300]);
  assert.equal(rec.truncated, false);
  assert.equal(rec.warnings.length, 1, rec.warnings.join('\n'));
  assert.match(rec.warnings[0]!, /^record 4 is not valid JSON: "\{\\"type\\":\\"s\\",\\"t\\":2\\u0000\\u001b\]0;x"; skipped$/);
  // Without the end record, the message about a stopped memhunt is right, and given.
  const cut = write(path.join(dir, 'cut.mh'), [JSON.stringify(HEADER), sample(0), 'garbage', sample(100)]);
  const c = await readMemhuntRecording(cut);
  assert.deepEqual([...c.total.tMs], [0, 100]);
  assert.match(c.warnings.join('\n'), /stopped while recording/);
});

test('a flipped byte in a middle gzip member loses that member only: reading goes on at the next, and says how much was lost', async () => {
  const dir = tempDir();
  const members: string[][] = [[JSON.stringify(HEADER)]];
  for (let m = 0; m < 10; m++) {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) lines.push(sample(m * 1000 + i * 10, 1000 + ((m * 100 + i) * 7919) % 5000));
    members.push(lines);
  }
  members.push([END(10_000, 1000)]);
  const f = path.join(dir, 'flip.mh');
  write(f, ...members);
  const bytes = fs.readFileSync(f);
  const sizes = members.map((m) => zlib.gzipSync(m.join('\n') + '\n').length);
  const fifthAt = sizes.slice(0, 5).reduce((a, b) => a + b, 0);
  // A byte in the middle of the 5th member's compressed data (samples 4000–4990 ms).
  bytes[fifthAt + Math.floor(sizes[5]! / 2)] ^= 0x55;
  fs.writeFileSync(f, bytes);
  assert.throws(() => zlib.gunzipSync(bytes), 'the damage is real: gunzip refuses the file');
  const rec = await readMemhuntRecording(f);
  assert.equal(rec.truncated, false);
  assert.ok(rec.end, 'the end record after the damage was read');
  const t = [...rec.total.tMs];
  assert.ok(t.includes(3990) && t.includes(5000) && t.includes(9990), 'the members before and after the damaged one were read');
  assert.ok(t.length >= 900 && t.length < 1000, `${t.length} samples`);
  const w = rec.warnings.join('\n');
  assert.match(w, new RegExp(`compressed data is damaged in the gzip member at byte ${fifthAt} \\(.+\\); skipped ${sizes[5]} bytes \\(1 gzip member\\) to the next good member, at byte ${fifthAt + sizes[5]!}; the records between [\\d.]+ s and 5\\.0 s are lost`));
  assert.doesNotMatch(w, /stopped while recording/);
  // The commands say it on stderr and exit 0.
  const r = await runCli(['summary', f]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /compressed data is damaged in the gzip member/);
});

test('a 50 MB line is skipped with a warning naming the file and record, in time and memory linear in its length', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'long.mh');
  const huge = `{"type":"marker","t":150,"pid":null,"kind":"mark","label":"${'x'.repeat(50 * 1024 * 1024)}"}`;
  write(f, [JSON.stringify(HEADER), sample(0), sample(100)], [huge, sample(200), END(300, 3)]);
  const r = await runCli(['summary', f], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`memhunt: ${f}: record 4 is ${huge.length + 1} bytes long, more than a record can be \\(${MAX_RECORD_BYTES} bytes\\); skipped`));
  // Bounded memory: the reader keeps at most the cap of a line, not the line.
  const before = process.memoryUsage().rss;
  const started = process.hrtime.bigint();
  const rec = await readMemhuntRecording(f);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  assert.deepEqual([...rec.total.tMs], [0, 100, 200]);
  assert.ok(process.memoryUsage().rss - before < 120 * 1024 * 1024, `RSS grew by ${((process.memoryUsage().rss - before) / 2 ** 20).toFixed(0)} MiB`);
  // Linear: 50 MB took 2.6 s with the quadratic joining, ~0.2 s now; 10 s leaves room for a loaded machine.
  assert.ok(seconds < 10, `${seconds} s`);
  // A long line within the cap is read (a line of 2 MiB, in pieces across many decompressed chunks).
  const ok = path.join(dir, 'ok.mh');
  write(ok, [JSON.stringify(HEADER), JSON.stringify({ type: 'marker', t: 1, pid: null, kind: 'mark', label: 'y'.repeat(2 * 2 ** 20) }), END(2, 0)]);
  const o = await readMemhuntRecording(ok);
  assert.deepEqual(o.warnings, []);
  assert.equal((o.events[0] as { label: string }).label.length, 2 * 2 ** 20);
});
