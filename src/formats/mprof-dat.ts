/**
 * memory_profiler's `.dat` files (`mprof run`), read into the model and written back.
 *
 * What mprof 0.61 writes (mprof.py `run_action`, memory_profiler.py `memory_usage`, `_get_memory`,
 * `_get_child_memory`, `TimeStamper.show_results`; checked against pythonprofilers/memory_profiler
 * and the Debian python3-memory-profiler 0.61.0 sources, and against files it made:
 * fixtures/mprof/0.61/):
 *
 *   CMDLINE <argv joined by spaces; arguments holding a space or tab in single quotes, unescaped>
 *   MEM <MiB, %.6f> <Unix seconds, %.4f>        one per sample, MiB = bytes / 2^20
 *   CHLD <pid> <MiB> <Unix seconds>             only with --multiprocess (-M): one per live
 *                                               descendant (recursive) after each MEM line, RSS
 *                                               always (whatever --backend says), with its own
 *                                               time.time() about 1 ms after the MEM line
 *   FUNC <name> <MiB> <start s> <MiB> <end s> [<level>]   one per call of a @profile function or
 *                                               `profile.timestamp("x")` block (named ".x"), written
 *                                               by the profiled interpreter at exit: these lines can
 *                                               come before CMDLINE; 0.61 writes the level (%d)
 *
 * What MEM holds depends on flags the file does not record:
 *   no flag        the process mprof started, alone;
 *   -C             that process plus all its descendants, summed;
 *   -M             that process alone, the descendants in CHLD lines;
 *   -C -M          the sum, and the descendants in CHLD lines as well.
 * MEM is RSS (psutil memory_info()[0]; `ps v` under --backend posix, which writes -1 when ps has no
 * line for the process) unless --backend psutil_pss/psutil_uss made it PSS/USS (children included
 * the same way under -C). CHLD and FUNC lines are RSS whatever the backend. Nothing in the file
 * says which flags or backend made it: inferMemIncludesChildren() and inferMetric() work them out
 * from how MEM relates to the CHLD and FUNC lines, and say so in a warning. A MEM-only file
 * without FUNC lines (no flag or -C) cannot be told apart: the root track then carries MEM, which
 * under -C includes the children, read as RSS. tracemalloc, and posix with -C, fail in mprof at
 * the first sample: such files have no MEM line.
 * The first MEM is often about 0.2 MiB: mprof samples right after fork, before the exec; kept, as
 * it is what mprof measured.
 *
 * FUNC lines come only from a .py target run without -M: mprof then starts
 * `python -m memory_profiler --timestamp -o <file> [--include-children] script.py`, whose
 * TimeStamper appends them to the same file when the script ends; -M turns that off.
 *
 * When a descendant vanishes while psutil walks the tree, `_get_child_memory` yields one
 * `CHLD 0 0.000000 <ts>` and stops: the rest of that sample's descendants are missing (and under
 * -C, so is their memory in MEM).
 *
 * Files we write carry one extra line, `MEMHUNT mem=tree root=<pid> metric=<m>`, which mprof's own
 * reader skips (read_mprofile_file ignores unknown keywords) and which lets us read our own files
 * back without guessing the mode.
 */
import * as fs from 'node:fs';
import { CorruptRecordingError } from '../errors';
import { NO_PID, rssOnlyTrack, type MemoryMetric, type MemoryRecording, type ProcessTrack, type RecordingEvent } from '../model/recording';
import { metricTotal, processMetricSeries } from '../model/metric';
import { ModelError, SeriesBuilder, emptySeries, valueAt, type Series } from '../model/series';
import { samplesPerRow } from './rows';
import { POW10, decimalEnd, readDecimal } from '../recording/decimal';

const BYTES_PER_MIB = 2 ** 20;

/**
 * Pid given to the process mprof started: mprof never writes its pid. 0 is never a real process
 * of a tree (it is the kernel's "no process"), so it cannot collide with a CHLD pid.
 */
export const MPROF_ROOT_PID = NO_PID;

const KEYWORD_LINE = /^(?:CMDLINE|MEM|CHLD|FUNC|MEMHUNT) /;

/** True when the start of a file looks like mprof's: its first line starts with one of its keywords. */
export function isMprofDat(firstBytes: string): boolean {
  const firstLine = firstBytes.replace(/^(?:[ \t]*\r?\n)+/, '');
  return KEYWORD_LINE.test(firstLine);
}

/** mprof's `get_cmd_line`: arguments containing a space or tab are wrapped in single quotes, nothing escaped. */
export function joinMprofCmdline(argv: readonly string[]): string {
  return argv.map((a) => (/[ \t]/.test(a) ? `'${a}'` : a)).join(' ');
}

/**
 * Inverse of joinMprofCmdline. A token is taken as quoted only when mprof would have quoted it
 * (its content holds a blank) and its closing quote ends the token; otherwise quotes are literal.
 * Limits: mprof escapes nothing, so an argument holding both a blank and "' " cannot be recovered,
 * and empty arguments are lost (mprof writes them as nothing).
 */
export function splitMprofCmdline(line: string): string[] {
  const argv: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    if (line[i] === "'") {
      let close = line.indexOf("'", i + 1);
      let taken = false;
      while (close !== -1) {
        const endsToken = close + 1 === line.length || line[close + 1] === ' ';
        const content = line.slice(i + 1, close);
        if (endsToken && /[ \t]/.test(content)) {
          argv.push(content);
          i = close + 1;
          taken = true;
          break;
        }
        close = line.indexOf("'", close + 1);
      }
      if (taken) continue;
    }
    let end = line.indexOf(' ', i);
    if (end === -1) end = line.length;
    argv.push(line.slice(i, end));
    i = end;
  }
  return argv;
}

/**
 * A Unix time as mprof writes it ("1795791456.2073"), kept as whole seconds and milliseconds
 * within the second. One double holding 1.8e9 s resolves only 0.24 µs, and the difference of two
 * is off by up to 1e-4 ms (a 100 ms step read as 100.000095 ms); from the parts, times since the
 * first sample come out as written.
 */
interface Stamp {
  wholeS: number;
  fracMs: number;
}

interface MemLine {
  mib: number;
  epochS: Stamp;
}

interface ChldLine {
  pid: number;
  mib: number;
  epochS: Stamp;
}

