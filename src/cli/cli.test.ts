/**
 * End-to-end: the real binary, real child processes, real files. Times are loose safety bounds.
 */
import { identityFromEnv } from '../model/identity';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { readMemhuntRecording } from '../recording/reader';
import { CLI, runCli, tempDir, untilRecording, waitForSamples } from '../test-support';
import { buildProgram } from './main';
import { resolveRecordOptions } from './run';

test('flags are typed data: run options parse without starting a process', async () => {
  const o = resolveRecordOptions({ interval: '10ms', metric: 'pss', limit: '2GiB', output: 'x.mh' });
  const where = identityFromEnv(process.env);
  assert.deepEqual(o, { outputPath: 'x.mh', intervalMs: 10, intervalSchedule: null, metric: 'pss', limitBytes: 2 * 1024 ** 3, thresholds: [], agent: { heapEveryMs: null, traceAllocations: false }, labels: where.labels, outputTag: where.tag });
  const a = resolveRecordOptions({ interval: '10ms', metric: 'rss', output: 'x.mh', heapEvery: '30s', traceAllocations: true, breakAt: '3GiB' });
  assert.deepEqual(a.agent, { heapEveryMs: 30_000, traceAllocations: true });
  assert.deepEqual(a.thresholds, [{ bytes: 3 * 1024 ** 3, action: 'break', spec: '3GiB:break', option: '--break-at 3GiB' }]);
  assert.equal(resolveRecordOptions({ interval: '10ms', metric: 'rss', agent: false }).agent, null);
  assert.throws(() => resolveRecordOptions({ interval: '10ms', metric: 'rss', agent: false, breakAt: '1GiB' }), /--break-at needs the in-process agent/);
  assert.throws(() => resolveRecordOptions({ interval: '10ms', metric: 'rss', heapEvery: '10ms' }), /below 100ms/);
  assert.throws(() => resolveRecordOptions({ interval: '0', metric: 'rss' }), /greater than zero/);
  assert.throws(() => resolveRecordOptions({ interval: '-5ms', metric: 'rss' }), /greater than zero/);
  assert.throws(() => resolveRecordOptions({ interval: '100us', metric: 'rss' }), /below 1ms/);
  assert.throws(() => resolveRecordOptions({ interval: '1s', metric: 'rss', limit: '12XB' }), /unknown unit/);
  const names = (await buildProgram()).commands.map((c) => c.name());
  assert.deepEqual((await buildProgram('plot')).commands.map((c) => c.name()), ['plot']);
  for (const n of ['run', 'attach', 'peak', 'list', 'clean', 'rm', 'export', 'summary', 'snapshot', 'heap', 'refs', 'python-path']) assert.ok(names.includes(n), n);
});

test('run records a command, passes stdio through and returns its exit code', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'r.mh');
  // The command sleeps until the test has seen a sleep child in the recording (read back as it is
  // flushed), so a starved sampler on a busy machine cannot miss it (a fixed 0.3 s sleep was missed at load 20).
  const go = path.join(dir, 'go');
  const script = `read x; echo "got $x"; echo err >&2; while [ ! -e '${go}' ]; do sleep 0.1; done; exit 3`;
  const running = runCli(['run', '-q', '--interval', '20ms', '-o', out, '--', 'sh', '-c', script], { input: 'hello\n' });
  await untilRecording(out, (x) => x.processes.some((p) => p.command[0] === 'sleep'), { timeoutMs: 120_000 });
  fs.writeFileSync(go, '');
  const r = await running;
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'got hello\n');
  assert.equal(r.stderr, 'err\n');
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.end?.reason, 'exited');
  assert.equal(rec.end?.exitCode, 3);
  assert.ok(rec.total.tMs.length >= 2, `samples: ${rec.total.tMs.length}`);
  assert.deepEqual(rec.meta.command, ['sh', '-c', script]);
  assert.ok(rec.processes.some((p) => p.command[0] === 'sleep'), 'the sleep child was found');
});

