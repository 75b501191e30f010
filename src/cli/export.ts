/** `memhunt export`: a recording as mprof .dat, CSV or JSON. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { isCsv, writeCsv } from '../formats/csv';
import { isJson, writeJson } from '../formats/json';
import { isMprofDat, writeMprofDat } from '../formats/mprof-dat';
import { InputError } from '../errors';
import { isPprof, writePprof } from '../formats/pprof';
import { allocView, foldedStacks } from '../model/allocations';
import { recordingAllocations } from './flame';
import { sameFile, writeOutputFile, type OutputKind } from '../fsutil';
import type { MemoryRecording } from '../model/recording';
import { newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { err, notice } from './output';
import { helpProse } from './help';

const WRITERS: Record<string, { ext: string; write: (r: MemoryRecording, file: string) => string | Buffer; kind: OutputKind }> = {
  mprof: { ext: '.dat', write: writeMprofDat, kind: { what: 'an mprof .dat file', isOurs: (h) => isMprofDat(h.toString('utf8')) } },
  csv: { ext: '.csv', write: writeCsv, kind: { what: 'a memhunt CSV export', isOurs: (h) => isCsv(h.toString('utf8')) } },
  json: { ext: '.json', write: writeJson, kind: { what: 'a memhunt JSON export', isOurs: (h) => isJson(h.toString('utf8')) } },
  // Sampled allocations (run --allocations): inuse = live at the end of the recording.
  pprof: {
    ext: '.pb.gz',
    write: (r, file) => {
      const procs = recordingAllocations(r, file);
      return writePprof(procs, { startWallMs: r.meta.startWallMs, durationMs: r.end?.tMs ?? 0, meanBytes: procs[0]!.meanBytes });
    },
    kind: { what: 'a pprof profile', isOurs: isPprof },
  },
  folded: {
    ext: '.folded',
    write: (r, file) => foldedStacks(allocView(recordingAllocations(r, file), { view: 'allocated' }).stacks),
    kind: { what: 'folded stacks', isOurs: (h) => /^[^\n]* \d+\n/.test(h.toString('utf8')) },
  },
};

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .summary('write a recording as mprof .dat, CSV or JSON')
    .description(
      'Convert a recording (memhunt .mh or mprof .dat) to another format:\n' +
        '  mprof  memory_profiler\'s .dat (MEM per sample, CHLD per child, FUNC per section): mprof plot reads it\n' +
        '  csv    one row per sample: time, tree total, one column per process, cgroup columns\n' +
        '  json   the whole recording as one JSON document\n' +
        '  pprof  sampled allocations (run --allocations) as a gzipped profile.proto: alloc_objects, alloc_space,\n' +
        '         inuse_objects, inuse_space (live at the end), for go tool pprof, speedscope, Pyroscope\n' +
        '  folded sampled allocations as folded stacks (frame;frame;frame bytes, every sample) for flamegraph.pl',
    )
    .argument('[recording]', 'file or index from memhunt list (default: the newest)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(Object.keys(WRITERS)).makeOptionMandatory())
    .option('-o, --output <file>', 'output file ("-" for stdout; default: the recording\'s name with the format\'s extension)')
    .option('--force', 'replace the output even when it is not an earlier export of this format')
    .addHelpText(
      'after',
      helpProse('\nAn existing output is replaced only when it is an earlier export of the same format (or empty);\n' +
        'anything else is refused unless --force is given. The file is written whole or not at all.\n' +
        '\nExamples:\n  memhunt export run.mh --format mprof && mprof plot run.dat\n  memhunt export run.mh --format pprof -o heap.pb.gz && go tool pprof -top heap.pb.gz\n  memhunt export --format csv -o - | head')
    )
    .action(async (arg: string | undefined, flags: { format: string; output?: string; force?: boolean }) => {
      const file = arg ? resolveRecordingArg(arg) : newestRecording('.');
      const rec = await loadRecording(file);
      for (const w of rec.warnings) notice(`${file}: ${w}`);
      const writer = WRITERS[flags.format]!;
      const text = writer.write(rec, file);
      if (flags.output === '-') {
        process.stdout.write(text);
        return;
      }
      const out = flags.output ?? path.join(path.dirname(file), path.basename(file, path.extname(file)) + writer.ext);
      if (sameFile(out, file)) {
        throw new InputError(`output ${out} is the input itself; choose another -o`);
      }
      writeOutputFile(out, text, writer.kind, flags.force === true);
      err(`wrote ${out}\n`);
    });
}
