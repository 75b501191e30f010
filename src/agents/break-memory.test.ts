/**
 * --break-at: what pdb costs is the debugger's, not the program's (issue 9 leftover). The program
 * grows by exactly 20 MiB (fixtures/agents/break_step.py), crossing the break size; the user types
 * `c`. Before: the floors rose by ~30 MiB (+7 MiB of census modules the break's first request
 * imported, +2-4 MiB of pdb's import), read as the program's growth. Now a break imports none of
 * the census modules, and the RSS pdb added while stopped is recorded with the pause and subtracted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readMemhuntRecording } from '../recording/reader';
import { analyzeRecording } from '../analysis/analyze';
import { FIXTURES, runMemhuntInTerminal, tempDir } from '../test-support';

const HAS_SCRIPT = spawnSync('script', ['--version']).status === 0;
const MiB = 1024 * 1024;

test('--break-at: the memory pdb adds is left out of the program\'s growth', { skip: HAS_SCRIPT ? false : 'util-linux script is not installed' }, async () => {
  const dir = tempDir();
  const out = path.join(dir, 'brk.mh');
  const stop = path.join(dir, 'stop');
  const before = path.join(dir, 'before');
  const prog = path.join(FIXTURES, 'agents', 'break_step.py');
  // At the prompt, as a user looks around (pdb's own modules are loaded by then), then continue.
  const { code, text, prompted } = await runMemhuntInTerminal(['run', '-q', '-o', out, '--break-at', '45MiB', '--', 'python3', prog, stop, before],
    { cwd: dir, answer: 'where\nc\n', atPrompt: () => fs.writeFileSync(stop, '') });
  assert.ok(prompted, `pdb prompt seen:\n${text}`);
  assert.equal(code, 0, text);
  const rec = await readMemhuntRecording(out);
  const pause = rec.events.find((e) => e.kind === 'pause');
  assert.ok(pause && pause.kind === 'pause' && pause.cause === 'break', JSON.stringify(rec.events.filter((e) => e.kind !== 'note')));
  assert.ok(pause.debuggerBytes !== undefined && pause.debuggerBytes > 0.5 * MiB && pause.debuggerBytes < 40 * MiB, `pdb's memory recorded: ${pause.debuggerBytes}`);
  const rssBefore = Number(fs.readFileSync(before, 'utf8'));
  const a = analyzeRecording(rec);
  const py = a.processes.find((p) => pause.pids.includes(p.pid));
  assert.ok(py && py.floors, JSON.stringify(a.processes.map((p) => p.pid)));
  // The program grew by 20 MiB; the floors (what the verdict judges) say so, within page noise.
  const grew = (py.floors.lastBytes - rssBefore) / MiB;
  assert.ok(grew > 17 && grew < 24, `the floors rose ${grew.toFixed(1)} MiB over the level before the step (the program's growth: 20 MiB); ${py.reason}`);
  assert.match(a.tree.evidence.join('\n'), /pdb added while it was stopped \(the debugger's, not the program's\)/);
});
