/**
 * `memhunt check [limits] [run options] -- cmd`: `run`, then the verdict and the limits — a CI
 * gate. Exit 0 when every limit holds, EXIT.LIMIT_VIOLATED when one is violated, the target's own
 * code when the target failed (that failure is the news; the limits are still printed).
 */
import { Command } from 'commander';
import { analyzeRecording, commandLabel, verdictLineOf, type RecordingAnalysis } from '../analysis/analyze';
import { checkLimits, hasLimits, type LimitResult } from '../analysis/limits';
import { InputError } from '../errors';
import { checkOutput, OUTPUT_KINDS, writeOutputFile } from '../fsutil';
import { err } from './output';
import { openCgroup, runCommand } from '../sampler/session';
import { formatDuration, parseSize } from '../units';
import { addLimitOptions, formatLimitResults, resolveLimits, type LimitFlags } from './analyze';
import { EXIT } from './exit-codes';
import { addAgentOptions, addRecordOptions, exitWith, record, refuseRecordingAsCommand, type RecordFlags } from './run';
import { helpProse } from './help';

type CheckFlags = RecordFlags & LimitFlags & { junit?: string };

/** The memory limit of memhunt's own cgroup (the target's, unless it moves itself), or null. */
function ownCgroupLimitBytes(): number | null {
  const cg = openCgroup(process.pid, '/', undefined);
  cg.reader?.close();
  return cg.limit;
}

export function registerCheckCommand(program: Command): void {
  const cmd = addLimitOptions(
    addAgentOptions(addRecordOptions(
      program
        .command('check')
        .summary('run a command and fail when it breaks a memory limit (a CI gate)')
        .description(
          'Run and record a command exactly like `memhunt run`, then judge the recording (as `memhunt ' +
            'analyze` does) against the limits given. Growth and leak limits cannot be judged on too short a run ' +
            '(insufficient data): they are then reported as skipped and do not fail the check.',
        )
        .argument('<command...>', 'the command to run, after --')
        .option('--junit <file>', 'also write the results as JUnit XML (one test case per limit) for CI systems; replaces only an earlier JUnit report of memhunt check (or with --force)')
        .passThroughOptions(),
    )),
  );
  cmd.addHelpText(
    'after',
    helpProse(`
Exit codes:
  0     the command exited 0 and every limit holds
  ${EXIT.LIMIT_VIOLATED}     a limit was violated (each is printed: which, by how much, and the recording)
  N     the command itself failed with exit code N (128+S for signal S; 137 when --limit killed it)

Examples:
  memhunt check --max-peak 2GiB --max-growth 5MiB/min --no-leak -- python3 -m pytest tests/test_etl.py
  memhunt check --max-share-of-limit 80% -- ./job.sh          80% of the container's cgroup limit
  memhunt check --limit 2GiB --max-share-of-limit 75% -- ./job.sh
  memhunt check --no-leak --junit memory.xml -o job.mh -- node server-test.js`)
  );
  cmd.action(async (commandArgs: string[], flags: CheckFlags) => {
    refuseRecordingAsCommand(commandArgs, 'check', 'memhunt analyze with the same limits, e.g. memhunt analyze --no-leak');
    const killLimit = flags.limit === undefined ? null : parseSize(flags.limit, '--limit');
    const limits = resolveLimits(flags, killLimit);
    if (!hasLimits(limits)) {
      throw new InputError('check needs at least one limit: --max-peak, --max-growth, --no-leak or --max-share-of-limit (or use memhunt run)');
    }
    if (limits.maxShareOfLimit !== undefined && killLimit === null && ownCgroupLimitBytes() === null) {
      throw new InputError('--max-share-of-limit: there is no limit to compare with (no cgroup memory limit here); give one with --limit SIZE');
    }
    // Refused before the command runs, as the recording's own -o is.
    if (flags.junit) checkOutput(flags.junit, OUTPUT_KINDS.junit, flags.force === true);
    const outcome = await record('run', flags, (o) => runCommand({ ...o, command: commandArgs }), () => commandArgs);
    const file = outcome.result.outputPath;
    if (!outcome.recording) {
      exitWith(outcome.code !== EXIT.OK ? outcome.code : EXIT.FAILURE);
      return;
    }
    // record()'s analysis (null with --quiet) reads --limit from the recording, as this one does.
    const a = outcome.analysis ?? analyzeRecording(outcome.recording);
    const results = checkLimits(a, limits);
    const violated = results.filter((r) => r.status === 'violated');
    const targetFailed = outcome.code !== EXIT.OK;
    const lines: string[] = [];
    if (!flags.quiet || violated.length || targetFailed) {
      lines.push(`memhunt check: ${commandLabel(commandArgs, 70)}`);
      lines.push(`  verdict   ${verdictLineOf(a)}`);
      lines.push(formatLimitResults(results));
    }
    if (targetFailed) {
      lines.push(`memhunt check: the command failed (exit code ${outcome.code}); recording: ${file}`);
    } else if (violated.length) {
      lines.push(`memhunt check: ${violated.length} of ${results.length} limit${results.length === 1 ? '' : 's'} violated (${violated.map((r) => r.name.split(' ')[0]).join(', ')}); recording: ${file}`);
    }
    if (lines.length) err(lines.join('\n') + '\n');
    if (flags.junit) writeOutputFile(flags.junit, junitXml(a, results, { command: commandArgs, recordingPath: file, exitCode: outcome.code }), OUTPUT_KINDS.junit, flags.force === true);
    exitWith(targetFailed ? outcome.code : violated.length ? EXIT.LIMIT_VIOLATED : EXIT.OK);
  });
}

