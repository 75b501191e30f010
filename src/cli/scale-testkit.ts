/**
 * Helpers of the `memhunt scale` end-to-end tests (scale*.test.ts): Python programs of known memory
 * laws, running the real binary, and checking a projection against a measured run. The tests are
 * split over several files so that each stays well under the runner's per-file limit on a loaded
 * machine.
 *
 * The programs hold their peak for 0.2 s before exiting, so that the sampler (10 ms) sees it on a
 * loaded machine.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../test-support';
import { EXIT } from './exit-codes';

export const MiB = 1024 * 1024;
/** Debian's interpreter: numpy comes with python3-pandas (.ci/run installs it). */
export const PY = '/usr/bin/python3';

/** A list of N floats: 8 B of list slot + a 24 B float in a 32 B pymalloc block (16-byte alignment) = 40 B per item. */
export const LIST_PY = `
import sys, time
n = int(sys.argv[1])
xs = [float(i) for i in range(n)]
time.sleep(0.2)
`;

/** An N×N float64 matrix: 8 B per pair, touched (np.ones writes every page). */
export const MATRIX_PY = `
import sys, time
import numpy as np
n = int(sys.argv[1])
d = np.ones((n, n))
time.sleep(0.2)
`;

/** A 200 MiB "model" (written, so resident) plus 4 KiB per item (built at run time: a constant b"x" * 4000 would be folded into one shared object). */
export const MODEL_PY = `
import sys, time
n = int(sys.argv[1])
model = b"\\x01" * (200 << 20)
items = [bytes([i % 251]) * 4000 for i in range(n)]
time.sleep(0.2)
`;

/** The same 60 MiB whatever N is. */
export const CONSTANT_PY = `
import sys, time
n = int(sys.argv[1])
buf = b"\\x03" * (60 << 20)
time.sleep(0.2)
`;

export function script(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

export interface Json {
  runs: Array<{ size: number; peakBytes: number; status: string; path: string; end: string }>;
  model: { kind: string; fixedBytes: number; coef: number; exponent: number };
  projection: { bytes: number; lowBytes: number; highBytes: number; envelope: { lowBytes: number; highBytes: number } };
  decided: boolean;
  recommendation: { requestBytes: number; fits: boolean | null; largestSizeThatFits: number | 'any' | null };
  findings: string[];
  powerExponent: number | null;
}

export async function scale(args: string[]): Promise<{ json: Json; stderr: string; code: number | null }> {
  const r = await runCli(['scale', '--json', ...args], { timeoutMs: 170_000 });
  assert.equal(r.code === EXIT.OK || r.code === EXIT.LIMIT_VIOLATED, true, `exit ${r.code}: ${r.stderr}`);
  return { json: JSON.parse(r.stdout) as Json, stderr: r.stderr, code: r.code };
}

/** The peak of one run at `size`, as memhunt scale measures it (a scale "run" of one repeat is not possible: 3 sizes are needed, so run + peak). */
export async function measured(prog: string, size: number, dir: string): Promise<number> {
  const out = path.join(dir, `held-out-${size}.mh`);
  const r = await runCli(['run', '-q', '-i', '10ms', '-o', out, '--', PY, prog, String(size)], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const p = await runCli(['peak', '-p', out]);
  // The tree's sampled peak, and each process's kernel peak: memhunt scale takes the higher.
  const nums = [...p.stdout.matchAll(/(\d+(?:\.\d+)?) (MiB|GiB|KiB)/g)].map((m) => Number(m[1]) * (m[2] === 'GiB' ? 1024 * MiB : m[2] === 'MiB' ? MiB : 1024));
  const first = /\t(\d+\.\d+) MiB/.exec(p.stdout);
  return Math.max(first ? Number(first[1]) * MiB : 0, ...nums);
}

export function assertProjection(j: Json, actual: number, what: string): void {
  const p = j.projection;
  assert.ok(Math.abs(p.bytes / actual - 1) <= 0.15, `${what}: projected ${(p.bytes / MiB).toFixed(1)} MiB, measured ${(actual / MiB).toFixed(1)} MiB`);
  assert.ok(actual >= p.envelope.lowBytes && actual <= p.envelope.highBytes,
    `${what}: measured ${(actual / MiB).toFixed(1)} MiB outside ${(p.envelope.lowBytes / MiB).toFixed(1)} … ${(p.envelope.highBytes / MiB).toFixed(1)} MiB`);
}

