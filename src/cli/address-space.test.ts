/**
 * memhunt under `ulimit -v`: Node.js aborted with a native stack trace in the middle of a run and left
 * an empty recording (new-user trial, 2026-12-03: `(ulimit -v 800000; memhunt run -o x.mh -- python3
 * memerr.py)` → exit 134, x.mh 0 bytes). Now one line, exit 2, nothing started, nothing written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ADDRESS_SPACE_FLOOR, addressSpaceLimit } from './address-space';
import { CLI, tempDir } from '../test-support';

test('the soft address-space limit is read from /proc/self/limits', () => {
  const row = (soft: string, hard: string) => `Limit                     Soft Limit           Hard Limit           Units     \nMax address space         ${soft.padEnd(21)}${hard.padEnd(21)}bytes     \n`;
  assert.equal(addressSpaceLimit(row('unlimited', 'unlimited')), null);
  assert.equal(addressSpaceLimit(row('819200000', '819200000')), 819200000);
  assert.equal(addressSpaceLimit(row('819200000', 'unlimited')), 819200000);
  assert.equal(addressSpaceLimit('no such row'), null);
  assert.ok(ADDRESS_SPACE_FLOOR >= 1024 ** 3);
});

function underUlimit(kib: number, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('sh', ['-c', `ulimit -v ${kib} && exec "${process.execPath}" '${CLI}' ${quoted}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('under ulimit -v memhunt refuses in one line (exit 2): the program is not started, no file is written', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'x.mh');
  const marker = path.join(dir, 'started');
  const r = await underUlimit(800_000, ['run', '-o', out, '--', 'touch', marker], dir);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^memhunt: the address space is limited to 781 MiB \(ulimit -v 800000\).*sh -c 'ulimit -v 800000 && exec python3 job\.py'/);
  assert.equal(fs.existsSync(out), false, 'no recording is left');
  assert.equal(fs.existsSync(marker), false, 'the program was not started');
  // Reading commands too (`peak` aborted there as well); --help still prints.
  const peak = await underUlimit(800_000, ['peak', out], dir);
  assert.equal(peak.code, 2, peak.stderr);
  const help = await underUlimit(800_000, ['run', '--help'], dir);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Usage: memhunt run/);
  fs.rmSync(dir, { recursive: true, force: true });
});