interface FuncLine {
  name: string;
  startMib: number;
  startS: Stamp;
  endMib: number;
  endS: Stamp;
  level: number;
}

// Python's "%.6f"/"%.4f" and "{:.6f}" write plain decimals; nothing else is accepted, so that
// "", "0x10" or "Infinity" (which Number() would take) are reported instead of read.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

class LineError extends Error {}

function decimal(text: string | undefined, what: string): number {
  if (text === undefined || !DECIMAL.test(text)) throw new LineError(`${what} "${text ?? ''}" is not a number`);
  return Number(text);
}

function unixTime(text: string | undefined, what: string): Stamp {
  const m = text === undefined ? null : /^(\d+)\.(\d*)$/.exec(text);
  if (!m) {
    // Exponents, signs, no decimal point: not what mprof writes, read at double precision.
    const s = decimal(text, what);
    const wholeS = Math.floor(s);
    return { wholeS, fracMs: (s - wholeS) * 1000 };
  }
  const frac = m[2]!.padEnd(3, '0');
  return { wholeS: Number(m[1]), fracMs: Number(`${frac.slice(0, 3)}.${frac.slice(3)}`) };
}

function parseMem(rest: string): MemLine {
  const f = rest.trim().split(/[ \t]+/);
  if (f.length < 2) throw new LineError('MEM needs "<MiB> <Unix seconds>"');
  return { mib: decimal(f[0], 'MiB'), epochS: unixTime(f[1], 'time') };
}

function parseChld(rest: string): ChldLine {
  const f = rest.trim().split(/[ \t]+/);
  if (f.length < 3) throw new LineError('CHLD needs "<pid> <MiB> <Unix seconds>"');
  if (!INTEGER.test(f[0]!)) throw new LineError(`pid "${f[0]}" is not an integer`);
  return { pid: Number(f[0]), mib: decimal(f[1], 'MiB'), epochS: unixTime(f[2], 'time') };
}

/**
 * FUNC names may hold spaces (`profile.timestamp("load data")` gives ".load data"), so the numbers
 * are taken from the right. 0.61 ends with the level written by "%d"; older files stop at the end
 * time, written by "%.4f" with a decimal point, which is how the two forms are told apart.
 */
function parseFunc(rest: string): FuncLine {
  const f = rest.split(' ');
  while (f.length > 0 && f[f.length - 1] === '') f.pop();
  let level = 0;
  if (f.length >= 6 && INTEGER.test(f[f.length - 1]!)) level = Number(f.pop());
  if (f.length < 5) throw new LineError('FUNC needs "<name> <MiB> <start s> <MiB> <end s> [<level>]"');
  const n = f.length;
  return {
    name: f.slice(0, n - 4).join(' '),
    startMib: decimal(f[n - 4], 'start MiB'),
    startS: unixTime(f[n - 3], 'start time'),
    endMib: decimal(f[n - 2], 'end MiB'),
    endS: unixTime(f[n - 1], 'end time'),
    level,
  };
}

interface MemhuntLine {
  memIncludesChildren: boolean | null;
  rootPid: number | null;
  metric: MemoryMetric | null;
}

function parseMemhunt(rest: string): MemhuntLine {
  const out: MemhuntLine = { memIncludesChildren: null, rootPid: null, metric: null };
  for (const pair of rest.trim().split(/[ \t]+/)) {
    const [key, value = ''] = pair.split('=', 2);
    if (key === 'mem' && (value === 'tree' || value === 'root')) out.memIncludesChildren = value === 'tree';
    else if (key === 'root' && INTEGER.test(value)) out.rootPid = Number(value);
    else if (key === 'metric' && (value === 'rss' || value === 'pss' || value === 'uss')) out.metric = value;
    // Unknown keys: written by a later memhunt; ignored like mprof ignores unknown lines.
  }
  return out;
}

// ---------------------------------------------------------------- reading
//
// The reader streams the file and parses MEM and CHLD lines (nearly all of a file) from its bytes:
// no string per line, no split, no regular expression. Reading a 1 M-sample file as one string and
// splitting it took ~490 MiB and most of `memhunt plot`'s time (bench/mprof.mjs). Anything that is
// not exactly the shape mprof writes ("MEM %.6f %.4f\n", "CHLD %d %.6f %.4f\n") goes to the string
// parser below, so both paths accept and refuse the same lines.

/** Where the last readStampAt stopped (one module variable: no object per number). */
let numEnd = 0;
/** The whole seconds of the last readStampAt. */
let stampWholeS = 0;

/**
 * A Unix time "1795791456.2073" at buf[i]: the whole seconds in stampWholeS, the milliseconds
 * within the second returned (see Stamp for why they are kept apart). NaN when not of that shape.
 */
function readStampAt(buf: Uint8Array, i: number): number {
  let whole = 0;
  let digits = 0;
  let c = buf[i]!;
  while (c >= 0x30 && c <= 0x39) {
    whole = whole * 10 + (c - 0x30);
    digits++;
    c = buf[++i]!;
  }
  if (digits === 0 || digits > 15 || c !== 0x2e) return NaN;
  let f = 0;
  let scale = 0;
  c = buf[++i]!;
  while (c >= 0x30 && c <= 0x39) {
    f = f * 10 + (c - 0x30);
    scale++;
    c = buf[++i]!;
  }
  if (scale > 15) return NaN;
  numEnd = i;
  stampWholeS = whole;
  return scale >= 3 ? f / POW10[scale - 3]! : f * POW10[3 - scale]!;
}

/** One descendant's CHLD lines as they are read. */
interface ChildAcc {
  pid: number;
  /** Times (ms since the base second) and MiB, or null when only the peak is kept. */
  tMs: Float64Array | null;
  mib: Float64Array | null;
  n: number;
  peakMib: number;
  /** Index of the MEM line its last CHLD line followed (-1: before any). */
  lastSample: number;
  lastMib: number;
}

/**
 * What the scan of a file found, and the facts the readers decide from: how MEM moved against the
 * CHLD lines (inferMode) and against the FUNC lines (inferMetric).
 */
