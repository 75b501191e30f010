/** `memhunt flame`: sampled allocations (`run --allocations`) at the peak, their growth, or all of them. */
import { helpProse } from './help';
import * as path from 'node:path';
import { Command } from 'commander';
import { InputError } from '../errors';
import { checkOutput, OUTPUT_KINDS, writeOutputFile } from '../fsutil';
import {
  allocView, byPackage, noAllocationsReason, byUserLine, collectAllocations, inclusiveUserLines, liveBytesAt, packageOf, shortFile, userFrame,
  type AllocView, type AllocViewResult, type ProcessAllocations,
} from '../model/allocations';
import type { MemoryRecording } from '../model/recording';
import { valueAt } from '../model/series';
import { formatBytes, formatClock, parseDuration } from '../units';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { err, notice, out } from './output';

/** The picture -o asks for, from its extension. */
export function flameFormat(file: string): 'svg' | 'png' | 'html' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.svg') return 'svg';
  if (ext === '.png') return 'png';
  if (ext === '.html' || ext === '.htm') return 'html';
  throw new InputError(`${file}: flame writes .svg, .png or .html`);
}

export interface FlameFlags {
  growth?: boolean;
  allocated?: boolean;
  at?: string;
  since?: string;
  pid?: string;
  top?: string;
  lines?: boolean;
}

