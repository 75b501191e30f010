/**
 * A worker thread of `memhunt fleet`: reads one recording at a time and sends back its row, so
 * the main thread never holds a recording's series (memory stays bounded by the worker count).
 */
import { parentPort } from 'node:worker_threads';
import { fleetRowOf } from '../analysis/fleet';
import { loadRecording } from './load';

export interface FleetJob {
  id: number;
  file: string;
}

export async function rowOrError(file: string) {
  try {
    const rec = await loadRecording(file);
    return { row: fleetRowOf(file, rec) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

if (parentPort) {
  const port = parentPort;
  port.on('message', (job: FleetJob) => {
    void rowOrError(job.file).then((r) => port.postMessage({ id: job.id, ...r }));
  });
}
