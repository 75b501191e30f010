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
