/** File helpers shared by the commands that write outputs. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a whole file or nothing: the data goes to a temporary name beside the target and is
 * renamed over it (rename is atomic within a file system), so an error or a kill mid-write never
 * leaves a half-written output, and an existing file survives until the new one is complete.
 */
export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
