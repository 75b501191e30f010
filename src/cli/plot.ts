/** `memhunt plot`: pictures of recordings — PNG, SVG, a self-contained HTML report, or the terminal. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { InputError } from '../errors';
import { checkOutput, OUTPUT_KINDS, sameFile, writeOutputFile } from '../fsutil';
import type { Chart, ChartOptions, PlotInput } from '../render/chart';
import { parseSize, UnitError } from '../units';
import { MEMHUNT_VERSION } from '../version';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { err, notice } from './output';
import { helpProse } from './help';

export const PLOT_FORMATS = ['.png', '.svg', '.html', '.htm'] as const;

export interface PlotFlags {
  output?: string;
  term?: boolean;
  title?: string;
  perProcess?: boolean;
  maxProcesses?: string;
  trend?: boolean;
  limit?: string;
  size?: string;
  rows?: string;
  force?: boolean;
  /** `-t`: the old short form of --term, kept hidden for scripts (-t is --type elsewhere). */
  t?: boolean;
  /** `--slope`/`-s`: mprof plot's name for --trend. */
  slope?: boolean;
  /** Recordings of a fleet: aligned by wall clock (implied by a folder argument). */
  fleet?: boolean;
  threads?: string;
}

/** The plot's options as typed data, parsed without reading any file (tests call this). */
export function parsePlotFlags(flags: PlotFlags): { chart: ChartOptions; width: number; height: number; rows: number | undefined } {
  const chart: ChartOptions = { title: flags.title, perProcess: flags.perProcess, trend: !!flags.trend };
  if (flags.limit !== undefined) chart.limitBytes = parseSize(flags.limit, '--limit');
  if (flags.maxProcesses !== undefined) {
    const n = Number(flags.maxProcesses);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new UnitError(`--max-processes "${flags.maxProcesses}" must be a whole number from 1 to 64`);
    chart.maxProcesses = n;
  }
  let width = 1200;
  let height = 600;
  if (flags.size !== undefined) {
    const m = /^(\d+)x(\d+)$/i.exec(flags.size.trim());
    if (!m || Number(m[1]) < 320 || Number(m[2]) < 240 || Number(m[1]) > 10000 || Number(m[2]) > 10000) {
      throw new UnitError(`--size "${flags.size}" must be WIDTHxHEIGHT in pixels, e.g. 1600x800 (320x240 to 10000x10000)`);
    }
    width = Number(m[1]);
    height = Number(m[2]);
  }
  let rows: number | undefined;
  if (flags.rows !== undefined) {
    rows = Number(flags.rows);
    if (!Number.isInteger(rows) || rows < 4 || rows > 200) throw new UnitError(`--rows "${flags.rows}" must be a whole number from 4 to 200`);
  }
  return { chart, width, height, rows };
}

/** The output's format from its extension; an InputError naming the supported ones otherwise. */
export function outputFormat(file: string): 'png' | 'svg' | 'html' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.svg') return 'svg';
  if (ext === '.html' || ext === '.htm') return 'html';
  throw new InputError(
    `${file}: cannot write ${ext ? `"${ext}"` : 'a file without an extension'}; plot writes .png, .svg or .html (or draws in the terminal with --term)`,
  );
}

function terminalColumns(): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  return process.stdout.columns || 80;
}

function useColor(): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return !!process.stdout.isTTY;
}

