// Runs every compiled test file (dist/**/*.test.js) with Node's own test runner (node:test's run()).
//
//   node scripts/test.mjs                 every file
//   node scripts/test.mjs verdict heap    the files whose path contains one of the words
//
// Output: tap (spec on a terminal) on stdout, then on stderr the time of each file and the 20 slowest
// tests (scripts/test-times.mjs). Exit 0 when no test failed.
//
// Why run() rather than `node --test`:
// - Order. `node --test` sorts its files by name; run() starts them in the order given. The files are
//   started longest first (the times of the previous run in this checkout, .test-times.json, else the
//   list below), so the suite does not end with one long file running alone on an idle core.
// - One timeout per file. Node 20's --test-timeout (and run()'s timeout) applies to each file as a
//   whole: 3 minutes killed files whose tests were all passing on a loaded machine. A file now gets
//   FILE_TIMEOUT_MS; a test that needs a bound of its own sets it in its options.
// - `python3` is the interpreter, not pyenv's shim: see realPythonFirst().
// Environment: MEMHUNT_TEST_CONCURRENCY (files at a time; default 3, see CONCURRENCY);
// MEMHUNT_TEST_KEEP_PATH=1 leaves PATH as it is (python3 through pyenv's shim, if that is what it is).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { delimiter, dirname, join, resolve, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import testTimes, { TIMES_FILE } from './test-times.mjs';

/** Files at a time. Most e2e tests wait on subprocesses (programs that sleep, allocate, wait for a
 * signal), so a third file uses time the two cores leave idle: see BENCHMARKS.md, "Test suite". */
const CONCURRENCY = Number(process.env.MEMHUNT_TEST_CONCURRENCY ?? 3);
/** A file that takes longer has hung: it fails, and the rest of the suite goes on. */
const FILE_TIMEOUT_MS = 600_000;
/** Started first when there are no times of a previous run: the files that took longest (load ~5, 2 cores). */
const SLOW_FIRST = [
  'analysis/corpus', 'agents/python-agent', 'cli/cli.test', 'faults/outputs', 'agents/host-python', 'agents/server',
  'agents/heap-e2e-pool', 'agents/heap-e2e-sklearn', 'agents/heap-e2e-pandas', 'sampler/accuracy', 'cli/threshold',
  'faults/smaller', 'cli/scale-linear', 'cli/scale-model', 'cli/plot', 'cli/check', 'recording/damage', 'faults/agents',
];

/**
 * When `python3` on PATH is a launcher (pyenv's shim: a bash script that runs a dozen bash and
 * pyenv processes, ~0.3 s more CPU than the interpreter, before it execs it), puts the folder of the
 * interpreter it runs first on PATH, as the shim itself does for the program it starts (pyenv exec
 * prepends that folder): every `python3` the tests start, directly, through `memhunt run -- python3`
 * or from a fixture's shell, is then the same interpreter without the launcher, and a short program
 * is not starved by the launcher's processes in its own tree. The suite starts python3 through PATH
 * ~40 times (~12 s of CPU; BENCHMARKS.md, "Test suite time", fourth session). The shim's own behaviour (a launcher that execs late, its short processes
 * in a recording) is tested with programs that do the same (sh -c 'sleep …; exec python3') and with
 * recordings made under it (fixtures/memhunt/loaded/), not by starting it.
 */
function realPythonFirst() {
  if (process.env.MEMHUNT_TEST_KEEP_PATH === '1') return;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const onPath = dirs.map((d) => join(d, 'python3')).find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!onPath) return;
  const r = spawnSync(onPath, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  const exe = r.status === 0 ? r.stdout.trim() : '';
  if (!exe || realpathSync(exe) === realpathSync(onPath)) return; // python3 is the interpreter already
  process.env.PATH = [dirname(exe), ...dirs].join(delimiter);
}
realPythonFirst();

const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
walk('dist');
const only = process.argv.slice(2);
const chosen = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (chosen.length === 0) {
  console.error('no test files found under dist/ (did the build run?)');
  process.exit(1);
}

/** Expected seconds per file: the previous run's, else a rank from SLOW_FIRST. */
function expectedTimes() {
  try {
    const prev = JSON.parse(readFileSync(TIMES_FILE, 'utf8'));
    return (f) => prev.files?.find((x) => x.file === f)?.ms ?? 0;
  } catch {
    return (f) => {
      const k = SLOW_FIRST.findIndex((s) => f.includes(s));
      return k < 0 ? 0 : SLOW_FIRST.length - k;
    };
  }
}
const expected = expectedTimes();
const ordered = chosen.map((f) => relative(process.cwd(), f)).sort((a, b) => expected(b) - expected(a) || a.localeCompare(b));

const stream = run({ files: ordered.map((f) => resolve(f)), concurrency: CONCURRENCY, timeout: FILE_TIMEOUT_MS, forceExit: true });
// One stream of events, two reporters: tap/spec on stdout, the times on stderr.
const toOut = new PassThrough({ objectMode: true });
const toTimes = new PassThrough({ objectMode: true });
let failed = 0;
stream.on('data', (event) => {
  if (event.type === 'test:fail' && !event.data.todo && !event.data.skip && event.data.details?.type !== 'suite') failed++;
  toOut.write(event);
  toTimes.write(event);
});
stream.on('end', () => {
  toOut.end();
  toTimes.end();
});
const report = (events, reporter, out) => {
  const text = events.compose(reporter);
  text.pipe(out, { end: false });
  return finished(text);
};
await Promise.all([report(toOut, process.stdout.isTTY ? spec : tap, process.stdout), report(toTimes, testTimes, process.stderr)]);
// forceExit above ends each file when its tests are done; this ends the runner once the reports are out.
process.exitCode = failed ? 1 : 0;
process.stdout.write('', () => process.stderr.write('', () => process.exit()));
