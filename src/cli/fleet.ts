/**
 * `memhunt fleet DIR|files…` (issue 14): every recording of a job's containers in one table,
 * riskiest first, and one summary line. Recordings are read by worker threads, one at a time
 * each, so memory stays bounded whatever the number of files; a cut or foreign file is skipped
 * with a note.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Command, Option } from 'commander';
import { fleetLimitText, fleetTotals, riskOrderFor, type FleetRow, type FleetTotals } from '../analysis/fleet';
import { clockSkewLine, clockSkewOf } from '../analysis/fleet-envelope';
import { InputError } from '../errors';
import { isMemhuntRecording } from '../recording/reader';
import { formatBytes, formatDuration, formatPercent } from '../units';
import { fleetRowFromFooter } from './footer';
import { rowOrError, type FleetJob } from './fleet-worker';
import { shortCommand } from '../model/command';
import { clipLine, err, notice, out, outJson } from './output';

/** Files a fleet reads: recordings found in folders (recursively), files named as given. */
/** One line naming the files of the folders that are not recordings (at most 5), or null. */
export function otherFilesText(others: string[]): string | null {
  if (!others.length) return null;
  const names = others.slice(0, 5).map((f) => path.basename(f)).join(', ');
  return `${others.length} other file${others.length === 1 ? '' : 's'} in the folders ${others.length === 1 ? 'is' : 'are'} not ${others.length === 1 ? 'a recording' : 'recordings'} (ignored): ${names}${others.length > 5 ? ', …' : ''}`;
}

export function findFleetFiles(args: string[]): { files: string[]; notRecordings: number; others: string[]; footerRows: Map<string, FleetRow> } {
  const files: string[] = [];
  // Rows read from a found recording's header and footer while telling it is one: opened once.
  const footerRows = new Map<string, FleetRow>();
  const others: string[] = [];
  const visit = (p: string, depth: number) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw new InputError(`${p}: no such file or folder`);
    }
    if (st.isDirectory()) {
      if (depth > 8) return;
      let names: string[];
      try {
        names = fs.readdirSync(p).sort();
      } catch (e) {
        throw new InputError(`${p}: cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`);
      }
      for (const n of names) {
        if (n.startsWith('.')) continue;
        const q = path.join(p, n);
        let s: fs.Stats;
        try {
          s = fs.statSync(q);
        } catch {
          continue; // vanished or a broken link
        }
        if (s.isDirectory()) visit(q, depth + 1);
        else if (s.isFile() && looksLikeRecording(q, n, footerRows)) files.push(q);
        else if (s.isFile()) others.push(q);
      }
    } else {
      files.push(p); // named on the command line: read it (and say why if it is not a recording)
    }
  };
  for (const a of args) visit(a, 0);
  return { files, notRecordings: others.length, others, footerRows };
}

/**
 * A memhunt recording (by its first gzip member's header, whatever its name) or an mprof .dat. A
 * recording with a summary footer has its fleet row read here (kept in `rows`).
 */
function looksLikeRecording(file: string, name: string, rows: Map<string, FleetRow>): boolean {
  if (name.endsWith('.dat')) return /^mprofile_/.test(name);
  const row = fleetRowFromFooter(file);
  if (row) {
    rows.set(file, row);
    return true;
  }
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(16 * 1024);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return n > 2 && head[0] === 0x1f && head[1] === 0x8b && isMemhuntRecording(head.subarray(0, n));
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

type RowResult = { row: FleetRow } | { error: string };

/**
 * Reads every file into a row: from its header and summary footer when it has one (a few KiB
 * read), else whole, `threads` at a time in worker threads (in this thread when there are few).
 * `whole`: ignore footers (--reanalyze: verdicts of this memhunt, not of the one that recorded).
 */
export async function readFleet(allFiles: string[], threads: number, whole = false, known?: Map<string, FleetRow>): Promise<Array<RowResult & { file: string }>> {
  const fast = new Map<string, FleetRow>();
  if (!whole) {
    for (const f of allFiles) {
      const row = known?.get(f) ?? fleetRowFromFooter(f);
      if (row) fast.set(f, row);
    }
  }
  const files = allFiles.filter((f) => !fast.has(f));
  const slow = await readWhole(files, threads);
  const byFile = new Map(slow.map((r) => [r.file, r]));
  return allFiles.map((f) => (fast.has(f) ? { file: f, row: fast.get(f)! } : byFile.get(f)!));
}

async function readWhole(files: string[], threads: number): Promise<Array<RowResult & { file: string }>> {
  const results: Array<RowResult & { file: string }> = new Array(files.length);
  await runPool<FleetJob, { id: number } & RowResult>(
    files.map((file, id) => ({ id, file })), threads,
    async (job) => ({ id: job.id, ...(await rowOrError(job.file)) }),
    (m) => {
      results[m.id] = { file: files[m.id]!, ...('row' in m ? { row: m.row } : { error: m.error }) };
    },
  );
  return results;
}

/**
 * Runs jobs `threads` at a time in worker threads (fleet-worker.ts), or in this thread when there
 * are few, handing each result to `done` as it arrives (so a caller can fold results and drop them).
 */
export async function runPool<J, R>(jobs: J[], threads: number, inline: (job: J) => Promise<R>, done: (r: R) => void): Promise<void> {
  if (threads <= 1 || jobs.length < 4) {
    for (const j of jobs) done(await inline(j));
    return;
  }
  const script = path.join(__dirname, 'fleet-worker.js');
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(threads, jobs.length) }, () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(script);
        const feed = () => {
          if (next >= jobs.length) {
            void w.terminate().then(() => resolve());
            return;
          }
          w.postMessage(jobs[next++]);
        };
        w.on('message', (m: R) => {
          done(m);
          feed();
        });
        w.on('error', reject);
        feed();
      }),
    ),
  );
}

