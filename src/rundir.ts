/**
 * Run directories: the private 0700 folder of one `memhunt run` (its marker FIFO and agent
 * socket), named memhunt-XXXXXX in the temporary folder. It holds `owner`: "<pid> <start time>"
 * of the memhunt process that made it, which is how
 * - a new run removes the directories of runs killed with SIGKILL (they cannot clean up), and
 * - `memhunt snapshot/refs <pid>` tells a socket memhunt made from one a program names
 *   (src/agents/client.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InputError } from './errors';
import { readStat, readUid } from './procfs/process';

/** Name of the file in a run directory that says which memhunt made it. */
export const OWNER_FILE = 'owner';
const RUN_DIR_PREFIX = 'memhunt-';
/** A run directory's name: mkdtemp's six characters after the prefix. */
export const RUN_DIR_NAME = /^memhunt-[A-Za-z0-9]{6}$/;

/** "<pid> <start time in clock ticks since boot>": a pid alone could be reused by another process. */
function processIdentity(pid: number): string | null {
  const st = readStat(pid, '/');
  return st ? `${pid} ${st.startTicks}` : null;
}

/** The private 0700 directory of a run (FIFO, agent socket), with its owner file; stale ones of ours are removed first. */
export function makeRunDir(tmp = os.tmpdir()): string {
  removeStaleRunDirs(tmp);
  const dir = fs.mkdtempSync(path.join(tmp, RUN_DIR_PREFIX));
  fs.chmodSync(dir, 0o700);
  const me = processIdentity(process.pid);
  if (me) fs.writeFileSync(path.join(dir, OWNER_FILE), `${me}\n`, { mode: 0o600 });
  return dir;
}

/**
 * Removes the run directories in tmp left by memhunt runs that were killed (SIGKILL, a container
 * stopped): only directories named memhunt-XXXXXX, owned by this user, not links, whose owner
 * file names a process that is gone (or a different process with the same pid). Directories
 * without an owner file (another program's, or a run still starting) are left alone. Returns how
 * many were removed.
 */
export function removeStaleRunDirs(tmp = os.tmpdir()): number {
  const uid = process.getuid?.() ?? -1;
  let removed = 0;
  let names: string[];
  try {
    names = fs.readdirSync(tmp);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!RUN_DIR_NAME.test(name)) continue;
    const dir = path.join(tmp, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== uid) continue;
      const owner = fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim();
      const m = /^(\d+) (\d+)$/.exec(owner);
      if (!m) continue;
      if (processIdentity(Number(m[1])) === owner) continue; // its memhunt still runs
      fs.rmSync(dir, { recursive: true, force: true });
      removed++;
    } catch {
      // no owner file, or raced with its own clean-up: not ours to judge
    }
  }
  return removed;
}

/** The memhunt process that made a run directory, from its owner file, if it still runs; else null. */
export function runDirOwner(dir: string): number | null {
  try {
    const owner = fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim();
    const m = /^(\d+) (\d+)$/.exec(owner);
    if (m && processIdentity(Number(m[1])) === owner) return Number(m[1]);
  } catch {
    // none
  }
  return null;
}

/** Who a process is, for messages and checks: null when there is no such process. */
export function processInfo(pid: number, procRoot = '/'): { uid: number | null; comm: string; running: boolean } | null {
  const st = readStat(pid, procRoot);
  if (!st) return null;
  return { uid: readUid(pid, procRoot), comm: st.comm, running: st.state !== 'Z' };
}

/** The inode of the listening Unix socket bound to socketPath, from /proc/net/unix; null when none listens. */
function listeningInode(socketPath: string, procRoot: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(procRoot, 'proc', 'net', 'unix'), 'latin1');
  } catch {
    return null;
  }
  // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 = __SO_ACCEPTCON (listening).
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f.slice(7).join(' ') !== socketPath) continue;
    if ((parseInt(f[3]!, 16) & 0x10000) === 0) continue;
    return Number(f[6]);
  }
  return null;
}

