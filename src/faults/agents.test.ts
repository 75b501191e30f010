/**
 * Fault injection (issue 8): spoofed agent sockets, malformed replies, agents that are gone. Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../test-support';

import { fakeHost, HOSTILE, isRoot, OK_REPLY, sandbox } from './kit';

// ------------------------------------------------------------------ 8. spoofed agent sockets


test('snapshot refuses a socket memhunt did not make, without connecting to it', async (t) => {
  const cases: Array<[string, Parameters<typeof fakeHost>[2], RegExp]> = [
    ['a socket in an ordinary folder', { plainDir: true }, /not a memhunt-XXXXXX\/agent\.sock path/],
    ['a run directory served by a program that is not memhunt', { as: 'python' }, /its owner, pid \d+, is not a memhunt process/],
  ];
  for (const [name, opts, why] of cases) {
    await t.test(name, async () => {
      const { dir } = sandbox();
      const host = await fakeHost(dir, OK_REPLY, opts);
      try {
        const r = await runCli(['snapshot', String(host.childPid)]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^memhunt: pid \d+ names the agent socket .*, which memhunt did not make for it \(.*\); refusing to connect\n$/);
        assert.match(r.stderr, why);
        assert.equal(host.connected(), false);
      } finally {
        host.stop();
      }
    });
  }
  await t.test('as root: a process of another user whose "memhunt" serves the socket is asked, its reply sanitised', { skip: !isRoot && 'needs root' }, async () => {
    // What verification cannot rule out: a user's own memhunt-looking parent. Root talks to it as
    // that user's run; nothing it sends reaches the terminal raw.
    const { dir } = sandbox();
    const row = JSON.stringify(HOSTILE);
    const host = await fakeHost(dir, `{"type":"reply","id":1,"ok":true,"result":{"objects":1,"totalBytes":1,"rows":[[${row},1,1]]}}\n`, { uid: 65534 });
    try {
      const r = await runCli(['snapshot', String(host.childPid)]);
      assert.doesNotMatch(r.stdout + r.stderr, /\x1b|\u009b|\x07/);
    } finally {
      host.stop();
    }
  });
});

test('a malformed reply is one line and exit 1, never a stack trace', async () => {
  for (const reply of ['{"type":"reply","id":1,"ok":true,"result":{"rows":"nope"}}\n', 'not json at all\n', '{"type":"reply","id":1,"ok":"yes"}\n']) {
    const { dir } = sandbox();
    const host = await fakeHost(dir, reply);
    try {
      const r = await runCli(['snapshot', String(host.childPid), '--timeout', '20s']);
      assert.equal(r.code, 1, `${reply}: ${r.stderr}`);
      assert.match(r.stderr, /^memhunt: pid \d+: a malformed .*from the memhunt run/);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    } finally {
      host.stop();
    }
  }
});

