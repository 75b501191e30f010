/**
 * Fault injection (issue 8): memhunt as someone trying to break it would use it. Real processes,
 * real files, real pipes, the real binary. Each test names the fault it injects; the ones marked
 * "crash safety" passed before issue 8 and stay here so that they never regress.
 *
 * Every run gets its own TMPDIR, so run directories (FIFO, agent socket) can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { writeSyntheticRecording } from '../cli/analysis-testkit';
import { errorLine } from '../cli/main';
import { CommandError, ExitStatus, FailureError, InputError } from '../errors';
import { readMemhuntRecording } from '../recording/reader';
import { CGROUP_FIELDS, PROCESS_FIELDS, PSS_FIELDS, RECORDING_FORMAT, RECORDING_VERSION, type HeaderRecord } from '../recording/spec';
import { RecordingWriter } from '../recording/writer';
import { clipLine, safeJson, safeLine } from '../safe-text';
import { UnitError, parseSize } from '../units';
import { CLI, runCli, tempDir } from '../test-support';

const isRoot = process.getuid?.() === 0;
const ESC = '\x1b';
const HOSTILE = `${ESC}]0;PWNED\x07${ESC}[31mRED\u009b31m`;

/** A private TMPDIR and cwd for one test. */
function sandbox(): { dir: string; tmp: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir('memhunt-fault-');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(tmp, { mode: 0o700 });
  return { dir, tmp, env: { ...process.env, TMPDIR: tmp } };
}

function runDirs(tmp: string): string[] {
  return fs.readdirSync(tmp).filter((n) => n.startsWith('memhunt-'));
}

function header(command: string[]): HeaderRecord {
  return {
    type: 'header', format: RECORDING_FORMAT, version: RECORDING_VERSION, memhuntVersion: 'test', mode: 'run',
    command, cwd: '/tmp', host: 'test', containerId: null, startWallMs: Date.UTC(2026, 0, 1),
    startIso: new Date(Date.UTC(2026, 0, 1)).toISOString(), intervalMs: 50, metric: 'rss', limitBytes: null, rootPid: 10,
    cgroup: null, fields: { p: [...PROCESS_FIELDS], c: [...CGROUP_FIELDS], pss: [...PSS_FIELDS] }, labels: {},
  };
}

/** A recording big enough that its CSV (~10 MB) is far beyond a pipe's 64 KiB buffer. */
function bigRecording(dir: string): string {
  const procs = Array.from({ length: 8 }, (_, i) => ({ pid: 100 + i, cmd: ['python3', `worker${i}.py`], mib: (t: number) => 50 + i + (t % 7) }));
  return writeSyntheticRecording(path.join(dir, 'big.mh'), procs, { durationS: 1000, intervalMs: 50 });
}

// ------------------------------------------------------------------ 1. concurrent runs

test('six concurrent runs with default names write six distinct, readable recordings', async () => {
  const { dir, env } = sandbox();
  const runs = [1, 2, 3, 4, 5, 6].map((k) =>
    runCli(['run', '-q', '-i', '10ms', '--', 'python3', '-c', `import time;x=bytearray(${k}*10<<20);time.sleep(1.5)`], { cwd: dir, env, timeoutMs: 120_000 }));
  const results = await Promise.all(runs);
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  for (const r of results) assert.equal(r.stderr, '');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.mh'));
  assert.equal(files.length, 6, files.join(' '));
  const commands = new Set<string>();
  for (const f of files) {
    const rec = await readMemhuntRecording(path.join(dir, f));
    assert.ok(rec.end, `${f} has its end`);
    commands.add(rec.meta.command.join(' '));
  }
  assert.equal(commands.size, 6, 'each run wrote its own file');
});

// ------------------------------------------------------------------ 2. output opened first

