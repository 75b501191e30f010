/**
 * --metric decides what the tree total counts everywhere: a real program whose processes share
 * pages (fork after allocating), under the real binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { runCli, tempDir } from '../test-support';
import { buildChart } from '../render/chart';
import { metricTotal } from '../model/metric';
import { valueAt } from '../model/series';
import { mprofMib } from '../units';
import { summarize } from './summary';

const MiB = 2 ** 20;

// Fork after allocating: 4 processes map the same 150 MiB. RSS counts it 4 times, PSS once.
const SHARED = [
  'import os, time',
  'data = b"\\x01" * (150 << 20)',
  'pids = []',
  'for _ in range(3):',
  '    pid = os.fork()',
  '    if pid == 0:',
  '        time.sleep(2.5)',
  '        os._exit(0)',
  '    pids.append(pid)',
  'for pid in pids:',
  '    os.waitpid(pid, 0)',
].join('\n');

test('--metric pss decides the tree total everywhere: peak, summary, verdict, mprof and CSV exports (fork-shared pages)', async () => {
  const dir = tempDir();
  const f = path.join(dir, 'shared.mh');
  const run = await runCli(['run', '--no-agent', '--metric', 'pss', '-o', f, '--', 'python3', '-c', SHARED], { timeoutMs: 170_000 });
  assert.equal(run.code, 0, run.stderr);
  const rec = await readMemhuntRecording(f);
  const s = summarize(rec);
  assert.equal(s.metric, 'pss');
  // Counted from what was recorded: PSS reads with all four processes alive (the rate is adaptive).
  const pssReads = rec.totalPss.tMs.length;
  assert.ok(pssReads >= 3, `${pssReads} PSS reads`);
  assert.ok(s.rssPeakBytes! > 450 * MiB, `RSS sum ${s.rssPeakBytes! / MiB} MiB`);
  assert.ok(s.peakBytes > 140 * MiB && s.peakBytes < 0.5 * s.rssPeakBytes!, `PSS ${s.peakBytes / MiB} MiB, RSS ${s.rssPeakBytes! / MiB} MiB`);
  assert.match(run.stderr, /peak {6}\d+ MiB \(tree PSS\)/);
  assert.match(run.stderr, /\d+ MiB tree RSS sum \(shared pages counted once per process/);

  const peak = await runCli(['peak', f]);
  assert.equal(peak.stdout.trim(), `${f}\t${mprofMib(s.peakBytes)} MiB`);

  const analysis = JSON.parse((await runCli(['analyze', f, '--json'])).stdout);
  assert.equal(analysis.tree.peakBytes, s.peakBytes, 'the verdict is on the PSS total');

  const dat = (await runCli(['export', f, '-f', 'mprof', '-o', '-'])).stdout;
  const memMax = Math.max(...dat.split('\n').filter((l) => l.startsWith('MEM ')).map((l) => Number(l.split(' ')[1])));
  assert.ok(Math.abs(memMax - s.peakBytes / MiB) < 0.01, `mprof MEM max ${memMax} MiB, PSS peak ${s.peakBytes / MiB} MiB`);
  const back = path.join(dir, 'shared.dat');
  fs.writeFileSync(back, dat);
  const backPeak = await runCli(['peak', back]);
  // As mprof prints it: an exact tie at the third decimal goes to the even digit (162.0625 → 162.062).
  assert.equal(backPeak.stdout.trim().split('\t')[1], `${mprofMib(s.peakBytes)} MiB`, 'read back, the .dat gives the same peak');

  const csv = (await runCli(['export', f, '-f', 'csv', '-o', '-'])).stdout.split('\n');
  const header = csv[0]!.split(',');
  const col = header.indexOf('total_pss_mib');
  assert.ok(col > 0, csv[0]);
  const csvMax = Math.max(...csv.slice(1).filter(Boolean).map((l) => Number(l.split(',')[col]) || 0));
  assert.ok(Math.abs(csvMax - s.peakBytes / MiB) < 0.01, `CSV total_pss_mib max ${csvMax}`);

  // The chart draws the PSS total as the tree's line, its peak, and the RSS sum dashed beside it.
  const chart = buildChart([{ rec, name: 'shared.mh' }]);
  const line = chart.series.find((x) => x.role === 'total')!;
  assert.equal(line.label, 'tree PSS');
  assert.equal(line.data, rec.totalPss);
  assert.equal(chart.peaks[0]!.bytes, s.peakBytes);
  assert.ok(chart.series.some((x) => x.label.startsWith('tree RSS sum') && x.peakBytes === s.rssPeakBytes));

  // USS, from the same readings: the shared 150 MiB is nobody's own.
  // (Once the children have exited the parent's pages are its own again: compare at the PSS peak.)
  rec.meta.metric = 'uss';
  const u = metricTotal(rec);
  assert.equal(u.metric, 'uss');
  const ussAtPeak = valueAt(u.series, s.peakTMs);
  assert.ok(ussAtPeak < s.peakBytes - 100 * MiB, `USS ${ussAtPeak / MiB} MiB, PSS ${s.peakBytes / MiB} MiB at ${s.peakTMs} ms`);
  assert.equal(summarize(rec).metricText, 'tree USS');
});
