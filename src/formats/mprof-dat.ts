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
 * MEM is RSS (psutil memory_info()[0]) unless --backend psutil_pss/psutil_uss made it PSS/USS
 * (children included the same way); nothing in the file says which, so it is read as RSS.
 * A MEM-only file (no flag or -C) cannot be told apart: the root track then carries MEM, which
 * under -C includes the children. With CHLD lines, see inferMemIncludesChildren().
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
import { CorruptRecordingError } from '../errors';
import { rssOnlyTrack, type MemoryMetric, type MemoryRecording, type ProcessTrack, type RecordingEvent } from '../model/recording';
import { metricTotal, processMetricSeries } from '../model/metric';
import { ModelError, SeriesBuilder, emptySeries, valueAt, type Series } from '../model/series';
import { samplesPerRow } from './rows';

const BYTES_PER_MIB = 2 ** 20;

/**
 * Pid given to the process mprof started: mprof never writes its pid. 0 is never a real process
 * of a tree (it is the kernel's "no process"), so it cannot collide with a CHLD pid.
 */
export const MPROF_ROOT_PID = 0;

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
  /** Index (file order) of the MEM line this CHLD line follows; -1 before any MEM line. */
  sample: number;
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

function parseChld(rest: string, sample: number): ChldLine {
  const f = rest.trim().split(/[ \t]+/);
  if (f.length < 3) throw new LineError('CHLD needs "<pid> <MiB> <Unix seconds>"');
  if (!INTEGER.test(f[0]!)) throw new LineError(`pid "${f[0]}" is not an integer`);
  return { pid: Number(f[0]), mib: decimal(f[1], 'MiB'), epochS: unixTime(f[2], 'time'), sample };
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

/**
 * Decides, for a file with CHLD lines and no MEMHUNT line, whether MEM already includes the
 * descendants (-C -M) or is the started process alone (-M). Exported for tests.
 *
 * The two tests, in order:
 * 1. Under -C, MEM minus the CHLD sum is the parent's own RSS: it can go below zero only when a
 *    descendant appeared between mprof's two walks of the tree (about 1 ms apart in each 100 ms
 *    period). If it is negative at more than 10 % of the samples with descendants, MEM cannot
 *    include them.
 * 2. Otherwise compare how much each candidate for the parent's own line moves (sum of absolute
 *    steps): under -C, MEM jumps whenever a descendant starts, grows or exits, and MEM − CHLD does
 *    not; under -M it is the other way round. The smoother candidate wins; a tie (nothing moved)
 *    means plain -M, mprof's meaning of MEM without -C.
 * Limit: a parent that allocates exactly when and as much as its children free fools test 2.
 */
export function inferMemIncludesChildren(
  memMib: readonly number[],
  childSumMib: readonly number[],
  childCount: readonly number[],
): { includes: boolean; reason: string } {
  let withChildren = 0;
  let negative = 0;
  let memSteps = 0;
  let residualSteps = 0;
  for (let i = 0; i < memMib.length; i++) {
    const residual = memMib[i]! - childSumMib[i]!;
    if (childCount[i]! > 0) {
      withChildren++;
      if (residual < 0) negative++;
    }
    if (i > 0) {
      memSteps += Math.abs(memMib[i]! - memMib[i - 1]!);
      residualSteps += Math.abs(residual - (memMib[i - 1]! - childSumMib[i - 1]!));
    }
  }
  if (negative > 0.1 * withChildren) {
    return {
      includes: false,
      reason: `MEM is below the sum of the CHLD lines at ${negative} of ${withChildren} samples, so it is the parent alone (--multiprocess without --include-children)`,
    };
  }
  if (residualSteps < memSteps) {
    return {
      includes: true,
      reason: 'MEM moves with the CHLD lines, so it includes the children (--include-children --multiprocess); the parent is MEM minus the CHLD lines',
    };
  }
  return {
    includes: false,
    reason: 'MEM does not move with the CHLD lines, so it is the parent alone (--multiprocess without --include-children)',
  };
}

interface Point {
  tMs: number;
  bytes: number;
}

/**
 * Stable sort by time, then into a Series through SeriesBuilder. mprof stamps samples with the
 * wall clock (time.time()), which NTP or a user can set back; the file order is the sampling order
 * but the model needs times that never decrease. Samples are placed by their timestamps (what
 * `mprof plot` uses as x) rather than moved or dropped: every reading is kept, the peak is
 * unchanged, and the caller warns about the backward steps.
 */
function buildSeries(name: string, points: Point[]): Series {
  points.sort((a, b) => a.tMs - b.tMs);
  const b = new SeriesBuilder(name, Math.max(16, points.length));
  for (const p of points) b.push(p.tMs, p.bytes);
  return b.build();
}

function emptyTrack(pid: number, ppid: number, command: string[], rss: Series, firstSeenMs: number): ProcessTrack {
  return rssOnlyTrack({ pid, ppid, command, rss, firstSeenMs, exitMs: null });
}

function quote(line: string): string {
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/**
 * Reads an mprof .dat file. Returns null when the text does not start like one; throws
 * CorruptRecordingError when it does but a line cannot be read, or when it has no MEM line.
 * Tolerated, with a warning: a last line cut mid-way (dropped, truncated = true), unknown keywords,
 * blank lines, timestamps that go backwards, several runs appended to one file (mprof opens -o in
 * append mode).
 */
export function readMprofDat(text: string): MemoryRecording | null {
  if (!isMprofDat(text.slice(0, 4096))) return null;
  const warnings: string[] = [];
  let truncated = false;

  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
  } else {
    // mprof writes whole lines ending in "\n". A last line without one was cut while being written,
    // and may still parse ("MEM 41.75" cut from "MEM 41.750000 1795791458.2162"): dropped, not trusted.
    const cut = lines.pop()!;
    truncated = true;
    warnings.push(`the file ends in the middle of a line ("${quote(cut)}"): that line was ignored`);
  }

  const mem: MemLine[] = [];
  const chld: ChldLine[] = [];
  const funcs: FuncLine[] = [];
  const cmdlines: string[] = [];
  let marker: MemhuntLine | null = null;
  let vanishedReads = 0;
  const unknown = new Map<string, number>();

  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.endsWith('\r') ? lines[n]!.slice(0, -1) : lines[n]!;
    if (line.trim() === '') continue;
    const space = line.indexOf(' ');
    const keyword = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1);
    try {
      switch (keyword) {
        case 'CMDLINE':
          cmdlines.push(rest);
          break;
        case 'MEM':
          mem.push(parseMem(rest));
          break;
        case 'CHLD': {
          const c = parseChld(rest, mem.length - 1);
          if (c.pid === 0) vanishedReads++;
          else chld.push(c);
          break;
        }
        case 'FUNC':
          funcs.push(parseFunc(rest));
          break;
        case 'MEMHUNT':
          marker = parseMemhunt(rest);
          break;
        default:
          unknown.set(keyword, (unknown.get(keyword) ?? 0) + 1);
      }
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      throw new CorruptRecordingError(`mprof .dat line ${n + 1}: ${e.message}: "${quote(line)}"`);
    }
  }

  if (mem.length === 0) {
    throw new CorruptRecordingError(
      'mprof .dat file without any MEM line: there are no memory samples (mprof writes one per sampling period)',
    );
  }
  if (unknown.size > 0) {
    const list = [...unknown].map(([k, c]) => `${k} (${c})`).join(', ');
    warnings.push(`lines with unknown keywords were ignored: ${quote(list)}`);
  }
  if (cmdlines.length > 1) {
    warnings.push(
      `the file holds ${cmdlines.length} CMDLINE lines: mprof appends to an existing -o file, so these are ${cmdlines.length} runs read as one; the command is the first one's`,
    );
  }
  if (vanishedReads > 0) {
    warnings.push(
      `${vanishedReads} sample(s) have a "CHLD 0" line: a child exited while mprof listed them and mprof stopped listing there, so those samples may miss children`,
    );
  }

  // t = 0 is the earliest timestamp, which is the first MEM line in files as mprof writes them; the
  // minimum keeps every time >= 0 when the clock went back or FUNC lines start earlier.
  // Loops, not Math.min(...array): a day at 10 Hz is 864,000 stamps, past what V8 takes as arguments.
  const stamps = [...mem.map((m) => m.epochS), ...chld.map((c) => c.epochS), ...funcs.flatMap((f) => [f.startS, f.endS])];
  let baseS = Infinity;
  for (const t of stamps) baseS = Math.min(baseS, t.wholeS);
  const sinceBaseMs = (t: Stamp): number => (t.wholeS - baseS) * 1000 + t.fracMs;
  let t0SinceBaseMs = Infinity;
  for (const t of stamps) t0SinceBaseMs = Math.min(t0SinceBaseMs, sinceBaseMs(t));
  const toMs = (t: Stamp): number => sinceBaseMs(t) - t0SinceBaseMs;

  let backSteps = 0;
  let largestBackS = 0;
  for (let i = 1; i < mem.length; i++) {
    const stepS = (toMs(mem[i]!.epochS) - toMs(mem[i - 1]!.epochS)) / 1000;
    if (stepS < 0) {
      backSteps++;
      largestBackS = Math.max(largestBackS, -stepS);
    }
  }
  if (backSteps > 0) {
    warnings.push(
      `${backSteps} MEM line(s) have a time earlier than the line before (by up to ${largestBackS.toFixed(4)} s; mprof uses the wall clock, which can be set back): samples were placed by their times`,
    );
  }

  const childSumMib = new Array<number>(mem.length).fill(0);
  const childCount = new Array<number>(mem.length).fill(0);
  for (const c of chld) {
    if (c.sample < 0) continue;
    childSumMib[c.sample]! += c.mib;
    childCount[c.sample]!++;
  }
  const rootPid = marker?.rootPid ?? MPROF_ROOT_PID;
  const metric: MemoryMetric = marker?.metric ?? 'rss';
  const memMib = mem.map((m) => m.mib);
  let memIncludesChildren = false;
  if (chld.length > 0) {
    if (marker?.memIncludesChildren != null) {
      memIncludesChildren = marker.memIncludesChildren;
    } else {
      const inferred = inferMemIncludesChildren(memMib, childSumMib, childCount);
      memIncludesChildren = inferred.includes;
      warnings.push(`mprof does not record whether --include-children was given: ${inferred.reason}`);
    }
  }
  if (chld.some((c) => c.sample < 0)) {
    warnings.push('CHLD lines before the first MEM line were kept for their processes but not added to the total');
  }

  try {
    const totalPoints: Point[] = [];
    const rootPoints: Point[] = [];
    let clamped = 0;
    for (let i = 0; i < mem.length; i++) {
      const tMs = toMs(mem[i]!.epochS);
      const memBytes = mem[i]!.mib * BYTES_PER_MIB;
      const childBytes = childSumMib[i]! * BYTES_PER_MIB;
      if (memIncludesChildren) {
        totalPoints.push({ tMs, bytes: memBytes });
        // Below -1 KiB is a real disagreement (/proc counts in KiB); above, it is the rounding of
        // 6-decimal MiB values, e.g. our own files after the root exited and left MEM = CHLD sum.
        if (memBytes - childBytes < -1024) clamped++;
        rootPoints.push({ tMs, bytes: Math.max(0, memBytes - childBytes) });
      } else {
        totalPoints.push({ tMs, bytes: memBytes + childBytes });
        rootPoints.push({ tMs, bytes: memBytes });
      }
    }
    if (clamped > 0) {
      warnings.push(`${clamped} sample(s) where MEM is below the sum of the CHLD lines: the parent was set to 0 there`);
    }

    const rootRss = buildSeries('mprof MEM', rootPoints);
    const command = cmdlines.length > 0 ? splitMprofCmdline(cmdlines[0]!) : [];
    const total = buildSeries('mprof total', totalPoints);
    const processes: ProcessTrack[] = [emptyTrack(rootPid, 0, command, rootRss, total.tMs[0]!)];

    // Descendants, in order of first appearance. mprof lists them without their parents: each is
    // attached to the root, of which it is a descendant.
    const byPid = new Map<number, ChldLine[]>();
    for (const c of chld) {
      const list = byPid.get(c.pid);
      if (list) list.push(c);
      else byPid.set(c.pid, [c]);
    }
    for (const [pid, list] of byPid) {
      const rss = buildSeries(`mprof CHLD ${pid}`, list.map((c) => ({ tMs: toMs(c.epochS), bytes: c.mib * BYTES_PER_MIB })));
      const track = emptyTrack(pid, rootPid, [], rss, rss.tMs[0]!);
      // Gone at the first sample after its last CHLD line; alive at the end if there is none.
      const lastSample = list[list.length - 1]!.sample;
      if (lastSample + 1 < mem.length) track.exitMs = toMs(mem[lastSample + 1]!.epochS);
      processes.push(track);
    }

    funcs.sort((a, b) => toMs(a.startS) - toMs(b.startS) || a.level - b.level);
    const events: RecordingEvent[] = funcs.map((f) => ({
      kind: 'section',
      startMs: toMs(f.startS),
      endMs: toMs(f.endS),
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
        startWallMs: baseS * 1000 + t0SinceBaseMs,
        // mprof does not write its --interval; the spacing of MEM lines is interval + sampling cost.
        intervalMs: null,
        metric,
        limitBytes: null,
        cgroup: null,
        rootPid,
      },
      total,
      totalPss: emptySeries(),
      processes,
      cgroup: null,
      events,
      // mprof writes no end record: how the run ended is unknown.
      end: null,
      warnings,
      truncated,
    };
  } catch (e) {
    // SeriesBuilder refuses negative sizes ("MEM -1.0 …"): the file is mprof's but not readable.
    if (e instanceof ModelError) throw new CorruptRecordingError(`mprof .dat: ${e.message}`);
    throw e;
  }
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
