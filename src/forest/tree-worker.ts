// Worker thread: grows the trees it is asked for over the shared binned data.
import { parentPort, workerData } from 'node:worker_threads';
import { TreeBuilder, type TreeConfig, type TreeData, type TreeResult } from './tree-builder.ts';

export interface WorkerInit {
  data: TreeData;
  config: TreeConfig;
}

export interface WorkerRequest {
  tree: number;
}

export function transferList(r: TreeResult): ArrayBuffer[] {
  return [r.feature, r.threshold, r.left, r.right, r.defaultLeft, r.value, r.importances, r.oobRows, r.oobLeaf].map((a) => a.buffer as ArrayBuffer);
}

const port = parentPort;
if (port) {
  const init = workerData as WorkerInit;
  const builder = new TreeBuilder(init.data, init.config);
  port.on('message', (msg: WorkerRequest) => {
    const result = builder.build(msg.tree);
    port.postMessage(result, transferList(result));
  });
}
