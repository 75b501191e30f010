/** See heap-e2e-support.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../test-support';
import { leakUntilGraph, missing } from './heap-e2e-support.test';

test('numpy: one array that grows beside many weakrefs; the automatic graph follows the array and says why', { skip: missing('numpy'), timeout: 300_000 }, async () => {
  // Before: only types with more objects were candidates, so the graph was of weakref.ReferenceType
  // (held by WATCHERS), never of the array that held the growth.
  // The chains reach the global HISTORY; or, when the graph was taken while np.concatenate ran (most
  // of the loop's time once the array is large, more so on a loaded machine), the arrays the running
  // call holds (its relevant_args): the stress run's automatic graph was taken there, and no later
  // one came within 150 s. Either is the array that grows, which is what this test is about.
  const holder = /as HISTORY|as relevant_args/;
  const { out, found } = await leakUntilGraph('heap-numpy-grow.py', holder);
  const auto = found.filter((x) => x.g.trigger === 'every');
  assert.ok(auto.length > 0, 'no automatic graph');
  assert.equal(auto[0]!.g.typeName, 'numpy.ndarray', found.map((x) => `${x.g.typeName}:\n${x.chains}`).join('\n'));
  assert.match(auto[0]!.chains, holder);
  assert.ok(!found.some((x) => x.g.typeName === 'weakref.ReferenceType'));
  assert.match(auto[0]!.g.why ?? '', /holds the growth: .*MiB \(\d+% of the new bytes\)/);
  const r = await runCli(['refs', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}why numpy\.ndarray: it holds the growth/m);
});
