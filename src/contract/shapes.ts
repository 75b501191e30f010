/**
 * What the in-process agents measure, declared once: the same bodies travel in the agent's reply
 * (src/agents/protocol.ts), in the recording's records (src/recording/spec.ts) and in the model's
 * events (src/model/recording.ts), each adding only its envelope (`type`/`t`, `kind`/`tMs`, the
 * agent's `wallMs`). The JSON Schema of the same shapes is docs/recording-format.schema.json
 * (definitions censusBody, traceBody, refsBody, isolatedBody and the pieces below); a test checks
 * that both name the same fields (src/contract/contract.test.ts). Sizes are bytes.
 *
 * Adding a field: add it here (or to the record/message in spec.ts/protocol.ts) and to the schema,
 * then `npm run gen:contract`. Readers and the socket validate with the schema, so nothing else
 * checks or defaults it.
 */

/** What made an agent look. */
export type AgentTrigger =
  /** --heap-every */
  | 'every'
  /** --on-threshold SIZE:snapshot */
  | 'threshold'
  /** `memhunt snapshot <pid>` / `memhunt refs <pid>` from another terminal */
  | 'client'
  /** the program itself: memhunt.snapshot("label") */
  | 'program';

/** One type of a census: its name, how many live objects, their total size (bytes). */
export type CensusRow = [typeName: string, count: number, bytes: number];

/** A heap census: live objects by type. */
export interface CensusBody {
  /** gc.collect() ran first (garbage cycles are then not counted). */
  collected: boolean;
  /** Objects reached: tracked by gc plus untracked ones reached through gc.get_referents. */
  objects: number;
  totalBytes: number;
  /** Largest bytes first; the last may be ["(other)", n, bytes], the types beyond the top asked for. */
  rows: CensusRow[];
  /** The program was paused this long. */
  durationMs: number;
  /**
   * Added in 1.x: RSS the census itself added to the process (after minus before, with the
   * agent's modules when this census loaded them). The program runs on meanwhile: what it
   * allocated during the census is in it too.
   */
  agentRssBytes?: number;
  /** How special types were sized (numpy nbytes, pandas memory_usage(deep=True)). */
  notes: string[];
  /** --largest N: the N objects that own the most memory, largest first (added within version 1). */
  largest?: LargeObject[];
  /** --duplicates: objects holding the same data (added within version 1). */
  duplicates?: DuplicatesBody;
}

/**
 * One object and where it is held. What it owns: a numpy array its own buffer (a view only its
 * header), a pandas DataFrame/Series the buffers of its blocks, bytes/str/bytearray their size, a
 * container its own storage (not its items).
 */
export interface LargeObject {
  typeName: string;
  bytes: number;
  /** dtype and shape, length, rows x columns. */
  label: string;
  /** One chain from a root: `__main__.cache['k'][3]`, `main() train.py:40: batch`; "(no root within N references)" when none was found. */
  path: string;
  /**
   * A list, tuple, dict or set: about how much it holds, its storage plus the numbers, strings and
   * containers of them only it references (estimated from samples); when more than `bytes` (added within version 1).
   */
  holdsBytes?: number;
}

/** A holder of duplicated data. */
export interface DuplicateHolder extends Omit<LargeObject, 'holdsBytes'> {
  /**
   * identical: the same data (the group's first holder is the reference); converted: the same values
   * in another dtype (float32 of float64); shares: a view of a holder's buffer (not a copy, not in
   * the total); changed: its data changed while it was compared (not grouped).
   */
  relation: 'identical' | 'converted' | 'shares' | 'changed';
  /** For `shares`: the index in the group's holders of the object whose memory it uses. */
  sharesWith?: number;
}

/** Objects whose data are equal. */
export interface DuplicateGroup {
  /** What the data are: "float64 values", "bytes", "text". */
  what: string;
  /** Memory of every holder (a list of numbers counts its storage and its items). */
  totalBytes: number;
  /** totalBytes less the smallest identical holder: what keeping one would save. */
  savedBytes: number;
  holders: DuplicateHolder[];
  /** Views of the holders' buffers: not copies, not counted. */
  sharing: DuplicateHolder[];
}

/** The duplicate search of a census. */
export interface DuplicatesBody {
  /** Objects with less data than this were not compared (--min-size). */
  minBytes: number;
  /** Objects of at least minBytes whose data can be compared, and their memory. */
  candidates: number;
  candidateBytes: number;
  /** Bytes read to confirm groups (sample hashes aside). */
  readBytes: number;
  durationMs: number;
  /** Most bytes saved first. */
  groups: DuplicateGroup[];
  /** Objects whose data changed while they were compared. */
  changed: DuplicateHolder[];
  /** What could not be compared and why (no numpy in the process, ...). */
  notes: string[];
}

/** One allocation site from tracemalloc: file:line and what was allocated there and is still alive. */
export interface AllocationSite {
  file: string;
  line: number;
  /** The source line, stripped; "" when unknown. */
  code: string;
  /** site-packages top-level package, "stdlib", or "(main)". */
  package: string;
  bytes: number;
  count: number;
  /** Growth since the agent's previous trace snapshot; null for its first. */
  bytesDelta: number | null;
}