class DatScan {
  // --- samples (only when keepSeries)
  memT: Float64Array = new Float64Array(0);
  memMib: Float64Array = new Float64Array(0);
  childSumMib: Float64Array = new Float64Array(0);
  nMem = 0;
  readonly children = new Map<number, ChildAcc>();
  readonly funcs: FuncLine[] = [];
  readonly cmdlines: string[] = [];
  marker: MemhuntLine | null = null;
  vanishedReads = 0;
  chldBeforeMem = 0;
  /** MEM lines of -1 (the posix backend when `ps` cannot read the process), skipped. */
  unreadable = 0;
  readonly unknown = new Map<string, number>();
  truncatedLine: string | null = null;
  /** Backward steps of MEM times, and whether any series needs sorting. */
  backSteps = 0;
  largestBackMs = 0;
  unsorted = false;

  // --- the time base: whole seconds of the first stamp, and the earliest stamp since it
  baseS = NaN;
  minSinceBaseMs = Infinity;

  // --- peaks, whatever is kept
  memPeakMib = -Infinity;
  memPeakAtMs = NaN;
  /** max over samples of MEM + the CHLD lines after it: the tree when MEM is the parent alone (-M). */
  sumPeakMib = -Infinity;
  sumPeakAtMs = NaN;

  // --- the facts for inferMode / inferMetric
  /** Over steps where the same descendants were listed in both samples: Σ|ΔMEM − ΔCHLD|, Σ|ΔMEM|, Σ|ΔCHLD|. */
  stepsIfIncluded = 0;
  stepsIfAlone = 0;
  childMovement = 0;
  samplesWithChildren = 0;
  /** Samples where MEM is more than 1 MiB below the CHLD sum. */
  memBelowChildren = 0;
  /** Smallest (ΔMEM − Δ of the others) / CHLD of a descendant that appeared alone (see inferMetric). */
  minAppearRatio = Infinity;

  // --- the sample being read
  /** Children by the position of their CHLD line in a sample, and that position in this one. */
  private readonly slots: ChildAcc[] = [];
  private curLine = 0;
  private curMib = NaN;
  private curT = NaN;
  private curSum = 0;
  private curCount = 0;
  private curNew = 0;
  private curNewMib = 0;
  private curContinuing = 0;
  private curContDelta = 0;
  private curVanished = false;
  private prevMib = NaN;
  private prevCount = 0;
  private prevVanished = false;
  /** False while CHLD lines follow a skipped MEM line or none. */
  private inSample = false;

  constructor(readonly keepSeries: boolean, expectedSamples: number) {
    if (keepSeries) {
      const cap = Math.max(16, expectedSamples);
      this.memT = new Float64Array(cap);
      this.memMib = new Float64Array(cap);
      this.childSumMib = new Float64Array(cap);
    }
  }

  /** Room for `cap` samples (a guess from the first chunk: doubling up to it would keep up to twice the memory). */
  reserve(cap: number): void {
    if (!this.keepSeries || cap <= this.memT.length) return;
    this.memT = grown(this.memT, cap);
    this.memMib = grown(this.memMib, cap);
    this.childSumMib = grown(this.childSumMib, cap);
  }

  /** ms since the base second of a stamp; the first stamp sets the base. */
  sinceBase(wholeS: number, fracMs: number): number {
    if (this.baseS !== this.baseS) this.baseS = wholeS;
    const ms = (wholeS - this.baseS) * 1000 + fracMs;
    if (ms < this.minSinceBaseMs) this.minSinceBaseMs = ms;
    return ms;
  }

  mem(mib: number, tMs: number): void {
    this.endSample();
    if (mib === -1) {
      // memory_profiler's posix_tool returns -1 when `ps` has no line for the process.
      this.unreadable++;
      this.inSample = false;
      return;
    }
    if (mib < 0) throw new LineError(`MiB ${mib} is not a size`);
    if (this.nMem > 0 && tMs < this.curT) {
      this.backSteps++;
      this.largestBackMs = Math.max(this.largestBackMs, this.curT - tMs);
      this.unsorted = true;
    }
    const i = this.nMem++;
    if (this.keepSeries) {
      if (i === this.memT.length) {
        const cap = this.memT.length * 2;
        this.memT = grown(this.memT, cap);
        this.memMib = grown(this.memMib, cap);
        this.childSumMib = grown(this.childSumMib, cap);
      }
      this.memT[i] = tMs;
      this.memMib[i] = mib;
    }
    if (mib > this.memPeakMib) {
      this.memPeakMib = mib;
      this.memPeakAtMs = tMs;
    }
    this.curMib = mib;
    this.curT = tMs;
    this.curSum = 0;
    this.curCount = 0;
    this.curNew = 0;
    this.curNewMib = 0;
    this.curContinuing = 0;
    this.curContDelta = 0;
    this.curVanished = false;
    this.curLine = 0;
    this.inSample = true;
  }

  chld(pid: number, mib: number, tMs: number): void {
    if (mib < 0) throw new LineError(`MiB ${mib} is not a size`);
    if (pid === 0) {
      this.vanishedReads++;
      this.curVanished = true;
      return;
    }
    if (!this.inSample) this.chldBeforeMem++;
    const sample = this.inSample ? this.nMem - 1 : -1;
    // The k-th CHLD line of a sample is nearly always the same child as in the sample before
    // (psutil lists them in the same order): that saves a Map lookup per line.
    const k = this.curLine++;
    let c: ChildAcc | undefined = this.slots[k];
    if (c === undefined || c.pid !== pid) {
      c = this.children.get(pid);
      if (c === undefined) {
        c = { pid, tMs: null, mib: null, n: 0, peakMib: -Infinity, lastSample: -2, lastMib: 0 } as ChildAcc;
        if (this.keepSeries) {
          c.tMs = new Float64Array(64);
          c.mib = new Float64Array(64);
        }
        this.children.set(pid, c);
      }
      this.slots[k] = c;
    }
    if (c.tMs !== null) {
      if (c.n === c.tMs.length) {
        // x4 up to what the samples left can hold (one line per sample): few copies, and no
        // doubling far past the end (fresh zeroed pages were a fifth of reading 3 children).
        const left = this.memT.length - this.nMem + 64;
        const cap = Math.max(c.n + 64, Math.min(c.n * 4, Math.max(left + c.n, c.n * 2)));
        c.tMs = grown(c.tMs, cap);
        c.mib = grown(c.mib!, cap);
      }
      if (c.n > 0 && tMs < c.tMs[c.n - 1]!) this.unsorted = true;
      c.tMs[c.n] = tMs;
      c.mib![c.n] = mib;
    }
    c.n++;
    if (mib > c.peakMib) c.peakMib = mib;
    if (sample >= 0) {
      if (c.lastSample === sample - 1 && sample > 0) {
        this.curContinuing++;
        this.curContDelta += mib - c.lastMib;
      } else if (c.lastSample !== sample) {
        this.curNew++;
        this.curNewMib += mib;
      }
      this.curSum += mib;
      this.curCount++;
    }
    c.lastSample = sample;
    c.lastMib = mib;
  }

