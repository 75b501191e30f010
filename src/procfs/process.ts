/**
 * Pure readers of /proc/PID files, with an injectable root (a path prefix) so tests can use fixture
 * trees. Costs measured on these 2-core machines (Node 20): readFileSync of stat/statm/status
 * ≈ 37/19/25 µs; re-reading an open fd from offset 0 ≈ 4/2.6/5 µs. So the sampler keeps one fd per
 * process and re-reads it (ProcessStatusReader) instead of opening files on each sample.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface ProcStat {
  pid: number;
  /** Name in parentheses as the kernel stores it (max 15 chars). */
  comm: string;
  state: string;
  ppid: number;
  /** Start time after boot in clock ticks: with pid it identifies a process across pid reuse. */
  startTicks: number;
  /** User + system CPU of this process alone (not its children), clock ticks. */
  cpuTicks: number;
}

/** Parses /proc/PID/stat text. The comm field can contain spaces and parentheses: split at the last ')'. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTicks = Number(rest[19]);
  if (!Number.isFinite(pid) || !Number.isFinite(ppid)) return null;
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid, startTicks, cpuTicks: utime + stime };
}

export function readStat(pid: number, root = '/'): ProcStat | null {
  try {
    return parseStat(fs.readFileSync(path.join(root, 'proc', String(pid), 'stat'), 'latin1'));
  } catch {
    return null;
  }
}

/** What the tree scan needs of a process: its state, parent and start time. */
export interface StatBrief {
  state: string;
  ppid: number;
  startTicks: number;
}

// One buffer for every stat read of the scan: a stat line is < 1 KB (a 15-byte comm and 52 numbers).
const statBuf = Buffer.allocUnsafe(4096);

/**
 * State, parent pid and start time from /proc/PID/stat, parsed from its bytes (null when the
 * process is gone or the line is not a stat line): the same values as readStat's. The tree scan
 * reads the stat of every new pid of the machine, which on a busy machine (tens of new processes
 * a second) was most of an idle run's CPU: readFileSync (open, fstat, two reads, close, a string)
 * and a split of 50 fields cost ~40 µs of CPU a pid here, this ~12 µs.
 */
export function readStatBrief(pid: number, root = '/'): StatBrief | null {
  let fd: number;
  try {
    fd = fs.openSync(`${procDir(root)}/${pid}/stat`, 'r');
  } catch {
    return null;
  }
  let n: number;
  try {
    n = fs.readSync(fd, statBuf, 0, statBuf.length, 0);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
  // The comm field can hold spaces and parentheses: the fields start after the last ')'.
  const close = statBuf.lastIndexOf(0x29, n - 1);
  if (close < 0 || close + 2 >= n || statBuf[close + 1] !== 0x20) return null;
  const state = String.fromCharCode(statBuf[close + 2]!);
  // Fields from 3 (state) on, separated by one space: ppid is field 4, starttime field 22.
  let field = 3;
  let i = close + 2;
  let ppid = NaN;
  let startTicks = NaN;
  while (i < n && field < 22) {
    while (i < n && statBuf[i] !== 0x20) i++;
    i++;
    field++;
    if (field === 4 || field === 22) {
      let v = 0;
      let digits = 0;
      for (; i < n; i++, digits++) {
        const c = statBuf[i]!;
        if (c < 48 || c > 57) break;
        v = v * 10 + (c - 48);
      }
      if (digits === 0) return null;
      if (field === 4) ppid = v;
      else startTicks = v;
    }
  }
  if (!(ppid >= 0)) return null;
  // A line cut before starttime (never seen): readStat gives NaN there too.
  return { state, ppid, startTicks };
}

let procDirRoot = '';
let procDirPath = '';
/** path.join(root, 'proc'), remembered for the last root. */
function procDir(root: string): string {
  if (root !== procDirRoot || procDirPath === '') {
    procDirRoot = root;
    procDirPath = path.join(root, 'proc');
  }
  return procDirPath;
}

/**
 * argv from /proc/PID/cmdline, or [] when it cannot be read. Kernel threads and zombies have none,
 * and a read can come back empty while the process holds its mmap lock (seen here during large
 * allocations), so an empty answer means "unknown", never "changed".
 */
export function readCmdlineRaw(pid: number, root = '/'): string[] {
  try {
    const raw = fs.readFileSync(path.join(root, 'proc', String(pid), 'cmdline'), 'utf8');
    const parts = raw.split('\0');
    if (parts.length && parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return [];
  }
}

/** argv, or `[comm]` (the kernel's 15-character name) when the command line is unreadable. */
export function readCmdline(pid: number, root = '/'): string[] {
  const argv = readCmdlineRaw(pid, root);
  if (argv.length) return argv;
  const st = readStat(pid, root);
  return st ? [`[${st.comm}]`] : [];
}

/** Owner uid of a process (from the Uid line of status), or null when it is gone. */
export function readUid(pid: number, root = '/'): number | null {
  try {
    const text = fs.readFileSync(path.join(root, 'proc', String(pid), 'status'), 'latin1');
    const m = /^Uid:\s+(\d+)/m.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Numeric entries of /proc: every pid (threads are not listed at top level). */
export function listPids(root = '/'): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync(path.join(root, 'proc'))) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) out.push(Number(name));
  }
  return out;
}

