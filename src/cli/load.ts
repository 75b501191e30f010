/**
 * Reads any recording a command accepts: memhunt's own (.mh), or a foreign one (mprof .dat, CSV,
 * JSON) through the ordered registry in src/formats/index.ts.
 */
import * as fs from 'node:fs';
import { CommandError, InputError } from '../errors';
import type { MemoryRecording } from '../model/recording';
import { isMemhuntRecording, readMemhuntRecording, type ReadOptions } from '../recording/reader';

/**
 * `opts` apply to memhunt's own recordings (e.g. `splits: false` for plotting). Every error names
 * the file: a reader's message that does not ("tree total: sample time oops is not a number") gets
 * it in front.
 */
export async function loadRecording(filePath: string, opts: ReadOptions = {}): Promise<MemoryRecording> {
  try {
    return await load(filePath, opts);
  } catch (e) {
    if (e instanceof CommandError && !e.message.includes(filePath)) {
      const named = new InputError(`${filePath}: ${e.message}`, { cause: e });
      throw e.exitCode === named.exitCode ? named : e;
    }
    throw e;
  }
}

async function load(filePath: string, opts: ReadOptions): Promise<MemoryRecording> {
  let st: fs.Stats;
  try {
    st = fs.statSync(filePath);
  } catch {
    throw new InputError(`${filePath}: no such file`);
  }
  if (st.isDirectory()) throw new InputError(`${filePath}: is a directory, not a recording`);
  if (st.size === 0) throw new InputError(`${filePath}: the file is empty`);
  if (!st.isFile()) throw new InputError(`${filePath}: not a regular file, not a recording`);
  const head = Buffer.alloc(Math.min(st.size, 64 * 1024));
  let fd: number;
  try {
    fd = fs.openSync(filePath, 'r');
  } catch (e) {
    throw new InputError(`${filePath}: cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (isMemhuntRecording(head) || filePath.endsWith('.mh')) return readMemhuntRecording(filePath, opts);
    throw new InputError(`${filePath}: a gzip file, but not a memhunt recording`);
  }
  // mprof's .dat is streamed from the file (no 512 MiB limit, memory independent of its length).
  const mprof = await import('../formats/mprof-dat');
  if (mprof.isMprofDat(head.toString('utf8', 0, Math.min(head.length, 4096)))) return mprof.readMprofDatFile(filePath);
  if (st.size > 512 * 1024 * 1024) {
    throw new InputError(`${filePath}: ${st.size} bytes is too large for a text recording (the limit is 512 MiB)`);
  }
  // The foreign readers load only for foreign files: a .mh then starts decompressing ~3 ms sooner.
  const { readForeign } = await import('../formats/index');
  const rec = readForeign(filePath, fs.readFileSync(filePath, 'utf8'));
  if (!rec) {
    throw new InputError(`${filePath}: not a recording memhunt can read (memhunt .mh, mprof .dat, memhunt CSV or JSON)`);
  }
  return rec;
}
