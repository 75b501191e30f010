/** `run --heap-every --duplicates --largest` and the refusals of bad input (issue 15; largest-e2e-support.test.ts). */
import { test } from 'node:test';
import * as fs from 'node:fs';
import assert from 'node:assert/strict';
import { readMemhuntRecording } from '../recording/reader';
import * as path from 'node:path';
import { runCli, tempDir } from '../test-support';
import { PYTHONS, startRun } from './largest-e2e-support.test';

test('run --heap-every --duplicates --largest records them in every census; memhunt heap shows them', async () => {
  const python = PYTHONS.find(([n]) => n.startsWith('3.13'))?.[1] ?? PYTHONS[0]![1];
  const run = startRun(python, ['--no-numpy', '--mib', '8'], ['--heap-every', '2s', '--duplicates', '--min-size', '4MiB', '--largest', '3']);
  try {
    await run.ready;
    const deadline = Date.now() + 150_000;
    for (;;) {
      const rec = await readMemhuntRecording(run.out).catch(() => null);
      if (rec?.events.some((e) => e.kind === 'census' && e.duplicates?.groups.length === 1 && e.duplicates.groups[0]!.holders.length === 3)) break;
      assert.ok(Date.now() < deadline, 'a census with the duplicate group of 3 holders within 150 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await run.stop();
  }
  const rec = await readMemhuntRecording(run.out);
  const censuses = rec.events.filter((e) => e.kind === 'census' && e.trigger === 'every');
  assert.ok(censuses.length >= 1);
  for (const e of censuses) {
    if (e.kind !== 'census') continue;
    assert.equal(e.duplicates?.minBytes, 4 * 1024 ** 2, 'every census of the run has the duplicate search');
    assert.ok(e.largest && e.largest.length <= 3);
  }
  const heap = await runCli(['heap', run.out]);
  assert.equal(heap.code, 0, heap.stderr);
  assert.match(heap.stdout, /group 1: [\d.]+ MiB of float64 values \([^)]*\), 3 holders/);
  assert.match(heap.stdout, /largest objects/);
  // The report page shows both (issue 15).
  const html = `${run.out}.html`;
  const rep = await runCli(['report', run.out, '-o', html]);
  assert.equal(rep.code, 0, rep.stderr);
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /Largest objects at [\d:.]+(?: s)? \(/);
  assert.match(page, /<table class="data largest">/);
  assert.match(page, /Duplicated data at [\d:.]+(?: s)?: <b>1 group, [\d.]+ MiB would be saved by keeping one copy of each<\/b>/);
  assert.match(page, /[\d.]+ MiB of float64 values \([^)]*\): 3 copies/);
});

test('bad --largest, --min-size and --duplicates input: one line, exit 2, before any process is asked', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['snapshot', '1', '--largest', '0'], /--largest "0" must be a whole number from 1 to 1000/],
    [['snapshot', '1', '--largest', 'many'], /--largest "many" must be a whole number/],
    [['snapshot', '1', '--duplicates', '--min-size', '0'], /--min-size "0" must be greater than zero/],
    [['snapshot', '1', '--duplicates', '--min-size', '5'], /--min-size "5" needs a unit/],
    [['snapshot', '1', '--min-size', '5MiB'], /--min-size 5MiB is the threshold of --duplicates: add --duplicates/],
    [['run', '--duplicates', '--', 'true'], /--duplicates is added to censuses: add --heap-every/],
    [['run', '--heap-every', '1s', '--no-agent', '--largest', '3', '--', 'true'], /needs the in-process agent/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re);
  }
});

test('a census due while the previous request runs is skipped with what was under way; heap counts what it lists', async () => {
  // dups.mh: "#4 skipped: #3 still running" of a census that took 340 ms two seconds before (its
  // largest objects and duplicates took 2.26 s more); heap said "3 censuses" and then named #5,
  // which had failed and was never listed.
  const dir = tempDir();
  const prog = path.join(dir, 'hold.py');
  fs.writeFileSync(prog, [
    'import time',
    'a = b"x" * (8 << 20)',
    'b = bytes(bytearray(a))',
    'rows = [[i, str(i)] for i in range(200000)]',
    't = time.time()',
    'while time.time() - t < 4: time.sleep(0.05)',
  ].join('\n') + '\n');
  const out = path.join(dir, 'run.mh');
  const python = PYTHONS.find(([n]) => n.startsWith('3.13'))?.[1] ?? PYTHONS[0]![1];
  const r = await runCli(['run', '-q', '--heap-every', '100ms', '--largest', '5', '--duplicates', '-o', out, '--', python, prog], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  const skips = rec.events.flatMap((e) => (e.kind === 'note' && e.skippedCensus !== undefined ? [e.text] : []));
  assert.ok(skips.length >= 1, 'censuses of 100 ms apart with --largest and --duplicates: some skipped');
  for (const t of skips) {
    assert.match(t, /^census every 100 ms #\d+ skipped: pid \d+ was still busy with (census every 100 ms #\d+ \(the census, then its largest objects and duplicates\)|the back-references of \S+ after census every 100 ms #\d+), under way for \d+(\.\d+)? m?s$/, t);
  }
  const heap = await runCli(['heap', out]);
  assert.equal(heap.code, 0, heap.stderr);
  // "N censuses due: T taken, S skipped, F failed": every census due, then each kind.
  const m = /^pid \d+ [^:]*: (\d+) censuses due: (\d+) taken, (\d+) skipped(?:, (\d+) failed)?$/m.exec(heap.stdout);
  assert.ok(m, heap.stdout.slice(0, 400));
  assert.equal(Number(m[1]), Number(m[2]) + Number(m[3]) + Number(m[4] ?? 0));
  const listed = (re: RegExp) => heap.stdout.split('\n').filter((l) => re.test(l)).length;
  assert.equal(listed(/^ {2}\d\d:\d\d\.\d +every 100 ms #\d+ +[\d,]+ objects/), Number(m[2]));
  assert.equal(listed(/^ {2}\d\d:\d\d\.\d +every 100 ms #\d+ +failed( at \d\d:\d\d\.\d)?: /), Number(m[4] ?? 0));
  assert.equal(listed(/^ {2}\d\d:\d\d\.\d +every 100 ms #\d+ +skipped: /), Number(m[3]));
  // Numbered from the first census asked: #1 is listed (taken, failed or skipped).
  assert.equal(listed(/^ {2}\d\d:\d\d\.\d +every 100 ms #1 /), 1, heap.stdout.slice(0, 600));
  fs.rmSync(dir, { recursive: true, force: true });
});
