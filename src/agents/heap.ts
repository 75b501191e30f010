/**
 * Growth between heap censuses (pympler's SummaryTracker, objgraph's show_growth), computed from
 * the census events of a recording or from two census results of a live run. Pure functions over
 * the model: `memhunt heap` prints them and the session uses pickGrowingType to choose what to
 * draw back-references for.
 */
import { formatBytes } from '../units';
import type { AllocationSitesEvent, HeapCensusEvent, HeapCensusRow, RecordingEvent } from '../model/recording';

/** The row of a census that sums the types beyond the top that was asked for. */
export const OTHER_ROW = '(other)';

export type { TypeGrowth } from '../model/heap-growth';
import type { TypeGrowth } from '../model/heap-growth';

export interface CensusGrowth {
  pid: number;
  from: HeapCensusEvent;
  to: HeapCensusEvent;
  objectsDelta: number;
  totalBytesDelta: number;
  /** Every type whose count or size changed, highest score first (shrinking ones last). */
  types: TypeGrowth[];
}

/** Types that are containers or plumbing of every program: a leak of records shows as these too. */
const BUILTIN_TYPES = new Set([
  'dict', 'list', 'tuple', 'set', 'frozenset', 'str', 'bytes', 'bytearray', 'int', 'float', 'complex', 'bool',
  'function', 'cell', 'method', 'builtin_function_or_method', 'weakref', 'type', 'module', 'frame', 'code',
  'getset_descriptor', 'member_descriptor', 'method_descriptor', 'wrapper_descriptor', 'property', 'staticmethod',
  'classmethod', 'generator', 'coroutine', 'memoryview', 'slice', 'range', 'object', 'traceback', 'NoneType',
  'collections.deque', 'collections.OrderedDict', 'collections.defaultdict', 'weakref.ReferenceType', 'mappingproxy',
  'method-wrapper', 'types.SimpleNamespace', OTHER_ROW,
]);

export function isBuiltinType(name: string): boolean {
  return BUILTIN_TYPES.has(name);
}

/**
 * Arrays hold the data of most library objects (an sklearn tree's, a pandas block's): a class that
 * grows with them is followed rather than the arrays, as for builtins. A graph of ndarray samples in
 * an sklearn job showed the training data (`X`, a module global) and the arrays of the forest being
 * fitted, never the `history` list; a leak of bare arrays still picks numpy.ndarray, the only type
 * that grows. The agent's `refs` without a type uses the same set (_refs.py _DATA).
 */
const DATA_TYPES = new Set(['numpy.ndarray']);

/**
 * A type's share of the objects that appeared plus its share of the bytes that appeared (each over
 * the types that grew), from 0 to 2: a type that added most of the new objects ranks as high as one
 * that added most of the new bytes, whatever the units. The agent's `refs` without a type uses the
 * same score (runtimes/python/lib/memhunt/_refs.py growth_score).
 */
export function growthScore(countDelta: number, bytesDelta: number, countGrowth: number, bytesGrowth: number): number {
  return (countDelta > 0 && countGrowth > 0 ? countDelta / countGrowth : 0) + (bytesDelta > 0 && bytesGrowth > 0 ? bytesDelta / bytesGrowth : 0);
}

export function censusGrowth(from: HeapCensusEvent, to: HeapCensusEvent): CensusGrowth {
  const before = new Map<string, HeapCensusRow>();
  for (const r of from.rows) before.set(r[0], r);
  const fromTruncated = before.has(OTHER_ROW);
  const toTruncated = to.rows.some((r) => r[0] === OTHER_ROW);
  const types: TypeGrowth[] = [];
  const seen = new Set<string>();
  for (const [typeName, count, bytes] of to.rows) {
    if (typeName === OTHER_ROW) continue;
    seen.add(typeName);
    const b = before.get(typeName);
    const countDelta = count - (b ? b[1] : 0);
    const bytesDelta = bytes - (b ? b[2] : 0);
    if (b && countDelta === 0 && bytesDelta === 0) continue;
    types.push({ typeName, count, bytes, countDelta, bytesDelta, isNew: !b && !fromTruncated, wasUnlisted: !b && fromTruncated, isGone: false, score: 0 });
  }
  for (const [typeName, count, bytes] of from.rows) {
    if (typeName === OTHER_ROW || seen.has(typeName)) continue;
    // Below the top now, or freed: only a census that lists every type can tell.
    if (toTruncated) continue;
    types.push({ typeName, count: 0, bytes: 0, countDelta: -count, bytesDelta: -bytes, isNew: false, wasUnlisted: false, isGone: true, score: 0 });
  }
  let countGrowth = 0;
  let bytesGrowth = 0;
  for (const t of types) {
    if (t.countDelta > 0) countGrowth += t.countDelta;
    if (t.bytesDelta > 0) bytesGrowth += t.bytesDelta;
  }
  for (const t of types) t.score = growthScore(t.countDelta, t.bytesDelta, countGrowth, bytesGrowth);
  types.sort((a, b) => b.score - a.score || b.bytesDelta - a.bytesDelta || b.countDelta - a.countDelta || a.typeName.localeCompare(b.typeName));
  return { pid: to.pid, from, to, objectsDelta: to.objects - from.objects, totalBytesDelta: to.totalBytes - from.totalBytes, types };
}

