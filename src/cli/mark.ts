/**
 * `memhunt mark [--begin|--end] <label...>`: a marker from a shell script, that never blocks.
 *
 * `echo "mark x" > "$MEMHUNT_MARKERS"` blocks in open() for ever once the run is gone (a FIFO
 * without a reader). This opens the FIFO with O_NONBLOCK: no reader fails at once (ENXIO), and
 * one write of a line up to PIPE_BUF is atomic and never blocks while memhunt reads.
 */
import * as fs from 'node:fs';
import { Command } from 'commander';
import { InputError } from '../errors';
import { notice } from './output';
import { helpProse } from './help';

/** Writes one marker line to the FIFO at fifo; returns why it could not, or null. */
export function writeMarker(fifo: string, line: string): string | null {
  let fd: number;
  try {
    const st = fs.statSync(fifo);
    if (!st.isFIFO()) return `${fifo} is not the marker FIFO of a memhunt run`;
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') return 'the memhunt run that set MEMHUNT_MARKERS has ended';
    return `cannot open ${fifo} (${code ?? e})`;
  }
  try {
    fs.writeSync(fd, line);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EAGAIN' ? 'the marker channel is full (memhunt is not keeping up); marker dropped' : `cannot write ${fifo} (${code ?? e})`;
  } finally {
    fs.closeSync(fd);
  }
}

export function registerMarkCommand(program: Command): void {
  program
    .command('mark')
    .summary('from a shell script under memhunt run: mark a point or begin/end a section (never blocks)')
    .description(
      'Write a marker to the run this shell runs under ($MEMHUNT_MARKERS): a point in time, or the ' +
        'begin or end of a section. Never blocks: when the run has ended, or outside memhunt run, it ' +
        'does nothing and exits 0 (a note on stderr when the run has ended), so scripts behave the ' +
        'same with and without memhunt. Labels longer than 200 characters are cut.',
    )
    .argument('<label...>', 'the marker\'s label (words are joined by spaces)')
    .option('--begin', 'begin a section with this label')
    .option('--end', 'end the section with this label')
    .addHelpText('after', helpProse('\nExamples (inside: memhunt run -- ./job.sh):\n  memhunt mark checkpoint\n  memhunt mark --begin load data && ./load.sh && memhunt mark --end load data'))
    .action((words: string[], flags: { begin?: boolean; end?: boolean }) => {
      if (flags.begin && flags.end) throw new InputError('mark: give --begin or --end, not both');
      const label = words.join(' ').replace(/[\r\n]+/g, ' ').trim();
      if (!label) throw new InputError('mark: the label is empty');
      const fifo = process.env.MEMHUNT_MARKERS;
      if (!fifo) return; // not under memhunt run: nothing to mark
      const verb = flags.begin ? 'begin' : flags.end ? 'end' : 'mark';
      // The parent's pid: the shell script that called us is the process the marker is about.
      const why = writeMarker(fifo, `${process.ppid} ${verb} ${label}\n`.slice(0, 4096));
      if (why) notice(`mark: ${why}`);
    });
}