export function registerPlotCommand(program: Command): void {
  program
    .command('plot')
    .summary('draw recordings: PNG, SVG, a self-contained HTML report, or in the terminal')
    .description(
      'Draw the memory of recordings (memhunt .mh, mprof .dat, CSV, JSON) over ' +
        'time: the tree total, one line per process (up to 8, the rest summed as ' +
        '"other"), the limit and the share of it used at the peak, the peak, ' +
        'sections and marks, and how the run ended. Several recordings share one ' +
        'time axis, each from its own start. The format follows -o: .png, .svg or ' +
        '.html (interactive, one file, works offline); --term draws in the terminal.',
    )
    .argument('[recordings...]', 'files or indexes from memhunt list (default: the newest)')
    .option('-o, --output <file>', 'picture to write: .png, .svg or .html (default: the first recording\'s name with .png)')
    .option('--term', 'draw the chart in the terminal (fits $COLUMNS); no file unless -o is given too')
    // -t was --term here but is --type in refs: one meaning per short flag (issue 12). Kept, hidden, for scripts.
    .addOption(new Option('-t', 'the old short form of --term').hideHelp())
    .option('--title <text>', 'title instead of the command line')
    .option('--per-process', 'one line per process (default: on for one recording; off for several)')
    .option('--no-per-process', 'only the tree total')
    .option('--max-processes <n>', 'process lines before the rest are summed into "other" (default: 8)')
    .option('--trend', 'draw the least-squares trend of each tree total, labelled in MiB/min (mprof --slope; --slope and -s work too)')
    .addOption(new Option('-s, --slope', 'mprof plot\'s name for --trend').hideHelp())
    .option('--limit <size>', 'draw this limit (e.g. 2GiB) instead of the recorded --limit or cgroup limit')
    .option('--size <WxH>', 'PNG/SVG size in pixels (default: 1200x600)')
    .option('--rows <n>', 'terminal chart height in text rows (default: fits the terminal, at most 20)')
    .option('--fleet', 'the recordings are a fleet (every container of a job): align them by wall clock, the riskiest drawn and named over the band of the others (implied when a folder is given)')
    .option('--threads <n>', 'with a fleet: recordings read at once, each in a worker thread (default: the number of cores, at most 4)')
    .option('--force', 'replace the output even when it is not a picture of the same kind')
    .addHelpText(
      'after',
      helpProse('\nExamples:\n' +
        '  memhunt plot                              the newest recording -> memhunt_<time>.png\n' +
        '  memhunt plot run.mh -o memory.png\n' +
        '  memhunt plot run.mh -o report.html        interactive, one file, works offline\n' +
        '  memhunt plot before.mh after.mh -o compare.svg\n' +
        '  memhunt plot mprofile_20261126101500.dat --trend\n' +
        '  memhunt plot run.mh --term                 in the terminal, e.g. a shell inside a container\n' +
        '  memhunt plot /mnt/shared/memhunt/ -o fleet.png   a fleet (run --output-dir): by wall clock, the riskiest named\n' +
        '  memhunt plot --fleet a.mh b.mh c.mh -o fleet.svg\n' +
        '\nA fleet (a folder, or --fleet) is drawn by wall-clock time, each recording by its own clock ' +
        '(its header\'s start): up to 8 recordings as lines, more as a grey band (lowest to highest at ' +
        'each moment) with the 5 riskiest (as memhunt fleet ranks them) as lines, the riskiest in red ' +
        'and named; their sections, marks, ends and limits on the same axis. Clock skew seen in the ' +
        'files\' times is said in one line. Memory stays bounded: each recording is reduced to 2,000 ' +
        'buckets where it is read.\n' +
        '\nAn existing output is replaced only by a picture of the same kind (a PNG by a PNG, an HTML ' +
        'report of memhunt by another); anything else is refused unless --force is given.')
    )
    .action(async (args: string[], flags: PlotFlags) => {
      if (flags.t) {
        notice('-t is the old short form of --term; write --term (-t is --type in memhunt refs)');
        flags.term = true;
      }
      if (flags.slope) flags.trend = true;
      const parsed = parsePlotFlags(flags);
      if (flags.fleet || args.some(isFolder)) {
        await plotFleet(args, flags, parsed);
        return;
      }
      if (flags.threads !== undefined) throw new InputError('--threads applies to a fleet (a folder, or --fleet)');
      const files = args.length ? args.map((a) => resolveRecordingArg(a)) : [newestRecording('.')];
      let out = flags.output;
      if (out === undefined && !flags.term) {
        const first = files[0]!;
        out = path.join(path.dirname(first), `${path.basename(first, path.extname(first))}.png`);
      }
      if (out !== undefined) {
        for (const f of files) if (sameFile(f, out)) throw new InputError(`output ${out} is one of the recordings; choose another -o`);
      }
      const format = out !== undefined ? outputFormat(out) : null;
      // Refused before any work: a chart of a long recording takes seconds.
      if (out !== undefined && format !== null) checkOutput(out, OUTPUT_KINDS[format], flags.force === true);
      // Reading starts first: decompression runs in the thread pool, and the chart code, the
      // font metrics and (for a PNG) resvg's native module load while the main thread waits for
      // it (~10 ms of a 0.35 s plot of 1 M samples; resvg adds ~12 MB, well within the memory
      // target since the reader stopped keeping dead chunks). The renderers load only here, so
      // other commands start faster.
      // Our own files are read without the anon/file/shmem split the chart does not draw: a
      // third of the memory of a long recording.
      const reading = files.map((f) => loadRecording(f, { splits: false }));
      for (const r of reading) r.catch(() => {}); // awaited below, in order
      const { buildChart } = await import('../render/chart');
      if (format === 'png' || format === 'svg') (await import('../render/fonts')).textWidth('0', 12); // only pictures measure text
      if (format === 'png') (await import('../render/png')).loadRasteriser();
      const inputs: PlotInput[] = [];
      for (let i = 0; i < files.length; i++) {
        const rec = await reading[i]!;
        for (const w of rec.warnings) notice(`${files[i]}: ${w}`);
        inputs.push({ rec, name: path.basename(files[i]!) });
      }
      const chart = buildChart(inputs, parsed.chart);
      await emitChart(chart, out, format, flags, parsed, '');
    });
}

