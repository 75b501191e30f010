/**
 * The native helpers' cache key identifies the interpreter's build, not only its minor version:
 * the hooks use CPython's internal headers, which may differ between patch releases and builds
 * (pyenv's 3.11.7 and Debian's 3.11.2 shared one build under cpython-311-...).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { REPO, runCli } from '../test-support';

const DEBIAN = '/usr/bin/python3';
const PYENV = '/root/.pyenv/versions/3.11.7/bin/python3';

function minor(py: string): string | null {
  const r = spawnSync(py, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const HAS_CC = ['cc', 'gcc', 'clang'].some((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);
const SAME_MINOR = fs.existsSync(PYENV) && minor(DEBIAN) !== null && minor(DEBIAN) === minor(PYENV);

test('two interpreters of one minor version (Debian 3.11.2, pyenv 3.11.7) get two cache entries', { skip: (!HAS_CC && 'no C compiler') || (!SAME_MINOR && `no ${PYENV} of ${DEBIAN}'s minor version`), timeout: 240_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-native-key-'));
  try {
    const built: string[][] = [];
    for (const py of [DEBIAN, PYENV]) {
      const r = await runCli(['build-native', '--python', py], { env: { ...process.env, MEMHUNT_NATIVE_DIR: dir }, timeoutMs: 200_000 });
      assert.equal(r.code, 0, r.stderr);
      built.push(r.stdout.trim().split('\n'));
    }
    const tags = fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isDirectory()).sort();
    assert.equal(tags.length, 2, tags.join(', '));
    for (const t of tags) assert.match(t, /^cpython-311-[a-z0-9_]+-linux-gnu-3\.11\.\d+-[0-9a-f]{8}$/);
    assert.notEqual(built[0]![0], built[1]![0], 'the allocation hooks are built twice');
    assert.notEqual(built[0]![1], built[1]![1], 'the heap helpers are built twice');
    // Built once per interpreter: asked again, the same paths without a build.
    const again = await runCli(['build-native', '--python', PYENV], { env: { ...process.env, MEMHUNT_NATIVE_DIR: dir } });
    assert.deepEqual(again.stdout.trim().split('\n'), built[1]);
    // The agent finds the heap helpers where build-native put them (its own lookup, without sysconfig).
    const lib = path.join(REPO, 'runtimes', 'python', 'lib');
    for (const [i, py] of [DEBIAN, PYENV].entries()) {
      const r = spawnSync(py, ['-c', 'from memhunt import _native; m = _native.get(); print(m.__file__ if m else "none: " + _native.why())'],
        { encoding: 'utf8', env: { ...process.env, PYTHONPATH: lib, MEMHUNT_NATIVE_DIR: dir } });
      assert.equal(r.stdout.trim(), built[i]![1], r.stderr);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
