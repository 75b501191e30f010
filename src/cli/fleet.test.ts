/**
 * Issue 14, end to end: real `memhunt run` in "containers" (fixture environments of AWS Batch
 * array children) writing into one shared folder with --output-dir, one killed at its --limit, a
 * cut recording and foreign files beside them; then `memhunt fleet` on the folder. Also --upload
 * and memhunt as the Python interpreter a framework launches (PYSPARK_PYTHON).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, runCli, tempDir } from '../test-support';
import { readMemhuntRecording } from '../recording/reader';

const PY = '/usr/bin/python3';
const MiB = 1024 * 1024;
/** Allocates N MiB, touches it, holds it until the file `go` exists (the test saw it recorded), then exits. */
const alloc = (mib: number, go: string) => `import os, time\nx = bytearray(${mib} << 20)\nwhile not os.path.exists(${JSON.stringify(go)}): time.sleep(0.02)`;

/**
 * One "container": records into dir; the program holds its memory until this test has read a
 * sample of it back from the recording (a fixed 0.3 s hold was missed by a starved sampler at load 20).
 */
async function recordInto(dir: string, index: number, mib: number, extra: string[] = []) {
  const env = { ...process.env, AWS_BATCH_JOB_ID: `etl-job:${index}`, AWS_BATCH_JOB_ARRAY_INDEX: String(index), AWS_BATCH_JQ_NAME: 'ml-queue' };
  const go = path.join(path.dirname(path.dirname(dir)), `go-${index}`); // beside the shared folder, not in it
  const running = runCli(['run', '-q', '--interval', '20ms', '--output-dir', dir, ...extra, '--', PY, '-c', alloc(mib, go)], { env, timeoutMs: 120_000 });
  let done = false;
  void running.then(() => (done = true));
  // Held until a sample of at least mib MiB (less 10%) is on disk; a run killed at its limit ends by itself.
  for (let i = 0; i < 2400 && !done; i++) {
    const file = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith(`_batch-etl-job-${index}.mh`)) : undefined;
    if (file) {
      const peak = await readMemhuntRecording(path.join(dir, file)).then((r) => Math.max(0, ...r.total.values), () => 0);
      if (peak >= 0.9 * mib * MiB) break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  fs.writeFileSync(go, '');
  return running;
}

test('fleet: recordings of a job\'s containers in one folder, riskiest first, cut and foreign files noted', { timeout: 300_000 }, async () => {
  const root = tempDir('memhunt-fleet-');
  const shared = path.join(root, 'shared', 'job-1'); // created by --output-dir
  const ok = await Promise.all([recordInto(shared, 0, 40), recordInto(shared, 1, 120)]);
  for (const r of ok) assert.equal(r.code, 0, r.stderr);
  // The third container is killed at its limit (a rehearsal of the OOM kill).
  const killed = await recordInto(shared, 2, 400, ['--limit', '150MiB', '--label', 'stage=train']);
  assert.equal(killed.code, 137, killed.stderr);
  const files = fs.readdirSync(shared).sort();
  assert.equal(files.length, 3);
  const byTask = (i: number) => files.find((f) => new RegExp(`^memhunt_\\d{14}_batch-etl-job-${i}\\.mh$`).test(f));
  for (const i of [0, 1, 2]) assert.ok(byTask(i), `a file named by task ${i}: ${files.join(' ')}`);
  // The header keeps where it ran.
  const rec = await readMemhuntRecording(path.join(shared, byTask(2)!));
  assert.equal(rec.meta.labels?.platform, 'aws-batch');
  assert.equal(rec.meta.labels?.awsBatchJobId, 'etl-job:2');
  assert.equal(rec.meta.labels?.stage, 'train');
  // A copy cut in its middle (a container killed mid-flush), and files that are not recordings.
  const whole = fs.readFileSync(path.join(shared, byTask(1)!));
  fs.mkdirSync(path.join(root, 'shared', 'other'));
  fs.writeFileSync(path.join(root, 'shared', 'other', 'cut.mh'), whole.subarray(0, Math.floor(whole.length * 0.6)));
  fs.writeFileSync(path.join(root, 'shared', 'notes.txt'), 'not a recording\n');
  fs.writeFileSync(path.join(root, 'shared', 'fake.mh'), 'not gzip at all\n');

  const j = await runCli(['fleet', path.join(root, 'shared'), '--json'], { timeoutMs: 120_000 });
  assert.equal(j.code, 0, j.stderr);
  const doc = JSON.parse(j.stdout) as { totals: Record<string, unknown>; rows: Array<Record<string, unknown>>; skipped: unknown[] };
  assert.equal(doc.rows.length, 4, 'three recordings and the cut copy');
  assert.equal(doc.rows[0]!.end, 'limit-killed', 'the killed container comes first');
  assert.equal(doc.rows[0]!.identity, 'batch etl-job:2');
  assert.ok((doc.rows[0]!.usedShare as number) >= 1, 'it used all of its limit');
  const byId = new Map(doc.rows.filter((r) => !String(r.file).includes('cut')).map((r) => [r.identity, r]));
  assert.ok((byId.get('batch etl-job:1')!.peakBytes as number) > 110 * MiB);
  assert.ok((byId.get('batch etl-job:0')!.peakBytes as number) < 100 * MiB);
  const cut = doc.rows.find((r) => String(r.file).endsWith('cut.mh'))!;
  assert.equal(cut.end, 'no end', 'the cut copy is read up to its cut and says so');
  assert.equal(doc.totals.recordings, 4);
  assert.equal(doc.totals.limitKilled, 1);
  assert.equal(doc.totals.oomKilled, 0);

  const t = await runCli(['fleet', path.join(root, 'shared')], { timeoutMs: 120_000 });
  assert.equal(t.code, 0, t.stderr);
  const lines = t.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /where\s+peak\s+limit\s+used\s+ended\s+verdict/);
  assert.match(lines[1]!, /batch etl-job:2 .*150 MiB .*--limit after/);
  assert.match(lines[lines.length - 1]!, /^4 recordings from 1 host; 1 killed \(0 by the OOM killer, 1 at --limit\)/);
  assert.match(t.stderr, /2 other files in the folders are not recordings/);

  // The rows from the recordings' summary footers are the rows of a whole read.
  const reread = await runCli(['fleet', path.join(root, 'shared'), '--json', '--reanalyze'], { timeoutMs: 120_000 });
  assert.equal(reread.code, 0, reread.stderr);
  const strip = (rows: Array<Record<string, unknown>>) => rows.map(({ warnings: _w, ...rest }) => rest);
  assert.deepEqual(strip((JSON.parse(reread.stdout) as typeof doc).rows), strip(doc.rows));

  // --top keeps the summary of all; one thread gives the same rows as the worker threads.
  const top = await runCli(['fleet', path.join(root, 'shared'), '--top', '1', '--threads', '1', '--json'], { timeoutMs: 120_000 });
  const topDoc = JSON.parse(top.stdout) as { totals: Record<string, unknown>; rows: Array<Record<string, unknown>> };
  assert.equal(topDoc.rows.length, 1);
  assert.equal(topDoc.rows[0]!.identity, 'batch etl-job:2');
  assert.equal(topDoc.totals.recordings, 4);

  // The report page of the whole folder: every recording, one chart (issue 12: "works for a fleet").
  const page = path.join(root, 'fleet.html');
  const rep = await runCli(['report', path.join(root, 'shared'), '-o', page], { timeoutMs: 120_000 });
  assert.equal(rep.code, 0, rep.stderr);
  const html = fs.readFileSync(page, 'utf8');
  assert.equal(html.match(/<section class="recording" id="rec-r\d+"/g)?.length, 4, 'a section per recording');
  const none = await runCli(['report', path.join(root, 'shared', 'job-1', 'no-such')]);
  assert.equal(none.code, 2);
});

