import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CorruptRecordingError } from '../errors';
import { buildChart } from '../render/chart';
import { envelope } from '../render/downsample';
import { runCli } from '../test-support';
import type { MemoryRecording, RecordingEvent } from '../model/recording';
import { detectFormat } from './index';
import { mprofMib } from '../units';
import {
  MPROF_ROOT_PID,
  inferMemIncludesChildren,
  isMprofDat,
  joinMprofCmdline,
  mprofPeakOfFile,
  readMprofDat,
  readMprofDatFile,
  splitMprofCmdline,
  writeMprofDat,
} from './mprof-dat';
import { assertSeriesClose, fixturePath, maxOf, readFixture, sampleRecording } from './testkit';

const MIB = 2 ** 20;
const FIXTURES = [
  'plain',
  'include-children',
  'multiprocess',
  'include-children-multiprocess',
  'multiprocess-small-children',
  'include-children-multiprocess-small-children',
  'profiled',
];

/** The fixture's lines, parsed here with nothing but split(), to check the reader against. */
function rawLines(name: string): { mem: { mib: number; s: number }[]; chld: { pid: number; mib: number; after: number }[]; text: string } {
  const text = readFixture('mprof', '0.61', `${name}.dat`);
  const mem: { mib: number; s: number }[] = [];
  const chld: { pid: number; mib: number; after: number }[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f[0] === 'MEM') mem.push({ mib: Number(f[1]), s: Number(f[2]) });
    if (f[0] === 'CHLD' && f[1] !== '0') chld.push({ pid: Number(f[1]), mib: Number(f[2]), after: mem.length - 1 });
  }
  return { mem, chld, text };
}

function read(name: string): MemoryRecording {
  const rec = readMprofDat(readFixture('mprof', '0.61', `${name}.dat`));
  assert.ok(rec, `${name}.dat is read as mprof`);
  return rec;
}

function sections(rec: MemoryRecording): Extract<RecordingEvent, { kind: 'section' }>[] {
  return rec.events.filter((e): e is Extract<RecordingEvent, { kind: 'section' }> => e.kind === 'section');
}

