/**
 * Commands that look inside Python processes through the in-process agents:
 *   memhunt snapshot <pid>        a census of a running, agent-injected process (recorded in its run)
 *   memhunt heap [recording]      the censuses of a recording and the growth between them
 *   memhunt refs [rec|pid]        who keeps objects of a type alive: text chains, DOT, SVG or PNG
 *   memhunt python-path           the directory of the `memhunt` Python package
 */
import * as path from 'node:path';
import { Command } from 'commander';
import { askHost, findAgentTarget, type AgentTarget } from '../agents/client';
import { censusGrowth, closeNames, heapByProcess, OTHER_ROW, type CensusGrowth, type ProcessHeap, type SkippedCensus } from '../agents/heap';
import type { CensusResult, RefsResult } from '../agents/protocol';
import { countPrefix, refsChains, refsCutText, refsToDot, type RefsGraph } from '../agents/refs';
import { pythonRuntimeDirs } from '../agents/runtime';
import { InputError } from '../errors';
import { checkOutput, OUTPUT_KINDS, writeOutputFile } from '../fsutil';
import type { AgentConnectedEvent, AllocationSitesEvent, HeapCensusEvent, MemoryRecording, RefsGraphEvent } from '../model/recording';
import { censusWorkMs } from '../analysis/summary';
import { duplicatesLines, largestLines, resolveLargestOptions } from '../agents/largest';
import { formatBytes, formatClock, formatCount, formatDuration, parseDuration } from '../units';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { shortCommand } from '../model/command';
import { notice, out, outJson } from './output';
import { helpProse } from './help';

function parsePid(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InputError(`"${text}" is not a process id`);
  return Number(text);
}

function parseCount(text: string, what: string, max = 100_000): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw new InputError(`${what} "${text}" must be a whole number from 1 to ${max}`);
  return Number(text);
}

const int = formatCount;
const signedInt = (n: number) => `${n > 0 ? '+' : n < 0 ? '−' : '±'}${int(Math.abs(n))}`;
const signedBytes = (n: number) => `${n > 0 ? '+' : n < 0 ? '−' : '±'}${formatBytes(Math.abs(n))}`;

// ------------------------------------------------------------------------------------ snapshot

export function formatCensus(pid: number, c: CensusResult, top: number): string {
  const lines = [
    `pid ${pid}: ${int(c.objects)} objects, ${formatBytes(c.totalBytes)} ` +
      `(census took ${formatDuration(c.durationMs ?? 0)}, ${c.collected ? 'after gc.collect()' : 'without gc.collect(): garbage cycles not yet collected are counted'})`,
    `${'size'.padStart(11)}  ${'count'.padStart(11)}  type`,
  ];
  for (const [name, count, bytes] of c.rows.slice(0, top + 1)) {
    lines.push(`${formatBytes(bytes).padStart(11)}  ${int(count).padStart(11)}  ${name}`);
  }
  for (const n of c.notes ?? []) lines.push(`note: ${n}`);
  if (c.largest) lines.push(...largestLines(c.largest));
  if (c.duplicates) lines.push(...duplicatesLines(c.duplicates));
  return lines.join('\n');
}


// ------------------------------------------------------------------------------------ heap

function growthLines(g: CensusGrowth, top: number): string[] {
  const out = [
    `  growth ${formatClock(g.from.tMs)} → ${formatClock(g.to.tMs)} (${g.from.label || g.from.trigger} → ${g.to.label || g.to.trigger}): ` +
      `${signedInt(g.objectsDelta)} objects, ${signedBytes(g.totalBytesDelta)}`,
  ];
  const grew = g.types.filter((t) => t.bytesDelta > 0 || t.countDelta > 0);
  const shrank = g.types.filter((t) => !(t.bytesDelta > 0 || t.countDelta > 0));
  if (grew.length === 0) out.push('    no type grew');
  else out.push(`    ${'score'.padStart(5)}  ${'count'.padStart(10)}  ${'size Δ'.padStart(11)}  ${'count Δ'.padStart(10)}  ${'size'.padStart(10)}  type`);
  for (const t of grew.slice(0, top)) {
    const tag = t.isNew ? '  (new)' : t.wasUnlisted ? '  (below the previous census\'s top: at most this much)' : '';
    out.push(
      `    ${t.score.toFixed(2).padStart(5)}  ${int(t.count).padStart(10)}  ${signedBytes(t.bytesDelta).padStart(11)}  ` +
        `${signedInt(t.countDelta).padStart(10)}  ${formatBytes(t.bytes).padStart(10)}  ${t.typeName}${tag}`,
    );
  }
  if (grew.length > top) out.push(`    … ${grew.length - top} more types grew (--top ${grew.length})`);
  const fell = shrank.filter((t) => t.bytesDelta < 0).slice(-3).reverse();
  if (fell.length) out.push(`    shrank most: ${fell.map((t) => `${t.typeName} ${signedBytes(t.bytesDelta)}${t.isGone ? ' (gone)' : ''}`).join(', ')}`);
  return out;
}