  /** Closes the sample being read: its tree sum, and its step from the one before. */
  endSample(): void {
    if (!this.inSample) return;
    this.inSample = false;
    const i = this.nMem - 1;
    if (this.keepSeries) this.childSumMib[i] = this.curSum;
    const sum = this.curMib + this.curSum;
    if (sum > this.sumPeakMib) {
      this.sumPeakMib = sum;
      this.sumPeakAtMs = this.curT;
    }
    if (this.curCount > 0) {
      this.samplesWithChildren++;
      if (this.curMib - this.curSum < -1) this.memBelowChildren++;
    }
    if (i > 0 && this.prevMib === this.prevMib && !this.curVanished && !this.prevVanished && this.curContinuing === this.prevCount) {
      const dMem = this.curMib - this.prevMib;
      if (this.curNew === 0 && this.prevCount > 0) {
        this.stepsIfIncluded += Math.abs(dMem - this.curContDelta);
        this.stepsIfAlone += Math.abs(dMem);
        this.childMovement += Math.abs(this.curContDelta);
      } else if (this.curNew === 1 && this.curNewMib > 1) {
        this.minAppearRatio = Math.min(this.minAppearRatio, (dMem - this.curContDelta) / this.curNewMib);
      }
    }
    this.prevMib = this.curMib;
    this.prevCount = this.curCount;
    this.prevVanished = this.curVanished;
  }
}

function grown(a: Float64Array, cap: number): Float64Array {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

/**
 * Feeds the complete lines of buf[from, to) to the scan; returns where the first incomplete line
 * starts (to when none). `lineNo` counts lines before `from`, for messages.
 */
function scanLines(scan: DatScan, buf: Buffer, from: number, to: number, lineNo: { n: number }): number {
  // Whole lines only, up to the last newline: the byte path then never needs to look for a line's
  // end first (an indexOf per line was a third of the scan) and never reads past the chunk.
  const last = buf.lastIndexOf(0x0a, to - 1);
  if (last < from) return from;
  let i = from;
  let lines = lineNo.n;
  while (i <= last) {
    lines++;
    let end = -1;
    // MEM <mib> <stamp>
    if (buf[i] === 0x4d && buf[i + 1] === 0x45 && buf[i + 2] === 0x4d && buf[i + 3] === 0x20) {
      const mib = readDecimal(buf, i + 4);
      if (mib === mib && buf[decimalEnd.at] === 0x20) {
        const fracMs = readStampAt(buf, decimalEnd.at + 1);
        if (fracMs === fracMs) {
          end = lineEndAt(buf, numEnd);
          if (end >= 0) scan.mem(mib, scan.sinceBase(stampWholeS, fracMs));
        }
      }
    } else if (buf[i] === 0x43 && buf[i + 1] === 0x48 && buf[i + 2] === 0x4c && buf[i + 3] === 0x44 && buf[i + 4] === 0x20) {
      // CHLD <pid> <mib> <stamp>
      let j = i + 5;
      let pid = 0;
      let c = buf[j]!;
      while (c >= 0x30 && c <= 0x39) {
        pid = pid * 10 + (c - 0x30);
        c = buf[++j]!;
      }
      if (c === 0x20 && j > i + 5 && j - i - 5 < 10) {
        const mib = readDecimal(buf, j + 1);
        if (mib === mib && buf[decimalEnd.at] === 0x20) {
          const fracMs = readStampAt(buf, decimalEnd.at + 1);
          if (fracMs === fracMs) {
            end = lineEndAt(buf, numEnd);
            if (end >= 0) scan.chld(pid, mib, scan.sinceBase(stampWholeS, fracMs));
          }
        }
      }
    }
    if (end < 0) {
      end = buf.indexOf(0x0a, i);
      lineNo.n = lines;
      scanTextLine(scan, buf.toString('utf8', i, end), lines);
    }
    i = end + 1;
  }
  lineNo.n = lines;
  return i;
}

/** The index of the "\n" that ends the line at buf[i] ("\n" or "\r\n" there), else -1. */
function lineEndAt(buf: Uint8Array, i: number): number {
  if (buf[i] === 0x0a) return i;
  if (buf[i] === 0x0d && buf[i + 1] === 0x0a) return i + 1;
  return -1;
}

/** Any other line, or one the byte path did not take: parsed as text; LineError becomes CorruptRecordingError. */
function scanTextLine(scan: DatScan, raw: string, lineNo: number): void {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line.trim() === '') return;
  const space = line.indexOf(' ');
  const keyword = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? '' : line.slice(space + 1);
  try {
    switch (keyword) {
      case 'CMDLINE':
        scan.cmdlines.push(rest);
        break;
      case 'MEM': {
        const m = parseMem(rest);
        scan.mem(m.mib, scan.sinceBase(m.epochS.wholeS, m.epochS.fracMs));
        break;
      }
      case 'CHLD': {
        const c = parseChld(rest);
        scan.chld(c.pid, c.mib, scan.sinceBase(c.epochS.wholeS, c.epochS.fracMs));
        break;
      }
      case 'FUNC':
        scan.funcs.push(parseFunc(rest));
        break;
      case 'MEMHUNT':
        scan.marker = parseMemhunt(rest);
        break;
      default:
        scan.unknown.set(keyword, (scan.unknown.get(keyword) ?? 0) + 1);
    }
  } catch (e) {
    if (!(e instanceof LineError)) throw e;
    throw new CorruptRecordingError(`mprof .dat line ${lineNo}: ${e.message}: "${quote(line)}"`);
  }
}

