/**
 * The labelled corpus (fixtures/corpus/labels.json): real Python (stdlib and numpy) and Node.js
 * programs, each run under the real `memhunt run -q --interval 50ms`, two at a time; every
 * verdict must be the labelled one, and no stable, spike or release workload may be called a
 * leak. About 16 programs × 6 s / 2 ≈ 55 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { FIXTURES, pythonPath, runCli, tempDir } from '../test-support';
import { analyzeRecording, verdictLineOf, type RecordingAnalysis } from './analyze';

interface Label {
  file: string;
  expected: 'leak' | 'stable' | 'spike';
  case: string;
  leakingProcess?: string;
}

const CORPUS = path.join(FIXTURES, 'corpus');
const labels = (JSON.parse(fs.readFileSync(path.join(CORPUS, 'labels.json'), 'utf8')) as { interval: string; workloads: Label[] });

/** Runs fn over items, `limit` at a time, in order of start. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

function describeFailure(l: Label, a: RecordingAnalysis, mh: string): string {
  return [
    `${l.file} (${l.case}): expected ${l.expected}, got ${a.verdict}`,
    `  ${verdictLineOf(a)}`,
    ...a.tree.evidence.map((e) => `  - ${e}`),
    ...a.processes.filter((p) => p.samples >= 10).map((p) => `  pid ${p.pid} ${p.command.slice(-2).join(' ')}: ${p.verdict}: ${p.reason}`),
    `  recording kept: ${mh}`,
  ].join('\n');
}

test('corpus: every workload gets its labelled verdict under memhunt run', { timeout: 240_000 }, async () => {
  assert.ok(labels.workloads.length >= 12, 'at least 12 workloads');
  const dir = tempDir('memhunt-corpus-');
  const results = await pool(labels.workloads, 2, async (l) => {
    const mh = path.join(dir, l.file.replace(/\.\w+$/, '.mh'));
    const interpreter = l.file.endsWith('.py') ? pythonPath() : process.execPath;
    const r = await runCli(['run', '-q', '--interval', labels.interval, '-o', mh, '--', interpreter, path.join(CORPUS, l.file)], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${l.file} exited ${r.code}: ${r.stderr}`);
    const a = analyzeRecording(await readMemhuntRecording(mh));
    return { l, a, mh };
  });
  const wrong = results.filter(({ l, a }) => a.verdict !== l.expected);
  const falseLeaks = results.filter(({ l, a }) => l.expected !== 'leak' && a.verdict === 'leak');
  assert.deepEqual(falseLeaks.map((x) => x.l.file), [], 'a stable, spike or release workload was called a leak');
  assert.equal(wrong.length, 0, wrong.map(({ l, a, mh }) => describeFailure(l, a, mh)).join('\n\n'));
  for (const { l, a } of results) {
    if (l.expected === 'leak') {
      assert.ok(a.tree.growth || a.leakingProcesses.length, `${l.file}: a leak verdict has a growth rate`);
    }
    if (l.leakingProcess) {
      // The tree verdict names the leaking process, and only that one.
      const leakers = a.leakingProcesses.map((p) => p.command.join(' '));
      assert.equal(leakers.length, 1, `${l.file}: leaking processes ${JSON.stringify(leakers)}`);
      assert.ok(leakers[0]!.includes(l.leakingProcess), `${l.file}: ${leakers[0]} should be the "${l.leakingProcess}" process`);
      assert.match(verdictLineOf(a), new RegExp(`in pid ${a.leakingProcesses[0]!.pid} \\(`));
      const others = a.processes.filter((p) => p.samples >= 40 && !p.command.join(' ').includes(l.leakingProcess!));
      assert.ok(others.length >= 2, `${l.file}: the parent and the other worker were analysed`);
      for (const p of others) assert.notEqual(p.verdict, 'leak', `${l.file}: pid ${p.pid} ${p.command.join(' ')} is not the leaking one`);
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
