/**
 * End to end on real third-party objects, with Debian's python3 (numpy, pandas and sklearn from
 * python3-pandas / python3-sklearn): `memhunt run --heap-every` on a job that leaks, and the graph
 * memhunt records on its own (no --type) must reach the holder: the `history` list of fitted
 * forests, the frame cache dict, a Pool worker's global list. Each program runs until the test
 * has seen that graph in the recording (it polls the file as it is written), so a loaded machine
 * only makes the test slower. One file per job (src/agents/heap-e2e-*.test.ts; this file holds no test): each may take a
 * minute or two on a loaded machine, and the runner gives a file 3 minutes.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { refsChains } from './refs';
import type { RefsGraphEvent } from '../model/recording';
import { CLI, FIXTURES, tempDir } from '../test-support';

export const PYTHON = '/usr/bin/python3';

export function missing(modules: string): string | false {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is not there`;
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0 ? false : `${PYTHON} cannot import ${modules} (apt-get install python3-pandas python3-sklearn): ${r.stderr.trim().split('\n').pop()}`;
}

/** Chains of every graph of the recording, as `memhunt refs` prints them. */
export async function graphs(file: string): Promise<Array<{ g: RefsGraphEvent; chains: string }>> {
  const rec = await readMemhuntRecording(file);
  return rec.events.filter((e): e is RefsGraphEvent => e.kind === 'refs').map((g) => ({ g, chains: refsChains(g).join('\n') }));
}

/**
 * Runs the fixture under memhunt run --heap-every until a recorded graph matches `holder` (or 150 s),
 * then stops it through its stop file; returns the recording and the graphs.
 */
export async function leakUntilGraph(fixture: string, holder: RegExp) {
  const dir = tempDir();
  const out = path.join(dir, 'run.mh');
  const stop = path.join(dir, 'stop');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--interval', '200ms', '--heap-every', '700ms', '-o', out, '--', PYTHON, path.join(FIXTURES, 'agents', fixture), stop], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 150_000; // the runner gives a test file 180 s
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