function site(s: AllocationSitesEvent['bySize'][number]): string {
  const code = s.code ? `  ${s.code.length > 60 ? `${s.code.slice(0, 59)}…` : s.code}` : '';
  return `${s.file}:${s.line}${code}${s.package ? `  [${s.package}]` : ''}`;
}

/**
 * Memory Python's allocators did not hand out: RSS less what tracemalloc traced and less
 * tracemalloc's own traces, which grow with every live block (a Python leak would otherwise look
 * like a native one).
 */
function nativeBytes(t: AllocationSitesEvent): number {
  return t.rssBytes - t.tracedBytes - t.tracemallocBytes;
}

function traceLines(traces: AllocationSitesEvent[], top: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < traces.length; i++) {
    const t = traces[i]!;
    const native = nativeBytes(t);
    const prev = i > 0 ? traces[i - 1]! : null;
    const nativeText = prev ? ` (${signedBytes(native - nativeBytes(prev))})` : '';
    const own = t.tracemallocBytes > 0 ? `, tracemalloc's own ${formatBytes(t.tracemallocBytes)}` : '';
    out.push(
      `  allocations at ${formatClock(t.tMs)} (${t.label || t.trigger}): traced ${formatBytes(t.tracedBytes)}` +
        `${prev ? ` (${signedBytes(t.tracedBytes - prev.tracedBytes)})` : ''}, RSS ${formatBytes(t.rssBytes)}${own}, ` +
        `native (${t.tracemallocBytes > 0 ? 'RSS − traced − tracemalloc' : 'RSS − traced'}) ${formatBytes(native)}${nativeText}`,
    );
    if (!prev) {
      for (const s of t.bySize.slice(0, Math.min(top, 5))) out.push(`    ${formatBytes(s.bytes).padStart(11)}  ${site(s)}`);
      continue;
    }
    const grew = t.byGrowth.filter((s) => (s.bytesDelta ?? 0) > 0).slice(0, top);
    if (grew.length === 0) out.push('    no allocation site grew');
    for (const s of grew) out.push(`    ${signedBytes(s.bytesDelta ?? 0).padStart(11)}  ${site(s)}`);
    const pk = t.byPackage.filter((p) => (p.bytesDelta ?? 0) !== 0).sort((a, b) => (b.bytesDelta ?? 0) - (a.bytesDelta ?? 0)).slice(0, 5);
    if (pk.length) out.push(`    by package: ${pk.map((p) => `${p.package} ${signedBytes(p.bytesDelta ?? 0)}`).join(', ')}`);
  }
  return out;
}

/** The largest objects and the duplicates of a process's latest census that has them (--largest, --duplicates). */
function largestOfProcess(h: ProcessHeap, top: number): string[] {
  const lines: string[] = [];
  const withLargest = h.censuses.filter((c) => c.largest);
  const withDups = h.censuses.filter((c) => c.duplicates);
  const last = withLargest[withLargest.length - 1];
  if (last?.largest) {
    lines.push(`  at ${formatClock(last.tMs)} (${last.label || last.trigger}):`);
    lines.push(...largestLines(last.largest.slice(0, top), '  '));
  }
  const lastDup = withDups[withDups.length - 1];
  if (lastDup?.duplicates) {
    if (lastDup !== last) lines.push(`  at ${formatClock(lastDup.tMs)} (${lastDup.label || lastDup.trigger}):`);
    lines.push(...duplicatesLines(lastDup.duplicates, '  '));
    const saved = withDups.map((c) => `${formatClock(c.tMs)} ${formatBytes(c.duplicates!.groups.reduce((a, g) => a + g.savedBytes, 0))}`);
    if (withDups.length > 1) lines.push(`  duplicated data over the run (bytes keeping one copy would save): ${saved.join(', ')}`);
  }
  return lines;
}

