import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { samplesPerRow } from './rows';
import { series } from './testkit';

describe('samplesPerRow', () => {
  const rows = new Float64Array([0, 100, 200, 300]);

  it('takes the last sample in [t_i, t_i+1), NaN for rows without one', () => {
    // 101 and 150 fall in row 1 (the later wins), nothing in row 2, 350 in the open last row.
    const r = samplesPerRow(rows, series([[1, 10], [101, 20], [150, 30], [350, 40]]));
    assert.deepEqual(Array.from(r.bytes), [10, 30, NaN, 40]);
    assert.deepEqual(Array.from(r.tMs), [1, 150, NaN, 350]);
  });

  it('counts samples before the first row for the first row', () => {
    assert.deepEqual(Array.from(samplesPerRow(rows, series([[-5, 7]])).bytes), [7, NaN, NaN, NaN]);
  });

  it('carries a level forward when asked (the cgroup limit is written on change only)', () => {
    const r = samplesPerRow(rows, series([[100, 5], [250, 6]]), true);
    assert.deepEqual(Array.from(r.bytes), [NaN, 5, 6, 6]);
  });
});
