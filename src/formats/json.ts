/**
 * The whole model as one JSON document, for scripts and notebooks (`jq`, pandas), and the reader for
 * it. The document is specified by the types below; every field mirrors the model's field of the
 * same name (src/model/recording.ts), with these translations:
 * - a series is `{ "tMs": [...], "bytes": [...] }`: plain arrays, ms since the start and bytes;
 * - numbers the model keeps as NaN (an unknown `hwmBytes`) are `null` (JSON has no NaN);
 * - `format` comes first, so the file can be recognised from its first bytes.
 *
 * Unlike the recording format (.mh, streamed and crash-safe), this is written in one piece: a cut
 * JSON file cannot be read at all.
 */
import { contractProblem, type ContractName } from '../contract/validate';
import type { CensusBody, IsolatedBody, RefsBody, TraceBody } from '../contract/shapes';
import { CorruptRecordingError } from '../errors';
import type {
  AgentTrigger,
  CgroupMeta,
  CgroupSeries,
  MemoryMetric,
  MemoryRecording,
  ProcessTrack,
  RecordingEnd,
  RecordingEvent,
  RecordingMeta,
} from '../model/recording';
import { ModelError, SeriesBuilder, type Series } from '../model/series';

export const JSON_FORMAT = 'memhunt-json';
/** Version 1: first version (memhunt 0.1). A reader refuses a newer major version. */
export const JSON_VERSION = 1;

export interface JsonSeries {
  /** Sample times, ms since the recording's start, non-decreasing. */
  tMs: number[];
  /** Values, bytes; same length as tMs. */
  bytes: number[];
}

export interface JsonProcess {
  pid: number;
  ppid: number;
  command: string[];
  firstSeenMs: number;
  exitMs: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  rss: JsonSeries;
  anon: JsonSeries;
  file: JsonSeries;
  shmem: JsonSeries;
  pss: JsonSeries;
  uss: JsonSeries;
  /** VmHWM, bytes; null when unknown. */
  hwmBytes: number | null;
  /** Added within version 1: when its interpreter began its shutdown (ProcessTrack.teardownMs); absent when unknown. */
  teardownMs?: number;
}

export interface JsonCgroup {
  usage: JsonSeries;
  workingSet: JsonSeries;
  peak: JsonSeries;
  limit: JsonSeries;
}

export interface JsonRecording {
  format: typeof JSON_FORMAT;
  version: number;
  /** As RecordingMeta; `source` names the reader of the original file ('json' once read back). */
  meta: RecordingMeta;
  total: JsonSeries;
  totalPss: JsonSeries;
  processes: JsonProcess[];
  cgroup: JsonCgroup | null;
  /** As the model's RecordingEvent union; events of an unknown `kind` are skipped by the reader. */
  events: RecordingEvent[];
  end: RecordingEnd | null;
  /** What the reader of the original file tolerated. */
  warnings: string[];
  /** The original recording's tail was cut. */
  truncated: boolean;
}

