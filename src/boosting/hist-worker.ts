// Histogram worker: waits on the shared control block and builds work items of the current node
// until none is left (see histograms.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { CTRL, drainItems, type NodeRows } from './histograms.ts';

export interface HistWorkerInit {
  ctrl: Int32Array;
  totals: Float64Array;
  nBins: Int32Array;
  backing: Float64Array;
  size: number;
  featOff: Int32Array;
  rows: NodeRows;
}

if (parentPort) {
  const init = workerData as HistWorkerInit;
  const { ctrl } = init;
  let seen = 0;
  parentPort.postMessage('ready');
  for (;;) {
    Atomics.wait(ctrl, CTRL.GEN, seen);
    seen = Atomics.load(ctrl, CTRL.GEN);
    if (Atomics.load(ctrl, CTRL.STOP) === 1) break;
    Atomics.add(ctrl, CTRL.ACTIVE, 1);
    drainItems(ctrl, init.totals, init.backing, init.size, init.featOff, init.nBins, init.rows);
    if (Atomics.sub(ctrl, CTRL.ACTIVE, 1) === 1) Atomics.notify(ctrl, CTRL.ACTIVE);
  }
}
