/** `memhunt list | peak | summary | clean | rm`: the recordings in this folder, as mprof users expect. */
import * as fs from 'node:fs';
import { Command } from 'commander';
import { hwmClearlyAbove, summarize } from '../analysis/summary';
import { InputError } from '../errors';
import { formatBytes, mprofMib } from '../units';
import { listRecordings, newestRecording, resolveRecordingArg } from './files';
import { loadRecording } from './load';
import { censusesBeforePeakText, err, formatSummary, notice, out, peakDuringAgentText } from './output';
import { shortCommand } from '../model/command';
import { helpProse } from './help';

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

export function registerFileCommands(program: Command): void {
  program
    .command('list')
    .summary('list the recordings in this folder (index, file, start, size)')
    .description(
      'List the recordings in the current folder, oldest first: memhunt .mh and mprof .dat files, whatever their name ' +
        '(the first bytes of each file are checked). The time is the start the default name holds ' +
        '(memhunt_YYYYMMDDhhmmss.mh); for a file named otherwise it is the file\'s last change, marked ~. ' +
        'The index works wherever a recording is named: memhunt peak 3, memhunt rm 0.',
    )
    .addHelpText('after', helpProse('\nExamples:\n  memhunt list\n  memhunt peak 0          the oldest (index from memhunt list)\n  memhunt rm 0 1'))
    .action(() => {
      const all = listRecordings('.');
      if (all.length === 0) {
        err('no recordings here (memhunt .mh, mprof .dat); make one with: memhunt run -- <command>\n');
        return;
      }
      for (const r of all) {
        // The start its default name says; a file named otherwise shows its last change, marked "~".
        const d = new Date(r.startMs);
        const when = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
        out(`${String(r.index).padStart(3)}  ${r.name.padEnd(34)} ${r.startFromName ? ' ' : '~'}${when}  ${formatBytes(r.size).padStart(9)}\n`);
      }
    });

  program
    .command('peak')
    .summary('print the peak memory of recordings (default: the newest)')
    .description(
      'Print the peak of each recording, one line each: "<file>\\t<peak> MiB", as mprof peak does: the ' +
        'highest sample of the tree total in the recording\'s --metric (RSS, PSS or USS). When the kernel ' +
        'saw a higher peak between samples (a process\'s high-water mark, VmHWM, with the RSS metric), a ' +
        'third tab-separated field says so: "pid 42 reached 130.400 MiB between samples (VmHWM)". ' +
        'With --processes, each process\'s sampled peak follows, with its kernel high-water mark where that is higher.\n\n' +
        "For an mprof .dat the number is mprof peak's (the largest MEM line: with --multiprocess alone, the " +
        'started process), with the tree total after a tab when MEM is not the tree; -p lists the children.',
    )
    .argument('[recordings...]', 'files or indexes from memhunt list')
    .option('-p, --processes', 'also list each process\'s peak (sampled; the kernel\'s VmHWM where higher)')
    .addHelpText('after', helpProse("\nExamples:\n  memhunt peak                       the newest recording here\n  memhunt peak run.mh -p             with each process's peak (sampled; the kernel's VmHWM where higher)\n  memhunt peak mprofile_20261126101500.dat another.mh"))
    .action(async (args: string[], flags: { processes?: boolean }) => {
      const files = args.length ? args.map((a) => resolveRecordingArg(a)) : [newestRecording('.')];
      for (const f of files) {
        if (await printMprofPeak(f, !!flags.processes)) continue;
        const rec = await loadRecording(f);
        const s = summarize(rec);
        for (const w of rec.warnings) notice(`${f}: ${w}`);
        // The second field stays mprof's (the sampled peak), so scripts that read it keep working.
        const mib = mprofMib;
        const h = s.hwmAbovePeak;
        const kernel = h ? `\tpid ${h.pid} reached ${mib(h.hwmBytes)} MiB between samples (VmHWM)` : '';
        // What memhunt's own work added to the peak, as the summary says it: further tab-separated fields.
        const ours = [peakDuringAgentText(s), censusesBeforePeakText(s)].filter((x): x is string => x !== null).map((x) => `\t${x}`).join('');
        out(`${f}\t${mib(s.peakBytes)} MiB${kernel}${ours}\n`);
        if (flags.processes) {
          const metric = s.metricText.replace(/^tree /, '');
          for (const p of s.processes) {
            const rss = s.metric !== 'rss' ? `  (RSS ${formatBytes(p.rssPeakBytes)})` : '';
            // The kernel's high-water mark only where it says more than the samples.
            let hwm = '';
            if (hwmClearlyAbove(p.hwmBytes, p.rssPeakBytes)) {
              hwm = p.hwmInRecording
                ? `  (kernel peak RSS ${formatBytes(p.hwmBytes)}, reached between samples)`
                : `  (kernel peak RSS ${formatBytes(p.hwmBytes)}, maybe before memhunt attached)`;
            }
            out(`  pid ${String(p.pid).padEnd(8)} ${formatBytes(p.peakBytes).padStart(10)} ${metric}${rss}${hwm}  ${shortCommand(p.command, 50)}\n`);
          }
        }
      }
    });

  program
    .command('summary')
    .summary('print the summary of a recording (peak, limit, end), as at the end of a run')
    .description(
      'Print the summary memhunt run prints when the command ends: the command, the peak and when it was reached, the ' +
        'limit and the share of it used, the container\'s figures, how the run ended, sections, agents and the verdict. ' +
        'A recording that is cut or damaged is summarized up to the damage, with a note saying what was lost.',
    )
    .argument('[recording]', 'file or index (default: the newest)')
    .addHelpText('after', helpProse('\nExamples:\n  memhunt summary\n  memhunt summary run.mh\n  memhunt summary 2                  index from memhunt list'))
    .action(async (arg: string | undefined) => {
      const f = arg ? resolveRecordingArg(arg) : newestRecording('.');
      const rec = await loadRecording(f);
      // What a cut or damaged file lost: one line each on stderr (as every reader says it), and in the summary's notes.
      for (const w of rec.warnings) notice(`${f}: ${w}`);
      // What a cut or damaged file lost is part of the summary (as analyze prints it), not only on stderr.
      // Loaded here, not at the top: `peak` (of an mprof .dat above all) needs no verdict.
      const { analyzeRecording, verdictLineOf } = await import('../analysis/analyze');
      const a = analyzeRecording(rec);
      out(
        formatSummary(a.summary, {
          command: rec.meta.command, recordingPath: f, recordingBytes: fs.statSync(f).size, events: rec.events, source: rec.meta.source,
          verdict: verdictLineOf(a), notes: rec.warnings,
        }) + '\n',
      );
    });

  program
    .command('clean')
    .summary('delete every memhunt_*.mh recording in this folder')
    .description(
      'Delete the recordings with memhunt\'s default names (memhunt_YYYYMMDDhhmmss.mh) in the current folder, as mprof ' +
        'clean does; with --mprof also mprofile_*.dat. Recordings named with -o are kept: remove them with memhunt rm.',
    )
    .option('--mprof', 'also delete memory_profiler\'s mprofile_*.dat files')
    .addHelpText('after', helpProse('\nExamples:\n  memhunt clean                      memhunt_*.mh only\n  memhunt clean --mprof              and mprofile_*.dat'))
    .action((flags: { mprof?: boolean }) => {
      const all = listRecordings('.', !!flags.mprof, false);
      for (const r of all) fs.rmSync(r.name);
      err(`removed ${all.length} recording${all.length === 1 ? '' : 's'}\n`);
    });

  program
    .command('rm')
    .summary('delete recordings by file name or index (from memhunt list)')
    .description(
      'Delete recordings given by file name or by index from memhunt list. Only recordings are deleted (memhunt .mh, ' +
        'mprof .dat): any other file is refused and nothing is removed.',
    )
    .argument('<recordings...>', 'files or indexes from memhunt list')
    .option('-n, --dry-run', 'only print what would be removed')
    .addHelpText('after', helpProse('\nExamples:\n  memhunt rm run.mh\n  memhunt rm 0 2                     indexes from memhunt list\n  memhunt rm -n 0                    show what would go'))
    .action((args: string[], flags: { dryRun?: boolean }) => {
      // Resolve every index first: removing one must not shift the others.
      const files = args.map((a) => resolveRecordingArg(a));
      for (const f of files) {
        if (!fs.existsSync(f)) throw new InputError(`${f}: no such file`);
        if (!looksLikeRecording(f)) throw new InputError(`${f}: not a recording; memhunt rm deletes only recordings (.mh, mprof .dat)`);
      }
      for (const f of files) {
        if (flags.dryRun) out(`would remove ${f}\n`);
        else fs.rmSync(f);
      }
    });
}

