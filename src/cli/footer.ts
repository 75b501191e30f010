/**
 * The summary footer of a recording (issue 14, `memhunt fleet` at scale): `run`/`attach` append,
 * after the end record, one gzip member holding a `summary` record (spec.ts SummaryRecord) with the
 * run's figures and verdict; `fleet` then reads a recording's first member (the header) and its
 * last (the footer) instead of decompressing an hour of samples. A file without a footer (cut,
 * written by `-o /dev/…`, an older memhunt, mprof's) is read whole.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { RecordingAnalysis } from '../analysis/analyze';
import type { FleetRow } from '../analysis/fleet';
import { fleetEndOf, fleetLimitOf } from '../analysis/fleet';
import { footerEnvelopeOf, type FooterEnvelope } from '../analysis/fleet-envelope';
import { metricTotal } from '../model/metric';
import { parentKillText } from '../analysis/summary';
import { contractProblem } from '../contract/validate';
import { identityText } from '../model/identity';
import type { MemoryRecording } from '../model/recording';
import type { HeaderRecord, SummaryRecord } from '../recording/spec';
import { MEMHUNT_VERSION } from '../version';

export function summaryRecordOf(rec: MemoryRecording, a: RecordingAnalysis): SummaryRecord | null {
  if (!rec.end) return null;
  const s = a.summary;
  const envelope = footerEnvelopeOf(metricTotal(rec).series);
  return {
    type: 'summary', t: rec.end.tMs, memhuntVersion: MEMHUNT_VERSION, metric: s.metric, samples: s.samples, durationMs: s.durationMs,
    peakBytes: s.peakBytes, peakTMs: s.peakTMs,
    ...fleetLimitOf(s),
    verdict: a.verdict, confidence: a.confidenceLabel, reason: a.reason,
    top: s.topAtPeak ? { pid: s.topAtPeak.pid, command: s.topAtPeak.command, bytes: s.topAtPeak.bytes, ...(s.topAtPeak.worker ? { worker: s.topAtPeak.worker } : {}) } : null,
    ...(s.workers.length ? { workers: [...new Set(s.workers.map((w) => w.text))] } : {}),
    ...(s.parentKills.length ? { workerKills: s.parentKills.map(parentKillText) } : {}),
    end: { reason: rec.end.reason, code: rec.end.exitCode, signal: rec.end.exitSignal },
    ...(envelope ? { envelope } : {}),
  };
}

/**
 * Appends the footer to a closed recording (a regular file whose last record is its end). Best
 * effort: a recording without it is still whole (fleet reads it all); returns whether it was written.
 */
export function appendSummaryFooter(file: string, rec: MemoryRecording, a: RecordingAnalysis): boolean {
  const footer = summaryRecordOf(rec, a);
  if (!footer) return false;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    let member = zlib.gzipSync(JSON.stringify(footer) + '\n', { level: 3 });
    // The fast path reads the last TAIL_BYTES: a footer that would not fit (a very long command
    // line beside the envelope) goes without its envelope (plot DIR then reads that file whole).
    if (member.length > TAIL_BYTES - 256 && footer.envelope) {
      delete footer.envelope;
      member = zlib.gzipSync(JSON.stringify(footer) + '\n', { level: 3 });
    }
    fs.appendFileSync(file, member);
    return true;
  } catch {
    return false;
  }
}

/** How much of a file's start and end the fast path reads (a header member is ~1–3 KiB, a footer < 1 KiB; a larger header falls back to a whole read). */
const HEAD_BYTES = 16 * 1024;
const TAIL_BYTES = 16 * 1024;

function readAt(fd: number, at: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  const n = fs.readSync(fd, b, 0, size, at);
  return b.subarray(0, n);
}

/** The first JSON line of the first gzip member, when it is a memhunt header. */
function headerOf(head: Buffer): HeaderRecord | null {
  let text: string;
  try {
    // The header is flushed alone: the first member ends where its line ends. Only that member is
    // inflated (gunzip would go on through every member read with it: samples the fast path skips).
    // The writer's members have a bare 10-byte gzip header (no name, no extra field).
    if (head[3] !== 0) return null;
    text = zlib.inflateRawSync(head.subarray(10), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
  } catch {
    return null;
  }
  const line = text.slice(0, text.indexOf('\n'));
  try {
    const h = JSON.parse(line) as HeaderRecord;
    return contractProblem('headerRecord', h) === null ? h : null;
  } catch {
    return null;
  }
}

/** The summary record in the file's last gzip member, or null. */
function footerOf(tail: Buffer): SummaryRecord | null {
  // The last member starts at one of the last gzip magics (1f 8b 08); try from the end backwards.
  for (let i = tail.lastIndexOf(0x1f); i >= 0; i = i > 0 ? tail.lastIndexOf(0x1f, i - 1) : -1) {
    if (tail[i + 1] !== 0x8b || tail[i + 2] !== 0x08) continue;
    let text: string;
    try {
      text = zlib.gunzipSync(tail.subarray(i)).toString('utf8');
    } catch {
      continue;
    }
    if (!text.startsWith('{"type":"summary"')) return null;
    try {
      const r = JSON.parse(text) as SummaryRecord;
      return contractProblem('summaryRecord', r) === null ? r : null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * A fleet row from a recording's header and footer alone, or null when the file has no valid footer
 * (then it is read whole). Reads at most HEAD_BYTES + TAIL_BYTES.
 */
export function fleetRowFromFooter(file: string): FleetRow | null {
  return fleetFooterOf(file)?.row ?? null;
}

/** The fleet row and the footer's envelope of the tree total (null when the footer has none: an older memhunt's). */
export function fleetFooterOf(file: string): { row: FleetRow; envelope: FooterEnvelope | null } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fs.fstatSync(fd).size;
    const head = readAt(fd, 0, Math.min(size, HEAD_BYTES));
    if (head[0] !== 0x1f || head[1] !== 0x8b) return null;
    const h = headerOf(head);
    if (!h) return null;
    const f = footerOf(readAt(fd, Math.max(0, size - TAIL_BYTES), Math.min(size, TAIL_BYTES)));
    if (!f) return null;
    const end = fleetEndOf({ tMs: f.t, reason: f.end.reason, exitCode: f.end.code, exitSignal: f.end.signal }, 'memhunt', f.workerKills?.length ?? 0);
    const workers = f.workers ?? [];
    const metricText = `tree ${f.metric.toUpperCase()}`;
    const row: FleetRow = {
      file, identity: identityText(h.labels, h.host, workers), workers, workerKills: f.workerKills ?? [], labels: h.labels ?? {}, host: h.host, startWallMs: h.startWallMs,
      durationMs: f.durationMs, samples: f.samples, metric: metricText, peakBytes: f.peakBytes,
      limitBytes: f.limitBytes, limitSource: f.limitSource, usedShare: f.usedShare, headroomBytes: f.headroomBytes,
      end: end.end, endText: end.text, exitCode: f.end.code,
      verdict: f.verdict as FleetRow['verdict'], confidence: f.confidence, reason: f.reason, top: f.top, warnings: [],
    };
    const e = f.envelope;
    return { row, envelope: e && e.minKiB.length === e.maxKiB.length ? e : null };
  } finally {
    fs.closeSync(fd);
  }
}
