/** See heap-e2e-support.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../test-support';
import { leakUntilGraph, missing } from './heap-e2e-support.test';

// Strict: the graph goes to a class of the forest (ndarray is followed only when no class grows
// with it), its samples include one that has lived as long as half of them (not only the trees of
// the forest being fitted), a Tree held by an untracked __dict__ is followed to its classifier, and
// a graph whose chains end only in frames is asked again at a later census (issue 10 note).
test('sklearn: fitted forests kept in a list; the automatic graph reaches `history`', { skip: missing('sklearn'), timeout: 300_000 }, async () => {
  const { out, found } = await leakUntilGraph('heap-sklearn.py', /as history/);
  const hit = found.find((x) => /as history/.test(x.chains));
  assert.ok(hit, `no recorded graph reaches history; graphs of ${found.map((x) => x.g.typeName).join(', ')}:\n${found.map((x) => x.chains).join('\n')}`);
  assert.ok(!/memhunt\./.test(found.map((x) => x.chains).join('\n')), 'no chain goes through the agent');
  assert.ok(!['str', 'function', 'code', 'int'].includes(hit.g.typeName), hit.g.typeName);
  // `memhunt heap` shows the growth with both deltas and a score.
  const heap = await runCli(['heap', out, '--top', '40']);
  assert.match(heap.stdout, /score +count +size Δ +count Δ/);
  // All of it through a pipe (it was cut at 64 KiB: the process exited before stdout drained).
  const json = await runCli(['heap', out, '--json', '--top', '500']);
  assert.ok(json.stdout.length > 65_536, `${json.stdout.length} bytes`);
  assert.ok(JSON.parse(json.stdout).processes.length >= 1);
});
