/**
 * Growth between heap censuses (pympler's SummaryTracker, objgraph's show_growth), computed from
 * the census events of a recording or from two census results of a live run. Pure functions over
 * the model: `memhunt heap` prints them and the session uses pickGrowingType to choose what to
 * draw back-references for.
 */
import type { AllocationSitesEvent, HeapCensusEvent, HeapCensusRow, RecordingEvent } from '../model/recording';

/** The row of a census that sums the types beyond the top that was asked for. */
export const OTHER_ROW = '(other)';

export interface TypeGrowth {
  typeName: string;
  count: number;
  bytes: number;
  countDelta: number;
  bytesDelta: number;
  /** Absent from the previous census, which listed every type: a type that appeared. */
  isNew: boolean;
  /**
   * Absent from the previous census because it was below that census's top (its "(other)" row):
   * the deltas are then upper bounds (the type had between 0 and the smallest listed size).
   */
  wasUnlisted: boolean;
  /** Listed before, absent now: gone, or fell below the top. */
  isGone: boolean;
}

export interface CensusGrowth {
  pid: number;
  from: HeapCensusEvent;
  to: HeapCensusEvent;
  objectsDelta: number;
  totalBytesDelta: number;
  /** Every type whose count or size changed, largest growth in bytes first (shrinking ones last). */
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
    types.push({ typeName, count, bytes, countDelta, bytesDelta, isNew: !b && !fromTruncated, wasUnlisted: !b && fromTruncated, isGone: false });
  }
  for (const [typeName, count, bytes] of from.rows) {
    if (typeName === OTHER_ROW || seen.has(typeName)) continue;
    // Below the top now, or freed: only a census that lists every type can tell.
    if (toTruncated) continue;
    types.push({ typeName, count: 0, bytes: 0, countDelta: -count, bytesDelta: -bytes, isNew: false, wasUnlisted: false, isGone: true });
  }
  types.sort((a, b) => b.bytesDelta - a.bytesDelta || b.countDelta - a.countDelta || a.typeName.localeCompare(b.typeName));
  return { pid: to.pid, from, to, objectsDelta: to.objects - from.objects, totalBytesDelta: to.totalBytes - from.totalBytes, types };
}

/**
 * The type to draw back-references for after a census: the one that grew most in bytes, preferring
 * a program's own types over builtins (a leak of Record objects also grows dict — their __dict__ —
 * and on Python < 3.11 by more bytes than the records themselves; samples of "dict" would be
 * arbitrary dicts). A builtin is chosen only when no program type grew by a tenth as much.
 * Null when nothing grew.
 */
export function pickGrowingType(g: CensusGrowth): string | null {
  const growing = g.types.filter((t) => t.bytesDelta > 0 && t.countDelta > 0 && t.typeName !== OTHER_ROW);
  if (growing.length === 0) return null;
  const top = growing[0]!;
  const own = growing.find((t) => !isBuiltinType(t.typeName));
  if (own && own.bytesDelta * 10 >= top.bytesDelta) return own.typeName;
  return top.typeName;
}

export interface ProcessHeap {
  pid: number;
  censuses: HeapCensusEvent[];
  growth: CensusGrowth[];
  traces: AllocationSitesEvent[];
}

/** Censuses and trace snapshots of a recording per process (by first census), with the growth between consecutive censuses. */
export function heapByProcess(events: RecordingEvent[]): ProcessHeap[] {
  const byPid = new Map<number, ProcessHeap>();
  const get = (pid: number) => {
    let p = byPid.get(pid);
    if (!p) {
      p = { pid, censuses: [], growth: [], traces: [] };
      byPid.set(pid, p);
    }
    return p;
  };
  for (const e of events) {
    if (e.kind === 'census') get(e.pid).censuses.push(e);
    else if (e.kind === 'trace') get(e.pid).traces.push(e);
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