describe('mprof .dat: real files from memory_profiler 0.61', () => {
  it('plain run: MEM lines become the total and the root process', () => {
    const raw = rawLines('plain');
    const rec = read('plain');
    assert.equal(rec.meta.source, 'mprof');
    assert.equal(rec.meta.mode, 'import');
    assert.equal(rec.meta.metric, 'rss');
    assert.deepEqual(rec.meta.command, ['/usr/bin/python3', 'plain.py']);
    assert.ok(Math.abs(rec.meta.startWallMs - raw.mem[0]!.s * 1000) < 1e-3);
    assert.equal(rec.meta.rootPid, MPROF_ROOT_PID);
    assert.equal(rec.total.tMs.length, raw.mem.length);
    assert.equal(rec.total.tMs[0], 0);
    // "….2073" then "….3078": 100.5 ms exactly, not the 100.49993… that subtracting the doubles gives.
    assert.equal(rec.total.tMs[1], 100.5);
    assert.equal(maxOf(rec.total), Math.max(...raw.mem.map((m) => m.mib)) * MIB);
    assert.equal(rec.processes.length, 1);
    assert.equal(rec.processes[0]!.pid, 0);
    assertSeriesClose(rec.processes[0]!.rss, rec.total, 'root rss');
    assert.equal(rec.processes[0]!.anon.tMs.length, 0);
    assert.ok(Number.isNaN(rec.processes[0]!.hwmBytes));
    assert.deepEqual(rec.warnings, []);
    assert.equal(rec.truncated, false);
    assert.equal(rec.end, null);
  });

  it('--include-children: MEM is already the sum, read as it is', () => {
    const raw = rawLines('include-children');
    const rec = read('include-children');
    assert.equal(raw.chld.length, 0);
    assert.equal(rec.total.tMs.length, raw.mem.length);
    assert.equal(maxOf(rec.total), Math.max(...raw.mem.map((m) => m.mib)) * MIB);
    assert.equal(rec.processes.length, 1);
  });

  it('--multiprocess: MEM is the parent alone, the total adds the CHLD lines', () => {
    const raw = rawLines('multiprocess');
    const rec = read('multiprocess');
    const pids = [...new Set(raw.chld.map((c) => c.pid))];
    assert.equal(pids.length, 2, 'the workload starts two children');
    assert.deepEqual(rec.processes.map((p) => p.pid), [0, ...pids]);
    assert.match(rec.warnings.join('\n'), /parent alone/);
    // The parent's line is MEM; its peak is what `mprof peak` prints for this file.
    assert.equal(maxOf(rec.processes[0]!.rss), Math.max(...raw.mem.map((m) => m.mib)) * MIB);
    const expected = raw.mem.map((m, i) => m.mib + raw.chld.filter((c) => c.after === i).reduce((a, c) => a + c.mib, 0));
    expected.forEach((mib, i) => assert.ok(Math.abs(rec.total.values[i]! - mib * MIB) < 1e-3, `total[${i}]`));
    assert.ok(maxOf(rec.total) > maxOf(rec.processes[0]!.rss) + 100 * MIB, 'the children are in the tree total');
    for (const [k, pid] of pids.entries()) {
      const p = rec.processes[k + 1]!;
      const lines = raw.chld.filter((c) => c.pid === pid);
      assert.equal(p.rss.tMs.length, lines.length);
      assert.equal(maxOf(p.rss), Math.max(...lines.map((c) => c.mib)) * MIB);
      assert.equal(p.ppid, MPROF_ROOT_PID);
      // Both children exit before the parent: seen gone at the MEM line after their last CHLD line.
      const last = lines[lines.length - 1]!.after;
      assert.equal(p.exitMs, rec.total.tMs[last + 1]);
      assert.ok(p.firstSeenMs > 0 && p.firstSeenMs < p.exitMs!);
    }
    // The first child (40 MiB) holds more than the second (24 MiB).
    assert.ok(maxOf(rec.processes[1]!.rss) - maxOf(rec.processes[2]!.rss) > 12 * MIB);
  });

  it('--include-children --multiprocess: MEM is the sum, the parent is MEM minus the CHLD lines', () => {
    const raw = rawLines('include-children-multiprocess');
    const rec = read('include-children-multiprocess');
    assert.equal(rec.processes.length, 3);
    assert.match(rec.warnings.join('\n'), /includes the children/);
    assert.equal(maxOf(rec.total), Math.max(...raw.mem.map((m) => m.mib)) * MIB);
    raw.mem.forEach((m, i) => {
      const children = raw.chld.filter((c) => c.after === i).reduce((a, c) => a + c.mib, 0);
      assert.ok(Math.abs(rec.processes[0]!.rss.values[i]! - (m.mib - children) * MIB) < 1e-3, `parent[${i}]`);
    });
    // The parent of children.py holds 16 + 8 MiB over the interpreter: its own line stays in 20..60 MiB
    // once started, where MEM reaches 150 MiB.
    const parentMax = maxOf(rec.processes[0]!.rss);
    assert.ok(parentMax > 20 * MIB && parentMax < 60 * MIB, `parent peak ${parentMax / MIB} MiB`);
  });

  it('a parent bigger than its children: the mode is told from how MEM moves', () => {
    for (const [name, includes] of [['multiprocess-small-children', false], ['include-children-multiprocess-small-children', true]] as const) {
      const raw = rawLines(name);
      const rec = read(name);
      const sums = raw.mem.map((_, i) => raw.chld.filter((c) => c.after === i).reduce((a, c) => a + c.mib, 0));
      assert.ok(raw.mem.every((m, i) => m.mib >= sums[i]!), `${name}: MEM never below the CHLD sum`);
      assert.match(rec.warnings.join('\n'), includes ? /MEM moves with the CHLD lines/ : /MEM does not move/, name);
      assert.equal(rec.processes.length, 3, name);
      const totalPeakMib = Math.max(...raw.mem.map((m, i) => (includes ? m.mib : m.mib + sums[i]!)));
      assert.ok(Math.abs(maxOf(rec.total) - totalPeakMib * MIB) < 1e-3, name);
      // The parent holds 96 MiB of its own in both runs.
      const parentMib = maxOf(rec.processes[0]!.rss) / MIB;
      assert.ok(parentMib > 96 && parentMib < 130, `${name}: parent ${parentMib} MiB`);
    }
  });

  it('@profile and profile.timestamp: FUNC lines become sections, even before CMDLINE', () => {
    const raw = rawLines('profiled');
    assert.ok(raw.text.indexOf('FUNC') < raw.text.indexOf('CMDLINE'), 'the fixture has FUNC lines first');
    const rec = read('profiled');
    assert.deepEqual(rec.meta.command, ['/usr/bin/python3', 'profiled.py']);
    const s = sections(rec);
    assert.deepEqual(
      s.map((e) => [e.label, e.level]),
      [['__main__.outer', 0], ['__main__.inner', 1], ['.x', 0], ['.load data', 0], ['__main__.inner', 0]],
    );
    for (let i = 1; i < s.length; i++) assert.ok(s[i]!.startMs >= s[i - 1]!.startMs, 'sorted by start');
    const outer = s[0]!;
    const inner = s[1]!;
    assert.ok(inner.startMs >= outer.startMs && inner.endMs! <= outer.endMs!, 'inner runs inside outer');
    const funcLine = raw.text.split('\n').find((l) => l.startsWith('FUNC .x '))!.split(' ');
    const x = s[2]!;
    assert.equal(x.startBytes, Number(funcLine[2]) * MIB);
    assert.equal(x.endBytes, Number(funcLine[4]) * MIB);
    assert.ok(Math.abs(x.startMs - (Number(funcLine[3]) * 1000 - rec.meta.startWallMs)) < 1e-3);
    assert.equal(x.pid, MPROF_ROOT_PID);
    // The block allocates 12 MiB.
    assert.ok(Math.abs(x.endBytes! - x.startBytes! - 12 * MIB) < 0.5 * MIB);
  });
});