const SNIFF = /^\uFEFF?\s*\{\s*"format"\s*:\s*"memhunt-json"/;

export function isJson(firstBytes: string): boolean {
  return SNIFF.test(firstBytes);
}

function toJsonSeries(s: Series): JsonSeries {
  return { tMs: Array.from(s.tMs), bytes: Array.from(s.values) };
}

export function writeJson(rec: MemoryRecording): string {
  const doc: JsonRecording = {
    format: JSON_FORMAT,
    version: JSON_VERSION,
    meta: rec.meta,
    total: toJsonSeries(rec.total),
    totalPss: toJsonSeries(rec.totalPss),
    processes: rec.processes.map((p) => ({
      pid: p.pid,
      ppid: p.ppid,
      command: p.command,
      firstSeenMs: p.firstSeenMs,
      exitMs: p.exitMs,
      exitCode: p.exitCode,
      exitSignal: p.exitSignal,
      rss: toJsonSeries(p.rss),
      anon: toJsonSeries(p.anon),
      file: toJsonSeries(p.file),
      shmem: toJsonSeries(p.shmem),
      pss: toJsonSeries(p.pss),
      uss: toJsonSeries(p.uss),
      hwmBytes: Number.isFinite(p.hwmBytes) ? p.hwmBytes : null,
      ...(p.teardownMs !== undefined ? { teardownMs: p.teardownMs } : {}),
    })),
    cgroup: rec.cgroup && {
      usage: toJsonSeries(rec.cgroup.usage),
      workingSet: toJsonSeries(rec.cgroup.workingSet),
      peak: toJsonSeries(rec.cgroup.peak),
      limit: toJsonSeries(rec.cgroup.limit),
    },
    events: rec.events,
    end: rec.end,
    warnings: rec.warnings,
    truncated: rec.truncated,
  };
  // Compact: one recording can hold millions of samples; `jq .` indents it for reading.
  return JSON.stringify(doc) + '\n';
}

/** Checks one JSON value against the shape the model needs; messages name the path ("processes[2].rss.tMs"). */
class Checker {
  constructor(private readonly path: string, private readonly value: unknown) {}

  /** The path of this value in the document, for messages. */
  get where(): string {
    return this.path || 'the document';
  }

  private fail(expected: string): never {
    const got = this.value === null ? 'null' : Array.isArray(this.value) ? 'an array' : typeof this.value;
    throw new CorruptRecordingError(`memhunt JSON: ${this.where} should be ${expected}, not ${got}`);
  }

  at(key: string): Checker {
    const obj = this.object();
    return new Checker(this.path ? `${this.path}.${key}` : key, obj[key]);
  }

  object(): Record<string, unknown> {
    if (typeof this.value !== 'object' || this.value === null || Array.isArray(this.value)) this.fail('an object');
    return this.value as Record<string, unknown>;
  }

  isNull(): boolean {
    return this.value === null || this.value === undefined;
  }

  number(): number {
    if (typeof this.value !== 'number' || !Number.isFinite(this.value)) this.fail('a number');
    return this.value;
  }

  numberOrNull(): number | null {
    return this.isNull() ? null : this.number();
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail('a string');
    return this.value;
  }

  stringOrNull(): string | null {
    return this.isNull() ? null : this.string();
  }

  boolean(): boolean {
    if (typeof this.value !== 'boolean') this.fail('true or false');
    return this.value;
  }

  oneOf<T extends string>(allowed: readonly T[]): T {
    const s = this.string();
    if (!(allowed as readonly string[]).includes(s)) this.fail(`one of ${allowed.join(', ')}`);
    return s as T;
  }

  oneOfNumbers<T extends number>(allowed: readonly T[]): T {
    const n = this.number();
    if (!(allowed as readonly number[]).includes(n)) this.fail(`one of ${allowed.join(', ')}`);
    return n as T;
  }

  items(): Checker[] {
    if (!Array.isArray(this.value)) this.fail('an array');
    return this.value.map((v, i) => new Checker(`${this.path}[${i}]`, v));
  }

  strings(): string[] {
    return this.items().map((c) => c.string());
  }

  series(): Series {
    const t = this.at('tMs').items();
    const v = this.at('bytes').items();
    if (t.length !== v.length) {
      throw new CorruptRecordingError(`memhunt JSON: ${this.path} has ${t.length} times but ${v.length} values`);
    }
    const b = new SeriesBuilder(this.path, Math.max(16, t.length));
    try {
      for (let i = 0; i < t.length; i++) b.push(t[i]!.number(), v[i]!.number());
    } catch (e) {
      if (e instanceof ModelError) throw new CorruptRecordingError(`memhunt JSON: ${e.message}`);
      throw e;
    }
    return b.build();
  }
}

const METRICS: readonly MemoryMetric[] = ['rss', 'pss', 'uss'];

function readMeta(c: Checker): RecordingMeta {
  const cg = c.at('cgroup');
  const cgroup: CgroupMeta | null = cg.isNull()
    ? null
    : {
        version: cg.at('version').oneOfNumbers([1, 2] as const),
        path: cg.at('path').string(),
        limitBytes: cg.at('limitBytes').numberOrNull(),
      };
  // Checked, then replaced: the model's `source` names the reader that made it, which is this one.
  c.at('source').oneOf(['memhunt', 'mprof', 'csv', 'json'] as const);
  return {
    source: 'json',
    formatVersion: c.at('formatVersion').numberOrNull(),
    memhuntVersion: c.at('memhuntVersion').stringOrNull(),
    mode: c.at('mode').oneOf(['run', 'attach', 'import'] as const),
    command: c.at('command').strings(),
    cwd: c.at('cwd').stringOrNull(),
    host: c.at('host').stringOrNull(),
    containerId: c.at('containerId').stringOrNull(),
    startWallMs: c.at('startWallMs').number(),
    intervalMs: c.at('intervalMs').numberOrNull(),
    metric: c.at('metric').oneOf(METRICS),
    limitBytes: c.at('limitBytes').numberOrNull(),
    cgroup,
    rootPid: c.at('rootPid').numberOrNull(),
  };
}

function readProcess(c: Checker): ProcessTrack {
  const teardownMs = c.at('teardownMs').numberOrNull();
  return {
    ...(teardownMs !== null ? { teardownMs } : {}),
    pid: c.at('pid').number(),
    ppid: c.at('ppid').number(),
    command: c.at('command').strings(),
    firstSeenMs: c.at('firstSeenMs').number(),
    exitMs: c.at('exitMs').numberOrNull(),
    exitCode: c.at('exitCode').numberOrNull(),
    exitSignal: c.at('exitSignal').stringOrNull(),
    rss: c.at('rss').series(),
    anon: c.at('anon').series(),
    file: c.at('file').series(),
    shmem: c.at('shmem').series(),
    pss: c.at('pss').series(),
    uss: c.at('uss').series(),
    hwmBytes: c.at('hwmBytes').numberOrNull() ?? NaN,
  };
}

/** Null for an event kind this version does not know (a later memhunt's); the caller counts them. */
function readEvent(c: Checker): RecordingEvent | null {
  const kind = c.at('kind').string();
  const pid = (): number | null => c.at('pid').numberOrNull();
  /** What every census and allocation snapshot says first: when, where, why. */
  const agentLook = () => ({ tMs: c.at('tMs').number(), pid: c.at('pid').number(), label: c.at('label').string(), trigger: c.at('trigger').oneOf(TRIGGERS) });
  switch (kind) {
    case 'mark':
      return { kind, tMs: c.at('tMs').number(), pid: pid(), label: c.at('label').string() };
    case 'section': {
      const e: RecordingEvent = {
        kind,
        startMs: c.at('startMs').number(),
        endMs: c.at('endMs').numberOrNull(),
        pid: pid(),
        label: c.at('label').string(),
        level: c.at('level').number(),
      };
      if (!c.at('startBytes').isNull()) e.startBytes = c.at('startBytes').number();
      if (!c.at('endBytes').isNull()) e.endBytes = c.at('endBytes').number();
      return e;
    }
    case 'limit-exceeded':
      return {
        kind,
        tMs: c.at('tMs').number(),
        metric: c.at('metric').oneOf(METRICS),
        bytes: c.at('bytes').number(),
        limitBytes: c.at('limitBytes').number(),
      };
    case 'oom-kill':
      return { kind, tMs: c.at('tMs').number(), oomKills: c.at('oomKills').number() };
    case 'note': {
      const e: RecordingEvent = { kind, tMs: c.at('tMs').number(), text: c.at('text').string() };
      const notePid = pid();
      if (notePid !== null) e.pid = notePid;
      return e;
    }
    case 'threshold':
      return {
        kind,
        tMs: c.at('tMs').number(),
        bytes: c.at('bytes').number(),
        thresholdBytes: c.at('thresholdBytes').number(),
        action: c.at('action').oneOf(THRESHOLD_ACTIONS),
        command: c.at('command').stringOrNull(),
        note: c.at('note').stringOrNull(),
      };
    case 'action-output':
      return {
        kind,
        tMs: c.at('tMs').number(),
        command: c.at('command').string(),
        exitCode: c.at('exitCode').numberOrNull(),
        exitSignal: c.at('exitSignal').stringOrNull(),
        output: c.at('output').string(),
      };
    case 'agent':
      return {
        kind,
        tMs: c.at('tMs').number(),
        pid: c.at('pid').number(),
        runtime: c.at('runtime').oneOf(['python', 'node'] as const),
        runtimeVersion: c.at('runtimeVersion').string(),
        features: c.at('features').strings(),
      };
    // Agent events: the measured body is declared once (src/contract/shapes.ts) and checked with
    // the schema; only the envelope is read here.
    case 'census':
      return { kind, ...agentLook(), ...body<CensusBody>(c, 'censusBody') };
    case 'trace': {
      const b = body<TraceBody>(c, 'traceBody');
      return { kind, ...agentLook(), ...b, tracemallocBytes: b.tracemallocBytes ?? 0 };
    }
    case 'refs':
      return { kind, tMs: c.at('tMs').number(), pid: c.at('pid').number(), trigger: c.at('trigger').oneOf(TRIGGERS), ...body<RefsBody>(c, 'refsBody') };
    case 'isolated':
      return { kind, tMs: c.at('tMs').number(), pid: c.at('pid').number(), ...body<IsolatedBody>(c, 'isolatedBody') };
    default:
      return null;
  }
}

const THRESHOLD_ACTIONS = ['mark', 'stop', 'kill', 'exec', 'snapshot', 'break'] as const;
const TRIGGERS: readonly AgentTrigger[] = ['every', 'threshold', 'client', 'program'];
/** The model's envelope of agent events; the rest of the event is the body. */
const ENVELOPE = new Set(['kind', 'tMs', 'pid', 'trigger']);

/** The body of an agent event (everything but its envelope), checked against its schema definition; fields it does not declare are dropped. */
function body<T>(c: Checker, name: ContractName): T {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c.object())) if (!ENVELOPE.has(k)) rest[k] = v;
  const problem = contractProblem(name, rest);
  if (problem !== null) throw new CorruptRecordingError(`memhunt JSON: ${c.where}: ${problem}`);
  return rest as T;
}

