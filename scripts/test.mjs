// Runs every compiled test file (dist/**/*.test.js) with Node's own test runner.
// Node 20's `node --test` takes no globs, so the list is built here.
//
//   node scripts/test.mjs                 every file
//   node scripts/test.mjs verdict heap    the files whose path contains one of the words
//
// Output: tap (spec on a terminal) on stdout, then on stderr the time of each file and the 20 slowest
// tests (scripts/test-times.mjs). MEMHUNT_TEST_CONCURRENCY sets how many files run at once.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

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
const concurrency = process.env.MEMHUNT_TEST_CONCURRENCY ?? '2';
const reporters = [
  `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`, '--test-reporter-destination=stdout',
  '--test-reporter=./scripts/test-times.mjs', '--test-reporter-destination=stderr',
];
// A test that hangs fails after 3 minutes instead of holding CI until its own limit.
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', '--test-force-exit', ...reporters, ...chosen], { stdio: 'inherit' });
process.exit(r.status ?? 1);