export function formatHeap(rec: MemoryRecording, heaps: ProcessHeap[], top: number): string {
  const lines: string[] = [];
  for (const h of heaps) {
    const proc = rec.processes.find((p) => p.pid === h.pid);
    // What is listed is counted: every census asked for, then how many were taken, skipped, failed
    // ("3 censuses (1 failed, 2 skipped)" read as 3 + 1 + 2 or as 3 in all).
    const asked = h.censuses.length + h.failed.length + h.skipped.length;
    const censusCount = (n: number) => `${n} census${n === 1 ? '' : 'es'}`;
    const counted = asked === h.censuses.length
      ? censusCount(asked)
      : `${censusCount(asked)} due: ${h.censuses.length} taken` + (h.skipped.length ? `, ${h.skipped.length} skipped` : '') + (h.failed.length ? `, ${h.failed.length} failed` : '');
    lines.push(`pid ${h.pid}${proc ? ` ${shortCommand(proc.command, 60)}` : ''}: ${counted}` +
      (h.traces.length ? `, ${h.traces.length} allocation snapshot${h.traces.length === 1 ? '' : 's'}` : ''));
    const labelWidth = Math.min(40, Math.max(...h.censuses.map((c) => (c.label || c.trigger).length), ...h.skipped.map((s) => s.label.length), ...h.failed.map((s) => s.label.length)));
    const fit = (label: string) => (label.length > labelWidth ? `${label.slice(0, labelWidth - 1)}…` : label.padEnd(labelWidth));
    const timeline = [
      ...h.censuses.map((c) => ({ tMs: c.askedTMs ?? c.tMs, label: c.label, line: `  ${formatClock(c.askedTMs ?? c.tMs)}  ${fit(c.label || c.trigger)} ${int(c.objects).padStart(12)} objects  ${formatBytes(c.totalBytes).padStart(10)}${c.collected ? '' : '  (no gc.collect() first)'}${censusCost(c.agentRssBytes)}${censusTook(c)}${censusLate(c)}` })),
      ...h.skipped.map((s) => ({ tMs: s.tMs, label: s.label, line: `  ${formatClock(s.tMs)}  ${fit(s.label)} skipped: ${s.text.replace(/^census .*? skipped: /, '')}` })),
      ...h.failed.map((s) => {
        // Listed when it was asked, as the others: the skips it caused say how long it had been
        // under way (a census that failed when the program ended was listed at its end, after the
        // ones due later: trial under load).
        const asked = askedFromSkips(s.label, h.skipped) ?? s.tMs;
        return { tMs: asked, label: s.label, line: `  ${formatClock(asked)}  ${fit(s.label)} failed${asked < s.tMs - 50 ? ` at ${formatClock(s.tMs)}` : ''}: ${s.text.split('\n')[0]}` };
      }),
    ];
    for (const l of inNumberOrder(timeline)) lines.push(l.line);
    if (h.skipped.length) lines.push(`  ${h.skipped.length} census${h.skipped.length === 1 ? ' was' : 'es were'} skipped (a census pauses the program; a shorter --heap-every than a census takes skips some)`);
    if (h.censuses.length > 1) lines.push('  growth ranked by score = share of the new objects + share of the new bytes (0-2; README "Heap growth")');
    if (h.censuses.length === 1) {
      const c = h.censuses[0]!;
      lines.push('  largest types (one census: no growth to show):');
      for (const [name, count, bytes] of c.rows.filter((r) => r[0] !== OTHER_ROW).slice(0, top)) lines.push(`    ${formatBytes(bytes).padStart(11)}  ${int(count).padStart(10)}  ${name}`);
    }
    for (const g of h.growth) lines.push(...growthLines(g, top));
    lines.push(...largestOfProcess(h, top));
    if (h.growth.length >= 3) {
      const first = h.censuses[0]!;
      const last = h.censuses[h.censuses.length - 1]!;
      lines.push(`  overall ${formatClock(first.tMs)} → ${formatClock(last.tMs)}:`);
      const all = censusGrowth(first, last);
      lines.push(...growthLines(all, top).slice(1));
    }
    lines.push(...traceLines(h.traces, top));
    lines.push('');
  }
  lines.push(...largestOfTree(heaps, top));
  return lines.join('\n');
}

/** With --largest in several processes: the largest objects of the tree, from each process's latest such census. */
function largestOfTree(heaps: ProcessHeap[], top: number): string[] {
  const latest = heaps.flatMap((h) => {
    const c = h.censuses.filter((x) => x.largest).pop();
    return c?.largest ? [{ pid: h.pid, objects: c.largest }] : [];
  });
  if (latest.length < 2) return [];
  const all = latest.flatMap((l) => l.objects.map((o) => ({ ...o, path: `pid ${l.pid}: ${o.path}` }))).sort((a, b) => b.bytes - a.bytes);
  return [...largestLines(all.slice(0, top)).map((l, i) => (i === 0 ? l.replace('largest objects', `largest objects of the ${latest.length} processes`) : l)), ''];
}