/** "42s", "1m", "00:42.5", "1:02:03": a moment on the run's clock (ms since its start). */
export function parseMoment(text: string, what: string): number {
  if (/^\s*0+(?:\.0*)?\s*(?:ms|s|m|h)?\s*$/.test(text)) return 0; // the start (a duration of 0 is refused)
  const m = /^\s*(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (m) return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
  return parseDuration(text, what);
}

/** Samples of the recording; throws InputError (2) when there are none. */
export function recordingAllocations(rec: MemoryRecording, file: string): ProcessAllocations[] {
  const procs = collectAllocations(rec);
  if (procs.length === 0 || procs.every((p) => p.samples.length === 0)) {
    throw new InputError(`${file} has no sampled allocations: ${noAllocationsReason(rec)}`);
  }
  return procs;
}

export interface ResolvedView {
  view: AllocView;
  pid: number | null;
  atMs: number | null;
  sinceMs: number | null;
  top: number;
}

/** Checks the flags against the recording; throws InputError with one line. Pure: tests call it. */
export function resolveFlameFlags(flags: FlameFlags, rec: MemoryRecording, procs: ProcessAllocations[]): ResolvedView {
  if (flags.growth && flags.allocated) throw new InputError('--growth and --allocated are two different views: give one');
  const view: AllocView = flags.growth ? 'growth' : flags.allocated ? 'allocated' : 'peak';
  const endMs = rec.end?.tMs ?? Math.max(0, ...procs.flatMap((p) => p.samples.map((s) => Math.max(s.tMs, s.freedMs ?? 0))));
  const moment = (text: string | undefined, name: string): number | null => {
    if (text === undefined) return null;
    const ms = parseMoment(text, name);
    if (ms > endMs) throw new InputError(`${name} ${text} is after the end of the run (${formatClock(endMs)})`);
    return ms;
  };
  let pid: number | null = null;
  if (flags.pid !== undefined) {
    if (!/^\d+$/.test(flags.pid)) throw new InputError(`--pid ${flags.pid} is not a process id`);
    pid = Number(flags.pid);
    if (!procs.some((p) => p.pid === pid)) {
      throw new InputError(`pid ${pid} has no sampled allocations in this recording (pids with samples: ${procs.map((p) => p.pid).join(', ')})`);
    }
  }
  const top = flags.top === undefined ? 10 : Number(flags.top);
  if (!Number.isInteger(top) || top < 1) throw new InputError(`--top ${flags.top} must be a whole number of at least 1`);
  const sinceMs = moment(flags.since, '--since');
  if (sinceMs !== null && view !== 'growth') throw new InputError('--since goes with --growth (live now minus live then)');
  const atMs = moment(flags.at, '--at');
  if (sinceMs !== null && atMs !== null && sinceMs >= atMs) {
    throw new InputError(`--since ${flags.since} is not before --at ${flags.at}: growth is measured from the earlier moment to the later one`);
  }
  return { view, pid, atMs, sinceMs, top };
}

function rssAt(rec: MemoryRecording, pids: number[], tMs: number): number | null {
  let sum = 0;
  let any = false;
  for (const p of rec.processes) {
    if (!pids.includes(p.pid) || p.rss.tMs.length === 0) continue;
    if (tMs < p.firstSeenMs || (p.exitMs !== null && tMs > p.exitMs)) continue;
    const v = valueAt(p.rss, tMs);
    if (Number.isFinite(v)) {
      sum += v;
      any = true;
    }
  }
  return any ? sum : null;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : '';
}

function signed(bytes: number, view: AllocView): string {
  return view === 'growth' && bytes > 0 ? `+${formatBytes(bytes)}` : bytes < 0 ? `-${formatBytes(-bytes)}` : formatBytes(bytes);
}

/** The terminal report of a view. */
export function formatFlameReport(rec: MemoryRecording, file: string, procs: ProcessAllocations[], v: AllocViewResult, o: ResolvedView): string {
  const lines: string[] = [];
  const samples = procs.reduce((n, p) => n + p.samples.length, 0);
  const means = [...new Set(procs.map((p) => p.meanBytes))].map(formatBytes).join(', ');
  lines.push(`${file}: sampled allocations (one sample per ${means} on average), ${procs.length} process${procs.length === 1 ? '' : 'es'}, ${samples} samples`);
  const who = o.pid !== null ? `pid ${o.pid}` : procs.length > 1 ? 'the tree' : `pid ${procs[0]!.pid}`;
  if (v.view === 'peak') {
    lines.push(`${o.atMs !== null ? 'live' : 'peak'} of ${who} at ${formatClock(v.tMs)}: ${formatBytes(v.totalBytes)} estimated live`);
  } else if (v.view === 'growth') {
    lines.push(`growth of ${who} from ${formatClock(v.sinceMs ?? 0)} to ${formatClock(v.tMs)}: ${signed(v.totalBytes, 'growth')} estimated (live then minus live before)`);
  } else {
    lines.push(`allocated by ${who} until ${formatClock(v.tMs)}: ${formatBytes(v.totalBytes)} estimated (freed or not)`);
  }
  if (v.view !== 'allocated') {
    const rss = rssAt(rec, v.pids, v.tMs);
    if (rss !== null) {
      const live = procs.filter((p) => v.pids.includes(p.pid)).reduce((n, p) => n + liveBytesAt(p, v.tMs), 0);
      const numpy = procs.filter((p) => v.pids.includes(p.pid)).every((p) => p.numpy);
      if (live > 1.1 * rss) {
        // Allocated is not resident: pages count in RSS once written (np.zeros/np.empty of 300 MiB
        // read "320 MiB estimated live; RSS then 49.4 MiB" with no word why).
        lines.push(`RSS then ${formatBytes(rss)}: less than the ${formatBytes(live)} estimated live, because memory allocated and not yet written (np.empty, np.zeros, a buffer being filled) is not resident until its pages are touched`);
      } else {
        lines.push(`RSS then ${formatBytes(rss)}; not seen: ${formatBytes(Math.max(0, rss - live))} of RSS (interpreter, libraries, ${numpy ? '' : 'numpy data, '}C malloc of extensions, freed memory not returned)`);
      }
    }
  }
  const dropped = procs.reduce((n, p) => n + p.dropped, 0);
  if (dropped > 0) lines.push(`note: ${dropped} samples were dropped (the table of live samples was full): estimates are low`);
  lines.push('');
  lines.push('Top lines (innermost frame in your code; stdlib and site-packages are followed out to it):');
  const rows = byUserLine(v.stacks).slice(0, o.top);
  lines.push(`  ${'bytes'.padStart(11)}  share  ${'objects'.padStart(9)}  line`);
  for (const r of rows) {
    lines.push(`  ${signed(r.bytes, v.view).padStart(11)}  ${pct(r.bytes, v.totalBytes).padStart(5)}  ${Math.round(r.objects).toLocaleString('en-US').padStart(9)}  ${shortFile(r.file)}:${r.line} ${r.name}${r.package !== '(your code)' ? ` [${r.package}]` : ''}`);
  }
  lines.push('');
  lines.push('Top stacks (innermost first):');
  for (const w of v.stacks.slice(0, o.top)) {
    const uf = userFrame(w.stack);
    lines.push(`  ${signed(w.bytes, v.view).padStart(11)}  ${pct(w.bytes, v.totalBytes).padStart(5)}  ${uf ? `${shortFile(uf[0])}:${uf[2]}` : '?'}  (${[...w.pids].join(',')})`);
    for (const f of w.stack.slice(0, 8)) lines.push(`        ${shortFile(f[0])}:${f[2]} ${f[1]}${packageOf(f[0]) === '(your code)' ? '' : ` [${packageOf(f[0])}]`}`);
    if (w.stack.length > 8) lines.push(`        ... ${w.stack.length - 8} more frames`);
  }
  lines.push('');
  lines.push('By package (of the allocating frame):');
  for (const p of byPackage(v.stacks).slice(0, o.top)) lines.push(`  ${signed(p.bytes, v.view).padStart(11)}  ${pct(p.bytes, v.totalBytes).padStart(5)}  ${p.package}`);
  return lines.join('\n') + '\n';
}

/** memory_profiler's @profile report for every line of the user's files on a stack of the view. */
export function formatLineReport(v: AllocViewResult): string {
  const lines: string[] = [`Line by line (bytes allocated under each line of your code, inclusive, ${v.view} view):`];
  let file = '';
  for (const r of inclusiveUserLines(v.stacks)) {
    if (r.file !== file) {
      file = r.file;
      lines.push(`  ${file}`);
    }
    lines.push(`  ${String(r.line).padStart(6)}  ${signed(r.bytes, v.view).padStart(11)}  ${r.name}`);
  }
  return lines.join('\n') + '\n';
}

export function registerFlameCommand(program: Command): void {
  program
    .command('flame')
    .summary('sampled allocations (run --allocations): what was live at the peak, what grew, what was allocated')
    .description(
      'Stacks and lines of a recording made with memhunt run --allocations, attributed to the innermost ' +
        'frame in your own code (not stdlib, not site-packages). By default the view is what was live at the peak ' +
        '(the sampled blocks live when the estimated live total was highest); --growth is live at the end (or --at) ' +
        'minus live at --since (default: the start), the leak view; --allocated is everything allocated, freed or not ' +
        '(churn). Without --pid the view covers every process of the tree (its peak is the tree\'s).',
    )
    .argument('[recording]', 'file or index from memhunt list (default: the newest)')
    .option('--growth', 'live at the end (or --at) minus live at --since')
    .option('--allocated', 'everything allocated, freed or not')
    .option('--at <time>', 'the moment to show (42s, 1m30s, 00:42.0 on the run\'s clock) instead of the peak or the end')
    .option('--since <time>', 'with --growth: the earlier moment (default: the start)')
    .option('--pid <pid>', 'only this process')
    .option('--top <n>', 'rows per table (default: 10)')
    .option('--lines', 'also print every line of your code on a stack, with the bytes under it (memory_profiler\'s @profile report without decorating)')
    .option('-o, --output <file>', 'also write the view as a flame graph: .svg, .png, or .html (interactive: click to zoom, search, hover; one offline file)')
    .option('--force', 'replace -o even when it is not an earlier picture or memhunt page')
    .addHelpText(
      'after',
      helpProse('\nEstimates: each sample stands for size / (1 - exp(-size/mean)) bytes; the relative error of a ' +
        'total B is about sqrt(mean / B) (512 KiB mean: ~7% for 100 MiB). What the hooks cannot see is ' +
        'named: "not seen: N of RSS".\n' +
        '\nExamples:\n  memhunt flame run.mh\n  memhunt flame run.mh --growth --top 20\n  memhunt flame run.mh --at 00:42.0 --pid 4242 --lines\n  memhunt flame run.mh -o peak.html\n  memhunt flame run.mh --growth -o leak.svg'),
    )
    .action(async (arg: string | undefined, flags: FlameFlags & { output?: string; force?: boolean }) => {
      const file = arg ? resolveRecordingArg(arg) : newestRecording('.');
      const rec = await loadRecording(file);
      for (const w of rec.warnings) notice(`${file}: ${w}`);
      const procs = recordingAllocations(rec, file);
      const o = resolveFlameFlags(flags, rec, procs);
      const format = flags.output === undefined ? null : flameFormat(flags.output);
      if (flags.output !== undefined && format) checkOutput(flags.output, OUTPUT_KINDS[format], flags.force === true);
      const v = allocView(procs, o);
      out(formatFlameReport(rec, file, procs, v, o));
      if (flags.lines) out('\n' + formatLineReport(v));
      if (flags.output !== undefined && format) {
        const title = `${path.basename(file)}: ${v.view === 'peak' ? `live at ${o.atMs !== null ? '' : 'the peak, '}${formatClock(v.tMs)}` : v.view === 'growth' ? `growth ${formatClock(v.sinceMs ?? 0)} to ${formatClock(v.tMs)}` : `allocated until ${formatClock(v.tMs)}`}, ${formatBytes(v.totalBytes)}${o.pid !== null ? `, pid ${o.pid}` : ''}`;
        const flame = await import('../render/flame');
        let data: string | Buffer;
        if (format === 'html') data = flame.renderFlameHtml(v.stacks, title);
        else if (format === 'svg') data = flame.renderFlameSvg(v.stacks, title);
        else data = (await import('../render/png')).rasterise(flame.renderFlameSvg(v.stacks, title)).png;
        writeOutputFile(flags.output, data, OUTPUT_KINDS[format], flags.force === true);
        err(`wrote ${flags.output}\n`);
      }
    });
}
