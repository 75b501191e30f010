/**
 * Streaming reader of the recording format (spec.ts) into the model.
 *
 * Tolerant by design: a file cut mid-member or mid-line (memhunt or the container was killed), or
 * damaged after some point, yields every complete record before the damage, with `truncated` set
 * and a warning that says where it stopped. Only a file whose header cannot be read is an error.
 * Streaming matters: a day at 10 ms decompresses to well over the 512 MiB a JS string can hold.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { CorruptRecordingError, InputError } from '../errors';
import type { MemoryRecording, ProcessTrack, RecordingEvent, RecordingEnd, CgroupSeries } from '../model/recording';
import { SeriesBuilder } from '../model/series';
import { RECORDING_FORMAT, RECORDING_VERSION, type HeaderRecord, type RecordingRecord } from './spec';

const KiB = 1024;

/** True when the first bytes look like one of our recordings (gzip magic + our header). */
export function isMemhuntRecording(firstBytes: Buffer): boolean {
  if (firstBytes.length < 2 || firstBytes[0] !== 0x1f || firstBytes[1] !== 0x8b) return false;
  try {
    const text = zlib.gunzipSync(firstBytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8', 0, 400);
    return text.includes(`"format":"${RECORDING_FORMAT}"`);
  } catch {
    return false;
  }
}

interface TrackBuilder {
  pid: number;
  ppid: number;
  command: string[];
  firstSeenMs: number;
  exitMs: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  rss: SeriesBuilder;
  anon: SeriesBuilder;
  file: SeriesBuilder;
  shmem: SeriesBuilder;
  pss: SeriesBuilder;
  uss: SeriesBuilder;
  hwmKiB: number;
}

/** Builds the model record by record; exported so tests and other readers can feed it directly. */
export class RecordingAssembler {
  header: HeaderRecord | null = null;
  private tracks = new Map<number, TrackBuilder>();
  private total = new SeriesBuilder('tree total');
  private totalPss = new SeriesBuilder('tree PSS');
  private cg: { usage: SeriesBuilder; ws: SeriesBuilder; peak: SeriesBuilder; limit: SeriesBuilder } | null = null;
  private events: RecordingEvent[] = [];
  private openSections: Array<{ pid: number | null; label: string; startMs: number; level: number }> = [];
  private end: RecordingEnd | null = null;
  warnings: string[] = [];
  records = 0;

  private track(pid: number, tMs: number): TrackBuilder {
    let tr = this.tracks.get(pid);
    if (!tr) {
      const name = `pid ${pid}`;
      tr = {
        pid, ppid: 0, command: [], firstSeenMs: tMs, exitMs: null, exitCode: null, exitSignal: null,
        rss: new SeriesBuilder(`${name} rss`, 64), anon: new SeriesBuilder(`${name} anon`, 64),
        file: new SeriesBuilder(`${name} file`, 64), shmem: new SeriesBuilder(`${name} shmem`, 64),
        pss: new SeriesBuilder(`${name} pss`, 16), uss: new SeriesBuilder(`${name} uss`, 16), hwmKiB: NaN,
      };
      this.tracks.set(pid, tr);
    }
    return tr;
  }

  add(rec: RecordingRecord): void {
    this.records++;
    if (this.header === null) {
      if (rec.type !== 'header' || rec.format !== RECORDING_FORMAT) {
        throw new CorruptRecordingError('the first record is not a memhunt recording header');
      }
      if (rec.version > RECORDING_VERSION) {
        throw new InputError(`recording format version ${rec.version} is newer than this memhunt reads (${RECORDING_VERSION}); upgrade memhunt`);
      }
      this.header = rec;
      if (rec.cgroup) {
        this.cg = {
          usage: new SeriesBuilder('cgroup usage'), ws: new SeriesBuilder('cgroup working set'),
          peak: new SeriesBuilder('cgroup peak'), limit: new SeriesBuilder('cgroup limit', 16),
        };
        if (rec.cgroup.limitBytes !== null) this.cg.limit.push(0, rec.cgroup.limitBytes);
      }
      return;
    }
    switch (rec.type) {
      case 's': {
        let sum = 0;
        for (const row of rec.p) {
          const tr = this.track(row[0]!, rec.t);
          const rss = row[1]! * KiB;
          sum += rss;
          tr.rss.push(rec.t, rss);
          tr.anon.push(rec.t, row[2]! * KiB);
          tr.file.push(rec.t, row[3]! * KiB);
          tr.shmem.push(rec.t, row[4]! * KiB);
          const hwm = row[5];
          if (hwm !== undefined && !(hwm <= tr.hwmKiB)) tr.hwmKiB = hwm;
        }
        this.total.push(rec.t, sum);
        if (rec.c && this.cg) {
          const [usage, ws, peak] = rec.c;
          if (usage != null) this.cg.usage.push(rec.t, usage * KiB);
          if (ws != null) this.cg.ws.push(rec.t, ws * KiB);
          if (peak != null) this.cg.peak.push(rec.t, peak * KiB);
        }
        break;
      }
      case 'pss': {
        let sum = 0;
        for (const row of rec.p) {
          const tr = this.track(row[0]!, rec.t);
          tr.pss.push(rec.t, row[1]! * KiB);
          tr.uss.push(rec.t, row[2]! * KiB);
          sum += row[1]! * KiB;
        }
        this.totalPss.push(rec.t, sum);
        break;
      }
      case 'proc': {
        const tr = this.track(rec.pid, rec.t);
        tr.ppid = rec.ppid;
        tr.command = rec.cmd;
        tr.firstSeenMs = Math.min(tr.firstSeenMs, rec.t);
        break;
      }
      case 'exit': {
        const tr = this.track(rec.pid, rec.t);
        tr.exitMs = rec.t;
        if (rec.code !== undefined) tr.exitCode = rec.code;
        if (rec.signal !== undefined) tr.exitSignal = rec.signal;
        break;
      }
      case 'marker':
        this.marker(rec.t, rec.pid, rec.kind, rec.label);
        break;
      case 'limit':
        this.events.push({ kind: 'limit-exceeded', tMs: rec.t, metric: rec.metric, bytes: rec.bytes, limitBytes: rec.limitBytes });
        break;
      case 'oom':
        this.events.push({ kind: 'oom-kill', tMs: rec.t, oomKills: rec.oomKills });
        break;
      case 'cglimit':
        if (this.cg && rec.limitBytes !== null) this.cg.limit.push(rec.t, rec.limitBytes);
        break;
      case 'end':
        this.end = { tMs: rec.t, reason: rec.reason, exitCode: rec.code, exitSignal: rec.signal };
        break;
      default:
        // Unknown record types are skipped: newer writers may add some within a major version.
        break;
    }
  }

  private marker(tMs: number, pid: number | null, kind: 'begin' | 'end' | 'mark', label: string): void {
    if (kind === 'mark') {
      this.events.push({ kind: 'mark', tMs, pid, label });
    } else if (kind === 'begin') {
      const level = this.openSections.filter((s) => s.pid === pid).length;
      this.openSections.push({ pid, label, startMs: tMs, level });
    } else {
      // Close the innermost open section of that label (and pid, when known).
      for (let i = this.openSections.length - 1; i >= 0; i--) {
        const s = this.openSections[i]!;
        if (s.label === label && (pid === null || s.pid === null || s.pid === pid)) {
          this.openSections.splice(i, 1);
          this.events.push({ kind: 'section', startMs: s.startMs, endMs: tMs, pid: s.pid, label, level: s.level });
          return;
        }
      }
      this.warnings.push(`marker "end ${label}" at ${(tMs / 1000).toFixed(3)} s has no matching "begin"; kept as a point mark`);
      this.events.push({ kind: 'mark', tMs, pid, label: `end ${label}` });
    }
  }

  finish(truncated: boolean): MemoryRecording {
    const h = this.header;
    if (!h) throw new CorruptRecordingError('the recording has no header');
    for (const s of this.openSections) {
      this.events.push({ kind: 'section', startMs: s.startMs, endMs: null, pid: s.pid, label: s.label, level: s.level });
    }
    this.openSections = [];
    const events = this.events.sort((a, b) => eventTime(a) - eventTime(b));
    const processes: ProcessTrack[] = [...this.tracks.values()].map((t) => ({
      pid: t.pid, ppid: t.ppid, command: t.command, firstSeenMs: t.firstSeenMs, exitMs: t.exitMs,
      exitCode: t.exitCode, exitSignal: t.exitSignal,
      rss: t.rss.build(), anon: t.anon.build(), file: t.file.build(), shmem: t.shmem.build(),
      pss: t.pss.build(), uss: t.uss.build(), hwmBytes: t.hwmKiB * KiB,
    }));
    processes.sort((a, b) => a.firstSeenMs - b.firstSeenMs || a.pid - b.pid);
    let cgroup: CgroupSeries | null = null;
    if (this.cg) {
      cgroup = { usage: this.cg.usage.build(), workingSet: this.cg.ws.build(), peak: this.cg.peak.build(), limit: this.cg.limit.build() };
    }
    const end = this.end;
    const warnings = [...this.warnings];
    if (truncated || !end) {
      const last = this.total.lastTimeMs;
      warnings.unshift(
        `the recording ends without its final record${Number.isFinite(last) ? ` after ${(last / 1000).toFixed(1)} s` : ''}: ` +
          'memhunt (or the machine) stopped while recording; everything up to the last flush was kept',
      );
    }
    return {
      meta: {
        source: 'memhunt', formatVersion: h.version, memhuntVersion: h.memhuntVersion, mode: h.mode,
        command: h.command, cwd: h.cwd, host: h.host, containerId: h.containerId, startWallMs: h.startWallMs,
        intervalMs: h.intervalMs, metric: h.metric, limitBytes: h.limitBytes,
        cgroup: h.cgroup ? { version: h.cgroup.version, path: h.cgroup.path, limitBytes: h.cgroup.limitBytes } : null,
        rootPid: h.rootPid,
      },
      total: this.total.build(),
      totalPss: this.totalPss.build(),
      processes,
      cgroup,
      events,
      end,
      warnings,
      truncated: truncated || !end,
    };
  }
}

function eventTime(e: RecordingEvent): number {
  return e.kind === 'section' ? e.startMs : e.tMs;
}

/** Reads a memhunt recording file. Throws InputError for missing/foreign files, CorruptRecordingError for a broken header. */
export async function readMemhuntRecording(filePath: string): Promise<MemoryRecording> {
  const asm = new RecordingAssembler();
  let truncated = false;
  let partial = '';
  let lineNo = 0;
  let fatal: Error | null = null;

  const handleLine = (line: string) => {
    lineNo++;
    if (!line) return;
    let rec: RecordingRecord;
    try {
      rec = JSON.parse(line) as RecordingRecord;
    } catch {
      if (asm.header === null) throw new CorruptRecordingError(`${filePath}: not a memhunt recording (line 1 is not JSON)`);
      throw new CutError(`record ${lineNo} is not valid JSON`);
    }
    asm.add(rec);
  };

  await new Promise<void>((resolve, reject) => {
    const input = fs.createReadStream(filePath);
    const gunzip = zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const stop = (err: Error | null) => {
      input.destroy();
      gunzip.destroy();
      if (err) reject(err);
      else resolve();
    };
    input.on('error', (err: NodeJS.ErrnoException) => {
      stop(new InputError(err.code === 'ENOENT' ? `${filePath}: no such file` : `${filePath}: ${err.message}`));
    });
    gunzip.on('data', (chunk: Buffer) => {
      if (fatal) return;
      const text = partial + chunk.toString('utf8');
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const line = text.slice(start, nl);
        start = nl + 1;
        try {
          handleLine(line);
        } catch (e) {
          fatal = e as Error;
          stop(null);
          return;
        }
      }
      partial = text.slice(start);
    });
    gunzip.on('error', (err: Error) => {
      // Damaged or cut compressed data: keep what was decoded so far.
      if (asm.header === null) {
        stop(new CorruptRecordingError(`${filePath}: not a memhunt recording (${err.message})`));
      } else {
        truncated = true;
        asm.warnings.push(`compressed data is damaged after record ${lineNo} (${err.message}); the rest was skipped`);
        stop(null);
      }
    });
    gunzip.on('end', () => stop(null));
    input.pipe(gunzip);
  });

  if (fatal) {
    const f = fatal as Error;
    if (!(f instanceof CutError)) throw f;
    truncated = true;
    asm.warnings.push(`${f.message}; the recording was read up to the record before it`);
  } else if (partial.length > 0) {
    // The last line has no newline: cut mid-record.
    truncated = true;
    try {
      handleLine(partial);
      truncated = false;
    } catch {
      asm.warnings.push(`the last record is cut (${partial.length} bytes) and was skipped`);
    }
  }
  if (asm.header === null) {
    const size = fs.statSync(filePath).size;
    throw new CorruptRecordingError(size === 0 ? `${filePath}: the file is empty` : `${filePath}: not a memhunt recording (no header)`);
  }
  return asm.finish(truncated);
}

class CutError extends Error {}
