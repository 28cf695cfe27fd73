// Histogram worker: receives the shared data once (TreeGrower.attach), then waits on the shared
// control block and sums chunks of the current node until none is left (see histograms.ts).
import { parentPort } from 'node:worker_threads';
import { CTRL, drainChunks, type NodeRows } from './histograms.ts';

export interface HistWorkerInit {
  ctrl: Int32Array;
  scratch: Float64Array;
  size: number;
  featOff: Int32Array;
  rows: NodeRows;
}

const port = parentPort;
port?.once('message', (init: HistWorkerInit) => {
  const { ctrl } = init;
  let seen = Atomics.load(ctrl, CTRL.GEN);
  port.postMessage('ready');
  for (;;) {
    Atomics.wait(ctrl, CTRL.GEN, seen);
    seen = Atomics.load(ctrl, CTRL.GEN);
    if (Atomics.load(ctrl, CTRL.STOP) === 1) break;
    Atomics.add(ctrl, CTRL.ACTIVE, 1);
    drainChunks(ctrl, init.scratch, init.size, init.featOff, init.rows);
    if (Atomics.sub(ctrl, CTRL.ACTIVE, 1) === 1) Atomics.notify(ctrl, CTRL.ACTIVE);
  }
});