describe('mprof .dat: broken and unusual files', () => {
  it('a file cut mid-line keeps the complete lines, warns, and says truncated', () => {
    const text = readFixture('invalid', 'cut.dat');
    const rec = readMprofDat(text)!;
    const complete = text.split('\n').filter((l) => l.startsWith('MEM')).length - 1;
    assert.equal(rec.total.tMs.length, complete);
    assert.equal(rec.truncated, true);
    assert.match(rec.warnings[0]!, /middle of a line/);
    // The cut line ("MEM 41.750000 1795") would be a sample 1.8e9 s before the others.
    assert.ok(rec.total.tMs[0] === 0 && rec.meta.startWallMs > 1e12);
  });

  it('a non-numeric MEM is CorruptRecordingError naming the line', () => {
    assert.throws(() => readMprofDat(readFixture('invalid', 'non-numeric-mem.dat')), (e: Error) => {
      assert.ok(e instanceof CorruptRecordingError);
      assert.match(e.message, /line 4: MiB "abc"/);
      return true;
    });
  });

  it('empty and binary files are not mprof files', () => {
    for (const name of ['empty.dat', 'garbage.bin']) {
      const text = readFixture('invalid', name);
      assert.equal(isMprofDat(text), false, name);
      assert.equal(readMprofDat(text), null, name);
    }
  });

  it('refuses a file with no MEM line, and negative sizes', () => {
    assert.throws(() => readMprofDat('CMDLINE python3 x.py\n'), CorruptRecordingError);
    assert.throws(() => readMprofDat('FUNC .x 1.0 10.0 2.0 11.0 0\n'), /without any MEM line/);
    assert.throws(() => readMprofDat('MEM -1.000000 10.0000\n'), CorruptRecordingError);
    assert.throws(() => readMprofDat('MEM 1.000000\n'), /line 1: MEM needs/);
    assert.throws(() => readMprofDat('MEM 1.0 2.0\nCHLD x 1.0 2.0\n'), /line 2: pid "x"/);
    assert.throws(() => readMprofDat('MEM 1.0 2.0\nFUNC f 1.0 2.0\n'), /line 2: FUNC needs/);
  });

  it('FUNC: 5- and 6-field forms, names with spaces and digits, parsed from the right', () => {
    const rec = readMprofDat(
      [
        'MEM 1.000000 100.0000',
        'FUNC old.style 1.5000 100.1000 2.5000 100.2000',
        'FUNC .two words 3 1.5000 100.3000 2.5000 100.4000 2',
        'FUNC .ends in 7 1.5000 100.5000 2.5000 100.6000',
        'MEM 2.000000 101.0000',
        '',
      ].join('\n'),
    )!;
    assert.deepEqual(
      sections(rec).map((e) => [e.label, e.level, Math.round(e.startMs), Math.round(e.endMs!)]),
      [['old.style', 0, 100, 200], ['.two words 3', 2, 300, 400], ['.ends in 7', 0, 500, 600]],
    );
  });

  it('skips CHLD 0 (a child vanished mid-read) and unknown keywords, with warnings', () => {
    const rec = readMprofDat(
      ['CMDLINE x', 'MEM 10.0 1.0', 'CHLD 7 5.0 1.001', 'CHLD 0 0.000000 1.001', 'MEM 10.0 1.1', 'CHLD 7 5.0 1.101', 'NEWTHING 1 2', ''].join('\n'),
    )!;
    assert.deepEqual(rec.processes.map((p) => p.pid), [0, 7]);
    assert.equal(rec.processes[1]!.rss.tMs.length, 2);
    assert.match(rec.warnings.join('\n'), /"CHLD 0" line/);
    assert.match(rec.warnings.join('\n'), /unknown keywords.*NEWTHING \(1\)/);
  });

  it('timestamps that go back (wall clock set back) are placed by time, with a warning', () => {
    const rec = readMprofDat(['MEM 1.0 100.0', 'MEM 2.0 100.1', 'MEM 3.0 99.95', 'MEM 4.0 100.2', ''].join('\n'))!;
    assert.deepEqual(Array.from(rec.total.values).map((b) => b / MIB), [3, 1, 2, 4]);
    assert.equal(rec.total.tMs[0], 0);
    assert.equal(rec.meta.startWallMs, 99950);
    assert.match(rec.warnings.join('\n'), /earlier than the line before/);
  });

  it('appended runs (mprof -o appends): read as one, first command, warned', () => {
    const rec = readMprofDat(['CMDLINE a.py', 'MEM 1.0 10.0', 'CMDLINE b.py', 'MEM 2.0 20.0', ''].join('\r\n'))!;
    assert.deepEqual(rec.meta.command, ['a.py']);
    assert.equal(rec.total.tMs.length, 2);
    assert.match(rec.warnings.join('\n'), /2 runs/);
  });

  it('CMDLINE: split and join follow mprof get_cmd_line quoting', () => {
    const argv = ['/usr/bin/python3', 'my script.py', '--name', "it's", 'tab\there', "'literal'"];
    const line = joinMprofCmdline(argv);
    assert.equal(line, "/usr/bin/python3 'my script.py' --name it's 'tab\there' 'literal'");
    assert.deepEqual(splitMprofCmdline(line), argv);
    assert.deepEqual(splitMprofCmdline("python3 'a b' c 'd e'"), ['python3', 'a b', 'c', 'd e']);
  });
});

