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
import * as zlib from 'node:zlib';
import type { HeaderRecord, RecordingRecord } from './spec';

export class RecordingWriter {
  private fd: number;
  private pending: string[] = [];
  private pendingChars = 0;
  private closed = false;
  bytesWritten = 0;

  /** Opens (creates or truncates) the file and writes the header at once. */
  constructor(readonly filePath: string, header: HeaderRecord) {
    this.fd = fs.openSync(filePath, 'w', 0o644);
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