function heapJson(rec: MemoryRecording, file: string, heaps: ProcessHeap[], top: number): object {
  return {
    recording: file,
    processes: heaps.map((h) => ({
      pid: h.pid,
      command: rec.processes.find((p) => p.pid === h.pid)?.command ?? null,
      censuses: h.censuses.map((c) => ({
        tMs: c.tMs, ...(c.askedTMs !== undefined ? { askedTMs: c.askedTMs } : {}), label: c.label, trigger: c.trigger, collected: c.collected, objects: c.objects, totalBytes: c.totalBytes, ...(c.agentRssBytes !== undefined ? { agentRssBytes: c.agentRssBytes } : {}), rows: c.rows.slice(0, top),
        ...(c.largest ? { largest: c.largest.slice(0, top) } : {}), ...(c.duplicates ? { duplicates: c.duplicates } : {}),
      })),
      skipped: h.skipped,
      failed: h.failed,
      growth: h.growth.map((g) => ({
        fromMs: g.from.tMs, toMs: g.to.tMs, objectsDelta: g.objectsDelta, totalBytesDelta: g.totalBytesDelta,
        types: g.types.slice(0, top),
      })),
      traces: h.traces.map((t) => ({
        tMs: t.tMs, label: t.label, trigger: t.trigger, tracedBytes: t.tracedBytes, rssBytes: t.rssBytes, tracemallocBytes: t.tracemallocBytes, nativeBytes: nativeBytes(t),
        byGrowth: t.byGrowth.slice(0, top), bySize: t.bySize.slice(0, top), byPackage: t.byPackage,
      })),
    })),
  };
}

/** How to get censuses, from what the recording shows about why it has none (issue 12: the advice must match what was recorded). */
export function noCensusAdvice(rec: MemoryRecording, pid: number | null): string {
  const how = 'memhunt run --heap-every 30s -- <command>';
  if (rec.meta.source !== 'memhunt') return `an ${rec.meta.source === 'mprof' ? 'mprof .dat' : rec.meta.source.toUpperCase()} file holds memory over time only; record with ${how}`;
  if (rec.meta.mode === 'attach') return `memhunt attach does not inject the agent that takes censuses; record with ${how}`;
  const agents = rec.events.filter((e): e is AgentConnectedEvent => e.kind === 'agent' && (pid === null || e.pid === pid));
  if (agents.length > 0) {
    const n = new Set(agents.map((e) => e.pid)).size;
    return `the agent ran in ${n} Python process${n === 1 ? '' : 'es'} but took no census (none was asked for, or the run ended before the first); ` +
      'record some with memhunt run --heap-every 30s ' +
      '(or --on-threshold SIZE:snapshot, memhunt snapshot <pid>, memhunt.snapshot() in the program)';
  }
  const isPython = (argv: string[]) => /^python[\d.]*$/.test(path.basename(argv[0] ?? '')) || argv.some((a) => a.endsWith('.py'));
  const python = rec.processes.filter((p) => (pid === null || p.pid === pid) && isPython(p.command));
  if (python.length === 0) return `no Python process ran in it: heap censuses need a Python target (${pid !== null ? `pid ${pid}` : 'its processes'} ran ${shortCommand(rec.processes.find((p) => pid === null || p.pid === pid)?.command ?? rec.meta.command, 40)})`;
  return `its Python processes ran without memhunt's agent (--no-agent, or a Python older than 3.8); record with ${how}`;
}

// ------------------------------------------------------------------------------------ refs

type RefsFormat = 'svg' | 'png' | 'dot';

function outputFormat(file: string): RefsFormat {
  const ext = path.extname(file).toLowerCase().slice(1);
  if (ext === 'svg' || ext === 'png' || ext === 'dot' || ext === 'gv') return ext === 'gv' ? 'dot' : ext;
  throw new InputError(`-o ${file}: use a .svg, .png or .dot file`);
}

async function writeRefs(g: RefsGraph, file: string, force: boolean): Promise<void> {
  const fmt = outputFormat(file);
  const dot = refsToDot(g);
  if (fmt === 'dot') {
    writeOutputFile(file, dot, OUTPUT_KINDS.dot, force);
    return;
  }
  // Loaded on use: Graphviz (WASM) and resvg (native) cost ~15 MB and 50 ms at start-up, which
  // every other command, `run` above all, would otherwise pay.
  const { dotToSvg, svgToPng } = await import('../agents/refs-render');
  const svg = await dotToSvg(dot);
  writeOutputFile(file, fmt === 'svg' ? svg : svgToPng(svg), OUTPUT_KINDS[fmt], force);
}

