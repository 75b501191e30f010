/**
 * mprof users' habits (issue 12): mprof run's flags accepted where they mean something here and
 * refused with memhunt's equivalent where they do not, a .py run with python3, `list` finding
 * recordings whatever their name, plot --slope. The real binary, real files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readMemhuntRecording } from '../recording/reader';
import { FIXTURES, runCli, tempDir } from '../test-support';
import { resolveMprofRunFlags, resolveRecordOptions } from './run';

const EXAMPLE = path.join(FIXTURES, 'memhunt', 'v1', 'example.mh');
const MPROF_DAT = path.join(FIXTURES, 'mprof', '0.61', 'include-children.dat');

test('mprof run flags resolve without starting a process', () => {
  const notes: string[] = [];
  const note = (t: string) => notes.push(t);
  const metric = 'rss' as const;
  assert.deepEqual(resolveMprofRunFlags(['train.py', '-x'], { metric, includeChildren: true, multiprocess: true, T: '0.05' }, note), { command: ['python3', 'train.py', '-x'], interval: '0.05' });
  assert.equal(notes.length, 1, 'one note for -C and -M together');
  assert.match(notes[0]!, /not needed: memhunt always records every child process/);
  assert.deepEqual(resolveMprofRunFlags(['./job.sh'], { metric, python: true }, note).command, ['python3', './job.sh']);
  assert.deepEqual(resolveMprofRunFlags(['python3.11', 'x.py'], { metric, python: true }, note).command, ['python3.11', 'x.py']);
  assert.deepEqual(resolveMprofRunFlags(['./x.py'], { metric, nopython: true }, note).command, ['./x.py']);
  assert.deepEqual(resolveMprofRunFlags(['python3', 'x.py'], { metric }, note).command, ['python3', 'x.py']);
  assert.equal(resolveMprofRunFlags(['true'], { metric, interval: '1s' }, note).interval, '1s');
  assert.throws(() => resolveMprofRunFlags(['x'], { metric, backend: 'psutil_pss' }, note), /--backend is mprof's; .*--metric pss/);
  assert.throws(() => resolveMprofRunFlags(['x'], { metric, attach: true }, note), /memhunt attach <pid>/);
  assert.throws(() => resolveMprofRunFlags(['x'], { metric, timeout: '60' }, note), /memhunt run -- timeout 60 <command>/);
  assert.throws(() => resolveMprofRunFlags(['x'], { metric, T: '1', interval: '1s' }, note), /give one of them/);
  assert.equal(notes.length, 1);
});

test('attach offers only the actions it can do: snapshot and break are refused before it starts', () => {
  for (const spec of ['1GiB:snapshot', '1GiB:break']) {
    assert.throws(() => resolveRecordOptions({ metric: 'rss', onThreshold: [spec] }, 'attach'), /only memhunt run injects; attach can mark, stop, kill or exec=CMD/);
    assert.equal(resolveRecordOptions({ metric: 'rss', onThreshold: [spec] }, 'run').thresholds?.length, 1);
  }
});

test('memhunt run -C -M -T 0.05 script.py args: runs it with python3, records at 50 ms, says once that -C is not needed', async () => {
  const dir = tempDir();
  const script = path.join(dir, 'tiny.py');
  fs.writeFileSync(script, 'import sys, time\nprint("args", sys.argv[1:])\ntime.sleep(0.3)\n');
  const out = path.join(dir, 'r.mh');
  const r = await runCli(['run', '-q', '-C', '-M', '-E', '-T', '0.05', '-o', out, script, 'a', 'b'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "args ['a', 'b']\n");
  assert.equal(r.stderr.match(/not needed/g)?.length, 1, r.stderr);
  const rec = await readMemhuntRecording(out);
  assert.deepEqual(rec.meta.command, ['python3', script, 'a', 'b']);
  assert.equal(rec.meta.intervalMs, 50);
  for (const [args, re] of [
    [['--backend', 'psutil_uss'], /^memhunt: --backend is mprof's; .*--metric uss\)\n$/],
    [['-t', '10'], /^memhunt: --timeout is mprof's; .*timeout 10 <command>\n$/],
    [['--attach'], /^memhunt: --attach is mprof's; .*memhunt attach <pid>\n$/],
  ] as const) {
    const bad = await runCli(['run', ...args, '-o', path.join(dir, 'bad.mh'), script], { cwd: dir });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, re);
    assert.ok(!fs.existsSync(path.join(dir, 'bad.mh')), 'refused before anything runs');
  }
});

test('list finds every recording whatever its name (by its first bytes), skips other files; clean keeps named ones', async () => {
  const dir = tempDir();
  fs.copyFileSync(EXAMPLE, path.join(dir, 'nightly-run'));
  fs.copyFileSync(MPROF_DAT, path.join(dir, 'old profile.txt'));
  fs.copyFileSync(EXAMPLE, path.join(dir, 'memhunt_20261127150102.mh'));
  fs.writeFileSync(path.join(dir, 'data.gz'), zlib.gzipSync('{"not":"memhunt"}\n'));
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'MEMO: CMDLINE is not at the start\n');
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.mkdirSync(path.join(dir, 'sub.mh'));
  // The renamed copies are newer than the default-named one's start (2026-11-27 15:01:02).
  const list = await runCli(['list'], { cwd: dir });
  assert.equal(list.code, 0, list.stderr);
  // The time: the start the default name holds; a file named otherwise shows its last change, marked ~.
  const names = list.stdout.trimEnd().split('\n').map((l) => /^\s*\d+ {2}(.*?)\s{2,}~?\d{4}-/.exec(l)?.[1]);
  assert.equal(names.length, 3, list.stdout);
  assert.match(list.stdout, /memhunt_20261127150102\.mh +2026-11-27 15:01:02 /);
  assert.match(list.stdout, /nightly-run +~\d{4}-/);
  assert.equal(names[0], 'memhunt_20261127150102.mh');
  assert.deepEqual(names.slice(1).sort(), ['nightly-run', 'old profile.txt']);
  const peak = await runCli(['peak', String(names.indexOf('old profile.txt'))], { cwd: dir });
  assert.equal(peak.code, 0, peak.stderr);
  assert.match(peak.stdout, /^old profile\.txt\t\d+\.\d{3} MiB/);
  const clean = await runCli(['clean', '--mprof'], { cwd: dir });
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['data.gz', 'empty', 'nightly-run', 'notes.txt', 'old profile.txt', 'sub.mh']);
});

test('plot --slope and -s are --trend (mprof plot); -t still draws in the terminal, with a note to write --term', async () => {
  const env = { ...process.env, COLUMNS: '100', NO_COLOR: '1' };
  const term = async (...flags: string[]) => {
    const r = await runCli(['plot', EXAMPLE, '--term', '--rows', '8', ...flags], { env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const trend = await term('--trend');
  assert.notEqual(trend, await term(), 'the trend changes the chart');
  assert.equal(await term('--slope'), trend);
  assert.equal(await term('-s'), trend);
  const t = await runCli(['plot', EXAMPLE, '-t', '--rows', '8'], { env });
  assert.equal(t.code, 0, t.stderr);
  assert.equal(t.stdout, await term());
  assert.match(t.stderr, /^memhunt: -t is the old short form of --term; write --term/);
});
