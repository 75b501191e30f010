/**
 * Append-only, crash-safe writer of the recording format (spec.ts).
 *
 * Records are buffered as NDJSON text and written as one complete gzip member per flush. The
 * sampler flushes at least every second, so a SIGKILL of memhunt (or of the whole container, as
 * Kubernetes' memory.oom.group does) leaves every member but the one being written intact.
 * writeSync on an O_APPEND fd: a member is either whole, or a cut tail the reader tolerates.
 * Separate members cost ~20 bytes of header each plus a fresh dictionary: a few percent of the
 * compressed size at 100 Hz; the recording is still ~1/30 of mprof's .dat (BENCHMARKS.md §1d).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { InputError } from '../errors';
import { checkOutput, writeErrorText, type OutputKind } from '../fsutil';
import { isMemhuntRecording } from './reader';
import { RECORDING_EXTENSION, type HeaderRecord, type RecordingRecord } from './spec';

/**
 * Recordings hold the command line, the working folder, the host name and the output of
 * `exec=` actions: readable by their owner only, whatever the umask (fchmod after open).
 */
export const RECORDING_MODE = 0o600;

/** What `run -o` may replace: an earlier recording (README "Output files"). */
export const RECORDING_KIND: OutputKind = { what: 'a memhunt recording', isOurs: (head) => isMemhuntRecording(head) };

/**
 * memhunt_YYYYMMDDhhmmss.mh in local time (as mprof's mprofile_YYYYMMDDhhmmss.dat), then _1, _2, …;
 * with a tag (the container/task identity, file-name safe): memhunt_YYYYMMDDhhmmss_<tag>.mh.
 */
export function defaultRecordingName(now: Date, n = 0, tag: string | null = null): string {
  const p = (v: number) => String(v).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `memhunt_${stamp}${tag ? `_${tag}` : ''}${n > 0 ? `_${n}` : ''}${RECORDING_EXTENSION}`;
}

/**
 * An output file opened (and proven writable) before anything is recorded, so that a run whose
 * output cannot be written never starts its command. Written by RecordingWriter; abort() undoes it.
 */
export class RecordingOutput {
  private done = false;

  private constructor(
    readonly path: string,
    readonly fd: number,
    /** True when this open created the file (abort then removes it). */
    readonly created: boolean,
    /** A regular file (truncated when the header is written); false for a device or FIFO. */
    readonly regular: boolean,
  ) {}

  /**
   * Opens the recording's output. `file` null: a new memhunt_<time>.mh in dir, created
   * exclusively (O_EXCL), the next free _N on EEXIST, so concurrent runs never share a file.
   * `file` given: checkOutput's rules for RECORDING_KIND (an earlier recording, an empty file, a
   * device or FIFO written in place; anything else only with force). Then a write probe: a byte
   * written and truncated away (a full disk, /dev/full fail here, not minutes into the run).
   * Every failure is an InputError naming the file (exit 2).
   */
  static open(file: string | null, opts: { dir?: string; force?: boolean; now?: Date; tag?: string | null } = {}): RecordingOutput {
    const { O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = fs.constants;
    let out: RecordingOutput;
    if (file === null) {
      const dir = opts.dir ?? '.';
      const now = opts.now ?? new Date();
      let opened: RecordingOutput | null = null;
      for (let n = 0; opened === null; n++) {
        const name = path.join(dir, defaultRecordingName(now, n, opts.tag ?? null));
        try {
          opened = new RecordingOutput(name, fs.openSync(name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, RECORDING_MODE), true, true);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || n >= 100_000) throw new InputError(writeErrorText(name, e), { cause: e });
        }
      }
      out = opened;
    } else {
      const target = checkOutput(file, RECORDING_KIND, opts.force === true);
      try {
        if (target.how === 'in-place') {
          out = new RecordingOutput(file, fs.openSync(target.realPath, O_WRONLY | O_APPEND), false, false);
        } else {
          // Not truncated yet: an earlier recording survives a command that cannot start.
          out = new RecordingOutput(file, fs.openSync(target.realPath, O_WRONLY | O_CREAT | O_APPEND, RECORDING_MODE), !target.exists, true);
        }
      } catch (e) {
        throw new InputError(writeErrorText(file, e), { cause: e });
      }
    }
    try {
      if (out.regular) {
        fs.fchmodSync(out.fd, RECORDING_MODE);
        const size = fs.fstatSync(out.fd).size;
        fs.writeSync(out.fd, Buffer.of(0));
        fs.ftruncateSync(out.fd, size);
      } else {
        // A device or FIFO: an empty write still fails on /dev/full (ENOSPC) and on a FIFO
        // without a reader; nothing is inserted into what reads it.
        fs.writeSync(out.fd, Buffer.alloc(0));
      }
    } catch (e) {
      out.abort();
      throw new InputError(writeErrorText(out.path, e), { cause: e });
    }
    return out;
  }

  /** Opens any path for writing, with no checks (tests, and writers that chose their file). */
  static openUnchecked(file: string): RecordingOutput {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, RECORDING_MODE);
    fs.fchmodSync(fd, RECORDING_MODE);
    return new RecordingOutput(file, fd, false, true);
  }

  /** Nothing was recorded: close, and remove the file if this open created it. Safe to call twice. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    fs.closeSync(this.fd);
    if (this.created) fs.rmSync(this.path, { force: true });
  }

  /** Hands the descriptor to a writer (abort() then does nothing). */
  take(): number {
    if (this.done) throw new Error(`${this.path}: the output was already closed`);
    this.done = true;
    return this.fd;
  }
}

export class RecordingWriter {
  private fd: number;
  readonly filePath: string;
  private pending: string[] = [];
  private pendingChars = 0;
  private closed = false;
  bytesWritten = 0;

  /**
   * Starts the recording in output (a path is opened with no checks, as tests do): an existing
   * file is truncated, then the header is written at once.
   */
  constructor(output: RecordingOutput | string, header: HeaderRecord) {
    const o = typeof output === 'string' ? RecordingOutput.openUnchecked(output) : output;
    this.filePath = o.path;
    this.fd = o.take();
    if (o.regular) fs.ftruncateSync(this.fd, 0);
    this.append(header);
    this.flush();
  }

  append(record: RecordingRecord): void {
    if (this.closed) return;
    const line = JSON.stringify(record);
    this.pending.push(line);
    this.pendingChars += line.length + 1;
    // Bound memory between flushes (1000 Hz × a large tree): flush early past 4 MiB of text.
    if (this.pendingChars > 4 * 1024 * 1024) this.flush();
  }

  /** Writes everything appended so far as one gzip member. */
  flush(): void {
    if (this.closed || this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingChars = 0;
    // Level 3: 1,000 samples of a 5-process tree (220 KB of JSON) compress in ~0.4 ms to 10.8 KB;
    // level 6 takes ~0.9 ms for 7% less, and this runs on the sampling thread once a second.
    const member = zlib.gzipSync(text, { level: 3 });
    let off = 0;
    while (off < member.length) off += fs.writeSync(this.fd, member, off, member.length - off);
    this.bytesWritten += member.length;
  }

  /** Flushes and closes; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** Rounds a time in ms to µs so records stay short. */
export function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
