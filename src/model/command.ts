/**
 * A process's command line for tables, legends and captions, in one place (the chart, the summary
 * and the fleet used to shorten it each their own way: a kernel thread "[kworker/0:1]" read "0:1]"
 * in one of them, and control characters reached an SVG in another).
 */
import { clipLine } from '../safe-text';

/** The full command line, quoted where needed (a chart's default title). */
export function commandLine(argv: readonly string[]): string {
  return argv.map((a) => (/[\s'"]/.test(a) || a === '' ? JSON.stringify(a) : a)).join(' ');
}

/**
 * "python3 train.py --epochs 3": the program without its directory (/root/.pyenv/versions/3.11.7/bin/python3
 * eats the width and rarely helps; a kernel thread's "[name/0]" is kept whole), arguments quoted
 * where needed, control characters replaced and cut to `max` characters with "…". mprof's children
 * have no command line in a .dat: "(no command line)".
 */
export function shortCommand(argv: readonly string[], max = 60): string {
  if (argv.length === 0) return '(no command line)';
  const [prog, ...args] = argv;
  const base = /^\[.*\]$/.test(prog!) ? prog! : prog!.slice(prog!.lastIndexOf('/') + 1) || prog!;
  return clipLine(commandLine([base, ...args]), max);
}
