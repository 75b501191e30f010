/** `memhunt scale` end to end: a list of N floats (linear), projected against a measured larger run; its recordings read back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../test-support';
import { assertProjection, measured, PY, scale, script, LIST_PY } from './scale-testkit';

test('a list of N floats: linear, 40 B per item within 10%, the projection holds a larger run; recordings read back', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'floats.py', LIST_PY);
  const runs = path.join(dir, 'runs');
  const full = 3_200_000;
  const { json } = await scale(['--sizes', '200000,400000,800000,1600000', '--full', String(full), '--dir', runs, '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'linear', JSON.stringify(json.model));
  assert.ok(Math.abs(json.model.coef / 40 - 1) <= 0.1, `${json.model.coef} B per item`);
  assert.ok(json.findings.some((f) => /per-item cost ≈ \d+(\.\d+)? B per item/.test(f)), json.findings.join('\n'));
  assert.equal(json.runs.length, 4);
  for (const r of json.runs) assert.ok(fs.existsSync(r.path), r.path);
  assertProjection(json, await measured(prog, full, dir), 'list of floats');

  // The same recordings, read back: sizes from their headers, then from the command's argument 2.
  const files = fs.readdirSync(runs).map((f) => path.join(runs, f));
  const again = await scale([...files, '--full', String(full)]);
  assert.equal(again.json.model.kind, 'linear');
  assert.ok(Math.abs(again.json.projection.bytes / json.projection.bytes - 1) < 1e-9);
  const byArg = await scale([...files, '--size-from-arg', '2', '--full', String(full)]);
  assert.equal(byArg.json.projection.bytes, again.json.projection.bytes);
  // The folder itself, as `memhunt report DIR` takes it (trial 4: "is a directory").
  const byFolder = await scale([runs, '--full', String(full)]);
  assert.equal(byFolder.json.projection.bytes, again.json.projection.bytes);
});

