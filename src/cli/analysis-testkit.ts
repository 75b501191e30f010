/**
 * Helpers for the tests of analyze, check and diff (not named *.test.ts, so runners do not take
 * it for a test): synthetic recordings written with the real writer, so commands read them back
 * through the real reader. Shapes are functions of time; sizes in MiB.
 */
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, RECORDING_VERSION, type HeaderRecord } from '../recording/spec';
import { RecordingWriter } from '../recording/writer';

export interface SyntheticProcess {
  pid: number;
  cmd: string[];
  /** MiB at t seconds. */
  mib: (tS: number) => number;
}

/** Writes a recording of `durationS` seconds sampled every `intervalMs`; returns its path. */
export function writeSyntheticRecording(
  file: string,
  processes: SyntheticProcess[],
  opts: { durationS: number; intervalMs?: number; limitBytes?: number | null; samples?: number } = { durationS: 10 },
): string {
  const intervalMs = opts.intervalMs ?? 50;
  const header: HeaderRecord = {
    type: 'header', format: RECORDING_FORMAT, version: RECORDING_VERSION, memhuntVersion: 'test', mode: 'run',
    command: processes[0]?.cmd ?? ['test'], cwd: '/tmp', host: 'test', containerId: null, startWallMs: Date.UTC(2026, 0, 1),
    startIso: new Date(Date.UTC(2026, 0, 1)).toISOString(), intervalMs, metric: 'rss', limitBytes: opts.limitBytes ?? null,
    rootPid: processes[0]?.pid ?? 1, cgroup: null,
    fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] }, labels: {},
  };
  const w = new RecordingWriter(file, header);
  for (const p of processes) w.append({ type: 'proc', t: 0, pid: p.pid, ppid: 1, cmd: p.cmd });
  const n = opts.samples ?? Math.floor((opts.durationS * 1000) / intervalMs) + 1;
  let t = 0;
  for (let i = 0; i < n; i++) {
    t = i * intervalMs;
    const rows = processes.map((p) => {
      const kib = Math.round(p.mib(t / 1000) * 1024);
      return [p.pid, kib, kib, 0, 0, kib];
    });
    w.append({ type: 's', t, p: rows });
  }
  w.append({ type: 'end', t, reason: 'exited', code: 0, signal: null, samples: n });
  w.close();
  return file;
}

/** A sawtooth of amplitude `amp` MiB and period `periodS`. */
export function saw(tS: number, periodS: number, amp: number): number {
  return ((tS % periodS) / periodS) * amp;
}
