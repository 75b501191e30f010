/**
 * End to end on real third-party objects, with Debian's python3 (numpy, pandas and sklearn from
 * python3-pandas / python3-sklearn): `memhunt run --heap-every` on a job that leaks, and the graph
 * memhunt records on its own (no --type) must reach the holder: the `history` list of fitted
 * forests, the frame cache dict, a Pool worker's global list. Each program runs until the test
 * has seen that graph in the recording (it polls the file as it is written), so a loaded machine
 * only makes the test slower.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { refsChains } from './refs';
import type { RefsGraphEvent } from '../model/recording';
import { CLI, FIXTURES, runCli, tempDir } from '../test-support';

const PYTHON = '/usr/bin/python3';

function missing(modules: string): string | false {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is not there`;
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0 ? false : `${PYTHON} cannot import ${modules} (apt-get install python3-pandas python3-sklearn): ${r.stderr.trim().split('\n').pop()}`;
}

/** Chains of every graph of the recording, as `memhunt refs` prints them. */
async function graphs(file: string): Promise<Array<{ g: RefsGraphEvent; chains: string }>> {
  const rec = await readMemhuntRecording(file);
  return rec.events.filter((e): e is RefsGraphEvent => e.kind === 'refs').map((g) => ({ g, chains: refsChains(g).join('\n') }));
}

/**
 * Runs the fixture under memhunt run --heap-every until a recorded graph matches `holder` (or 240 s),
 * then stops it through its stop file; returns the recording and the graphs.
 */
async function leakUntilGraph(fixture: string, holder: RegExp) {
  const dir = tempDir();
  const out = path.join(dir, 'run.mh');
  const stop = path.join(dir, 'stop');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--interval', '200ms', '--heap-every', '700ms', '-o', out, '--', PYTHON, path.join(FIXTURES, 'agents', fixture), stop], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 240_000;
  let found: Array<{ g: RefsGraphEvent; chains: string }> = [];
  try {
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      if (!fs.existsSync(out)) continue;
      try {
        found = await graphs(out);
      } catch {
        continue; // the first bytes are not there yet
      }
      if (found.some((x) => holder.test(x.chains))) break;
    }
  } finally {
    fs.writeFileSync(stop, '');
  }
  const code = await exited;
  assert.equal(code, 0, stderr);
  return { dir, out, found: await graphs(out) };
}

test('sklearn: fitted forests kept in a list; the automatic graph reaches `history`', { skip: missing('sklearn'), timeout: 300_000 }, async () => {
  const { out, found } = await leakUntilGraph('heap-sklearn.py', /as history/);
  const hit = found.find((x) => /as history/.test(x.chains));
  assert.ok(hit, `no recorded graph reaches history; graphs of ${found.map((x) => x.g.typeName).join(', ')}:\n${found.map((x) => x.chains).join('\n')}`);
  assert.ok(!/memhunt\./.test(found.map((x) => x.chains).join('\n')), 'no chain goes through the agent');
  assert.ok(!['str', 'function', 'code', 'int'].includes(hit.g.typeName), hit.g.typeName);
  // `memhunt heap` shows the growth with both deltas and a score.
  const heap = await runCli(['heap', out, '--top', '40']);
  assert.match(heap.stdout, /score +count +size Δ +count Δ/);
});

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

test('a Pool worker keeps arrays in its global; the worker\'s automatic graph reaches SEEN', { skip: missing('numpy'), timeout: 300_000 }, async () => {
  const { found } = await leakUntilGraph('heap-pool.py', /as SEEN/);
  const hit = found.find((x) => /as SEEN/.test(x.chains));
  assert.ok(hit, found.map((x) => `${x.g.typeName} (pid ${x.g.pid}):\n${x.chains}`).join('\n'));
  assert.equal(hit.g.typeName, 'numpy.ndarray');
  // The samples are the leaked arrays (50,000 floats), not numpy's constants.
  for (const n of hit.g.nodes.filter((n) => n.kind === 'sample')) assert.ok(n.bytes >= 400_000, JSON.stringify(n));
});
