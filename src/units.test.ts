import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatDuration, formatRate, parseDuration, parsePercent, parseRate, parseSize, UnitError } from './units';

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

test('parseRate reads a size per time unit into bytes per minute', () => {
  const MiB = 1024 ** 2;
  assert.equal(parseRate('5MiB/min'), 5 * MiB);
  assert.equal(parseRate('60MiB/h'), MiB);
  assert.equal(parseRate('1GiB/h'), 1024 ** 3 / 60);
  assert.equal(parseRate('1MiB/s'), 60 * MiB);
  assert.equal(parseRate(' 2 MiB / min '), 2 * MiB);
  assert.equal(parseRate('1440MB/day'), 1e6);
  assert.equal(parseRate('5M/m'), 5 * MiB);
});

test('parseRate refuses malformed rates with a message that shows the way', () => {
  assert.throws(() => parseRate('5MiB/fortnight', '--max-growth'), /--max-growth "5MiB\/fortnight" has an unknown time unit "fortnight"; use s, min, h or day/);
  assert.throws(() => parseRate('5MiB', '--max-growth'), /is not a rate; write a size per time, e\.g\. 5MiB\/min/);
  assert.throws(() => parseRate('5/min'), /the size needs a unit/);
  assert.throws(() => parseRate('0MiB/min'), /greater than zero/);
  assert.throws(() => parseRate('-5MiB/min'), /not a size/);
  assert.throws(() => parseRate('5XB/min'), (e: unknown) => e instanceof UnitError && /unknown unit "XB"/.test((e as Error).message));
});

test('parsePercent needs a % and a value in (0, 100]', () => {
  assert.equal(parsePercent('80%'), 0.8);
  assert.equal(parsePercent('100%'), 1);
  assert.equal(parsePercent('12.5 %'), 0.125);
  assert.throws(() => parsePercent('120%', '--max-share-of-limit'), /--max-share-of-limit "120%" must be more than 0% and at most 100%/);
  assert.throws(() => parsePercent('0%'), /more than 0%/);
  assert.throws(() => parsePercent('0.8'), /followed by %, e\.g\. 80%/);
  assert.throws(() => parsePercent('abc%'), /not a percentage/);
});

test('formatRate prints bytes per minute, signed on request', () => {
  assert.equal(formatRate(5 * 1024 ** 2), '5.00 MiB/min');
  assert.equal(formatRate(5 * 1024 ** 2, true), '+5.00 MiB/min');
  assert.equal(formatRate(-512 * 1024, true), '-512 KiB/min');
  assert.equal(formatRate(0, true), '0 B/min');
});

test('formatCount groups thousands as en-US does', () => {
  for (const n of [0, 7, 999, 1000, 12345, 1_000_000, 987_654_321, -4321, 2.6]) {
    assert.equal(formatCount(n), Math.round(n).toLocaleString('en-US'), String(n));
  }
});
