/**
 * Issue 10 leftover: in a DataFrame-cache leak the leaking DataFrame ranked 16th in `memhunt heap`
 * (its blocks' bytes were in the numpy.ndarray row, the frames counted by their headers). A pandas
 * object is now sized by its blocks, each buffer once, so the frames rank first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { PYTHON, missing } from './heap-e2e-support.test';

test('pandas: a DataFrame cache ranks the DataFrame first in the growth, by its blocks', { skip: missing('pandas'), timeout: 180_000 }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'pd.mh');
  const r = await runCli(['run', '-q', '-o', out, '--heap-every', '1s', '--', PYTHON, path.join(FIXTURES, 'agents', 'heap-pandas-rank.py'), '7'], { cwd: dir, timeoutMs: 150_000 });
  assert.equal(r.code, 0, r.stderr);
  const heap = await runCli(['heap', '--json', out], { cwd: dir });
  assert.equal(heap.code, 0, heap.stderr);
  type Growth = { types: Array<{ typeName: string; count: number; bytesDelta: number; countDelta: number }> };
  type Census = { totalBytes: number; rows: Array<[string, number, number]> | Array<{ typeName: string }> };
  const j = JSON.parse(heap.stdout) as { processes: Array<{ growth: Growth[]; censuses: Census[] }> };
  const p = j.processes.find((x) => x.growth.length > 0);
  assert.ok(p, `two censuses or more: ${heap.stdout.slice(0, 500)}`);
  // Every step between two censuses of the running cache (not of pandas' import) ranks the frames first.
  const isFrame = (t: { typeName: string }) => t.typeName === 'pandas.core.frame.DataFrame';
  const steps = p.growth.filter((g) => g.types.some((t) => isFrame(t) && t.count - t.countDelta > 0 && t.countDelta > 0));
  assert.ok(steps.length >= 1, `a step of the running cache: ${JSON.stringify(p.growth.map((g) => g.types.slice(0, 3)))}`);
  for (const g of steps) {
    const top = g.types[0]!;
    assert.equal(top.typeName, 'pandas.core.frame.DataFrame', `ranked: ${g.types.slice(0, 5).map((t) => `${t.typeName} ${t.bytesDelta}`).join(', ')}`);
    assert.ok(top.bytesDelta > 100 * 1024, `the frames grew by their blocks: ${top.bytesDelta}`);
  }
  const text = await runCli(['heap', out], { cwd: dir });
  assert.match(text.stdout, /taken out of the numpy\.ndarray rows|pandas\.core\.frame\.DataFrame/);
});
