// Worker thread of predictBatch (./batch.ts): scores its range of rows and says so.
import { parentPort, workerData } from 'node:worker_threads';
import { runBatchJob, type BatchJob } from './batch.ts';

runBatchJob(workerData as BatchJob);
parentPort?.postMessage('done');
