/**
 * Output files, for every command that writes one (recordings, exports, plots, graphs, JUnit):
 * what may be replaced, how it is written, and one line naming the file when it cannot be.
 *
 * Rules (README "Output files"):
 * - A file that exists is replaced only when it is memhunt's own output of the same kind (a
 *   recording by a recording, a CSV export by a CSV export, …) or empty; anything else (`-o
 *   train.py`, `-o notes.txt`, a gzip backup) is refused unless --force is given.
 * - A symbolic link is followed: the file it points to is replaced, the link stays a link.
 * - A character device or a FIFO (/dev/stdout, /dev/null, a named pipe) is written in place, never
 *   replaced by a regular file; a block device, a socket or a directory is refused, --force or not.
 * - Exports, plots and graphs are written whole or not at all (a temporary file beside the target,
 *   renamed over it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, FailureError } from './errors';

/** What an output is, for messages ("a CSV export") and for recognising an earlier one. */
export interface OutputKind {
  /** "a memhunt recording", "a memhunt CSV export", "a PNG picture". */
  what: string;
  /** True when the first bytes (up to 64 KiB) are this kind of output. */
  isOurs: (head: Buffer) => boolean;
}

/** The first bytes read to recognise a file. */
const HEAD_BYTES = 64 * 1024;

/** What a failed write or mkdir's errno means, in words (write and mkdir add their own for ENOENT, ENOTDIR). */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EISDIR: 'it is a directory',
  EFBIG: 'the file would be too large',
  EIO: 'input/output error',
  ENXIO: 'no process reads it (a FIFO without a reader)',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** One line for a failed write of `file`, naming it and saying why in words. */
export function writeErrorText(file: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ...ERRNO_WORDS,
    ENOENT: `its folder ${path.dirname(file)} does not exist`,
    ENOTDIR: `a part of ${path.dirname(file)} is not a folder`,
  };
  // /proc and /sys say ENOENT for a new file in a folder that exists: the folder takes no new files.
  if (err?.code === 'ENOENT' && isFolder(path.dirname(file))) why.ENOENT = `its folder ${path.dirname(file)} does not take new files`;
  const text = (err?.code && why[err.code]) || err?.message || String(e);
  return `cannot write ${file}: ${text}${err?.code ? ` (${err.code})` : ''}`;
}

function isFolder(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Makes `dir` and the folders above it that are missing, one at a time from the deepest that
 * exists. Node's recursive mkdir never returns for a folder under /proc (`--output-dir /proc/sub`
 * spun a core for 10 minutes, trial 5): one folder at a time, /proc says ENOENT at once.
 */
export function makeFolders(dir: string): void {
  const missing: string[] = [];
  let p = path.resolve(dir);
  while (!fs.existsSync(p)) {
    missing.unshift(p);
    const up = path.dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const m of missing) fs.mkdirSync(m);
}

/**
 * Why `dir` could not be made, in words: a recursive mkdir reports ENOENT for a missing folder
 * under a read-only one (the real cause is the parent's EROFS or EACCES), so the first missing
 * folder is made on its own to learn it.
 */
export function mkdirErrorText(dir: string, e: unknown): string {
  let err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOENT') {
    let first = path.resolve(dir);
    while (!isFolder(path.dirname(first)) && path.dirname(first) !== first) first = path.dirname(first);
    try {
      fs.mkdirSync(first);
      fs.rmdirSync(first);
    } catch (e2) {
      err = e2 as NodeJS.ErrnoException;
    }
  }
  const why: Record<string, string> = {
    ...ERRNO_WORDS,
    ENOTDIR: 'a part of it is not a folder', EEXIST: 'a file of that name is in the way',
    ENOENT: 'its parent folder does not take new folders',
  };
  const text = (err?.code && why[err.code]) || err?.message || String(e);
  return `cannot create it: ${text}${err?.code ? ` (${err.code})` : ''}`;
}