function readEnd(c: Checker): RecordingEnd | null {
  if (c.isNull()) return null;
  return {
    tMs: c.at('tMs').number(),
    reason: c.at('reason').oneOf(['exited', 'signalled', 'limit', 'oom-killer', 'detached', 'interrupted'] as const),
    exitCode: c.at('exitCode').numberOrNull(),
    exitSignal: c.at('exitSignal').stringOrNull(),
  };
}

/** Reads a document writeJson wrote. Null when it does not start like one; CorruptRecordingError when it does but cannot be read. */
export function readJson(text: string): MemoryRecording | null {
  if (!isJson(text.slice(0, 4096))) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (e) {
    throw new CorruptRecordingError(`memhunt JSON: not valid JSON (${(e as Error).message}); a cut file cannot be read`);
  }
  const c = new Checker('', doc);
  const version = c.at('version').number();
  if (Math.floor(version) > JSON_VERSION) {
    throw new CorruptRecordingError(`memhunt JSON version ${version} is newer than this memhunt reads (${JSON_VERSION}): update memhunt`);
  }
  const warnings = c.at('warnings').strings();
  let unknownEvents = 0;
  const events: RecordingEvent[] = [];
  // An event of the wrong shape loses only itself (the .mh reader's rule for records).
  const skipped: string[] = [];
  for (const item of c.at('events').items()) {
    let e: RecordingEvent | null;
    try {
      e = readEvent(item);
    } catch (err) {
      if (!(err instanceof CorruptRecordingError)) throw err;
      skipped.push(`${err.message.replace(/^memhunt JSON: /, '')}; that event was skipped`);
      continue;
    }
    if (e) events.push(e);
    else unknownEvents++;
  }
  warnings.push(...skipped.slice(0, 10));
  if (skipped.length > 10) warnings.push(`${skipped.length - 10} more events were skipped for the same kinds of reasons`);
  if (unknownEvents > 0) warnings.push(`${unknownEvents} event(s) of a kind this memhunt does not know were skipped`);
  const cg = c.at('cgroup');
  const cgroup: CgroupSeries | null = cg.isNull()
    ? null
    : {
        usage: cg.at('usage').series(),
        workingSet: cg.at('workingSet').series(),
        peak: cg.at('peak').series(),
        limit: cg.at('limit').series(),
      };
  return {
    meta: readMeta(c.at('meta')),
    total: c.at('total').series(),
    totalPss: c.at('totalPss').series(),
    processes: c.at('processes').items().map(readProcess),
    cgroup,
    events,
    end: readEnd(c.at('end')),
    warnings,
    truncated: c.at('truncated').boolean(),
  };
}
