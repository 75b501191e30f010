/**
 * Helpers for tests only (compiled with them; nothing in src imports this outside *.test.ts).
 * End-to-end tests start the real binary (dist/cli/main.js) as a user would.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MemoryRecording } from './model/recording';

export const REPO = path.resolve(__dirname, '..');
export const CLI = path.join(REPO, 'dist', 'cli', 'main.js');
export const FIXTURES = path.join(REPO, 'fixtures');

export function tempDir(prefix = 'memhunt-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (process.env.MEMHUNT_TEST_KEEP_TMP !== '1') {
    if (tempDirs.size === 0) process.on('exit', removeTempDirs);
    tempDirs.add(dir);
  }
  return dir;
}

/**
 * The folders tempDir() made, removed when the test file's process exits (MEMHUNT_TEST_KEEP_TMP=1
 * keeps them). Most tests did not remove theirs: a day of suites left ~13,000 folders in /tmp, and
 * every `memhunt run` reads /tmp for stale run folders (removeStaleRunDirs: ~40 ms of CPU a start
 * with 13,000 entries).
 */
const tempDirs = new Set<string>();
function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // a folder a test made read-only, or one still being written: left behind
    }
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs memhunt with args; resolves when it exits (killed after timeoutMs, a loose safety bound). */
export function runCli(args: string[], opts: SpawnOptions & { timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Python interpreters for agent/workload tests: the system's python3 plus the oldest and newest pyenv ones present. */
export function pythonPath(): string {
  return 'python3';
}

let resolvedPython: string | null = null;

/**
 * The interpreter `python3` on PATH runs (its sys.executable), without pyenv's shim in between: the
 * shim is a bash script that starts ~30 short processes (seconds of a busy machine) in the same pid
 * before the interpreter, and a test that judges the shape or level of a short program's curve (the
 * live corpus, a census's cost) is starved or misled by them. Tests of the shim itself keep `python3`.
 */
export function interpreterPython(): string {
  if (resolvedPython === null) {
    const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
    resolvedPython = r.status === 0 && r.stdout.trim() ? r.stdout.trim() : 'python3';
  }
  return resolvedPython;
}

/**
 * Reads the recording memhunt is writing at `file`, as a user would, each time the file changed,
 * until `enough(rec)` holds: resolves with that reading, or with the last one (null if none) once
 * `done()` says to stop (the run ended) or `timeoutMs` passed (a loose bound; the caller asserts).
 *
 * Why only when it changed: a recording without its end record is looked up in /proc for a
 * writer still holding it (every descriptor of every process: ~15 ms of CPU with 130 processes,
 * more on a busy machine), and memhunt flushes at most once a second. Polling every 25 ms read it
 * 40 times a second, 39 of them for nothing, half a core spent while the test waited. The file is
 * still read at least once a second (a write whose size and mtime look unchanged is not missed).
 */
export async function untilRecording(
  file: string,
  enough: (rec: MemoryRecording) => boolean,
  opts: { everyMs?: number; timeoutMs?: number; done?: () => boolean } = {},
): Promise<MemoryRecording | null> {
  const { readMemhuntRecording } = await import('./recording/reader');
  const everyMs = opts.everyMs ?? 25;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let seen = '';
  let readAt = 0;
  let last: MemoryRecording | null = null;
  for (;;) {
    const ended = opts.done?.() ?? false;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(file);
    } catch {
      st = undefined; // not created yet
    }
    const key = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : '';
    if (st && (key !== seen || Date.now() - readAt >= 1000 || ended)) {
      seen = key;
      readAt = Date.now();
      try {
        last = await readMemhuntRecording(file);
        if (enough(last)) return last;
      } catch {
        // the header is not written yet (or a flush is half written: the next change is read)
      }
    }
    if (ended || Date.now() >= deadline) return last;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until the recording being written at out holds at least `min` samples, read back as a user
 * would (the event a test waits for before it interrupts a run). A file's existence or size is not
 * enough: run writes and truncates a one-byte probe before the header.
 */
export async function waitForSamples(out: string, min = 1, timeoutMs = 30_000): Promise<void> {
  await untilRecording(out, (rec) => rec.total.tMs.length >= min, { timeoutMs });
}

/**
 * Runs `memhunt run ARGS` under script(1), which gives it a pseudo-terminal as a person at a
 * terminal has (pdb needs one); at the first "(Pdb)" prompt, writes `answer` (e.g. "c\n") and calls
 * `atPrompt`. Resolves with the exit code, all the output, and whether the prompt was seen.
 * `boundMs` is a safety bound only (SIGKILL): the caller's program ends on an event.
 */
export async function runMemhuntInTerminal(args: string[], opts: { cwd: string; answer: string; atPrompt?: () => void; boundMs?: number }): Promise<{ code: number | null; text: string; prompted: boolean }> {
  const cmd = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], cwd: opts.cwd });
  let text = '';
  let prompted = false;
  child.stdout!.on('data', (d: Buffer) => {
    text += d.toString();
    if (!prompted && text.includes('(Pdb)')) {
      prompted = true;
      child.stdin!.write(opts.answer);
      opts.atPrompt?.();
    }
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.boundMs ?? 90_000);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearTimeout(timer);
  return { code, text, prompted };
}
