/**
 * Streaming reader of the recording format (spec.ts) into the model.
 *
 * Tolerant by design: a file cut mid-member or mid-line (memhunt or the container was killed), or
 * damaged after some point, yields every complete record before the damage, with `truncated` set
 * and a warning that says where it stopped. Only a file whose header cannot be read is an error.
 * Streaming matters: a day at 10 ms decompresses to well over the 512 MiB a JS string can hold.
 */
import { findLiveWriter } from './live-writer';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as zlib from 'node:zlib';
import { CorruptRecordingError, InputError } from '../errors';
import type { ClusterWorker, MemoryRecording, ParentKill, ProcessTrack, RecordingEvent, RecordingEnd, CgroupSeries } from '../model/recording';
import { ModelError, SeriesBuilder } from '../model/series';
import { decimalEnd, readDecimal } from './decimal';
import { RECORDING_FORMAT, RECORDING_VERSION, checkRecord, type HeaderRecord, type RecordingRecord } from './spec';

const KiB = 1024;
/** Skipped records warned about one by one; beyond, a count. */
const MAX_SKIP_WARNINGS = 10;

export interface ReadOptions {
  /**
   * Keep the anon/file/shmem split of each process (default true). Plotting does not draw it:
   * without it a long recording takes 40% less memory (2 series per process instead of 5).
   */
  splits?: boolean;
  /**
   * Number of samples expected (the `end` record's count, see expectedSamples()): the tree
   * total's columns and the first process's are sized once instead of doubling from 1 K, which
   * leaves no garbage behind (32 MB for 1 M samples) and lets build() return them uncopied.
   */
  expectedSamples?: number | null;
  /** Longest record read (default MAX_RECORD_BYTES); longer lines are skipped with a warning. */
  maxRecordBytes?: number;
  /**
   * The root whose proc/ is searched for a process still writing a recording without its end
   * record (default '/', see findLiveWriter). The search stats every descriptor of every process
   * (~15 ms with 130 processes): a test reading hundreds of cut copies nobody writes gives a root
   * without proc/.
   */
  procRoot?: string;
}

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
  /** When its command last changed after it was first seen (an exec). */
  execMs?: number;
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
  private readonly splits: boolean;
  /** The track of each row position of the previous sample: rows keep their order from sample to sample. */
  private rowTracks: TrackBuilder[] = [];
  /** Rows of the sample being parsed by addSampleLine: 6 numbers per process. */
  private scratch = new Float64Array(6 * 64);
  private tracks = new Map<number, TrackBuilder>();
  /** `worker` and `workerkill` records by pid, applied to the tracks at build(). */
  private readonly workers = new Map<number, ClusterWorker>();
  private readonly parentKills = new Map<number, ParentKill>();
  /** pid → when its interpreter began its shutdown (a `teardown` record). */
  private readonly teardowns = new Map<number, number>();
  /**
   * The tree total. While every sample so far has had one row, of the same process, the total is
   * that process's rss and is not stored twice (`sole`; 1 M samples: 16 MB less, the difference
   * between `memhunt plot` staying under 150 MB or not); the first sample that breaks this copies
   * the shared part into `total`. undefined = no sample yet, null = stored separately.
   */
  private total: SeriesBuilder;
  private sole: TrackBuilder | null | undefined = undefined;
  private soleSamples = 0;
  /**
   * Capacity for the columns of the processes there from the start (the root and the workers it
   * starts at once, usually alive for the whole run): the sample count, so they never double and
   * copy. Capacity never written costs no memory (its pages are never touched). Later processes,
   * and more than PRESIZED_TRACKS, grow from 64. 0 = no count known.
   */
  private startCapacity: number;
  private presized = 0;
  private totalPss = new SeriesBuilder('tree PSS');
  private cg: { usage: SeriesBuilder; ws: SeriesBuilder; peak: SeriesBuilder; limit: SeriesBuilder } | null = null;
  private events: RecordingEvent[] = [];
  private openSections: Array<{ pid: number | null; label: string; startMs: number; level: number }> = [];
  private end: RecordingEnd | null = null;
  warnings: string[] = [];
  records = 0;
  /** Time of the last sample, PSS reading and cgroup limit added: a record going back in time is refused before it touches a series. */
  private lastSampleMs = -Infinity;
  private lastPssMs = -Infinity;
  private lastLimitMs = 0;
  /** Time of the last record with a `t`, for saying what a damaged stretch of the file lost. */
  lastRecordMs = NaN;
  /** A damaged stretch of the file being skipped: its warning is completed with the time of the next record read. */
  private gap: { text: string; fromMs: number } | null = null;
  /** Records skipped for their shape (numbers, with why, for the first few) and of unknown types. */
  private skipped: string[] = [];
  private skippedCount = 0;
  private unknownTypes = new Map<string, number>();

  constructor(opts: ReadOptions = {}) {
    this.splits = opts.splits ?? true;
    const expected = opts.expectedSamples ?? 0;
    const sized = expected > 0 && expected < 2 ** 31 ? expected + 1 : 0;
    this.total = new SeriesBuilder('tree total', sized || 1024);
    this.startCapacity = sized;
  }

  private track(pid: number, tMs: number): TrackBuilder {
    let tr = this.tracks.get(pid);
    if (!tr) {
      const name = `pid ${pid}`;
      const atStart = this.presized < PRESIZED_TRACKS && (this.presized === 0 || this.noSampleYet());
      const cap = atStart && this.startCapacity ? this.startCapacity : 64;
      if (atStart) this.presized++;
      tr = {
        pid, ppid: 0, command: [], firstSeenMs: tMs, exitMs: null, exitCode: null, exitSignal: null,
        rss: new SeriesBuilder(`${name} rss`, cap), anon: new SeriesBuilder(`${name} anon`, this.splits ? cap : 64),
        file: new SeriesBuilder(`${name} file`, this.splits ? cap : 64), shmem: new SeriesBuilder(`${name} shmem`, this.splits ? cap : 64),
        pss: new SeriesBuilder(`${name} pss`, 16), uss: new SeriesBuilder(`${name} uss`, 16), hwmKiB: NaN,
      };
      this.tracks.set(pid, tr);
    }
    return tr;
  }

  /**
   * One parsed line from a file (the entry of the recording contract): checked against the schema,
   * then added. A record of the wrong shape, or one the model refuses (a sample going back in time),
   * is skipped with a warning naming its record number; a record of an unknown type is skipped and
   * counted (a later writer's, within the major version). Only a bad header throws: nothing can be
   * read without it.
   */
  addChecked(value: unknown, recordNo: number): void {
    const c = checkRecord(value);
    if ('unknown' in c) {
      if (this.header === null) throw new CorruptRecordingError('the first record is not a memhunt recording header');
      this.unknownTypes.set(c.unknown, (this.unknownTypes.get(c.unknown) ?? 0) + 1);
      return;
    }
    if ('problem' in c) {
      if (this.header === null) {
        const isHeader = typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'header';
        throw new CorruptRecordingError(isHeader ? `the header is malformed: ${c.problem.replace(/^a "header" record: /, '')}` : 'the first record is not a memhunt recording header');
      }
      this.skip(recordNo, c.problem);
      return;
    }
    const refused = this.refusal(c.record);
    if (refused !== null) {
      this.skip(recordNo, refused);
      return;
    }
    try {
      this.add(c.record);
    } catch (e) {
      // Checked above so that no series is half-updated; anything the model still refuses is skipped.
      if (!(e instanceof ModelError)) throw e;
      this.skip(recordNo, e.message);
    }
  }

  /** The reader skipped damaged data (text says what); the next record's time closes the gap. */
  openGap(text: string): void {
    this.closeGap(NaN);
    this.gap = { text, fromMs: this.lastRecordMs };
  }

  private closeGap(toMs: number): void {
    const g = this.gap;
    if (g === null) return;
    this.gap = null;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const from = Number.isFinite(g.fromMs) ? s(g.fromMs) : 'the start';
    const span = Number.isFinite(toMs) ? `the records between ${from} and ${s(toMs)} are lost` : `the records after ${from} are lost`;
    this.warnings.push(`${g.text}; ${span}`);
  }

  /** A line skipped for what it holds (not JSON, too long, the wrong shape): one warning each, the first few in full. */
  skip(recordNo: number, why: string): void {
    this.skippedCount++;
    if (this.skipped.length < MAX_SKIP_WARNINGS) this.skipped.push(`record ${recordNo} ${why}; skipped`);
  }

  /** Why the model would refuse a well-formed record (times that go back), or null. */
  private refusal(rec: RecordingRecord): string | null {
    if (rec.type === 's' && rec.t < this.lastSampleMs) return `(a sample at ${rec.t} ms) comes before the previous sample (${this.lastSampleMs} ms)`;
    if (rec.type === 'pss' && rec.t < this.lastPssMs) return `(a PSS reading at ${rec.t} ms) comes before the previous one (${this.lastPssMs} ms)`;
    if (rec.type === 'cglimit' && rec.limitBytes !== null && rec.t < this.lastLimitMs) return `(a cgroup limit at ${rec.t} ms) comes before the previous one (${this.lastLimitMs} ms)`;
    return null;
  }

  /** Adds a record already known to have the shape of spec.ts (tests, and addChecked). */
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
    if (rec.type !== 'header') {
      if (this.gap !== null) this.closeGap(rec.t);
      this.lastRecordMs = rec.t;
    }
    switch (rec.type) {
      case 's': {
        this.lastSampleMs = rec.t;
        let sum = 0;
        let last: TrackBuilder | null = null;
        for (const row of rec.p) {
          const tr = this.track(row[0]!, rec.t);
          last = tr;
          const rss = row[1]! * KiB;
          sum += rss;
          tr.rss.push(rec.t, rss);
          if (this.splits) {
            tr.anon.push(rec.t, row[2]! * KiB);
            tr.file.push(rec.t, row[3]! * KiB);
            tr.shmem.push(rec.t, row[4]! * KiB);
          }
          const hwm = row[5];
          if (hwm !== undefined && !(hwm <= tr.hwmKiB)) tr.hwmKiB = hwm;
        }
        this.pushTotal(rec.t, sum, rec.p.length === 1 ? last : null);
        if (rec.c && this.cg) {
          const [usage, ws, peak] = rec.c;
          if (usage != null) this.cg.usage.push(rec.t, usage * KiB);
          if (ws != null) this.cg.ws.push(rec.t, ws * KiB);
          if (peak != null) this.cg.peak.push(rec.t, peak * KiB);
        }
        break;
      }
      case 'pss': {
        this.lastPssMs = rec.t;
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
        if (tr.command.length && rec.t > tr.firstSeenMs && tr.command.join('\0') !== rec.cmd.join('\0')) tr.execMs = rec.t;
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
      case 'pause':
        this.events.push({
          kind: 'pause', tMs: rec.t, endMs: Math.max(rec.t, rec.endMs), pids: rec.pids, cause: rec.cause,
          ...(rec.debuggerBytes !== undefined ? { debuggerBytes: rec.debuggerBytes } : {}),
        });
        break;
      case 'threshold':
        this.events.push({
          kind: 'threshold', tMs: rec.t, bytes: rec.bytes, thresholdBytes: rec.thresholdBytes, action: rec.action,
          command: rec.command ?? null, note: rec.note ?? null,
        });
        break;
      case 'action':
        this.events.push({ kind: 'action-output', tMs: rec.t, command: rec.command, exitCode: rec.code, exitSignal: rec.signal, output: rec.output });
        break;
      case 'agent':
        this.events.push({ kind: 'agent', tMs: rec.t, pid: rec.pid, runtime: rec.runtime, runtimeVersion: rec.runtimeVersion, features: rec.features });
        break;
      // Agent records: the body declared once (src/contract/shapes.ts) goes to the model as it is,
      // with the model's envelope (kind, tMs); the schema check dropped fields of later versions.
      case 'census': {
        const { type: _type, t, askedT, ...body } = rec;
        this.events.push({ kind: 'census', tMs: t, ...body, ...(askedT !== undefined ? { askedTMs: askedT } : {}) });
        break;
      }
      case 'trace': {
        const { type: _type, t, ...body } = rec;
        this.events.push({ kind: 'trace', tMs: t, ...body, tracemallocBytes: body.tracemallocBytes ?? 0 });
        break;
      }
      case 'refs': {
        const { type: _type, t, ...body } = rec;
        this.events.push({ kind: 'refs', tMs: t, ...body });
        break;
      }
      case 'isolated': {
        const { type: _type, t, ...body } = rec;
        this.events.push({ kind: 'isolated', tMs: t, ...body });
        break;
      }
      case 'alloc': {
        const { type: _type, t, ...body } = rec;
        this.events.push({ kind: 'alloc', tMs: t, ...body });
        break;
      }
      case 'note':
        this.events.push({ kind: 'note', tMs: rec.t, text: rec.text, pid: rec.pid, ...(typeof rec.skippedCensus === 'string' ? { skippedCensus: rec.skippedCensus } : {}) });
        break;
      case 'cglimit':
        if (rec.limitBytes !== null) this.lastLimitMs = rec.t;
        if (this.cg && rec.limitBytes !== null) this.cg.limit.push(rec.t, rec.limitBytes);
        break;
      case 'end':
        this.end = { tMs: rec.t, reason: rec.reason, exitCode: rec.code, exitSignal: rec.signal };
        break;
      case 'worker':
        this.workers.set(rec.pid, { framework: rec.framework, name: rec.name, address: rec.address, memoryLimitBytes: rec.memoryLimitBytes });
        break;
      case 'teardown':
        // The first one: a process says it once (a reconnected agent could say it again).
        if (!this.teardowns.has(rec.pid)) this.teardowns.set(rec.pid, rec.t);
        break;
      case 'workerkill':
        this.parentKills.set(rec.pid, {
          framework: rec.framework, name: rec.name, address: rec.address, memoryLimitBytes: rec.memoryLimitBytes,
          by: rec.by, terminateFraction: rec.terminateFraction, tMs: rec.t,
        });
        break;
      case 'summary':
        // Derived from everything above (for memhunt fleet's fast path); a whole read recomputes it.
        break;
      default:
        // Unknown record types are skipped: newer writers may add some within a major version.
        break;
    }
  }

  /**
   * Fast path for the one record that makes up almost all of a file: a sample line exactly as the
   * writer prints it (`{"type":"s","t":…,"p":[[6 numbers],…]}` with an optional `"c":[…]`) and its
   * newline, parsed from the bytes at `start` without building objects or finding the line end
   * first. JSON.parse of such lines was 70% of reading a 1 M-sample recording (0.64 s of 0.9 s);
   * this takes ~0.1 s. Returns the index of the line's "\n", or -1 — for anything else (other key
   * order, spaces, exponents, more than 15 digits, rows of another width, a line cut by the end of
   * `buf`) — and then nothing was added: the caller parses that line with JSON.parse, so both paths
   * accept exactly the same records. Numbers are an integer mantissa divided by a power of ten,
   * both exact doubles, which rounds the same way JSON.parse does.
   */
  addSampleLine(buf: Uint8Array, start: number): number {
    if (this.header === null) return -1;
    // {"type":"s","t": spelled out: a loop over a constant array was a fifth of the parsing time.
    if (
      buf[start] !== 0x7b || buf[start + 1] !== 0x22 || buf[start + 2] !== 0x74 || buf[start + 3] !== 0x79 ||
      buf[start + 4] !== 0x70 || buf[start + 5] !== 0x65 || buf[start + 6] !== 0x22 || buf[start + 7] !== 0x3a ||
      buf[start + 8] !== 0x22 || buf[start + 9] !== 0x73 || buf[start + 10] !== 0x22 || buf[start + 11] !== 0x2c ||
      buf[start + 12] !== 0x22 || buf[start + 13] !== 0x74 || buf[start + 14] !== 0x22 || buf[start + 15] !== 0x3a
    ) {
      return -1;
    }
    let i = start + 16;
    const t = readDecimal(buf, i);
    // NaN, or a sample going back in time: the slow path reports it.
    if (!(t >= this.lastSampleMs)) return -1;
    i = decimalEnd.at;
    // ,"p":[
    if (buf[i] !== 0x2c || buf[i + 1] !== 0x22 || buf[i + 2] !== 0x70 || buf[i + 3] !== 0x22 || buf[i + 4] !== 0x3a || buf[i + 5] !== 0x5b) return -1;
    i += 6;
    let rows = 0;
    const splits = this.splits;
    let sc = this.scratch;
    if (buf[i] === 0x5d) i++;
    else {
      for (;;) {
        if (buf[i++] !== 0x5b) return -1;
        if (sc.length < (rows + 1) * 6) {
          const bigger = new Float64Array(sc.length * 2);
          bigger.set(sc);
          this.scratch = sc = bigger;
        }
        const base = rows * 6;
        let v = readDecimal(buf, i);
        if (v !== v || buf[decimalEnd.at] !== 0x2c) return -1;
        sc[base] = v;
        v = readDecimal(buf, decimalEnd.at + 1);
        if (v !== v || buf[decimalEnd.at] !== 0x2c) return -1;
        sc[base + 1] = v;
        i = decimalEnd.at + 1;
        if (splits) {
          for (let f = 2; f <= 4; f++) {
            v = readDecimal(buf, i);
            if (v !== v || buf[decimalEnd.at] !== 0x2c) return -1;
            sc[base + f] = v;
            i = decimalEnd.at + 1;
          }
        } else {
          // Without the split, anon/file/shmem are only checked to be numbers.
          for (let f = 2; f <= 4; f++) {
            let c = buf[i]!;
            if (!(c >= 0x30 && c <= 0x39)) return -1;
            c = buf[++i]!;
            while ((c >= 0x30 && c <= 0x39) || c === 0x2e) c = buf[++i]!;
            if (c !== 0x2c) return -1;
            i++;
          }
        }
        v = readDecimal(buf, i);
        if (v !== v) return -1;
        i = decimalEnd.at;
        sc[base + 5] = v;
        if (buf[i++] !== 0x5d) return -1;
        rows++;
        const sep = buf[i++];
        if (sep === 0x5d) break;
        if (sep !== 0x2c) return -1;
      }
    }
    let usage = NaN;
    let ws = NaN;
    let peak = NaN;
    let hasC = false;
    if (buf[i] === 0x2c) {
      for (let k = 0; k < C_KEY.length; k++) if (buf[++i] !== C_KEY[k]) return -1;
      i++;
      let n = 0;
      if (buf[i] === 0x5d) i++;
      else {
        for (;;) {
          let v: number;
          if (buf[i] === 0x6e && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c) {
            i += 4;
            v = NaN;
          } else {
            v = readDecimal(buf, i);
            if (v !== v) return -1;
            i = decimalEnd.at;
          }
          if (n === 0) usage = v;
          else if (n === 1) ws = v;
          else if (n === 2) peak = v;
          n++;
          const sep = buf[i++];
          if (sep === 0x5d) break;
          if (sep !== 0x2c) return -1;
        }
      }
      // The schema asks for usage and working set at least.
      if (n < 2) return -1;
      hasC = true;
    }
    if (buf[i++] !== 0x7d || buf[i] !== 0x0a) return -1;

    // Commit: the same effects, in the same order, as add() of the parsed record.
    this.records++;
    this.lastSampleMs = t;
    if (this.gap !== null) this.closeGap(t);
    this.lastRecordMs = t;
    let sum = 0;
    let tr: TrackBuilder | undefined;
    for (let r = 0; r < rows; r++) {
      const b = r * 6;
      tr = this.rowTracks[r];
      if (tr === undefined || tr.pid !== sc[b]) {
        tr = this.track(sc[b]!, t);
        this.rowTracks[r] = tr;
      }
      const rss = sc[b + 1]! * KiB;
      sum += rss;
      tr.rss.push(t, rss);
      if (splits) {
        tr.anon.push(t, sc[b + 2]! * KiB);
        tr.file.push(t, sc[b + 3]! * KiB);
        tr.shmem.push(t, sc[b + 4]! * KiB);
      }
      const hwm = sc[b + 5]!;
      if (!(hwm <= tr.hwmKiB)) tr.hwmKiB = hwm;
    }
    this.pushTotal(t, sum, rows === 1 ? tr! : null);
    if (hasC && this.cg) {
      if (usage === usage) this.cg.usage.push(t, usage * KiB);
      if (ws === ws) this.cg.ws.push(t, ws * KiB);
      if (peak === peak) this.cg.peak.push(t, peak * KiB);
    }
    return i;
  }

  /** True until the first sample's rows are all added (its tracks count as there from the start). */
  private noSampleYet(): boolean {
    return this.sole === undefined && this.total.length === 0;
  }

  /** Adds a sample's total; `only` is the track of its one row (null for 0 or several rows). */
  private pushTotal(tMs: number, sum: number, only: TrackBuilder | null): void {
    if (this.sole !== null) {
      if (only !== null && (this.sole === undefined ? only.rss.length === 1 : only === this.sole)) {
        this.sole = only;
        this.soleSamples++;
        return;
      }
      // No longer one process: the total so far is the sole process's first samples.
      if (this.sole !== undefined) this.total.appendFrom(this.sole.rss, this.soleSamples);
      this.sole = null;
    }
    this.total.push(tMs, sum);
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
    this.closeGap(NaN);
    const h = this.header;
    if (!h) throw new CorruptRecordingError('the recording has no header');
    for (const s of this.openSections) {
      this.events.push({ kind: 'section', startMs: s.startMs, endMs: null, pid: s.pid, label: s.label, level: s.level });
    }
    this.openSections = [];
    const events = this.events.sort((a, b) => eventTime(a) - eventTime(b));
    const sole = this.sole ?? null;
    const soleRss = sole ? sole.rss.build() : null;
    const processes: ProcessTrack[] = [...this.tracks.values()].map((t) => ({
      pid: t.pid, ppid: t.ppid, command: t.command, firstSeenMs: t.firstSeenMs, ...(t.execMs !== undefined ? { execMs: t.execMs } : {}), exitMs: t.exitMs,
      exitCode: t.exitCode, exitSignal: t.exitSignal,
      rss: t === sole ? soleRss! : t.rss.build(), anon: t.anon.build(), file: t.file.build(), shmem: t.shmem.build(),
      pss: t.pss.build(), uss: t.uss.build(), hwmBytes: t.hwmKiB * KiB,
      ...(this.workers.has(t.pid) ? { worker: this.workers.get(t.pid)! } : {}),
      ...(this.parentKills.has(t.pid) ? { killedByParent: this.parentKills.get(t.pid)! } : {}),
      ...(this.teardowns.has(t.pid) ? { teardownMs: this.teardowns.get(t.pid)! } : {}),
    }));
    processes.sort((a, b) => a.firstSeenMs - b.firstSeenMs || a.pid - b.pid);
    let cgroup: CgroupSeries | null = null;
    if (this.cg) {
      cgroup = { usage: this.cg.usage.build(), workingSet: this.cg.ws.build(), peak: this.cg.peak.build(), limit: this.cg.limit.build() };
    }
    const end = this.end;
    const warnings = [...this.warnings, ...this.skipped];
    if (this.skippedCount > this.skipped.length) warnings.push(`${this.skippedCount - this.skipped.length} more records were skipped for the same kinds of reasons`);
    if (this.unknownTypes.size > 0) {
      const kinds = [...this.unknownTypes].map(([type, n]) => `${n} "${type}"`).join(', ');
      warnings.push(`skipped records of types this memhunt does not know (${kinds}): written by a later memhunt? Upgrade to see them`);
    }
    if (truncated || !end) {
      const last = sole ? sole.rss.lastTimeMs : this.total.lastTimeMs;
      warnings.unshift(
        `the recording ends without its final record${Number.isFinite(last) ? ` after ${(last / 1000).toFixed(1)} s` : ''}: ` +
          'memhunt (or the machine) stopped while recording; everything up to the last flush was kept',
      );
    }
    return {
      meta: {
        source: 'memhunt', formatVersion: h.version, memhuntVersion: h.memhuntVersion, mode: h.mode,
        command: h.command, cwd: h.cwd, host: h.host, containerId: h.containerId, startWallMs: h.startWallMs,
        intervalMs: h.intervalMs, ...(h.intervalSchedule ? { intervalSchedule: h.intervalSchedule } : {}), metric: h.metric, limitBytes: h.limitBytes,
        cgroup: h.cgroup ? { version: h.cgroup.version, path: h.cgroup.path, limitBytes: h.cgroup.limitBytes } : null,
        rootPid: h.rootPid,
        ...(h.labels && Object.keys(h.labels).length ? { labels: { ...h.labels } } : {}),
        ...(h.scale ? { scale: { size: h.scale.size, sizeText: h.scale.sizeText, repeat: h.scale.repeat } } : {}),
      },
      // The same arrays as the process's rss when it was the only one in every sample.
      total: soleRss ?? this.total.build(),
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

const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const C_KEY = ascii('"c":[');
function eventTime(e: RecordingEvent): number {
  return e.kind === 'section' ? e.startMs : e.tMs;
}

/**
 * The number of samples of a finished recording, from its `end` record, read from the file's last
 * gzip member without decompressing the rest (~1 ms); null for a file without an end (cut, or
 * still being written) or when it cannot be found. Only a sizing hint: nothing depends on it.
 */
export function expectedSamples(filePath: string): number | null {
  let fd: number | null = null;
  try {
    fd = fs.openSync(filePath, 'r');
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, 256 * 1024);
    const tail = Buffer.alloc(len);
    fs.readSync(fd, tail, 0, len, size - len);
    let at = tail.length;
    // The last member starts at the last gzip magic that decompresses to the end of the file
    // (the same bytes can occur inside compressed data: then decompression fails; try earlier).
    for (let tries = 0; tries < 8 && at > 0; tries++) {
      at = tail.lastIndexOf(GZIP_MAGIC, at - 1);
      if (at < 0) return null;
      let text: string;
      try {
        text = zlib.gunzipSync(tail.subarray(at)).toString('utf8');
      } catch {
        continue;
      }
      const m = /\{"type":"end"[^\n]*"samples":(\d+)\}\n?$/.exec(text);
      return m ? Number(m[1]) : null;
    }
    return null;
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b, 0x08]);

/** At most this many processes get columns sized for the whole run up front (see startCapacity). */
const PRESIZED_TRACKS = 8;

/**
 * Reads a memhunt recording file. Throws InputError for missing/foreign files, CorruptRecordingError
 * for a broken header. Damage after the header loses only what is damaged: a line that is not JSON,
 * is too long or has the wrong shape is skipped with a warning; a damaged gzip member is skipped to
 * the next good member, with a warning saying how much was lost (bytes, members, time span).
 */
export async function readMemhuntRecording(filePath: string, opts: ReadOptions = {}): Promise<MemoryRecording> {
  const asm = new RecordingAssembler({ ...opts, expectedSamples: opts.expectedSamples === undefined ? expectedSamples(filePath) : opts.expectedSamples });
  const lines = new LineReader(asm, filePath, opts.maxRecordBytes ?? MAX_RECORD_BYTES);
  let offset = 0;
  let cut = false;
  for (;;) {
    const r = await pump(lines, filePath, offset);
    if (r.inputError) throw r.inputError;
    if (r.fatal) throw r.fatal;
    if (r.damage === null) {
      cut = lines.finishTail();
      break;
    }
    // Decompressed output that zlib held when it failed never reached the lines: decode again
    // member by member from where this pass began, feed what was not fed, find the damage.
    const gap = findDamage(filePath, offset, r.fedBytes, (text) => lines.consume(text));
    if (asm.header === null) throw new CorruptRecordingError(`${filePath}: not a memhunt recording (${r.damage})`);
    const lost = lines.dropPartial();
    if (gap === null || gap.resumeAt === null) {
      // No good member after the damage: the file ends here, as if cut.
      cut = true;
      const where = gap ? ` in the gzip member at byte ${gap.damagedAt}` : '';
      asm.warnings.push(`compressed data is damaged${where} after record ${lines.lineNo} (${gap?.why ?? r.damage})${lost ? `, in the middle of a record (${lost} bytes)` : ''}; no readable data after it`);
      break;
    }
    asm.openGap(
      `compressed data is damaged in the gzip member at byte ${gap.damagedAt} (${gap.why}); ` +
        `skipped ${gap.resumeAt - gap.damagedAt} bytes (${gap.members} gzip member${gap.members === 1 ? '' : 's'}) to the next good member, at byte ${gap.resumeAt}`,
    );
    offset = gap.resumeAt;
  }
  if (asm.header === null) {
    const size = fs.statSync(filePath).size;
    throw new CorruptRecordingError(size === 0 ? `${filePath}: the file is empty` : `${filePath}: not a memhunt recording (no header)`);
  }
  const rec = asm.finish(cut);
  if (rec.end === null) {
    // No end yet: another memhunt may still be recording it (not "stopped while recording").
    const writer = findLiveWriter(filePath, opts.procRoot);
    if (writer) {
      rec.liveWriter = writer;
      const i = rec.warnings.findIndex((w) => w.startsWith('the recording ends without its final record'));
      const who = `pid ${writer.pid}${writer.command.length ? ` (${writer.command.slice(0, 4).join(' ')}${writer.command.length > 4 ? ' …' : ''})` : ''}`;
      const text = `the recording is still being written by ${who}: this is what it holds so far (up to its last flush, at most a second ago)`;
      if (i >= 0) rec.warnings[i] = text;
      else rec.warnings.unshift(text);
    }
  }
  return rec;
}

/**
 * A young-generation collection, when V8 lets us ask for one (else a no-op). Each decompressed
 * chunk is a fresh buffer outside V8's heap that the parser drops at once, but V8 frees such
 * buffers only when it collects, and parsing allocates almost nothing on the heap, so nothing
 * triggered a collection: 1 M samples left ~60 MB of dead chunks, each page of them faulted in
 * fresh (19 k page faults, ~50 ms of system time). Collecting every 4 MiB of output lets the
 * allocator hand the same memory out again: half the page faults, 15 MB less peak memory, and
 * decompression 10% faster. A minor collection takes ~0.3 ms.
 */
let youngGc: (() => void) | null | undefined;
let sinceGc = 0;
function collectDeadChunks(bytes: number): void {
  sinceGc += bytes;
  if (sinceGc < 4 * 1024 * 1024) return;
  sinceGc = 0;
  if (youngGc === undefined) {
    youngGc = null;
    try {
      // --expose-gc set now applies to contexts made after it: the function comes from a new one.
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as unknown;
      if (typeof gc === 'function') youngGc = () => (gc as (o: { type: string }) => void)({ type: 'minor' });
    } catch {
      youngGc = null;
    }
  }
  youngGc?.();
}

/** Whether collectDeadChunks got V8's collector (tests check it: without it reading only costs more). */
export function deadChunkCollection(): 'unused' | 'on' | 'refused' {
  return youngGc === undefined ? 'unused' : youngGc ? 'on' : 'refused';
}

/**
 * Longest record read. The largest records memhunt writes are a census (~10 KB for 200 types), a
 * refs graph (~300 KB for 10 samples × 20 levels), an exec's output (64 KiB, ≤ 6× that escaped)
 * and a sample of a tree of 10,000 processes (~600 KB). A longer line is damage (or not ours): it
 * is skipped with a warning, and memory stays bounded by this plus one chunk. Before the cap,
 * lines were joined chunk by chunk (quadratic: a 200 MB line took 32 s and 880 MB).
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/**
 * Splits decompressed bytes into lines and feeds them to the assembler: sample lines through the
 * fast path, the rest through JSON.parse and the schema. Lines are split on bytes, not on text: a
 * chunk may end inside a multi-byte character. A line longer than maxBytes is dropped as it comes
 * (its parts are not kept) and reported; a line that is not JSON is reported and skipped.
 */
class LineReader {
  /** Lines read, blank ones included: the record numbers of messages. */
  lineNo = 0;
  /** The start of a line whose end has not arrived yet, in parts (joined once: linear in the line's length). */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  /** The current line passed maxBytes: its bytes are dropped until its newline. */
  private overlong = false;

  constructor(readonly asm: RecordingAssembler, readonly filePath: string, readonly maxBytes: number) {}

  /** One decompressed chunk. Throws only for a first line that is not a header. */
  consume(chunk: Buffer): void {
    let at = 0;
    if (this.parts.length > 0 || this.overlong) {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        this.keep(chunk);
        return;
      }
      this.keep(chunk.subarray(0, nl + 1));
      at = nl + 1;
      if (this.overlong) {
        this.lineNo++;
        this.tooLong();
      } else {
        // The line that straddles chunks (with its newline).
        const line = Buffer.concat(this.parts, this.partsBytes);
        this.parts = [];
        this.partsBytes = 0;
        this.lineAt(line, 0);
      }
    }
    // Only whole lines are parsed here; the fast path then never reads past the buffer
    // (an out-of-bounds read deoptimises it, which made 100 k samples as slow as 1 M).
    const lastNl = chunk.lastIndexOf(0x0a);
    while (at <= lastNl) at = this.lineAt(chunk, at) + 1;
    if (at < chunk.length) this.keep(chunk.subarray(at));
  }

  /** The line at buf[from] (its newline is in buf): the fast path, else the checked path. Returns where its newline is. */
  private lineAt(buf: Buffer, from: number): number {
    const end = this.asm.addSampleLine(buf, from);
    this.lineNo++;
    if (end >= 0) return end;
    const nl = buf.indexOf(0x0a, from);
    if (nl - from > this.maxBytes) {
      this.partsBytes = nl - from;
      this.tooLong();
      return nl;
    }
    const text = buf.toString('utf8', from, nl);
    if (text.trim()) this.parse(text);
    return nl;
  }

  /** A line that is not a sample in the writer's spelling: JSON.parse, then the schema (in addChecked). */
  private parse(text: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (this.asm.header === null) throw new CorruptRecordingError(`${this.filePath}: not a memhunt recording (line 1 is not JSON)`);
      // JSON.stringify escapes control characters: a damaged line cannot write escapes to a terminal.
      this.asm.skip(this.lineNo, `is not valid JSON: ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}`);
      return;
    }
    this.asm.addChecked(value, this.lineNo);
  }

  private keep(part: Buffer): void {
    this.partsBytes += part.length;
    if (this.overlong) return;
    if (this.partsBytes > this.maxBytes) {
      this.overlong = true;
      this.parts = [];
      return;
    }
    this.parts.push(part);
  }

  private tooLong(): void {
    if (this.asm.header === null) throw new CorruptRecordingError(`${this.filePath}: not a memhunt recording (line 1 is longer than ${this.maxBytes} bytes)`);
    this.asm.skip(this.lineNo, `is ${this.partsBytes} bytes long, more than a record can be (${this.maxBytes} bytes)`);
    this.overlong = false;
    this.parts = [];
    this.partsBytes = 0;
  }

  /** At the end of the file: the last line if it has no newline. True when it was cut (the file was). */
  finishTail(): boolean {
    if (this.overlong) {
      this.lineNo++;
      this.tooLong();
      return true;
    }
    if (this.partsBytes === 0) return false;
    const rest = Buffer.concat(this.parts, this.partsBytes);
    this.parts = [];
    this.partsBytes = 0;
    let value: unknown;
    try {
      value = JSON.parse(rest.toString('utf8'));
    } catch {
      if (this.asm.header !== null) this.asm.warnings.push(`the last record is cut (${rest.length} bytes) and was skipped`);
      return true;
    }
    this.lineNo++;
    this.asm.addChecked(value, this.lineNo);
    return false;
  }

  /** Damage in the compressed data: the line being read is lost. Returns its bytes so far. */
  dropPartial(): number {
    const n = this.partsBytes;
    if (n > 0 || this.overlong) this.lineNo++;
    this.parts = [];
    this.partsBytes = 0;
    this.overlong = false;
    return n;
  }
}

