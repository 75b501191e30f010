/** `memhunt report`: the whole diagnosis of recordings on one offline HTML page (src/render/report.ts). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { censusGrowth, heapByProcess } from '../agents/heap';
import { fleetLimitText } from '../analysis/fleet';
import { InputError } from '../errors';
import { checkOutput, OUTPUT_KINDS, sameFile, writeOutputFile } from '../fsutil';
import type { MemoryRecording, RefsGraphEvent } from '../model/recording';
import type { ReportAllocations, ReportHeap, ReportRecording, ReportRefs } from '../render/report';
import { allocView, collectAllocations, inclusiveUserLines } from '../model/allocations';
import { parseSize } from '../units';
import { MEMHUNT_VERSION } from '../version';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { err, notice } from './output';

export interface ReportFlags {
  output?: string;
  title?: string;
  limit?: string;
  maxProcesses?: string;
  force?: boolean;
  full?: string;
}

/**
 * Writes the report page of these recordings to out. A scale series (recordings made by `memhunt
 * scale`, 3 sizes or more of one command) gets the scale chart and its report at the top: given
 * (`memhunt scale --report`), or fitted here at opts.full (default: the largest size).
 */
export async function writeReportPage(
  files: string[], out: string,
  opts: { force: boolean; title?: string; limitBytes?: number; maxProcesses?: number; full?: string; scale?: { svg: string; text: string } },
): Promise<void> {
  checkOutput(out, OUTPUT_KINDS.html, opts.force);
  const { analyzeRecording } = await import('../analysis/analyze');
  const { buildChart } = await import('../render/chart');
  const { renderReport } = await import('../render/report');
  const limitBytes = opts.limitBytes;
  const recordings: ReportRecording[] = [];
  for (const f of files) {
    const rec = await loadRecording(f);
    for (const w of rec.warnings) notice(`${f}: ${w}`);
    recordings.push({
      name: path.basename(f), rec,
      analysis: analyzeRecording(rec, limitBytes !== undefined ? { limitBytes, limitSource: 'report --limit' } : {}),
      heap: reportHeap(rec),
      refs: await reportRefs(rec),
      allocations: await reportAllocations(rec),
    });
  }
  let scale = opts.scale;
  if (!scale) {
    const { scaleReportOf, scaleSection } = await import('./scale');
    const report = scaleReportOf(recordings.map((r, i) => ({ rec: r.rec, file: files[i]! })), { fullText: opts.full, limitBytes: limitBytes ?? null });
    if (report) scale = await scaleSection(report, limitBytes ?? null, null);
    else if (opts.full !== undefined) throw new InputError('--full projects a scale series: give 3 or more recordings made by memhunt scale of one command, at 3 sizes or more');
  }
  const chart = buildChart(recordings.map((r) => ({ rec: r.rec, name: r.name })), { title: opts.title, limitBytes, limitSource: 'report --limit', maxProcesses: opts.maxProcesses });
  const html = renderReport(recordings, chart, { version: MEMHUNT_VERSION, title: opts.title, ...(scale ? { scale } : {}) });
  writeOutputFile(out, html, OUTPUT_KINDS.html, opts.force);
}

/** Graphs drawn per recording at most: the latest of each (process, type). */
const MAX_GRAPHS = 12;

