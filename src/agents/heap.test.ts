import { test } from 'node:test';
import assert from 'node:assert/strict';
import { censusGrowth, heapByProcess, pickGrowingType, pickGrowingTypeWithReason } from './heap';
import type { HeapCensusEvent, RecordingEvent } from '../model/recording';

function census(t: number, rows: Array<[string, number, number]>): HeapCensusEvent {
  return { kind: 'census', tMs: t, pid: 1, label: `every 1s #${t}`, trigger: 'every', collected: true, objects: rows.reduce((s, r) => s + r[1], 0), totalBytes: rows.reduce((s, r) => s + r[2], 0), rows, durationMs: 1, notes: [] };
}

/**
 * An sklearn job keeping fitted forests: imports add ~10 MiB of str between the first two
 * censuses; then every interval adds 310 DecisionTreeClassifier (with their dicts and arrays) and
 * a little str. Ranked by bytes alone, str topped the growth and DecisionTreeClassifier was not in
 * the top 30.
 */
function forestRun(): HeapCensusEvent[] {
  const out: HeapCensusEvent[] = [];
  for (let i = 0; i < 5; i++) {
    const trees = 310 * i;
    const rows: Array<[string, number, number]> = [
      ['module', 500 + (i > 0 ? 300 : 0), 50_000 + (i > 0 ? 30_000 : 0)],
      ['str', 100_000 + (i > 0 ? 90_000 : 0) + 20 * i, 6_000_000 + (i > 0 ? 10_460_000 : 0) + 1500 * i],
      ['dict', 20_000 + 2 * trees, 4_000_000 + 2 * trees * 640],
      ['numpy.ndarray', 500 + 6 * trees, 2_000_000 + 6 * trees * 900],
      ['function', 30_000 + (i > 0 ? 9_000 : 0), 4_000_000 + (i > 0 ? 1_300_000 : 0)],
      ['sklearn.tree._classes.DecisionTreeClassifier', trees, trees * 48],
      ['sklearn.tree._tree.Tree', trees, trees * 120],
      ['sklearn.ensemble._forest.RandomForestClassifier', i * 3, i * 3 * 48],
    ];
    // What else start-up adds: a few large objects of many types (code, tuples of constants, ...).
    for (let k = 0; k < 30; k++) rows.push([`lib${k}.Thing`, i > 0 ? 2 : 0, i > 0 ? 100_000 : 0]);
    out.push(census(i + 1, rows));
  }
  return out;
}

test('growth is ranked by a score of counts and bytes: the trees rank near the top, with both shown', () => {
  const run = forestRun();
  // Over the whole run, import time included: str's +10 MiB is there, and the trees still rank high.
  const g = censusGrowth(run[0]!, run[4]!);
  const names = g.types.map((t) => t.typeName);
  const tree = 'sklearn.tree._classes.DecisionTreeClassifier';
  assert.ok(names.indexOf(tree) < 8, names.join(', '));
  for (const t of g.types) assert.ok(t.score >= 0 && t.score <= 2);
  // Bytes alone put it last of those that grew.
  const byBytes = [...g.types].filter((t) => t.bytesDelta > 0).sort((a, b) => b.bytesDelta - a.bytesDelta).map((t) => t.typeName);
  assert.ok(byBytes.indexOf(tree) > names.indexOf(tree), byBytes.join(', '));
  // After start-up, the trees and their arrays are the growth.
  const later = censusGrowth(run[1]!, run[4]!).types.map((t) => t.typeName);
  assert.ok(later.indexOf(tree) < 4, later.join(', '));
});

test('the automatic graph follows persistent growth, never what grew only at import', () => {
  const run = forestRun();
  assert.equal(pickGrowingType(run.slice(0, 3)), null, 'one quiet interval cannot tell a leak from start-up');
  const picked = pickGrowingType(run);
  // A class of the library that grows with the arrays, not the arrays (whose largest samples are the training data).
  assert.ok(picked?.startsWith('sklearn.'), String(picked));
  // A leak of bare arrays: numpy.ndarray, the only type that grows.
  const arrays = [1, 2, 3, 4].map((i) => census(i, [['numpy.ndarray', 100 + 10 * i, 1_000_000 * i], ['list', 50, 4000 + 80 * i], ['int', 10, 280]]));
  assert.equal(pickGrowingType(arrays), 'numpy.ndarray');
  // A pandas cache: 2000 new str per frame, one DataFrame (its header only): the arrays, not str.
  const frames = [1, 2, 3, 4].map((i) => census(i, [['str', 2000 * i, 120_000 * i], ['numpy.ndarray', 3 * i, 320_000 * i], ['pandas.core.frame.DataFrame', i, 56 * i]]));
  assert.equal(pickGrowingType(frames), 'numpy.ndarray');
  // Imports that go on for several censuses (a busy machine, lazy imports): not persistent growth.
  const importing = [1, 2, 3, 4, 5].map((i) => census(i, [['module', 100 * i, 10_000 * i], ['PyCapsule', 50 * i, 3000 * i], ['str', 1000 * i, 90_000 * i]]));
  assert.equal(pickGrowingType(importing), null);
  // str and function grew at import (the first interval) by far the most bytes: never chosen.
  const importOnly = [
    census(1, [['str', 1000, 100_000], ['function', 10, 1000], ['app.Record', 0, 0]]),
    census(2, [['str', 90_000, 9_000_000], ['function', 9000, 900_000], ['app.Record', 0, 0]]),
    census(3, [['str', 90_000, 9_000_000], ['function', 9000, 900_000], ['app.Record', 0, 0]]),
    census(4, [['str', 90_000, 9_000_000], ['function', 9000, 900_000], ['app.Record', 0, 0]]),
  ];
  assert.equal(pickGrowingType(importOnly), null);
  // A builtin that grows every interval, with no class of the program's growing: the builtin.
  const strLeak = [1, 2, 3, 4].map((i) => census(i, [['str', 1000 * i, 100_000 * i], ['int', 10, 280]]));
  assert.equal(pickGrowingType(strLeak), 'str');
});

