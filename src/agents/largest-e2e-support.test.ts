/**
 * Helpers of the `--largest` / `--duplicates` end-to-end tests (largest-e2e-*.test.ts; this file holds no test: one file per
 * interpreter, as the runner gives a file 3 minutes), issue 15, with the real agent in real interpreters:
 * fixtures/agents/duplicates.py holds the same 30 MiB of float64 data as an array, its .copy(), a
 * DataFrame column, a bytes of it and a list of its values, plus a view and an unrelated array of
 * the same size (and, on Debian's python3, a float32 conversion). Without numpy (pyenv's 3.8 and
 * 3.13 have none) the same data as bytes, a bytearray copy and a list, a memoryview and unrelated
 * bytes. The duplicate group must hold exactly the copies, the view as sharing, the saved bytes
 * right within 1%, and nothing of the unrelated data.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import type { CensusResult } from './protocol';
import { readMemhuntRecording } from '../recording/reader';
import { CLI, FIXTURES, runCli, tempDir } from '../test-support';

const PROGRAM = path.join(FIXTURES, 'agents', 'duplicates.py');
/** The data every holder has: 30 MiB of float64. */
const D = 30 * 1024 * 1024;
const N = D / 8;
/** A list of N floats: its storage (8 bytes a reference + the list's header) and a 24-byte float per value. */
const LIST_BYTES = 8 * N + 24 * N;

export const has = (python: string, mod: string) => spawnSync(python, ['-c', `import ${mod}`]).status === 0;

export const PYTHONS: Array<[string, string]> = [
  ['3.8 (oldest)', '/root/.pyenv/versions/3.8.18/bin/python3'],
  ['3.13 (newest)', '/root/.pyenv/versions/3.13.0/bin/python3'],
  ['Debian python3', '/usr/bin/python3'],
].filter(([, p]) => fs.existsSync(p)) as Array<[string, string]>;

/** memhunt run on the program until it prints its ready line; stop() lets it end. */
export function startRun(python: string, args: string[], runArgs: string[] = []) {
  const dir = tempDir();
  const out = path.join(dir, 'dup.mh');
  const stopFile = path.join(dir, 'stop');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-o', out, ...runArgs, '--', python, PROGRAM, ...args, '--until', stopFile], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  const ready = new Promise<{ pid: number; numpy: boolean }>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /ready pid (\d+) numpy (yes|no)/.exec(text);
      if (m) resolve({ pid: Number(m[1]), numpy: m[2] === 'yes' });
    });
    child.on('exit', () => reject(new Error(`run ended before the program was ready: ${stderr}`)));
  });
  const stop = async () => {
    fs.writeFileSync(stopFile, '');
    await closed;
  };
  return { dir, out, child, ready, stop, closed };
}

export async function snapshot(pid: number, args: string[]) {
  let r = await runCli(['snapshot', String(pid), ...args], { timeoutMs: 300_000 });
  // The agent says hello from its own thread at start-up: retry briefly until it is registered.
  for (let i = 0; i < 40 && r.code !== 0 && /no agent is connected/.test(r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await runCli(['snapshot', String(pid), ...args], { timeoutMs: 300_000 });
  }
  return r;
}

/** The test on one interpreter (see the top of this file). */
export async function copiesFound(python: string): Promise<void> {
  const numpy = has(python, 'numpy');
  const pandas = numpy && has(python, 'pandas');
  const run = startRun(python, numpy ? ['--float32'] : []);
  let c: CensusResult;
  try {
    const { pid, numpy: seen } = await run.ready;
    assert.equal(seen, numpy);
    const r = await snapshot(pid, ['--top', '5', '--largest', '8', '--duplicates', '--json']);
    assert.equal(r.code, 0, r.stderr);
    c = JSON.parse(r.stdout) as CensusResult;
  } finally {
    await run.stop();
  }
  const d = c.duplicates!;
  assert.ok(d, 'the census has duplicates');
  assert.equal(d.minBytes, 1024 ** 2);
  assert.equal(d.groups.length, 1, JSON.stringify(d.groups.map((g) => g.holders.map((h) => h.path))));
  const g = d.groups[0]!;
  const paths = g.holders.map((h) => h.path).sort();
  const copies = numpy
    ? ['__main__.BASE', '__main__.RAW', '__main__.STORE.copy', '__main__.VALUES', ...(pandas ? ["__main__.FRAME['price']"] : [])]
    : ['__main__.RAW', '__main__.STORE.copy', '__main__.VALUES'];
  const expected = [...copies, ...(numpy ? ['__main__.HALF'] : [])].sort();
  assert.deepEqual(paths, expected);
  for (const h of g.holders) assert.equal(h.relation, h.path === '__main__.HALF' ? 'converted' : 'identical', h.path);
  assert.deepEqual(g.sharing.map((s) => [s.path, s.relation, g.holders[s.sharesWith!]!.path]), [['__main__.VIEW', 'shares', numpy ? '__main__.BASE' : '__main__.RAW']]);
  assert.ok(!JSON.stringify(d).includes('OTHER'), 'the unrelated data of the same size is in no group');
  assert.deepEqual(d.changed, []);
  // Saved: every holder but one array (or the bytes): the copies at D each, the list at its storage
  // and floats, the float32 conversion at D / 2.
  const total = (copies.length - 1) * D + LIST_BYTES + (numpy ? D / 2 : 0);
  const saved = total - D;
  assert.ok(Math.abs(g.savedBytes - saved) <= saved * 0.01, `saved ${g.savedBytes} vs ${saved}`);
  assert.ok(Math.abs(g.totalBytes - total) <= total * 0.01, `total ${g.totalBytes} vs ${total}`);
  if (numpy) assert.deepEqual(d.notes, []);
  else assert.match(d.notes.join(' '), /numpy is not loaded/);
  // Largest: the 30 MiB holders by what they own, each with its chain.
  const largest = c.largest!;
  assert.equal(largest.length, 8);
  const big = largest.filter((o) => o.bytes >= D * 0.99).map((o) => o.path).sort();
  const bigExpected = numpy
    ? ['__main__.BASE', '__main__.OTHER', '__main__.RAW', '__main__.STORE.copy', '__main__.VALUES', ...(pandas ? ['__main__.FRAME'] : [])]
    : ['__main__.OTHER', '__main__.RAW', '__main__.STORE.copy', '__main__.VALUES'];
  assert.deepEqual(big, bigExpected.sort());
  for (let i = 1; i < largest.length; i++) assert.ok(largest[i - 1]!.bytes >= largest[i]!.bytes, 'largest first');
  // Recorded in the run; memhunt heap shows the group, its saving and the view, as snapshot does.
  const rec = await readMemhuntRecording(run.out);
  assert.ok(rec.events.some((e) => e.kind === 'census' && e.duplicates?.groups.length === 1 && e.largest?.length === 8));
  const heap = await runCli(['heap', run.out]);
  assert.equal(heap.code, 0, heap.stderr);
  const text = heap.stdout;
  assert.match(text, /duplicates: \d+ objects with ≥ 1\.00 MiB of data each, holding [\d.]+ [KMG]iB in all; comparing them read [\d.]+ [KMG]?i?B /);
  assert.match(text, /group 1: [\d.]+ MiB of float64 values \([^)]*\), \d holders, [\d.]+ MiB in all; keeping one would save [\d.]+ MiB/);
  assert.match(text, /shares +\S+ .*__main__\.VIEW +\(a view of __main__\.(BASE|RAW): not a copy\)/);
  assert.match(text, /largest objects/);
}
