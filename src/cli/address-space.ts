/**
 * memhunt under `ulimit -v` (RLIMIT_AS). Users set it to make a Python program fail at a memory size
 * (MemoryError), but the limit applies to memhunt too: Node.js reserves about 1 GiB of address space
 * for itself (V8's heap and code ranges, 64 MiB malloc arenas per thread) and aborts with a native
 * stack trace when it cannot, in the middle of a run, its recording lost. So below a floor memhunt
 * refuses at the start, in one line, and says how to limit the program alone.
 */
import * as fs from 'node:fs';
import { InputError } from '../errors';
import { formatBytes } from '../units';

/** What memhunt needs to run safely (measured: a `run` reaches ~1.0 GiB VmPeak; aborts seen at 781 MiB, runs fine at 1.9 GiB). */
export const ADDRESS_SPACE_FLOOR = 1.5 * 1024 ** 3;

/** The soft RLIMIT_AS in bytes from /proc/self/limits text, or null when unlimited or unknown. */
export function addressSpaceLimit(limitsText: string): number | null {
  const m = /^Max address space\s+(\S+)/m.exec(limitsText);
  if (!m || m[1] === 'unlimited') return null;
  const n = Number(m[1]);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Throws InputError (exit 2) when this process's address space is limited below the floor. */
export function checkAddressSpace(limitsPath = '/proc/self/limits'): void {
  let text: string;
  try {
    text = fs.readFileSync(limitsPath, 'utf8');
  } catch {
    return;
  }
  const limit = addressSpaceLimit(text);
  if (limit === null || limit >= ADDRESS_SPACE_FLOOR) return;
  const kib = Math.floor(limit / 1024);
  throw new InputError(
    `the address space is limited to ${formatBytes(limit)} (ulimit -v ${kib}), and memhunt (Node.js) needs about ` +
      `${formatBytes(ADDRESS_SPACE_FLOOR)} of its own: limit the program alone, ` +
      `memhunt run -- sh -c 'ulimit -v ${kib} && exec python3 job.py', or rehearse a container limit with --limit`,
  );
}