describe('mprof .dat: which mode wrote MEM (inferMemIncludesChildren)', () => {
  it('MEM that moves with the children includes them, in any metric', () => {
    // -C -M: each child's growth is in MEM too (as RSS, PSS or USS: a child's new pages are its own).
    assert.equal(inferMemIncludesChildren({ stepsIfIncluded: 2, stepsIfAlone: 40, childMovement: 40 }).includes, true);
  });
  it('MEM that does not move with them is the parent alone, even when it stays above them', () => {
    assert.equal(inferMemIncludesChildren({ stepsIfIncluded: 40, stepsIfAlone: 0, childMovement: 40 }).includes, false);
  });
  it('children that never moved decide nothing: -M, and the reason says so', () => {
    const r = inferMemIncludesChildren({ stepsIfIncluded: 0, stepsIfAlone: 0, childMovement: 0 });
    assert.equal(r.includes, false);
    assert.match(r.reason, /never moved/);
  });
});

/**
 * The backend x flag matrix (fixtures/mprof/0.61/matrix/make-matrix.sh): files made by the real
 * mprof, and what the real `mprof peak` printed for each (expectations.json, recorded with them).
 */
interface MatrixExpectation {
  backend: string;
  metric: 'rss' | 'pss' | 'uss' | null;
  includeChildren: boolean;
  multiprocess: boolean;
  mprofPeakMib: number | null;
  mprofChildPeaksMib: Record<string, number>;
  mprofPeakError: string | null;
  mprofPeakOutput: string | null;
}
const MATRIX: Record<string, MatrixExpectation> = JSON.parse(readFixture('mprof', '0.61', 'matrix', 'expectations.json'));