test('an output that cannot be opened: one line naming it, exit 2, the command never starts, no run directory left', async (t) => {
  const { dir, tmp, env } = sandbox();
  const witness = path.join(dir, 'started');
  const cmd = ['--', 'sh', '-c', `echo started > '${witness}'; sleep 5`];
  const cases: Array<[string, string[], RegExp]> = [
    ['missing folder', ['-o', path.join(dir, 'nodir', 'x.mh')], /^memhunt: cannot write .*nodir\/x\.mh: its folder .*nodir does not exist \(ENOENT\)\n$/],
    ['/dev/full', ['-o', '/dev/full'], /^memhunt: cannot write \/dev\/full: no space left on the device \(ENOSPC\)\n$/],
    ['a directory', ['-o', dir], /^memhunt: output .* is a directory; give a file name/],
  ];
  for (const [name, args, expected] of cases) {
    await t.test(name, async () => {
      const r = await runCli(['run', '-q', ...args, ...cmd], { cwd: dir, env });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, expected);
      assert.equal(fs.existsSync(witness), false, 'the command did not run');
      assert.deepEqual(runDirs(tmp), []);
    });
  }
  await t.test('an unwritable folder (as nobody)', { skip: !isRoot && 'needs root to run memhunt as another user' }, async () => {
    const ro = path.join(dir, 'ro');
    fs.mkdirSync(ro, { mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    const tmp2 = fs.mkdtempSync('/tmp/memhunt-fault-nobody-');
    fs.chmodSync(tmp2, 0o777);
    const r = await runCli(['run', '-q', '-o', path.join(ro, 'x.mh'), '--', 'sh', '-c', `echo started > '${tmp2}/started'`], { cwd: tmp2, env: { ...env, TMPDIR: tmp2 }, uid: 65534, gid: 65534 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^memhunt: cannot write .*ro\/x\.mh: permission denied \(EACCES\)\n$/);
    assert.equal(fs.existsSync(path.join(tmp2, 'started')), false);
    assert.deepEqual(runDirs(tmp2), []);
  });
  await t.test('a command that does not exist leaves no file (the output opened first is removed)', async () => {
    const r = await runCli(['run', '-q', '--', 'no-such-command-xyz'], { cwd: dir, env });
    assert.equal(r.code, 127);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.mh')), []);
    assert.deepEqual(runDirs(tmp), []);
  });
  await t.test('an earlier recording survives a command that cannot start', async () => {
    const out = path.join(dir, 'keep.mh');
    assert.equal((await runCli(['run', '-q', '-o', out, '--', 'true'], { cwd: dir, env })).code, 0);
    const before = fs.readFileSync(out);
    const r = await runCli(['run', '-q', '-o', out, '--', 'no-such-command-xyz'], { cwd: dir, env });
    assert.equal(r.code, 127);
    assert.deepEqual(fs.readFileSync(out), before);
  });
});

// ------------------------------------------------------------------ 3. pipes

/** Runs `memhunt args` with stdout to a pipe nobody reads for delayMs, then reads it all. */
function slowReader(args: string[], delayMs: number): Promise<{ code: number | null; bytes: number; stderr: string; text: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stdout.resume();
    }, delayMs);
    child.on('error', reject);
    child.on('close', (code) => {
      const all = Buffer.concat(chunks);
      resolve({ code, bytes: all.length, stderr, text: all.toString() });
    });
  });
}

test('stdout is drained before exit: a slow reader gets the whole export, heap and analyze JSON', async () => {
  const { dir } = sandbox();
  const rec = bigRecording(dir);
  const csvFile = path.join(dir, 'big.csv');
  assert.equal((await runCli(['export', rec, '-f', 'csv', '-o', csvFile])).code, 0);
  const expected = fs.statSync(csvFile).size;
  assert.ok(expected > 4 * 1024 * 1024, `the CSV is ${expected} bytes`);
  const r = await slowReader(['export', rec, '-f', 'csv', '-o', '-'], 1000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.bytes, expected);
  for (const args of [['analyze', rec, '--json'], ['heap', rec, '--json'], ['export', rec, '-f', 'json', '-o', '-']]) {
    const s = await slowReader(args, 700);
    assert.equal(s.code, 0, `${args.join(' ')}: ${s.stderr}`);
    assert.doesNotThrow(() => JSON.parse(s.text), `${args.join(' ')} printed whole JSON`);
  }
});

