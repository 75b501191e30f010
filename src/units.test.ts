import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, parseDuration, parseSize, UnitError } from './units';

test('parseSize reads binary and decimal units', () => {
  assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
  assert.equal(parseSize('2G'), 2 * 1024 ** 3);
  assert.equal(parseSize('2g'), 2 * 1024 ** 3);
  assert.equal(parseSize('1.5GB'), 1.5e9);
  assert.equal(parseSize('300 KiB'), 300 * 1024);
  assert.equal(parseSize('100Mi'), 100 * 1024 ** 2);
  assert.equal(parseSize('1B'), 1);
});

test('parseSize refuses malformed sizes with a message that shows the way', () => {
  for (const bad of ['12XB', '-5MiB', '0', '0MiB', '', 'MiB', '1e3MB', '100']) {
    assert.throws(() => parseSize(bad, '--limit'), (e: unknown) => e instanceof UnitError && /--limit/.test((e as Error).message), bad);
  }
  assert.throws(() => parseSize('100'), /needs a unit/);
  assert.throws(() => parseSize('12XB'), /unknown unit "XB"/);
});

test('parseDuration reads ms, s, m, h and bare seconds', () => {
  assert.equal(parseDuration('10ms'), 10);
  assert.equal(parseDuration('0.5s'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('0.1'), 100);
  assert.equal(parseDuration('250us'), 0.25);
});

test('parseDuration refuses zero, negative and unknown units', () => {
  for (const bad of ['0', '-5ms', '0ms', '5 fortnights', 'abc', '']) {
    assert.throws(() => parseDuration(bad, '--interval'), UnitError, bad);
  }
});

test('formatBytes and formatDuration print compactly', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(512 * 1024 ** 2), '512 MiB');
  assert.equal(formatBytes(1.5 * 1024 ** 3), '1.50 GiB');
  assert.equal(formatBytes(12.34 * 1024), '12.3 KiB');
  assert.equal(formatDuration(850), '850 ms');
  assert.equal(formatDuration(12_300), '12.3 s');
  assert.equal(formatDuration(185_000), '3m05s');
  assert.equal(formatDuration(7_440_000), '2h04m');
});
