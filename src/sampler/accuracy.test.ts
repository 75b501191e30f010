/**
 * Accuracy against a real tree: a Python parent holding 200 MiB and two children holding 100 MiB
 * each, at times they log themselves. Peaks must be within 5%, and the rise and the fall must be
 * seen at the first sample that could see them (issue #2, item 9): within two intervals when the
 * sampler keeps its schedule.
 *
 * Timing on a busy machine: a sample's time is taken when the sample starts, and its reads can
 * happen later when the sampler is descheduled (once: "fall seen at 3160 ms, release 3215–3237 ms",
 * 55 ms before the release started). So what the recording proves is a window: a sample that saw
 * the change was read before the next sample started, and the sample before it, which did not
 * see it, was read after its own start. Those bounds hold at any load; a fixed "2 intervals" does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { FIXTURES, runCli, tempDir } from '../test-support';
import type { ProcessTrack } from '../model/recording';

const MiB = 1024 * 1024;
const INTERVAL_MS = 20;

interface Ev { pid: number; event: string; t: number }

test('per-process and total peaks within 5%, rise and fall at the first sample that could see them', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'acc.mh');
  const events = path.join(dir, 'events.jsonl');
  const running = runCli(['run', '-q', '--interval', `${INTERVAL_MS}ms`, '-o', out, '--', 'python3', path.join(FIXTURES, 'workloads', 'tree_alloc.py'), events], { timeoutMs: 170_000 });
  // Each child allocates only once the recording shows it sampled a few times (the baseline before its
  // allocation): on a busy machine the sampler can find a new process later than any fixed sleep.
  let ended = false;
  void running.then(() => (ended = true));
  const released = new Set<number>();
  while (!ended && released.size < 2) {
    const started = fs.existsSync(events)
      ? fs.readFileSync(events, 'utf8').split('\n').filter((l) => l.includes('"started"')).map((l) => (JSON.parse(l) as Ev).pid)
      : [];
    if (started.some((pid) => !released.has(pid))) {
      try {
        const now = await readMemhuntRecording(out);
        for (const pid of started) {
          if (!released.has(pid) && (now.processes.find((p) => p.pid === pid)?.rss.tMs.length ?? 0) >= 3) {
            fs.writeFileSync(`${events}.go-${pid}`, '');
            released.add(pid);
          }
        }
      } catch {
        // not readable yet
      }
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  const r = await running;
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  const evs: Ev[] = fs.readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Ev).filter((e) => e.event !== 'started');
  const pids = [...new Set(evs.map((e) => e.pid))];
  assert.equal(pids.length, 3, 'parent and two children logged');
  const toRecMs = (tSec: number) => tSec * 1000 - rec.meta.startWallMs;
  const tolMs = 2 * INTERVAL_MS;
  // Python's time.time() and the recording's origin read the same wall clock; what is left is the
  // lag of /proc's RSS counters ("updated lazily", man proc_pid_status) and rounding.
  const clockTolMs = 10;

  let expectedTotal = 0;
  for (const pid of pids) {
    const track = rec.processes.find((p) => p.pid === pid) as ProcessTrack;
    assert.ok(track, `pid ${pid} was recorded`);
    const at = (name: string) => toRecMs(evs.find((e) => e.pid === pid && e.event === name)!.t);
    const allocBytes = (pid === rec.meta.rootPid ? 200 : 100) * MiB;
    const { tMs, values } = track.rss;
    // Baseline: the interpreter's own memory just before the allocation: the lowest sample of the
    // 300 ms before it (start-up transients, e.g. imports being freed, are not the baseline).
    let base = NaN;
    for (let i = 0; i < tMs.length && tMs[i]! < at('alloc_start'); i++) {
      if (tMs[i]! >= at('alloc_start') - 300 && !(values[i]! >= base)) base = values[i]!;
    }
    assert.ok(Number.isFinite(base), `pid ${pid} has samples before its allocation`);
    // Peak while the allocation was held. (Not over the whole life: between fork() and exec() a
    // child shares, and is charged in RSS for, all of its parent's 200 MiB for a moment.)
    let peak = 0;
    for (let i = 0; i < tMs.length; i++) {
      if (tMs[i]! >= at('alloc_start') - tolMs && tMs[i]! <= at('free_end') + tolMs) peak = Math.max(peak, values[i]!);
    }
    const expected = base + allocBytes;
    assert.ok(Math.abs(peak - expected) <= 0.05 * expected, `pid ${pid}: peak ${(peak / MiB).toFixed(1)} MiB, expected ${(expected / MiB).toFixed(1)} MiB`);
    expectedTotal += expected;

    // The rise: the first high sample from the baseline window on (earlier, the fork()-to-exec()
    // moment above can show the parent's 200 MiB in a child: seen 2 times in 9 runs).
    const riseIdx = tMs.findIndex((t, i) => t >= at('alloc_start') - 300 && values[i]! >= base + 0.95 * allocBytes);
    assert.ok(riseIdx > 0, `pid ${pid}: the allocation was recorded after a low sample`);
    const next = (i: number) => (i + 1 < tMs.length ? tMs[i + 1]! : Infinity);
    // Seen high at riseIdx (read before the next sample began), not yet at riseIdx − 1 (read after it began).
    const rise = tMs[riseIdx]!;
    assert.ok(at('alloc_start') <= next(riseIdx) + clockTolMs && at('alloc_end') >= tMs[riseIdx - 1]! - clockTolMs,
      `pid ${pid}: rise seen at ${rise.toFixed(0)} ms (previous sample ${tMs[riseIdx - 1]!.toFixed(0)}, next ${next(riseIdx).toFixed(0)}), allocation ${at('alloc_start').toFixed(0)}–${at('alloc_end').toFixed(0)} ms`);
    const fallIdx = tMs.findIndex((t, i) => t > rise && values[i]! <= base + 0.05 * allocBytes);
    assert.ok(fallIdx > 0, `pid ${pid}: the release was recorded`);
    const fall = tMs[fallIdx]!;
    assert.ok(at('free_start') <= next(fallIdx) + clockTolMs && at('free_end') >= tMs[fallIdx - 1]! - clockTolMs,
      `pid ${pid}: fall seen at ${fall.toFixed(0)} ms (previous sample ${tMs[fallIdx - 1]!.toFixed(0)}, next ${next(fallIdx).toFixed(0)}), release ${at('free_start').toFixed(0)}–${at('free_end').toFixed(0)} ms`);
  }
  // The total while all three held their allocations.
  const allHeldFrom = Math.max(...evs.filter((e) => e.event === 'alloc_end').map((e) => toRecMs(e.t)));
  const allHeldTo = Math.min(...evs.filter((e) => e.event === 'free_start').map((e) => toRecMs(e.t)));
  let totalPeak = 0;
  for (let i = 0; i < rec.total.tMs.length; i++) {
    const t = rec.total.tMs[i]!;
    if (t >= allHeldFrom && t <= allHeldTo) totalPeak = Math.max(totalPeak, rec.total.values[i]!);
  }
  assert.ok(Math.abs(totalPeak - expectedTotal) <= 0.05 * expectedTotal, `total peak ${(totalPeak / MiB).toFixed(1)} MiB, expected ${(expectedTotal / MiB).toFixed(1)} MiB`);
  // The sampling rate held, loosely (a loaded 2-core machine delays and skips some samples; the
  // sampler's own rate is measured in bench/, not here).
  const dur = rec.total.tMs[rec.total.tMs.length - 1]!;
  assert.ok(rec.total.tMs.length >= 0.5 * (dur / INTERVAL_MS), `${rec.total.tMs.length} samples in ${dur.toFixed(0)} ms`);
});
