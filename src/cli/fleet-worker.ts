/**
 * A worker thread of `memhunt fleet` and `memhunt plot DIR`: reads one recording at a time and
 * sends back its row, or its tree total reduced to the fleet's wall-clock grid, so the main thread
 * never holds a recording's series (memory stays bounded by the worker count).
 */
import { parentPort } from 'node:worker_threads';
import { fleetRowOf } from '../analysis/fleet';
import { envelopeOnGrid, footerEnvelopeOnGrid, type FleetGrid, type GridEnvelope } from '../analysis/fleet-envelope';
import { metricTotal } from '../model/metric';
import type { Chart } from '../render/chart';
import { fleetFooterOf } from './footer';
import { loadRecording } from './load';

export interface FleetJob {
  id: number;
  file: string;
}

/** One recording onto the grid; `detail`: also its annotations (read whole: the riskiest few only). */
export interface EnvelopeJob {
  kind: 'envelope';
  id: number;
  file: string;
  grid: FleetGrid;
  detail: boolean;
}

/** A recording's annotations as its own chart has them (times from its own start). */
export type FleetDetail = Pick<Chart, 'sections' | 'marks' | 'peaks' | 'limits' | 'ends' | 'pauses' | 'gaps'> & { startWallMs: number };

export type EnvelopeResult = { id: number; env: GridEnvelope; detail: FleetDetail | null } | { id: number; error: string };

export async function rowOrError(file: string) {
  try {
    const rec = await loadRecording(file);
    return { row: fleetRowOf(file, rec) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/**
 * The recording's envelope on the grid: from its summary footer (a few KiB read) unless details
 * are asked for or it has none, else from its samples (read whole, in this thread, then dropped).
 */
export async function envelopeOrError(job: EnvelopeJob): Promise<EnvelopeResult> {
  try {
    if (!job.detail) {
      const f = fleetFooterOf(job.file);
      if (f?.envelope) return { id: job.id, env: footerEnvelopeOnGrid(f.envelope, f.row.startWallMs, job.grid), detail: null };
    }
    const rec = await loadRecording(job.file, { splits: false });
    const env = envelopeOnGrid(metricTotal(rec).series, rec.meta.startWallMs, job.grid);
    let detail: FleetDetail | null = null;
    if (job.detail) {
      const { buildChart } = await import('../render/chart');
      const c = buildChart([{ rec, name: job.file }], { perProcess: false, verdict: false });
      detail = { sections: c.sections, marks: c.marks, peaks: c.peaks, limits: c.limits, ends: c.ends, pauses: c.pauses, gaps: c.gaps, startWallMs: rec.meta.startWallMs };
    }
    return { id: job.id, env, detail };
  } catch (e) {
    return { id: job.id, error: (e as Error).message };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: FleetJob | EnvelopeJob) => {
    if ('kind' in job && job.kind === 'envelope') {
      void envelopeOrError(job).then((r) => port.postMessage(r, 'env' in r ? [r.env.min.buffer as ArrayBuffer, r.env.max.buffer as ArrayBuffer] : []));
    } else {
      void rowOrError(job.file).then((r) => port.postMessage({ id: job.id, ...r }));
    }
  });
}
