// A reporter for Node's test runner (used by scripts/test.mjs beside tap/spec): at the end it prints
// the time of each test file (the sum of its top-level tests) and the 20 slowest tests, so a
// CI log shows where the suite's time goes. With MEMHUNT_TEST_TIMES=<file>, it also writes every
// duration there as JSON (to compare two runs).
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { loadavg as loadavg1 } from 'node:os';

const TOP = 20;
/** The file times of the last runs in this checkout (git-ignored): scripts/test.mjs starts the longest files first. */
export const TIMES_FILE = '.test-times.json';

export default async function* testTimes(source) {
  // file → { ms: the sum of its top-level tests (a file's tests run one after another), tests, failed, killed }
  const files = new Map();
  const tests = []; // { file, name, ms, failed }
  const started = Date.now();
  let done = false;
  for await (const event of source) {
    const data = event.data ?? {};
    // The run's closing diagnostics ("tests N", …) carry no file. The summary is printed at the first:
    // under `node --test --test-force-exit` the process ends right after them, before the stream ends.
    if (event.type === 'test:diagnostic' && !data.file && /^tests \d/.test(data.message) && !done) {
      done = true;
      yield summary(files, tests, Date.now() - started);
    }
    if (!data.file || (event.type !== 'test:pass' && event.type !== 'test:fail')) continue;
    const file = relative(process.cwd(), data.file);
    let f = files.get(file);
    if (!f) files.set(file, (f = { ms: 0, tests: 0, failed: 0, killedAfterMs: null }));
    const ms = data.details?.duration_ms ?? 0;
    const failed = event.type === 'test:fail' && !data.todo && !data.skip;
    if (data.name === data.file) {
      // The file itself (its process): failed when it timed out or crashed; its time is then the file's time.
      if (failed) f.killedAfterMs = ms;
      continue;
    }
    if (data.nesting === 0) f.ms += ms;
    if (data.details?.type === 'suite') continue;
    tests.push({ file, name: data.name, ms, failed });
    f.tests++;
    if (failed) f.failed++;
  }
  if (!done) yield summary(files, tests, Date.now() - started);
}

function summary(files, tests, wall) {
  const s = (ms) => (ms / 1000).toFixed(1).padStart(6) + ' s';
  const byFile = [...files].map(([file, f]) => ({ file, ms: f.killedAfterMs ?? f.ms, tests: f.tests, failed: f.failed, killed: f.killedAfterMs !== null }))
    .sort((a, b) => b.ms - a.ms);
  const busy = byFile.reduce((sum, f) => sum + f.ms, 0);
  const slow = [...tests].sort((a, b) => b.ms - a.ms).slice(0, TOP);
  let out = `\n# test times: ${(wall / 1000).toFixed(1)} s wall, ${tests.length} tests in ${files.size} files, load ${loadavg()}\n`;
  out += `# files, slowest first (the sum of their tests' times; ${(busy / 1000).toFixed(1)} s in all, ${(busy / wall).toFixed(2)} files at a time on average):\n`;
  for (const f of byFile) {
    out += `#  ${s(f.ms)}  ${f.file} (${f.tests} tests${f.failed ? `, ${f.failed} failed` : ''}${f.killed ? ', the file timed out or crashed' : ''})\n`;
  }
  out += `# the ${slow.length} slowest tests:\n`;
  for (const t of slow) out += `#  ${s(t.ms)}  ${t.file}: ${t.name}${t.failed ? ' (failed)' : ''}\n`;
  if (process.env.MEMHUNT_TEST_TIMES) {
    writeFileSync(process.env.MEMHUNT_TEST_TIMES, JSON.stringify({ wallMs: wall, load: loadavg(), files: byFile, tests }, null, 1));
  }
  rememberFileTimes(byFile);
  return out;
}

/** Updates TIMES_FILE with the files of this run (the others keep their previous times). */
function rememberFileTimes(byFile) {
  try {
    let prev = [];
    try {
      prev = JSON.parse(readFileSync(TIMES_FILE, 'utf8')).files ?? [];
    } catch {
      /* first run */
    }
    const now = new Map(byFile.map((f) => [f.file, f.ms]));
    const files = [...prev.filter((f) => !now.has(f.file)), ...byFile.map((f) => ({ file: f.file, ms: f.ms }))];
    writeFileSync(TIMES_FILE, JSON.stringify({ files }, null, 1) + '\n');
  } catch {
    /* a read-only checkout: the order falls back to scripts/test.mjs's list */
  }
}

function loadavg() {
  return loadavg1().map((x) => x.toFixed(2)).join(' ');
}