test('skipped censuses are listed with their reason per process', () => {
  const run = forestRun();
  const events: RecordingEvent[] = [
    run[0]!,
    { kind: 'note', tMs: 1500, pid: 1, text: 'census every 1s #2 skipped: the previous one (every 1s #1) was still running in pid 1', skippedCensus: 'every 1s #2' },
    { kind: 'note', tMs: 1600, pid: 1, text: 'agent error: x' },
    run[2]!,
  ];
  const [p] = heapByProcess(events);
  assert.deepEqual(p!.skipped.map((s) => s.label), ['every 1s #2']);
});

test('a census that failed is listed as failed (tr.mh: "#6 skipped: #5 still running" named a census never listed)', () => {
  const run = forestRun();
  const events: RecordingEvent[] = [
    run[0]!,
    { kind: 'note', tMs: 18_133, pid: 1, text: 'census every 3.00 s #6 skipped: pid 1 was still busy with census every 3.00 s #5, under way for 3.00 s', skippedCensus: 'every 3.00 s #6' },
    { kind: 'note', tMs: 18_411, pid: 1, text: 'census (every 3.00 s #5) failed: pid 1 ended (or closed its connection) before answering census' },
    { kind: 'note', tMs: 18_500, pid: 1, text: 'refs Foo (every 3.00 s #5) failed: x' },
  ];
  const [p] = heapByProcess(events);
  assert.deepEqual(p!.failed, [{ tMs: 18_411, label: 'every 3.00 s #5', text: 'pid 1 ended (or closed its connection) before answering census' }]);
  assert.deepEqual(p!.skipped.map((s) => s.label), ['every 3.00 s #6']);
});

test('the automatic graph follows what holds the new bytes: one array that keeps its count, not the weakrefs made beside it', () => {
  // A user's numpy job: one ndarray grown by np.concatenate (+7.6 MiB a census, its count the same)
  // and 1,600 weakrefs a census. Only types with more objects were candidates: the graph was of
  // weakref.ReferenceType.
  const run = [1, 2, 3, 4, 5].map((i) => census(i, [
    ['numpy.ndarray', 40, 8_000_000 * i], ['weakref.ReferenceType', 1600 * i, 80 * 1600 * i], ['list', 30, 8 * 1600 * i], ['int', 10, 280],
  ]));
  const pick = pickGrowingTypeWithReason(run);
  assert.equal(pick?.typeName, 'numpy.ndarray');
  assert.match(pick!.why, /^it holds the growth: no new objects, \+30\.5 MiB \(98% of the new bytes\) over the last 4 quiet census intervals; .*it grew in 4 of those 4 intervals$/);
  // Only builtins grow: the one holding most of the new bytes (a bytearray extended in place), not
  // the many small objects.
  const builtins = [1, 2, 3, 4].map((i) => census(i, [['bytearray', 1, 4_000_000 * i], ['weakref.ReferenceType', 3000 * i, 80 * 3000 * i], ['int', 10, 280]]));
  assert.equal(pickGrowingType(builtins), 'bytearray');
  // A leak slower than the censuses: 8 MB of arrays every third interval, 1,600 weakrefs every
  // interval. The arrays hold the bytes that appeared; the weakrefs were followed.
  const slow = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => census(i + 1, [
    ['numpy.ndarray', 40 + 8 * Math.floor(i / 3), 8_000_000 * Math.floor(i / 3)], ['weakref.ReferenceType', 1600 * i, 80 * 1600 * i], ['int', 10, 280],
  ]));
  assert.equal(pickGrowingType(slow), 'numpy.ndarray');
  // A class of the program that grows is still followed first, and the reason says so.
  const own = [1, 2, 3, 4].map((i) => census(i, [['numpy.ndarray', 40 + i, 8_000_000 * i], ['app.Record', 100 * i, 56 * 100 * i]]));
  const o = pickGrowingTypeWithReason(own);
  assert.equal(o?.typeName, 'app.Record');
  assert.match(o!.why, /^a class that grew: \+300 objects \(\d+% of the new ones\)/);
});

test('a few bytes more in a builtin (a dict that resized) is not growth: no automatic graph on a flat program', () => {
  // census_flat.py: the automatic graph followed "dict … +16 B (100% of the new bytes)", and its own
  // memory was then the step the census-cost test measured (4.8 MiB where the censuses said 1.9).
  const flat = [1, 2, 3, 4].map((i) => census(i, [['dict', 1775, 638_000 + 16 * i], ['str', 9566, 1_010_000], ['int', 10, 280]]));
  assert.equal(pickGrowingType(flat), null);
  // 64 KiB and more is growth, as before.
  const grows = [1, 2, 3, 4].map((i) => census(i, [['dict', 1775, 638_000 + 200_000 * i], ['str', 9566, 1_010_000]]));
  assert.equal(pickGrowingType(grows), 'dict');
});
