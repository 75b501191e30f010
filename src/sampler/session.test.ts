/**
 * Sessions against cgroup fixture trees: the process tree is real, the cgroup files are a copied
 * fixture that the test (playing the kernel) changes while the target runs. No cgroup is created.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findMemoryCgroup } from '../procfs/cgroup';
import { readMemhuntRecording } from '../recording/reader';
import { summarize } from '../analysis/summary';
import { FIXTURES, tempDir } from '../test-support';
import { runCommand } from './session';

const SCOPE = 'sys/fs/cgroup/system.slice/docker-788d5d050e0733a9ba6eaa7f1ff371346df374c6f6d7eaa0de7cc78d6826b8a8.scope';

function fixtureCopy(name: string): string {
  const dir = tempDir('memhunt-cg-');
  fs.cpSync(path.join(FIXTURES, 'procfs', name), dir, { recursive: true });
  return dir;
}

test('SIGKILL while the cgroup OOM-kill counter rises is reported as the OOM killer', async () => {
  const root = fixtureCopy('cgroup-v2-oom');
  const events = path.join(root, SCOPE, 'memory.events');
  fs.writeFileSync(events, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
  const loc = findMemoryCgroup(2718, root);
  assert.ok(loc);
  const out = path.join(tempDir(), 'oom.mh');
  // The target plays the kernel: it bumps the counter, then is killed with SIGKILL.
  // In place without truncating (same length): memhunt keeps the file open, and a kernel's never reads empty.
  const script = `sleep 0.3; printf 'low 0\\nhigh 0\\nmax 3\\noom 1\\noom_kill 1\\n' | dd of='${events}' conv=notrunc status=none; sleep 0.2; kill -9 $$`;
  const r = await runCommand({ command: ['sh', '-c', script], outputPath: out, intervalMs: 20, metric: 'rss', limitBytes: null, cgroupLocation: loc });
  assert.equal(r.reason, 'oom-killer');
  assert.equal(r.exitSignal, 'SIGKILL');
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.end?.reason, 'oom-killer');
  assert.ok(rec.events.some((e) => e.kind === 'oom-kill' && e.oomKills === 1));
  assert.equal(rec.meta.cgroup?.version, 2);
  assert.equal(rec.meta.cgroup?.limitBytes, 268435456);
  assert.equal(rec.meta.containerId, '788d5d050e0733a9ba6eaa7f1ff371346df374c6f6d7eaa0de7cc78d6826b8a8');
  const s = summarize(rec);
  assert.equal(s.oomKilled, true);
  assert.deepEqual(s.limit, { bytes: 268435456, source: 'cgroup v2' });
  assert.ok(rec.cgroup!.usage.values.length >= 2, 'the cgroup was read with the samples (how many depends on the load)');
  assert.equal(rec.cgroup!.usage.values[0], 142606336);
});

test('a SIGKILL without an OOM-kill is only "signalled", and a v1 cgroup is read the same way', async () => {
  const root = fixtureCopy('cgroup-v1');
  const loc = findMemoryCgroup(4711, root);
  assert.ok(loc && loc.version === 1);
  const out = path.join(tempDir(), 'kill.mh');
  const r = await runCommand({ command: ['sh', '-c', 'sleep 0.2; kill -9 $$'], outputPath: out, intervalMs: 20, metric: 'rss', limitBytes: null, cgroupLocation: loc });
  assert.equal(r.reason, 'signalled');
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.meta.cgroup?.version, 1);
  assert.equal(summarize(rec).oomKilled, false);
  assert.ok(rec.cgroup!.workingSet.values[0]! <= rec.cgroup!.usage.values[0]!);
});

test('a cgroup limit changed during the run is recorded', async () => {
  const root = fixtureCopy('cgroup-v2-oom');
  const loc = findMemoryCgroup(2718, root)!;
  const max = path.join(root, SCOPE, 'memory.max');
  const out = path.join(tempDir(), 'limit.mh');
  const r = await runCommand({ command: ['sh', '-c', `sleep 0.2; echo 536870912 > '${max}'; sleep 1.5`], outputPath: out, intervalMs: 50, metric: 'rss', limitBytes: null, cgroupLocation: loc });
  assert.equal(r.reason, 'exited');
  const rec = await readMemhuntRecording(out);
  const limits = [...rec.cgroup!.limit.values];
  assert.deepEqual(limits, [268435456, 536870912]);
});
