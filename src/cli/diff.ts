/**
 * `memhunt diff before.mh after.mh`: two runs side by side — peak, growth, verdict — for a fix or
 * a dependency upgrade ("pandas 2.1 → 2.2").
 */
import { Command } from 'commander';
import { analyzeRecording, commandLabel, type RecordingAnalysis } from '../analysis/analyze';
import { finalText, heldAtEndBytes } from '../analysis/summary';
import { InputError } from '../errors';
import { formatBytes, formatDuration, formatPercent, formatRate, parseSize } from '../units';
import { analysisJson, jsonReplacer } from './analyze';
import { resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { out, outJson } from './output';
import { helpProse } from './help';

function signedBytes(d: number): string {
  return d === 0 ? '0' : `${d > 0 ? '+' : '-'}${formatBytes(Math.abs(d))}`;
}

function change(before: number, after: number): string {
  if (!Number.isFinite(before) || !Number.isFinite(after)) return '';
  const d = after - before;
  const rel = before > 0 ? ` (${d >= 0 ? '+' : ''}${((100 * d) / before).toFixed(0)}%)` : '';
  return `${signedBytes(d)}${rel}`;
}

/**
 * The leak rates of two recordings in one scope, so like is compared with like: the tree totals when
 * both verdicts state the tree's rate, else the fastest leaking process of each when both have one
 * (a pool leaking in its workers: the total of a forked pool and of a spawned one differ by their
 * start-up, not by the leak); null when the scopes cannot be matched.
 */
type ComparedRate = { bytesPerMinute: number; label: string; low?: number; high?: number };

export function comparableRates(b: RecordingAnalysis, a: RecordingAnalysis): { scope: 'tree total' | 'fastest leaking process'; before: ComparedRate; after: ComparedRate } | null {
  if (b.verdict !== 'leak' || a.verdict !== 'leak' || !b.rate || !a.rate) return null;
  if (b.rate.scope === 'tree' && a.rate.scope === 'tree') {
    const of = (g: { bytesPerMinute: number; lowBytesPerMinute: number; highBytesPerMinute: number }): ComparedRate => ({ bytesPerMinute: g.bytesPerMinute, label: 'tree total', low: g.lowBytesPerMinute, high: g.highBytesPerMinute });
    return { scope: 'tree total', before: of(b.rate.growth), after: of(a.rate.growth) };
  }
  const pb = b.leakingProcesses[0];
  const pa = a.leakingProcesses[0];
  if (!pb || !pa) return null;
  return { scope: 'fastest leaking process', before: { bytesPerMinute: pb.bytesPerMinute, label: `pid ${pb.pid}` }, after: { bytesPerMinute: pa.bytesPerMinute, label: `pid ${pa.pid}` } };
}

function growthOf(x: RecordingAnalysis, rate: { bytesPerMinute: number; label: string } | null): { text: string; bytesPerMinute: number } {
  if (x.verdict === 'insufficient data' || !x.tree.growth) return { text: 'not judged', bytesPerMinute: NaN };
  // A sustained rate only for a leak; growth that stopped (a filled cache) is shown as such.
  if (x.verdict !== 'leak') return { text: `none sustained (${formatRate(x.tree.growth.lateBytesPerMinute, true)} at the end)`, bytesPerMinute: 0 };
  // The scope of the comparison when there is one, else the verdict's own (not comparable then).
  if (rate) return { text: `${formatRate(rate.bytesPerMinute, true)} (${rate.label})`, bytesPerMinute: rate.bytesPerMinute };
  const own = x.rate ?? { growth: x.tree.growth, label: 'tree total' };
  return { text: `${formatRate(own.growth.bytesPerMinute, true)} (${own.label})`, bytesPerMinute: own.growth.bytesPerMinute };
}

/** What changed, in one line: the verdict first, then peak. */
export function diffConclusion(b: RecordingAnalysis, a: RecordingAnalysis): string {
  const parts: string[] = [];
  if (b.verdict === 'leak' && a.verdict !== 'leak' && a.verdict !== 'insufficient data') parts.push(`the leak is gone (${a.verdict})`);
  else if (b.verdict !== 'leak' && b.verdict !== 'insufficient data' && a.verdict === 'leak') parts.push('a leak appeared');
  else if (b.verdict === 'leak' && a.verdict === 'leak') {
    const c = comparableRates(b, a);
    const gb = c?.before.bytesPerMinute ?? NaN;
    const ga = c?.after.bytesPerMinute ?? NaN;
    if (c && Number.isFinite(gb) && Number.isFinite(ga) && gb > 0) {
      const change = `${ga >= gb ? '+' : ''}${((100 * (ga - gb)) / gb).toFixed(0)}%`;
      const scope = c.scope === 'tree total' ? 'tree totals' : `fastest leaking process: ${c.before.label} → ${c.after.label}`;
      // Two runs of one program differ by noise: "faster"/"slower" only when the 90% intervals of
      // the two rates do not overlap (tree totals), or, without intervals, when they differ by ≥ 10%.
      const { low: lb, high: hb } = c.before;
      const { low: la, high: ha } = c.after;
      const bounded = [lb, hb, la, ha].every((x) => x !== undefined && Number.isFinite(x));
      const same = bounded ? la! <= hb! && lb! <= ha! : Math.abs(ga - gb) < 0.1 * gb;
      parts.push(same
        ? `still leaking, at about the same rate (${change}, ${scope}; ${bounded ? 'their 90% intervals overlap' : 'within 10%'})`
        : `still leaking, ${ga < gb ? 'slower' : 'faster'} (${change}, ${scope})`);
    }
    else parts.push(`still leaking (rates not compared: ${b.rate?.label ?? 'tree total'} before, ${a.rate?.label ?? 'tree total'} after)`);
  } else if (b.verdict !== a.verdict) parts.push(`verdict ${b.verdict} → ${a.verdict}`);
  else parts.push(`both ${a.verdict}`);
  const pb = b.summary.peakBytes;
  const pa = a.summary.peakBytes;
  if (pb > 0) {
    const rel = (pa - pb) / pb;
    parts.push(Math.abs(rel) < 0.02 ? 'peak unchanged' : `peak ${rel < 0 ? 'down' : 'up'} ${formatBytes(Math.abs(pa - pb))} (${(100 * Math.abs(rel)).toFixed(0)}%)`);
  }
  return parts.join('; ');
}

export function formatDiff(b: RecordingAnalysis, a: RecordingAnalysis, files: [string, string], commands: [string[], string[]]): string {
  const rows: Array<[string, string, string, string]> = [];
  const c = comparableRates(b, a);
  const gb = growthOf(b, c?.before ?? null);
  const ga = growthOf(a, c?.after ?? null);
  const verdictText = (x: RecordingAnalysis) => (x.verdict === 'insufficient data' ? x.verdict : `${x.verdict} (${x.confidenceLabel})`);
  const spikeMax = (x: RecordingAnalysis) => x.tree.spikes.reduce((m, s) => Math.max(m, s.heightBytes), 0);
  rows.push(['', 'before', 'after', 'change']);
  rows.push(['recording', files[0], files[1], '']);
  rows.push(['command', commandLabel(commands[0], 34), commandLabel(commands[1], 34), '']);
  rows.push(['duration', formatDuration(b.summary.durationMs), formatDuration(a.summary.durationMs), '']);
  rows.push(['peak', formatBytes(b.summary.peakBytes), formatBytes(a.summary.peakBytes), change(b.summary.peakBytes, a.summary.peakBytes)]);
  // "final" as the summary says it; the change compares what each program held at its end (the
  // level before the teardown where one is seen: the last sample of one run may be taken halfway
  // through the interpreter freeing its heap, and of the other not).
  const held = (x: RecordingAnalysis) => heldAtEndBytes(x.summary);
  const heldNote = b.summary.beforeExit || a.summary.beforeExit ? ' (held before exit)' : '';
  rows.push(['final', finalText(b.summary), finalText(a.summary), `${change(held(b), held(a))}${heldNote}`]);
  rows.push(['baseline', formatBytes(b.tree.baselineBytes), formatBytes(a.tree.baselineBytes), change(b.tree.baselineBytes, a.tree.baselineBytes)]);
  rows.push([
    'growth', gb.text, ga.text,
    // Two leaks whose scopes do not match (the tree total of one, a process of the other) are not subtracted.
    Number.isFinite(gb.bytesPerMinute) && Number.isFinite(ga.bytesPerMinute) && (c || b.verdict !== 'leak' || a.verdict !== 'leak')
      ? formatRate(ga.bytesPerMinute - gb.bytesPerMinute, true) : 'not comparable',
  ]);
  rows.push(['verdict', verdictText(b), verdictText(a), b.verdict === a.verdict ? 'same' : 'changed']);
  rows.push([
    'spikes', b.tree.spikes.length ? `${b.tree.spikes.length}, highest +${formatBytes(spikeMax(b))}` : 'none',
    a.tree.spikes.length ? `${a.tree.spikes.length}, highest +${formatBytes(spikeMax(a))}` : 'none', '',
  ]);
  const leakers = (x: RecordingAnalysis) => (x.leakingProcesses.length ? x.leakingProcesses.map((p) => commandLabel(p.command, 30)).join(', ') : '-');
  if (b.leakingProcesses.length || a.leakingProcesses.length) rows.push(['leaking in', leakers(b), leakers(a), '']);
  if (b.limit || a.limit) {
    const share = (x: RecordingAnalysis) => (x.limit ? `${formatPercent(x.summary.peakBytes / x.limit.bytes)} of ${formatBytes(x.limit.bytes)}` : 'no limit');
    rows.push(['peak/limit', share(b), share(a), '']);
  }
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => `  ${r[0].padEnd(w[0]!)}  ${r[1].padEnd(w[1]!)}  ${r[2].padEnd(w[2]!)}  ${r[3]}`.trimEnd());
  return [`memhunt diff: ${diffConclusion(b, a)}`, ...lines].join('\n');
}

