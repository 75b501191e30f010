/**
 * Words for the duplicated data of a census (`--duplicates`), shared by the terminal (src/agents/
 * largest.ts) and the report page (src/render/report.ts). Pure functions over the contract's shapes.
 */
import type { DuplicateGroup, DuplicateHolder } from '../contract/shapes';
import { formatBytes } from '../units';

/** numpy.ndarray and pandas.core.frame.DataFrame read better as ndarray and DataFrame. */
export function shortType(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/**
 * A duplicate group's heading: how much data, of what kind, held as which types. The agent's kind
 * "bytes" is raw bytes (of a bytes, bytearray, memoryview or a non-numeric buffer), not the type
 * bytes: said as "raw bytes" so a group of bytearrays is not headed "bytes".
 */
export function duplicateGroupTitle(g: DuplicateGroup): string {
  const identical = g.holders.filter((h) => h.relation === 'identical').map((h) => h.bytes);
  const one = identical.length ? Math.min(...identical) : g.totalBytes - g.savedBytes;
  const types = [...new Set(g.holders.map((h) => shortType(h.typeName)))];
  return `${formatBytes(one)} of ${g.what === 'bytes' ? 'raw bytes' : g.what} (${types.join(', ')})`;
}

/** Holder rows shown per duplicate group; the rest are counted, with the first and last holder. */
export const DUPLICATE_ROWS = 10;

/** The holders past DUPLICATE_ROWS in one line: "… 19 more, __main__.keep[18] … __main__.keep[0]". */
export function moreHoldersText(rest: readonly DuplicateHolder[]): string {
  if (rest.length === 0) return '';
  const ends = rest.length === 1 ? rest[0]!.path : `${rest[0]!.path} … ${rest[rest.length - 1]!.path}`;
  return `… ${rest.length} more of ${formatBytes(rest.reduce((a, h) => a + h.bytes, 0))}${ends.trim() ? `: ${ends}` : ''} (--json lists all)`;
}

