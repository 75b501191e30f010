/** --on-threshold: real processes growing past sizes; each action fires once and is recorded. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { readMemhuntRecording } from '../recording/reader';
import { parseThresholdSpec } from '../sampler/actions';
import { CLI, runCli, tempDir } from '../test-support';

const MiB = 1024 * 1024;
// Grows by 10 MiB every 50 ms to 150 MiB, then holds for a while.
const GROW = 'import time\nb=[]\nfor i in range(15):\n    b.append(bytearray(10*2**20)); time.sleep(0.05)\ntime.sleep(HOLD)\nprint("done")';

test('threshold specs parse, and bad ones say what is wrong', () => {
  assert.deepEqual(parseThresholdSpec('1.5GiB:stop'), { bytes: 1.5 * 1024 ** 3, action: 'stop', spec: '1.5GiB:stop' });
  assert.equal(parseThresholdSpec("1GiB:exec=py-spy dump --pid $MEMHUNT_PID").command, 'py-spy dump --pid $MEMHUNT_PID');
  assert.throws(() => parseThresholdSpec('1GiB'), /needs SIZE:ACTION/);
  assert.throws(() => parseThresholdSpec('1GiB:explode'), /unknown action "explode"/);
  assert.throws(() => parseThresholdSpec('1GiB:exec='), /needs a command/);
  assert.throws(() => parseThresholdSpec('12XB:mark'), /unknown unit/);
});

test('mark and exec fire once each, exec sees the documented environment and its output is kept', async () => {
  const out = path.join(tempDir(), 't.mh');
  const r = await runCli([
    'run', '--interval', '10ms', '-o', out,
    '--on-threshold', '40MiB:mark',
    '--on-threshold', '60MiB:exec=echo "pid=$MEMHUNT_PID root=$MEMHUNT_ROOT_PID rss=$MEMHUNT_RSS_BYTES at=$MEMHUNT_THRESHOLD_BYTES rec=$MEMHUNT_RECORDING"',
    '--', 'python3', '-c', GROW.replace('HOLD', '0.3'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'done\n');
  assert.match(r.stderr, /memory reached [\d.]+ MiB \(--on-threshold 40MiB:mark\): marked/);
  const rec = await readMemhuntRecording(out);
  const th = rec.events.filter((e) => e.kind === 'threshold');
  assert.deepEqual(th.map((e) => e.kind === 'threshold' && e.action), ['mark', 'exec']);
  for (const e of th) assert.ok(e.kind === 'threshold' && e.bytes >= e.thresholdBytes);
  const o = rec.events.find((e) => e.kind === 'action-output');
  assert.ok(o && o.kind === 'action-output' && o.exitCode === 0);
  const m = /pid=(\d+) root=(\d+) rss=(\d+) at=(\d+) rec=(.*)\n/.exec(o.output)!;
  assert.ok(m, o.output);
  assert.equal(Number(m[2]), rec.meta.rootPid);
  assert.ok(rec.processes.some((p) => p.pid === Number(m[1])));
  assert.ok(Number(m[3]) >= 60 * MiB);
  assert.equal(Number(m[4]), 60 * MiB);
  assert.equal(m[5], out);
  assert.match(r.stderr, /threshold 60\.0 MiB reached at/);
});

test('stop freezes the tree, says how to inspect and resume, and the run goes on after kill -CONT; the pause is recorded', async () => {
  const HOLD_MS = 600;
  const out = path.join(tempDir(), 'stop.mh');
  const child = spawn(process.execPath, [CLI, 'run', '--interval', '10ms', '-o', out, '--on-threshold', '50MiB:stop', '--', 'python3', '-c', GROW.replace('HOLD', '0.2')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  let stoppedStates = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const resumed = new Promise<void>((resolve) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /resume: {2}kill -CONT ([\d ]+)\n/.exec(stderr);
      if (m && !stderr.includes('(resumed)')) {
        stderr += '(resumed)';
        const pids = m[1]!.trim().split(' ').map(Number);
        // While stopped, the target makes no progress: its state becomes T (signal delivery is
        // asynchronous, so look for up to 2 s). Checked after the run, not in this handler.
        const state = (p: number) => /State:\s+(\S)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
        const started = Date.now();
        const poll = () => {
          const states = pids.map(state);
          // Held stopped for at least HOLD_MS: the pause recorded must be at least that long.
          if ((states.every((s) => s === 'T') && Date.now() - started >= HOLD_MS) || Date.now() - started > 2000 + HOLD_MS) {
            stoppedStates = states.join(',');
            for (const p of pids) process.kill(p, 'SIGCONT');
            resolve();
          } else setTimeout(poll, 20);
        };
        poll();
      }
    });
  });
  // A safety bound, loose on purpose: a loaded machine is slow, but never this slow.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  await Promise.race([resumed, closed]);
  const code = await closed;
  clearTimeout(guard);
  assert.equal(code, 0, stderr);
  assert.match(stoppedStates, /^T(,T)*$/, `every process of the tree was stopped: ${stoppedStates}`);
  assert.equal(stdout, 'done\n');
  assert.match(stderr, /inspect: gdb -p \d+ {3}or {3}py-spy dump --pid \d+/);
  const rec = await readMemhuntRecording(out);
  const stop = rec.events.find((e) => e.kind === 'threshold' && e.action === 'stop');
  assert.ok(stop && stop.kind === 'threshold');
  // The pause: from the stop to the first sample that saw the tree running again (after SIGCONT).
  const pause = rec.events.find((e) => e.kind === 'pause');
  assert.ok(pause && pause.kind === 'pause', 'a pause record');
  assert.equal(pause.cause, 'stop');
  assert.equal(pause.tMs, stop.tMs);
  assert.ok(pause.endMs - pause.tMs >= HOLD_MS, `paused ${pause.endMs - pause.tMs} ms, held ${HOLD_MS} ms`);
  assert.ok(pause.endMs <= rec.total.tMs[rec.total.tMs.length - 1]!, 'ended before the recording did');
  // The summary says how long it stayed stopped (trial 4: only the chart's band did).
  assert.match(stderr, /threshold +50\.0 MiB reached at [\d:.]+: stop\n +stopped [\d.]+ m?s, resumed at [\d:.]+ \(left out of the growth analysis\)\n/, stderr);
});

test('kill ends the tree with SIGKILL (exit 137), and snapshot without an agent is recorded with a note', async () => {
  const out = path.join(tempDir(), 'kill.mh');
  const r = await runCli(['run', '-q', '--no-agent', '--interval', '10ms', '-o', out, '--on-threshold', '30MiB:snapshot', '--on-threshold', '50MiB:kill', '--', 'python3', '-c', GROW.replace('HOLD', '20')]);
  assert.equal(r.code, 137);
  const rec = await readMemhuntRecording(out);
  const snap = rec.events.find((e) => e.kind === 'threshold' && e.action === 'snapshot');
  assert.ok(snap && snap.kind === 'threshold' && /no in-process agent: --no-agent/.test(snap.note ?? ''));
  assert.equal(rec.end?.exitSignal, 'SIGKILL');
});