export function reportHeap(rec: MemoryRecording): ReportHeap[] {
  return heapByProcess(rec.events).map((h) => {
    const first = h.censuses[0];
    const last = h.censuses[h.censuses.length - 1];
    let growth: ReportHeap['growth'] = null;
    const lastLargest = h.censuses.filter((c) => c.largest).pop();
    const withDups = h.censuses.filter((c) => c.duplicates);
    if (first && last && first !== last) {
      const g = censusGrowth(first, last);
      growth = {
        fromMs: first.tMs, toMs: last.tMs, fromLabel: first.label || first.trigger, toLabel: last.label || last.trigger,
        objectsDelta: g.objectsDelta, totalBytesDelta: g.totalBytesDelta,
        types: g.types.map((t) => ({ typeName: t.typeName, count: t.count, bytes: t.bytes, countDelta: t.countDelta, bytesDelta: t.bytesDelta, isNew: t.isNew, score: t.score })),
      };
    }
    return {
      pid: h.pid,
      censuses: h.censuses.map((c) => ({ tMs: c.tMs, label: c.label || c.trigger, objects: c.objects, totalBytes: c.totalBytes, collected: c.collected })),
      skipped: h.skipped.length,
      ...(h.failed.length ? { failed: h.failed.length } : {}),
      growth,
      traces: h.traces,
      largest: lastLargest ? { tMs: lastLargest.tMs, objects: lastLargest.largest! } : null,
      duplicates: withDups.length
        ? { tMs: withDups[withDups.length - 1]!.tMs, body: withDups[withDups.length - 1]!.duplicates!, savedOverRun: withDups.map((c) => ({ tMs: c.tMs, savedBytes: c.duplicates!.groups.reduce((a, g) => a + g.savedBytes, 0) })) }
        : null,
    };
  });
}

/**
 * Sampled allocations (run --allocations), as `memhunt flame` shows them: what was live at the
 * tree's peak (a flame graph and your lines, inclusive), and what grew over the run. Null without samples.
 */
export async function reportAllocations(rec: MemoryRecording): Promise<ReportAllocations | null> {
  const procs = collectAllocations(rec);
  if (procs.every((p) => p.samples.length === 0)) return null;
  const { renderFlameSvg } = await import('../render/flame');
  const base = { pid: null, atMs: null, sinceMs: null, top: 10 };
  const peak = allocView(procs, { ...base, view: 'peak' });
  const growth = allocView(procs, { ...base, view: 'growth' });
  return {
    peakMs: peak.tMs,
    peakBytes: peak.totalBytes,
    samples: procs.reduce((a, p) => a + p.samples.length, 0),
    pids: peak.pids,
    peakSvg: renderFlameSvg(peak.stacks, `live at the peak (${peak.pids.length} process${peak.pids.length === 1 ? '' : 'es'})`),
    peakLines: inclusiveUserLines(peak.stacks).slice(0, 40),
    growthFromMs: growth.sinceMs,
    growthToMs: growth.tMs,
    growthBytes: growth.totalBytes,
    growthLines: inclusiveUserLines(growth.stacks).slice(0, 40),
  };
}

/** The latest graph of each (process, type), laid out by Graphviz; a graph it cannot lay out keeps its text chains. */
export async function reportRefs(rec: MemoryRecording): Promise<ReportRefs[]> {
  const latest = new Map<string, RefsGraphEvent>();
  for (const e of rec.events) if (e.kind === 'refs') latest.set(`${e.pid}\u0000${e.typeName}`, e);
  const graphs = [...latest.values()].sort((a, b) => b.tMs - a.tMs).slice(0, MAX_GRAPHS);
  if (graphs.length === 0) return [];
  const { refsChains, refsCutText, refsToDot } = await import('../agents/refs');
  const { dotToSvg } = await import('../agents/refs-render');
  const out: ReportRefs[] = [];
  for (const g of graphs) {
    let svg: string | null = null;
    try {
      svg = await dotToSvg(refsToDot(g));
    } catch {
      svg = null;
    }
    out.push({ pid: g.pid, typeName: g.typeName, tMs: g.tMs, count: g.count, reachedRoot: g.reachedRoot, svg, chains: refsChains(g), ...(g.why ? { why: g.why } : {}), ...(g.cut ? { cutText: refsCutText(g.cut, g.typeName) } : {}) });
  }
  return out;
}

/** A folder of more recordings than this is reported as a fleet (bounded memory: reportFleet). */
export const REPORT_WHOLE_MAX = 8;
/** Recordings of a fleet detailed on its page (read whole, one after another). */
export const REPORT_FLEET_DETAILED = 3;