/** Scans bytes already in memory (the whole file). */
function scanBuffer(scan: DatScan, buf: Buffer): void {
  const lineNo = { n: 0 };
  const at = scanLines(scan, buf, 0, buf.length, lineNo);
  finishScan(scan, buf.toString('utf8', at));
}

/**
 * Scans a file in chunks of 1 MiB: memory stays at the chunk plus the columns, whatever the
 * file's size (a 1 M-sample file is ~30 MB of text, 3 children ~120 MB).
 */
function scanFile(scan: DatScan, filePath: string): void {
  const fd = fs.openSync(filePath, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    let buf = Buffer.allocUnsafe(1024 * 1024);
    let filled = 0;
    let consumed = 0;
    const lineNo = { n: 0 };
    for (;;) {
      if (filled === buf.length) {
        // One line longer than the buffer: make room for it.
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = fs.readSync(fd, buf, filled, buf.length - filled, null);
      if (n === 0) break;
      filled += n;
      const at = scanLines(scan, buf, 0, filled, lineNo);
      // After the first chunk, room for the whole file at that chunk's samples per byte (+3%).
      if (consumed === 0 && at > 0 && size > at) scan.reserve(Math.ceil((scan.nMem * size * 1.03) / at) + 16);
      consumed += at;
      buf.copy(buf, 0, at, filled);
      filled -= at;
    }
    finishScan(scan, buf.toString('utf8', 0, filled));
  } finally {
    fs.closeSync(fd);
  }
}

function finishScan(scan: DatScan, rest: string): void {
  // mprof writes whole lines ending in "\n". A last line without one was cut while being written,
  // and may still parse ("MEM 41.75" cut from "MEM 41.750000 1795791458.2162"): dropped, not trusted.
  if (rest.length > 0) scan.truncatedLine = rest;
  scan.endSample();
}

/** What MEM holds, decided from the scan (or read from our own MEMHUNT line). */
interface DatMode {
  memIncludesChildren: boolean;
  metric: MemoryMetric;
  /** Sentences for the warnings: how the mode and the metric were decided. */
  reasons: string[];
}

/**
 * Whether MEM includes the descendants (-C -M) or is the started process alone (-M), for a file
 * with CHLD lines. Exported for tests.
 *
 * Decided on the steps between samples that list the same descendants (no child started, exited,
 * or vanished mid-read): under -C each descendant's growth is in MEM as well, in whatever metric
 * --backend chose (a page a child allocates is private: it adds the same to its RSS, PSS and USS),
 * so MEM − CHLD moves less than MEM; under -M MEM is the parent's own and moves less than MEM −
 * CHLD. Steps where the set of children changes are left out: there, RSS, PSS and USS differ by
 * the pages a forked child shares with its parent, and a child can appear between mprof's two
 * walks of the tree (MEM's and the CHLD lines'), about 1 ms apart.
 * When the children never moved on such steps, nothing tells the modes apart: -M, what MEM means
 * without --include-children, unless MEM is below the CHLD sum... which says nothing either under
 * PSS/USS; the reason says so.
 * Limit: a parent that allocates exactly when and as much as its children fools it.
 */
export function inferMemIncludesChildren(facts: {
  stepsIfIncluded: number;
  stepsIfAlone: number;
  childMovement: number;
}): { includes: boolean; reason: string } {
  if (facts.childMovement < 1) {
    return {
      includes: false,
      reason: 'the CHLD lines never moved while the same children ran, so MEM was read as the parent alone (--multiprocess without --include-children)',
    };
  }
  if (facts.stepsIfIncluded < facts.stepsIfAlone) {
    return {
      includes: true,
      reason: 'MEM moves with the CHLD lines, so it includes the children (--include-children --multiprocess)',
    };
  }
  return {
    includes: false,
    reason: 'MEM does not move with the CHLD lines, so it is the parent alone (--multiprocess without --include-children)',
  };
}

/** A FUNC value (RSS, see below) against the MEM lines around it: the largest MEM within one sampling period. */
function memNear(scan: DatScan, tMs: number, periodMs: number): number {
  const t = scan.memT;
  let lo = 0;
  let hi = scan.nMem;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! < tMs - periodMs) lo = mid + 1;
    else hi = mid;
  }
  let best = NaN;
  for (let i = lo; i < scan.nMem && t[i]! <= tMs + periodMs; i++) if (!(scan.memMib[i]! <= best)) best = scan.memMib[i]!;
  return best;
}

/**
 * Which metric MEM is in: RSS (psutil, mprof's default, and posix), PSS (--backend psutil_pss) or
 * USS (psutil_uss). The file does not say; two things in it are RSS whatever the backend, and MEM
 * is compared with them:
 * 1. CHLD lines (-M): mprof lists the children with `_get_child_memory(pid)`, which reads
 *    memory_info()[0], RSS. Under -C -M, MEM's RSS would be the parent's RSS plus the CHLD lines,
 *    never more than ~1 MiB below their sum (a child caught between the two walks). MEM below the
 *    CHLD sum at a quarter of the samples with children or more is therefore PSS or USS. The two
 *    differ when a child is forked: PSS splits the pages parent and child now share, so the tree's
 *    PSS hardly moves; USS counts no shared page, so the tree's USS drops by about what the child
 *    shares. A drop of more than half the new child's RSS is USS.
 * 2. FUNC lines (a .py program run without -M): memory_profiler's TimeStamper writes them with its
 *    default backend, psutil (mprof does not pass --backend on), so they are RSS of the started
 *    process (of the tree, with -C) at that moment, and the MEM lines around them are RSS of at
 *    least as much: in the fixtures every MEM within a sampling period was ≥ the FUNC value
 *    (ratios 1.0–3.4), where PSS and USS files showed 0.04–0.57 at some start or end. A quarter
 *    of the FUNC values or more (at least one) more than 2 MiB above every MEM within a sampling
 *    period, by a third or more, says MEM is PSS or USS; which one, nothing says: read as PSS.
 * Without CHLD or FUNC lines (a plain or -C run of a program without @profile) nothing tells:
 * RSS, mprof's default. -M without -C: MEM is the parent alone and its metric is not checked.
 */
