/**
 * The labelled corpus (fixtures/corpus/labels.json): real Python (stdlib and numpy) and Node.js
 * programs, each recorded once with the real `memhunt run -q --interval 50ms`
 * (fixtures/corpus/record.sh, one at a time on a quiet machine) into fixtures/corpus/recorded/.
 *
 * Two tests:
 * - Recorded: every committed recording must get exactly its labelled verdict. Deterministic: a
 *   change here is a change of the verdict code, never of the machine.
 * - Live: the same programs run now under `memhunt run`, two at a time. On a busy machine (the
 *   suite runs beside other work and CI starts right after it) a program can run several times
 *   slower: filling a 300 MiB buffer took 0.3 s on a quiet machine here and 2.5 s under a load
 *   average of 16 on 2 cores, so a 6-second program may hold fewer release cycles, or a spike may
 *   reach the end. What a live run may therefore assert: no wrong verdict (a stable, spike or
 *   release workload is never called a leak, a leak never stable or spike); "insufficient data" is
 *   allowed (the recording was too short for what the machine let the program do), and is printed
 *   as a diagnostic. The exact verdicts are the recorded test's job.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { FIXTURES, interpreterPython, runCli, tempDir } from '../test-support';
import { analyzeRecording, verdictLineOf, type RecordingAnalysis } from './analyze';

interface Label {
  file: string;
  expected: 'leak' | 'stable' | 'spike';
  case: string;
  leakingProcess?: string;
}

const CORPUS = path.join(FIXTURES, 'corpus');
const RECORDED = path.join(CORPUS, 'recorded');
const labels = (JSON.parse(fs.readFileSync(path.join(CORPUS, 'labels.json'), 'utf8')) as { interval: string; workloads: Label[] });

/** Runs fn over items, `limit` at a time, in order of start. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

function describeFailure(l: Label, a: RecordingAnalysis, mh: string): string {
  return [
    `${l.file} (${l.case}): expected ${l.expected}, got ${a.verdict}`,
    `  ${verdictLineOf(a)} [rule ${a.tree.rule}]`,
    ...a.tree.evidence.map((e) => `  - ${e}`),
    ...a.processes.filter((p) => p.samples >= 10).map((p) => `  pid ${p.pid} ${p.command.slice(-2).join(' ')}: ${p.verdict}: ${p.reason}`),
    `  recording: ${mh}`,
  ].join('\n');
}

/** The leak's details: a growth rate, and the one leaking process named when the label names it. */
function checkLeakDetails(l: Label, a: RecordingAnalysis): void {
  if (a.verdict !== 'leak') return;
  assert.ok(a.tree.growth || a.leakingProcesses.length, `${l.file}: a leak verdict has a growth rate`);
  if (!l.leakingProcess) return;
  const leakers = a.leakingProcesses.map((p) => p.command.join(' '));
  assert.equal(leakers.length, 1, `${l.file}: leaking processes ${JSON.stringify(leakers)}`);
  assert.ok(leakers[0]!.includes(l.leakingProcess), `${l.file}: ${leakers[0]} should be the "${l.leakingProcess}" process`);
  assert.match(verdictLineOf(a), new RegExp(`in pid ${a.leakingProcesses[0]!.pid} \\(`));
  const others = a.processes.filter((p) => p.samples >= 40 && !p.command.join(' ').includes(l.leakingProcess!));
  assert.ok(others.length >= 2, `${l.file}: the parent and the other worker were analysed`);
  for (const p of others) assert.notEqual(p.verdict, 'leak', `${l.file}: pid ${p.pid} ${p.command.join(' ')} is not the leaking one`);
}

test('corpus, recorded: every committed recording gets its labelled verdict', async () => {
  assert.ok(labels.workloads.length >= 12, 'at least 12 workloads');
  const wrong: string[] = [];
  // Every workload is recorded (record.sh, on a quiet machine, checks each label as it records).
  const recorded = labels.workloads;
  const missing = recorded.filter((l) => !fs.existsSync(path.join(RECORDED, l.file.replace(/\.\w+$/, '.mh')))).map((l) => l.file);
  assert.deepEqual(missing, [], `not recorded: ${missing.join(', ')} (run fixtures/corpus/record.sh on a quiet machine)`);
  for (const l of recorded) {
    const mh = path.join(RECORDED, l.file.replace(/\.\w+$/, '.mh'));
    const a = analyzeRecording(await readMemhuntRecording(mh));
    if (a.verdict !== l.expected) wrong.push(describeFailure(l, a, mh));
    else checkLeakDetails(l, a);
  }
  assert.equal(wrong.length, 0, wrong.join('\n\n'));
});

/**
 * The live run records a subset: one workload of each kind of verdict and runtime (a sawtooth, a
 * step, a release, a Python leak, a leak in one worker of three, a native leak, a spike, and Node.js
 * stable/leak/spike), 10 of 16. Every workload is judged deterministically from its committed
 * recording above; the live run checks recording and analysis end to end on a busy machine, and the
 * other six took ~35 s of the suite's time for no kind of case not already here.
 */
const LIVE = [
  'sawtooth_train.py', 'model_step_numpy.py', 'batch_release.py', 'steady_leak.py', 'worker_leak.py', 'native_leak.py',
  'spike.py', 'node_stable.js', 'node_leak.js', 'node_spike.js',
];

