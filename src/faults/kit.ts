/**
 * Helpers of the fault-injection tests (src/faults/*.test.ts; not a test file itself).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeSyntheticRecording } from '../cli/analysis-testkit';
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, RECORDING_VERSION, type HeaderRecord } from '../recording/spec';
import { CLI, tempDir } from '../test-support';

export const isRoot = process.getuid?.() === 0;
export const ESC = '\x1b';
export const HOSTILE = `${ESC}]0;PWNED\x07${ESC}[31mRED\u009b31m`;

/** A private TMPDIR and cwd for one test. */
export function sandbox(): { dir: string; tmp: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir('memhunt-fault-');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp, { mode: 0o700 });
  return { dir, tmp, env: { ...process.env, TMPDIR: tmp } };
}

export function runDirs(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((n) => n.startsWith('memhunt-'));
}

export function header(command: string[]): HeaderRecord {
  return {
    type: 'header', format: RECORDING_FORMAT, version: RECORDING_VERSION, memhuntVersion: 'test', mode: 'run',
    command, cwd: '/tmp', host: 'test', containerId: null, startWallMs: Date.UTC(2026, 0, 1),
    startIso: new Date(Date.UTC(2026, 0, 1)).toISOString(), intervalMs: 50, metric: 'rss', limitBytes: null, rootPid: 10,
    cgroup: null, fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] }, labels: {},
  };
}

/** A recording big enough that its CSV (~2.3 MB) is far beyond a pipe's 64 KiB buffer. */
export function bigRecording(dir: string): string {
  const procs = Array.from({ length: 8 }, (_, i) => ({ pid: 100 + i, cmd: ['python3', `worker${i}.py`], mib: (t: number) => 50 + i + (t % 7) }));
  return writeSyntheticRecording(path.join(dir, 'big.mh'), procs, { durationS: 1000, intervalMs: 50 });
}

/** Runs `memhunt args` with stdout to a pipe nobody reads for delayMs, then reads it all. */
export function slowReader(args: string[], delayMs: number): Promise<{ code: number | null; bytes: number; stderr: string; text: string }> {
  // The pipe is left unread at the OS level (`| (sleep; cat)`): a paused Node stream is no slow
  // reader, since Node resumes (and drops) the unread output of a child that has exited.
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, CLI, ...args].map(quote).join(' ');
  const script = `${cmd} | (sleep ${(delayMs / 1000).toFixed(3)}; cat); exit \${PIPESTATUS[0]}`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const all = Buffer.concat(chunks);
      resolve({ code, bytes: all.length, stderr, text: all.toString() });
    });
  });
}

/**
 * A fake host: a process that makes a run directory (0700, owner file naming itself), serves
 * agent.sock there, starts a child with MEMHUNT_AGENT_SOCKET pointing at it, and answers every
 * connection with `reply`. As `memhunt` it is a Node script dist/cli/main.js of a package named
 * memhunt, so it passes every check the client makes (same user, memhunt's layout, an ancestor
 * serving the socket, a memhunt process): what it replies is what the client must survive. As
 * `python` it is any other program; with `plainDir` the socket is in an ordinary folder.
 */
export function fakeHost(dir: string, reply: string, opts: { as?: 'memhunt' | 'python'; plainDir?: boolean; uid?: number } = {}): Promise<{ childPid: number; connected: () => boolean; stop: () => void }> {
  const js = `
const fs = require('fs'), net = require('net'), path = require('path'), cp = require('child_process');
const [base, reply, plain] = process.argv.slice(2);
let d;
if (plain === '1') { d = path.join(base, 'plain'); fs.mkdirSync(d, { recursive: true }); }
else {
  d = fs.mkdtempSync(path.join(base, 'memhunt-')); fs.chmodSync(d, 0o700);
  const st = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  fs.writeFileSync(path.join(d, 'owner'), process.pid + ' ' + st[19] + '\\n');
}
const sock = path.join(d, 'agent.sock');
const server = net.createServer((c) => {
  fs.writeFileSync(path.join(base, 'connected'), 'yes');
  c.once('data', () => c.end(reply));
  c.on('error', () => {});
});
server.listen(sock, () => {
  const child = cp.spawn('sleep', ['60'], { env: { ...process.env, MEMHUNT_AGENT_SOCKET: sock }, stdio: 'ignore' });
  process.stdout.write(child.pid + '\\n');
});
`;
  const pkg = path.join(dir, opts.as === 'python' ? 'other' : 'fake');
  fs.mkdirSync(path.join(pkg, 'dist', 'cli'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: opts.as === 'python' ? 'not-memhunt' : 'memhunt' }));
  const script = path.join(pkg, 'dist', 'cli', 'main.js');
  fs.writeFileSync(script, js);
  fs.chmodSync(dir, 0o755);
  for (const p of [pkg, path.join(pkg, 'dist'), path.join(pkg, 'dist', 'cli')]) fs.chmodSync(p, 0o755);
  fs.chmodSync(script, 0o644);
  const runAs = opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {};
  const work = opts.uid !== undefined ? fs.mkdtempSync('/tmp/memhunt-fault-spoof-') : dir;
  if (opts.uid !== undefined) fs.chmodSync(work, 0o777);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, work, reply, opts.plainDir ? '1' : '0'], { stdio: ['ignore', 'pipe', 'inherit'], ...runAs });
    let text = '';
    p.stdout.on('data', (d: Buffer) => {
      text += d;
      if (!text.includes('\n')) return;
      const childPid = Number(text.trim());
      resolve({
        childPid,
        connected: () => fs.existsSync(path.join(work, 'connected')),
        stop: () => {
          try {
            process.kill(childPid, 'SIGKILL');
          } catch {
            // gone
          }
          p.kill('SIGKILL');
        },
      });
    });
    p.on('error', reject);
  });
}

export const OK_REPLY = '{"type":"reply","id":1,"ok":true,"result":{"objects":1,"totalBytes":1,"rows":[]}}\n';