function inferMetric(scan: DatScan, includes: boolean, periodMs: number): { metric: MemoryMetric; reason: string | null } {
  if (includes && scan.samplesWithChildren > 0 && scan.memBelowChildren >= 0.25 * scan.samplesWithChildren) {
    const uss = scan.minAppearRatio < -0.5;
    return {
      metric: uss ? 'uss' : 'pss',
      reason:
        `MEM is below the sum of the CHLD lines (always RSS) at ${scan.memBelowChildren} of ${scan.samplesWithChildren} samples with children, ` +
        `so mprof ran with --backend ${uss ? 'psutil_uss' : 'psutil_pss'}: MEM is the tree's ${uss ? 'USS' : 'PSS'}` +
        (uss ? ' (it fell when a child was forked: shared pages leave USS)' : ' (it did not fall when a child was forked, as USS would)') +
        '; the children\'s lines are RSS',
    };
  }
  if (scan.funcs.length > 0 && scan.children.size === 0) {
    let points = 0;
    let below = 0;
    for (const f of scan.funcs) {
      for (const [mib, stamp] of [[f.startMib, f.startS], [f.endMib, f.endS]] as const) {
        const near = memNear(scan, scan.sinceBase(stamp.wholeS, stamp.fracMs), periodMs);
        if (near !== near || mib <= 1) continue;
        points++;
        if (near < 0.75 * mib && mib - near > 2) below++;
      }
    }
    if (below >= 1 && below >= 0.25 * points) {
      return {
        metric: 'pss',
        reason:
          `MEM is below the RSS memory_profiler wrote in the FUNC lines at ${below} of ${points} function starts and ends, so mprof ran with ` +
          '--backend psutil_pss or psutil_uss (the file does not say which): read as PSS',
      };
    }
  }
  return { metric: 'rss', reason: null };
}

function decideMode(scan: DatScan): DatMode {
  const m = scan.marker;
  const hasChildren = scan.children.size > 0;
  const reasons: string[] = [];
  let includes = false;
  if (hasChildren) {
    if (m?.memIncludesChildren != null) includes = m.memIncludesChildren;
    else {
      const inferred = inferMemIncludesChildren(scan);
      includes = inferred.includes;
      reasons.push(`mprof does not record whether --include-children was given: ${inferred.reason}`);
    }
  }
  let metric: MemoryMetric = m?.metric ?? 'rss';
  if (!m?.metric) {
    const span = scan.nMem > 1 ? scan.memT[scan.nMem - 1]! - scan.memT[0]! : 0;
    const periodMs = scan.nMem > 1 ? Math.max(1, span / (scan.nMem - 1)) : 100;
    const inferred = inferMetric(scan, includes, periodMs);
    metric = inferred.metric;
    if (inferred.reason) reasons.push(`mprof does not record its --backend: ${inferred.reason}`);
  }
  return { memIncludesChildren: includes, metric, reasons };
}

/**
 * The series of the first `n` points of columns the scan filled. In time order (the usual case),
 * views of the columns themselves, no copy (a copy when they are less than 3/4 full, so that
 * spare capacity is not kept). When the file's clock went back, sorted by time through
 * SeriesBuilder (stable: file order for equal times). Values were checked by the scan: sizes
 * >= 0, times finite.
 */
function seriesOf(name: string, tMs: Float64Array, values: Float64Array, n: number, sorted: boolean): Series {
  if (sorted) {
    if (n >= 0.75 * tMs.length) return { tMs: tMs.subarray(0, n), values: values.subarray(0, n) };
    return { tMs: tMs.slice(0, n), values: values.slice(0, n) };
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => tMs[a]! - tMs[b]! || a - b);
  const b = new SeriesBuilder(name, Math.max(16, n));
  for (const i of order) b.push(tMs[i]!, values[i]!);
  return b.build();
}

function emptyTrack(pid: number, ppid: number, command: string[], rss: Series, firstSeenMs: number): ProcessTrack {
  return rssOnlyTrack({ pid, ppid, command, rss, firstSeenMs, exitMs: null });
}

