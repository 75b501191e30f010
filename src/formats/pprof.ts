/**
 * Sampled allocations as pprof (profile.proto, gzipped), with the sample types of a Go heap
 * profile: alloc_objects, alloc_space, inuse_objects, inuse_space (`go tool pprof`, speedscope,
 * Pyroscope read it). "inuse" is what was live at `atMs` (default: the end of the recording);
 * "alloc" everything sampled up to then. Each sample carries a `pid` label. The encoder is written
 * here (about a hundred lines) rather than taken from an npm protobuf package: the message set is
 * fixed and small, and writing it needs only varints and length-delimited fields.
 */
import * as zlib from 'node:zlib';
import type { AllocFrame } from '../contract/shapes';
import { liveAt, stackKey, type ProcessAllocations } from '../model/allocations';

class Writer {
  private chunks: number[] = [];
  varint(v: number): this {
    let n = BigInt.asUintN(64, BigInt(Math.round(v)));
    while (n >= 0x80n) {
      this.chunks.push(Number((n & 0x7fn) | 0x80n));
      n >>= 7n;
    }
    this.chunks.push(Number(n));
    return this;
  }
  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  int(field: number, v: number): this {
    if (v === 0) return this;
    return this.tag(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array | number[]): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.chunks.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  message(field: number, m: Writer): this {
    return this.bytes(field, m.chunks);
  }
  packed(field: number, vs: number[]): this {
    const w = new Writer();
    for (const v of vs) w.varint(v);
    return this.bytes(field, w.chunks);
  }
  finish(): Buffer {
    return Buffer.from(this.chunks);
  }
}

export interface PprofOptions {
  atMs?: number | null;
  /** Wall-clock start of the recording (ms since the epoch): the profile's time. */
  startWallMs: number;
  durationMs: number;
  meanBytes: number;
}

/**
 * A function's name as pprof shows it. Module-level code is `<module>` in every file: named by its file
 * (`<module> train.py`) so that `go tool pprof -top` does not fold every script and library into one node.
 * The system name (field 3) is always `file:name`, never equal to the name: pprof "demangles" a function
 * whose two names are equal, and takes what looks like C++ template arguments (`<module>`, `<lambda>`,
 * `<listcomp>`) out of it, leaving an empty name that it shows as `<unknown>`.
 */
function displayName(file: string, name: string): string {
  if (name !== '<module>') return name;
  const base = file.slice(file.lastIndexOf('/') + 1);
  return base ? `<module> ${base}` : name;
}

/** Encodes the samples of these processes; returns the gzipped profile. */
export function writePprof(procs: ProcessAllocations[], o: PprofOptions): Buffer {
  const strings = new Map<string, number>([['', 0]]);
  const str = (s: string): number => {
    let i = strings.get(s);
    if (i === undefined) strings.set(s, (i = strings.size));
    return i;
  };
  const functions = new Map<string, number>();
  const locations = new Map<string, number>();
  const fnOf = (f: AllocFrame): number => {
    const key = `${f[0]}\u0000${f[1]}`;
    let id = functions.get(key);
    if (id === undefined) functions.set(key, (id = functions.size + 1));
    return id;
  };
  const locOf = (f: AllocFrame): number => {
    const key = `${f[0]}\u0000${f[1]}\u0000${f[2]}`;
    let id = locations.get(key);
    if (id === undefined) locations.set(key, (id = locations.size + 1));
    return id;
  };
  const allSamples = procs.flatMap((p) => p.samples);
  const atMs = o.atMs ?? allSamples.reduce((m, s) => Math.max(m, s.tMs, s.freedMs ?? 0), 0);
  // Values per (pid, stack): alloc_objects, alloc_space, inuse_objects, inuse_space.
  const agg = new Map<string, { pid: number; stack: AllocFrame[]; v: [number, number, number, number] }>();
  for (const s of allSamples) {
    if (s.tMs > atMs) continue;
    const key = `${s.pid}\u0002${stackKey(s.stack)}`;
    let a = agg.get(key);
    if (!a) agg.set(key, (a = { pid: s.pid, stack: s.stack, v: [0, 0, 0, 0] }));
    a.v[0] += s.objects;
    a.v[1] += s.bytes;
    if (liveAt(s, atMs)) {
      a.v[2] += s.objects;
      a.v[3] += s.bytes;
    }
  }
  const out = new Writer();
  for (const [type, unit] of [['alloc_objects', 'count'], ['alloc_space', 'bytes'], ['inuse_objects', 'count'], ['inuse_space', 'bytes']] as const) {
    out.message(1, new Writer().int(1, str(type)).int(2, str(unit)));
  }
  const pidKey = str('pid');
  for (const a of agg.values()) {
    const sample = new Writer()
      .packed(1, a.stack.map(locOf))
      .packed(2, a.v.map((x) => Math.round(x)))
      .message(3, new Writer().int(1, pidKey).int(3, a.pid));
    out.message(2, sample);
  }
  for (const [key, id] of locations) {
    const [file, name, line] = key.split('\u0000') as [string, string, string];
    const fid = fnOf([file, name, 0]);
    out.message(4, new Writer().int(1, id).message(4, new Writer().int(1, fid).int(2, Number(line))));
  }
  for (const [key, id] of functions) {
    const [file, name] = key.split('\u0000') as [string, string];
    out.message(5, new Writer().int(1, id).int(2, str(displayName(file, name))).int(3, str(`${file}:${name}`)).int(4, str(file)));
  }
  out.int(9, o.startWallMs * 1e6);
  out.int(10, o.durationMs * 1e6);
  out.message(11, new Writer().int(1, str('space')).int(2, str('bytes')));
  out.int(12, o.meanBytes);
  out.int(14, str('inuse_space')); // default_sample_type: an index into the string table
  // The string table goes last (fields may come in any order): every string is in it by now.
  for (const s of strings.keys()) out.string(6, s);
  return zlib.gzipSync(out.finish());
}

/** True when the bytes start a gzip stream (an earlier pprof export). */
export function isPprof(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}
