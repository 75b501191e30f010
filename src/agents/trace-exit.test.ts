/**
 * `run --trace-allocations` alone on a run shorter than the first periodic trace snapshot (5 s)
 * had no allocation snapshot at all; the agent now sends one at exit (issue 9/10 leftover).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIXTURES, runCli, tempDir } from '../test-support';

const PROG = path.join(FIXTURES, 'agents', 'trace_short.py');
const SITE_LINE = fs.readFileSync(PROG, 'utf8').split('\n').findIndex((l) => l.includes('# SITE')) + 1;

test('--trace-allocations alone: the sites at exit are recorded, and memhunt heap shows them', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'tr.mh');
  const r = await runCli(['run', '-q', '-o', out, '--trace-allocations', '--', 'python3', PROG], { cwd: dir, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const heap = await runCli(['heap', '--json', out], { cwd: dir });
  assert.equal(heap.code, 0, heap.stderr);
  const j = JSON.parse(heap.stdout) as { processes: Array<{ traces: Array<{ label: string; bySize: Array<{ file: string; line: number; bytes: number; package: string }> }> }> };
  const traces = j.processes.flatMap((p) => p.traces);
  const atExit = traces.find((t) => t.label === 'at exit');
  assert.ok(atExit, `an allocation snapshot at exit: ${JSON.stringify(traces.map((t) => t.label))}\n${heap.stdout.slice(0, 2000)}`);
  const top = atExit.bySize[0]!;
  assert.ok(top.file.endsWith('trace_short.py') && top.line === SITE_LINE, `the largest site is the SITE line: ${JSON.stringify(atExit.bySize.slice(0, 3))}`);
  // CPython deletes __main__.__file__ once the script has run: the script is still "(main)".
  assert.equal(top.package, '(main)');
  const text = await runCli(['heap', out], { cwd: dir });
  assert.match(text.stdout, new RegExp(`\\(at exit\\)[\\s\\S]*trace_short\\.py:${SITE_LINE}`));
});
