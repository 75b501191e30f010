/**
 * The largest objects and the duplicated data of a census (`--largest N`, `--duplicates`), as
 * text lines: used by `memhunt snapshot` and `memhunt heap`. Pure functions over the contract's
 * shapes (src/contract/shapes.ts); the agent side is runtimes/python/lib/memhunt/_largest.py.
 */
import type { DuplicateHolder, DuplicatesBody, LargeObject } from '../contract/shapes';
import { DUPLICATE_ROWS, duplicateGroupTitle, moreHoldersText, shortType } from '../model/duplicates';
import { InputError } from '../errors';
import { formatBytes, formatCount, formatDuration, parseSize } from '../units';

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function objectText(o: LargeObject): string {
  const what = o.label.startsWith(shortType(o.typeName)) || o.label.startsWith(o.typeName) ? o.label : `${shortType(o.typeName)} ${o.label}`;
  return `${cut(what, 44).padEnd(44)}  ${o.path}`;
}

/** `--largest N`: one line per object, largest first, with who holds it. */
export function largestLines(objects: readonly LargeObject[], indent = ''): string[] {
  if (objects.length === 0) return [`${indent}largest objects: none`];
  const lines = [`${indent}largest objects (the memory each owns: an array its buffer, a DataFrame its blocks, a container its own storage, with what it holds):`];
  // A container's own storage is not what it keeps alive: "7.6 MiB" for a list of lists of floats
  // holding 183 MiB was read as all of it. What it holds (numbers, strings and containers of them
  // that only it references, estimated from samples) follows.
  for (const o of objects) {
    const holds = o.holdsBytes !== undefined && o.holdsBytes > o.bytes ? `  (holds ≈${formatBytes(o.holdsBytes)} with its numbers and strings)` : '';
    lines.push(`${indent}  ${formatBytes(o.bytes).padStart(10)}  ${objectText(o)}${holds}`);
  }
  return lines;
}

const RELATION_TEXT: Record<DuplicateHolder['relation'], string> = {
  identical: 'identical',
  converted: 'converted',
  shares: 'shares',
  changed: 'changed',
};

/** `--duplicates`: each group (most bytes saved first), its holders, the views sharing its memory. */
export function duplicatesLines(d: DuplicatesBody, indent = ''): string[] {
  const lines = [
    // What each figure is: the data the candidates hold, and what comparing them read (only those of
    // equal length are compared; a conversion reads some twice). "91.6 MiB compared" beside "76.3
    // MiB" held said neither.
    `${indent}duplicates: ${formatCount(d.candidates)} object${d.candidates === 1 ? '' : 's'} with ≥ ${formatBytes(d.minBytes)} of data each, holding ${formatBytes(d.candidateBytes)} in all; ` +
      `comparing them read ${formatBytes(d.readBytes)} (only equal lengths are compared; some data twice) in ${formatDuration(d.durationMs)}:`,
  ];
  for (const n of d.notes) lines.push(`${indent}  note: ${n}`);
  if (d.groups.length === 0) lines.push(`${indent}  no two objects hold the same data`);
  d.groups.forEach((g, i) => {
    lines.push(
      `${indent}  group ${i + 1}: ${duplicateGroupTitle(g)}, ${g.holders.length} holders, ${formatBytes(g.totalBytes)} in all; keeping one would save ${formatBytes(g.savedBytes)}`,
    );
    for (const h of g.holders.slice(0, DUPLICATE_ROWS)) lines.push(`${indent}    ${formatBytes(h.bytes).padStart(10)}  ${RELATION_TEXT[h.relation].padEnd(9)}  ${objectText(h)}`);
    if (g.holders.length > DUPLICATE_ROWS) lines.push(`${indent}    ${''.padStart(10)}  ${moreHoldersText(g.holders.slice(DUPLICATE_ROWS))}`);
    for (const s of g.sharing) {
      const owner = s.sharesWith !== undefined ? g.holders[s.sharesWith] : undefined;
      lines.push(`${indent}    ${''.padStart(10)}  ${'shares'.padEnd(9)}  ${objectText(s)}  (a view of ${owner ? owner.path : 'a holder'}: not a copy)`);
    }
  });
  if (d.changed.length) {
    lines.push(`${indent}  changed while compared (not grouped; compare again later):`);
    for (const h of d.changed) lines.push(`${indent}    ${formatBytes(h.bytes).padStart(10)}  ${objectText(h)}`);
  }
  return lines;
}

/** --duplicates compares objects with at least this much data unless --min-size says otherwise. */
export const DEFAULT_DUPLICATES_MIN_BYTES = 1024 ** 2;
/** --largest accepts 1 to this many objects (each gets a chain to a root: a pass over the heap per level). */
export const MAX_LARGEST = 1000;

/**
 * --largest N, --duplicates and --min-size SIZE (snapshot and run) as request fields. --min-size
 * without --duplicates, 0, a bare number or a malformed size: InputError/UnitError (exit 2).
 */
export function resolveLargestOptions(flags: { largest?: string; duplicates?: boolean; minSize?: string }): { largest?: number; duplicatesMinBytes?: number } {
  const out: { largest?: number; duplicatesMinBytes?: number } = {};
  if (flags.largest !== undefined) {
    if (!/^\d+$/.test(flags.largest) || Number(flags.largest) < 1 || Number(flags.largest) > MAX_LARGEST) {
      throw new InputError(`--largest "${flags.largest}" must be a whole number from 1 to ${MAX_LARGEST}`);
    }
    out.largest = Number(flags.largest);
  }
  if (flags.minSize !== undefined && !flags.duplicates) throw new InputError(`--min-size ${flags.minSize} is the threshold of --duplicates: add --duplicates`);
  if (flags.duplicates) out.duplicatesMinBytes = flags.minSize === undefined ? DEFAULT_DUPLICATES_MIN_BYTES : parseSize(flags.minSize, '--min-size');
  return out;
}