function quote(line: string): string {
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

function scanWarnings(scan: DatScan): string[] {
  const warnings: string[] = [];
  if (scan.truncatedLine !== null) {
    warnings.push(`the file ends in the middle of a line ("${quote(scan.truncatedLine)}"): that line was ignored`);
  }
  if (scan.unknown.size > 0) {
    const list = [...scan.unknown].map(([k, c]) => `${k} (${c})`).join(', ');
    warnings.push(`lines with unknown keywords were ignored: ${quote(list)}`);
  }
  if (scan.cmdlines.length > 1) {
    warnings.push(
      `the file holds ${scan.cmdlines.length} CMDLINE lines: mprof appends to an existing -o file, so these are ${scan.cmdlines.length} runs read as one; the command is the first one's`,
    );
  }
  if (scan.vanishedReads > 0) {
    warnings.push(
      `${scan.vanishedReads} sample(s) have a "CHLD 0" line: a child exited while mprof listed them and mprof stopped listing there, so those samples may miss children`,
    );
  }
  if (scan.unreadable > 0) {
    warnings.push(`${scan.unreadable} MEM line(s) of -1 were skipped: mprof's posix backend writes -1 when \`ps\` cannot read the process`);
  }
  if (scan.backSteps > 0) {
    warnings.push(
      `${scan.backSteps} MEM line(s) have a time earlier than the line before (by up to ${(scan.largestBackMs / 1000).toFixed(4)} s; mprof uses the wall clock, which can be set back): samples were placed by their times`,
    );
  }
  if (scan.chldBeforeMem > 0) {
    warnings.push('CHLD lines before the first MEM line (or after a skipped one) were kept for their processes but not added to the total');
  }
  return warnings;
}

/** Reads the lines a scan kept into the model. */
function recordingOf(scan: DatScan): MemoryRecording {
  if (scan.nMem === 0) {
    throw new CorruptRecordingError(
      scan.unreadable > 0
        ? `mprof .dat file whose ${scan.unreadable} MEM line(s) are all -1: mprof's posix backend could not read the process`
        : 'mprof .dat file without any MEM line: there are no memory samples (mprof writes one per sampling period)',
    );
  }
  const warnings = scanWarnings(scan);
  const mode = decideMode(scan);
  warnings.push(...mode.reasons);
  const n = scan.nMem;
  const memT = scan.memT;
  // t = 0 is the earliest time in the file, which is the first MEM line in files as mprof writes
  // them; the minimum keeps every time >= 0 when the clock went back or FUNC lines start earlier.
  for (const f of scan.funcs) {
    scan.sinceBase(f.startS.wholeS, f.startS.fracMs);
    scan.sinceBase(f.endS.wholeS, f.endS.fracMs);
  }
  const t0 = scan.minSinceBaseMs;
  const toMs = (sinceBase: number): number => sinceBase - t0;
  for (let i = 0; i < n; i++) memT[i] = toMs(memT[i]!);
  const sorted = !scan.unsorted;

  // Under PSS/USS with -C -M the parent's own memory is not in the file: MEM is the tree's PSS
  // (or USS), the CHLD lines RSS, and their difference neither.
  const rootKnown = !mode.memIncludesChildren || mode.metric === 'rss';
  // Bytes computed in place in the scan's own columns (no new arrays: 1 M samples are 8 MB each):
  // memMib becomes MEM in bytes, childSumMib the other series of the pair (total or parent).
  const mem = scan.memMib;
  const other = scan.childSumMib;
  const hasChildren = scan.children.size > 0;
  let clamped = 0;
  for (let i = 0; i < n; i++) {
    const memB = mem[i]! * BYTES_PER_MIB;
    const childB = other[i]! * BYTES_PER_MIB;
    mem[i] = memB;
    if (mode.memIncludesChildren) {
      // Below -1 KiB is a real disagreement (/proc counts in KiB); above, it is the rounding of
      // 6-decimal MiB values, e.g. our own files after the root exited and left MEM = CHLD sum.
      if (memB - childB < -1024) clamped++;
      other[i] = memB - childB > 0 ? memB - childB : 0;
    } else {
      other[i] = memB + childB;
    }
  }
  if (!rootKnown) {
    warnings.push("the started process's own memory is not in the file (MEM is the tree's total in another metric than the CHLD lines): its line is left empty");
  } else if (clamped > 0) {
    warnings.push(`${clamped} sample(s) where MEM is below the sum of the CHLD lines: the parent was set to 0 there`);
  }

  try {
    const memSeries = seriesOf('mprof MEM', memT, mem, n, sorted);
    // Without CHLD lines the total and the started process are MEM itself: one series for both.
    const otherSeries = hasChildren ? seriesOf('mprof total', memT, other, n, sorted) : memSeries;
    const total = mode.memIncludesChildren ? memSeries : otherSeries;
    const rootRss = !rootKnown ? emptySeries() : mode.memIncludesChildren ? otherSeries : memSeries;
    const command = scan.cmdlines.length > 0 ? splitMprofCmdline(scan.cmdlines[0]!) : [];
    const rootPid = scan.marker?.rootPid ?? MPROF_ROOT_PID;
    const processes: ProcessTrack[] = [emptyTrack(rootPid, 0, command, rootRss, total.tMs[0]!)];
    // Descendants, in order of first appearance. mprof lists them without their parents: each is
    // attached to the root, of which it is a descendant.
    for (const c of scan.children.values()) {
      const t = c.tMs!;
      const v = c.mib!;
      for (let i = 0; i < c.n; i++) {
        t[i] = toMs(t[i]!);
        v[i] = v[i]! * BYTES_PER_MIB;
      }
      const rss = seriesOf(`mprof CHLD ${c.pid}`, t, v, c.n, sorted);
      const track = emptyTrack(c.pid, rootPid, [], rss, rss.tMs[0]!);
      // Gone at the first sample after its last CHLD line; alive at the end if there is none.
      if (c.lastSample >= 0 && c.lastSample + 1 < n) track.exitMs = memT[c.lastSample + 1]!;
      processes.push(track);
    }

    const funcs = [...scan.funcs].sort(
      (a, b) => scan.sinceBase(a.startS.wholeS, a.startS.fracMs) - scan.sinceBase(b.startS.wholeS, b.startS.fracMs) || a.level - b.level,
    );
    const events: RecordingEvent[] = funcs.map((f) => ({
      kind: 'section',
      startMs: toMs(scan.sinceBase(f.startS.wholeS, f.startS.fracMs)),
      endMs: toMs(scan.sinceBase(f.endS.wholeS, f.endS.fracMs)),
      pid: rootPid,
      label: f.name,
      level: f.level,
      startBytes: f.startMib * BYTES_PER_MIB,
      endBytes: f.endMib * BYTES_PER_MIB,
    }));

    return {
      meta: {
        source: 'mprof',
        formatVersion: null,
        memhuntVersion: null,
        mode: 'import',
        command,
        cwd: null,
        host: null,
        containerId: null,
        startWallMs: scan.baseS * 1000 + t0,
        // mprof does not write its --interval; the spacing of MEM lines is interval + sampling cost.
        intervalMs: null,
        metric: mode.metric,
        limitBytes: null,
        cgroup: null,
        rootPid,
      },
      total,
      totalPss: emptySeries(),
      processes,
      cgroup: null,
      events,
      // mprof writes no end record: how the run ended is unknown (the chart and summary say so
      // for files of other tools, see meta.source).
      end: null,
      warnings,
      truncated: scan.truncatedLine !== null,
    };
  } catch (e) {
    // SeriesBuilder refuses what is not a size or a time.
    if (e instanceof ModelError) throw new CorruptRecordingError(`mprof .dat: ${e.message}`);
    throw e;
  }
}

/**
 * Reads an mprof .dat file from its text. Returns null when the text does not start like one;
 * throws CorruptRecordingError when it does but a line cannot be read, or when it has no MEM line.
 * Tolerated, with a warning: a last line cut mid-way (dropped, truncated = true), unknown keywords,
 * blank lines, timestamps that go backwards, several runs appended to one file (mprof opens -o in
 * append mode), -1 samples of the posix backend.
 */
export function readMprofDat(text: string): MemoryRecording | null {
  if (!isMprofDat(text.slice(0, 4096))) return null;
  const buf = Buffer.from(text, 'utf8');
  const scan = new DatScan(true, Math.ceil(buf.length / 30));
  scanBuffer(scan, buf);
  return recordingOf(scan);
}

/** Reads an mprof .dat file by streaming it (what commands use: memory does not grow with the text). */
export function readMprofDatFile(filePath: string): MemoryRecording {
  // ~30 bytes per MEM line: the columns start near their final size instead of doubling up to it.
  // Columns sized after the first chunk (scanFile), from what it holds per sample.
  const scan = new DatScan(true, 4096);
  scanFile(scan, filePath);
  return recordingOf(scan);
}


/** What `mprof peak` prints for a file, and the tree total beside it. Sizes in bytes. */
export interface MprofPeak {
  /** The largest MEM line: what `mprof peak` prints. */
  memPeakBytes: number;
  /** The tree's peak: MEM's under -C (alone or with -M), MEM + the CHLD lines under -M alone. */
  treePeakBytes: number;
  /** What MEM is: the whole tree, the started process alone (-M), or unknown (no CHLD lines: -C or not). */
  mem: 'tree' | 'parent' | 'as-recorded';
  metric: MemoryMetric;
  /** Each CHLD pid's largest line, in order of first appearance (`mprof peak`'s "Child" lines). */
  children: { pid: number; peakBytes: number }[];
  warnings: string[];
}

/**
 * The peaks of an mprof .dat file in one streaming pass, without building any series (for
 * `memhunt peak`): memory stays at the read buffer and one entry per child.
 */
export function mprofPeakOfFile(filePath: string): MprofPeak {
  const scan = new DatScan(false, 0);
  scanFile(scan, filePath);
  if (scan.nMem === 0) {
    throw new CorruptRecordingError('mprof .dat file without any MEM line: there are no memory samples (mprof writes one per sampling period)');
  }
  const warnings = scanWarnings(scan);
  // The metric checks on FUNC lines need the MEM series; the peak keeps none, so only the CHLD
  // facts decide here (FUNC lines come only without -M, where MEM is what `mprof peak` prints anyway).
  const mode = decideMode(scan);
  warnings.push(...mode.reasons);
  const hasChildren = scan.children.size > 0;
  return {
    memPeakBytes: scan.memPeakMib * BYTES_PER_MIB,
    treePeakBytes: (hasChildren && !mode.memIncludesChildren ? scan.sumPeakMib : scan.memPeakMib) * BYTES_PER_MIB,
    mem: !hasChildren ? 'as-recorded' : mode.memIncludesChildren ? 'tree' : 'parent',
    metric: mode.metric,
    children: [...scan.children.values()].map((c) => ({ pid: c.pid, peakBytes: c.peakMib * BYTES_PER_MIB })),
    warnings,
  };
}

/**
 * Writes a recording as a .dat that mprof 0.61's `mprof peak` and `mprof plot` read, in the shape of
 * `mprof run --include-children --multiprocess`: MEM is the tree total (so `mprof peak` prints the
 * same peak as memhunt), and every process other than the root gets CHLD lines (drawn as separate
 * lines by `mprof plot`).
 *
 * Limits, all from what the format can hold:
 * - MiB with 6 decimals (about 1 byte) and times with 4 decimals of a second, as mprof writes them;
 * - only sections become FUNC lines (marks, limits, OOM kills and notes have no mprof form); a
 *   section that never ended is closed at the last sample; whitespace in a label becomes "_",
 *   because mprof's reader splits FUNC lines on spaces and fails on such names;
 * - anon/file/shmem, the other metrics, the cgroup, exit codes and the end of the run are not written; a
 *   child's exit shows as its CHLD lines stopping, but a root that exited before its children
 *   reads back as 0 bytes from then on;
 * - MEM is the tree total in the recording's metric (`--metric pss` writes PSS, as mprof's own
 *   `--backend psutil_pss` does; the MEMHUNT line names the metric for our reader, mprof ignores
 *   it), at the times it was read (PSS/USS at their adaptive rate). CHLD lines are in the same
 *   metric (mprof writes them in RSS whatever its backend, which makes MEM minus the CHLD lines
 *   meaningless; ours keep the root's own share readable).
 */
export function writeMprofDat(rec: MemoryRecording): string {
  const out: string[] = [];
  const epochS = (tMs: number): string => ((rec.meta.startWallMs + tMs) / 1000).toFixed(4);
  const mib = (bytes: number): string => (bytes / BYTES_PER_MIB).toFixed(6);

  out.push(`CMDLINE ${joinMprofCmdline(rec.meta.command)}`);
  const rootPid = rec.meta.rootPid;
  out.push(`MEMHUNT mem=tree${rootPid === null ? '' : ` root=${rootPid}`} metric=${rec.meta.metric}`);

  const total = metricTotal(rec).series;
  const rowTimesMs = total.tMs;
  const children = rec.processes
    .filter((p) => p.pid !== rootPid)
    .map((p) => ({ pid: p.pid, rows: samplesPerRow(rowTimesMs, processMetricSeries(rec, p).series) }));
  for (let i = 0; i < rowTimesMs.length; i++) {
    out.push(`MEM ${mib(total.values[i]!)} ${epochS(rowTimesMs[i]!)}`);
    for (const c of children) {
      const bytes = c.rows.bytes[i]!;
      if (!Number.isNaN(bytes)) out.push(`CHLD ${c.pid} ${mib(bytes)} ${epochS(c.rows.tMs[i]!)}`);
    }
  }

  const lastMs = rowTimesMs.length > 0 ? rowTimesMs[rowTimesMs.length - 1]! : 0;
  const totalAt = (tMs: number): number => {
    const v = valueAt(total, tMs);
    if (!Number.isNaN(v)) return v;
    return total.values.length > 0 ? total.values[0]! : 0;
  };
  for (const e of rec.events) {
    if (e.kind !== 'section') continue;
    const endMs = e.endMs ?? Math.max(lastMs, e.startMs);
    const name = e.label.replace(/\s/g, '_') || '_';
    const startBytes = e.startBytes ?? totalAt(e.startMs);
    const endBytes = e.endBytes ?? totalAt(endMs);
    // "%.4f" for sizes, as TimeStamper.show_results writes them.
    out.push(
      `FUNC ${name} ${(startBytes / BYTES_PER_MIB).toFixed(4)} ${epochS(e.startMs)} ${(endBytes / BYTES_PER_MIB).toFixed(4)} ${epochS(endMs)} ${e.level}`,
    );
  }
  return out.join('\n') + '\n';
}