/** "Leaky" matches "leaky.Leaky" or "__main__.Leaky" when it is the only type of that short name. */
function resolveShortName(name: string, known: Iterable<string>): string | null {
  const all = [...new Set(known)];
  if (all.includes(name)) return name;
  const hits = all.filter((k) => k.slice(k.lastIndexOf('.') + 1) === name);
  return hits.length === 1 ? hits[0]! : null;
}

function unknownType(name: string, where: string, known: Iterable<string>, hint: string): InputError {
  // Never the asked name itself: "no objects of type X …; close names: X" says nothing.
  const close = closeNames(name, known).filter((n) => n !== name);
  return new InputError(`no objects of type "${name}" ${where}; ${close.length ? `close names: ${close.join(', ')}` : hint}`);
}

/** The last part of a census name: "DataFrame" of pandas.core.frame.DataFrame (what --refs-type takes too). */
function shortName(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

async function liveRefs(pid: number, typeName: string | null, samples: number, depth: number, timeoutMs: number): Promise<RefsGraph> {
  const target = findAgentTarget(pid);
  const ask = (t: string | null) => askHost<RefsResult>(target, { type: 'client-refs', pid, typeName: t, samples, maxDepth: depth }, timeoutMs);
  try {
    return { pid, ...(await ask(typeName)) };
  } catch (e) {
    if (typeName === null || !(e instanceof InputError) || /has ended|did not answer|cannot connect|no agent/.test(e.message)) throw e;
    // The agent refused the name: find what it might have meant from a census of the same process.
    const names = await censusTypeNames(target, timeoutMs);
    const resolved = resolveShortName(typeName, names);
    if (resolved && resolved !== typeName) return { pid, ...(await ask(resolved)) };
    if (resolved === null) throw unknownType(typeName, `alive in pid ${pid}`, names, `memhunt snapshot ${pid} lists its types`);
    throw e;
  }
}

async function censusTypeNames(target: AgentTarget, timeoutMs: number): Promise<string[]> {
  const c = await askHost<CensusResult>(target, { type: 'client-census', pid: target.pid, collect: false, top: 5000, label: 'memhunt refs: type names' }, timeoutMs);
  return c.rows.map((r) => r[0]);
}

function recordedRefs(rec: MemoryRecording, file: string, typeName: string | null, pid: number | null): { graph: RefsGraph; others: RefsGraphEvent[] } {
  const all = rec.events.filter((e): e is RefsGraphEvent => e.kind === 'refs' && (pid === null || e.pid === pid));
  const howToGet = (name: string) =>
    `get one from the running process with memhunt refs <pid> --type ${name}, or record them during the run with ` +
    `memhunt run --heap-every 30s --refs-type ${shortName(name)} -- …`;
  if (all.length === 0) {
    throw new InputError(
      `${file} has no back-reference graphs${pid !== null ? ` of pid ${pid}` : ''}: memhunt run records them with --heap-every (for the type that grows ` +
        `persistently) and --on-threshold SIZE:snapshot; ${howToGet(typeName ?? 'NAME')}`,
    );
  }
  let chosen = all;
  if (typeName !== null) {
    const graphTypes = [...new Set(all.map((e) => e.typeName))];
    const resolved = resolveShortName(typeName, graphTypes);
    chosen = all.filter((e) => e.typeName === resolved);
    if (chosen.length === 0) {
      const has = `it has graphs of ${graphTypes.join(', ')}`;
      const censusNames = rec.events.flatMap((e) => (e.kind === 'census' && (pid === null || e.pid === pid) ? e.rows.map((r) => r[0]) : [])).filter((n) => n !== OTHER_ROW);
      const inCensus = resolveShortName(typeName, censusNames);
      if (inCensus !== null) {
        throw new InputError(`${file} has no back-reference graph of ${inCensus} (its censuses count them; ${has}): ${howToGet(inCensus)}`);
      }
      const ambiguous = [...new Set([...graphTypes, ...censusNames])].filter((n) => shortName(n) === typeName);
      if (ambiguous.length > 1) throw new InputError(`"${typeName}" names several types in ${file}: ${ambiguous.join(', ')}; give the full name`);
      throw unknownType(typeName, `in the censuses or graphs of ${file}`, [...graphTypes, ...censusNames], has);
    }
  }
  const last = chosen[chosen.length - 1]!;
  return { graph: last, others: chosen.slice(0, -1) };
}

// ------------------------------------------------------------------------------------ register

export function registerAgentCommands(program: Command): void {
  program
    .command('snapshot')
    .summary('a heap census of a running Python process started by memhunt run')
    .description(
      'Ask the agent inside a running Python process (started by `memhunt run`, whose agent is on by ' +
        'default) for a heap census: live objects by type, count and total size, largest first. The ' +
        'census is also written to the run\'s recording (memhunt heap shows it with the others).',
    )
    .argument('<pid>', 'the Python process (any process of the run\'s tree)')
    .option('--collect', 'run gc.collect() first (garbage cycles not yet collected are then not counted)')
    .option('--top <n>', 'types to list', '25')
    .option('--json', 'print the census as JSON')
    .option('--largest <n>', 'also the N objects that own the most memory (an array its buffer, a DataFrame its blocks), each with one chain from a root')
    .option('--duplicates', 'also the objects holding the same data: bytes, str, numpy arrays (any strides), DataFrame columns, lists of numbers; dtype conversions (float32 of float64) as "converted"; views as "shares"')
    .option('--min-size <size>', 'with --duplicates: compare objects with at least this much data (default: 1MiB)')
    .option('--timeout <duration>', 'how long to wait for the census', '120s')
    .addHelpText('after', helpProse(`
Examples:
  memhunt snapshot 4242                 the 25 largest types in pid 4242
  memhunt snapshot 4242 --collect --top 50
  memhunt snapshot 4242 --largest 20    the 20 biggest objects and who holds each
  memhunt snapshot 4242 --duplicates --min-size 10MiB    the same data held twice (or converted)
  memhunt snapshot $(pgrep -f train.py) --json | jq '.rows[:5]'

--largest 0, --min-size 0 or a size without a unit (--min-size 5: 5 what?) is refused with one
line, exit 2. --duplicates in a process without numpy compares bytes, str and lists (a note says so).

A process that memhunt run did not start (or started with --no-agent) has no agent: memhunt
says so and exits 2.`))
    .action(async (pidText: string, flags: { collect?: boolean; top: string; json?: boolean; timeout: string; largest?: string; duplicates?: boolean; minSize?: string }) => {
      const pid = parsePid(pidText);
      const top = parseCount(flags.top, '--top');
      const timeoutMs = parseDuration(flags.timeout, '--timeout');
      const extra = resolveLargestOptions(flags);
      const target = findAgentTarget(pid);
      const c = await askHost<CensusResult>(target, { type: 'client-census', pid, collect: flags.collect === true, top, ...extra }, timeoutMs);
      if (flags.json) {
        outJson({ pid, recording: target.recordingPath, ...c });
        return;
      }
      out(formatCensus(pid, c, top) + '\n');
      if (target.recordingPath) notice(`recorded in ${target.recordingPath} (memhunt heap ${target.recordingPath})`);
    });

  program
    .command('heap')
    .summary('heap censuses of a recording and the growth between them, per process')
    .description(
      'The heap censuses of a recording (from --heap-every, --on-threshold SIZE:snapshot, ' +
        'memhunt snapshot <pid> and memhunt.snapshot() in the program) and, per process, the growth ' +
        'between consecutive ones: types that appeared, count and size deltas, largest growth first. ' +
        'With --trace-allocations also the allocation sites that grew (file:line and code), growth ' +
        'by package, and the native part (RSS − what Python\'s allocators traced).',
    )
    .argument('[recording]', 'file or index (default: the newest)')
    .option('--pid <pid>', 'only this process')
    .option('--top <n>', 'types and sites per step', '10')
    .option('--json', 'print as JSON')
    .addHelpText('after', helpProse(`
Examples:
  memhunt run --heap-every 30s -o run.mh -- python3 train.py
  memhunt heap run.mh                  censuses and growth per process
  memhunt heap run.mh --pid 4242 --top 20
  memhunt heap --json | jq '.processes[0].growth[-1].types[:3]'`))
    .action(async (arg: string | undefined, flags: { pid?: string; top: string; json?: boolean }) => {
      const file = arg ? resolveRecordingArg(arg) : newestRecording('.');
      const top = parseCount(flags.top, '--top');
      const pid = flags.pid === undefined ? null : parsePid(flags.pid);
      const rec = await loadRecording(file);
      for (const w of rec.warnings) notice(`${file}: ${w}`);
      const heaps = heapByProcess(rec.events).filter((h) => pid === null || h.pid === pid);
      if (flags.json) {
        outJson(heapJson(rec, file, heaps, top));
        return;
      }
      if (heaps.length === 0) {
        out(`${file} has no heap censuses${pid !== null ? ` of pid ${pid}` : ''}; ${noCensusAdvice(rec, pid)}\n`);
        return;
      }
      out(formatHeap(rec, heaps, top));
    });

  program
    .command('refs')
    .summary('who keeps objects of a type alive: back-reference chains, as text, DOT, SVG or PNG')
    .description(
      'Back-references (as objgraph\'s show_backrefs): for sample objects of a type, the chains of ' +
        'referrers back to a root (a module global, a frame, a class), with the attribute names, dict ' +
        'keys and indexes that hold them. From a running process (a pid: asked through the run\'s ' +
        'agent, and recorded in its recording) or from a recording (the graphs memhunt run recorded ' +
        'with --heap-every and --on-threshold SIZE:snapshot). The chains are printed; -o also draws ' +
        'the graph (Graphviz layout, no system Graphviz needed).',
    )
    .argument('[recording-or-pid]', 'a pid (a running process started by memhunt run) or a recording (default: the newest)')
    .option('-t, --type <name>', 'type name as a census shows it (DataFrame, dict, mymod.Record; a short name works when unique); default: for a pid, the type that grew most since its previous census; for a recording, the latest graph')
    .option('-o, --output <file>', 'also write the graph: .svg, .png or .dot')
    .option('--pid <pid>', 'with a recording: only graphs of this process')
    .option('--samples <n>', 'live: sample objects to trace back', '3')
    .option('--depth <n>', 'live: longest chain followed', '12')
    .option('--timeout <duration>', 'live: how long to wait', '180s')
    .option('--json', 'print the graph as JSON (nodes, edges, the chains as text) instead of the chains')
    .addHelpText('after', helpProse(`
Examples:
  memhunt refs 4242 --type DataFrame -o refs.svg     a running process: who holds its DataFrames
  memhunt refs run.mh --type Record --json | jq '.edges[] | .label'   the graph as data
  memhunt refs 4242 -o refs.png                      the type that grew most since its last census
  memhunt refs run.mh --type Record -o refs.dot      from a recording (dot -Tpdf refs.dot works too)
  memhunt refs                                       the latest graph of the newest recording

An unknown type name is refused with the close names memhunt knows (exit 2).`))
    .option('--force', 'replace -o even when it is not a graph or picture of the same kind')
    .action(async (arg: string | undefined, flags: { type?: string; output?: string; pid?: string; samples: string; depth: string; timeout: string; force?: boolean; json?: boolean }) => {
      if (flags.output) checkOutput(flags.output, OUTPUT_KINDS[outputFormat(flags.output)], flags.force === true);
      const typeName = flags.type?.trim() || null;
      let graph: RefsGraph;
      let source: string;
      let from: { recording: string; tMs: number; graphsOfType: number } | null = null;
      if (arg !== undefined && /^\d+$/.test(arg)) {
        const pid = parsePid(arg);
        graph = await liveRefs(pid, typeName, parseCount(flags.samples, '--samples', 100), parseCount(flags.depth, '--depth', 100), parseDuration(flags.timeout, '--timeout'));
        source = `pid ${pid}`;
      } else {
        const file = arg ?? newestRecording('.');
        const rec = await loadRecording(file);
        const { graph: g, others } = recordedRefs(rec, file, typeName, flags.pid === undefined ? null : parsePid(flags.pid));
        graph = g;
        from = { recording: file, tMs: (g as RefsGraphEvent).tMs, graphsOfType: others.length + 1 };
        source = `${file}, pid ${g.pid} at ${formatClock((g as RefsGraphEvent).tMs)}${others.length ? ` (the latest of ${others.length + 1} graphs of ${g.typeName})` : ''}`;
      }
      if (flags.json) {
        outJson({
          pid: graph.pid, ...(from ?? { recording: null }), typeName: graph.typeName, ...((graph as Partial<RefsGraphEvent>).why ? { why: (graph as Partial<RefsGraphEvent>).why } : {}),
          count: graph.count, reachedRoot: graph.reachedRoot, ...(graph.cut ? { cut: graph.cut } : {}),
          nodes: graph.nodes, edges: graph.edges, chains: refsChains(graph),
        });
        if (flags.output) {
          await writeRefs(graph, flags.output, flags.force === true);
          notice(`wrote ${flags.output}`);
        }
        return;
      }
      out(`${countPrefix(graph.cut)}${int(graph.count)} live ${graph.typeName} object${graph.count === 1 ? '' : 's'} (${source}); who keeps ${graph.nodes.filter((n) => n.kind === 'sample').length} of them alive:\n`);
      const why = (graph as Partial<RefsGraphEvent>).why;
      if (why) out(`  why ${graph.typeName}: ${why}\n`);
      if (graph.cut) out(`  ${refsCutText(graph.cut, graph.typeName)}\n`);
      for (const l of refsChains(graph)) out(`  ${l}\n`);
      if (flags.output) {
        await writeRefs(graph, flags.output, flags.force === true);
        notice(`wrote ${flags.output}`);
      }
    });

  program
    .command('python-path')
    .summary('print the directory of the memhunt Python package (for PYTHONPATH outside memhunt run)')
    .description(
      'Print the directory that holds the `memhunt` Python package. Under memhunt run, `import memhunt` ' +
        'works with nothing installed; to run the same program without memhunt, put this directory on ' +
        'PYTHONPATH or in a .pth file: there every helper (section, snapshot, isolated) is a no-op that ' +
        'just calls through.',
    )
    .addHelpText('after', helpProse(`
Examples:
  PYTHONPATH=$(memhunt python-path) python3 train.py
  memhunt python-path > "$(python3 -c 'import site; print(site.getsitepackages()[0])')/memhunt.pth"`))
    .action(() => {
      out(pythonRuntimeDirs().lib + '\n');
    });
}

/** "  (memhunt's census: +3.2 MiB RSS)": what taking the census added to the process, memhunt's own. */
/** A census whose request took a second or more (largest objects and duplicates after it): how long, since it can skip the next. */
function censusTook(c: HeapCensusEvent): string {
  const ms = censusWorkMs(c);
  if (ms < 1000) return '';
  return ms - c.durationMs >= 100 ? `  took ${formatDuration(ms)} (census ${formatDuration(c.durationMs)}, then largest/duplicates)` : `  took ${formatDuration(ms)}`;
}

/** A census that began well after memhunt asked for it: the program did not let the agent's thread run (a long call holding the interpreter). */
function censusLate(c: HeapCensusEvent): string {
  if (c.askedTMs === undefined || c.tMs - c.askedTMs < LATE_START_MS) return '';
  return `  (asked then; began at ${formatClock(c.tMs)}, ${formatDuration(c.tMs - c.askedTMs)} later: the program held the interpreter)`;
}

/** A census is said to have begun late from this long after it was asked for. */
const LATE_START_MS = 250;

/**
 * The censuses of a process by time asked, and those numbered by the same schedule ("every 1s #5")
 * in their number's order: a census that began late (or a recording without askedT, whose census
 * times are when each began) was listed after the next one's "skipped: still busy with #5".
 */
function inNumberOrder<T extends { tMs: number; label: string }>(rows: T[]): T[] {
  const sorted = [...rows].sort((a, b) => a.tMs - b.tMs);
  const numbered = (label: string) => /^(.*) #(\d+)$/.exec(label);
  const bySchedule = new Map<string, number[]>();
  sorted.forEach((r, i) => {
    const m = numbered(r.label);
    if (!m) return;
    const at = bySchedule.get(m[1]!) ?? [];
    at.push(i);
    bySchedule.set(m[1]!, at);
  });
  const out = [...sorted];
  for (const at of bySchedule.values()) {
    const rowsOf = at.map((i) => sorted[i]!).sort((a, b) => Number(numbered(a.label)![2]) - Number(numbered(b.label)![2]));
    at.forEach((i, k) => (out[i] = rowsOf[k]!));
  }
  return out;
}

function censusCost(bytes: number | undefined): string {
  if (bytes === undefined || bytes < 64 * 1024) return '';
  return `  (memhunt's census: +${formatBytes(bytes)} RSS)`;
}

/** When census `label` was asked, from the skips it caused ("still busy with census L, under way for 318 ms"); null when none say. */
function askedFromSkips(label: string, skipped: SkippedCensus[]): number | null {
  let best: number | null = null;
  for (const k of skipped) {
    const at = k.text.indexOf(`census ${label}`);
    // "#1" is not "#11": the label ends there.
    if (at < 0 || !/^[, ]/.test(k.text.slice(at + 7 + label.length))) continue;
    const m = /under way for ([\d.]+) (ms|s)\b/.exec(k.text.slice(at));
    if (!m) continue;
    const t = k.tMs - Number(m[1]) * (m[2] === 's' ? 1000 : 1);
    if (best === null || t < best) best = t;
  }
  return best;
}