describe('mprof .dat: every backend and flag combination of mprof 0.61 (real files)', () => {
  it('the matrix holds every combination mprof accepts', () => {
    const names = Object.keys(MATRIX);
    for (const b of ['psutil', 'psutil_pss', 'psutil_uss']) for (const f of ['', '-C', '-M', '-C-M']) assert.ok(names.includes(`${b}${f}.dat`), `${b}${f}.dat`);
    for (const n of ['posix.dat', 'posix-M.dat', 'posix-C.dat', 'tracemalloc.dat', 'psutil-C-M-T0.05.dat']) assert.ok(names.includes(n), n);
  });

  for (const [name, x] of Object.entries(MATRIX)) {
    const file = fixturePath('mprof', '0.61', 'matrix', name);
    if (x.mprofPeakMib === null) {
      it(`${name}: mprof failed while recording (${x.mprofPeakError}); no MEM line is one clear error`, () => {
        assert.throws(() => readMprofDatFile(file), (e: Error) => e instanceof CorruptRecordingError && /without any MEM line/.test(e.message));
        assert.throws(() => mprofPeakOfFile(file), CorruptRecordingError);
      });
      continue;
    }
    it(`${name}: peaks as \`mprof peak\` prints them, MEM read as mprof meant it`, () => {
      const p = mprofPeakOfFile(file);
      assert.equal(mprofMib(p.memPeakBytes), x.mprofPeakMib!.toFixed(3), 'the MEM peak is mprof peak\'s');
      assert.deepEqual(
        Object.fromEntries(p.children.map((c) => [String(c.pid), Number(mprofMib(c.peakBytes))])),
        x.mprofChildPeaksMib,
        "each child's peak is mprof peak's Child line",
      );
      const rec = readMprofDatFile(file);
      assert.deepEqual(rec, readMprofDat(fs.readFileSync(file, 'utf8')), 'streamed and in-memory reads agree');
      assert.equal(rec.end, null);
      const memPeak = maxOf(rec.total);
      if (x.multiprocess) {
        assert.equal(p.mem, x.includeChildren ? 'tree' : 'parent', 'what MEM holds (-C -M: the tree; -M: the parent)');
        // Under -C -M the tree total is MEM itself; under -M, MEM plus the CHLD lines.
        if (x.includeChildren) assert.equal((memPeak / MIB).toFixed(3), x.mprofPeakMib!.toFixed(3));
        else assert.ok(memPeak > x.mprofPeakMib! * MIB + 40 * MIB, `${name}: the children are added to the parent`);
        assert.ok(Math.abs(memPeak - p.treePeakBytes) < 1, 'peak and reader agree on the tree');
      } else {
        assert.equal(p.mem, 'as-recorded');
        assert.equal((memPeak / MIB).toFixed(3), x.mprofPeakMib!.toFixed(3));
        assert.equal(p.treePeakBytes, p.memPeakBytes);
      }
      // The metric, where the file holds the evidence: -C -M (MEM against the RSS CHLD lines) and
      // runs with FUNC lines (MEM against their RSS). PSS and USS are told apart under -C -M only.
      // Under -M alone MEM is the parent alone and its metric is not checked: read as RSS.
      if (x.includeChildren && x.multiprocess) {
        assert.equal(rec.meta.metric, x.metric, `${name}: metric`);
        assert.equal(p.metric, x.metric);
      } else if (!x.multiprocess) {
        if (x.metric === 'rss') assert.equal(rec.meta.metric, 'rss', `${name}: metric`);
        else assert.notEqual(rec.meta.metric, 'rss', `${name}: not RSS`);
      }
      if (rec.meta.metric !== 'rss') assert.match(rec.warnings.join('\n'), /--backend psutil_(pss|uss)/);
      else assert.doesNotMatch(rec.warnings.join('\n'), /--backend/);
    });
  }

  it('PSS/USS with -C -M: MEM is not read as the parent alone (the issue: 459.7 MiB where mprof says 102.6)', () => {
    for (const name of ['psutil_pss-C-M.dat', 'psutil_uss-C-M.dat']) {
      const rec = readMprofDatFile(fixturePath('mprof', '0.61', 'matrix', name));
      assert.equal((maxOf(rec.total) / MIB).toFixed(3), MATRIX[name]!.mprofPeakMib!.toFixed(3), name);
      // MEM is PSS/USS of the tree, the CHLD lines RSS: the parent's own memory is in neither.
      assert.equal(rec.processes[0]!.rss.tMs.length, 0, `${name}: the parent's line is left empty`);
      assert.ok(rec.processes.slice(1).every((p) => p.rss.tMs.length > 0));
    }
  });

  it('-T 0.05: twice the samples, the same reading', () => {
    const fast = readMprofDatFile(fixturePath('mprof', '0.61', 'matrix', 'psutil-C-M-T0.05.dat'));
    const slow = readMprofDatFile(fixturePath('mprof', '0.61', 'matrix', 'psutil-C-M.dat'));
    assert.ok(fast.total.tMs.length > 1.5 * slow.total.tMs.length);
    assert.equal(fast.meta.metric, 'rss');
  });
});

