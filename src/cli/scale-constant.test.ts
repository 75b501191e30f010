/** `memhunt scale` end to end: a peak that does not depend on N, and the request judged against --limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tempDir } from '../test-support';
import { EXIT } from './exit-codes';
import { PY, scale, script, CONSTANT_PY } from './scale-testkit';

test('a peak that does not depend on N: constant, and the --limit verdict', async () => {
  const dir = tempDir('memhunt-scale-');
  const prog = script(dir, 'constant.py', CONSTANT_PY);
  const { json, code } = await scale(['--sizes', '1000,2000,4000,8000', '--full', '1000000', '--limit', '1GiB', '--dir', path.join(dir, 'runs'), '--', PY, prog, '{}']);
  assert.equal(json.model.kind, 'constant');
  assert.ok(json.findings.some((f) => /does not depend on the size/.test(f)));
  assert.equal(json.recommendation.fits, true);
  assert.equal(code, EXIT.OK);
});

