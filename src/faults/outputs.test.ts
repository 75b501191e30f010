/**
 * Fault injection (issue 8): concurrent runs, outputs opened before the command, what -o may replace. Real processes, files and pipes, the real binary;
 * helpers in ./kit.ts. Each run gets its own TMPDIR, so run directories can be counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { writeSyntheticRecording } from '../cli/analysis-testkit';
import { readMemhuntRecording } from '../recording/reader';
import { runCli } from '../test-support';

import { isRoot, runDirs, sandbox } from './kit';

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
    // /proc exists but takes no new files (it says ENOENT): trial 4 read "its folder /proc does not exist".
    ['a folder that takes no new files', ['-o', '/proc/x.mh'], /^memhunt: cannot write \/proc\/x\.mh: its folder \/proc does not take new files \(ENOENT\)\n$/],
    // Node's recursive mkdir never returned under /proc (trial 5: a core spun for 10 minutes).
    ['--output-dir under /proc', ['--output-dir', '/proc/sub'], /^memhunt: --output-dir \/proc\/sub: cannot create it: its parent folder does not take new folders \(ENOENT\)\n$/],
    ['--output-dir under a file', ['--output-dir', '/etc/passwd/sub'], /^memhunt: --output-dir \/etc\/passwd\/sub: cannot create it: a part of it is not a folder \(ENOTDIR\)\n$/],
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
  await t.test('export, plot and refs into a missing folder: exit 2 like run, before any work', async () => {
    for (const args of [['export', rec, '-f', 'csv'], ['plot', rec], ['refs', rec]]) {
      const out = path.join(dir, 'nodir', args[0] === 'export' ? 'x.csv' : args[0] === 'plot' ? 'x.png' : 'x.dot');
      const r = await runCli([...args, '-o', out]);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /^memhunt: cannot write .*nodir\/x\.\w+: its folder .*nodir does not exist \(ENOENT\)\n$/);
    }
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