export interface StatusReading {
  rssKiB: number;
  anonKiB: number;
  fileKiB: number;
  shmemKiB: number;
  hwmKiB: number;
}

/** Value in kB of a `Key:\t   123 kB` line of /proc/PID/status; 0 when absent (zombies, kernel threads). */
function statusField(text: string, key: string): number {
  const i = text.indexOf(key);
  if (i < 0) return 0;
  let j = i + key.length;
  while (text.charCodeAt(j) === 32 || text.charCodeAt(j) === 9) j++;
  let v = 0;
  for (let c = text.charCodeAt(j); c >= 48 && c <= 57; c = text.charCodeAt(++j)) v = v * 10 + (c - 48);
  return v;
}

export function parseStatus(text: string): StatusReading {
  return {
    rssKiB: statusField(text, '\nVmRSS:'),
    anonKiB: statusField(text, '\nRssAnon:'),
    fileKiB: statusField(text, '\nRssFile:'),
    shmemKiB: statusField(text, '\nRssShmem:'),
    hwmKiB: statusField(text, '\nVmHWM:'),
  };
}

const KEY_RSS = Buffer.from('\nVmRSS:', 'latin1');
const KEY_ANON = Buffer.from('\nRssAnon:', 'latin1');
const KEY_FILE = Buffer.from('\nRssFile:', 'latin1');
const KEY_SHMEM = Buffer.from('\nRssShmem:', 'latin1');
const KEY_HWM = Buffer.from('\nVmHWM:', 'latin1');
const KEY_STATE = Buffer.from('\nState:\t', 'latin1');

/** Where key starts in buf[0, n), whole; -1 when it is not there (bytes past n are stale). */
function keyAt(buf: Buffer, n: number, key: Buffer): number {
  const i = buf.indexOf(key);
  return i >= 0 && i + key.length <= n ? i : -1;
}