function holdsSocket(pid: number, inode: number, procRoot: string): boolean {
  const dir = path.join(procRoot, 'proc', String(pid), 'fd');
  let fds: string[];
  try {
    fds = fs.readdirSync(dir);
  } catch {
    return false;
  }
  const want = `socket:[${inode}]`;
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(path.join(dir, fd)) === want) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * True when pid runs memhunt: Node running a script dist/cli/main.js of a package named "memhunt"
 * (how npm's bin link, npx and `node dist/cli/main.js` all start it). Reads only /proc and that
 * package.json (64 KiB at most).
 */
export function isMemhuntProcess(pid: number, procRoot = '/'): boolean {
  try {
    const proc = path.join(procRoot, 'proc', String(pid));
    if (!/^node/.test(path.basename(fs.readlinkSync(path.join(proc, 'exe'))))) return false;
    const argv = fs.readFileSync(path.join(proc, 'cmdline'), 'utf8').split('\0');
    const script = argv.slice(1).find((a) => a && !a.startsWith('-'));
    if (!script || path.basename(script) !== 'main.js') return false;
    const cwd = fs.readlinkSync(path.join(proc, 'cwd'));
    const pkgFile = path.join(path.dirname(path.resolve(cwd, script)), '..', '..', 'package.json');
    const fd = fs.openSync(pkgFile, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      return (JSON.parse(buf.toString('utf8', 0, n)) as { name?: unknown }).name === 'memhunt';
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

function isAncestor(ancestor: number, pid: number, procRoot: string): boolean {
  let p = pid;
  for (let i = 0; i < 4096 && p > 1; i++) {
    const st = readStat(p, procRoot);
    if (!st) return false;
    if (st.ppid === ancestor) return true;
    p = st.ppid;
  }
  return false;
}

/**
 * Throws an InputError unless socketPath is the agent socket of a memhunt run containing pid
 * (src/agents/client.ts says why):
 *   - it is <tmp>/memhunt-XXXXXX/agent.sock, the directory a real directory (not a link) of mode
 *     0700, directory and socket owned by the target's user;
 *   - the directory's owner file names a live process (pid and start time) of that same user,
 *     which is an ancestor of the target and holds the socket's listening end (/proc/net/unix,
 *     /proc/<owner>/fd).
 * Each refusal says which rule failed.
 */
export function verifyRunSocket(pid: number, socketPath: string, procRoot = '/'): void {
  const refuse = (why: string) =>
    new InputError(`pid ${pid} names the agent socket ${JSON.stringify(socketPath)}, which memhunt did not make for it (${why}); refusing to connect`);
  const uid = readUid(pid, procRoot);
  if (uid === null) throw new InputError(`no process with pid ${pid}`);
  const dir = path.dirname(socketPath);
  if (!path.isAbsolute(socketPath) || path.basename(socketPath) !== 'agent.sock' || !RUN_DIR_NAME.test(path.basename(dir))) {
    throw refuse('not a memhunt-XXXXXX/agent.sock path');
  }
  let dst: fs.Stats;
  let sst: fs.Stats;
  try {
    dst = fs.lstatSync(dir);
    sst = fs.lstatSync(socketPath);
  } catch {
    throw new InputError(`the memhunt run that started pid ${pid} has ended (its socket ${socketPath} is gone)`);
  }
  if (!dst.isDirectory()) throw refuse('its folder is not a directory');
  if ((dst.mode & 0o777) !== 0o700) throw refuse(`its folder has mode ${(dst.mode & 0o777).toString(8)}, not 700`);
  if (dst.uid !== uid) throw refuse(`its folder belongs to uid ${dst.uid}, the process to uid ${uid}`);
  if (!sst.isSocket()) throw refuse('not a socket');
  if (sst.uid !== uid) throw refuse(`the socket belongs to uid ${sst.uid}, the process to uid ${uid}`);
  let owner: string;
  try {
    owner = fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim();
  } catch {
    throw refuse('its folder has no owner file');
  }
  const m = /^(\d+) (\d+)$/.exec(owner);
  if (!m) throw refuse('its owner file is malformed');
  const host = Number(m[1]);
  const hostStat = readStat(host, procRoot);
  if (!hostStat || String(hostStat.startTicks) !== m[2]) {
    throw new InputError(`the memhunt run that started pid ${pid} has ended (pid ${host} is gone)`);
  }
  if (readUid(host, procRoot) !== uid) throw refuse(`the memhunt process ${host} belongs to another user`);
  if (!isMemhuntProcess(host, procRoot)) throw refuse(`its owner, pid ${host}, is not a memhunt process`);
  if (!isAncestor(host, pid, procRoot)) throw refuse(`pid ${pid} is not in the process tree of memhunt (pid ${host}) that made it`);
  const inode = listeningInode(socketPath, procRoot);
  if (inode === null || !holdsSocket(host, inode, procRoot)) throw refuse(`memhunt (pid ${host}) does not serve it`);
}

