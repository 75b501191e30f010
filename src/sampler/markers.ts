/**
 * The marker channel: a FIFO in a private 0700 directory, named to the target by $MEMHUNT_MARKERS.
 * Any process of the tree, in any language, writes one line per marker:
 *
 *     [<pid> ]begin <label>     a section starts
 *     [<pid> ]end <label>       it ends
 *     [<pid> ]mark <label>      a point in time
 *
 * A FIFO rather than a socket: `echo "mark epoch 2" > "$MEMHUNT_MARKERS"` works from a shell.
 * Lines up to PIPE_BUF (4096 bytes) written in one write() are atomic, so writers never interleave.
 * memhunt keeps a write end open itself, so the channel never reports end-of-file between writers.
 * Writers should open it with O_NONBLOCK: then a missing reader (memhunt gone) fails at once with
 * ENXIO instead of blocking the program (the README snippets do; `memhunt mark` does).
 *
 * Bounded (a flood must not grow memhunt or the recording without limit): labels are cut at
 * MAX_LABEL_CHARS, at most MAX_MARKERS_PER_SECOND markers and MAX_MARKER_BYTES_PER_SECOND bytes
 * of lines are kept per second, a line longer than MAX_LINE_BYTES is dropped, and what was dropped
 * is reported (onDropped) once per second, for a note in the recording.
 *
 * The directory is a run directory (src/rundir.ts): private, with an owner file, removed at the
 * end, and removed by the next run when memhunt was killed.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeRunDir } from '../rundir';

export interface Marker {
  pid: number | null;
  kind: 'begin' | 'end' | 'mark';
  label: string;
}

/** Longest label kept, in characters; longer ones are cut. A label names a phase ("epoch 3"), not data. */
export const MAX_LABEL_CHARS = 200;
/**
 * Markers kept per second. A training loop marking every batch at 100 batches/s with begin and
 * end needs 200; a flood (350 k marks in 3 s) is cut to this, so the recording grows by at most
 * ~1000 × ~80 bytes of JSON per second before compression.
 */
export const MAX_MARKERS_PER_SECOND = 1000;
/** Bytes of marker lines kept per second (1000 markers of 256 bytes). */
export const MAX_MARKER_BYTES_PER_SECOND = 256 * 1024;
/** Longest line read: PIPE_BUF (4096), the longest a writer can write atomically. A longer one is dropped. */
export const MAX_LINE_BYTES = 4096;

/** Parses one line of the channel; null for blank lines. Lines without a known verb become marks. */
export function parseMarkerLine(line: string): Marker | null {
  let text = line.trim();
  if (!text) return null;
  let pid: number | null = null;
  const m = /^(\d+)\s+/.exec(text);
  if (m) {
    pid = Number(m[1]);
    text = text.slice(m[0].length);
  }
  const v = /^(begin|end|mark)(?:\s+(.*))?$/.exec(text);
  if (v) return { pid, kind: v[1] as Marker['kind'], label: (v[2] ?? '').trim().slice(0, MAX_LABEL_CHARS) };
  return { pid, kind: 'mark', label: text.slice(0, MAX_LABEL_CHARS) };
}

export class MarkerChannel {
  readonly dir: string;
  readonly fifoPath: string;
  private socket: net.Socket | null = null;
  private keepOpenFd: number | null = null;
  private partial = '';
  private windowStartMs = 0;
  private keptInWindow = 0;
  private bytesInWindow = 0;
  private dropped = 0;
  private droppedBytes = 0;

  /**
   * Creates the private directory and FIFO and starts reading; onMarker is called per line kept,
   * onDropped at most once a second with the markers dropped since the last call.
   */
  constructor(private readonly onMarker: (m: Marker) => void, private readonly onDropped: (markers: number, bytes: number) => void = () => {}) {
    this.dir = makeRunDir();
    this.fifoPath = path.join(this.dir, 'markers');
    // Node has no mkfifo(); coreutils' mkfifo is on every Linux.
    execFileSync('mkfifo', ['-m', '0600', this.fifoPath], { stdio: 'ignore' });
    const readFd = fs.openSync(this.fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    this.keepOpenFd = fs.openSync(this.fifoPath, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    this.socket = new net.Socket({ fd: readFd, readable: true, writable: false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => this.feed(chunk));
    this.socket.on('error', () => {
      /* the channel is best-effort: a read error loses markers, never the recording */
    });
    // The channel must not keep memhunt alive on its own.
    this.socket.unref();
  }

  private feed(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > MAX_LINE_BYTES) {
      // A writer that never ends its line: drop what it wrote so far rather than hold it.
      this.drop(this.partial.length);
      this.partial = '';
    }
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const now = performance.now();
    if (now - this.windowStartMs >= 1000) {
      this.reportDropped();
      this.windowStartMs = now;
      this.keptInWindow = 0;
      this.bytesInWindow = 0;
    }
    const bytes = line.length + 1;
    if (line.length > MAX_LINE_BYTES || this.keptInWindow >= MAX_MARKERS_PER_SECOND || this.bytesInWindow + bytes > MAX_MARKER_BYTES_PER_SECOND) {
      if (line.trim()) this.drop(bytes);
      return;
    }
    const m = parseMarkerLine(line);
    if (!m) return;
    this.keptInWindow++;
    this.bytesInWindow += bytes;
    this.onMarker(m);
  }

  private drop(bytes: number): void {
    this.dropped++;
    this.droppedBytes += bytes;
  }

  private reportDropped(): void {
    if (this.dropped === 0) return;
    const [n, b] = [this.dropped, this.droppedBytes];
    this.dropped = 0;
    this.droppedBytes = 0;
    this.onDropped(n, b);
  }

  /** Reads whatever is still buffered in the FIFO (synchronously), then closes and removes it. */
  close(): void {
    if (this.socket) {
      // Drain what writers wrote just before the target exited.
      try {
        const fd = (this.socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
        if (typeof fd === 'number' && fd >= 0) {
          const buf = Buffer.alloc(65536);
          for (;;) {
            let n = 0;
            try {
              n = fs.readSync(fd, buf, 0, buf.length, null);
            } catch {
              break;
            }
            if (n <= 0) break;
            this.feed(buf.toString('utf8', 0, n));
          }
        }
      } catch {
        // best effort
      }
      if (this.partial.trim()) this.line(this.partial);
      this.partial = '';
      this.reportDropped();
      this.socket.destroy();
      this.socket = null;
    }
    if (this.keepOpenFd !== null) {
      try {
        fs.closeSync(this.keepOpenFd);
      } catch {
        // already closed
      }
      this.keepOpenFd = null;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