/** statusField on the bytes buf[0, n) of a status file, without making a string of them. */
function statusFieldBytes(buf: Buffer, n: number, key: Buffer): number {
  const i = keyAt(buf, n, key);
  if (i < 0) return 0;
  let j = i + key.length;
  while (j < n && (buf[j] === 32 || buf[j] === 9)) j++;
  let v = 0;
  for (; j < n; j++) {
    const c = buf[j]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return v;
}

/**
 * parseStatus of the bytes buf[0, n) (what the sampler reads 5 times a sample for a 5-process
 * tree: a 1.4 KB string each was most of its garbage); null for a zombie or a dead process.
 */
export function parseStatusBytes(buf: Buffer, n: number): StatusReading | null {
  // The searches stop at n: a key that is absent (a kernel thread's Vm lines) or the State line
  // searched for Z/X was looked for through the whole 8 KiB buffer of stale bytes, twice a read.
  const b = n < buf.length ? buf.subarray(0, n) : buf;
  // One State line: a zombie (Z) or a dead process (X) is not read.
  const st = keyAt(b, n, KEY_STATE);
  if (st >= 0 && st + KEY_STATE.length < n && (b[st + KEY_STATE.length] === 0x5a || b[st + KEY_STATE.length] === 0x58)) return null;
  return {
    rssKiB: statusFieldBytes(b, n, KEY_RSS),
    anonKiB: statusFieldBytes(b, n, KEY_ANON),
    fileKiB: statusFieldBytes(b, n, KEY_FILE),
    shmemKiB: statusFieldBytes(b, n, KEY_SHMEM),
    hwmKiB: statusFieldBytes(b, n, KEY_HWM),
  };
}

/** Thrown by the fd readers when the process has exited (ESRCH, or nothing to read). */
export class ProcessGoneError extends Error {
  override name = 'ProcessGoneError';
}

// One buffer for every status read: a status file is ~1.4 KB (Linux 6.x); 8 KiB leaves room.
const statusBuf = Buffer.allocUnsafe(8192);

/**
 * Keeps /proc/PID/status open and re-reads it from offset 0. An fd opened on a process keeps
 * referring to that process: after it exits, reads fail with ESRCH even if the pid is reused,
 * so exits are never confused with a new process of the same pid.
 */
export class ProcessStatusReader {
  private fd: number;
  /** The status file's first line ("Name:\t<comm>\n") at the last read. */
  private name: Buffer | null = null;
  /**
   * True when the process's name changed since the read before: it exec'd (a launcher such as
   * pyenv's shim became the interpreter, however late) or renamed itself; its argv is worth
   * reading again. Never true on the first read.
   */
  renamed = false;

  constructor(readonly pid: number, root = '/') {
    try {
      this.fd = fs.openSync(path.join(root, 'proc', String(pid), 'status'), 'r');
    } catch {
      throw new ProcessGoneError(`process ${pid} is gone`);
    }
  }

  read(): StatusReading {
    let n: number;
    try {
      n = fs.readSync(this.fd, statusBuf, 0, statusBuf.length, 0);
    } catch {
      throw new ProcessGoneError(`process ${this.pid} is gone`);
    }
    if (n === 0) throw new ProcessGoneError(`process ${this.pid} is gone`);
    let nl = statusBuf.indexOf(10);
    if (nl < 0 || nl >= n) nl = 0;
    const prev = this.name;
    this.renamed = prev !== null && (prev.length !== nl || statusBuf.compare(prev, 0, nl, 0, nl) !== 0);
    if (prev === null || this.renamed) this.name = Buffer.from(statusBuf.subarray(0, nl));
    const reading = parseStatusBytes(statusBuf, n);
    // A zombie (exited, not yet reaped) has no memory left; report it as gone.
    if (!reading) throw new ProcessGoneError(`process ${this.pid} has exited`);
    return reading;
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

export interface SmapsRollup {
  rssKiB: number;
  pssKiB: number;
  /** USS: Private_Clean + Private_Dirty. */
  ussKiB: number;
  swapKiB: number;
}

/**
 * /proc/PID/smaps_rollup (Linux ≥ 4.14). Walks all page tables and takes the target's mmap lock:
 * ~53 µs at 13 MB RSS, ~3.9 ms at 1 GB, ~13 ms at 4 GB here. Read it at an adaptive rate.
 * Returns null when the process is gone or the file is not readable (not ours, old kernel).
 */
export function readSmapsRollup(pid: number, root = '/'): SmapsRollup | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(root, 'proc', String(pid), 'smaps_rollup'), 'latin1');
  } catch {
    return null;
  }
  if (!text) return null;
  const f = (k: string) => statusField(text, `\n${k}:`);
  return {
    rssKiB: f('Rss'),
    pssKiB: f('Pss'),
    ussKiB: f('Private_Clean') + f('Private_Dirty'),
    swapKiB: f('Swap'),
  };
}

/**
 * True when this process is in the foreground process group of a controlling terminal (fields
 * pgrp, tty_nr and tpgid of /proc/self/stat). Then Ctrl-C and a hang-up reach every process of
 * that group from the terminal itself.
 */
export function inTerminalForeground(root = '/'): boolean {
  try {
    const text = fs.readFileSync(path.join(root, 'proc', 'self', 'stat'), 'latin1');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state): pgrp = field 5, tty_nr = field 7, tpgid = field 8.
    const pgrp = Number(rest[2]);
    const ttyNr = Number(rest[4]);
    const tpgid = Number(rest[5]);
    return ttyNr !== 0 && tpgid > 0 && tpgid === pgrp;
  } catch {
    return false;
  }
}
