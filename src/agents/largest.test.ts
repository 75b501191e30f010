/** The text of --largest / --duplicates and their options (pure; the agent side is tested end to end in largest-e2e-*.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DuplicatesBody } from '../contract/shapes';
import type { HeapCensusEvent, MemoryRecording } from '../model/recording';
import { formatHeap } from '../cli/agent-commands';
import { heapByProcess } from './heap';
import { DEFAULT_DUPLICATES_MIN_BYTES, duplicatesLines, largestLines, resolveLargestOptions } from './largest';

const MiB = 1024 ** 2;

test('options: --largest N, --duplicates with its default and --min-size; bad values refused', () => {
  assert.deepEqual(resolveLargestOptions({}), {});
  assert.deepEqual(resolveLargestOptions({ largest: '20', duplicates: true }), { largest: 20, duplicatesMinBytes: DEFAULT_DUPLICATES_MIN_BYTES });
  assert.deepEqual(resolveLargestOptions({ duplicates: true, minSize: '10MiB' }), { duplicatesMinBytes: 10 * MiB });
  assert.throws(() => resolveLargestOptions({ largest: '0' }), /--largest "0" must be a whole number from 1 to 1000/);
  assert.throws(() => resolveLargestOptions({ largest: '1001' }), /from 1 to 1000/);
  assert.throws(() => resolveLargestOptions({ duplicates: true, minSize: '0' }), /greater than zero/);
  assert.throws(() => resolveLargestOptions({ duplicates: true, minSize: '5' }), /needs a unit/);
  assert.throws(() => resolveLargestOptions({ minSize: '5MiB' }), /add --duplicates/);
});

const dups: DuplicatesBody = {
  minBytes: MiB, candidates: 4, candidateBytes: 120 * MiB, readBytes: 60 * MiB, durationMs: 12, notes: [],
  groups: [{
    what: 'float64 values', totalBytes: 75 * MiB, savedBytes: 45 * MiB,
    holders: [
      { typeName: 'numpy.ndarray', bytes: 30 * MiB, label: 'float64 3932160', path: '__main__.BASE', relation: 'identical' },
      { typeName: 'numpy.ndarray', bytes: 30 * MiB, label: 'float64 3932160', path: '__main__.copy', relation: 'identical' },
      { typeName: 'numpy.ndarray', bytes: 15 * MiB, label: 'float32 3932160', path: '__main__.half', relation: 'converted' },
    ],
    sharing: [{ typeName: 'numpy.ndarray', bytes: 30 * MiB, label: 'float64 3932144', path: '__main__.view', relation: 'shares', sharesWith: 0 }],
  }],
  changed: [{ typeName: 'bytearray', bytes: 2 * MiB, label: 'bytearray, 2.00 MiB', path: '__main__.buf', relation: 'changed' }],
};

test('duplicates: a group with its saving, each holder with its relation, the view under its owner, the changed ones apart', () => {
  const text = duplicatesLines(dups).join('\n');
  // Each figure says what it is: "120 MiB; 60.0 MiB compared" did not.
  assert.match(text, /^duplicates: 4 objects with ≥ 1\.00 MiB of data each, holding 120 MiB in all; comparing them read 60\.0 MiB \(only equal lengths are compared; some data twice\) in 12 ms:$/m);
  assert.match(text, /group 1: 30\.0 MiB of float64 values \(ndarray\), 3 holders, 75\.0 MiB in all; keeping one would save 45\.0 MiB/);
  assert.match(text, /30\.0 MiB {2}identical {2}ndarray float64 3932160 +__main__\.copy/);
  assert.match(text, /15\.0 MiB {2}converted {2}ndarray float32 3932160 +__main__\.half/);
  assert.match(text, /shares +ndarray float64 3932144 +__main__\.view {2}\(a view of __main__\.BASE: not a copy\)/);
  assert.match(text, /changed while compared \(not grouped; compare again later\):\n +2\.00 MiB {2}bytearray, 2\.00 MiB +__main__\.buf/);
  assert.match(duplicatesLines({ ...dups, groups: [], changed: [] }).join('\n'), /no two objects hold the same data/);
});

test('duplicates: raw bytes are not headed as the type bytes; a group of many holders shows ten and counts the rest', () => {
  const holders = Array.from({ length: 29 }, (_, i) => ({ typeName: 'bytearray', bytes: MiB, label: 'bytearray, 1.00 MiB', path: `__main__.keep[${28 - i}]`, relation: 'identical' as const }));
  const many: DuplicatesBody = { ...dups, changed: [], groups: [
    { what: 'bytes', totalBytes: 60 * MiB, savedBytes: 30 * MiB, sharing: [], holders: [
      { typeName: 'bytearray', bytes: 30 * MiB, label: 'bytearray, 30.0 MiB', path: '__main__.data', relation: 'identical' },
      { typeName: 'bytes', bytes: 30 * MiB, label: 'bytes, 30.0 MiB', path: '__main__.copy1', relation: 'identical' },
    ] },
    { what: 'bytes', totalBytes: 29 * MiB, savedBytes: 28 * MiB, sharing: [], holders },
  ] };
  const text = duplicatesLines(many).join('\n');
  assert.match(text, /group 1: 30\.0 MiB of raw bytes \(bytearray, bytes\), 2 holders/);
  assert.match(text, /group 2: 1\.00 MiB of raw bytes \(bytearray\), 29 holders/);
  assert.equal((text.match(/__main__\.keep\[/g) ?? []).length, 10 + 2, 'ten rows, then the first and last of the rest');
  assert.match(text, /… 19 more of 19\.0 MiB: __main__\.keep\[18\] … __main__\.keep\[0\] \(--json lists all\)/);
});

test('memhunt heap: each process its latest largest objects and duplicates; the tree its largest across processes', () => {
  const census = (pid: number, tMs: number, largest: HeapCensusEvent['largest'], duplicates?: DuplicatesBody): HeapCensusEvent => ({
    kind: 'census', tMs, pid, label: `every 1m #${tMs}`, trigger: 'every', collected: true, objects: 10, totalBytes: 100 * MiB,
    rows: [['numpy.ndarray', 3, 90 * MiB]], durationMs: 5, notes: [], ...(largest ? { largest } : {}), ...(duplicates ? { duplicates } : {}),
  });
  const events = [
    census(10, 1000, [{ typeName: 'numpy.ndarray', bytes: 10 * MiB, label: 'float64 1310720', path: '__main__.old' }]),
    census(10, 61000, [{ typeName: 'numpy.ndarray', bytes: 40 * MiB, label: 'float64 5242880', path: '__main__.big' }], dups),
    census(11, 62000, [{ typeName: 'bytes', bytes: 20 * MiB, label: 'bytes, 20.0 MiB', path: 'worker.CACHE[\'k\']' }]),
  ];
  const rec = { processes: [] } as unknown as MemoryRecording;
  const text = formatHeap(rec, heapByProcess(events), 10);
  assert.ok(!text.includes('__main__.old'), 'only the latest census with --largest');
  assert.match(text, /largest objects of the 2 processes[^\n]*\n +40\.0 MiB +ndarray float64 5242880 +pid 10: __main__\.big\n +20\.0 MiB +bytes, 20\.0 MiB +pid 11: worker\.CACHE\['k'\]/);
  assert.match(text, /keeping one would save 45\.0 MiB/);
});

test('memhunt heap counts what it lists: censuses taken, failed, skipped; a census that took long says how long', () => {
  const c = (tMs: number, label: string, durationMs: number, notes: string[]): HeapCensusEvent => ({
    kind: 'census', tMs, pid: 7, label, trigger: 'every', collected: true, objects: 10, totalBytes: 100 * MiB,
    rows: [['numpy.ndarray', 3, 90 * MiB]], durationMs, notes,
  });
  const events = [
    c(2000, 'every 2.00 s #1', 170, ['largest/duplicates took 331 ms after the census']),
    c(4000, 'every 2.00 s #2', 470, []),
    c(6000, 'every 2.00 s #3', 340, ['largest/duplicates took 2258 ms after the census']),
    { kind: 'note' as const, tMs: 8000, pid: 7, skippedCensus: 'every 2.00 s #4', text: 'census every 2.00 s #4 skipped: pid 7 was still busy with census every 2.00 s #3 (the census, then its largest objects and duplicates), under way for 2.00 s' },
    { kind: 'note' as const, tMs: 10_700, pid: 7, text: 'census (every 2.00 s #5) failed: pid 7 ended (or closed its connection) before answering census' },
  ];
  const text = formatHeap({ processes: [] } as unknown as MemoryRecording, heapByProcess(events), 10);
  // Every census due, then how many were taken, skipped, failed ("3 censuses (1 failed, 1 skipped)" read as 3 + 1 + 1 or as 3 in all).
  assert.match(text, /^pid 7: 5 censuses due: 3 taken, 1 skipped, 1 failed\n/);
  assert.match(text, /00:06\.0 +every 2\.00 s #3 .* took 2\.60 s \(census 340 ms, then largest\/duplicates\)\n/);
  assert.doesNotMatch(text.split('\n').find((l) => l.includes('#1 '))!, /took/, 'under a second: not said');
  assert.match(text, /00:08\.0 +every 2\.00 s #4 skipped: pid 7 was still busy with census every 2\.00 s #3 \(the census, then its largest objects and duplicates\), under way for 2\.00 s\n/);
  assert.match(text, /00:10\.7 +every 2\.00 s #5 failed: pid 7 ended \(or closed its connection\) before answering census\n/);
});

test('largest: a container shows what it holds beside its own storage, so its storage is not read as all it keeps', () => {
  const text = largestLines([
    { typeName: 'list', bytes: 7.6 * MiB, label: 'list, 1000000 items of list', path: '__main__.rows', holdsBytes: 183 * MiB },
    { typeName: 'numpy.ndarray', bytes: 30 * MiB, label: 'float64 3932160', path: '__main__.BASE' },
    { typeName: 'list', bytes: 8 * MiB, label: 'list, 1048576 items of float', path: '__main__.same' },
  ]).join('\n');
  assert.match(text, /^largest objects \(the memory each owns: .*a container its own storage, with what it holds\):$/m);
  assert.match(text, /^ +7\.60 MiB {2}list, 1000000 items of list +__main__\.rows {2}\(holds ≈183 MiB with its numbers and strings\)$/m);
  assert.match(text, /^ +30\.0 MiB {2}ndarray float64 3932160 +__main__\.BASE$/m);
  assert.match(text, /^ +8\.00 MiB {2}list, 1048576 items of float +__main__\.same$/m);
});
