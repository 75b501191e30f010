/**
 * A wide CSV table for spreadsheets, and the reader for the same table.
 *
 * One row per sample of the tree total; columns, in this order:
 *   time_s                         seconds since the start (6 decimals: memhunt times are µs)
 *   total_mib                      the tree total (sum of RSS over the live processes)
 *   total_pss_mib | total_uss_mib  with --metric pss|uss: the tree total the metric counts, empty in
 *                                  rows without a PSS/USS read (they are read at an adaptive rate)
 *   root pid <pid> (<cmd>) rss_mib the root process's RSS, then one
 *   pid <pid> (<cmd>) rss_mib      column per other process, in the recording's order; a cell is
 *                                  empty when the process had no sample in that row (not alive)
 *   cgroup_usage_mib, cgroup_working_set_mib   when the recording has a cgroup
 *   cgroup_peak_mib, cgroup_limit_mib          when those were read (limit: empty = unlimited)
 *   epoch_s                        Unix time of the row (4 decimals), so spreadsheets can show
 *                                  wall-clock times and the reader can restore the start time
 * Sizes are MiB (2^20 bytes) with 6 decimals, about 1 byte. RFC 4180 quoting, "\n" line ends.
 *
 * A process's sample counts for the row whose time window [t_i, t_{i+1}) holds it (rows.ts), so
 * mprof CHLD readings, taken about 1 ms after their MEM line, land on their row.
 *
 * What the table cannot hold, and readCsv therefore does not restore: anon/file/shmem, PSS/USS,
 * events, the end of the run, parents (every process is read as a child of the root), full
 * commands (<cmd> is shortened: basename of argv[0], at most 60 characters), cwd/host/container.
 * The metric is restored from a total_pss_mib column (then the tree total counted is PSS); a
 * total_uss_mib column is read as RSS only, because the model keeps USS per process, which the
 * table does not hold. Only files in this layout are read: a spreadsheet that re-saves with
 * another delimiter or decimal comma gives a file readCsv reports as broken.
 */
import { CorruptRecordingError } from '../errors';
import { rssOnlyTrack, type CgroupSeries, type MemoryRecording, type ProcessTrack } from '../model/recording';
import { ModelError, SeriesBuilder, emptySeries, type Series } from '../model/series';
import { samplesPerRow } from './rows';
import { metricTotal } from '../model/metric';

const BYTES_PER_MIB = 2 ** 20;
const SHORT_COMMAND_MAX_CHARS = 60;

const HEADER_START = /^\uFEFF?time_s,total_mib(?:,|\r?\n|$)/;
const PROCESS_COLUMN = /^(root )?pid (\d+)(?: \((.*)\))? rss_mib$/;

/** True when the text starts with this module's header. */
export function isCsv(firstBytes: string): boolean {
  return HEADER_START.test(firstBytes);
}

