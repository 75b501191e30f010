// Lints and type-checks the Python agent and the project's Python programs with Debian's flake8 and
// mypy (settings: runtimes/python/setup.cfg). Part of `npm test`; .ci/run installs both.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const PY = join(REPO, 'runtimes', 'python');
const steps = [
  ['flake8', ['.', join(REPO, 'fixtures', 'agents'), join(REPO, 'bench', 'workloads')]],
  ['mypy', []],
];
let failed = false;
for (const [tool, args] of steps) {
  const r = spawnSync(tool, args, { cwd: PY, stdio: 'inherit' });
  if (r.error) {
    console.error(`lint-python: ${tool} is not installed (apt-get install flake8 mypy)`);
    process.exit(1);
  }
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