/** Live traced memory of one package, and its growth since the previous snapshot (null for the first). */
export interface PackageShare {
  package: string;
  bytes: number;
  bytesDelta: number | null;
}

/** A tracemalloc snapshot: where the live memory Python allocated was allocated. */
export interface TraceBody {
  /** What Python's allocators hold now, and their peak since tracing started. */
  tracedBytes: number;
  tracedPeakBytes: number;
  /** The process's RSS then: rssBytes - tracedBytes - tracemallocBytes is memory Python did not allocate (native). */
  rssBytes: number;
  /** tracemalloc's own memory (a trace per live block, so it grows with a Python leak); absent in older recordings. */
  tracemallocBytes?: number;
  durationMs: number;
  bySize: AllocationSite[];
  byGrowth: AllocationSite[];
  byPackage: PackageShare[];
}

export type RefsNodeKind = 'sample' | 'object' | 'module' | 'frame' | 'class' | 'global';

export interface RefsNode {
  id: string;
  /** Type name. */
  type: string;
  /** A short repr (≤ 80 characters), or the module / global name for roots. */
  label: string;
  /** 'sample' (an object of the asked type), 'object', or the root kind. */
  kind: RefsNodeKind;
  /** sys.getsizeof; for a pandas object its own header only (what the census counts it by). */
  bytes: number;
  /** A pandas object: the buffers it owns as the census counts them (blocks, index, the items of
   *  its object columns), shown as "owns X" (its `bytes`, a header of ~56 B, said nothing). */
  ownsBytes?: number;
}

export interface RefsEdge {
  /** Referrer -> referent (who holds whom). */
  from: string;
  to: string;
  /** Attribute name, dict key, list index ("[3]"), or "" when unknown. */
  label: string;
}

/**
 * The agent stopped building the graph to bound how long it held the program (runtimes/python/lib/
 * memhunt/_refs.py BUDGET_MS): in the search for the type's objects (the samples are among the
 * objects examined, the newest first; `count` is then the latest census's when it has the type) or
 * in the chains (they stop where they were, or at a module global or a running function's local
 * that holds what they reached).
 */
export interface RefsCut {
  stage: 'search' | 'chains';
  /** 'time': the budget was spent; 'objects': enough objects of the type were found. */
  reason: 'time' | 'objects';
  /** The agent's CPU time on the graph when it was cut (ms): the time it held the program. */
  afterMs: number;
  /** Objects the search examined. */
  objectsExamined: number;
  /** The budget (ms); absent when there was none. */
  budgetMs?: number;
  /** A search that was cut: `count` is the latest census's ('census') or what it found, at least
   *  that many ('search'). */
  countFrom?: 'census' | 'search';
}

/** A back-reference graph: sample objects of a type and the chains of referrers that keep them alive. */
export interface RefsBody {
  typeName: string;
  /** Live objects of that type. */
  count: number;
  /** Whether every sample's chain reached a root (module global, frame, class) within the depth asked. */
  reachedRoot: boolean;
  nodes: RefsNode[];
  edges: RefsEdge[];
  /** Added in 1.x: the graph was cut to bound the time the program was held; absent when complete. */
  cut?: RefsCut;
}

/** memhunt.isolated(fn) ran fn in a child process, which has exited. */
export interface IsolatedBody {
  label: string;
  childPid: number;
  peakRssBytes: number;
  durationMs: number;
  /** fn returned (true) or raised (false). */
  ok: boolean;
}

/** A frame of a sampled stack: file, function (qualified name on Python 3.11+), line. */
export type AllocFrame = [file: string, name: string, line: number];

/** A stack first seen in this batch: its id (per process, from 1) and its frames, innermost first. */
export type AllocStack = [id: number, frames: AllocFrame[]];

/**
 * A sampled block: [sample id, stack id, size in bytes, thread ident, time]. The time is the
 * agent's wall clock (ms) in an event, ms since the recording's start in a record.
 */
export type AllocSampleRow = [id: number, stack: number, sizeBytes: number, thread: number, time: number];

/** A sampled block was freed: [sample id, time] (times as in AllocSampleRow). */
export type AllocFreeRow = [id: number, time: number];

export type AllocThread = [ident: number, name: string];

/** The hooks' counters since the process started sampling. */
export interface AllocStats {
  samples: number;
  frees: number;
  /** Samples not kept: the table of live samples was half full, or the agent was not draining. */
  dropped: number;
  sampledBytes: number;
  liveSamples: number;
  /** The hooks' own memory (table, filter, buffers). */
  ownBytes: number;
}

/**
 * A batch of sampled allocations of one process (`memhunt run --allocations`, docs/allocations.md).
 * A block of size s is sampled with probability 1 - exp(-s/meanBytes); its estimate is
 * s / (1 - exp(-s/meanBytes)) bytes and 1 / (1 - exp(-s/meanBytes)) objects.
 */
export interface AllocBody {
  meanBytes: number;
  stacks: AllocStack[];
  samples: AllocSampleRow[];
  frees: AllocFreeRow[];
  threads: AllocThread[];
  stats: AllocStats;
  /** numpy's array data is sampled too (numpy >= 1.22, in the context that imported numpy); absent = not. */
  numpy?: boolean;
}
