/**
 * `memhunt report`: the whole diagnosis of one or more recordings on one offline page — the
 * summary and verdict with its evidence, the interactive chart (html.ts, the same page script as
 * `plot -o x.html`), the processes, the heap censuses and their growth, allocation sites grouped
 * by package, the back-reference graphs drawn inline, and a place for flame graphs of sampled
 * allocations. Parts link to each other: a process row brings its line forward on the chart, a
 * growth row opens the reference graph of its type, the peak marker leads to the allocation sites.
 *
 * The page is built from data the caller prepared (src/cli/report.ts): render/ may not import
 * agents/, where the census growth and Graphviz live, so the growth arrives computed and the
 * graphs as SVG text. Escaping follows html.ts: every string from a recording goes through
 * escapeXml, the graphs' SVG is embedded as a base64 data: image (a picture can run no script and
 * break no markup whatever Graphviz wrote), and the page scripts only set textContent, classes and
 * the `open` attribute.
 */
import type { RecordingAnalysis } from '../analysis/analyze';
import { commandLabel, verdictLineOf } from '../analysis/analyze';
import type { AllocationSitesEvent, MemoryRecording } from '../model/recording';
import type { TypeGrowth } from '../model/heap-growth';
import type { DuplicatesBody, LargeObject } from '../contract/shapes';
import { noAllocationsReason, type LineRow } from '../model/allocations';
import { DUPLICATE_ROWS, duplicateGroupTitle, moreHoldersText } from '../model/duplicates';
import { formatBytes, formatCount } from '../units';
import { processName, VERDICT_COLORS, type Chart } from './chart';
import { chartFragment, type HtmlOptions } from './html';
import { escapeXml } from './layout';
import { fmtClock } from './ticks';

/** One type's change between two censuses, as the page needs it. */
export type ReportTypeGrowth = Pick<TypeGrowth, 'typeName' | 'count' | 'bytes' | 'countDelta' | 'bytesDelta' | 'isNew' | 'score'>;

export interface ReportHeap {
  pid: number;
  censuses: Array<{ tMs: number; label: string; objects: number; totalBytes: number; collected: boolean }>;
  /** Censuses that were due and skipped (the previous one still running). */
  skipped: number;
  /** Censuses asked for and not answered (the process ended first, the agent failed); absent: none. */
  failed?: number;
  /** Growth from the first census to the last (null with fewer than two). */
  growth: {
    fromMs: number;
    toMs: number;
    fromLabel: string;
    toLabel: string;
    objectsDelta: number;
    totalBytesDelta: number;
    types: ReportTypeGrowth[];
  } | null;
  traces: AllocationSitesEvent[];
  /** The latest census with --largest: its biggest objects, each with who holds it. */
  largest: { tMs: number; objects: LargeObject[] } | null;
  /** The latest census with --duplicates, and the bytes its groups would save at each such census. */
  duplicates: { tMs: number; body: DuplicatesBody; savedOverRun: Array<{ tMs: number; savedBytes: number }> } | null;
}

export interface ReportRefs {
  pid: number;
  typeName: string;
  tMs: number;
  count: number;
  reachedRoot: boolean;
  /** The graph laid out by Graphviz (agents/refs-render.ts), or null when it could not be. */
  svg: string | null;
  /** The shortest chains to a root, as text (agents/refs.ts refsChains). */
  chains: string[];
  /** Why this type was followed (RefsRecord.why), when recorded. */
  why?: string;
  /** Where the agent cut the graph (agents/refs.ts refsCutText), when it did. */
  cutText?: string;
}

export interface ReportRecording {
  /** The file's name, for headings. */
  name: string;
  rec: MemoryRecording;
  analysis: RecordingAnalysis;
  heap: ReportHeap[];
  refs: ReportRefs[];
  /** Sampled allocations (run --allocations); null or absent without them. */
  allocations?: ReportAllocations | null;
}

/** Sampled allocations as the page shows them (prepared by src/cli/report.ts). */
export interface ReportAllocations {
  peakMs: number;
  peakBytes: number;
  samples: number;
  pids: number[];
  /** The flame graph of what was live at the peak (render/flame.ts's SVG). */
  peakSvg: string;
  /** Bytes live at the peak under each line of the user's code (inclusive). */
  peakLines: LineRow[];
  growthFromMs: number | null;
  growthToMs: number;
  growthBytes: number;
  growthLines: LineRow[];
}

