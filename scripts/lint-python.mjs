// Lints and type-checks the Python agent and the project's Python programs with Debian's flake8 and
// mypy (settings: runtimes/python/setup.cfg). Part of `npm test`; .ci/run installs both.
// Both run at once (one core each); each one's output is printed whole, flake8's first.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const PY = join(REPO, 'runtimes', 'python');
const steps = [
  ['flake8', ['.', join(REPO, 'fixtures', 'agents'), join(REPO, 'bench', 'workloads')]],
  ['mypy', []],
];
const run = ([tool, args]) => new Promise((resolve) => {
  const child = spawn(tool, args, { cwd: PY, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => err.push(d));
  child.on('error', () => resolve({ tool, missing: true }));
  child.on('close', (code) => resolve({ tool, code, out: Buffer.concat(out), err: Buffer.concat(err) }));
});
const results = await Promise.all(steps.map(run));
let failed = false;
for (const r of results) {
  if (r.missing) {
    console.error(`lint-python: ${r.tool} is not installed (apt-get install flake8 mypy)`);
    process.exit(1);
  }
  process.stdout.write(r.out);
  process.stderr.write(r.err);
  if (r.code !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
