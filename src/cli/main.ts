#!/usr/bin/env node
/**
 * memhunt's command line. The only place that parses arguments, prints for people and calls
 * process.exit (CONVENTIONS 10). Each command's options are typed data (buildProgram) so tests
 * can parse without starting a process.
 */
import { Command, CommanderError } from 'commander';
import { CommandError, ExitStatus } from '../errors';
import { safeLine, safeText } from '../safe-text';
import { MEMHUNT_VERSION } from '../version';
import { checkAddressSpace } from './address-space';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { HELP_CONFIG, helpProse } from './help';

type Registrar = (program: Command) => void;

/**
 * Command groups, in the order --help lists them, each loaded only when needed: `memhunt run`
 * then carries neither the renderers nor the analysis in its heap. (With every module loaded, an
 * idle `run` at 100 ms spent ~0.3% of a core more, in V8's collector: BENCHMARKS.md §2.)
 */
const COMMAND_GROUPS: Array<[names: string[], load: () => Promise<Registrar>]> = [
  [['run', 'attach'], async () => (await import('./run')).registerRunCommands],
  [['list', 'peak', 'summary', 'clean', 'rm'], async () => (await import('./file-commands')).registerFileCommands],
  [['export'], async () => (await import('./export')).registerExportCommand],
  [['flame'], async () => (await import('./flame')).registerFlameCommand],
  [['build-native'], async () => (await import('./build-native')).registerBuildNativeCommand],
  [['analyze'], async () => (await import('./analyze')).registerAnalyzeCommand],
  [['check'], async () => (await import('./check')).registerCheckCommand],
  [['diff'], async () => (await import('./diff')).registerDiffCommand],
  [['plot'], async () => (await import('./plot')).registerPlotCommand],
  [['report'], async () => (await import('./report')).registerReportCommand],
  [['scale'], async () => (await import('./scale')).registerScaleCommand],
  [['fleet'], async () => (await import('./fleet')).registerFleetCommand],
  [['snapshot', 'heap', 'refs', 'python-path'], async () => (await import('./agent-commands')).registerAgentCommands],
  [['mark'], async () => (await import('./mark')).registerMarkCommand],
];

/**
 * The program with the command group `argv[0]` names, or with every command (for --help, an
 * unknown command's suggestions, or when `command` is undefined).
 */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command('memhunt');
  program
    .description(
      'Record, report and hunt down the memory of a command and its whole process tree, with the ' +
        'numbers a container is killed by (cgroup usage and limit).',
    )
    .version(MEMHUNT_VERSION, '-V, --version')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    // Every subcommand copies this: descriptions joined into paragraphs, one style for defaults.
    .configureHelp(HELP_CONFIG)
    .addHelpText(
      'after',
      helpProse(`
Examples:
  memhunt run -- python3 train.py --epochs 3     record it and every child process
  memhunt run --interval 10ms -o run.mh -- ./job.sh
  memhunt run --limit 2GiB -- python3 etl.py      rehearse a 2 GiB container limit
  memhunt attach 4242                             record a running process tree
  memhunt peak                                    peak of the newest recording
  memhunt export run.mh --format mprof            for mprof plot and friends
  memhunt plot run.mh -o memory.png              chart: .png, .svg, interactive .html, or --term
  memhunt report run.mh -o report.html            the whole diagnosis on one offline page
  memhunt run --heap-every 30s -o run.mh -- python3 train.py && memhunt heap run.mh
                                                  what grows inside the Python processes
  memhunt refs 4242 --type DataFrame -o refs.svg  who keeps them alive (a running process)
  memhunt analyze run.mh                          leak, stable or spike? with the evidence
  memhunt check --no-leak --max-peak 2GiB -- python3 -m pytest    a CI gate: exit 3 on a violation
  memhunt scale --sizes 1%,2%,4%,8% --full 100% -- python3 etl.py --sample {}
                                                  fit how the peak grows, project the full job

${EXIT_CODES_HELP}

Files: recordings are memhunt_YYYYMMDDhhmmss.mh in the current folder unless -o says otherwise;
memory_profiler's mprofile_*.dat files are read wherever a recording is accepted.`),
    );
  const group = COMMAND_GROUPS.find(([names]) => command !== undefined && names.includes(command));
  for (const [, load] of group ? [group] : COMMAND_GROUPS) (await load())(program);
  return program;
}

