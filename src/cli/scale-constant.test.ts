/** `memhunt scale` end to end: a peak that does not depend on N, and the request judged against --limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli, tempDir } from '../test-support';
import { EXIT } from './exit-codes';
import { PY, scale, script, CONSTANT_PY } from './scale-testkit';

test('a peak that does not depend on N: constant, and the --limit verdict; --json stays JSON when the program prints; recordings of two commands are not fitted together', async () => {
  const dir = tempDir('memhunt-scale-');
  // The program prints to stdout: with --json its output goes to stderr (scale() parses stdout).
  const prog = script(dir, 'constant.py', CONSTANT_PY + "\nprint('a line of the program')\n");
  const { json, code } = await scale(['--sizes', '1000,2000,4000,8000', '--full', '1000000', '--limit', '1GiB', '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'constant');
  assert.ok(json.findings.some((f) => /does not depend on the size/.test(f)));
  assert.equal(json.recommendation.fits, true);
  assert.equal(code, EXIT.OK);

  const other = script(dir, 'other.py', CONSTANT_PY);
  const otherRec = path.join(dir, 'other.mh');
  assert.equal((await runCli(['run', '-q', '-o', otherRec, '--', PY, other, '16000'])).code, 0);
  const runs = fs.readdirSync(path.join(dir, 'runs')).map((f) => path.join(dir, 'runs', f));
  const mixed = await runCli(['scale', ...runs, otherRec, '--size-from-arg', '2', '--full', '1000000']);
  assert.equal(mixed.code, EXIT.USAGE, mixed.stderr);
  assert.match(mixed.stderr, /^memhunt: the recordings are of different commands .*fit one job at a time\n$/);
});

