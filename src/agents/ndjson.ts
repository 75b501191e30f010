/**
 * One peer of the agent socket: newline-delimited JSON both ways (docs/agent-protocol.md,
 * "Transport"). Shared by the host's server and by the clients (`memhunt snapshot`, `memhunt refs`).
 */
import type * as net from 'node:net';

/**
 * Longest line accepted. The largest message is a census or a refs graph: a census of 500 types
 * is ~30 KB, a refs graph of 10 samples × 20 levels with 80-character labels ~300 KB. 64 MiB
 * leaves room for anything legitimate and stops a peer that never sends a newline from growing
 * memhunt's heap without bound.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export class NdjsonPeer {
  private chunks: Buffer[] = [];
  private size = 0;
  private closed = false;
  private readonly closeHandlers: Array<(why: string) => void> = [];

  constructor(readonly socket: net.Socket, private readonly onMessage: (msg: unknown) => void, private readonly onBadLine?: (why: string) => void) {
    socket.on('data', (d: Buffer) => this.feed(d));
    socket.on('error', () => {
      // Reported through 'close' below: a broken peer is the same as a gone one.
    });
    socket.on('close', () => this.finish('connection closed'));
  }

  onClose(handler: (why: string) => void): void {
    if (this.closed) handler('connection closed');
    else this.closeHandlers.push(handler);
  }

  send(msg: object): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.socket.write(JSON.stringify(msg) + '\n');
    return true;
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
    this.finish('connection closed');
  }

  private finish(why: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers.splice(0)) h(why);
  }

  private feed(d: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = d.indexOf(0x0a, start);
      if (nl < 0) break;
      const part = d.subarray(start, nl);
      const line = this.chunks.length ? Buffer.concat([...this.chunks, part]).toString('utf8') : part.toString('utf8');
      this.chunks = [];
      this.size = 0;
      start = nl + 1;
      if (line.trim()) this.parse(line);
      if (this.closed) return;
    }
    if (start < d.length) {
      this.chunks.push(d.subarray(start));
      this.size += d.length - start;
      if (this.size > MAX_LINE_BYTES) {
        this.onBadLine?.(`a message longer than ${MAX_LINE_BYTES} bytes without a newline; connection closed`);
        this.close();
      }
    }
  }

  private parse(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.onBadLine?.(`a line that is not JSON: ${line.slice(0, 80)}`);
      return;
    }
    if (typeof msg !== 'object' || msg === null || typeof (msg as { type?: unknown }).type !== 'string') {
      this.onBadLine?.(`a message without a type: ${line.slice(0, 80)}`);
      return;
    }
    this.onMessage(msg);
  }
}
