/** See heap-e2e-support.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leakUntilGraph, missing } from './heap-e2e-support.test';

test('a Pool worker keeps arrays in its global; the worker\'s automatic graph reaches SEEN', { skip: missing('numpy'), timeout: 300_000 }, async () => {
  const { found } = await leakUntilGraph('heap-pool.py', /as SEEN/);
  const hit = found.find((x) => /as SEEN/.test(x.chains));
  assert.ok(hit, found.map((x) => `${x.g.typeName} (pid ${x.g.pid}):\n${x.chains}`).join('\n'));
  assert.equal(hit.g.typeName, 'numpy.ndarray');
  // The samples are the leaked arrays (50,000 floats), not numpy's constants.
  for (const n of hit.g.nodes.filter((n) => n.kind === 'sample')) assert.ok(n.bytes >= 400_000, JSON.stringify(n));
});
