/**
 * A census's own memory (issue 9): on a program whose memory is level, the step at the first
 * census (its modules, and what the walk's buffers leave in the allocator's arenas) was drawn and
 * judged as the program's. The agent measures what each census added (agentRssBytes), gives the
 * walk's freed pages back (malloc_trim, memhunt_heap.c) before it measures, and `memhunt heap`,
 * `analyze` and the chart say it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readMemhuntRecording } from '../recording/reader';
import { FIXTURES, interpreterPython, runCli, tempDir } from '../test-support';

const MiB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Measured {
  dir: string;
  out: string;
  /** Why the run could not be judged (the program was not level before the first census), or null. */
  inconclusive: string | null;
  step: number;
  said: number;
  allSaid: number;
  firstSaid: number;
}

async function measure(python: string): Promise<Measured> {
  const dir = tempDir();
  const out = path.join(dir, 'c.mh');
  const r = await runCli(['run', '-q', '-o', out, '--interval', '20ms', '--heap-every', '2s', '--', python, path.join(FIXTURES, 'agents', 'census_flat.py'), '8'], { cwd: dir, timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const rec = await readMemhuntRecording(out);
  const level = rec.events.find((e) => e.kind === 'section' && e.label === 'level');
  assert.ok(level && level.kind === 'section' && level.endMs !== null, 'the fixture\'s "level" section');
  const allCensuses = rec.events.flatMap((e) => (e.kind === 'census' ? [e] : []));
  assert.ok(allCensuses.every((c) => typeof c.agentRssBytes === 'number'), JSON.stringify(allCensuses.map((c) => c.agentRssBytes)));
  const allSaid = allCensuses.reduce((a, c) => a + Math.max(0, c.agentRssBytes ?? 0), 0);
  const py = rec.processes.find((p) => p.pid === allCensuses[0]?.pid);
  const rss = (from: number, to: number) => {
    const v: number[] = [];
    for (let i = 0; py && i < py.rss.tMs.length; i++) if (py.rss.tMs[i]! >= from && py.rss.tMs[i]! < to) v.push(py.rss.values[i]!);
    return v;
  };
  // Censuses inside the level section only; the first of them must be the first of the run (the
  // one that loads the census's modules) and have the level before it in at least 3 samples.
  const inLevel = allCensuses.filter((c) => c.tMs >= level.startMs && c.tMs + c.durationMs <= level.endMs!);
  const first = inLevel[0];
  const before = first ? rss(level.startMs, first.tMs) : [];
  // The level after the censuses: after the last one, or, when the section ended too soon after
  // it, between the one before and it (then that last one is left out of what was said).
  let censuses = inLevel;
  let after: number[] = [];
  for (let n = inLevel.length; n >= 1 && after.length < 3; n--) {
    const last = inLevel[n - 1]!;
    after = rss(last.tMs + last.durationMs + 50, n < inLevel.length ? inLevel[n]!.tMs : level.endMs!);
    censuses = inLevel.slice(0, n);
  }
  let inconclusive: string | null = null;
  if (inLevel.length < 2 || first !== allCensuses[0]) inconclusive = `${allCensuses.length - inLevel.length} of ${allCensuses.length} censuses came before the program was level (or ran past it)`;
  else if (before.length < 3 || after.length < 3) inconclusive = `samples of the level: ${before.length} before the first census, ${after.length} after the last`;
  const said = censuses.reduce((a, c) => a + Math.max(0, c.agentRssBytes ?? 0), 0);
  const step = inconclusive ? NaN : median(after) - median(before);
  return { dir, out, inconclusive, step, said, allSaid, firstSaid: allCensuses[0]?.agentRssBytes ?? 0 };
}

test('the memory a census adds is measured, recorded and named as memhunt\'s', async () => {
  // The interpreter itself, not pyenv's shim: under load the shim's bash ran for 2.5 s in the same
  // pid before Python started, and its RSS was taken for the program's level.
  const python = interpreterPython();
  // On a loaded machine the program's start-up can run into memhunt's first census (the ticks count
  // from the session's start): such a run cannot be judged, and is run once more.
  let m = await measure(python);
  if (m.inconclusive) m = await measure(python);
  assert.equal(m.inconclusive, null, `twice: ${m.inconclusive}`);
  const mib = (b: number) => (b / MiB).toFixed(2);
  assert.ok(m.allSaid > 0.5 * MiB, `the census's own memory measured: ${mib(m.allSaid)} MiB`);
  // Nothing the censuses left is unnamed: the lasting step is what they said they added, give or
  // take a few pages of the interpreter's and libc's code first touched by them (file-backed), and
  // not much more than that (the walk's freed buffers are given back: memhunt_heap.c, "trim").
  assert.ok(Math.abs(m.step - m.said) < 0.75 * MiB, `the step in the level (${mib(m.step)} MiB) is what the censuses said they added (${mib(m.said)} MiB)`);
  const { dir, out } = m;
  const heap = await runCli(['heap', out], { cwd: dir });
  assert.match(heap.stdout, /memhunt's census: \+[\d.]+ [KM]iB RSS/);
  // The chart's census mark says it too (when a census added 1 MiB or more, as the first does).
  if (m.firstSaid >= MiB) {
    const svg = path.join(dir, 'c.svg');
    const plot = await runCli(['plot', out, '-o', svg], { cwd: dir });
    assert.equal(plot.code, 0, plot.stderr);
    assert.match(fs.readFileSync(svg, 'utf8'), /heap census \(memhunt&#39;s census: \+[\d.]+ MiB\)/);
  }
  const an = await runCli(['analyze', out], { cwd: dir });
  assert.match(an.stdout, /memhunt's (census|\d+ censuses) added [\d.]+ [KM]iB of RSS while (it|they) ran .*: subtracted after each/);
});
