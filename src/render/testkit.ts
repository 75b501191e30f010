/**
 * Synthetic recordings for the render tests and the plot benchmark: a training-job shape (a model
 * load step, a sawtooth of batches, a slow leak, workers that come and go), of any length, built
 * straight into the model (no file) so a 1 M-sample test input costs ~50 ms. Deterministic.
 */
import type { MemoryRecording, ProcessTrack, RecordingEvent, RecordingEnd } from '../model/recording';
import { SeriesBuilder, emptySeries } from '../model/series';

const MiB = 1024 * 1024;

export interface SyntheticOptions {
  samples: number;
  intervalMs?: number;
  /** Processes: the root plus (processes - 1) workers, each alive for a part of the run. */
  processes?: number;
  /** Index of a 1-sample spike of the root process, and its height above the usual value. */
  spikeAt?: number;
  spikeBytes?: number;
  /** Sections ("epoch N") over the run, and a point mark at each one's end. */
  sections?: number;
  limitBytes?: number | null;
  end?: RecordingEnd['reason'] | 'cut';
  command?: string[];
  /** Per-sample leak of the root, bytes. */
  leakBytesPerSample?: number;
}

/** Deterministic noise in [0, 1). */
function noise(i: number): number {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  return x - Math.floor(x);
}

export function syntheticRecording(o: SyntheticOptions): MemoryRecording {
  const n = Math.max(1, Math.floor(o.samples));
  const dt = o.intervalMs ?? 10;
  const P = Math.max(1, o.processes ?? 1);
  const leak = o.leakBytesPerSample ?? (40 * MiB) / n;
  const total = new SeriesBuilder('tree total', n);
  const rss: SeriesBuilder[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  for (let p = 0; p < P; p++) {
    // Workers start in the first quarter and stop at various points of the second half.
    starts.push(p === 0 ? 0 : Math.floor((n * p) / (4 * P)));
    ends.push(p === 0 ? n : Math.floor(n * (0.55 + (0.4 * p) / P)));
    rss.push(new SeriesBuilder(`pid ${1000 + p} rss`, p === 0 ? n : Math.max(16, ends[p]! - starts[p]!)));
  }
  const batch = Math.max(4, Math.floor(n / 200));
  for (let i = 0; i < n; i++) {
    const t = i * dt;
    let sum = 0;
    for (let p = 0; p < P; p++) {
      if (i < starts[p]! || i >= ends[p]!) continue;
      let v: number;
      if (p === 0) {
        const model = i > n * 0.05 ? 300 * MiB : 60 * MiB;
        const saw = ((i % batch) / batch) * 120 * MiB;
        v = 80 * MiB + model + saw + leak * i + noise(i) * 4 * MiB;
        if (o.spikeAt === i) v += o.spikeBytes ?? 2048 * MiB;
      } else {
        v = (40 + 15 * p) * MiB + noise(i + p * 7919) * 6 * MiB + ((i - starts[p]!) / n) * 30 * MiB;
      }
      v = Math.round(v / 1024) * 1024;
      rss[p]!.push(t, v);
      sum += v;
    }
    total.push(t, sum);
  }
  const processes: ProcessTrack[] = rss.map((b, p) => ({
    pid: 1000 + p, ppid: p === 0 ? 999 : 1000,
    command: p === 0 ? o.command ?? ['python3', 'train.py', '--epochs', '3'] : ['python3', '-m', 'loader', `--worker=${p}`],
    firstSeenMs: starts[p]! * dt, exitMs: p === 0 ? null : ends[p]! * dt, exitCode: null, exitSignal: null,
    rss: b.build(), anon: emptySeries(), file: emptySeries(), shmem: emptySeries(), pss: emptySeries(), uss: emptySeries(), hwmBytes: NaN,
  }));
  const events: RecordingEvent[] = [];
  const S = o.sections ?? 0;
  for (let s = 0; s < S; s++) {
    const a = (n * (0.06 + (0.9 * s) / S)) * dt;
    const b = (n * (0.06 + (0.9 * (s + 1)) / S)) * dt - dt;
    events.push({ kind: 'section', startMs: a, endMs: b, pid: 1000, label: `epoch ${s + 1}`, level: 0 });
    events.push({ kind: 'mark', tMs: b, pid: 1000, label: `checkpoint ${s + 1}` });
  }
  if (S > 0) events.unshift({ kind: 'section', startMs: 0, endMs: n * 0.05 * dt, pid: 1000, label: 'load-model', level: 0 });
  const endMs = n * dt;
  const reason = o.end ?? 'exited';
  const end: RecordingEnd | null = reason === 'cut' ? null : {
    tMs: endMs, reason, exitCode: reason === 'exited' ? 0 : reason === 'limit' || reason === 'oom-killer' ? 137 : null,
    exitSignal: reason === 'signalled' ? 'SIGTERM' : reason === 'limit' || reason === 'oom-killer' ? 'SIGKILL' : null,
  };
  return {
    meta: {
      source: 'memhunt', formatVersion: 1, memhuntVersion: '0.1.0', mode: 'run', command: processes[0]!.command, cwd: '/tmp', host: 'test',
      containerId: null, startWallMs: 1_790_000_000_000, intervalMs: dt, metric: 'rss', limitBytes: o.limitBytes ?? null, cgroup: null, rootPid: 1000,
    },
    total: total.build(), totalPss: emptySeries(), processes, cgroup: null, events, end,
    warnings: reason === 'cut' ? ['the recording ends without its final record'] : [], truncated: reason === 'cut',
  };
}