test('a closed pipe (| head -1) ends memhunt quietly: no stack trace, exit 0', async () => {
  const { dir } = sandbox();
  const rec = bigRecording(dir);
  for (const args of [`export '${rec}' -f csv -o -`, `analyze '${rec}' --json`]) {
    const r = spawnSync('bash', ['-c', `'${process.execPath}' '${CLI}' ${args} | head -1 >/dev/null; echo "rc=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
    assert.equal(r.stderr, 'rc=0\n', args);
  }
});

// ------------------------------------------------------------------ 4. -o replaces only its own kind

test('-o never replaces what is not its own kind of output; links stay links; --force where wanted', async (t) => {
  const { dir } = sandbox();
  const rec = writeSyntheticRecording(path.join(dir, 'r.mh'), [{ pid: 1, cmd: ['x'], mib: () => 10 }], { durationS: 2 });
  const source = 'print("my training code")\n';
  await t.test('source files and notes are refused, untouched; --force replaces', async () => {
    for (const [name, args] of [['train.py', ['export', rec, '-f', 'csv']], ['notes.txt', ['export', rec, '-f', 'mprof']], ['notes.html', ['plot', rec]], ['page.svg', ['plot', rec]], ['graph.dot', ['refs', rec]]] as const) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, source);
      const r = await runCli([...args, '-o', f]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`output ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} exists and is not .*; refusing to overwrite it`));
      assert.equal(fs.readFileSync(f, 'utf8'), source, name);
    }
    const f = path.join(dir, 'train.py');
    const r = await runCli(['export', rec, '-f', 'csv', '-o', f, '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(fs.readFileSync(f, 'utf8'), /^time_s,total_mib/);
  });
  await t.test('an earlier export of the same format is replaced', async () => {
    const f = path.join(dir, 'again.csv');
    for (let i = 0; i < 2; i++) assert.equal((await runCli(['export', rec, '-f', 'csv', '-o', f])).code, 0);
    const r = await runCli(['export', rec, '-f', 'json', '-o', f]);
    assert.equal(r.code, 2, 'a CSV export is not replaced by JSON');
  });
  await t.test('a symbolic link stays a link; the file it names is replaced', async () => {
    const real = path.join(dir, 'real.csv');
    const link = path.join(dir, 'link.csv');
    assert.equal((await runCli(['export', rec, '-f', 'csv', '-o', real])).code, 0);
    fs.appendFileSync(real, '999,1\n');
    fs.symlinkSync(real, link);
    const r = await runCli(['export', rec, '-f', 'csv', '-o', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.doesNotMatch(fs.readFileSync(real, 'utf8'), /999,1/);
    const toSource = path.join(dir, 'link2.csv');
    fs.writeFileSync(path.join(dir, 'code.py'), source);
    fs.symlinkSync(path.join(dir, 'code.py'), toSource);
    assert.equal((await runCli(['export', rec, '-f', 'csv', '-o', toSource])).code, 2);
    assert.equal(fs.readFileSync(path.join(dir, 'code.py'), 'utf8'), source);
  });
  await t.test('a character device is written in place, never replaced', { skip: !isRoot && 'mknod needs root' }, async () => {
    const dev = path.join(dir, 'null');
    assert.equal(spawnSync('mknod', [dev, 'c', '1', '3']).status, 0);
    const r = await runCli(['export', rec, '-f', 'csv', '-o', dev]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(fs.statSync(dev).isCharacterDevice());
    const full = path.join(dir, 'full');
    assert.equal(spawnSync('mknod', [full, 'c', '1', '7']).status, 0);
    const r2 = await runCli(['export', rec, '-f', 'csv', '-o', full]);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /^memhunt: cannot write .*full: no space left on the device \(ENOSPC\)\n$/);
    assert.ok(fs.statSync(full).isCharacterDevice());
  });
  await t.test('run -o on a gzip file that is not a recording refuses it', async () => {
    const gz = path.join(dir, 'backup.gz');
    const data = zlib.gzipSync('precious backup');
    fs.writeFileSync(gz, data);
    const r = await runCli(['run', '-q', '-o', gz, '--', 'true']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /backup\.gz exists and is not a memhunt recording; refusing to overwrite it/);
    assert.deepEqual(fs.readFileSync(gz), data);
  });
  await t.test('exports and plots are written whole: no temporary file is left behind', () => {
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  });
});

// ------------------------------------------------------------------ 6b. marker flood

test('a marker flood is bounded and noted; the HTML plot of many markers works and says what it left out', async () => {
  const { dir, env } = sandbox();
  const out = path.join(dir, 'flood.mh');
  // ~3 s of marks of 900 bytes written as fast as the FIFO takes them.
  const flood = `
import os, time, errno
fd = os.open(os.environ["MEMHUNT_MARKERS"], os.O_WRONLY | os.O_NONBLOCK)
line = ("mark " + "x" * 900 + "\\n").encode()
end = time.time() + 3
n = 0
while time.time() < end:
    try:
        os.write(fd, line); n += 1
    except BlockingIOError:
        time.sleep(0.0005)
print(n)
`;
  const r = await runCli(['run', '-q', '-i', '50ms', '-o', out, '--', 'python3', '-c', flood], { env, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const written = Number(r.stdout.trim());
  const rec = await readMemhuntRecording(out);
  const marks = rec.events.filter((e) => e.kind === 'mark');
  const notes = rec.events.filter((e) => e.kind === 'note' && /marker line.*dropped/.test(e.text));
  const seconds = (rec.end?.tMs ?? 0) / 1000;
  assert.ok(written > marks.length, `written ${written}, kept ${marks.length}`);
  assert.ok(marks.length <= 1000 * (seconds + 2), `${marks.length} marks in ${seconds} s`);
  assert.ok(marks.every((m) => m.kind === 'mark' && m.label.length <= 200), 'labels are cut');
  assert.ok(notes.length >= 1, 'a note says how many were dropped');
  const html = path.join(dir, 'flood.html');
  const p = await runCli(['plot', out, '-o', html], { timeoutMs: 120_000 });
  assert.equal(p.code, 0, p.stderr);
  const page = fs.readFileSync(html, 'utf8');
  if (marks.length > 2000) assert.match(page, /marks are left out of this page/);
  assert.ok(page.length < 20 * 1024 * 1024, `page of ${page.length} characters`);
});

// ------------------------------------------------------------------ 8. spoofed agent sockets

/**
 * A fake host: a process that makes a run directory (0700, owner file naming itself), serves
 * agent.sock there, starts a child with MEMHUNT_AGENT_SOCKET pointing at it, and answers every
 * connection with `reply`. As `memhunt` it is a Node script dist/cli/main.js of a package named
 * memhunt, so it passes every check the client makes (same user, memhunt's layout, an ancestor
 * serving the socket, a memhunt process): what it replies is what the client must survive. As
 * `python` it is any other program; with `plainDir` the socket is in an ordinary folder.
 */
function fakeHost(dir: string, reply: string, opts: { as?: 'memhunt' | 'python'; plainDir?: boolean; uid?: number } = {}): Promise<{ childPid: number; connected: () => boolean; stop: () => void }> {
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

const OK_REPLY = '{"type":"reply","id":1,"ok":true,"result":{"objects":1,"totalBytes":1,"rows":[]}}\n';

test('snapshot refuses a socket memhunt did not make, without connecting to it', async (t) => {
  const cases: Array<[string, Parameters<typeof fakeHost>[2], RegExp]> = [
    ['a socket in an ordinary folder', { plainDir: true }, /not a memhunt-XXXXXX\/agent\.sock path/],
    ['a run directory served by a program that is not memhunt', { as: 'python' }, /its owner, pid \d+, is not a memhunt process/],
  ];
  for (const [name, opts, why] of cases) {
    await t.test(name, async () => {
      const { dir } = sandbox();
      const host = await fakeHost(dir, OK_REPLY, opts);
      try {
        const r = await runCli(['snapshot', String(host.childPid)]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /^memhunt: pid \d+ names the agent socket .*, which memhunt did not make for it \(.*\); refusing to connect\n$/);
        assert.match(r.stderr, why);
        assert.equal(host.connected(), false);
      } finally {
        host.stop();
      }
    });
  }
  await t.test('as root: a process of another user whose "memhunt" serves the socket is asked, its reply sanitised', { skip: !isRoot && 'needs root' }, async () => {
    // What verification cannot rule out: a user's own memhunt-looking parent. Root talks to it as
    // that user's run; nothing it sends reaches the terminal raw.
    const { dir } = sandbox();
    const row = JSON.stringify(HOSTILE);
    const host = await fakeHost(dir, `{"type":"reply","id":1,"ok":true,"result":{"objects":1,"totalBytes":1,"rows":[[${row},1,1]]}}\n`, { uid: 65534 });
    try {
      const r = await runCli(['snapshot', String(host.childPid)]);
      assert.doesNotMatch(r.stdout + r.stderr, /\x1b|\u009b|\x07/);
    } finally {
      host.stop();
    }
  });
});

test('a malformed reply is one line and exit 1, never a stack trace', async () => {
  for (const reply of ['{"type":"reply","id":1,"ok":true,"result":{"rows":"nope"}}\n', 'not json at all\n', '{"type":"reply","id":1,"ok":"yes"}\n']) {
    const { dir } = sandbox();
    const host = await fakeHost(dir, reply);
    try {
      const r = await runCli(['snapshot', String(host.childPid), '--timeout', '20s']);
      assert.equal(r.code, 1, `${reply}: ${r.stderr}`);
      assert.match(r.stderr, /^memhunt: the memhunt run of pid \d+ sent a malformed/);
      assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    } finally {
      host.stop();
    }
  }
});

// ------------------------------------------------------------------ 9. terminal escape injection

test('every terminal output replaces control characters: summary, analyze, peak -p, diff, heap, errors', async () => {
  const { dir, env } = sandbox();
  const out = path.join(dir, 'esc.mh');
  const r = await runCli(['run', '-i', '20ms', '-o', out, '--', 'sh', '-c', 'sleep 0.3', HOSTILE], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /\x1b|\u009b|\x07/, 'the end-of-run summary');
  assert.match(r.stderr, /\ufffd\]0;PWNED/);
  // A census with a hostile type name, as an agent could send it.
  const heapRec = path.join(dir, 'heap.mh');
  const w = new RecordingWriter(heapRec, header(['python3', HOSTILE]));
  w.append({ type: 'proc', t: 0, pid: 10, ppid: 1, cmd: ['python3', HOSTILE] });
  for (let i = 0; i < 30; i++) w.append({ type: 's', t: i * 50, p: [[10, 1000 + i, 1000, 0, 0, 1000]] });
  for (const t of [100, 1000]) {
    w.append({ type: 'census', t, pid: 10, trigger: 'periodic', label: HOSTILE, collected: true, objects: 10, totalBytes: 1000 + t, rows: [[HOSTILE, 5, 500 + t]], durationMs: 1, notes: [HOSTILE] } as never);
  }
  w.append({ type: 'end', t: 1500, reason: 'exited', code: 0, signal: null, samples: 30 });
  w.close();
  for (const args of [['summary', out], ['analyze', out], ['peak', '-p', out], ['diff', out, heapRec], ['heap', heapRec], ['heap', heapRec, '--json'], ['analyze', out, '--json'], ['summary', `${dir}/${HOSTILE}.mh`]]) {
    const s = await runCli(args);
    assert.doesNotMatch(s.stdout + s.stderr, /\x1b|\u009b|\x07/, args.join(' '));
  }
  const j = await runCli(['heap', heapRec, '--json']);
  assert.ok(JSON.stringify(JSON.parse(j.stdout)).includes('PWNED'), 'JSON keeps the text, escaped');
});

test('the sanitizer: controls replaced, a cut never leaves a sequence open, JSON escapes C1', () => {
  assert.equal(safeLine(`a${ESC}[31mb\nc\u009bd\u202ee`), 'a\ufffd[31mb\ufffdc\ufffdd\ufffde');
  const cut = clipLine(`python3 ${ESC}]0;${'x'.repeat(100)}\x07 tail`, 20);
  assert.equal([...cut].length, 20);
  assert.doesNotMatch(cut, /\x1b|\x07/);
  assert.equal(JSON.parse(safeJson({ s: '\u009b31m' })).s, '\u009b31m');
  assert.doesNotMatch(safeJson({ s: '\u009b31m' }), /\u009b/);
});

// ------------------------------------------------------------------ 10. smaller

test('memhunt mark never blocks: without a reader it returns at once; under a run it marks', async () => {
  const { dir, env } = sandbox();
  const fifo = path.join(dir, 'orphan-fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const started = Date.now();
  const r = await runCli(['mark', 'checkpoint'], { env: { ...env, MEMHUNT_MARKERS: fifo }, timeoutMs: 20_000 });
  assert.equal(r.signal, null, 'it returned by itself');
  assert.equal(r.code, 0);
  assert.match(r.stderr, /^memhunt: mark: the memhunt run that set MEMHUNT_MARKERS has ended\n$/);
  assert.ok(Date.now() - started < 15_000);
  const none = await runCli(['mark', 'x'], { env: { ...env, MEMHUNT_MARKERS: '' } });
  assert.deepEqual([none.code, none.stderr], [0, '']);
  const out = path.join(dir, 'm.mh');
  const run = await runCli(['run', '-q', '-i', '20ms', '-o', out, '--', 'sh', '-c', `'${process.execPath}' '${CLI}' mark --begin load data; sleep 0.2; '${process.execPath}' '${CLI}' mark --end load data; '${process.execPath}' '${CLI}' mark done`], { env });
  assert.equal(run.code, 0, run.stderr);
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.events.some((e) => e.kind === 'section' && e.label === 'load data' && e.endMs !== null), JSON.stringify(rec.events));
  assert.ok(rec.events.some((e) => e.kind === 'mark' && e.label === 'done'));
});

test('run directories of killed runs are removed by the next run (only ours, only when their memhunt is gone)', async () => {
  const { dir, tmp, env } = sandbox();
  const out = path.join(dir, 'k.mh');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '-i', '20ms', '-o', out, '--', 'sleep', '30'], { stdio: 'ignore', env });
  for (let i = 0; i < 400 && runDirs(tmp).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));
  spawnSync('pkill', ['-KILL', '-f', `sleep 30$`]); // nothing else: memhunt's own child is orphaned
  const stale = runDirs(tmp);
  assert.equal(stale.length, 1, 'the killed run left its directory');
  // A directory whose owner still runs (this test process) and one without an owner file stay.
  const live = path.join(tmp, 'memhunt-Live01');
  fs.mkdirSync(live, { mode: 0o700 });
  const myStart = fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[19];
  fs.writeFileSync(path.join(live, 'owner'), `${process.pid} ${myStart}\n`);
  const foreign = path.join(tmp, 'memhunt-NoOwnr');
  fs.mkdirSync(foreign, { mode: 0o700 });
  const r = await runCli(['run', '-q', '-o', path.join(dir, 'next.mh'), '--', 'true'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(runDirs(tmp).sort(), ['memhunt-Live01', 'memhunt-NoOwnr']);
  // crash safety: the recording of the killed run is readable up to its last flush.
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.total.tMs.length >= 1);
  assert.equal(rec.end, null);
});

test('recordings are 0600 whatever the umask', async () => {
  const { dir, env } = sandbox();
  const r = spawnSync('sh', ['-c', `umask 000; exec '${process.execPath}' '${CLI}' run -q -- true`], { cwd: dir, env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [f] = fs.readdirSync(dir).filter((n) => n.endsWith('.mh'));
  assert.equal(fs.statSync(path.join(dir, f!)).mode & 0o777, 0o600);
  // And an existing recording replaced with -o becomes 0600 too.
  const old = path.join(dir, 'old.mh');
  fs.copyFileSync(path.join(dir, f!), old);
  fs.chmodSync(old, 0o644);
  assert.equal((await runCli(['run', '-q', '-o', old, '--', 'true'], { env })).code, 0);
  assert.equal(fs.statSync(old).mode & 0o777, 0o600);
});

test('sizes are whole bytes ≥ 1 and intervals within 1ms..1h', async () => {
  assert.throws(() => parseSize('0.1B'), UnitError);
  assert.throws(() => parseSize('1.5B'), /whole number of bytes/);
  assert.throws(() => parseSize('0.0001KiB'), /less than one byte/);
  assert.throws(() => parseSize('99999999TiB'), /too large/);
  assert.equal(parseSize('1.5KiB'), 1536);
  for (const args of [['--limit', '0.1B'], ['--limit', '0B'], ['-i', '2h'], ['-i', '0.5ms']]) {
    const r = await runCli(['run', '-q', ...args, '--', 'true']);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  }
});

test('"version":"1" (a string) is refused by the reader', { todo: 'the reader belongs to the contract engineer (issue 8 item 10)' }, async () => {
  const { dir } = sandbox();
  const f = path.join(dir, 'v.mh');
  const h = { ...header(['x']), version: '1' } as unknown as HeaderRecord;
  const w = new RecordingWriter(f, h);
  w.append({ type: 'end', t: 0, reason: 'exited', code: 0, signal: null, samples: 0 });
  w.close();
  const r = await runCli(['summary', f]);
  assert.equal(r.code, 2, r.stdout);
});

test('as root, snapshot of a process without an agent says so (not "another user")', async () => {
  const target = spawn('sleep', ['20'], { stdio: 'ignore' });
  try {
    const r = await runCli(['snapshot', String(target.pid)]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`^memhunt: pid ${target.pid} \\(sleep\\) has no memhunt agent: it was not started under memhunt run`));
    if (isRoot) {
      const one = await runCli(['snapshot', '1']);
      assert.equal(one.code, 2);
      assert.doesNotMatch(one.stderr, /another user/);
    }
  } finally {
    target.kill('SIGKILL');
  }
});

test('errors name the file', async () => {
  const { dir } = sandbox();
  const f = path.join(dir, 'bad.csv');
  fs.writeFileSync(f, 'time_s,total_mib\n0,1\noops,2\n');
  const r = await runCli(['summary', f]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^memhunt: ${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
});

test('a running process that closed its descriptors is not said to have ended', async () => {
  const { dir, env } = sandbox();
  const ready = path.join(dir, 'ready');
  const script = `import os, time\nopen(${JSON.stringify(ready)}, "w").write(str(os.getpid()))\nos.closerange(3, 65536)\ntime.sleep(20)\n`;
  const run = spawn(process.execPath, [CLI, 'run', '-q', '-o', path.join(dir, 'c.mh'), '--', 'python3', '-c', script], { stdio: 'ignore', env });
  try {
    for (let i = 0; i < 600 && !fs.existsSync(ready); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(fs.readFileSync(ready, 'utf8'));
    await new Promise((r) => setTimeout(r, 500));
    const r = await runCli(['snapshot', String(pid), '--timeout', '20s'], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /has ended|pid \d+ ended/);
    assert.match(r.stderr, /is running, but its agent is no longer connected/);
  } finally {
    run.kill('SIGTERM');
    await new Promise((r) => run.on('exit', r));
  }
});

// ------------------------------------------------------------------ issue 11: one error type

test('exit codes travel as one error type and are turned into codes in one place', () => {
  assert.deepEqual(errorLine(new InputError('bad')), { code: 2, message: 'bad' });
  assert.deepEqual(errorLine(new UnitError('bad size')), { code: 2, message: 'bad size' });
  assert.deepEqual(errorLine(new FailureError('broken peer')), { code: 1, message: 'broken peer' });
  assert.deepEqual(errorLine(new CommandError('nope', 127)), { code: 127, message: 'nope' });
  assert.deepEqual(errorLine(new ExitStatus(3)), { code: 3, message: null });
  const sys = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: 'ENOSPC', syscall: 'write', path: 'out.csv' });
  assert.equal(errorLine(sys).code, 1);
  assert.match(errorLine(sys).message!, /^out\.csv: write failed: ENOSPC/);
  assert.match(errorLine(new TypeError('x')).message!, /^internal error: TypeError: x/);
});

// ------------------------------------------------------------------ crash safety (passed before; kept)

test('crash safety: memhunt SIGKILLed at a random moment leaves a recording readable to its last flush', async () => {
  const { dir, env } = sandbox();
  for (let round = 0; round < 3; round++) {
    const out = path.join(dir, `kill${round}.mh`);
    const child = spawn(process.execPath, [CLI, 'run', '-q', '-i', '10ms', '-o', out, '--', 'python3', '-c', 'import time\nb=[]\nfor i in range(60):\n  b.append(bytearray(1<<20)); time.sleep(0.05)'], { stdio: 'ignore', env });
    for (let i = 0; i < 400 && !(fs.existsSync(out) && fs.statSync(out).size > 0); i++) await new Promise((r) => setTimeout(r, 25));
    await new Promise((r) => setTimeout(r, 1200 + Math.random() * 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const rec = await readMemhuntRecording(out);
    assert.ok(rec.total.tMs.length >= 5, `round ${round}: ${rec.total.tMs.length} samples`);
    assert.equal(rec.end, null);
    assert.ok(rec.warnings.some((w) => /stopped while recording|cut/.test(w)), rec.warnings.join('; '));
  }
});

test('crash safety: a target SIGKILLed (as by the OOM killer) is recorded with its signal and 137', async () => {
  const { dir, env } = sandbox();
  const out = path.join(dir, 't.mh');
  const r = await runCli(['run', '-q', '-i', '20ms', '-o', out, '--', 'sh', '-c', 'sleep 0.3; kill -9 $$'], { env });
  assert.equal(r.code, 137);
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.end?.exitSignal, 'SIGKILL');
});
