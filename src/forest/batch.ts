// Batch scoring over worker threads: every thread takes the next block of rows from a shared counter
// until none are left (so a worker that starts late simply takes fewer), walks it with
// CompiledTrees.predictBlock over the same node arrays (SharedArrayBuffers, not copied) and writes
// into one shared output.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CompiledTrees, type BlockScorer, type CompiledParts } from './compiled.ts';

export interface BatchJob {
  parts: CompiledParts;
  x: Float64Array;
  out: Float64Array;
  rows: number;
  /** Rows taken at a time. */
  chunk: number;
  /** next[0]: the next chunk to take. */
  next: Int32Array;
}

export interface BatchOptions {
  /** Threads in all, this one included (default: the machine's cores). 1 stays on this thread. */
  threads?: number;
  /** Below this many rows per thread, fewer threads are used (starting one costs tens of ms). Default 10,000. */
  minRowsPerThread?: number;
}

const workerUrl = (): URL => new URL(`./batch-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

function sharedCopy(x: Float64Array): Float64Array {
  if (x.buffer instanceof SharedArrayBuffer) return x;
  const copy = new Float64Array(new SharedArrayBuffer(x.byteLength));
  copy.set(x);
  return copy;
}

/**
 * The prediction vectors (rows × nOutputs, row-major) of `rows` rows of the row-major matrix x,
 * equal to predictRow's for each row. Large batches of compiled trees use worker threads; any other
 * scorer (a linear model) scores them on this thread.
 */
export async function predictBatch(model: BlockScorer, x: Float64Array, rows: number, options: BatchOptions = {}): Promise<Float64Array> {
  if (x.length < rows * model.nFeatures) throw new RangeError(`x holds ${x.length / model.nFeatures} rows, not ${rows}`);
  const wanted = Math.max(1, options.threads ?? availableParallelism());
  const threads = Math.max(1, Math.min(wanted, Math.floor(rows / (options.minRowsPerThread ?? 10_000))));
  if (!(model instanceof CompiledTrees) || threads === 1 || !(model.parts.nodes.buffer instanceof SharedArrayBuffer)) {
    const out = new Float64Array(rows * model.nOutputs);
    model.predictBlock(x, 0, rows, out);
    return out;
  }
  const sx = sharedCopy(x);
  const out = new Float64Array(new SharedArrayBuffer(rows * model.nOutputs * 8));
  // A few chunks per thread, so that a thread that starts late or shares its core takes fewer.
  const chunk = Math.min(model.parts.blockRows, Math.ceil(rows / (3 * threads)));
  const job: BatchJob = { parts: model.parts, x: sx, out, rows, chunk, next: new Int32Array(new SharedArrayBuffer(4)) };
  const done = Array.from(
    { length: threads - 1 },
    () =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(workerUrl(), { workerData: job });
        worker.once('message', () => {
          void worker.terminate();
          resolve();
        });
        worker.once('error', reject);
        worker.once('exit', (code) => {
          if (code !== 0 && code !== 1) reject(new Error(`batch worker exited with code ${code}`));
        });
      }),
  );
  // This thread starts on the blocks while the workers start.
  takeBlocks(model, job);
  await Promise.all(done);
  return out;
}

function takeBlocks(model: CompiledTrees, job: BatchJob): void {
  for (;;) {
    const from = Atomics.add(job.next, 0, 1) * job.chunk;
    if (from >= job.rows) return;
    model.predictBlock(job.x, from, Math.min(job.rows, from + job.chunk), job.out, 0);
  }
}

/** In a worker: blocks until none are left. */
export function runBatchJob(job: BatchJob): void {
  takeBlocks(new CompiledTrees(job.parts), job);
}