function readHead(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

export type OutputTarget =
  /** Nothing there yet (or an empty file, or our own output): write `realPath` (a link's target) whole. */
  | { how: 'replace'; realPath: string; exists: boolean; mode: number | null }
  /** A character device or FIFO: write into it, never replace it. */
  | { how: 'in-place'; realPath: string };

/**
 * Decides how `file` may be written as `kind`, or throws an InputError (exit 2) that names it.
 * `force` allows replacing a regular file that is not ours; nothing allows replacing a
 * directory, a block device or a socket.
 */
export function checkOutput(file: string, kind: OutputKind, force = false): OutputTarget {
  let lst: fs.Stats;
  try {
    lst = fs.lstatSync(file);
  } catch {
    // A new file: its folder must exist and be writable, checked before any work (as `run -o`
    // does), so a missing folder is bad input (exit 2), not a failure after the work is done.
    try {
      fs.accessSync(path.dirname(file), fs.constants.W_OK);
    } catch (e) {
      throw new InputError(writeErrorText(file, e));
    }
    return { how: 'replace', realPath: file, exists: false, mode: null };
  }
  let realPath = file;
  let st = lst;
  if (lst.isSymbolicLink()) {
    try {
      realPath = fs.realpathSync(file);
      st = fs.statSync(realPath);
    } catch {
      throw new InputError(`output ${file} is a symbolic link to nothing (${fs.readlinkSync(file)}); refusing to write through it`);
    }
  }
  if (st.isDirectory()) throw new InputError(`output ${file} is a directory; give a file name such as ${path.join(file, 'out')}`);
  if (st.isCharacterDevice() || st.isFIFO()) return { how: 'in-place', realPath };
  if (!st.isFile()) {
    const what = st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new InputError(`output ${file} is ${what}; refusing to write to it`);
  }
  const mode = st.mode & 0o7777;
  if (st.size === 0 || force) return { how: 'replace', realPath, exists: true, mode };
  let head: Buffer;
  try {
    head = readHead(realPath);
  } catch (e) {
    throw new InputError(`output ${file} exists and cannot be read to check what it is (${(e as NodeJS.ErrnoException).code ?? e}); refusing to overwrite it (--force replaces it)`);
  }
  if (!kind.isOurs(head)) {
    throw new InputError(`output ${file} exists and is not ${kind.what}; refusing to overwrite it (choose another -o, or --force to replace it)`);
  }
  return { how: 'replace', realPath, exists: true, mode };
}

/**
 * Writes `data` to `file` as `kind` under checkOutput's rules: whole or not at all (a temporary
 * file beside the real target, renamed over it: rename is atomic within a file system, so a
 * failure or a kill mid-write never leaves a half-written output, and an earlier file survives
 * until the new one is complete); a device or FIFO is written in place. A failed write is a
 * FailureError (exit 1) naming the file.
 */
export function writeOutputFile(file: string, data: string | Uint8Array, kind: OutputKind, force = false): void {
  const target = checkOutput(file, kind, force);
  if (target.how === 'in-place') {
    let fd: number | null = null;
    try {
      fd = fs.openSync(target.realPath, fs.constants.O_WRONLY);
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      throw new FailureError(writeErrorText(file, e), { cause: e });
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
    return;
  }
  writeFileAtomic(target.realPath, data, target.mode, file);
}

/**
 * Writes a whole file or nothing (see writeOutputFile). `mode` keeps the permissions of the file
 * replaced (null: the default, 0666 less the umask). Errors name `shownAs`.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode: number | null = null, shownAs = target): void {
  const dir = path.dirname(target);
  let tmp: string | null = null;
  try {
    // 'wx' and a random name: never follows a link someone planted at the temporary name.
    for (let i = 0; tmp === null; i++) {
      const name = path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
      try {
        fs.closeSync(fs.openSync(name, 'wx', mode ?? 0o666));
        tmp = name;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 100) throw e;
      }
    }
    fs.writeFileSync(tmp, data);
    if (mode !== null) fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, target);
    tmp = null;
  } catch (e) {
    throw new FailureError(writeErrorText(shownAs, e), { cause: e });
  } finally {
    if (tmp !== null) fs.rmSync(tmp, { force: true });
  }
}

/** Kinds of output, recognised by their first bytes. */
export const OUTPUT_KINDS = {
  png: { what: 'a PNG picture', isOurs: (h: Buffer) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  svg: { what: 'an SVG picture', isOurs: (h: Buffer) => /^(?:\uFEFF)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!DOCTYPE[^>]*>\s*)?<svg[\s>]/.test(h.toString('utf8')) },
  html: { what: 'an HTML report of memhunt', isOurs: (h: Buffer) => h.toString('utf8').includes('<meta name="generator" content="memhunt') },
  dot: { what: 'a Graphviz graph of memhunt refs', isOurs: (h: Buffer) => /^\s*digraph refs \{/.test(h.toString('utf8')) },
  junit: { what: 'a JUnit report of memhunt check', isOurs: (h: Buffer) => h.toString('utf8').includes('<testsuites name="memhunt check"') },
} satisfies Record<string, OutputKind>;

/** True when a and b name the same file (through links too); false when either does not exist. */
export function sameFile(a: string, b: string): boolean {
  if (path.resolve(a) === path.resolve(b)) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
