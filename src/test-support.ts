/**
 * Helpers for tests only (compiled with them; nothing in src imports this outside *.test.ts).
 * End-to-end tests start the real binary (dist/cli/main.js) as a user would.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '..');
export const CLI = path.join(REPO, 'dist', 'cli', 'main.js');
export const FIXTURES = path.join(REPO, 'fixtures');

export function tempDir(prefix = 'memhunt-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
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

/**
 * Waits until the recording being written at out holds at least `min` samples, read back as a user
 * would (the event a test waits for before it interrupts a run). A file's existence or size is not
 * enough: run writes and truncates a one-byte probe before the header.
 */
export async function waitForSamples(out: string, min = 1, tries = 1200): Promise<void> {
  const { readMemhuntRecording } = await import('./recording/reader');
  for (let i = 0; i < tries; i++) {
    if (fs.existsSync(out)) {
      try {
        if ((await readMemhuntRecording(out)).total.tMs.length >= min) return;
      } catch {
        // the header is not written yet
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