test('fleet: bad input gets one line and exit 2', async () => {
  const empty = tempDir('memhunt-fleet-empty-');
  fs.writeFileSync(path.join(empty, 'readme.txt'), 'x');
  for (const [args, re] of [
    [['fleet', empty], /no recordings in .* \(1 other files\)/],
    [['fleet', path.join(empty, 'nosuch')], /no such file or folder/],
    [['fleet', empty, '--top', '0'], /--top 0/],
    [['fleet', empty, '--threads', 'x'], /--threads x/],
    [['fleet', path.join(empty, 'readme.txt')], /none of the 1 files could be read/],
  ] as const) {
    const r = await runCli([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('memhunt: skipped')).length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('run --upload hands the closed recording to a command; a failing upload keeps the exit code and the file', async () => {
  const dir = tempDir('memhunt-upload-');
  const dest = path.join(dir, 'bucket');
  fs.mkdirSync(dest);
  const r = await runCli(['run', '-q', '--output-dir', path.join(dir, 'out'), '--upload', `cp {} ${dest}/ && echo uploaded "$MEMHUNT_RECORDING"`, '--', PY, '-c', 'import sys; sys.exit(3)'], { timeoutMs: 60_000 });
  assert.equal(r.code, 3, 'the command\'s exit code');
  const made = fs.readdirSync(path.join(dir, 'out'));
  assert.equal(made.length, 1);
  assert.deepEqual(fs.readdirSync(dest), made, 'the upload copied the closed recording');
  assert.match(r.stderr, /uploaded .*memhunt_\d{14}_/, 'its output goes to stderr with $MEMHUNT_RECORDING set');
  assert.equal(r.stdout, '', 'stdout stays the command\'s');
  await readMemhuntRecording(path.join(dest, made[0]!)); // a whole recording, not a partial one

  const bad = await runCli(['run', '-q', '-o', path.join(dir, 'kept.mh'), '--upload', 'exit 4', '--', PY, '-c', 'pass'], { timeoutMs: 60_000 });
  assert.equal(bad.code, 0);
  assert.match(bad.stderr, /--upload failed \(exit 4\).*the recording stays at .*kept\.mh/);
  assert.ok(fs.existsSync(path.join(dir, 'kept.mh')));
  const both = await runCli(['run', '-o', 'x.mh', '--output-dir', dir, '--', 'true']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /not both/);
  const badLabel = await runCli(['run', '--label', 'novalue', '--', 'true']);
  assert.equal(badLabel.code, 2);
  assert.match(badLabel.stderr, /--label novalue: give KEY=VALUE/);
});

test('memhunt as the Python a framework launches (PYSPARK_PYTHON): the worker protocol on stdout passes through, each worker is recorded', async () => {
  const dir = tempDir('memhunt-pyspark-');
  const wrapper = path.join(dir, 'memhunt-python');
  // docs/cluster.md: the one-line wrapper a Spark conf points PYSPARK_PYTHON at.
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" run -q --output-dir "${dir}/runs" -- ${PY} "$@"\n`, { mode: 0o755 });
  // A stand-in for the JVM side: starts workers through $PYSPARK_PYTHON and reads what they print.
  const launcher = `
import os, subprocess, sys
py = os.environ["PYSPARK_PYTHON"]
outs = []
for i in range(2):
    p = subprocess.run([py, "-c", "import sys; data = bytearray(30 << 20); sys.stdout.write('port %d\\\\n' % (5000 + len(data) // (30 << 20)))", str(i)], capture_output=True, text=True, check=True)
    outs.append(p.stdout.strip())
print(",".join(outs))
`;
  const { spawnSync } = await import('node:child_process');
  const out = spawnSync(PY, ['-c', launcher], { env: { ...process.env, PYSPARK_PYTHON: wrapper }, encoding: 'utf8', timeout: 120_000 });
  assert.equal(out.status, 0, out.stderr);
  assert.equal(out.stdout.trim(), 'port 5001,port 5001', 'the workers\' stdout reached the launcher unchanged');
  const runs = fs.readdirSync(path.join(dir, 'runs'));
  assert.equal(runs.length, 2, 'one recording per worker');
  for (const f of runs) {
    const rec = await readMemhuntRecording(path.join(dir, 'runs', f));
    assert.ok(rec.total.values.some((v) => v > 30 * MiB), `${f}: the worker's 30 MiB is in it`);
  }
});

test('near its limit a recording is flushed at every sample (an OOM kill then loses at most one interval)', async () => {
  const dir = tempDir('memhunt-nearlimit-');
  const file = path.join(dir, 'near.mh');
  // ~94 MiB held for ~1.5 s under a 100 MiB --limit: above 90% of it, every sample is flushed.
  const r = await runCli(['run', '-q', '--interval', '20ms', '--limit', '100MiB', '-o', file, '--', PY, '-c',
    'import time; x = bytearray(84 << 20); time.sleep(1.5)'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(file);
  const near = rec.total.values.filter((v) => v > 90 * MiB).length;
  assert.ok(near >= 5, `${near} samples above 90 MiB`);
  // Each flush is one gzip member; count their headers (1f 8b 08, flags 0 as the writer writes them).
  const bytes = fs.readFileSync(file);
  let members = 0;
  for (let i = bytes.indexOf(0x1f); i >= 0 && i < bytes.length - 3; i = bytes.indexOf(0x1f, i + 1)) {
    if (bytes[i + 1] === 0x8b && bytes[i + 2] === 0x08 && bytes[i + 3] === 0x00) members++;
  }
  assert.ok(members >= near * 0.8, `${members} gzip members for ${near} samples near the limit (about one each, not one a second)`);
});
