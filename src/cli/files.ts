/** Recording files in the current folder, as mprof's list/peak/clean/rm see them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';
import { isMprofDat } from '../formats/mprof-dat';
import { isMemhuntRecording } from '../recording/reader';

const OURS = /^memhunt_\d{14}(?:_\d+)?\.mh$/;
const MPROF = /^mprofile_\d{14}\.dat$/;

/** Default names are made (exclusively, never an existing one) by RecordingOutput.open in src/recording/writer.ts. */

export interface ListedRecording {
  index: number;
  name: string;
  mtimeMs: number;
  /** The start its default name embeds (memhunt_YYYYMMDDhhmmss.mh, mprofile_….dat), else the file's mtime. */
  startMs: number;
  /** Whether startMs comes from the name (true) or is the file's last change (false). */
  startFromName: boolean;
  size: number;
  kind: 'memhunt' | 'mprof';
}

/** Bytes read from a file whose name says nothing: memhunt's header (one gzip member's start) and mprof's first line fit. */
const SNIFF_BYTES = 4096;

/** 'memhunt' or 'mprof' when the first bytes of file are a recording of that kind; null otherwise (or unreadable). */
export function sniffRecording(file: string): 'memhunt' | 'mprof' | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const n = fs.readSync(fd, head, 0, SNIFF_BYTES, 0);
    if (n < 2) return null;
    if (head[0] === 0x1f && head[1] === 0x8b) return isMemhuntRecording(head.subarray(0, n)) ? 'memhunt' : null;
    return isMprofDat(head.toString('utf8', 0, n)) ? 'mprof' : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Recordings in dir, oldest first (index 0 = oldest, as `mprof list`). Default names
 * (memhunt_*.mh, mprofile_*.dat; the mprof ones only with includeMprof) are taken on their name;
 * with sniff, every other regular file is opened and its first 4 KiB checked, so a recording named
 * with -o is listed too (issue 12) and anything else is skipped. `clean` does not sniff: it
 * deletes default names only.
 */
export function listRecordings(dir = '.', includeMprof = true, sniff = true): ListedRecording[] {
  const out: Array<Omit<ListedRecording, 'index'>> = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const name = entry.name;
    let kind: ListedRecording['kind'] | null = OURS.test(name) ? 'memhunt' : includeMprof && MPROF.test(name) ? 'mprof' : null;
    const full = path.join(dir, name);
    if (!kind && sniff && (entry.isFile() || entry.isSymbolicLink())) {
      kind = sniffRecording(full);
      if (kind === 'mprof' && !includeMprof) kind = null;
    }
    if (!kind) continue;
    let st: fs.Stats;
    try {
      st = fs.statSync(full);
    } catch {
      continue; // removed meanwhile, or a dangling link
    }
    if (st.isFile()) {
      const named = startOf(name);
      out.push({ name, mtimeMs: st.mtimeMs, size: st.size, kind, startMs: named ?? st.mtimeMs, startFromName: named !== null });
    }
  }
  // Default names embed the start time: sort on it so the order survives copies; other names on
  // their last change (the end of the run that wrote them).
  out.sort((a, b) => a.startMs - b.startMs || a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  return out.map((r, index) => ({ ...r, index }));
}

/** The start time a default name embeds (local time, as the writer names them), or null. */
function startOf(name: string): number | null {
  const m = /_(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:_(\d+))?\.(?:mh|dat)$/.exec(name);
  if (!m || !(OURS.test(name) || MPROF.test(name))) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // _1, _2… (same second) sort after the plain name.
  return new Date(y, mo - 1, d, h, mi, se).getTime() + Number(m[7] ?? 0) / 1000;
}

/** The newest recording in dir, or an InputError that says how to make one. */
export function newestRecording(dir = '.'): string {
  const all = listRecordings(dir);
  if (all.length === 0) {
    throw new InputError('no recording in this folder (memhunt .mh or mprof .dat); make one with: memhunt run -- <command>');
  }
  return path.join(dir, all[all.length - 1]!.name);
}

/** Resolves "3" (an index from `memhunt list`) or a file name. */
export function resolveRecordingArg(arg: string, dir = '.'): string {
  if (/^\d+$/.test(arg) && !fs.existsSync(arg)) {
    const all = listRecordings(dir);
    const hit = all.find((r) => r.index === Number(arg));
    if (!hit) throw new InputError(`no recording with index ${arg} (memhunt list shows ${all.length ? `0..${all.length - 1}` : 'none'})`);
    return path.join(dir, hit.name);
  }
  return arg;
}
