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
 * ENXIO instead of blocking the program (the README snippets do).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface Marker {
  pid: number | null;
  kind: 'begin' | 'end' | 'mark';
  label: string;
}

/** Longest label kept; longer ones are cut (PIPE_BUF bounds an atomic line anyway). */
const MAX_LABEL = 1000;

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
  if (v) return { pid, kind: v[1] as Marker['kind'], label: (v[2] ?? '').trim().slice(0, MAX_LABEL) };
  return { pid, kind: 'mark', label: text.slice(0, MAX_LABEL) };
}

export class MarkerChannel {
  readonly dir: string;
  readonly fifoPath: string;
  private socket: net.Socket | null = null;
  private keepOpenFd: number | null = null;
  private partial = '';

  /** Creates the private directory and FIFO and starts reading; onMarker is called per line. */
  constructor(private readonly onMarker: (m: Marker) => void) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-'));
    fs.chmodSync(this.dir, 0o700);
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
    for (const line of lines) {
      const m = parseMarkerLine(line);
      if (m) this.onMarker(m);
    }
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
      if (this.partial.trim()) {
        const m = parseMarkerLine(this.partial);
        if (m) this.onMarker(m);
        this.partial = '';
      }
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