/** The clock-skew line of a fleet's rows (from their files' mtimes), or null. */
export function fleetSkewLine(rows: FleetRow[]): string | null {
  const items = [];
  for (const r of rows) {
    if (r.end === 'no end' || r.end === 'unknown') continue; // no end record: the last flush is not the end
    try {
      items.push({ identity: r.identity, endWallMs: r.startWallMs + r.durationMs, mtimeMs: fs.statSync(r.file).mtimeMs });
    } catch {
      // vanished since it was read: nothing to compare
    }
  }
  return clockSkewLine(clockSkewOf(items));
}

/** A share of a limit; above it, rounded up (100.4% is "101%": over the limit is never shown as 100%). */
export const pct = (x: number | null) => (x === null ? '-' : formatPercent(x));

export function summaryLine(t: FleetTotals): string {
  const killed = t.oomKilled + t.limitKilled;
  const parts = [`${t.recordings} recording${t.recordings === 1 ? '' : 's'} from ${t.hosts} host${t.hosts === 1 ? '' : 's'}`];
  parts.push(killed ? `${killed} killed (${t.oomKilled} by the OOM killer, ${t.limitKilled} at --limit)` : 'none killed');
  if (t.otherwiseFailed) parts.push(`${t.otherwiseFailed} failed otherwise`);
  parts.push(`${t.leaks} leak${t.leaks === 1 ? '' : 's'}`);
  if (t.worst) parts.push(`least headroom ${formatBytes(t.worst.headroomBytes)} (${pct(t.worst.share)} used) in ${t.worst.worker ? `${t.worst.worker} (its Dask memory_limit) of ${t.worst.identity}` : t.worst.identity}`);
  if (t.highestPeak) parts.push(`highest peak ${formatBytes(t.highestPeak.bytes)} in ${t.highestPeak.identity}${t.highestPeak.timesMedian !== null ? ` (${t.highestPeak.timesMedian.toFixed(1)}× the median peak: ranked with the riskiest)` : ''}`);
  if (t.firstStartWallMs !== null && t.lastEndWallMs !== null) parts.push(`over ${formatDuration(t.lastEndWallMs - t.firstStartWallMs)}`);
  return parts.join('; ');
}

