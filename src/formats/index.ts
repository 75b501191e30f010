/**
 * The foreign formats memhunt reads and writes, in one explicit ordered list (no folder scanning:
 * it breaks under bundlers). memhunt's own .mh recordings are not here: src/cli/load.ts tries
 * src/recording/reader.ts first and comes here for everything else.
 *
 * Detection: a format whose extension matches the file name is tried first, then every format in
 * list order by content. A name alone never decides: each format's sniff must agree with the first
 * bytes, so a CSV saved as "run.dat" is still read as CSV, and readers never see text that is not
 * theirs. The sniffs are mutually exclusive (a keyword line, a fixed CSV header, a JSON object
 * whose first key is "format"), so the order only matters for speed.
 */
import type { MemoryRecording } from '../model/recording';
import { isCsv, readCsv, writeCsv } from './csv';
import { isJson, readJson, writeJson } from './json';
import { isMprofDat, readMprofDat, writeMprofDat } from './mprof-dat';

export interface ForeignFormat {
  /** Short name, as users type it (e.g. an export command's --format). */
  name: 'mprof' | 'csv' | 'json';
  description: string;
  /** Lower-case, with the dot. */
  extensions: readonly string[];
  /** Recognises the format from the start of a file (the first few KiB are enough). */
  is(firstBytes: string): boolean;
  /** null: not this format; throws CorruptRecordingError: this format, but broken. */
  read(text: string): MemoryRecording | null;
  write(rec: MemoryRecording): string;
}

/** How many characters of a file detection looks at; every sniff decides on its first line. */
export const SNIFF_CHARS = 4096;

export const FOREIGN_FORMATS: readonly ForeignFormat[] = [
  {
    name: 'mprof',
    description: "memory_profiler's mprof .dat (MEM/CHLD/FUNC/CMDLINE lines)",
    extensions: ['.dat'],
    is: isMprofDat,
    read: readMprofDat,
    write: writeMprofDat,
  },
  {
    name: 'csv',
    description: 'memhunt wide CSV: time_s, total_mib, one rss_mib column per process, cgroup columns',
    extensions: ['.csv'],
    is: isCsv,
    read: readCsv,
    write: writeCsv,
  },
  {
    name: 'json',
    description: 'memhunt JSON: the whole recording as one document',
    extensions: ['.json'],
    is: isJson,
    read: readJson,
    write: writeJson,
  },
];

function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot).toLowerCase();
}

/** The format named by a file's extension, regardless of content (for choosing how to write). */
export function formatForName(name: string): ForeignFormat | null {
  const ext = extensionOf(name);
  return FOREIGN_FORMATS.find((f) => f.extensions.includes(ext)) ?? null;
}

/** The format of a file: by its name when the content agrees, else by content alone; null when none. */
export function detectFormat(name: string, firstBytes: string): ForeignFormat | null {
  const head = firstBytes.slice(0, SNIFF_CHARS);
  const byName = formatForName(name);
  if (byName && byName.is(head)) return byName;
  for (const f of FOREIGN_FORMATS) {
    if (f !== byName && f.is(head)) return f;
  }
  return null;
}

/**
 * Reads a file in one of the foreign formats. null when it is none of them; throws
 * CorruptRecordingError when it is one but cannot be read.
 */
export function readForeign(path: string, text: string): MemoryRecording | null {
  const format = detectFormat(path, text);
  return format ? format.read(text) : null;
}