/**
 * A program's (or a library's) class is followed rather than a builtin that scored higher when it
 * made at least this share of the new objects or of the new bytes: 300 new Record objects explain
 * 3000 new str and dict better than the str do, and samples of "str" would be arbitrary strings.
 * The agent's `refs` without a type uses the same rule (runtimes/python/lib/memhunt/_refs.py).
 */
export const OWN_MIN_COUNT_SHARE = 0.01;
export const OWN_MIN_BYTES_SHARE = 0.1;
/**
 * Bytes alone (no new objects) count as growth from this much: a dict that resized by 16 bytes
 * made the automatic graph follow it on a flat program, and the graph's own memory was then
 * the step the census-cost test measured (runtimes/python/lib/memhunt/_refs.py likewise).
 */
export const BYTES_GROWTH_MIN = 64 * 1024;
/** A type grew: more objects, or (one array grown in place) at least BYTES_GROWTH_MIN more bytes. */
const grewAtAll = (t: { countDelta: number; bytesDelta: number }) => t.countDelta > 0 || t.bytesDelta >= BYTES_GROWTH_MIN;
/** Censuses looked at for persistence: the intervals between the last PERSIST_WINDOW + 1. */
export const PERSIST_WINDOW = 8;

/** The type to follow and why it was chosen (recorded with the graph: `why`). */
export interface GrowingPick {
  typeName: string;
  why: string;
}

/** A share as a whole percentage, "<1%" below one. */
function pct(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const v = (100 * part) / whole;
  return v > 0 && v < 1 ? '<1%' : `${Math.round(v)}%`;
}

/**
 * The type with the highest score, or a program's class that grew enough (see OWN_MIN_*); null when nothing grew.
 * A type grew when it has more objects or more bytes: one array that grows (np.concatenate into the
 * same name, a DataFrame appended to) keeps its count and is still the leak. When no class of the
 * program grew enough, the type that holds the growth in bytes is followed rather than one that
 * only made many small objects (weakrefs, cells): a graph of weakref.ReferenceType samples beside
 * +300 MiB of one ndarray said nothing about the leak.
 */
export function pickFromGrowth(g: CensusGrowth, allowed: (typeName: string) => boolean = () => true): string | null {
  return pickWithReason(g, allowed)?.typeName ?? null;
}

