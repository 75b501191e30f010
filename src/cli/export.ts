/** `memhunt export`: a recording as mprof .dat, CSV or JSON. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { writeCsv } from '../formats/csv';
import { writeJson } from '../formats/json';
import { writeMprofDat } from '../formats/mprof-dat';
import { InputError } from '../errors';
import { writeFileAtomic } from '../fsutil';
import type { MemoryRecording } from '../model/recording';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';

const WRITERS: Record<string, { ext: string; write: (r: MemoryRecording) => string }> = {
  mprof: { ext: '.dat', write: writeMprofDat },
  csv: { ext: '.csv', write: writeCsv },
  json: { ext: '.json', write: writeJson },
};

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .summary('write a recording as mprof .dat, CSV or JSON')
    .description(
      'Convert a recording (memhunt .mh or mprof .dat) to another format:\n' +
        '  mprof  memory_profiler\'s .dat (MEM per sample, CHLD per child, FUNC per section): mprof plot reads it\n' +
        '  csv    one row per sample: time, tree total, one column per process, cgroup columns\n' +
        '  json   the whole recording as one JSON document',
    )
    .argument('[recording]', 'file or index from memhunt list (default: the newest)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(Object.keys(WRITERS)).makeOptionMandatory())
    .option('-o, --output <file>', 'output file ("-" for stdout; default: the recording\'s name with the format\'s extension)')
    .addHelpText('after', '\nExamples:\n  memhunt export run.mh --format mprof && mprof plot run.dat\n  memhunt export --format csv -o - | head')
    .action(async (arg: string | undefined, flags: { format: string; output?: string }) => {
      const file = arg ? resolveRecordingArg(arg) : newestRecording('.');
      const rec = await loadRecording(file);
      for (const w of rec.warnings) process.stderr.write(`memhunt: ${file}: ${w}\n`);
      const writer = WRITERS[flags.format]!;
      const text = writer.write(rec);
      if (flags.output === '-') {
        process.stdout.write(text);
        return;
      }
      const out = flags.output ?? path.join(path.dirname(file), path.basename(file, path.extname(file)) + writer.ext);
      if (path.resolve(out) === path.resolve(file)) {
        throw new InputError(`output ${out} is the input itself; choose another -o`);
      }
      writeFileAtomic(out, text);
      process.stderr.write(`wrote ${out}\n`);
    });
}
