/**
 * An interpreter's shutdown is not the program's release: the Python agent says when its shutdown
 * began (atexit, after the program's own handlers), memhunt records it (`teardown`), and the
 * verdicts leave out what was freed after it. Real interpreters (pyenv's oldest and newest,
 * Debian's), a real program whose leak is freed by its own shutdown, which then takes 1.5 s more
 * (fixtures/workloads/slow_shutdown_leak.py). Before, the fall 1.6 s before the exit of a 5.7 s
 * run was read as "stable: the floors rose … then stayed level" on all three.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { analyzeRecording } from '../analysis/analyze';
import { FIXTURES, runCli, tempDir } from '../test-support';

const PROGRAM = path.join(FIXTURES, 'workloads', 'slow_shutdown_leak.py');
const pyenv = (v: string) => `/root/.pyenv/versions/${v}/bin/python3`;
const PYTHONS = ([['3.8', pyenv('3.8.18')], ['3.13', pyenv('3.13.0')], ['debian', '/usr/bin/python3']] as const).filter(([, p]) => fs.existsSync(p));

test('a leak freed by the interpreter\'s own slow shutdown is a leak, and the shutdown is said', { concurrency: true }, async (t) => {
  assert.ok(PYTHONS.length > 0, 'no Python interpreter to test');
  const dir = tempDir();
  await Promise.all(PYTHONS.map(([name, py]) => t.test(name, async () => {
    const out = path.join(dir, `${name}.mh`);
    const r = await runCli(['run', '-o', out, '--', py, PROGRAM], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const rec = await readMemhuntRecording(out);
    const root = rec.processes.find((p) => p.command.some((a) => a.endsWith('slow_shutdown_leak.py')));
    assert.ok(root, 'the program was recorded');
    // The agent said when the shutdown began: after the 4 s of leaking, before the process ended.
    assert.ok(root.teardownMs !== undefined, 'a teardown record for the program\'s process');
    assert.ok(root.exitMs !== null && root.teardownMs < root.exitMs, `teardown at ${root.teardownMs} ms, exit at ${root.exitMs} ms`);
    const a = analyzeRecording(rec);
    assert.equal(a.verdict, 'leak', a.reason);
    assert.equal(a.tree.verdict, 'leak', a.tree.reason);
    // What the shutdown freed is said and left out of the analysis.
    assert.ok(a.tree.analyzedToMs <= root.teardownMs, `analysed to ${a.tree.analyzedToMs} ms, shutdown at ${root.teardownMs} ms`);
    const said = a.tree.evidence.find((e) => /^the tree.s shutdown began at [\d:.]+ \(pid \d+.s interpreter began its shutdown\): the .* freed after that .* is left out, a shutdown and not a release$/.test(e));
    assert.ok(said, a.tree.evidence.join('\n'));
    // The summary's "final" says the level before the teardown, as the verdict does.
    const s = await runCli(['summary', out]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /final .* at exit; .* before the teardown at /, s.stdout);
  })));
  fs.rmSync(dir, { recursive: true, force: true });
});