export function pickWithReason(g: CensusGrowth, allowed: (typeName: string) => boolean = () => true, over = 'since the previous census'): GrowingPick | null {
  // Shares among the candidates only: what else grew (imports, caches filled once) does not dilute them.
  const growing = g.types.filter((t) => grewAtAll(t) && t.typeName !== OTHER_ROW && allowed(t.typeName));
  if (growing.length === 0) return null;
  let countGrowth = 0;
  let bytesGrowth = 0;
  for (const t of growing) {
    if (t.countDelta > 0) countGrowth += t.countDelta;
    if (t.bytesDelta > 0) bytesGrowth += t.bytesDelta;
  }
  const scored = growing
    .map((t) => ({ t, score: growthScore(t.countDelta, t.bytesDelta, countGrowth, bytesGrowth) }))
    .sort((a, b) => b.score - a.score || a.t.typeName.localeCompare(b.t.typeName));
  const countShare = (t: TypeGrowth) => (countGrowth > 0 && t.countDelta > 0 ? t.countDelta / countGrowth : 0);
  const bytesShare = (t: TypeGrowth) => (bytesGrowth > 0 && t.bytesDelta > 0 ? t.bytesDelta / bytesGrowth : 0);
  const enough = (t: TypeGrowth) => countShare(t) >= OWN_MIN_COUNT_SHARE || bytesShare(t) >= OWN_MIN_BYTES_SHARE;
  const what = (t: TypeGrowth) =>
    `${t.countDelta > 0 ? `+${t.countDelta.toLocaleString('en-US')} objects (${pct(t.countDelta, countGrowth)} of the new ones)` : 'no new objects'}, ` +
    `${t.bytesDelta > 0 ? `+${formatBytes(t.bytesDelta)} (${pct(t.bytesDelta, bytesGrowth)} of the new bytes)` : 'no new bytes'} ${over}`;
  // A class first; arrays when no class grew enough (a pandas cache: its frames are few, its
  // arrays are the bytes); a builtin last.
  const own = scored.find(({ t }) => !isBuiltinType(t.typeName) && !DATA_TYPES.has(t.typeName) && enough(t));
  if (own) return { typeName: own.t.typeName, why: `a class that grew: ${what(own.t)}; a class is followed before builtins and arrays, which it explains` };
  const data = scored.find(({ t }) => !isBuiltinType(t.typeName) && enough(t));
  if (data) return { typeName: data.t.typeName, why: `it holds the growth: ${what(data.t)}; no class of the program grew enough to follow instead` };
  // Only builtins grew: the one that holds most of the new bytes when one holds at least half of
  // them (a list of bytes objects, not the weakrefs made beside it), else the highest score.
  const byBytes = [...scored].sort((a, b) => b.t.bytesDelta - a.t.bytesDelta || b.score - a.score)[0]!;
  if (bytesShare(byBytes.t) >= 0.5) return { typeName: byBytes.t.typeName, why: `it holds most of the growth in bytes: ${what(byBytes.t)}` };
  const top = scored[0]!;
  return { typeName: top.t.typeName, why: `it grew most (objects and bytes): ${what(top.t)}` };
}

function moduleCount(c: HeapCensusEvent): number {
  return c.rows.find((r) => r[0] === 'module')?.[1] ?? 0;
}

/**
 * The type to draw back-references for, from a process's censuses so far (oldest first): the one
 * whose growth is largest (by growthScore) among the types that grew persistently, so that what
 * grew only at import is never chosen. Only the quiet intervals of the last PERSIST_WINDOW count:
 * those in which no module was imported (the census's `module` row did not grow; imports go on for
 * many censuses on a busy machine, and lazily at a library's first use). A type grows persistently
 * when it has more objects or more bytes in the latest quiet interval and in at least half of
 * them, two at least. Its score is over the sum of the quiet intervals' growth. Null until there
 * are two quiet intervals, or when nothing grew persistently.
 */
export function pickGrowingType(censuses: HeapCensusEvent[]): string | null {
  return pickGrowingTypeWithReason(censuses)?.typeName ?? null;
}

export function pickGrowingTypeWithReason(censuses: HeapCensusEvent[]): GrowingPick | null {
  const window = censuses.slice(-(PERSIST_WINDOW + 1));
  const steps: CensusGrowth[] = [];
  for (let i = 1; i < window.length; i++) {
    if (moduleCount(window[i]!) > moduleCount(window[i - 1]!)) continue;
    steps.push(censusGrowth(window[i - 1]!, window[i]!));
  }
  if (steps.length < 2) return null;
  const grew = grewAtAll;
  const grewIn = new Map<string, number>();
  const sum = new Map<string, TypeGrowth>();
  for (const s of steps) {
    for (const t of s.types) {
      if (grew(t)) grewIn.set(t.typeName, (grewIn.get(t.typeName) ?? 0) + 1);
      const acc = sum.get(t.typeName);
      if (acc) {
        acc.countDelta += t.countDelta;
        acc.bytesDelta += t.bytesDelta;
      } else sum.set(t.typeName, { ...t });
    }
  }
  const last = steps[steps.length - 1]!;
  const lastGrew = new Set(last.types.filter(grew).map((t) => t.typeName));
  const need = Math.max(2, Math.ceil(steps.length / 2));
  // Or, growing at a slower pace than the censuses (a batch of arrays kept every third census), it
  // holds most of the bytes that appeared in the window, in two intervals at least: the weakrefs
  // made every interval beside it were followed instead.
  let windowBytes = 0;
  for (const t of sum.values()) if (t.bytesDelta > 0) windowBytes += t.bytesDelta;
  const holdsMost = (name: string) => (grewIn.get(name) ?? 0) >= 2 && windowBytes > 0 && (sum.get(name)?.bytesDelta ?? 0) >= 0.5 * windowBytes;
  const persistent = (name: string) => (lastGrew.has(name) && (grewIn.get(name) ?? 0) >= need) || holdsMost(name);
  const pick = pickWithReason({ ...last, types: [...sum.values()] }, persistent, `over the last ${steps.length} quiet census intervals`);
  if (!pick) return null;
  return { typeName: pick.typeName, why: `${pick.why}; it grew in ${grewIn.get(pick.typeName)} of those ${steps.length} intervals` };
}