/** "python3 train.py --epochs 3": argv[0]'s basename and the arguments, control characters blanked, ≤ 60 characters. */
export function shortCommand(argv: readonly string[]): string {
  if (argv.length === 0) return '';
  const first = argv[0]!.slice(argv[0]!.lastIndexOf('/') + 1);
  // eslint-disable-next-line no-control-regex
  const text = [first, ...argv.slice(1)].join(' ').replace(/[\u0000-\u001f\u007f]/g, ' ');
  return text.length > SHORT_COMMAND_MAX_CHARS ? `${text.slice(0, SHORT_COMMAND_MAX_CHARS - 1)}…` : text;
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

interface Column {
  header: string;
  /** Per row, MiB text or '' for no value. */
  cells: (row: number) => string;
}

function mibCells(rowTimesMs: Float64Array, s: Series, carryForward = false): (row: number) => string {
  const { bytes } = samplesPerRow(rowTimesMs, s, carryForward);
  return (row) => (Number.isNaN(bytes[row]!) ? '' : (bytes[row]! / BYTES_PER_MIB).toFixed(6));
}

export function writeCsv(rec: MemoryRecording): string {
  const rows = rec.total.tMs;
  const columns: Column[] = [
    { header: 'time_s', cells: (r) => (rows[r]! / 1000).toFixed(6) },
    { header: 'total_mib', cells: (r) => (rec.total.values[r]! / BYTES_PER_MIB).toFixed(6) },
  ];
  const metric = metricTotal(rec);
  if (metric.metric !== 'rss' && metric.series !== rec.total) {
    columns.push({ header: `total_${metric.metric}_mib`, cells: mibCells(rows, metric.series) });
  }
  const root = rec.processes.find((p) => p.pid === rec.meta.rootPid);
  const ordered = root ? [root, ...rec.processes.filter((p) => p !== root)] : rec.processes;
  for (const p of ordered) {
    const cmd = shortCommand(p.command);
    const header = `${p === root ? 'root ' : ''}pid ${p.pid}${cmd === '' ? '' : ` (${cmd})`} rss_mib`;
    columns.push({ header, cells: mibCells(rows, p.rss) });
  }
  if (rec.cgroup) {
    columns.push({ header: 'cgroup_usage_mib', cells: mibCells(rows, rec.cgroup.usage) });
    columns.push({ header: 'cgroup_working_set_mib', cells: mibCells(rows, rec.cgroup.workingSet) });
    if (rec.cgroup.peak.tMs.length > 0) columns.push({ header: 'cgroup_peak_mib', cells: mibCells(rows, rec.cgroup.peak) });
    // The limit series holds a sample per change: its level is carried to every row.
    if (rec.cgroup.limit.tMs.length > 0) {
      columns.push({ header: 'cgroup_limit_mib', cells: mibCells(rows, rec.cgroup.limit, true) });
    }
  }
  columns.push({ header: 'epoch_s', cells: (r) => ((rec.meta.startWallMs + rows[r]!) / 1000).toFixed(4) });

  const lines = [columns.map((c) => csvField(c.header)).join(',')];
  for (let r = 0; r < rows.length; r++) lines.push(columns.map((c) => c.cells(r)).join(','));
  return lines.join('\n') + '\n';
}

/**
 * RFC 4180 records. `cut` is true when the text does not end with a line break: the last record
 * may be incomplete.
 */
function parseRecords(text: string): { records: { fields: string[]; line: number }[]; cut: boolean } {
  const records: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const endRecord = (): void => {
    fields.push(field);
    // Blank lines (spreadsheets like to add some at the end) are not records.
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
    field = '';
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') inQuotes = false;
      else {
        if (ch === '\n') line++;
        field += ch;
      }
      i++;
      continue;
    }
    if (ch === '"' && field === '') inQuotes = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += ch;
    i++;
  }
  const cut = field !== '' || fields.length > 0 || inQuotes;
  if (cut) endRecord();
  return { records, cut };
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Reads a table writeCsv wrote. Null when the header is not ours; CorruptRecordingError when it is but a row cannot be read. */
export function readCsv(text: string): MemoryRecording | null {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (!isCsv(body)) return null;
  const warnings: string[] = [];
  const { records, cut } = parseRecords(body);
  if (!/\r?\n/.test(body)) throw new CorruptRecordingError('CSV: the file ends inside its header line');
  let truncated = false;
  if (cut) {
    // writeCsv ends every row with "\n": a last row without one was cut while being written.
    records.pop();
    truncated = true;
    warnings.push('the CSV ends in the middle of a row: that row was ignored');
  }
  const header = records.shift()!.fields;

  let timeCol = -1;
  let totalCol = -1;
  let pssCol = -1;
  let epochCol = -1;
  const cgroupCols: Partial<Record<keyof CgroupSeries, number>> = {};
  const processCols: { col: number; pid: number; root: boolean; command: string[] }[] = [];
  const ignored: string[] = [];
  header.forEach((name, col) => {
    const m = PROCESS_COLUMN.exec(name);
    if (name === 'time_s') timeCol = col;
    else if (name === 'total_mib') totalCol = col;
    else if (name === 'total_pss_mib') pssCol = col;
    else if (name === 'epoch_s') epochCol = col;
    else if (name === 'cgroup_usage_mib') cgroupCols.usage = col;
    else if (name === 'cgroup_working_set_mib') cgroupCols.workingSet = col;
    else if (name === 'cgroup_peak_mib') cgroupCols.peak = col;
    else if (name === 'cgroup_limit_mib') cgroupCols.limit = col;
    else if (m) {
      const cmd = m[3] ?? '';
      processCols.push({ col, pid: Number(m[2]), root: m[1] !== undefined, command: cmd === '' ? [] : cmd.split(' ') });
    } else ignored.push(name);
  });
  if (ignored.length > 0) warnings.push(`CSV columns memhunt does not know were ignored: ${ignored.join(', ')}`);

  const cell = (fields: string[], col: number, line: number, what: string): number => {
    const text = fields[col]!;
    if (text === '') return NaN;
    if (!NUMBER.test(text)) throw new CorruptRecordingError(`CSV line ${line}: ${what} "${text}" is not a number`);
    return Number(text);
  };

  const total = new SeriesBuilder('CSV total_mib', Math.max(16, records.length));
  const totalPss = new SeriesBuilder('CSV total_pss_mib');
  const procBuilders = processCols.map((p) => new SeriesBuilder(`CSV pid ${p.pid}`));
  const lastRowWith = processCols.map(() => -1);
  const cgBuilders = new Map<keyof CgroupSeries, SeriesBuilder>();
  for (const key of Object.keys(cgroupCols) as (keyof CgroupSeries)[]) cgBuilders.set(key, new SeriesBuilder(`CSV cgroup ${key}`));
  let lastLimitBytes = NaN;
  const rowTimesMs: number[] = [];
  let startWallMs = NaN;

  try {
    records.forEach(({ fields, line }, row) => {
      if (fields.length !== header.length) {
        throw new CorruptRecordingError(`CSV line ${line}: ${fields.length} fields where the header has ${header.length}`);
      }
      const timeS = cell(fields, timeCol, line, 'time_s');
      if (Number.isNaN(timeS)) throw new CorruptRecordingError(`CSV line ${line}: time_s is empty`);
      const tMs = timeS * 1000;
      rowTimesMs.push(tMs);
      const totalMib = cell(fields, totalCol, line, 'total_mib');
      if (!Number.isNaN(totalMib)) total.push(tMs, totalMib * BYTES_PER_MIB);
      if (pssCol >= 0) {
        const pssMib = cell(fields, pssCol, line, 'total_pss_mib');
        if (!Number.isNaN(pssMib)) totalPss.push(tMs, pssMib * BYTES_PER_MIB);
      }
      processCols.forEach((p, k) => {
        const mib = cell(fields, p.col, line, `pid ${p.pid}`);
        if (Number.isNaN(mib)) return;
        procBuilders[k]!.push(tMs, mib * BYTES_PER_MIB);
        lastRowWith[k] = row;
      });
      for (const [key, b] of cgBuilders) {
        const mib = cell(fields, cgroupCols[key]!, line, `cgroup ${key}`);
        if (Number.isNaN(mib)) continue;
        const bytes = mib * BYTES_PER_MIB;
        // The model's limit series has a sample per change; the table repeats the level on each row.
        if (key === 'limit') {
          if (bytes === lastLimitBytes) continue;
          lastLimitBytes = bytes;
        }
        b.push(tMs, bytes);
      }
      if (epochCol >= 0 && Number.isNaN(startWallMs)) {
        const epochS = cell(fields, epochCol, line, 'epoch_s');
        if (!Number.isNaN(epochS)) startWallMs = epochS * 1000 - tMs;
      }
    });
  } catch (e) {
    if (e instanceof ModelError) throw new CorruptRecordingError(`CSV: ${e.message}`);
    throw e;
  }
  if (Number.isNaN(startWallMs)) {
    startWallMs = 0;
    warnings.push('the CSV has no epoch_s value: the wall-clock start is unknown (shown as 1970-01-01)');
  }

  const root = processCols.find((p) => p.root);
  const rootPid = root ? root.pid : null;
  const processes: ProcessTrack[] = processCols.map((p, k) => {
    const rss = procBuilders[k]!.build();
    const last = lastRowWith[k]!;
    return rssOnlyTrack({
      pid: p.pid,
      // Parents are not in the table; every process of a recording is a descendant of the root.
      ppid: p.root || rootPid === null ? 0 : rootPid,
      command: p.command,
      firstSeenMs: rss.tMs.length > 0 ? rss.tMs[0]! : 0,
      // Seen gone at the row after its last value; alive at the end when that was the last row.
      exitMs: last >= 0 && last + 1 < rowTimesMs.length ? rowTimesMs[last + 1]! : null,
      rss,
    });
  });

  const cgroup: CgroupSeries | null =
    cgBuilders.size === 0
      ? null
      : {
          usage: cgBuilders.get('usage')?.build() ?? emptySeries(),
          workingSet: cgBuilders.get('workingSet')?.build() ?? emptySeries(),
          peak: cgBuilders.get('peak')?.build() ?? emptySeries(),
          limit: cgBuilders.get('limit')?.build() ?? emptySeries(),
        };

  return {
    meta: {
      source: 'csv',
      formatVersion: null,
      memhuntVersion: null,
      mode: 'import',
      command: root ? root.command : [],
      cwd: null,
      host: null,
      containerId: null,
      startWallMs,
      intervalMs: null,
      metric: pssCol >= 0 ? 'pss' : 'rss',
      limitBytes: null,
      cgroup: null,
      rootPid,
    },
    total: total.build(),
    totalPss: totalPss.build(),
    processes,
    cgroup,
    events: [],
    end: null,
    warnings,
    truncated,
  };
}
