import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptRecordingError } from '../errors';
import type { MemoryRecording } from '../model/recording';
import { detectFormat } from './index';
import { JSON_VERSION, isJson, readJson, writeJson, type JsonRecording } from './json';
import { readMprofDat } from './mprof-dat';
import { readFixture, sampleRecording } from './testkit';

/** The model with typed arrays turned into plain ones, for deepEqual. */
function plain(rec: MemoryRecording): unknown {
  return JSON.parse(JSON.stringify(rec, (_k, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v)));
}

describe('JSON', () => {
  it('a memhunt recording comes back whole; export -> import -> export is stable', () => {
    const rec = sampleRecording();
    const j1 = writeJson(rec);
    const back = readJson(j1)!;
    assert.deepEqual(plain(back), plain({ ...rec, meta: { ...rec.meta, source: 'json' } }));
    assert.equal(back.processes[0]!.hwmBytes, rec.processes[0]!.hwmBytes);
    assert.ok(Number.isNaN(back.processes[1]!.hwmBytes), 'unknown VmHWM: null in JSON, NaN again in the model');
    assert.ok(back.total.tMs instanceof Float64Array);
    const j2 = writeJson(back);
    assert.equal(writeJson(readJson(j2)!), j2);
    assert.equal(detectFormat('', j1)?.name, 'json');
    assert.equal(detectFormat('r.json', j1)?.name, 'json');
  });

  it('documents itself: format first, plain arrays, bytes as numbers', () => {
    const doc = JSON.parse(writeJson(sampleRecording())) as JsonRecording;
    assert.equal(Object.keys(doc)[0], 'format');
    assert.equal(doc.format, 'memhunt-json');
    assert.equal(doc.version, JSON_VERSION);
    assert.deepEqual(doc.total.tMs.slice(0, 2), [0, 100]);
    assert.deepEqual(doc.total.bytes.slice(0, 1), [10 * 2 ** 20]);
    assert.equal(doc.processes[1]!.hwmBytes, null);
  });

  it('round trip of an mprof file with sections', () => {
    const rec = readMprofDat(readFixture('mprof', '0.61', 'profiled.dat'))!;
    const back = readJson(writeJson(rec))!;
    assert.deepEqual(plain(back), plain({ ...rec, meta: { ...rec.meta, source: 'json' } }));
  });

  it('threshold, action and agent events (censuses, allocation sites, reference graphs) come back whole', () => {
    const rec = sampleRecording();
    rec.events.push(
      { kind: 'threshold', tMs: 200, bytes: 60 * 2 ** 20, thresholdBytes: 50 * 2 ** 20, action: 'exec', command: 'echo hi', note: null },
      { kind: 'action-output', tMs: 210, command: 'echo hi', exitCode: 0, exitSignal: null, output: 'hi\n' },
      { kind: 'note', tMs: 215, text: 'entered pdb', pid: 100 },
      { kind: 'agent', tMs: 5, pid: 100, runtime: 'python', runtimeVersion: '3.11.2', features: ['census', 'trace', 'refs', 'break'] },
      {
        kind: 'census', tMs: 220, pid: 100, label: 'after epoch 1', trigger: 'program', collected: true, objects: 1234, totalBytes: 99_000,
        rows: [['dict', 400, 50_000], ['str', 800, 49_000], ['(other)', 34, 0]], durationMs: 12.5, notes: ['numpy arrays sized by nbytes'],
      },
      {
        kind: 'trace', tMs: 230, pid: 100, label: '', trigger: 'threshold', tracedBytes: 5e6, tracedPeakBytes: 6e6, rssBytes: 9e6, tracemallocBytes: 1e6, durationMs: 40,
        bySize: [{ file: 'train.py', line: 12, code: 'cache.append(x)', package: '', bytes: 4e6, count: 10, bytesDelta: null }],
        byGrowth: [{ file: 'train.py', line: 12, code: 'cache.append(x)', package: '', bytes: 4e6, count: 10, bytesDelta: 1e6 }],
        byPackage: [{ package: 'numpy', bytes: 1e6, bytesDelta: null }],
      },
      {
        kind: 'refs', tMs: 240, pid: 100, trigger: 'client', typeName: 'Leaky', count: 3, reachedRoot: true,
        nodes: [{ id: 'a', type: 'Leaky', label: 'Leaky', kind: 'sample', bytes: 48 }, { id: 'b', type: 'module', label: 'leaky', kind: 'module', bytes: 0 }],
        edges: [{ from: 'b', to: 'a', label: 'CACHE' }],
      },
      { kind: 'isolated', tMs: 260, pid: 100, label: 'build_index', childPid: 101, peakRssBytes: 7e7, durationMs: 800, ok: true },
    );
    const back = readJson(writeJson(rec))!;
    assert.deepEqual(back.warnings, []);
    assert.deepEqual(plain(back), plain({ ...rec, meta: { ...rec.meta, source: 'json' } }));
    const doc = JSON.parse(writeJson(rec)) as { events: Array<Record<string, unknown>> };
    // An event of the wrong shape (a census row of 1 item, a trace without tracedBytes, a refs
    // node of an unknown kind) is skipped with a warning naming it; the rest is read; extra
    // fields are dropped.
    const census = doc.events.findIndex((e) => e.kind === 'census');
    (doc.events[census]!.rows as unknown[]).push(['int']);
    const trace = doc.events.findIndex((e) => e.kind === 'trace');
    delete doc.events[trace]!.tracedBytes;
    const refs = doc.events.find((e) => e.kind === 'refs')!;
    refs.fromTheFuture = 1;
    const n = doc.events.length;
    const bad = readJson(JSON.stringify(doc))!;
    assert.equal(bad.events.length, n - 2);
    assert.deepEqual(bad.warnings, [
      `events[${census}]: rows[3] must NOT have fewer than 3 items; that event was skipped`,
      `events[${trace}]: lacks "tracedBytes"; that event was skipped`,
    ]);
    assert.equal('fromTheFuture' in bad.events.find((e) => e.kind === 'refs')!, false);
  });

  it('skips events of unknown kinds with a warning (a later memhunt may add some)', () => {
    const doc = JSON.parse(writeJson(sampleRecording())) as { events: unknown[] };
    doc.events.push({ kind: 'gc-cycle', tMs: 1 });
    const back = readJson(JSON.stringify(doc))!;
    assert.equal(back.events.length, 6);
    assert.match(back.warnings.join('\n'), /1 event\(s\) of a kind/);
  });

  it('null for other JSON; CorruptRecordingError for ours but broken', () => {
    assert.equal(readJson('{"a": 1}'), null);
    assert.equal(readJson(''), null);
    assert.equal(isJson(readFixture('invalid', 'garbage.bin')), false);
    const text = writeJson(sampleRecording());
    const bad = (t: string, message: RegExp): void => {
      assert.throws(() => readJson(t), (e: Error) => e instanceof CorruptRecordingError && message.test(e.message));
    };
    bad(text.slice(0, 200), /not valid JSON.*cut/);
    bad(text.replace('"version":1', '"version":2'), /version 2 is newer/);
    bad(text.replace('"pid":101', '"pid":"101"'), /processes\[1\]\.pid should be a number, not string/);
    bad(text.replace('"metric":"rss","limitBytes"', '"metric":"vsz","limitBytes"'), /meta\.metric should be one of rss, pss, uss/);
    const doc = JSON.parse(text) as { total: { tMs: number[] } };
    doc.total.tMs.reverse();
    bad(JSON.stringify(doc), /comes before the previous one/);
  });
});