test('run prints a summary on stderr, no live status when stderr is not a terminal', async () => {
  const dir = tempDir();
  const r = await runCli(['run', '--interval', '20ms', '--', 'sleep', '0.2'], { cwd: dir });
  assert.equal(r.code, 0);
  assert.doesNotMatch(r.stderr, /\r/);
  assert.match(r.stderr, /peak {6}\d/);
  assert.match(r.stderr, /end {7}exit code 0/);
  const files = fs.readdirSync(dir);
  assert.equal(files.length, 1);
  assert.match(files[0]!, /^memhunt_\d{14}\.mh$/);
  assert.match(r.stderr, new RegExp(files[0]!.replace('.', '\\.')));
  // The size it states is the file's final size (the summary footer was appended after it was printed).
  const said = /recording +\S+ \(\d+ samples, ([\d.]+ [KM]?i?B)\)/.exec(r.stderr);
  assert.ok(said, r.stderr);
  const summary = await runCli(['summary', files[0]!], { cwd: dir });
  assert.match(summary.stdout + summary.stderr, new RegExp(`samples, ${said[1]!.replace('.', '\\.')}\\)`));
});

test('a target that exits at once is still recorded: a sample and its exit', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'fast.mh');
  const r = await runCli(['run', '-q', '--interval', '1s', '-o', out, '--', 'true']);
  assert.equal(r.code, 0);
  const rec = await readMemhuntRecording(out);
  assert.ok(rec.total.tMs.length >= 1);
  assert.equal(rec.end?.exitCode, 0);
  assert.equal(rec.processes[0]!.exitMs !== null, true);
});

test('a command that does not exist gives one line and 127; nothing is left behind', async () => {
  const dir = tempDir();
  const r = await runCli(['run', '-o', path.join(dir, 'x.mh'), '--', 'no-such-command-xyz'], { cwd: dir });
  assert.equal(r.code, 127);
  assert.equal(r.stderr, 'memhunt: no-such-command-xyz: command not found\n');
  assert.deepEqual(fs.readdirSync(dir), []);
  const r2 = await runCli(['run', '--', path.join(dir)], { cwd: dir });
  assert.equal(r2.code, 126);
});

test('bad input gets one clear line and exit 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--bogus', '--', 'true'], /^memhunt run: unknown option '--bogus'/],
    [['run', '--interval', '0', '--', 'true'], /--interval "0" must be greater than zero/],
    [['run', '--interval', '-5ms', '--', 'true'], /--interval/],
    [['run', '--limit', '12XB', '--', 'true'], /unknown unit "XB"/],
    [['run', '--metric', 'vsz', '--', 'true'], /--metric/],
    [['attach', '999999999'], /no process with pid 999999999/],
    [['attach', 'abc'], /"abc" is not a process id/],
    [['peak', '/nonexistent.mh'], /no such file/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
});

test('--help teaches: options, examples and exit codes', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Exit codes:/);
  const rr = await runCli(['run', '--help']);
  assert.equal(rr.code, 0);
  assert.match(rr.stdout, /--limit <size>/);
  assert.match(rr.stdout, /MEMHUNT_MARKERS/);
  assert.match(rr.stdout, /Examples:/);
});

test('signals are forwarded to the target and its signal becomes the exit code', async () => {
  const dir = tempDir();
  const out = path.join(dir, 's.mh');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--interval', '20ms', '-o', out, '--', 'sleep', '30'], { stdio: 'ignore' });
  // Wait until samples are on disk (the command runs and memhunt's handlers are in place), then
  // signal memhunt itself.
  await waitForSamples(out);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 128 + 15);
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.end?.reason, 'signalled');
  assert.equal(rec.end?.exitSignal, 'SIGTERM');
});

