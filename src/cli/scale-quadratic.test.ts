/** `memhunt scale` end to end: an N×N matrix (quadratic) against a measured larger run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tempDir } from '../test-support';
import { assertProjection, measured, PY, scale, script, MATRIX_PY } from './scale-testkit';

test('an N×N float64 matrix: quadratic, 8 B per pair within 10%, the projection holds a larger run', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'matrix.py', MATRIX_PY);
  const full = 4000;
  const { json } = await scale(['--sizes', '500,1000,1500,2000', '--full', String(full), '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'quadratic', JSON.stringify(json.model));
  assert.ok(Math.abs(json.model.coef / 8 - 1) <= 0.1, `${json.model.coef} B per pair`);
  assert.ok(json.findings.some((f) => /superlinear: the growing part grows as N\^[12]\.\d\d: something holds a pairwise structure/.test(f)), json.findings.join('\n'));
  assertProjection(json, await measured(prog, full, dir), 'matrix');
});
