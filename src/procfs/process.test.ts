import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { listPids, parseStatus, parseStatusBytes } from './process';

/** The bytes of text at the start of a buffer whose rest holds stale bytes of another status. */
function withStale(text: string, stale: string): { buf: Buffer; n: number } {
  const buf = Buffer.alloc(8192, 0x20);
  const n = buf.write(text, 0, 'latin1');
  buf.write(stale.slice(0, 8192 - n), n, 'latin1');
  return { buf, n };
}

test('the status parse from bytes gives what the parse of the text gives, for every process here', () => {
  const stale = fs.readFileSync('/proc/self/status', 'latin1').repeat(3);
  let compared = 0;
  for (const pid of listPids()) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    } catch {
      continue; // gone
    }
    const { buf, n } = withStale(text, stale);
    const zombie = /\nState:\t[ZX]/.test(text);
    assert.deepEqual(parseStatusBytes(buf, n), zombie ? null : parseStatus(text), `pid ${pid}`);
    compared++;
  }
  assert.ok(compared > 0);
});

test('the bytes after the read are never taken for the status: a kernel thread, a zombie, a cut key', () => {
  const stale = 'Name:\tx\nState:\tZ (zombie)\nVmHWM:\t  999 kB\nVmRSS:\t  888 kB\nRssAnon:\t 7 kB\n';
  // A kernel thread has no Vm/Rss lines: zeros, whatever the stale bytes say.
  const kthread = 'Name:\tkworker/0:1\nUmask:\t0000\nState:\tI (idle)\nTgid:\t12\n';
  let r = withStale(kthread, stale);
  assert.deepEqual(parseStatusBytes(r.buf, r.n), { rssKiB: 0, anonKiB: 0, fileKiB: 0, shmemKiB: 0, hwmKiB: 0 });
  // A zombie is null.
  r = withStale('Name:\tpython3\nState:\tZ (zombie)\nTgid:\t5\n', '');
  assert.equal(parseStatusBytes(r.buf, r.n), null);
  // A key the read cut in two is absent, and a number the read cut ends where the read ends.
  r = withStale('Name:\ta\nState:\tS (sleeping)\nVmHWM:\t  12', '34 kB\nVmRSS:\t 5 kB\n');
  assert.deepEqual(parseStatusBytes(r.buf, r.n), parseStatus('Name:\ta\nState:\tS (sleeping)\nVmHWM:\t  12'));
  r = withStale('Name:\ta\nState:\tS (sleeping)\nVmR', 'SS:\t 5 kB\n');
  assert.equal(parseStatusBytes(r.buf, r.n)!.rssKiB, 0);
});
