// The first half of `npm test`: the build (tsc) and the lints (eslint; flake8 and mypy through
// scripts/lint-python.mjs) at the same time. Each is one process on one core and none reads what
// another writes (eslint lints src/, not dist/), so on 2 cores they take the time of the longest
// instead of the sum (measured in BENCHMARKS.md, "Test suite time"). Each tool's output is printed
// whole, in this order, once it ended; exit 1 when any failed.
//
// Caches (git-ignored): tsc's .tsbuildinfo (tsconfig "incremental") and eslint's .eslintcache, so a
// second `npm test` in the same checkout re-checks only what changed; mypy keeps its own cache.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(REPO, 'node_modules', '.bin', name);
const steps = [
  ['build', bin('tsc'), ['-p', '.']],
  ['eslint', bin('eslint'), ['--cache', '--cache-location', join(REPO, '.eslintcache'), 'src']],
  ['lint-python', process.execPath, [join(REPO, 'scripts', 'lint-python.mjs')]],
];

function run([name, cmd, args]) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    child.on('error', (e) => resolve({ name, ok: false, text: `${name}: ${e.message}\n`, ms: Date.now() - started }));
    child.on('close', (code, signal) => resolve({ name, ok: code === 0, text: Buffer.concat(out).toString(), ms: Date.now() - started, code: code ?? signal }));
  });
}

const results = await Promise.all(steps.map(run));
let failed = false;
for (const r of results) {
  process.stdout.write(`> ${r.name} (${(r.ms / 1000).toFixed(1)} s)${r.ok ? '' : `: FAILED (${r.code})`}\n${r.text}`);
  if (!r.ok) failed = true;
}
process.exit(failed ? 1 : 0);
