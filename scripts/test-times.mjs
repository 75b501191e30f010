// A reporter for Node's test runner (used by scripts/test.mjs beside tap/spec): at the end it prints
// the wall time of each test file (first to last event seen from it) and the 20 slowest tests, so a
// CI log shows where the suite's time goes. With MEMHUNT_TEST_TIMES=<file>, it also writes every
// duration there as JSON (to compare two runs).
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { loadavg as loadavg1 } from 'node:os';

const TOP = 20;

export default async function* testTimes(source) {
  const files = new Map(); // file → { first, last, tests, failed }
  const tests = []; // { file, name, ms, failed }
  const started = Date.now();
  let done = false;
  for await (const event of source) {
    const data = event.data ?? {};
    // The run's closing diagnostics ("tests N", …) carry no file. --test-force-exit (scripts/test.mjs)
    // ends the process right after them, before the stream's end, so the summary is printed at the first.
    if (event.type === 'test:diagnostic' && !data.file && /^tests \d/.test(data.message) && !done) {
      done = true;
      yield summary(files, tests, Date.now() - started);
    }
    if (!data.file) continue;
    const file = relative(process.cwd(), data.file);
    const now = Date.now();
    let f = files.get(file);
    if (!f) files.set(file, (f = { first: now, last: now, tests: 0, failed: 0 }));
    f.last = now;
    if ((event.type === 'test:pass' || event.type === 'test:fail') && data.details?.type !== 'suite') {
      const failed = event.type === 'test:fail';
      tests.push({ file, name: data.name, ms: data.details?.duration_ms ?? 0, failed });
      f.tests++;
      if (failed) f.failed++;
    }
  }
  if (!done) yield summary(files, tests, Date.now() - started);
}

function summary(files, tests, wall) {
  const s = (ms) => (ms / 1000).toFixed(1).padStart(6) + ' s';
  const byFile = [...files].map(([file, f]) => ({ file, ms: f.last - f.first, tests: f.tests, failed: f.failed })).sort((a, b) => b.ms - a.ms);
  const slow = [...tests].sort((a, b) => b.ms - a.ms).slice(0, TOP);
  let out = `\n# test times: ${(wall / 1000).toFixed(1)} s wall, ${tests.length} tests in ${files.size} files, load ${loadavg()}\n`;
  out += '# files, slowest first (first to last event):\n';
  for (const f of byFile) out += `#  ${s(f.ms)}  ${f.file} (${f.tests} tests${f.failed ? `, ${f.failed} failed` : ''})\n`;
  out += `# the ${slow.length} slowest tests:\n`;
  for (const t of slow) out += `#  ${s(t.ms)}  ${t.file}: ${t.name}${t.failed ? ' (failed)' : ''}\n`;
  if (process.env.MEMHUNT_TEST_TIMES) {
    writeFileSync(process.env.MEMHUNT_TEST_TIMES, JSON.stringify({ wallMs: wall, load: loadavg(), files: byFile, tests }, null, 1));
  }
  return out;
}

function loadavg() {
  return loadavg1().map((x) => x.toFixed(2)).join(' ');
}
