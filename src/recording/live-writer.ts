/**
 * Which process, if any, still has a recording open for writing: `heap`/`summary` on a file that
 * another `memhunt run` is recording has no end record yet, which is not "memhunt stopped while
 * recording". Found from /proc: a process with a descriptor on the same file (device and inode)
 * opened for writing (/proc/PID/fdinfo/N flags, O_WRONLY or O_RDWR). Processes whose descriptors
 * cannot be read (another user's, without privileges) are not seen: the answer is then null, as
 * for a recording nobody writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface LiveWriter {
  pid: number;
  /** Its command line, as /proc/PID/cmdline has it (may be empty). */
  command: string[];
}

/** O_ACCMODE of open(2): 0 read-only, 1 write-only, 2 read-write. */
const O_ACCMODE = 3;

export function findLiveWriter(filePath: string, procRoot = '/'): LiveWriter | null {
  let target: fs.Stats;
  try {
    target = fs.statSync(filePath);
  } catch {
    return null;
  }
  const proc = path.join(procRoot, 'proc');
  let pids: string[];
  try {
    pids = fs.readdirSync(proc).filter((n) => /^\d+$/.test(n));
  } catch {
    return null;
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(path.join(proc, pid, 'fd'));
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const st = fs.statSync(path.join(proc, pid, 'fd', fd));
        if (st.ino !== target.ino || st.dev !== target.dev) continue;
        const info = fs.readFileSync(path.join(proc, pid, 'fdinfo', fd), 'latin1');
        const flags = /^flags:\s*([0-7]+)/m.exec(info);
        if (!flags || (parseInt(flags[1]!, 8) & O_ACCMODE) === 0) continue;
        let command: string[] = [];
        try {
          command = fs.readFileSync(path.join(proc, pid, 'cmdline'), 'utf8').split('\0').filter((a) => a.length > 0);
        } catch {
          command = [];
        }
        return { pid: Number(pid), command };
      } catch {
        // the descriptor closed meanwhile
      }
    }
  }
  return null;
}
