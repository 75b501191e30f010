/**
 * Helpers for the tests of src/formats (not named *.test.ts, so runners do not take it for a test).
 * Fixtures are found from the compiled file's place, dist/formats/, as from src/formats/.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rssOnlyTrack, type MemoryRecording, type ProcessTrack } from '../model/recording';
import { SeriesBuilder, emptySeries, type Series } from '../model/series';

export const FIXTURES_DIR = path.resolve(__dirname, '../../fixtures');

export function fixturePath(...parts: string[]): string {
  return path.join(FIXTURES_DIR, ...parts);
}

export function readFixture(...parts: string[]): string {
  return fs.readFileSync(fixturePath(...parts), 'utf8');
}

export function series(points: [tMs: number, bytes: number][]): Series {
  const b = new SeriesBuilder('test');
  for (const [t, v] of points) b.push(t, v);
  return b.build();
}

export function track(pid: number, ppid: number, command: string[], rss: Series, exitMs: number | null = null): ProcessTrack {
  return rssOnlyTrack({ pid, ppid, command, rss, firstSeenMs: rss.tMs.length > 0 ? rss.tMs[0]! : 0, exitMs });
}

const MIB = 2 ** 20;

/**
 * A small memhunt-like recording: root 100 with two children (one exits), a cgroup whose limit
 * changes once, one event of each kind, sizes in whole KiB as /proc gives them.
 */
export function sampleRecording(): MemoryRecording {
  const times = [0, 100, 200, 300, 400, 500];
  const rootRss = [10, 12, 14, 14, 15, 15].map((m) => m * MIB);
  const childA = [null, 5, 6, 7, null, null].map((m) => (m === null ? null : m * MIB + 4096));
  const childB = [null, null, null, 20, 30, 25].map((m) => (m === null ? null : m * MIB));
  const pick = (vals: (number | null)[]): [number, number][] =>
    times.flatMap((t, i) => (vals[i] === null ? [] : [[t, vals[i]!] as [number, number]]));
  const total = times.map((t, i) => [t, rootRss[i]! + (childA[i] ?? 0) + (childB[i] ?? 0)] as [number, number]);
  return {
    meta: {
      source: 'memhunt',
      formatVersion: 1,
      memhuntVersion: '0.1.0',
      mode: 'run',
      command: ['python3', '/srv/app/train.py', '--name', 'a b, "c"'],
      cwd: '/srv/app',
      host: 'box',
      containerId: null,
      startWallMs: 1_717_000_000_123,
      intervalMs: 100,
      metric: 'rss',
      limitBytes: 64 * MIB,
      cgroup: { version: 2, path: '/user.slice/test', limitBytes: 128 * MIB },
      rootPid: 100,
    },
    total: series(total),
    totalPss: emptySeries(),
    processes: [
      { ...track(100, 1, ['python3', '/srv/app/train.py', '--name', 'a b, "c"'], series(pick(rootRss))), hwmBytes: 16 * MIB },
      track(101, 100, ['python3', '-c', 'work()'], series(pick(childA)), 400),
      track(102, 100, ['/bin/sh', '-c', 'sort big.txt'], series(pick(childB))),
    ],
    cgroup: {
      usage: series(total.map(([t, v]) => [t, v + 2 * MIB])),
      workingSet: series(total.map(([t, v]) => [t, v + MIB])),
      peak: emptySeries(),
      limit: series([[0, 128 * MIB], [300, 96 * MIB]]),
    },
    events: [
      { kind: 'section', startMs: 100, endMs: 300, pid: 100, label: 'load data', level: 0 },
      { kind: 'section', startMs: 150, endMs: null, pid: 100, label: 'epoch 1', level: 1, startBytes: 13 * MIB },
      { kind: 'mark', tMs: 250, pid: null, label: 'checkpoint' },
      { kind: 'limit-exceeded', tMs: 400, metric: 'rss', bytes: 70 * MIB, limitBytes: 64 * MIB },
      { kind: 'oom-kill', tMs: 450, oomKills: 1 },
      { kind: 'note', tMs: 480, text: 'stopped' },
    ],
    end: { tMs: 500, reason: 'limit', exitCode: null, exitSignal: 'SIGKILL' },
    warnings: [],
    truncated: false,
  };
}

/** Asserts two series have the same length and agree within the tolerances. */
export function assertSeriesClose(actual: Series, expected: Series, what: string, bytesTol = 0, msTol = 1e-6): void {
  assert.equal(actual.tMs.length, expected.tMs.length, `${what}: sample count`);
  for (let i = 0; i < actual.tMs.length; i++) {
    const dt = Math.abs(actual.tMs[i]! - expected.tMs[i]!);
    const dv = Math.abs(actual.values[i]! - expected.values[i]!);
    if (dt > msTol) assert.fail(`${what}[${i}]: time ${actual.tMs[i]} ms, expected ${expected.tMs[i]} ms`);
    if (dv > bytesTol) assert.fail(`${what}[${i}]: ${actual.values[i]} bytes, expected ${expected.values[i]} bytes`);
  }
}

/** The largest value of a series, bytes (-Infinity when empty). */
export function maxOf(s: Series): number {
  let m = -Infinity;
  for (const v of s.values) m = Math.max(m, v);
  return m;
}
