import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { CorruptRecordingError } from '../errors';
import { FOREIGN_FORMATS, detectFormat, formatForName, readForeign } from './index';
import { fixturePath, readFixture, sampleRecording } from './testkit';

describe('formats registry', () => {
  it('lists mprof, csv, json in that order', () => {
    assert.deepEqual(FOREIGN_FORMATS.map((f) => f.name), ['mprof', 'csv', 'json']);
    assert.equal(formatForName('/tmp/Run.CSV')?.name, 'csv');
    assert.equal(formatForName('run.mh'), null);
    assert.equal(formatForName('.dat'), null, 'a dot file has no extension');
  });

  it('detects by content when the name says otherwise, and agrees without a name', () => {
    const rec = sampleRecording();
    for (const f of FOREIGN_FORMATS) {
      const text = f.write(rec);
      assert.equal(detectFormat('', text)?.name, f.name);
      assert.equal(detectFormat('misnamed.dat', text)?.name, f.name);
      assert.equal(detectFormat('misnamed.json', text)?.name, f.name);
    }
  });

  it('reads every real mprof fixture', () => {
    const dir = fixturePath('mprof', '0.61');
    const names = fs.readdirSync(dir).filter((n) => n.endsWith('.dat'));
    assert.ok(names.length >= 5);
    for (const name of names) {
      const rec = readForeign(`${dir}/${name}`, readFixture('mprof', '0.61', name));
      assert.equal(rec?.meta.source, 'mprof', name);
    }
  });

  it('invalid files: null when no format claims them, CorruptRecordingError when one does', () => {
    const read = (name: string): unknown => readForeign(fixturePath('invalid', name), readFixture('invalid', name));
    assert.equal(read('empty.dat'), null);
    assert.equal(read('garbage.bin'), null);
    assert.equal((read('cut.dat') as { truncated: boolean }).truncated, true);
    assert.throws(() => read('non-numeric-mem.dat'), CorruptRecordingError);
  });
});
