/** The wake signal's checks (wake.ts): which processes memhunt may signal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { catchesUnblocked, parseStatusSignals, wakePlan } from './wake';

const STATUS = 'Name:\tpython3\nPPid:\t41\nSigQ:\t0/63\nSigPnd:\t0000000000000000\nSigBlk:\t0000000000000000\nSigIgn:\t0000000001001000\nSigCgt:\t0000000100400002\n';

test('status masks: SIGURG (23) caught, SIGINT (2) caught, SIGTERM (15) not; a blocked signal is not wakeable; a truncated status is null', () => {
  const f = parseStatusSignals(STATUS)!;
  assert.equal(f.ppid, 41);
  assert.equal(catchesUnblocked(f, 23), true);
  assert.equal(catchesUnblocked(f, 2), true);
  assert.equal(catchesUnblocked(f, 15), false);
  assert.equal(catchesUnblocked(parseStatusSignals(STATUS.replace('SigBlk:\t0000000000000000', 'SigBlk:\t0000000000400000'))!, 23), false);
  assert.equal(parseStatusSignals('Name:\tx\nPPid:\t1\n'), null);
});

test('wakePlan: only below a connected ancestor that named the signal, with the same executable and the signal caught', async () => {
  // This process (node) is the "connected ancestor"; its child `sleep` neither runs node nor catches SIGURG.
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => child.once('spawn', r));
    for (let i = 0; i < 400 && !fs.readlinkSync(`/proc/${child.pid}/exe`).endsWith('/sleep'); i++) await new Promise((r) => setTimeout(r, 5));
    const me = process.pid;
    assert.equal(wakePlan(child.pid!, (p) => (p === me ? 23 : undefined)), null, 'another executable, signal not caught');
    assert.equal(wakePlan(child.pid!, () => undefined), null, 'no connected ancestor');
    assert.equal(wakePlan(child.pid!, (p) => (p === me ? null : undefined)), null, 'the ancestor named no signal');
    assert.equal(wakePlan(999_999_999, () => 23), null, 'no such process');
  } finally {
    child.kill('SIGKILL');
  }
});