test('corpus, live: no workload gets a wrong verdict under memhunt run (insufficient data allowed on a busy machine)', { timeout: 540_000 }, async (t) => {
  const dir = tempDir('memhunt-corpus-');
  const record = async (l: (typeof labels.workloads)[number], attempt: number) => {
    const mh = path.join(dir, l.file.replace(/\.\w+$/, attempt > 1 ? `.${attempt}.mh` : '.mh'));
    // The interpreter itself, not pyenv's shim (its seconds of bash at the start starved the workloads under load).
    const interpreter = l.file.endsWith('.py') ? interpreterPython() : process.execPath;
    const r = await runCli(['run', '-q', '--interval', labels.interval, '-o', mh, '--', interpreter, path.join(CORPUS, l.file)], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${l.file} exited ${r.code}: ${r.stderr}`);
    const a = analyzeRecording(await readMemhuntRecording(mh));
    return { l, a, mh };
  };
  const live = labels.workloads.filter((l) => LIVE.includes(l.file));
  // How long each program ran on a quiet machine (its committed recording).
  const quietSpanMs = new Map<string, number>();
  for (const l of live) {
    const q = await readMemhuntRecording(path.join(RECORDED, l.file.replace(/\.\w+$/, '.mh')));
    const t = q.total.tMs;
    if (t.length > 1) quietSpanMs.set(l.file, t[t.length - 1]! - t[0]!);
  }
  assert.equal(live.length, LIVE.length, `LIVE names a workload labels.json does not have: ${LIVE.join(', ')}`);
  const first = await pool(live, 2, (l) => record(l, 1));
  // A live run on a saturated machine can be starved for a second at its end (seen in CI-like runs:
  // a leak's last samples late, its fall at exit read as a release). A workload judged wrong is
  // recorded once more, alone; a verdict rule that is wrong fails both times. The recorded corpus
  // test above is the deterministic check.
  const results: Array<{ l: Label; a: RecordingAnalysis; mh: string }> = [];
  const retried: string[] = [];
  for (const x of first) {
    if (x.a.verdict === x.l.expected || x.a.verdict === 'insufficient data') results.push(x);
    else {
      retried.push(`${x.l.file} (first ${x.a.verdict})`);
      results.push(await record(x.l, 2));
    }
  }
  if (retried.length) t.diagnostic(`recorded again after a wrong verdict: ${retried.join(', ')}`);
  const falseLeaks = results.filter(({ l, a }) => l.expected !== 'leak' && a.verdict === 'leak');
  assert.deepEqual(falseLeaks.map((x) => describeFailure(x.l, x.a, x.mh)), [], 'a stable, spike or release workload was called a leak');
  // A run the machine stretched to more than 1.5× its quiet recording's length (fixtures/corpus/
  // recorded/) no longer has the shape its label names: node_spike.js's 250 MiB fill took 13 s of a
  // 21 s run at load ~15 (0.3 s quietly), a ramp and a release, not a spike. For such a run only
  // leak or not is asserted (above); stable for spike and the reverse are reported, not failed.
  const starved = (x: (typeof results)[number]) => {
    const quiet = quietSpanMs.get(x.l.file);
    return quiet !== undefined && x.a.tree.endMs - x.a.tree.startMs > 1.5 * quiet;
  };
  const stretched = results.filter((x) => x.a.verdict !== x.l.expected && x.a.verdict !== 'insufficient data' && x.l.expected !== 'leak' && x.a.verdict !== 'leak' && starved(x));
  if (stretched.length) t.diagnostic(`stretched by the load (only leak or not asserted): ${stretched.map(({ l, a }) => `${l.file} ${a.verdict} in ${((a.tree.endMs - a.tree.startMs) / 1000).toFixed(1)} s (quietly ${((quietSpanMs.get(l.file) ?? 0) / 1000).toFixed(1)} s)`).join(', ')}`);
  const wrong = results.filter((x) => x.a.verdict !== x.l.expected && x.a.verdict !== 'insufficient data' && !stretched.includes(x));
  assert.equal(wrong.length, 0, wrong.map(({ l, a, mh }) => describeFailure(l, a, mh)).join('\n\n'));
  const undecided = results.filter(({ a }) => a.verdict === 'insufficient data');
  t.diagnostic(`${results.length - undecided.length}/${results.length} right, ${undecided.length} insufficient data${undecided.length ? `: ${undecided.map(({ l, a }) => `${l.file} (${a.tree.rule})`).join(', ')}` : ''}`);
  for (const { l, a } of results) if (a.verdict === l.expected) checkLeakDetails(l, a);
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * The held-out corpus (fixtures/corpus/heldout/): 16 short programs written after the verdict
 * code and labelled before their first run (issue 9), recorded with the default options. Every
 * recording must get its label or "insufficient data" (recorded on a loaded machine: a program
 * can be starved of what it means to show); a wrong verdict fails, except the ones labels.json
 * explains as knownWrong, which are todo (reported, never passed silently).
 */
const HELDOUT = path.join(CORPUS, 'heldout');
const heldout = JSON.parse(fs.readFileSync(path.join(HELDOUT, 'labels.json'), 'utf8')) as { workloads: Array<Label & { knownWrong?: string }> };

test('held-out corpus, recorded: no wrong verdict; how many are right', async (t) => {
  assert.ok(heldout.workloads.length >= 14, 'at least 14 held-out programs');
  let right = 0;
  const undecided: string[] = [];
  for (const l of heldout.workloads) {
    const mh = path.join(HELDOUT, 'recorded', l.file.replace(/\.\w+$/, '.mh'));
    const a = analyzeRecording(await readMemhuntRecording(mh));
    if (a.verdict === l.expected) right++;
    else if (a.verdict === 'insufficient data') undecided.push(`${l.file} (${a.tree.rule})`);
    await t.test(l.file, { todo: l.knownWrong }, () => {
      assert.ok(a.verdict === l.expected || a.verdict === 'insufficient data', describeFailure(l, a, mh));
    });
  }
  t.diagnostic(`${right}/${heldout.workloads.length} right, ${undecided.length} insufficient data${undecided.length ? `: ${undecided.join(', ')}` : ''}`);
});
