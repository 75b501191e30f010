/** Recording files in the current folder, as mprof's list/peak/clean/rm see them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors';

const OURS = /^memhunt_\d{14}(?:_\d+)?\.mh$/;
const MPROF = /^mprofile_\d{14}\.dat$/;

/** Default names are made (exclusively, never an existing one) by RecordingOutput.open in src/recording/writer.ts. */

export interface ListedRecording {
  index: number;
  name: string;
  mtimeMs: number;
  size: number;
  kind: 'memhunt' | 'mprof';
}

/** Recordings with default names in dir, oldest first (index 0 = oldest, as `mprof list`). */
export function listRecordings(dir = '.', includeMprof = true): ListedRecording[] {
  const out: Omit<ListedRecording, 'index'>[] = [];
  for (const name of fs.readdirSync(dir)) {
    const kind = OURS.test(name) ? 'memhunt' : includeMprof && MPROF.test(name) ? 'mprof' : null;
    if (!kind) continue;
    const st = fs.statSync(path.join(dir, name));
    if (st.isFile()) out.push({ name, mtimeMs: st.mtimeMs, size: st.size, kind });
  }
  // Names embed the start time; sort on it (then mtime) so the order survives copies.
  out.sort((a, b) => stampOf(a.name).localeCompare(stampOf(b.name)) || a.mtimeMs - b.mtimeMs);
  return out.map((r, index) => ({ ...r, index }));
}

function stampOf(name: string): string {
  return /_(\d{14}(?:_\d+)?)\./.exec(name)?.[1] ?? name;
}

/** The newest recording in dir, or an InputError that says how to make one. */
export function newestRecording(dir = '.'): string {
  const all = listRecordings(dir);
  if (all.length === 0) {
    throw new InputError('no recording in this folder (memhunt_*.mh or mprofile_*.dat); make one with: memhunt run -- <command>');
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