function table(rows: FleetRow[]): string {
  const head = ['', 'where', 'peak', 'limit', 'used', 'ended', 'verdict', 'most held by', 'file'];
  const lines = rows.map((r, i) => [
    String(i + 1),
    clipLine(r.identity, 40),
    formatBytes(r.peakBytes),
    // A Dask worker's own memory_limit is per worker: "used" is the share of the worker nearest it.
    fleetLimitText(r),
    pct(r.usedShare),
    r.endText,
    r.verdict === 'insufficient data' ? 'too short' : r.verdict,
    r.top ? (r.top.worker ? `${r.top.pid} ${clipLine(r.top.worker, 40)}` : `${r.top.pid} ${shortCommand(r.top.command, 30)}`) : '-',
    r.file,
  ]);
  const all = [head, ...lines];
  const widths = head.map((_, c) => Math.max(...all.map((l) => l[c]!.length)));
  const right = new Set([0, 2, 3, 4]);
  return all.map((l) => l.map((cell, c) => (c === l.length - 1 ? cell : right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function registerFleetCommand(program: Command): void {
  program
    .command('fleet')
    .summary('one table of many recordings (every container of a job): riskiest first')
    .description(
      'Read every recording in the folders and files given (folders are searched, sub-folders ' +
        'included, for memhunt recordings whatever their names, and mprofile_*.dat) and print one ' +
        'row per recording: where it ran (AWS Batch job and index, YARN container, Spark executor, ' +
        'pod, or host: from the header\'s labels, see run --label), its peak, the limit and how much ' +
        'of it was used, how it ended, its verdict and the process that held the most. Rows are ' +
        'sorted by risk: killed by the OOM killer, then at --limit, then the least headroom, leaks, ' +
        'failures, the largest peak. A last line sums up. A cut or foreign file is skipped with a note.',
    )
    .argument('<paths...>', 'folders of recordings (e.g. the shared volume of --output-dir) or recording files')
    .addOption(new Option('--sort <order>', 'row order').choices(['risk', 'peak', 'start', 'name']).default('risk'))
    .option('--top <n>', 'show only the first N rows (the summary line counts all)')
    .option('--json', 'rows and totals as JSON on stdout')
    .option('--reanalyze', 'read every recording whole and judge it with this memhunt (default: the summary a recording ends with, written by the memhunt that recorded it, when present)')
    .option('--threads <n>', 'recordings read at once, each in a worker thread (default: the number of cores, at most 4)')
    .addHelpText(
      'after',
      `
Examples:
  memhunt fleet /mnt/shared/memhunt/            every recording written there by run --output-dir
  memhunt fleet runs/ --top 20                  the 20 riskiest containers
  memhunt fleet runs/*.mh --json | jq '.rows[] | select(.end == "oom-killed") | .identity'`,
    )
    .action(async (paths: string[], flags: { sort: string; top?: string; json?: boolean; threads?: string; reanalyze?: boolean }) => {
      const top = flags.top === undefined ? null : Number(flags.top);
      if (top !== null && (!Number.isInteger(top) || top < 1)) throw new InputError(`--top ${flags.top}: give a whole number of rows, 1 or more`);
      const threads = flags.threads === undefined ? Math.min(4, Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) : Number(flags.threads);
      if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new InputError(`--threads ${flags.threads}: give a whole number from 1 to 64`);
      const { files, others, footerRows } = findFleetFiles(paths);
      if (files.length === 0) throw new InputError(`no recordings in ${paths.join(', ')}${others.length ? ` (${others.length} other files)` : ''}: record with memhunt run --output-dir DIR -- <command>`);
      const results = await readFleet(files, threads, flags.reanalyze === true, footerRows);
      const rows: FleetRow[] = [];
      const skipped: Array<{ file: string; reason: string }> = [];
      for (const r of results) {
        if ('row' in r) rows.push(r.row);
        else skipped.push({ file: r.file, reason: r.error });
      }
      for (const s of skipped) notice(`skipped ${s.reason.startsWith(s.file) ? s.reason : `${s.file}: ${s.reason}`}`);
      if (rows.length === 0) throw new InputError(`none of the ${files.length} files could be read as a recording`);
      const order: Record<string, (a: FleetRow, b: FleetRow) => number> = {
        risk: riskOrderFor(rows),
        peak: (a, b) => b.peakBytes - a.peakBytes,
        start: (a, b) => a.startWallMs - b.startWallMs,
        name: (a, b) => a.identity.localeCompare(b.identity) || a.file.localeCompare(b.file),
      };
      rows.sort(order[flags.sort] ?? order.risk!);
      const totals = fleetTotals(rows);
      const shown = top === null ? rows : rows.slice(0, top);
      const skew = fleetSkewLine(rows);
      if (flags.json) {
        outJson({ totals, rows: shown, skipped, clockSkew: skew });
        return;
      }
      out(table(shown));
      if (shown.length < rows.length) out(`… ${rows.length - shown.length} more (without --top: all)\n`);
      out(summaryLine(totals) + (skipped.length ? `; ${skipped.length} file${skipped.length === 1 ? '' : 's'} skipped` : '') + '\n');
      if (skew) out(`note: ${skew}\n`);
      const otherText = otherFilesText(others);
      if (otherText) err(`memhunt: ${otherText}\n`);
    });
}