/** A census that was due and not taken (the previous one still running), from its `note` record. */
export interface SkippedCensus {
  tMs: number;
  label: string;
  text: string;
}

export interface ProcessHeap {
  pid: number;
  censuses: HeapCensusEvent[];
  skipped: SkippedCensus[];
  /** Censuses asked for and not answered (the process ended first, the agent failed), from their notes. */
  failed: SkippedCensus[];
  growth: CensusGrowth[];
  traces: AllocationSitesEvent[];
}

const CENSUS_FAILED = /^census \((.*?)\) failed: ([^]*)$/;

/** Censuses and trace snapshots of a recording per process (by first census), with the growth between consecutive censuses. */
export function heapByProcess(events: RecordingEvent[]): ProcessHeap[] {
  const byPid = new Map<number, ProcessHeap>();
  const get = (pid: number) => {
    let p = byPid.get(pid);
    if (!p) {
      p = { pid, censuses: [], skipped: [], failed: [], growth: [], traces: [] };
      byPid.set(pid, p);
    }
    return p;
  };
  for (const e of events) {
    if (e.kind === 'census') get(e.pid).censuses.push(e);
    else if (e.kind === 'trace') get(e.pid).traces.push(e);
    else if (e.kind === 'note' && e.skippedCensus !== undefined && typeof e.pid === 'number') get(e.pid).skipped.push({ tMs: e.tMs, label: e.skippedCensus, text: e.text });
    else if (e.kind === 'note' && typeof e.pid === 'number') {
      // The sampler's note of a census that failed (sampler/agents.ts, failed()): "#5 failed" was
      // never listed, and "#6 skipped: #5 still running" then named a census nobody saw.
      const m = CENSUS_FAILED.exec(e.text);
      if (m) get(e.pid).failed.push({ tMs: e.tMs, label: m[1]!, text: m[2]! });
    }
  }
  for (const p of byPid.values()) {
    p.censuses.sort((a, b) => a.tMs - b.tMs);
    p.traces.sort((a, b) => a.tMs - b.tMs);
    for (let i = 1; i < p.censuses.length; i++) p.growth.push(censusGrowth(p.censuses[i - 1]!, p.censuses[i]!));
  }
  return [...byPid.values()];
}

/** Names close to `name` among `known` (case-insensitive substring, then edit distance ≤ 1/3 of the length), best first. */
export function closeNames(name: string, known: Iterable<string>, max = 5): string[] {
  const lower = name.toLowerCase();
  const scored: Array<{ n: string; d: number }> = [];
  for (const n of new Set(known)) {
    if (n === OTHER_ROW) continue;
    const l = n.toLowerCase();
    const short = l.slice(l.lastIndexOf('.') + 1);
    let d: number;
    if (l === lower || short === lower) d = 0;
    // A name inside the other ("Frame" in "DataFrame", "mymod.Record" for "Record"); a short name
    // must be most of the query, or "nothinglikeit" would suggest ast.Not.
    else if (l.includes(lower) || (short.length >= 4 && 2 * short.length >= lower.length && lower.includes(short))) d = 1;
    else d = 2 + Math.min(editDistance(lower, l), editDistance(lower, short));
    if (d <= 1 || d - 2 <= Math.max(1, Math.floor(lower.length / 3))) scored.push({ n, d });
  }
  scored.sort((a, b) => a.d - b.d || a.n.length - b.n.length || a.n.localeCompare(b.n));
  return scored.slice(0, max).map((s) => s.n);
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: "Lekay" is 1 from "Leaky". */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return 99;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
