/**
 * A recording of a whole Dask LocalCluster in a fleet (trial 4): the row is the cluster, not its
 * first worker "+3 more"; the limit column is a worker's own memory_limit, said to be per worker;
 * the share used and the least headroom name the worker they are of. And a worker held at Dask's
 * pause threshold to the end is said to have stalled the job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { daskLimitWorker, peakOfLimitText } from '../analysis/fleet';
import { identityText } from '../model/identity';
import { FIXTURES, runCli, tempDir } from '../test-support';

const TRIAL4 = path.join(FIXTURES, 'memhunt', 'trial4');

test('identity: several Dask workers are the cluster; one worker restarted by its nanny is still that worker', () => {
  const a = 'worker tcp://127.0.0.1:39167 (0)';
  assert.equal(identityText({}, 'vm', [a, 'worker tcp://127.0.0.1:44485 (1)', 'worker tcp://127.0.0.1:33635 (0)']), 'vm: 2 Dask workers');
  assert.equal(identityText({}, 'vm', [a, 'worker tcp://127.0.0.1:33635 (0)']), a);
  assert.equal(identityText({}, 'vm', [a]), a);
  assert.equal(identityText({ platform: 'kubernetes', podName: 'etl-0' }, 'etl-0', [a, 'worker tcp://127.0.0.1:1 (1)']), 'pod etl-0: 2 Dask workers');
  assert.equal(identityText({ name: 'mine' }, 'vm', [a, 'worker tcp://127.0.0.1:1 (1)']), 'mine', 'a name label still wins');
});

test('peak against a per-worker limit: the worker, its own peak and limit; a container limit as before', () => {
  const row = { peakBytes: 577 * 2 ** 20, limitBytes: 400 * 2 ** 20, limitSource: 'Dask memory_limit (worker tcp://127.0.0.1:33635 (0))', usedShare: 0.95, headroomBytes: 20 * 2 ** 20 };
  assert.equal(daskLimitWorker(row), 'worker tcp://127.0.0.1:33635 (0)');
  assert.equal(peakOfLimitText(row), 'peak 577 MiB; worker tcp://127.0.0.1:33635 (0) 380 MiB of its 400 MiB Dask memory_limit (95%)');
  const cgroup = { ...row, limitSource: 'cgroup v2 memory.max', usedShare: 577 / 1024, headroomBytes: 447 * 2 ** 20, limitBytes: 2 ** 30 };
  assert.equal(daskLimitWorker(cgroup), null);
  assert.equal(peakOfLimitText(cgroup), 'peak 577 MiB of 1.00 GiB (56%)');
});

test('fleet of LocalCluster recordings: "2 Dask workers", the limit per worker, the least headroom names its worker; plot caption too', async () => {
  const dir = tempDir();
  for (const f of ['dask_restarted_worker.mh', 'dask_paused_worker.mh', 'leak_then_sleep.mh']) fs.copyFileSync(path.join(TRIAL4, f), path.join(dir, f));
  fs.copyFileSync(path.join(FIXTURES, 'memhunt', 'loaded', 'dask_leak_teardown.mh'), path.join(dir, 'dask_leak_teardown.mh'));
  const r = await runCli(['fleet', dir]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => /^\s*\d+ /.test(l));
  const restarted = rows.find((l) => l.includes('dask_restarted_worker.mh'))!;
  // Before: "worker tcp://127.0.0.1:39167 (0) +3 more  577 MiB  400 MiB (Dask)  95%" — one worker's
  // name and limit beside the tree's peak.
  assert.match(restarted, /vm: 2 Dask workers +577 MiB +400 MiB\/worker \(Dask\) +95% /, r.stdout);
  assert.doesNotMatch(r.stdout, /\+\d+ more/, r.stdout);
  assert.match(r.stdout, /least headroom [\d.]+ MiB \(95% used\) in worker tcp:\/\/127\.0\.0\.1:\d+ \(0\) \(its Dask memory_limit\) of vm: 2 Dask workers;/, r.stdout);
  const p = await runCli(['plot', dir, '-o', path.join(dir, 'fleet.svg')]);
  assert.equal(p.code, 0, p.stderr);
  const svg = fs.readFileSync(path.join(dir, 'fleet.svg'), 'utf8');
  assert.match(svg, /peak 577 MiB; worker tcp:\/\/127\.0\.0\.1:\d+ \(0\) 380 MiB of its 400 MiB Dask memory_limit \(95%\)/);
  assert.doesNotMatch(svg, /peak 577 MiB of 400 MiB/);
  // The first recording ended 0.9 min into 15: its end label reads rightwards from its line (it was
  // anchored at its end and cut at the image's left edge).
  const end = /<text x="([\d.]+)"[^>]*>dask_leak_teardown\.mh: exit 0<\/text>/.exec(svg);
  assert.ok(end, 'the end label of the first recording is drawn');
  assert.doesNotMatch(end[0], /text-anchor="end"/);
  assert.match(svg, /text-anchor="end"[^>]*>dask_paused_worker\.mh: killed by SIGTERM</, 'an end with room on its left keeps it');
});

test('a worker held at Dask\'s pause until the job was stopped: the verdict says the job stalled there', async () => {
  const a = await runCli(['analyze', path.join(TRIAL4, 'dask_paused_worker.mh')]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /sat at 8\d% of its 400 MiB memory_limit for [\dms.]+ until it ended, where Dask pauses .*; a job waiting on its tasks stalled there \(ended by SIGTERM\)/, a.stdout);
  // A worker that went through the threshold on its way to the nanny's kill was never held there.
  const k = await runCli(['analyze', path.join(TRIAL4, 'dask_restarted_worker.mh')]);
  assert.doesNotMatch(k.stdout, /stalled/, k.stdout);
});