/** How reading from one offset of a recording ended. */
interface PumpResult {
  /** The file could not be read at all (missing, not permitted). */
  inputError: Error | null;
  /** Decompression failed (damaged or cut compressed data): its message. */
  damage: string | null;
  /** A first line that is not a header (a CorruptRecordingError), or an internal error: thrown. */
  fatal: Error | null;
  /** Decompressed bytes handed to the lines. */
  fedBytes: number;
}

/** Decompresses the file from `offset` (the start of a gzip member) and feeds its lines. Never rejects: how it ended is in the result. */
function pump(lines: LineReader, filePath: string, offset: number): Promise<PumpResult> {
  let fatal: Error | null = null;
  let fedBytes = 0;
  return new Promise<PumpResult>((resolve) => {
    // 256 KiB of compressed input at a time: a bigger chunk outlives the collections of
    // collectDeadChunks while it is decompressed, is promoted, and then stays until a full
    // collection (10 M samples: 50 MB more peak memory with 1 MiB chunks).
    const input = fs.createReadStream(filePath, { highWaterMark: 256 * 1024, start: offset });
    const gunzip = zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: 1024 * 1024 });
    let settled = false;
    const done = (r: Partial<PumpResult>) => {
      if (settled) return;
      settled = true;
      input.destroy();
      gunzip.destroy();
      resolve({ inputError: null, damage: null, fatal, fedBytes, ...r });
    };
    input.on('error', (err: NodeJS.ErrnoException) => {
      done({ inputError: new InputError(err.code === 'ENOENT' ? `${filePath}: no such file` : `${filePath}: ${err.message}`) });
    });
    const consume = (chunk: Buffer): void => {
      fedBytes += chunk.length;
      try {
        lines.consume(chunk);
      } catch (e) {
        fatal = e as Error;
      }
    };
    // Chunks are parsed in a later turn of the event loop, not in the 'data' callback: zlib hands
    // the next chunk to the thread pool only after that callback returns, so parsing there would
    // make decompression and parsing take turns. Queued, they overlap (0.53 s -> 0.3 s for 1 M
    // samples). At most a few chunks wait: the stream is paused beyond that.
    const queue: Buffer[] = [];
    let scheduled = false;
    let finish: (() => void) | null = null;
    const drain = () => {
      scheduled = false;
      while (queue.length > 0 && !fatal) consume(queue.shift()!);
      if (fatal) {
        done({});
        return;
      }
      if (finish) {
        const f = finish;
        finish = null;
        f();
        return;
      }
      if (gunzip.isPaused()) gunzip.resume();
    };
    const schedule = () => {
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (fatal) return;
      collectDeadChunks(chunk.length);
      queue.push(chunk);
      if (queue.length >= 4) gunzip.pause();
      schedule();
    });
    gunzip.on('error', (err: Error) => {
      finish = () => done({ damage: err.message });
      schedule();
    });
    gunzip.on('end', () => {
      finish = () => done({});
      schedule();
    });
    input.pipe(gunzip);
  });
}