describe('mprof .dat: writing', () => {
  for (const name of FIXTURES) {
    it(`round trip of ${name}.dat: read -> write -> read is stable, detection agrees`, () => {
      const original = readFixture('mprof', '0.61', `${name}.dat`);
      const r1 = readMprofDat(original)!;
      const w1 = writeMprofDat(r1);
      const r2 = readMprofDat(w1)!;
      const w2 = writeMprofDat(r2);
      assert.equal(w2, w1, 'export -> import -> export gives the same bytes');
      assert.equal(detectFormat('', original)?.name, 'mprof');
      assert.equal(detectFormat('', w1)?.name, detectFormat(`${name}.dat`, w1)?.name);

      assert.deepEqual(r2.meta, r1.meta);
      // -M files are re-written with MEM = the tree total, so the parent comes back as a difference
      // of 6-decimal MiB values: within a byte.
      assertSeriesClose(r2.total, r1.total, 'total', 1);
      assert.equal(r2.processes.length, r1.processes.length);
      r1.processes.forEach((p, i) => {
        const q = r2.processes[i]!;
        assert.deepEqual([q.pid, q.ppid, q.command, q.firstSeenMs, q.exitMs], [p.pid, p.ppid, p.command, p.firstSeenMs, p.exitMs]);
        assertSeriesClose(q.rss, p.rss, `pid ${p.pid} rss`, 1);
      });
      // Labels lose their spaces once (mprof's own reader cannot read them), nothing else changes.
      const normalise = (e: RecordingEvent): RecordingEvent => (e.kind === 'section' ? { ...e, label: e.label.replace(/\s/g, '_') } : e);
      assert.deepEqual(r2.events, r1.events.map(normalise));
      assert.deepEqual(
        r2.warnings.filter((w) => !/include-children/.test(w)),
        r1.warnings.filter((w) => !/include-children/.test(w)),
        'the MEMHUNT line replaces the guess about the mode; nothing else is new',
      );
    });
  }

  it('writes a memhunt recording in the -C -M shape: MEM is the total, CHLD per other process', () => {
    const rec = sampleRecording();
    const text = writeMprofDat(rec);
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], "CMDLINE python3 /srv/app/train.py --name 'a b, \"c\"'");
    assert.equal(lines[1], 'MEMHUNT mem=tree root=100 metric=rss');
    assert.equal(lines[2], 'MEM 10.000000 1717000000.1230');
    assert.equal(lines.filter((l) => l.startsWith('MEM ')).length, 6);
    assert.equal(lines.filter((l) => l.startsWith('CHLD 101 ')).length, 3);
    assert.equal(lines.filter((l) => l.startsWith('CHLD 102 ')).length, 3);
    assert.ok(!lines.some((l) => l.startsWith('CHLD 100 ')), 'the root is MEM, not a CHLD');
    // Sections only; the open one is closed at the last sample; the total fills in missing sizes.
    const funcs = lines.filter((l) => l.startsWith('FUNC '));
    assert.deepEqual(funcs, [
      'FUNC load_data 17.0039 1717000000.2230 41.0039 1717000000.4230 0',
      'FUNC epoch_1 13.0000 1717000000.2730 40.0000 1717000000.6230 1',
    ]);

    const back = readMprofDat(text)!;
    assert.equal(back.meta.rootPid, 100);
    assert.deepEqual(back.processes.map((p) => p.pid), [100, 101, 102]);
    assertSeriesClose(back.total, rec.total, 'total', 1, 1e-3);
    assertSeriesClose(back.processes[0]!.rss, rec.processes[0]!.rss, 'root', 2, 1e-3);
    assert.equal(back.processes[1]!.exitMs, 400);
    assert.equal(back.processes[2]!.exitMs, null);
    assert.deepEqual(back.warnings, []);
  });

  it("mprof's own `mprof peak` reads what we write and prints our peak", (t) => {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import mprof'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      t.skip('memory_profiler is not installed for /usr/bin/python3');
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'memhunt-mprof-'));
    try {
      for (const name of ['multiprocess', 'profiled']) {
        const rec = readMprofDat(readFixture('mprof', '0.61', `${name}.dat`))!;
        const file = path.join(dir, `${name}.dat`);
        fs.writeFileSync(file, writeMprofDat(rec));
        const r = spawnSync('/usr/bin/python3', ['-m', 'mprof', 'peak', file], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        const m = /\t([\d.]+) MiB/.exec(r.stdout);
        assert.ok(m, r.stdout);
        assert.equal(m[1], (maxOf(rec.total) / MIB).toFixed(3));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fixtures stay small', () => {
    for (const name of FIXTURES) assert.ok(fs.statSync(fixturePath('mprof', '0.61', `${name}.dat`)).size < 50_000);
  });
});

