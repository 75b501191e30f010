/** See heap-e2e-support.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMemhuntRecording } from '../recording/reader';
import { runCli } from '../test-support';
import { leakUntilGraph, missing } from './heap-e2e-support.test';

test('pandas: a frame cache dict; the automatic graph reaches CACHE; totals count buffers once', { skip: missing('pandas'), timeout: 300_000 }, async () => {
  const { out, found } = await leakUntilGraph('heap-pandas-cache.py', /as CACHE/);
  assert.ok(found.some((x) => /as CACHE/.test(x.chains)), found.map((x) => `${x.g.typeName}:\n${x.chains}`).join('\n'));
  const rec = await readMemhuntRecording(out);
  // Never more bytes counted than the process had: each buffer once (575 MiB vs 328 MiB RSS before).
  const proc = rec.processes.find((p) => p.pid === found[0]!.g.pid);
  const rssPeakBytes = proc && Number.isFinite(proc.hwmBytes) ? proc.hwmBytes : Infinity;
  for (const e of rec.events) if (e.kind === 'census' && e.pid === found[0]!.g.pid) assert.ok(e.totalBytes < rssPeakBytes, `census ${e.totalBytes} > RSS ${rssPeakBytes}`);
  // A name the recording counts but has no graph of: said, with the way to get one.
  const r = await runCli(['refs', out, '--type', 'pandas.core.indexes.range.RangeIndex']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /has no back-reference graph of pandas\.core\.indexes\.range\.RangeIndex .*it has graphs of .*memhunt refs <pid> --type .*--refs-type RangeIndex/);
  assert.doesNotMatch(r.stderr, /close names: pandas\.core\.indexes\.range\.RangeIndex/);
});
