import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptRecordingError } from '../errors';
import { isCsv, readCsv, shortCommand, writeCsv } from './csv';
import { detectFormat } from './index';
import { readMprofDat } from './mprof-dat';
import { assertSeriesClose, readFixture, sampleRecording } from './testkit';

const MIB = 2 ** 20;

function table(text: string): string[][] {
  return text.trimEnd().split('\n').map((l) => l.split(','));
}

describe('CSV: writing', () => {
  it('a memhunt recording: one row per total sample, a column per process, cgroup columns', () => {
    const text = writeCsv(sampleRecording());
    const lines = text.trimEnd().split('\n');
    assert.equal(
      lines[0],
      'time_s,total_mib,"root pid 100 (python3 /srv/app/train.py --name a b, ""c"") rss_mib",pid 101 (python3 -c work()) rss_mib,' +
        'pid 102 (sh -c sort big.txt) rss_mib,cgroup_usage_mib,cgroup_working_set_mib,cgroup_limit_mib,epoch_s',
    );
    assert.equal(lines.length, 7);
    assert.equal(lines[1], '0.000000,10.000000,10.000000,,,12.000000,11.000000,128.000000,1717000000.1230');
    // pid 101 from 100 ms to 300 ms; pid 102 from 300 ms; the limit drops to 96 MiB at 300 ms and stays.
    assert.equal(lines[4], '0.300000,41.003906,14.000000,7.003906,20.000000,43.003906,42.003906,96.000000,1717000000.4230');
    assert.equal(lines[6], '0.500000,40.000000,15.000000,,25.000000,42.000000,41.000000,96.000000,1717000000.6230');
  });

  it('an mprof -M file: CHLD readings (1 ms after their MEM line) land on their row', () => {
    const rec = readMprofDat(readFixture('mprof', '0.61', 'multiprocess.dat'))!;
    const rows = table(writeCsv(rec));
    assert.deepEqual(rows[0]!.slice(0, 2), ['time_s', 'total_mib']);
    assert.equal(rows.length - 1, rec.total.tMs.length);
    const childCols = [3, 4];
    for (const [k, col] of childCols.entries()) {
      const p = rec.processes[k + 1]!;
      const filled = rows.slice(1).filter((r) => r[col] !== '').length;
      assert.equal(filled, p.rss.tMs.length, `pid ${p.pid}: one cell per CHLD line`);
    }
    // Every row: total = parent + children (MEM + CHLD for a -M file), to the 6th decimal.
    for (const r of rows.slice(1)) {
      const parts = [2, 3, 4].map((c) => (r[c] === '' ? 0 : Number(r[c])));
      assert.ok(Math.abs(Number(r[1]) - parts.reduce((a, b) => a + b, 0)) < 2e-6, r.join(','));
    }
  });

  it('short commands: basename of argv[0], control characters blanked, 60 characters at most', () => {
    assert.equal(shortCommand(['/usr/bin/python3', 'x.py']), 'python3 x.py');
    assert.equal(shortCommand([]), '');
    assert.equal(shortCommand(['a\nb']), 'a b');
    const long = shortCommand(['python3', 'x'.repeat(100)]);
    assert.equal(long.length, 60);
    assert.ok(long.endsWith('…'));
    assert.equal(shortCommand(long.split(' ')), long, 'shortening is idempotent');
  });
});

describe('CSV: reading', () => {
  it('round trip of a memhunt recording: export -> import -> export is stable', () => {
    const rec = sampleRecording();
    const c1 = writeCsv(rec);
    const back = readCsv(c1)!;
    assert.equal(writeCsv(back), c1);
    assert.equal(detectFormat('', c1)?.name, 'csv');
    assert.equal(detectFormat('x.csv', c1)?.name, 'csv');

    assert.equal(back.meta.source, 'csv');
    assert.equal(back.meta.rootPid, 100);
    assert.deepEqual(back.meta.command, ['python3', '/srv/app/train.py', '--name', 'a', 'b,', '"c"']);
    assert.equal(Math.round(back.meta.startWallMs), rec.meta.startWallMs);
    assertSeriesClose(back.total, rec.total, 'total', 1, 1e-6);
    assert.deepEqual(
      back.processes.map((p) => [p.pid, p.ppid, p.firstSeenMs, p.exitMs]),
      [[100, 0, 0, null], [101, 100, 100, 400], [102, 100, 300, null]],
    );
    rec.processes.forEach((p, i) => assertSeriesClose(back.processes[i]!.rss, p.rss, `pid ${p.pid}`, 1));
    assertSeriesClose(back.cgroup!.usage, rec.cgroup!.usage, 'usage', 1);
    // The limit comes back as its changes only, as the model keeps it.
    assertSeriesClose(back.cgroup!.limit, rec.cgroup!.limit, 'limit');
    assert.equal(back.cgroup!.peak.tMs.length, 0);
    assert.deepEqual(back.warnings, []);
  });

  for (const name of ['plain', 'multiprocess', 'profiled']) {
    it(`round trip of mprof ${name}.dat through CSV`, () => {
      const rec = readMprofDat(readFixture('mprof', '0.61', `${name}.dat`))!;
      const c1 = writeCsv(rec);
      const back = readCsv(c1)!;
      assert.equal(writeCsv(back), c1);
      assertSeriesClose(back.total, rec.total, 'total', 1, 1e-3);
      assert.deepEqual(back.processes.map((p) => p.pid), rec.processes.map((p) => p.pid));
      assert.equal(back.meta.rootPid, 0);
      assert.equal(Math.abs(back.meta.startWallMs - rec.meta.startWallMs) < 1e-3, true);
    });
  }

  it('a CSV cut mid-row keeps the complete rows and says truncated', () => {
    const text = writeCsv(sampleRecording());
    const cut = text.slice(0, text.length - 20);
    const rec = readCsv(cut)!;
    assert.equal(rec.truncated, true);
    assert.equal(rec.total.tMs.length, 5);
    assert.match(rec.warnings.join('\n'), /middle of a row/);
  });

  it('tolerates CRLF, a byte-order mark, blank lines and extra columns', () => {
    const text = '\uFEFFtime_s,total_mib,note,epoch_s\r\n0.0,1.5,hello,1000.0\r\n0.1,2.5,,1000.1\r\n\r\n';
    const rec = readCsv(text)!;
    assert.deepEqual(Array.from(rec.total.values), [1.5 * MIB, 2.5 * MIB]);
    assert.equal(rec.meta.startWallMs, 1_000_000);
    assert.match(rec.warnings.join('\n'), /ignored: note/);
  });

  it('refuses broken rows with CorruptRecordingError, and other text with null', () => {
    assert.equal(readCsv('a,b\n1,2\n'), null);
    assert.equal(isCsv(readFixture('invalid', 'garbage.bin')), false);
    assert.equal(readCsv(''), null);
    const bad = (text: string, message: RegExp): void => {
      assert.throws(() => readCsv(text), (e: Error) => e instanceof CorruptRecordingError && message.test(e.message));
    };
    bad('time_s,total_mib\n0.0,abc\n', /line 2: total_mib "abc" is not a number/);
    bad('time_s,total_mib\n0.0,1.0,3\n', /line 2: 3 fields where the header has 2/);
    bad('time_s,total_mib\n1.0,1.0\n0.5,1.0\n', /comes before the previous one/);
    bad('time_s,total_mib', /inside its header/);
    bad('time_s,total_mib\n0.0,-1\n', /not a size/);
  });
});
