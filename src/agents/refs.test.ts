/** refsToDot: what a graph's nodes say (the agent's side is runtimes/python/tests/test_refs.py). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refsToDot, type RefsGraph } from './refs';

test('a pandas node says the memory it owns, not its 56-byte header', () => {
  const g: RefsGraph = {
    pid: 1, typeName: 'pandas.core.frame.DataFrame', count: 1, reachedRoot: true,
    nodes: [
      { id: 'n0', type: 'pandas.core.frame.DataFrame', label: 'DataFrame 20000×11', kind: 'sample', bytes: 56, ownsBytes: 3 * 1024 * 1024 },
      { id: 'n1', type: 'dict', label: 'dict, 80 items: int -> pandas.core.frame.DataFrame', kind: 'object', bytes: 4696 },
      { id: 'n2', type: 'dict', label: '_CACHE', kind: 'global', bytes: 4696 },
    ],
    edges: [{ from: 'n1', to: 'n0', label: '[1]' }, { from: 'n2', to: 'n1', label: '' }],
  };
  const dot = refsToDot(g);
  assert.match(dot, /DataFrame 20000×11\\nowns 3(\.00)? MiB"/);
  assert.doesNotMatch(dot, /56 B/);
  assert.match(dot, /4\.\d+ KiB/); // other nodes: their size as before
  assert.match(dot, /label="\[1\]"/);
});
