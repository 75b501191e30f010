/**
 * The container's figures are this run's: real target processes, cgroup files from fixture trees
 * (fixtures/procfs, copied; the test plays the kernel by rewriting them while the target runs), so
 * nothing depends on this machine's cgroup layout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findMemoryCgroup } from '../procfs/cgroup';
import { readMemhuntRecording } from '../recording/reader';
import { runCommand } from '../sampler/session';
import { FIXTURES, tempDir } from '../test-support';
import { formatSummary } from '../cli/output';
import { buildChart } from '../render/chart';
import { analyzeRecording, verdictLineOf } from './analyze';
import { checkLimits } from './limits';
import { summarize } from './summary';
import { formatPercent } from '../units';

const MiB = 2 ** 20;
const V1_DIR = 'sys/fs/cgroup/memory/docker/79e5aec69e5cf3339998a75c46d9e75ec8705362601c077432ffa7028020f0cf';
const V2_DIR = 'sys/fs/cgroup/system.slice/docker-788d5d050e0733a9ba6eaa7f1ff371346df374c6f6d7eaa0de7cc78d6826b8a8.scope';

function fixtureCopy(name: string): string {
  const dir = tempDir('memhunt-cg-');
  fs.cpSync(path.join(FIXTURES, 'procfs', name), dir, { recursive: true });
  return dir;
}

test('v1: a max_usage_in_bytes left from before the run is not shown as this run\'s peak (memhunt run -- sleep 1 said 1.63 GiB)', async () => {
  const root = fixtureCopy('cgroup-v1');
  const dir = path.join(root, V1_DIR);
  // The kernel never resets max_usage_in_bytes: 1.63 GiB from some earlier job; 342 MiB in use now.
  fs.writeFileSync(path.join(dir, 'memory.max_usage_in_bytes'), `${1750 * MiB}\n`);
  fs.writeFileSync(path.join(dir, 'memory.usage_in_bytes'), `${342 * MiB}\n`);
  const loc = findMemoryCgroup(4711, root)!;
  const out = path.join(tempDir(), 'sleep.mh');
  await runCommand({ command: ['sleep', '0.3'], outputPath: out, intervalMs: 20, metric: 'rss', limitBytes: null, cgroupLocation: loc, agent: null });
  const rec = await readMemhuntRecording(out);
  const s = summarize(rec);
  assert.ok(s.container);
  assert.equal(s.container.usagePeakBytes, 342 * MiB);
  assert.equal(s.container.kernelPeakBytes, null, 'the kernel peak did not move during the run: it is not this run\'s');
  assert.equal(s.container.holdsMoreThanTree, true, 'sleep holds ~2 MiB of the 342 MiB charged');
  const text = formatSummary(s, { command: rec.meta.command, recordingPath: out });
  assert.doesNotMatch(text, /1\.71 GiB|1750/, text);
  assert.match(text, /highest usage 342 MiB/, text);
  assert.match(text, /the cgroup holds more than this tree: 342 MiB was charged at the start/, text);
  // The cgroup limit (1 GiB, hierarchical) is judged on the cgroup's usage in the run, not the stale peak.
  assert.equal(s.limitUse?.what, 'cgroup usage');
  assert.equal(s.limitUse?.usedBytes, 342 * MiB);
  assert.match(text, /1\.00 GiB \(cgroup v1, counts cgroup usage\): peak used 33%, headroom 682 MiB/, text);
});

test('v2: memory.peak that rose during the run is the run\'s (between samples); OOM kills are the counter\'s rises', async () => {
  const root = fixtureCopy('cgroup-v2-oom');
  const dir = path.join(root, V2_DIR);
  fs.writeFileSync(path.join(dir, 'memory.current'), `${100 * MiB}\n`);
  fs.writeFileSync(path.join(dir, 'memory.peak'), `${200 * MiB}\n`);
  fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 4\noom_kill 4\n');
  const loc = findMemoryCgroup(2718, root)!;
  const out = path.join(tempDir(), 'peak.mh');
  // The target plays the kernel: after the first sample, a peak of 240 MiB between two samples and
  // two OOM kills; then it waits until the sampler has read the new values (a loaded machine can
  // leave long gaps between samples, so no fixed sleep is enough).
  const flags = tempDir();
  const go = path.join(flags, 'go');
  const done = path.join(flags, 'done');
  // Overwritten in place without truncating (dd conv=notrunc, same lengths): memhunt keeps the files
  // open, as the kernel's, which never read empty; a read between `>`'s truncation and its write
  // made the sampler give up the cgroup, once under load.
  const script = `while [ ! -e '${go}' ]; do sleep 0.02; done; echo ${240 * MiB} | dd of='${dir}/memory.peak' conv=notrunc status=none; ` +
    `printf 'low 0\\nhigh 0\\nmax 1\\noom 6\\noom_kill 6\\n' | dd of='${dir}/memory.events' conv=notrunc status=none; ` +
    `while [ ! -e '${done}' ]; do sleep 0.02; done`;
  let samplesSince = 0;
  const onSample = () => {
    // The first sample has read the counters as they were before the run: now the "kernel" may move.
    if (!fs.existsSync(go)) fs.writeFileSync(go, '');
    if (fs.readFileSync(path.join(dir, 'memory.events'), 'utf8').includes('oom_kill 6') && ++samplesSince === 3) fs.writeFileSync(done, '');
  };
  await runCommand({ command: ['sh', '-c', script], outputPath: out, intervalMs: 20, metric: 'rss', limitBytes: null, cgroupLocation: loc, agent: null, onSample });
  const rec = await readMemhuntRecording(out);
  const s = summarize(rec);
  assert.equal(s.container?.usagePeakBytes, 100 * MiB);
  assert.equal(s.container?.kernelPeakBytes, 240 * MiB);
  // The first rise of the counter counts as one kill (the value before the run is not recorded).
  assert.equal(s.container?.oomKillsAtLeast, 1);
  assert.equal(s.container?.oomKillCounter, 6);
  assert.equal(s.limitUse?.usedBytes, 240 * MiB, 'the 256 MiB cgroup limit is judged on the cgroup\'s highest usage in the run');
  const text = formatSummary(s, { command: rec.meta.command, recordingPath: out });
  assert.match(text, /the kernel's cgroup peak rose to 240 MiB during the run/, text);
  assert.match(text, /the OOM killer ran in the cgroup during the run: at least one kill \(its kill counter rose to 6\)/, text);
  assert.match(text, /256 MiB \(cgroup v2, counts cgroup usage\): peak used 94%, headroom 16\.0 MiB/, text);
});

test('--limit is judged on the tree total it kills on, not on the cgroup; a run killed at it gets no projection', async () => {
  const root = fixtureCopy('cgroup-v1');
  const dir = path.join(root, V1_DIR);
  // The container already holds 1.8 GiB of other things; the stale kernel peak says 1.9 GiB.
  fs.writeFileSync(path.join(dir, 'memory.usage_in_bytes'), `${1843 * MiB}\n`);
  fs.writeFileSync(path.join(dir, 'memory.max_usage_in_bytes'), `${1946 * MiB}\n`);
  const loc = findMemoryCgroup(4711, root)!;
  const out = path.join(tempDir(), 'limit.mh');
  // A steady leak, 1 MiB every 10 ms, until --limit 160MiB kills it.
  const leak = 'import time\nkeep = []\nwhile True:\n    keep.append(b"x" * (1 << 20))\n    time.sleep(0.01)\n';
  const r = await runCommand({
    command: ['python3', '-c', leak], outputPath: out, intervalMs: 10, metric: 'rss', limitBytes: 160 * MiB, cgroupLocation: loc, agent: null,
  });
  assert.equal(r.reason, 'limit');
  const rec = await readMemhuntRecording(out);
  const a = analyzeRecording(rec);
  const s = a.summary;
  assert.equal(s.limitUse?.source, '--limit');
  assert.equal(s.limitUse?.what, 'tree RSS');
  // Killed at the first sample above 160 MiB: a little over 100%, never the cgroup's 1150%.
  assert.ok(s.limitUse!.share > 0.95 && s.limitUse!.share < 1.5, `share ${s.limitUse!.share}`);
  const text = formatSummary(s, { command: rec.meta.command, recordingPath: out });
  // One percentage format everywhere (units.ts): a share just over the limit reads 100.3%, never 100%.
  const pctText = `peak used ${formatPercent(s.limitUse!.share)}`;
  assert.ok(text.includes(pctText), text);
  // The chart says the same share.
  const chart = buildChart([{ rec, name: 'limit.mh' }]);
  assert.ok(chart.limits[0]!.label.includes(`${formatPercent(s.limitUse!.share)} used at the peak (tree RSS)`), chart.limits[0]!.label);
  // It got there: no "reached N ms after the end of the recording".
  assert.equal(a.tree.projection, null);
  // The tree RSS it was killed at: a little over 160 MiB (how much over depends on how late a busy
  // machine ran the sample that saw it: 173 MiB seen beside two CPU hogs), never the cgroup's 1.8 GiB.
  const killedAt = /killed by memhunt at the 160 MiB --limit when the tree RSS reached (\d+) MiB/.exec(a.killedAtLimit ?? '');
  assert.ok(killedAt && Number(killedAt[1]) >= 160 && Number(killedAt[1]) < 240, a.killedAtLimit ?? 'no kill said');
  assert.doesNotMatch(verdictLineOf(a), /after the end/);
  assert.ok(a.tree.evidence.some((e) => e.startsWith('killed by memhunt at the 160 MiB --limit')), a.tree.evidence.join('\n'));
  // check --max-share-of-limit counts the same way.
  const [share] = checkLimits(a, { maxShareOfLimit: 0.5 });
  assert.equal(share!.status, 'violated');
  assert.match(share!.actual, /\(tree RSS\) = 1\d\d(\.\d)?% of 160 MiB \(--limit\)/);
});