export function registerDiffCommand(program: Command): void {
  program
    .command('diff')
    .summary('compare two recordings: peak, growth and verdict side by side')
    .description('Compare two runs of the same job, before and after a fix or an upgrade: peak, final memory, baseline, sustained growth and verdict, side by side, with the change.')
    .argument('<before>', 'recording (file or index from memhunt list)')
    .argument('<after>', 'recording (file or index from memhunt list)')
    .option('--json', 'print both analyses and the conclusion as JSON')
    .option('--limit <size>', 'project both against this container limit')
    .addHelpText('after', helpProse('\nExamples:\n  memhunt diff pandas-2.1.mh pandas-2.2.mh\n  memhunt diff 0 1            the two oldest recordings here (memhunt list)'))
    .action(async (beforeArg: string, afterArg: string, flags: { json?: boolean; limit?: string }) => {
      const limitBytes = flags.limit === undefined ? null : parseSize(flags.limit, '--limit');
      const files: [string, string] = [resolveRecordingArg(beforeArg), resolveRecordingArg(afterArg)];
      const recs = await Promise.all(files.map((f) => loadRecording(f)));
      recs.forEach((r, i) => {
        if (r.total.values.length === 0) throw new InputError(`${files[i]}: the recording has no samples`);
      });
      const [b, a] = recs.map((r) => analyzeRecording(r, { limitBytes })) as [RecordingAnalysis, RecordingAnalysis];
      if (flags.json) {
        outJson({ conclusion: diffConclusion(b, a), before: analysisJson(b, files[0]), after: analysisJson(a, files[1]) }, jsonReplacer);
        return;
      }
      out(formatDiff(b, a, files, [recs[0]!.meta.command, recs[1]!.meta.command]) + '\n');
    });
}
