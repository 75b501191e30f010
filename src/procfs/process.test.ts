import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listPids, parseStatus, parseStatusBytes, readStat, readStatBrief } from './process';

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

test('the stat read from bytes gives readStat\'s state, parent and start time, for every process here and odd names', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-stat-'));
  try {
    const put = (pid: number, text: string) => {
      fs.mkdirSync(path.join(root, 'proc', String(pid)), { recursive: true });
      fs.writeFileSync(path.join(root, 'proc', String(pid), 'stat'), text);
    };
    // Each process's stat copied once, so both readers see the same line.
    let compared = 0;
    for (const pid of listPids()) {
      let text: string;
      try {
        text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      } catch {
        continue; // gone
      }
      put(pid, text);
      compared++;
    }
    const tail = 'S 4242 7 7 0 -1 4194560 100 0 0 0 3 4 0 0 20 0 1 0 987654 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    put(900001, `900001 (a) b (c) ${tail}`);
    put(900002, `900002 (x y)) ${tail.replace('S ', 'Z ')}`);
    put(900003, '900003 (cut) S 12');
    put(900004, 'not a stat line');
    for (const name of fs.readdirSync(path.join(root, 'proc'))) {
      const pid = Number(name);
      const full = readStat(pid, root);
      const brief = readStatBrief(pid, root);
      if (full === null || !Number.isFinite(full.ppid)) assert.equal(brief, null, `pid ${pid}`);
      else assert.deepEqual(brief, { state: full.state, ppid: full.ppid, startTicks: full.startTicks }, `pid ${pid}`);
    }
    assert.ok(compared > 0);
    assert.deepEqual(readStatBrief(900001, root), { state: 'S', ppid: 4242, startTicks: 987654 });
    assert.equal(readStatBrief(900002, root)!.state, 'Z');
    assert.equal(readStatBrief(123456789, root), null); // no such process
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