describe('mprof .dat: what the commands show', () => {
  it('mprofMib rounds an exact tie to even, as Python\'s "{:.3f}" does', () => {
    assert.equal(mprofMib(65.5625 * MIB), '65.562');
    assert.equal(mprofMib(65.5635 * MIB), (65.5635).toFixed(3));
    assert.equal(mprofMib(49.5546875 * MIB), '49.555');
    assert.equal(mprofMib(1.0625 * MIB), '1.062');
  });

  it('`memhunt peak` prints what `mprof peak` prints for -M, the tree total beside it', async () => {
    for (const name of ['psutil-M.dat', 'psutil_pss-C-M.dat', 'psutil.dat']) {
      const file = fixturePath('mprof', '0.61', 'matrix', name);
      const r = await runCli(['peak', '-p', file]);
      assert.equal(r.code, 0, r.stderr);
      const [first, ...childLines] = r.stdout.trimEnd().split('\n');
      const mprofFirst = MATRIX[name]!.mprofPeakOutput!.split('\n')[0]!.replace(/^[^\t]*\t/, '');
      assert.equal(first!.split('\t')[1], mprofFirst, `${name}: the second field is mprof peak's`);
      if (name === 'psutil-M.dat') assert.match(first!, /\t\(MEM: the started process alone, RSS; tree total with the CHLD lines 1\d\d\.\d{3} MiB\)$/);
      if (name === 'psutil_pss-C-M.dat') assert.match(first!, /\(MEM: the tree total, PSS\)$/);
      if (name === 'psutil.dat') assert.equal(first!.split('\t').length, 2);
      assert.deepEqual(
        childLines.map((l) => /Child (\d+)\s+([\d.]+) MiB/.exec(l)!.slice(1, 3)),
        Object.entries(MATRIX[name]!.mprofChildPeaksMib).map(([pid, mib]) => [pid, mib.toFixed(3)]),
      );
    }
  });

  it('no false "no end": mprof files never record one, and say so', async () => {
    const rec = readMprofDatFile(fixturePath('mprof', '0.61', 'matrix', 'psutil.dat'));
    const chart = buildChart([{ rec, name: 'psutil.dat' }]);
    assert.equal(chart.ends[0]!.label, 'end not recorded');
    assert.doesNotMatch(chart.summary.join('\n'), /memhunt was stopped|recording cut/);
    assert.match(chart.summary.join('\n'), /mprof files have no end/);
    assert.equal(chart.yTitle, 'memory (RSS)');
    const r = await runCli(['summary', fixturePath('mprof', '0.61', 'matrix', 'psutil.dat')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /end +not recorded \(mprof files have no end\)/);
    assert.doesNotMatch(r.stdout, /memhunt was stopped/);
  });

  it('every point is drawn, the CHLD lines after the last MEM line too (mprof stopped mid-run)', () => {
    // mprof stamps each CHLD line ~1 ms after its MEM line: a file cut after a sample's CHLD lines
    // (mprof interrupted) has children whose last point lies past the last MEM time.
    const text = readFixture('mprof', '0.61', 'matrix', 'psutil-C-M.dat').split('\n');
    const lastChld = text.findIndex((l, i) => l.startsWith('CHLD ') && text[i + 1]!.startsWith('CHLD ') && text[i + 2]!.startsWith('MEM '));
    const rec = readMprofDat(text.slice(0, lastChld + 2).join('\n') + '\n')!;
    const lastMem = rec.total.tMs[rec.total.tMs.length - 1]!;
    assert.ok(rec.processes.slice(1).every((p) => p.rss.tMs[p.rss.tMs.length - 1]! > lastMem), 'the fixture has CHLD points after the last MEM');
    const chart = buildChart([{ rec, name: 'cut.dat' }]);
    for (const s of chart.series) {
      const env = envelope(s.data, 0, chart.xMaxMs, 1000);
      const drawn = env.count.reduce((a, c) => a + c, 0);
      assert.equal(drawn, s.data.tMs.length, `${s.label}: every point is on the chart`);
    }
  });

  it('PSS/USS files are labelled so on the chart', () => {
    for (const [name, label] of [['psutil_pss-C-M.dat', 'PSS'], ['psutil_uss-C-M.dat', 'USS']]) {
      const rec = readMprofDatFile(fixturePath('mprof', '0.61', 'matrix', name!));
      assert.equal(buildChart([{ rec, name: name! }]).yTitle, `memory (${label})`);
    }
  });
});
