import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { TreeTracker, lastPid } from './tree';

test('lastPid reads the fifth field of /proc/loadavg, -1 when it is not there', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-loadavg-'));
  try {
    const check = (text: string, want: number) => {
      const f = path.join(dir, 'loadavg');
      fs.writeFileSync(f, text);
      const fd = fs.openSync(f, 'r');
      try {
        assert.equal(lastPid(fd), want, JSON.stringify(text));
      } finally {
        fs.closeSync(fd);
      }
    };
    check('0.52 0.58 0.59 1/467 12345\n', 12345);
    check('0.00 0.01 0.05 2/98 7', 7);
    check('0.00 0.00 0.00 0/0 0\n', -1); // gVisor's
    check('', -1);
    check('garbage\n', -1);
    const real = fs.openSync('/proc/loadavg', 'r');
    assert.ok(lastPid(real) > 0);
    fs.closeSync(real);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a scan skipped for want of new pids still finds a child started after it', async () => {
  const tracker = new TreeTracker(process.pid);
  try {
    tracker.scan();
    // Nothing of ours started since: the listing may be skipped (other processes on the machine
    // may have started some), and it finds nothing new either way.
    assert.deepEqual(tracker.scan().filter((p) => p.ppid === process.pid), []);
    const child = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      await once(child, 'spawn');
      const fresh = tracker.scan();
      assert.ok(fresh.some((p) => p.pid === child.pid && p.ppid === process.pid), JSON.stringify(fresh));
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    tracker.close();
  }
});

test('a last pid that does not move while processes start (an emulated /proc/loadavg) is found out and no longer trusted', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-procroot-'));
  try {
    // A /proc whose loadavg never moves, and whose pid entries are the real ones (symlinks).
    fs.mkdirSync(path.join(root, 'proc'));
    fs.writeFileSync(path.join(root, 'proc', 'loadavg'), '0.10 0.10 0.10 1/100 4242\n');
    const link = (pid: number) => fs.symlinkSync(`/proc/${pid}`, path.join(root, 'proc', String(pid)));
    link(process.pid);
    const tracker = new TreeTracker(process.pid, root);
    try {
      tracker.scan();
      const child = spawn('sleep', ['5'], { stdio: 'ignore' });
      try {
        await once(child, 'spawn');
        link(child.pid!);
        // Skipped at first (the last pid did not move), found by the check within VERIFY_MS.
        const t0 = Date.now();
        let found = false;
        while (!found && Date.now() - t0 < 5000) {
          found = tracker.scan().some((p) => p.pid === child.pid);
          if (!found) await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(found, 'the child was found');
        assert.ok(Date.now() - t0 < 3000, `found after ${Date.now() - t0} ms`);
        // The check is off now: a listing every scan.
        const skipped = tracker.skippedScans;
        tracker.scan();
        tracker.scan();
        assert.equal(tracker.skippedScans, skipped);
      } finally {
        child.kill('SIGKILL');
      }
    } finally {
      tracker.close();
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