/** Where a damaged gzip member is, and where reading can go on (null: nowhere). */
interface Damage {
  damagedAt: number;
  why: string;
  resumeAt: number | null;
  /** Members lost: the damaged one and any that failed after it. */
  members: number;
}

/**
 * Finds the first damaged gzip member from `offset` (a member start) by decoding member by member
 * (only when the streaming reader hit damage: a second pass over what was already read), feeding
 * the text of good members beyond the first `fedBytes` (what the streaming pass already fed), then the
 * next member after it that decodes and whose CRC matches. Our writer's members are complete
 * gzip members of ≤ ~4 MiB of text; the header's optional fields are handled for other writers.
 * Null when no damaged member is found (the file ends inside the last one: cut).
 */
function findDamage(filePath: string, offset: number, fedBytes: number, feed: (text: Buffer) => void): Damage | null {
  const fd = fs.openSync(filePath, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let at = offset;
    let damage: { at: number; why: string } | null = null;
    let seen = 0;
    while (at < size) {
      const m = memberAt(fd, at, size);
      if ('error' in m) {
        damage = { at, why: m.error };
        break;
      }
      // The part of this member's text the streaming pass did not feed.
      if (seen + m.text.length > fedBytes) feed(m.text.subarray(Math.max(0, fedBytes - seen)));
      seen += m.text.length;
      at = m.end;
    }
    if (damage === null) return null;
    // The next good member: a gzip magic after the damage that decodes whole. The same three
    // bytes occur inside compressed data now and then; those fail to decode and are passed over.
    let members = 1;
    let from = damage.at + 1;
    const window = Buffer.alloc(1024 * 1024);
    while (from < size) {
      const n = fs.readSync(fd, window, 0, window.length, from);
      if (n < 3) break;
      let k = window.subarray(0, n).indexOf(GZIP_MAGIC);
      while (k >= 0) {
        const m = memberAt(fd, from + k, size);
        if (!('error' in m)) return { damagedAt: damage.at, why: damage.why, resumeAt: from + k, members };
        if (m.headerOk) members++;
        k = window.subarray(0, n).indexOf(GZIP_MAGIC, k + 1);
      }
      from += n - 2;
    }
    return { damagedAt: damage.at, why: damage.why, resumeAt: null, members };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The gzip member at `at`: its end, or why it cannot be read (`headerOk`: the header looked right,
 * so it counts as a member lost). Reads up to 64 MiB of it; a member's CRC and size are checked.
 */
function memberAt(fd: number, at: number, size: number): { end: number; text: Buffer } | { error: string; headerOk: boolean } {
  let len = Math.min(size - at, 4 * 1024 * 1024);
  for (;;) {
    const buf = Buffer.alloc(len);
    const n = fs.readSync(fd, buf, 0, len, at);
    const b = buf.subarray(0, n);
    if (b.length < 18 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8 || (b[3]! & 0xe0) !== 0) return { error: 'not a gzip member header', headerOk: false };
    const flags = b[3]!;
    let p = 10;
    if (flags & 4) p += 2 + b.readUInt16LE(p);
    if (flags & 8) p = b.indexOf(0, p) + 1;
    if (flags & 16) p = b.indexOf(0, p) + 1;
    if (flags & 2) p += 2;
    if (p <= 0 || p > b.length) return { error: 'a cut gzip header', headerOk: false };
    try {
      const r = zlib.inflateRawSync(b.subarray(p), { info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      const trailer = p + r.engine.bytesWritten;
      if (trailer + 8 > b.length) throw new Error('unexpected end of file');
      if (b.readUInt32LE(trailer + 4) !== r.buffer.length % 2 ** 32) return { error: 'wrong uncompressed size', headerOk: true };
      if (typeof zlib.crc32 === 'function' && b.readUInt32LE(trailer) !== zlib.crc32(r.buffer)) return { error: 'incorrect data check', headerOk: true };
      return { end: at + trailer + 8, text: r.buffer };
    } catch (e) {
      const msg = (e as Error).message;
      if (/unexpected end/.test(msg) && n === len && at + len < size && len < 64 * 1024 * 1024) {
        len = Math.min(size - at, len * 4);
        continue;
      }
      return { error: msg, headerOk: true };
    }
  }
}
