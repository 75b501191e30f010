/**
 * memhunt.isolated called at the top level of a script with no `if __name__ == "__main__":`
 * guard (issue 12): its "spawn" child imports the script again and reaches the call again. One
 * clear error in the parent, no second traceback from the child. Real interpreters: the oldest and
 * newest pyenv ones present and Debian's, under memhunt run and without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pythonRuntimeDirs } from '../agents/runtime';
import { runCli, tempDir } from '../test-support';
import { spawn } from 'node:child_process';

const PYTHONS = ['/root/.pyenv/versions/3.8.18/bin/python3', '/usr/bin/python3', '/root/.pyenv/versions/3.13.0/bin/python3'].filter((p) => fs.existsSync(p));

const SCRIPT = `import memhunt

def work(n):
    return sum(range(n))

print("result", memhunt.isolated(work, 1000))
`;

function runPlain(python: string, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PYTHONPATH: pythonRuntimeDirs().lib, PYTHONDONTWRITEBYTECODE: '1' };
    const child = spawn(python, [script], { env, cwd: path.dirname(script), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function assertOneClearError(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(r.code, 1, `${what}: ${r.stderr}`);
  assert.equal(r.stderr.match(/Traceback/g)?.length, 1, `${what}: one traceback, the parent's:\n${r.stderr}`);
  assert.match(r.stderr, /IsolatedError: memhunt\.isolated\(work\) was reached at the top level of the main script: .*put the code that calls memhunt\.isolated under `if __name__ == "__main__":`/, what);
  assert.doesNotMatch(r.stderr, /bootstrapping phase/, what);
  assert.equal(r.stdout, '', `${what}: nothing printed twice`);
}

test('memhunt.isolated at the top level of an unguarded script: one clear error naming the __main__ guard', async () => {
  assert.ok(PYTHONS.length > 0, 'a Python to test with');
  const dir = tempDir();
  const script = path.join(dir, 'top.py');
  fs.writeFileSync(script, SCRIPT);
  for (const python of PYTHONS) {
    assertOneClearError(await runPlain(python, script), `${python} without memhunt`);
    const r = await runCli(['run', '-q', '--interval', '50ms', '-o', path.join(dir, 'r.mh'), '--', python, script], { cwd: dir });
    assertOneClearError(r, `${python} under memhunt run`);
  }
  // With the guard the same call works.
  fs.writeFileSync(script, SCRIPT.replace('print("result"', 'if __name__ == "__main__":\n    print("result"'));
  const ok = await runPlain(PYTHONS[0]!, script);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'result 499500\n');
});