/**
 * `report DIR` of many recordings: the fleet's chart by wall clock (built as `plot DIR` builds it,
 * each recording reduced in a worker thread), a row per recording, and the riskiest few in detail.
 * Never more than REPORT_FLEET_DETAILED recordings' series are held.
 */
async function reportFleet(args: string[], files: string[], flags: ReportFlags): Promise<void> {
  const folder = args.length === 1 ? args[0]!.replace(/\/+$/, '') : null;
  const out = flags.output ?? (folder ? `${folder}.html` : 'fleet.html');
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.html' && ext !== '.htm') throw new InputError(`${out}: a report is an .html file (memhunt plot draws .png and .svg)`);
  for (const f of files) if (sameFile(f, out)) throw new InputError(`output ${out} is one of the recordings; choose another -o`);
  const limitBytes = flags.limit !== undefined ? parseSize(flags.limit, '--limit') : undefined;
  checkOutput(out, OUTPUT_KINDS.html, flags.force === true);
  const { buildFleetPlot } = await import('./fleet-plot');
  const { fleetThreads } = await import('./plot');
  const { formatBytes } = await import('../units');
  const { pct } = await import('./fleet');
  const { VERDICT_COLORS } = await import('../render/chart');
  const fp = await buildFleetPlot(files, { threads: fleetThreads(undefined), title: flags.title, ...(limitBytes !== undefined ? { limitBytes } : {}) });
  for (const n of fp.notices) notice(n);
  const { analyzeRecording } = await import('../analysis/analyze');
  const { renderReport } = await import('../render/report');
  const recordings: ReportRecording[] = [];
  for (const row of fp.rows.slice(0, REPORT_FLEET_DETAILED)) {
    const rec = await loadRecording(row.file);
    recordings.push({
      name: `${row.identity} (${path.basename(row.file)})`, rec,
      analysis: analyzeRecording(rec, limitBytes !== undefined ? { limitBytes, limitSource: 'report --limit' } : {}),
      heap: reportHeap(rec),
      refs: await reportRefs(rec),
      allocations: await reportAllocations(rec),
    });
  }
  const rows = fp.rows.map((r) => ({
    identity: r.identity, peak: formatBytes(r.peakBytes), limit: fleetLimitText(r), used: pct(r.usedShare),
    ended: r.endText, verdict: r.verdict, verdictColor: VERDICT_COLORS[r.verdict], file: r.file,
  }));
  const html = renderReport(recordings, fp.chart, { version: MEMHUNT_VERSION, title: flags.title, fleet: { rows, notes: fp.notices } });
  writeOutputFile(out, html, OUTPUT_KINDS.html, flags.force === true);
  err(`wrote ${out} (a fleet of ${fp.rows.length} recordings by wall clock; the ${recordings.length} riskiest in detail)\n`);
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .summary('the whole diagnosis on one offline HTML page: verdict, chart, processes, heap, allocation sites, reference graphs')
    .description(
      'Write one HTML file (offline, nothing fetched) that holds everything memhunt knows about ' +
        'recordings: the summary and the verdict with its evidence, the interactive chart with ' +
        'sections and their memory deltas, marks, thresholds and pauses, the processes (a row brings ' +
        'its line forward), the heap censuses and their growth (a row opens the reference graph of ' +
        'its type), the largest objects and duplicated data (--largest, --duplicates), allocation ' +
        'sites grouped by package (the peak marker leads there), the flame graph of sampled ' +
        'allocations with your lines (run --allocations; the peak marker leads there when there are ' +
        'no allocation snapshots) and the back-reference graphs. Several recordings, or a folder of ' +
        'them, share the chart and get a section each. A folder of more than 8 recordings (a fleet, run ' +
        '--output-dir) is drawn as memhunt plot DIR draws it, by wall clock with bounded memory: a row per ' +
        'recording, riskiest first, and the 3 riskiest in detail.',
    )
    .argument('[recordings...]', 'files, folders (every recording in them, as memhunt fleet finds them) or indexes from memhunt list (default: the newest)')
    .option('-o, --output <file>', 'the page to write, .html (default: the first recording\'s name with .html)')
    .option('--title <text>', 'title instead of the command line')
    .option('--limit <size>', 'judge and draw against this limit (e.g. 2GiB) instead of the recorded one')
    .option('--max-processes <n>', 'process lines on the chart before the rest are summed into "other" (default: 8)')
    .option('--full <size>', 'recordings of memhunt scale: project the peak at this size (default: the largest run\'s size)')
    .option('--force', 'replace the output even when it is not an HTML report of memhunt')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  memhunt report run.mh -o report.html\n' +
        '  memhunt run --heap-every 30s --trace-allocations -o run.mh -- python3 train.py && memhunt report run.mh\n' +
        '  memhunt report before.mh after.mh -o compare.html\n' +
        '  memhunt report /mnt/shared/memhunt/ -o fleet.html   every recording of a fleet (run --output-dir)\n' +
        '  memhunt report memhunt_scale_20261202101500/ --full 5000000   a scale series: its chart (peak vs size, fit, projection) on top',
    )
    .action(async (args: string[], flags: ReportFlags) => {
      const files: string[] = [];
      const folders = new Set(args.filter((a) => fs.existsSync(a) && fs.statSync(a).isDirectory()));
      if (folders.size > 0) {
        const { fleetFilesOf } = await import('./fleet-plot');
        const { files: inFolders, othersText } = fleetFilesOf([...folders]);
        if (othersText) notice(othersText);
        const found = [...inFolders, ...args.filter((a) => !folders.has(a)).map((a) => resolveRecordingArg(a))];
        if (found.length > REPORT_WHOLE_MAX) {
          await reportFleet(args, found, flags);
          return;
        }
      }
      for (const a of args) {
        if (folders.has(a)) {
          // A fleet's folder (run --output-dir): every recording in it, on one page.
          const { findFleetFiles } = await import('./fleet');
          const found = findFleetFiles([a]).files;
          if (found.length === 0) throw new InputError(`${a}: no recordings in this folder`);
          files.push(...found);
        } else {
          files.push(resolveRecordingArg(a));
        }
      }
      if (files.length === 0) files.push(newestRecording('.'));
      const first = files[0]!;
      const folder = args.length === 1 && folders.has(args[0]!) ? args[0]!.replace(/\/+$/, '') : null;
      const out = flags.output ?? (folder ? `${folder}.html` : path.join(path.dirname(first), `${path.basename(first, path.extname(first))}.html`));
      const ext = path.extname(out).toLowerCase();
      if (ext !== '.html' && ext !== '.htm') throw new InputError(`${out}: a report is an .html file (memhunt plot draws .png and .svg)`);
      for (const f of files) if (sameFile(f, out)) throw new InputError(`output ${out} is one of the recordings; choose another -o`);
      const limitBytes = flags.limit !== undefined ? parseSize(flags.limit, '--limit') : undefined;
      let maxProcesses: number | undefined;
      if (flags.maxProcesses !== undefined) {
        maxProcesses = Number(flags.maxProcesses);
        if (!Number.isInteger(maxProcesses) || maxProcesses < 1 || maxProcesses > 64) throw new InputError(`--max-processes "${flags.maxProcesses}" must be a whole number from 1 to 64`);
      }
      await writeReportPage(files, out, {
        force: flags.force === true, title: flags.title, ...(limitBytes !== undefined ? { limitBytes } : {}),
        ...(maxProcesses !== undefined ? { maxProcesses } : {}), ...(flags.full !== undefined ? { full: flags.full } : {}),
      });
      err(`wrote ${out}\n`);
    });
}