test('--limit kills the whole tree like the OOM killer and exits 137', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'l.mh');
  // A parent and a child; the child grows past the limit.
  const script = `
import subprocess, sys, time
c = subprocess.Popen([sys.executable, '-c', 'import time\\nb=[]\\nfor i in range(100):\\n  b.append(bytearray(b"x"*(10*2**20)))\\n  time.sleep(0.02)\\ntime.sleep(30)'])
c.wait()
`;
  const r = await runCli(['run', '--interval', '10ms', '--limit', '150MiB', '-o', out, '--', 'python3', '-c', script], { timeoutMs: 300_000 });
  assert.equal(r.code, 137, r.stderr);
  assert.match(r.stderr, /--limit exceeded/);
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.end?.reason, 'limit');
  const ev = rec.events.find((e) => e.kind === 'limit-exceeded');
  assert.ok(ev && ev.kind === 'limit-exceeded' && ev.bytes > 150 * 1024 ** 2);
  // Killed at the limit, not at the workload's end (its child sleeps 30 s once past 150 MiB): on the
  // recording's clock, not the wall clock of a machine that may be busy.
  assert.ok(rec.end!.tMs - ev.tMs < 30_000, `ended ${rec.end!.tMs - ev.tMs} ms after the limit was exceeded`);
  // Every process of the tree is gone.
  for (const p of rec.processes) assert.ok(!fs.existsSync(`/proc/${p.pid}/status`) || /State:\s+Z/.test(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8')), `pid ${p.pid} still alive`);
});

test('markers from a shell and from Python become marks and sections', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'm.mh');
  const py = `
import os, time
def marker(line):
    fd = os.open(os.environ["MEMHUNT_MARKERS"], os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, f"{os.getpid()} {line}\\n".encode()); os.close(fd)
marker("begin load data")
time.sleep(0.2)
marker("end load data")
`;
  const r = await runCli(['run', '-q', '--interval', '20ms', '-o', out, '--', 'sh', '-c', `echo "mark shell says hi" > "$MEMHUNT_MARKERS"; python3 -c '${py.replace(/'/g, `'"'"'`)}'`]);
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  const mark = rec.events.find((e) => e.kind === 'mark');
  assert.ok(mark && mark.kind === 'mark' && mark.label === 'shell says hi', JSON.stringify(rec.events));
  const sec = rec.events.find((e) => e.kind === 'section');
  assert.ok(sec && sec.kind === 'section' && sec.label === 'load data' && sec.endMs !== null);
  // Marker lines are timed when memhunt reads them: on a loaded machine the begin can be read late,
  // so only the order is asserted (the program slept 200 ms between them).
  assert.ok(sec.kind === 'section' && sec.endMs! > sec.startMs, `section lasted ${sec.kind === 'section' ? sec.endMs! - sec.startMs : 0} ms`);
  assert.ok(sec.pid !== null && rec.processes.some((p) => p.pid === sec.pid));
});

test('memhunt killed with SIGKILL leaves a readable recording up to the last flush', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'k.mh');
  const child = spawn(process.execPath, [CLI, 'run', '-q', '--interval', '10ms', '-o', out, '--', 'sleep', '30'], { stdio: 'ignore' });
  // Killed once 100 samples are on disk (counted from what was flushed, not from the time waited).
  await waitForSamples(out, 100);
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.truncated, true);
  assert.ok(rec.total.tMs.length >= 100, `kept ${rec.total.tMs.length} samples`);
  // the orphaned sleep: clean up
  for (const p of rec.processes) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

test('attach records a running process until it exits', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'a.mh');
  // The target waits until memhunt has attached (a sample on disk), however long memhunt takes to
  // start on a loaded machine, then runs a child and exits (a fixed 3 s was once too short).
  const go = path.join(dir, 'go');
  const target = spawn('sh', ['-c', `i=0; while [ ! -e '${go}' ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.4`], { stdio: 'ignore' });
  const attached = runCli(['attach', '-q', '--interval', '20ms', '-o', out, String(target.pid)], { timeoutMs: 180_000 });
  await untilRecording(out, (rec) => rec.total.tMs.length >= 1, { timeoutMs: 120_000 });
  fs.writeFileSync(go, '');
  const r = await attached;
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  assert.equal(rec.meta.mode, 'attach');
  assert.equal(rec.end?.reason, 'exited');
  assert.ok(rec.processes.filter((p) => p.command[0] === 'sleep').length >= 1);
});

