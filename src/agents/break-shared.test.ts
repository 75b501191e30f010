/**
 * --break-at on a tree of fork children (trial 4: a multiprocessing Pool "reached" 120 MiB at its
 * start-up, RSS counting the pages the workers share with their parent once in each). The break
 * says so, with what the tree holds counting each page once (PSS), and that --metric pss judges it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIXTURES, interpreterPython, runMemhuntInTerminal, tempDir } from '../test-support';

const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;

test('--break-at crossed only because RSS counts fork-shared pages in each process: the break says so', { skip: HAS_SCRIPT ? false : 'util-linux script is not installed' }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'shared.mh');
  const stop = path.join(dir, 'stop');
  // 100 MiB held by the parent: RSS ~3 × 110 MiB once both children exist, PSS ~130 MiB.
  // The program ends when the stop file exists (or after 60 s by itself).
  const { code, text } = await runMemhuntInTerminal(['run', '-q', '-o', out, '--break-at', '250MiB', '--', interpreterPython(), path.join(FIXTURES, 'agents', 'fork_shared.py'), stop],
    { cwd: dir, answer: 'c\n', atPrompt: () => fs.writeFileSync(stop, ''), boundMs: 120_000 });
  fs.writeFileSync(stop, '');
  assert.equal(code, 0, text);
  assert.match(text.replace(/\r/g, ''), /note: the tree's RSS counts the pages its fork children share with their parent once in each process; counting each page once \(PSS\) it holds [\d.]+ MiB, under 250 MiB\. --metric pss judges that\./, text);
});
