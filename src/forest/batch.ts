// Batch scoring over worker threads: every thread takes the next block of rows from a shared counter
// until none are left (so a worker that starts late simply takes fewer), walks it with
// CompiledTrees.predictBlock over the same node arrays (SharedArrayBuffers, not copied) and writes
// into one shared output. The calling thread waits only for blocks a worker has taken, not for a
// worker still starting (tens of ms, more than a small model's batch takes): once no block is left
// and no worker is inside one, the output is complete and the workers are stopped.
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
  /** next[NEXT]: the next chunk to take; next[ACTIVE]: workers inside a chunk; next[FAILED]: 1 once a worker failed. */
  next: Int32Array;
}

export interface BatchOptions {
  /** Threads in all, this one included (default: the machine's cores). 1 stays on this thread. */
  threads?: number;
  /** Below this many rows per thread, fewer threads are used (starting one costs tens of ms). Default 10,000. */
  minRowsPerThread?: number;
}

const NEXT = 0;
const ACTIVE = 1;
const FAILED = 2;

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
  const job: BatchJob = { parts: model.parts, x: sx, out, rows, chunk, next: new Int32Array(new SharedArrayBuffer(12)) };
  let failure: unknown = null;
  const workers = Array.from({ length: threads - 1 }, () => {
    const worker = new Worker(workerUrl(), { workerData: job });
    worker.once('error', (e) => {
      failure ??= e;
    });
    return worker;
  });
  // This thread starts on the blocks while the workers start.
  takeBlocks(model, job);
  // No block is left to take: wait for the ones workers are walking (a few ms at most).
  while (Atomics.load(job.next, ACTIVE) > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  for (const worker of workers) void worker.terminate();
  if (Atomics.load(job.next, FAILED) === 1) throw new Error(`a batch worker failed: ${failure instanceof Error ? failure.message : String(failure)}`);
  return out;
}

function takeBlocks(model: CompiledTrees, job: BatchJob): void {
  for (;;) {
    const from = Atomics.add(job.next, NEXT, 1) * job.chunk;
    if (from >= job.rows) return;
    model.predictBlock(job.x, from, Math.min(job.rows, from + job.chunk), job.out, 0);
  }
}

/**
 * In a worker: blocks until none are left. It counts itself in ACTIVE before it takes a block, so
 * the calling thread, once every block is taken, sees it until that block is written.
 */
export function runBatchJob(job: BatchJob): void {
  const model = new CompiledTrees(job.parts);
  for (;;) {
    Atomics.add(job.next, ACTIVE, 1);
    try {
      const from = Atomics.add(job.next, NEXT, 1) * job.chunk;
      if (from >= job.rows) return;
      model.predictBlock(job.x, from, Math.min(job.rows, from + job.chunk), job.out, 0);
    } catch (error) {
      Atomics.store(job.next, FAILED, 1);
      throw error;
    } finally {
      Atomics.sub(job.next, ACTIVE, 1);
    }
  }
}
