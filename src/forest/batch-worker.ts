// Worker thread of predictBatch (./batch.ts): scores blocks of rows until none are left, and says so.
import { parentPort, workerData } from 'node:worker_threads';
import { runBatchJob, type BatchJob } from './batch.ts';

runBatchJob(workerData as BatchJob);
parentPort?.postMessage('done');
