import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decimalEnd, readDecimal } from './decimal';

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('readDecimal reads plain decimals exactly as Number() does and says where it stopped', () => {
  for (const text of ['0', '7', '41.750000', '1234.5', '0.1', '99999999999999.9', '1795791456.2073', '123456789012345']) {
    const v = readDecimal(bytes(text + ','), 0);
    assert.equal(v, Number(text), text);
    assert.equal(decimalEnd.at, text.length, text);
  }
  // Random decimals of up to 15 digits, as the writers print them.
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let k = 0; k < 20000; k++) {
    const text = (rand() * 10 ** Math.floor(rand() * 9)).toFixed(Math.floor(rand() * 7));
    assert.equal(readDecimal(bytes(` ${text} `), 1), Number(text), text);
    assert.equal(decimalEnd.at, text.length + 1);
  }
});

test('readDecimal refuses what is not a plain decimal, leaving it to the slow paths', () => {
  for (const text of ['', '-1', '+1', '.5', '5.', '1e5', '1.5E3', '1234567890123456', '0.1234567890123456', 'x', 'null']) {
    decimalEnd.at = -7;
    assert.ok(Number.isNaN(readDecimal(bytes(text + ' '), 0)), text);
    assert.equal(decimalEnd.at, -7, `${text}: the end is only set for a number`);
  }
});