export interface ReportOptions extends HtmlOptions {
  title?: string;
  /**
   * A fleet (`report DIR` of many recordings): the chart is the fleet's by wall clock, `recordings`
   * are only its riskiest few (read whole), and every recording gets a row here, riskiest first.
   */
  fleet?: { rows: Array<{ identity: string; peak: string; limit: string; used: string; ended: string; verdict: string; verdictColor: string; file: string }>; notes: string[] };
  /** A scale series (memhunt scale): its chart (SVG: peak vs size, fit, projection, limit) and report text, shown first. */
  scale?: { svg: string; text: string };
}

/** Rows of a growth table at most; the rest are counted. */
const GROWTH_ROWS = 25;
const SITE_ROWS = 40;
const PROCESS_ROWS = 60;
const FLEET_ROWS_SHOWN = 10;

const esc = escapeXml;
const signed = (n: number, f: (x: number) => string) => `${n > 0 ? '+' : n < 0 ? '−' : '±'}${f(Math.abs(n))}`;
const sBytes = (n: number) => signed(n, formatBytes);
const sCount = (n: number) => signed(n, formatCount);

/** An id attribute from free text: letters, digits, `.`, `_` and `-` kept, anything else `_`. */
export function idPart(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function refsId(recId: string, pid: number, typeName: string): string {
  return `refs-${recId}-${pid}-${idPart(typeName)}`;
}

/** The allocation snapshot nearest the peak, in the process that held most at the peak when it has one. */
export function traceNearPeak(r: ReportRecording): AllocationSitesEvent | null {
  const peakMs = r.analysis.summary.peakTMs;
  const top = r.analysis.summary.topAtPeak?.pid;
  const own = r.heap.find((h) => h.pid === top && h.traces.length > 0);
  const all = own ? own.traces : r.heap.flatMap((h) => h.traces);
  let best: AllocationSitesEvent | null = null;
  for (const t of all) if (!best || Math.abs(t.tMs - peakMs) < Math.abs(best.tMs - peakMs)) best = t;
  return best;
}

function verdictBlock(r: ReportRecording, id: string): string {
  const a = r.analysis;
  const evidence = a.tree.evidence.map((e) => `<li>${esc(e)}</li>`).join('');
  const leaking = a.leakingProcesses.length
    ? `<p>Leaking on their own: ${a.leakingProcesses.map((p) => `<a href="#proc-${id}-${p.pid}">pid ${p.pid}</a> ${esc(commandLabel(p.command, 50))}`).join(', ')}</p>`
    : '';
  const limit = a.limit ? `<li>limit ${esc(formatBytes(a.limit.bytes))} (${esc(a.limit.source)})</li>` : '';
  const warnings = a.warnings.map((w) => `<p class="warn">${esc(w)}</p>`).join('');
  const toFlame = r.allocations
    ? `<p>What was allocated, by which stack, at the peak: <a href="#flame-${id}">the flame graph of sampled allocations ↓</a></p>`
    : '';
  return `<section class="panel" id="verdict-${id}"><h3>Verdict and evidence</h3>
<p class="verdict" style="color:${VERDICT_COLORS[a.verdict]}">${esc(verdictLineOf(a))}</p>
<p class="reason">${esc(a.reason)}</p>
<ul class="evidence">${evidence}${limit}</ul>${leaking}${toFlame}${warnings}</section>`;
}

function processesBlock(r: ReportRecording, id: string, chart: Chart, input: number): string {
  const a = r.analysis;
  const peaks = new Map(a.summary.processes.map((p) => [p.pid, p.peakBytes]));
  const drawn = new Set(chart.series.filter((s) => s.input === input).map((s) => s.id));
  const other = `r${input}-other`;
  const procs = [...a.processes].sort((x, y) => (peaks.get(y.pid) ?? 0) - (peaks.get(x.pid) ?? 0));
  const listed = procs.filter((p) => p.samples >= 10 || p.verdict !== 'insufficient data' || procs.length <= 12).slice(0, PROCESS_ROWS);
  const rows = listed.map((p) => {
    const track = r.rec.processes.find((t) => t.pid === p.pid);
    // One process with samples: its line is the tree total's.
    const alone = a.processes.length === 1 && drawn.has(`r${input}-total`);
    const line = drawn.has(`r${input}-p${p.pid}`) ? `r${input}-p${p.pid}` : alone ? `r${input}-total` : drawn.has(other) ? other : null;
    const where = line === null ? 'not drawn' : line === other ? 'in “other”' : alone ? 'the tree total' : 'its own line';
    const swatch = line ? chart.series.find((s) => s.id === line)!.color : '#ccc';
    const rate = p.verdict === 'leak' && p.growth ? ` ${formatBytes(p.growth.bytesPerMinute)}/min` : '';
    return `<tr id="proc-${id}-${p.pid}" class="proc${line ? ' linked' : ''}"${line ? ` data-series="${esc(line)}"` : ''} title="${line ? 'click: bring its line forward on the chart' : 'no line on the chart'}">` +
      `<td><span class="swatch" style="background:${swatch}"></span>${p.pid}</td><td class="num">${esc(formatBytes(peaks.get(p.pid) ?? NaN))}</td>` +
      `<td style="color:${VERDICT_COLORS[p.verdict]}">${esc(p.verdict)}${esc(rate)}</td><td>${esc(fmtClock(p.firstSeenMs))} – ${esc(p.exitMs === null ? 'end' : fmtClock(p.exitMs))}</td>` +
      `<td>${esc(where)}</td><td class="cmd">${esc(track ? processName(r.rec, track).replace(/^pid \d+ /, '') : commandLabel(p.command, 80))}</td></tr>`;
  });
  const hidden = procs.length - listed.length;
  return `<section class="panel" id="processes-${id}"><h3>Processes</h3>
<p class="hint">Click a row to bring its line forward on the chart (again to show every line).</p>
<table class="data processes"><thead><tr><th>pid</th><th>peak</th><th>verdict</th><th>alive</th><th>on the chart</th><th>command</th></tr></thead><tbody>${rows.join('')}</tbody></table>
${hidden > 0 ? `<p class="hint">${hidden} short-lived process${hidden === 1 ? '' : 'es'} (fewer than 10 samples) not listed.</p>` : ''}</section>`;
}

/** "3 censuses", or "6 censuses due: 3 taken, 2 skipped (…), 1 failed": "3 censuses (2 skipped)" read as 3 + 2 or as 3 in all. */
function censusCountText(h: ReportHeap): string {
  const failed = h.failed ?? 0;
  const due = h.censuses.length + h.skipped + failed;
  if (due === h.censuses.length) return `${due} census${due === 1 ? '' : 'es'}`;
  return `${due} censuses due: ${h.censuses.length} taken` + (h.skipped ? `, ${h.skipped} skipped (the previous one was still running)` : '') + (failed ? `, ${failed} failed` : '');
}

function heapBlock(r: ReportRecording, id: string): string {
  if (r.heap.every((h) => h.censuses.length === 0)) {
    return `<section class="panel" id="heap-${id}"><h3>Heap censuses</h3><p class="empty">no heap censuses: record with memhunt run --heap-every 30s (Python processes)</p></section>`;
  }
  const graphs = new Set(r.refs.map((g) => refsId(id, g.pid, g.typeName)));
  const parts: string[] = [];
  for (const h of r.heap) {
    if (h.censuses.length === 0) continue;
    const track = r.rec.processes.find((p) => p.pid === h.pid);
    parts.push(`<h4 id="heap-${id}-${h.pid}">${esc(track ? processName(r.rec, track) : `pid ${h.pid}`)}: ${censusCountText(h)}</h4>`);
    const crow = h.censuses.map((c) => `<tr><td>${esc(fmtClock(c.tMs))}</td><td>${esc(c.label)}</td><td class="num">${esc(formatCount(c.objects))}</td><td class="num">${esc(formatBytes(c.totalBytes))}</td><td>${c.collected ? '' : 'no gc.collect() first'}</td></tr>`);
    parts.push(`<details class="censuses"><summary>the censuses: ${esc(formatCount(h.censuses[0]!.objects))} → ${esc(formatCount(h.censuses[h.censuses.length - 1]!.objects))} objects, ${esc(formatBytes(h.censuses[0]!.totalBytes))} → ${esc(formatBytes(h.censuses[h.censuses.length - 1]!.totalBytes))}</summary><table class="data"><thead><tr><th>time</th><th>label</th><th>objects</th><th>size</th><th></th></tr></thead><tbody>${crow.join('')}</tbody></table></details>`);
    parts.push(largestHtml(h));
    const g = h.growth;
    if (!g) continue;
    const grew = g.types.filter((t) => t.bytesDelta > 0 || t.countDelta > 0);
    const rows = grew.slice(0, GROWTH_ROWS).map((t) => {
      const ref = refsId(id, h.pid, t.typeName);
      const has = graphs.has(ref);
      return `<tr class="growth${has ? ' has-refs' : ''}"${has ? ` data-refs="${esc(ref)}" title="click: who keeps them alive"` : ''}><td class="num">${t.score.toFixed(2)}</td>` +
        `<td class="num">${esc(sBytes(t.bytesDelta))}</td><td class="num">${esc(sCount(t.countDelta))}</td><td class="num">${esc(formatBytes(t.bytes))}</td><td class="num">${esc(formatCount(t.count))}</td>` +
        `<td>${esc(t.typeName)}${t.isNew ? ' <span class="tag">new</span>' : ''}${has ? ` <a href="#${esc(ref)}">who keeps them alive ↓</a>` : ''}</td></tr>`;
    });
    parts.push(`<p class="growth-head">Growth ${esc(fmtClock(g.fromMs))} → ${esc(fmtClock(g.toMs))} (${esc(g.fromLabel)} → ${esc(g.toLabel)}): <b>${esc(sCount(g.objectsDelta))} objects, ${esc(sBytes(g.totalBytesDelta))}</b>; ranked by score = share of the new objects + share of the new bytes</p>`);
    parts.push(grew.length === 0 ? '<p class="empty">no type grew</p>'
      : `<table class="data growth" id="growth-${id}-${h.pid}"><thead><tr><th>score</th><th>size Δ</th><th>count Δ</th><th>size</th><th>count</th><th>type</th></tr></thead><tbody>${rows.join('')}</tbody></table>` +
        (grew.length > GROWTH_ROWS ? `<p class="hint">${grew.length - GROWTH_ROWS} more types grew (memhunt heap --top ${grew.length})</p>` : ''));
  }
  return `<section class="panel" id="heap-${id}"><h3>Heap censuses and growth</h3>${parts.join('\n')}</section>`;
}

/** Tables of the largest objects and the duplicated data of a process's latest census that has them. */
function largestHtml(h: ReportHeap): string {
  const out: string[] = [];
  const cell = (o: LargeObject) => `<td class="num">${esc(formatBytes(o.bytes))}</td><td>${esc(o.typeName)}</td><td>${esc(o.label)}</td><td class="path">${esc(o.path)}</td>`;
  if (h.largest) {
    out.push(`<p class="growth-head">Largest objects at ${esc(fmtClock(h.largest.tMs))} (the memory each owns: an array its buffer, a DataFrame its blocks, a container its own storage)</p>`);
    out.push(h.largest.objects.length === 0 ? '<p class="empty">none</p>'
      : `<table class="data largest"><thead><tr><th>size</th><th>type</th><th>what</th><th>held by</th></tr></thead><tbody>${h.largest.objects.map((o) => `<tr>${cell(o)}</tr>`).join('')}</tbody></table>`);
  }
  const d = h.duplicates;
  if (d) {
    const saved = d.body.groups.reduce((a, g) => a + g.savedBytes, 0);
    out.push(`<p class="growth-head">Duplicated data at ${esc(fmtClock(d.tMs))}: <b>${d.body.groups.length} group${d.body.groups.length === 1 ? '' : 's'}, ${esc(formatBytes(saved))} would be saved by keeping one copy of each</b> (${esc(formatCount(d.body.candidates))} objects with ≥ ${esc(formatBytes(d.body.minBytes))} of data each compared, holding ${esc(formatBytes(d.body.candidateBytes))} in all)</p>`);
    for (const g of d.body.groups) {
      const row = (o: (typeof g.holders)[number]) => `<tr class="${esc(o.relation)}">${cell(o)}<td>${esc(o.relation === 'shares' && o.sharesWith !== undefined ? `shares the memory of #${o.sharesWith + 1}` : o.relation)}</td></tr>`;
      const rows = [...g.holders.slice(0, DUPLICATE_ROWS).map(row)];
      if (g.holders.length > DUPLICATE_ROWS) rows.push(`<tr class="more"><td colspan="5" class="hint">${esc(moreHoldersText(g.holders.slice(DUPLICATE_ROWS)))}</td></tr>`);
      rows.push(...g.sharing.map(row));
      out.push(`<details class="dup" open><summary>${esc(duplicateGroupTitle(g))}: ${g.holders.length} copies, ${esc(formatBytes(g.totalBytes))} in all, ${esc(formatBytes(g.savedBytes))} to save</summary><table class="data duplicates"><thead><tr><th>size</th><th>type</th><th>what</th><th>held by</th><th>relation</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`);
    }
    if (d.savedOverRun.length > 1) out.push(`<p class="hint">duplicated data over the run (bytes keeping one copy would save): ${d.savedOverRun.map((x) => `${esc(fmtClock(x.tMs))} ${esc(formatBytes(x.savedBytes))}`).join(', ')}</p>`);
    for (const n of d.body.notes) out.push(`<p class="hint">${esc(n)}</p>`);
  }
  return out.join('\n');
}

function allocationsBlock(r: ReportRecording, id: string): string {
  const t = traceNearPeak(r);
  if (!t) {
    return `<section class="panel" id="allocations-${id}"><h3>Allocation sites</h3><p class="empty">no allocation snapshots: record with memhunt run --trace-allocations (Python processes)</p></section>`;
  }
  const traces = r.heap.find((h) => h.pid === t.pid)?.traces ?? [t];
  const first = traces[0]!;
  const firstByPkg = new Map(first.byPackage.map((p) => [p.package, p.bytes]));
  const native = t.rssBytes - t.tracedBytes - t.tracemallocBytes;
  const sitesByPkg = new Map<string, AllocationSitesEvent['bySize']>();
  for (const s of t.bySize.slice(0, SITE_ROWS)) {
    const k = s.package || '(unknown)';
    const list = sitesByPkg.get(k) ?? [];
    list.push(s);
    sitesByPkg.set(k, list);
  }
  const packages = [...t.byPackage].sort((a, b) => b.bytes - a.bytes);
  const firstSites = new Map(first.bySize.map((x) => [`${x.file}:${x.line}`, x.bytes]));
  const rows: string[] = [];
  for (const p of packages) {
    const since = first !== t ? sBytes(p.bytes - (firstByPkg.get(p.package) ?? 0)) : '';
    rows.push(`<tr class="package"><td><b>${esc(p.package || '(unknown)')}</b></td><td class="num"><b>${esc(formatBytes(p.bytes))}</b></td>${first !== t ? `<td class="num">${esc(since)}</td>` : ''}<td class="num"></td></tr>`);
    for (const s of sitesByPkg.get(p.package || '(unknown)') ?? []) {
      // Since the first snapshot, where that one listed the site (else unknown: it was below its top).
      const before = firstSites.get(`${s.file}:${s.line}`);
      const sinceSite = first === t ? '' : before === undefined ? '—' : sBytes(s.bytes - before);
      rows.push(`<tr class="site"><td class="code">${esc(`${s.file}:${s.line}`)}${s.code ? ` <span class="src">${esc(s.code.length > 80 ? `${s.code.slice(0, 79)}…` : s.code)}</span>` : ''}</td><td class="num">${esc(formatBytes(s.bytes))}</td>${first !== t ? `<td class="num">${esc(sinceSite)}</td>` : ''}<td class="num">${s.bytesDelta === null ? '' : esc(sBytes(s.bytesDelta))}</td></tr>`);
    }
  }
  const peakMs = r.analysis.summary.peakTMs;
  const track = r.rec.processes.find((p) => p.pid === t.pid);
  return `<section class="panel" id="allocations-${id}"><h3>Allocation sites</h3>
<p>The snapshot nearest the peak (${esc(fmtClock(peakMs))}): ${esc(t.label || t.trigger)} at ${esc(fmtClock(t.tMs))} in ${esc(track ? processName(r.rec, track) : `pid ${t.pid}`)} — traced ${esc(formatBytes(t.tracedBytes))}, RSS ${esc(formatBytes(t.rssBytes))}, native (RSS − traced − tracemalloc's own) ${esc(formatBytes(native))}. ${traces.length} snapshot${traces.length === 1 ? '' : 's'} of this process; “since first” is the change from the one at ${esc(fmtClock(first.tMs))} (— where that one did not list the site), “Δ since the one before” the change of a site since the snapshot before this one.</p>
<table class="data sites"><thead><tr><th>package / site</th><th>size</th>${first !== t ? '<th>since first</th>' : ''}<th>Δ since the one before</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function refsBlock(r: ReportRecording, id: string): string {
  if (r.refs.length === 0) {
    return `<section class="panel" id="refs-${id}"><h3>Reference graphs</h3><p class="empty">no back-reference graphs: memhunt run --heap-every records them for the type that grows (--refs-type NAME to choose it)</p></section>`;
  }
  const parts = r.refs.map((g) => {
    const img = g.svg !== null
      ? `<img class="graph" alt="${esc(`back-references of ${g.typeName}`)}" src="data:image/svg+xml;base64,${Buffer.from(g.svg, 'utf8').toString('base64')}">`
      : '<p class="warn">Graphviz could not lay out this graph; the chains below say the same.</p>';
    return `<details class="refs" id="${esc(refsId(id, g.pid, g.typeName))}"><summary>${esc(formatCount(g.count))} live ${esc(g.typeName)} in pid ${g.pid} at ${esc(fmtClock(g.tMs))}: who keeps them alive${g.reachedRoot ? '' : ' (some chains stop before a root)'}</summary>
${g.why ? `<p>Why ${esc(g.typeName)}: ${esc(g.why)}.</p>` : ''}${g.cutText ? `<p>${esc(g.cutText)}.</p>` : ''}${img}<pre class="chains">${esc(g.chains.join('\n'))}</pre></details>`;
  });
  return `<section class="panel" id="refs-${id}"><h3>Reference graphs</h3>${parts.join('\n')}</section>`;
}

function flameBlock(r: ReportRecording, id: string): string {
  const a = r.allocations;
  if (!a) return `<section class="panel" id="flame-${id}"><h3>Flame graph of sampled allocations</h3><p class="empty">no sampled allocations: ${esc(noAllocationsReason(r.rec))}</p></section>`;
  const lines = (rows: LineRow[], signedBytes: boolean) => {
    if (rows.length === 0) return '<p class="empty">none of it under your code\'s lines</p>';
    let file = '';
    const tr: string[] = [];
    for (const x of rows) {
      if (x.file !== file) {
        file = x.file;
        tr.push(`<tr class="package"><td colspan="3"><b>${esc(file)}</b></td></tr>`);
      }
      tr.push(`<tr class="site"><td class="num">${x.line}</td><td class="num">${esc(signedBytes ? sBytes(x.bytes) : formatBytes(x.bytes))}</td><td class="code">${esc(x.name)}</td></tr>`);
    }
    return `<table class="data lines"><thead><tr><th>line</th><th>bytes</th><th>function</th></tr></thead><tbody>${tr.join('')}</tbody></table>`;
  };
  return `<section class="panel" id="flame-${id}"><h3>Sampled allocations: live at the peak</h3>
<p>${esc(formatCount(a.samples))} samples (run --allocations); the tree's estimated live total was highest at ${esc(fmtClock(a.peakMs))}: ${esc(formatBytes(a.peakBytes))}. Hover a frame for its bytes; <code>memhunt flame ${esc(r.name)} -o peak.html</code> gives the interactive graph (zoom, search).</p>
<div class="flame" style="max-height:640px;overflow:auto">${a.peakSvg.replace(/^<svg /, '<svg style="max-width:100%;height:auto" ')}</div>
<details open><summary>Your lines, live at the peak (bytes allocated under each line, inclusive)</summary>${lines(a.peakLines, false)}</details>
<details><summary>Your lines, growth ${esc(fmtClock(a.growthFromMs ?? 0))} → ${esc(fmtClock(a.growthToMs))} (${esc(sBytes(a.growthBytes))}: allocated and still live)</summary>${lines(a.growthLines, true)}</details>
</section>`;
}

const REPORT_CSS = `
.scale-chart svg{max-width:100%;height:auto}
.scale-report{font-size:12px;line-height:1.35;white-space:pre-wrap}
h2{font-size:17px;margin:22px 0 4px;border-bottom:1px solid #ddd;padding-bottom:3px}
h3{font-size:15px;margin:16px 0 6px}
h4{font-size:13px;margin:12px 0 4px}
section.panel{margin:6px 0 14px}
section.panel p{font-size:13px;margin:4px 0}
table.data{border-collapse:collapse;font-size:12px;margin:4px 0}
table.data th{text-align:left;font-weight:600;border-bottom:1px solid #ccc;padding:2px 10px 2px 2px}
table.data td{padding:2px 10px 2px 2px;vertical-align:top;border-bottom:1px solid #f0f0f0}
table.data td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.data td.cmd,table.data td.code{font-family:'DejaVu Sans Mono',monospace;font-size:11.5px;word-break:break-all}
tr.linked,tr.has-refs{cursor:pointer}
tr.linked:hover,tr.has-refs:hover{background:#f3f6fb}
tr.selected{background:#fff3bf}
tr.site td:first-child{padding-left:18px}
span.src{color:#666}
span.swatch{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px;vertical-align:-1px}
span.tag{font-size:10px;background:#eef;border-radius:3px;padding:0 4px}
p.hint{font-size:12px;color:#666;margin:2px 0}
p.empty{font-size:13px;color:#777;font-style:italic}
p.reason{font-size:13px;margin:2px 0}
ul.evidence{font-size:12.5px;margin:4px 0;padding-left:18px}
img.graph{max-width:100%;height:auto;border:1px solid #eee;margin:6px 0}
pre.chains{font-size:11.5px;background:#fafafa;padding:6px;overflow:auto}
details.refs{margin:6px 0}
details.refs>summary{cursor:pointer;font-size:13px}
table.recordings td{padding:2px 12px 2px 2px;font-size:13px}
:target{outline:2px solid #f0c36d;outline-offset:2px}
`;

export function renderReport(recordings: ReportRecording[], chart: Chart, opts: ReportOptions = {}): string {
  const many = recordings.length > 1;
  const ids = recordings.map((_, i) => `r${i}`);
  // The peak marker leads to what was allocated at the peak: the allocation sites (tracemalloc
  // snapshots) when the recording has them, else the flame graph of sampled allocations.
  const peakHrefs = ids.map((id, i) => (traceNearPeak(recordings[i]!) === null && recordings[i]!.allocations ? `#flame-${id}` : `#allocations-${id}`));
  const f = chartFragment(chart, { ...opts, peakHrefs });
  const shown = f.chart;
  const title = opts.title ?? shown.title;
  const fleet = opts.fleet;
  const linked = many && !fleet;
  const summary = shown.summary.map((l, i) => `<li>${linked ? `<a href="#rec-${ids[i]}">` : ''}${esc(l)}${linked ? '</a>' : ''}</li>`).join('');
  const verdicts = shown.verdicts.map((v) => `<p class="verdict" style="color:${v.color}">${esc(v.text)} <a class="more" href="#verdict-${ids[v.input]}">evidence ↓</a></p>`).join('');
  // A fleet's rows: the first FLEET_ROWS_SHOWN in view, the rest folded (a thousand rows would push the chart off the page).
  const fleetTable = (rows: NonNullable<ReportOptions['fleet']>['rows'], from: number) =>
    `<table class="recordings data"><thead><tr><th></th><th>where</th><th>peak</th><th>limit</th><th>used</th><th>ended</th><th>verdict</th><th>file</th></tr></thead><tbody>${rows.map((r, k) => {
      const i = from + k;
      return `<tr><td>${i < recordings.length ? `<a href="#rec-${ids[i]}">${i + 1}</a>` : i + 1}</td><td>${esc(r.identity)}</td><td class="num">${esc(r.peak)}</td><td class="num">${esc(r.limit)}</td><td class="num">${esc(r.used)}</td><td>${esc(r.ended)}</td><td style="color:${r.verdictColor}">${esc(r.verdict)}</td><td>${esc(r.file)}</td></tr>`;
    }).join('')}</tbody></table>`;
  const table = fleet
    ? fleetTable(fleet.rows.slice(0, FLEET_ROWS_SHOWN), 0) +
      (fleet.rows.length > FLEET_ROWS_SHOWN ? `<details><summary>${fleet.rows.length - FLEET_ROWS_SHOWN} more recordings, riskiest first</summary>${fleetTable(fleet.rows.slice(FLEET_ROWS_SHOWN), FLEET_ROWS_SHOWN)}</details>` : '') +
      fleet.notes.map((n) => `<p class="warn">${esc(n)}</p>`).join('') +
      `<p class="hint">The ${recordings.length} riskiest recording${recordings.length === 1 ? ' is' : 's are'} detailed below (linked from the first column).</p>`
    : many
    ? `<table class="recordings"><tbody>${recordings.map((r, i) => `<tr><td><a href="#rec-${ids[i]}">${esc(r.name)}</a></td><td>${esc(commandLabel(r.rec.meta.command, 60))}</td><td>peak ${esc(formatBytes(r.analysis.summary.peakBytes))}</td><td style="color:${VERDICT_COLORS[r.analysis.verdict]}">${esc(r.analysis.verdict)}</td></tr>`).join('')}</tbody></table>`
    : '';
  const nav = ['verdict', 'processes', 'heap', 'allocations', 'refs', 'flame'].map((k) => `<a href="#${k}-${ids[0]}">${k === 'refs' ? 'reference graphs' : k === 'flame' ? 'flame graph' : k}</a>`).join(' · ');
  const sections = recordings.map((r, i) => {
    const id = ids[i]!;
    return `<section class="recording" id="rec-${id}">
${many ? `<h2>${esc(r.name)}: ${esc(commandLabel(r.rec.meta.command, 80))}</h2>` : ''}
${verdictBlock(r, id)}
${processesBlock(r, id, shown, i)}
${heapBlock(r, id)}
${allocationsBlock(r, id)}
${refsBlock(r, id)}
${flameBlock(r, id)}
</section>`;
  });
  const client = reportMain.toString();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="memhunt ${esc(opts.version ?? '')} report">
<title>${esc(title)} — memhunt report</title>
${f.styles}
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<ul class="summary">${summary}</ul>
${verdicts}
${shown.warnings.map((w) => `<p class="warn">${esc(w)}</p>`).join('')}
${table}
${many ? '' : `<p class="hint">${nav}</p>`}
</header>
${opts.scale ? `<section class="scale" id="scale"><h2>Peak against input size (memhunt scale)</h2>
<div class="scale-chart">${opts.scale.svg}</div>
<pre class="scale-report">${esc(opts.scale.text)}</pre>
</section>` : ''}
${f.body}
${sections.join('\n')}
<footer>memhunt ${esc(opts.version ?? '')} report · ${fleet ? `a fleet of ${fleet.rows.length} recordings, the ${recordings.length} riskiest in detail` : `${esc(formatCount(shown.sampleCount))} samples · ${recordings.length} recording${many ? 's' : ''}`}</footer>
${f.scripts}
<script>
${client}
reportMain();
</script>
</body>
</html>
`;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the page script talks to the DOM, which this project has no types for */
declare const document: any;
declare const window: any;

/** The report's own page script (runs in the browser from its source text; see html.ts clientMain). */
function reportMain(): void {
  // A target inside closed <details> is opened (with every <details> around it) and scrolled to.
  const reveal = (hash: string) => {
    if (!hash || hash.length < 2) return;
    const el = document.getElementById(decodeURIComponent(hash.slice(1)));
    if (!el) return;
    for (let p = el; p; p = p.parentElement) if (p.tagName === 'DETAILS') p.open = true;
    el.scrollIntoView({ block: 'start' });
  };
  window.addEventListener('hashchange', () => reveal(window.location.hash));
  // A click on a link to the hash already in the address bar fires no hashchange.
  document.addEventListener('click', (e: any) => {
    const a = e.target.closest ? e.target.closest('a[href^="#"]') : null;
    if (a && a.getAttribute('href') === window.location.hash) reveal(window.location.hash);
  });
  for (const row of document.querySelectorAll('tr.has-refs')) {
    row.addEventListener('click', (e: any) => {
      if (e.target.tagName === 'A') return;
      const target = `#${row.getAttribute('data-refs')}`;
      if (window.location.hash === target) reveal(target);
      else window.location.hash = target;
    });
  }
  for (const row of document.querySelectorAll('tr.linked')) {
    row.addEventListener('click', () => {
      const on = !row.classList.contains('selected');
      for (const r of document.querySelectorAll('tr.selected')) r.classList.remove('selected');
      if (on) row.classList.add('selected');
      if (window.memhuntFocus) window.memhuntFocus(on ? row.getAttribute('data-series') : null);
    });
  }
  if (window.location.hash) reveal(window.location.hash);
}
/* eslint-enable @typescript-eslint/no-explicit-any */
