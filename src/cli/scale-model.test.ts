/**
 * `memhunt scale` end to end: a fixed 200 MiB model plus a linear part. Three runs only: each
 * writes 200 MiB, which on a loaded 2-core machine took ~40 s a run; the projection against a
 * measured larger run is checked by the linear and quadratic files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tempDir } from '../test-support';
import { MiB, PY, scale, script, MODEL_PY } from './scale-testkit';

test('a fixed 200 MiB model plus 4 KiB per item: the fixed part and the per-item cost are recovered', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'model.py', MODEL_PY);
  const full = 20_000;
  const { json } = await scale(['--sizes', '2500,5000,10000', '--full', String(full), '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'linear', JSON.stringify(json.model));
  // 4000 B of bytes object + its 33 B header, in a malloc'd block of ~4048 B.
  assert.ok(Math.abs(json.model.coef / 4048 - 1) <= 0.1, `${json.model.coef} B per item`);
  assert.ok(json.model.fixedBytes >= 200 * MiB && json.model.fixedBytes <= 1.1 * 215 * MiB, `fixed ${(json.model.fixedBytes / MiB).toFixed(1)} MiB`);
  assert.ok(Math.abs(json.projection.bytes / (json.model.fixedBytes + 4048 * full) - 1) < 0.05);
});