test('attach refuses a process of another user with one line and exit 2', { skip: process.getuid?.() !== 0 && 'needs root, to run memhunt as another user' }, async () => {
  // Run as root here: memhunt itself runs as nobody against a process of root's.
  const target = spawn('sleep', ['20'], { stdio: 'ignore' });
  try {
    const dir = fs.mkdtempSync('/tmp/memhunt-nobody-');
    fs.chmodSync(dir, 0o777);
    const r = await runCli(['attach', '-q', '-o', path.join(dir, 'x.mh'), String(target.pid)], { uid: 65534, gid: 65534, cwd: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^memhunt: pid ${target.pid} belongs to uid 0, not to you \\(uid 65534\\); attach to your own processes or run memhunt as root\\n$`));
    assert.equal(fs.existsSync(path.join(dir, 'x.mh')), false, 'no recording left behind');
  } finally {
    target.kill('SIGKILL');
  }
});

test('list, peak, rm and clean work on the recordings of a folder', async () => {
  const dir = tempDir();
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['run', '-q', '--interval', '20ms', '--', 'sleep', '0.1'], { cwd: dir });
    assert.equal(r.code, 0);
  }
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
  const list = await runCli(['list'], { cwd: dir });
  const lines = list.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, list.stdout);
  assert.match(lines[0]!, /^\s+0 {2}memhunt_\d{14}(_1)?\.mh/);
  const peak = await runCli(['peak'], { cwd: dir });
  assert.match(peak.stdout, /^\.?\/?memhunt_\d{14}(_1)?\.mh\t\d+\.\d{3} MiB\n$/);
  const rmNotRec = await runCli(['rm', 'notes.txt'], { cwd: dir });
  assert.equal(rmNotRec.code, 2);
  assert.ok(fs.existsSync(path.join(dir, 'notes.txt')));
  const rm = await runCli(['rm', '0'], { cwd: dir });
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.mh')).length, 1);
  const clean = await runCli(['clean'], { cwd: dir });
  assert.equal(clean.code, 0);
  assert.deepEqual(fs.readdirSync(dir), ['notes.txt']);
});

test('-o refuses to overwrite a file that is not a recording', async () => {
  const dir = tempDir();
  const precious = path.join(dir, 'train.py');
  fs.writeFileSync(precious, 'print(1)\n');
  const r = await runCli(['run', '-o', precious, '--', 'true']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not a memhunt recording; refusing to overwrite/);
  assert.equal(fs.readFileSync(precious, 'utf8'), 'print(1)\n');
});

test('on a terminal: a live status on the bottom row, and the terminal is given back at the end', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'tty.mh');
  // util-linux `script` gives memhunt a pseudo-terminal; LINES/COLUMNS size it.
  const cmd = `stty rows 20 cols 100; node '${CLI}' run -o '${out}' --interval 20ms -- sh -c 'echo hello; sleep 0.8'`;
  const r = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const c = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    c.stdout.on('data', (d: Buffer) => (text += d.toString()));
    c.on('close', (code) => resolve({ code, text }));
    c.stdin.end();
  });
  assert.equal(r.code, 0, r.text);
  assert.match(r.text, /\x1b\[1;19r/, 'rows 1..19 become the scroll region');
  assert.match(r.text, /\x1b\[20;1H\x1b\[2K\x1b\[7mmemhunt 00:0\d\.\d {2}[\d.]+ [KM]iB {2}peak/, 'the status is drawn on row 20');
  assert.match(r.text, /\x1b\[r/, 'the scroll region is reset');
  assert.match(r.text, /hello/);
  assert.match(r.text, /recording .*tty\.mh/);
});

test('export writes mprof, CSV and JSON files atomically, or to stdout', async () => {
  const dir = tempDir();
  const rec = path.join(dir, 'e.mh');
  assert.equal((await runCli(['run', '-q', '--interval', '20ms', '-o', rec, '--', 'sleep', '0.2'])).code, 0);
  for (const [fmt, ext, re] of [['mprof', '.dat', /^CMDLINE sleep 0\.2\n(?:.*\n)*MEM \d+\.\d{6} \d+\.\d{4}\n/], ['csv', '.csv', /^time_s,total_mib/], ['json', '.json', /^\{/]] as const) {
    const r = await runCli(['export', rec, '--format', fmt]);
    assert.equal(r.code, 0, r.stderr);
    const text = fs.readFileSync(path.join(dir, `e${ext}`), 'utf8');
    assert.match(text, re, fmt);
    const back = await runCli(['peak', path.join(dir, `e${ext}`)]);
    assert.equal(back.code, 0, `${fmt} reads back: ${back.stderr}`);
  }
  const toStdout = await runCli(['export', rec, '-f', 'csv', '-o', '-']);
  assert.match(toStdout.stdout, /^time_s,/);
  const missing = await runCli(['export', rec]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--format/);
  const bad = await runCli(['export', rec, '-f', 'xml']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are mprof, csv, json/);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary files left');
});

test('a corrupt or cut recording given to a command: one line, exit 2, or a warning and the data', async () => {
  const dir = tempDir();
  const rec = path.join(dir, 'c.mh');
  assert.equal((await runCli(['run', '-q', '--interval', '10ms', '-o', rec, '--', 'sleep', '1.5'])).code, 0);
  const full = fs.readFileSync(rec);
  fs.writeFileSync(path.join(dir, 'cut.mh'), full.subarray(0, full.length - 40));
  const cut = await runCli(['peak', path.join(dir, 'cut.mh')]);
  assert.equal(cut.code, 0);
  assert.match(cut.stderr, /memhunt: .*cut\.mh: /);
  assert.match(cut.stdout, /\d+\.\d{3} MiB/);
  fs.writeFileSync(path.join(dir, 'junk.mh'), 'this is not a recording\n');
  const junk = await runCli(['summary', path.join(dir, 'junk.mh')]);
  assert.equal(junk.code, 2);
  assert.equal(junk.stderr.split('\n').length, 2);
  const empty = path.join(dir, 'empty.mh');
  fs.writeFileSync(empty, '');
  const e = await runCli(['peak', empty]);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /empty/);
});

test('other platforms get a clear "not supported"', async () => {
  const { main } = await import('./main');
  const real = process.platform;
  const writes: string[] = [];
  const origWrite = process.stderr.write.bind(process.stderr);
  Object.defineProperty(process, 'platform', { value: 'darwin' });
  (process.stderr as { write: unknown }).write = (s: string) => {
    writes.push(s);
    return true;
  };
  try {
    assert.equal(await main(['run', '--', 'true']), 2);
  } finally {
    Object.defineProperty(process, 'platform', { value: real });
    (process.stderr as { write: unknown }).write = origWrite;
  }
  assert.match(writes.join(''), /darwin is not supported/);
});

test('Ctrl-C on a terminal reaches the target once, as without memhunt', async () => {
  const dir = tempDir();
  const script = path.join(dir, 'ki.py');
  fs.writeFileSync(script, [
    'import time',
    'print("ready", flush=True)',
    'try:',
    '    time.sleep(30)',
    'except KeyboardInterrupt:',
    '    print("interrupted once", flush=True)',
    '    time.sleep(0.5)',
    '    print("clean exit", flush=True)',
  ].join('\n'));
  // `exec`, so that no shell stays in the terminal's foreground group: a non-interactive dash (the
  // /bin/sh that `script` uses when $SHELL is unset, as in CI) dies of the same Ctrl-C. `script -e`
  // returns memhunt's own exit status.
  const cmd = `exec node '${CLI}' run -q --no-agent -o '${path.join(dir, 'ki.mh')}' -- python3 '${script}'`;
  let rc: number | null = null;
  const text = await new Promise<string>((resolve) => {
    const c = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // The terminal's interrupt character: the pty sends SIGINT to its foreground process group.
      if (!sent && out.includes('ready')) {
        sent = true;
        setTimeout(() => c.stdin.write('\x03'), 300);
      }
    });
    const guard = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('close', (code) => {
      clearTimeout(guard);
      rc = code;
      resolve(out);
    });
  });
  assert.match(text, /interrupted once/);
  assert.match(text, /clean exit/, `the program's own clean-up was not interrupted a second time: ${text}`);
  assert.equal(rc, 0, `memhunt's exit status is the program's: ${text}`);
});