const XML_ENTITIES: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' };

function xmlEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    // XML 1.0 forbids control characters other than tab, newline and carriage return, even escaped.
    if (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) continue;
    out += XML_ENTITIES[ch] ?? ch;
  }
  return out;
}

/**
 * JUnit XML as Jenkins, GitLab and GitHub test reporters read it: one <testsuite> named after
 * the command, one <testcase> per limit plus one for the command's exit, <failure> for a
 * violation, <skipped> for a limit that could not be judged.
 */
export function junitXml(a: RecordingAnalysis, results: LimitResult[], run: { command: string[]; recordingPath: string; exitCode: number }): string {
  const seconds = (a.summary.durationMs / 1000).toFixed(3);
  const cases: string[] = [];
  const exitOk = run.exitCode === EXIT.OK;
  cases.push(
    `    <testcase classname="memhunt.check" name="command exits 0" time="${seconds}">` +
      (exitOk ? '' : `<failure type="exit" message="${xmlEscape(`the command failed with exit code ${run.exitCode}`)}"/>`) +
      '</testcase>',
  );
  for (const r of results) {
    const body = r.status === 'violated'
      ? `<failure type="memory-limit" message="${xmlEscape(r.message)}">${xmlEscape(`${r.message}\nrecording: ${run.recordingPath}`)}</failure>`
      : r.status === 'not judged' ? `<skipped message="${xmlEscape(r.message)}"/>` : '';
    cases.push(`    <testcase classname="memhunt.check" name="${xmlEscape(r.name)}" time="0">${body}</testcase>`);
  }
  const failures = results.filter((r) => r.status === 'violated').length + (exitOk ? 0 : 1);
  const skipped = results.filter((r) => r.status === 'not judged').length;
  const tests = results.length + 1;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="memhunt check" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds}">`,
    `  <testsuite name="${xmlEscape(`memhunt check: ${commandLabel(run.command, 200)}`)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds}">`,
    '    <properties>',
    `      <property name="recording" value="${xmlEscape(run.recordingPath)}"/>`,
    `      <property name="verdict" value="${xmlEscape(a.verdict)}"/>`,
    `      <property name="confidence" value="${a.confidence}"/>`,
    `      <property name="duration" value="${xmlEscape(formatDuration(a.summary.durationMs))}"/>`,
    '    </properties>',
    ...cases,
    `    <system-out>${xmlEscape([`verdict: ${verdictLineOf(a)}`, ...a.tree.evidence.map((e) => `- ${e}`)].join('\n'))}</system-out>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ];
  return out.join('\n');
}
