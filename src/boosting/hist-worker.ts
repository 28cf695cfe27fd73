// Tree grower worker: receives the shared arrays once (TreeGrower.attach), then takes chunks of
// the grower's tasks until it is stopped (see parallel.ts); GROW chunks with a grower of its own.
import { parentPort } from 'node:worker_threads';
import { threadGrowOutput } from './grower.ts';
import { type SharedWork, workLoop } from './parallel.ts';

const port = parentPort;
port?.once('message', (work: SharedWork) => workLoop(work, threadGrowOutput()));