/**
 * The one place that turns what a command threw into an exit code and a line on stderr: a
 * CommandError carries its code (InputError 2, ExitStatus the target's code, …); a Node system
 * error (EACCES, ENOSPC, …) is a failure (1) named by its file; anything else is a bug (1, with
 * the stack).
 */
export function errorLine(err: unknown): { code: number; message: string | null } {
  if (err instanceof ExitStatus) return { code: err.exitCode, message: null };
  if (err instanceof CommandError) return { code: err.exitCode, message: err.message };
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && e.syscall) {
    return { code: EXIT.FAILURE, message: `${e.path ? `${e.path}: ` : ''}${e.syscall} failed: ${e.code}${e.message ? ` (${e.message.replace(/^[A-Z]+: /, '').replace(/,.*$/, '')})` : ''}` };
  }
  return { code: EXIT.FAILURE, message: `internal error: ${e?.stack ?? String(err)}` };
}

export async function main(argv: string[]): Promise<number> {
  if (process.platform !== 'linux') {
    process.stderr.write(`memhunt: ${process.platform} is not supported yet; memhunt reads Linux /proc and cgroup files\n`);
    return EXIT.USAGE;
  }
  // Under `ulimit -v` Node.js aborts with a native stack trace, in the middle of a run or a read
  // (address-space.ts): every command refuses at the start instead (help and version still print).
  if (argv.length > 0 && !argv.some((a) => a === '-h' || a === '--help' || a === '-V' || a === '--version')) {
    try {
      checkAddressSpace();
    } catch (err) {
      const { code, message } = errorLine(err);
      process.stderr.write(`memhunt: ${safeLine(message ?? '')}\n`);
      return code;
    }
  }
  const program = await buildProgram(argv[0]);
  // Commander shares one output configuration between a program and its subcommands, so the
  // command an error belongs to is taken from argv: the first word, when it names a command.
  const sub = program.commands.find((c) => c.name() === argv[0]);
  const failedCommand = sub ? ` ${sub.name()}` : '';
  const applyExit = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: () => {} });
    for (const sub of cmd.commands) applyExit(sub);
  };
  applyExit(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
      const msg = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      process.stderr.write(`memhunt${failedCommand}: ${safeLine(msg)} (see memhunt${failedCommand} --help)\n`);
      return EXIT.USAGE;
    }
    const { code, message } = errorLine(err);
    if (message !== null) process.stderr.write(`memhunt: ${message.startsWith('internal error') ? safeText(message) : safeLine(message)}\n`);
    return code;
  }
  return EXIT.OK;
}

/**
 * Resolves once everything written to stream so far has reached the kernel: a pipe to a slow
 * reader (`memhunt export -f csv -o - | (sleep 1; wc -c)`) holds what did not fit in its 64 KiB
 * buffer in Node's queue, and process.exit() would drop it. An empty write's callback runs after
 * the writes queued before it; a broken stream (EPIPE) calls it with the error.
 */
export function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableLength === 0) {
      resolve();
      return;
    }
    stream.write('', () => resolve());
  });
}

async function exitWhenDrained(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  // Exit promptly even if a child process or stray handle is still referenced.
  process.exit(code);
}

if (require.main === module) {
  // `memhunt list | head`: a closed pipe ends the output quietly, as it does for other Unix
  // tools: no stack trace, no "write EPIPE" line, nothing more is written.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(EXIT.OK);
      process.exit(EXIT.FAILURE);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => exitWhenDrained(code),
    (err) => {
      process.stderr.write(`memhunt: internal error: ${(err as Error)?.stack ?? err}\n`);
      return exitWhenDrained(EXIT.FAILURE);
    },
  );
}