/**
 * `peak` of an mprof .dat: what `mprof peak` prints (the largest MEM line: under --multiprocess
 * without --include-children, the started process alone), with the tree total beside it after a
 * tab when MEM is not the tree, so scripts reading the second field get mprof's number. One
 * streaming pass that builds no series. False when the file is not an mprof .dat.
 */
async function printMprofPeak(f: string, processes: boolean): Promise<boolean> {
  if (!fs.existsSync(f) || !fs.statSync(f).isFile()) return false;
  const fd = fs.openSync(f, 'r');
  const head = Buffer.alloc(4096);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  const mprof = await import('../formats/mprof-dat');
  if (!mprof.isMprofDat(head.toString('utf8', 0, n))) return false;
  const p = mprof.mprofPeakOfFile(f);
  for (const w of p.warnings) notice(`${f}: ${w}`);
  const mib = (bytes: number) => `${mprofMib(bytes)} MiB`;
  const metric = p.metric.toUpperCase();
  let beside = '';
  if (p.mem === 'parent') beside = `\t(MEM: the started process alone, ${metric}; tree total with the CHLD lines ${mib(p.treePeakBytes)})`;
  else if (p.mem === 'tree') beside = `\t(MEM: the tree total, ${metric})`;
  out(`${f}\t${mib(p.memPeakBytes)}${beside}\n`);
  if (processes) for (const c of p.children) out(`  Child ${String(c.pid).padEnd(8)} ${mib(c.peakBytes).padStart(14)}  (RSS)\n`);
  return true;
}

/** memhunt recordings start with gzip's magic; mprof's .dat with one of its keywords. */
function looksLikeRecording(f: string): boolean {
  const fd = fs.openSync(f, 'r');
  const head = Buffer.alloc(16);
  const n = fs.readSync(fd, head, 0, 16, 0);
  fs.closeSync(fd);
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
  return /^(CMDLINE|MEM|FUNC|CHLD) /.test(head.toString('latin1', 0, n));
}