/** Draws a chart in the terminal (--term) and/or writes it to out as PNG, SVG or HTML. */
async function emitChart(chart: Chart, out: string | undefined, format: ReturnType<typeof outputFormat> | null, flags: PlotFlags,
  parsed: ReturnType<typeof parsePlotFlags>, wroteSuffix: string): Promise<void> {
  if (flags.term) {
    const termRows = process.stdout.rows ? Math.max(6, Math.min(20, process.stdout.rows - 10)) : 14;
    const { renderTerminal } = await import('../render/term');
    process.stdout.write(renderTerminal(chart, { columns: terminalColumns(), rows: parsed.rows ?? termRows, color: useColor() }).text);
  }
  if (out === undefined || format === null) return;
  const size = { width: parsed.width, height: parsed.height };
  let data: string | Buffer;
  if (format === 'png') data = (await import('../render/png')).renderPng(chart, size).png;
  else if (format === 'svg') data = (await import('../render/svg')).renderSvg(chart, size).svg;
  else data = (await import('../render/html')).renderHtml(chart, { version: MEMHUNT_VERSION });
  writeOutputFile(out, data, OUTPUT_KINDS[format], flags.force === true);
  err(`wrote ${out}${wroteSuffix}\n`);
}

function isFolder(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The number of worker threads for a fleet: --threads, else the cores (at most 4). */
export function fleetThreads(value: string | undefined): number {
  const threads = value === undefined ? Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) : Number(value);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new InputError(`--threads ${value}: give a whole number from 1 to 64`);
  return threads;
}

/** `plot DIR` / `plot --fleet FILES…`: the fleet by wall clock (fleet-plot.ts), bounded memory. */
async function plotFleet(args: string[], flags: PlotFlags, parsed: ReturnType<typeof parsePlotFlags>): Promise<void> {
  if (args.length === 0) throw new InputError('--fleet: give the folders or files of the fleet');
  if (flags.trend || flags.perProcess) throw new InputError(`${flags.trend ? '--trend' : '--per-process'} does not apply to a fleet (each recording is drawn as its tree total)`);
  const threads = fleetThreads(flags.threads);
  const { fleetFilesOf, buildFleetPlot } = await import('./fleet-plot');
  const { files, othersText } = fleetFilesOf(args);
  if (othersText) notice(othersText);
  let out = flags.output;
  if (out === undefined && !flags.term) {
    const first = args[0]!.replace(/\/+$/, '') || '.';
    out = isFolder(first) ? `${first === '.' ? 'fleet' : first}.png` : path.join(path.dirname(first), 'fleet.png');
  }
  if (out !== undefined) {
    for (const f of files) if (sameFile(f, out)) throw new InputError(`output ${out} is one of the recordings; choose another -o`);
  }
  const format = out !== undefined ? outputFormat(out) : null;
  if (out !== undefined && format !== null) checkOutput(out, OUTPUT_KINDS[format], flags.force === true);
  const fp = await buildFleetPlot(files, { threads, title: flags.title, ...(parsed.chart.limitBytes !== undefined ? { limitBytes: parsed.chart.limitBytes } : {}) });
  for (const n of fp.notices) notice(n);
  await emitChart(fp.chart, out, format, flags, parsed, ` (${fp.rows.length} recording${fp.rows.length === 1 ? '' : 's'} by wall clock; riskiest: ${fp.riskiestName})`);
}
