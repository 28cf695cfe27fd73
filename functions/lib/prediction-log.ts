import type { MiddlewareObj } from '@middy/core';
import { S3MysqlLogWriter } from '../../src/monitoring/log-writer.ts';
import { PredictionLog } from '../../src/monitoring/prediction-log.ts';
import { shadowScorer } from '../../src/monitoring/shadow.ts';
import type { ModelServer } from '../../src/serving/model-server.ts';
import { getConfig, getPool, getStore, hostRuntime } from './context.ts';
import { warnEvents } from './log.ts';

/**
 * The container's prediction log (src/monitoring/prediction-log.ts), shared by the functions of one
 * process. On AWS Lambda (and LocalStack's), which freezes the process between invocations, it is
 * flushed by `logPredictions()` at the end of an invocation when due; in a long-lived process
 * (serverless-offline, IS_OFFLINE) by a background timer, and by `flushPredictionLog()` before it stops.
 */
let log: PredictionLog | undefined;

export function getPredictionLog(server: Pick<ModelServer, 'resolveVersion' | 'load'>): PredictionLog {
  if (log) return log;
  const c = getConfig();
  const background = hostRuntime() === 'offline';
  const created = new PredictionLog(new S3MysqlLogWriter(getPool(), getStore()), {
    sampleRate: c.PREDICTION_LOG_SAMPLE_RATE,
    bufferBytes: c.PREDICTION_LOG_BUFFER_BYTES,
    flushBytes: c.PREDICTION_LOG_FLUSH_BYTES,
    flushMs: c.PREDICTION_LOG_FLUSH_MS,
    background,
    enrich: shadowScorer(server),
    warn: warnEvents('predictionLog'),
  });
  // A process that runs out of work writes out the rest. (No SIGTERM handler: it would lose the race
  // with serverless-offline's own exit; the embedded stack asks for a flush before it stops it.)
  if (background) process.once('beforeExit', () => void created.close());
  log = created;
  return created;
}

/** Flushes the log when due before the invocation ends (all of it for `serverless invoke local`). */
export function logPredictions(): MiddlewareObj {
  const settle = async () => {
    if (!log) return;
    // Read once: a worker thread's process.env reads cost ~0.3 µs each, on every request.
    const runtime = hostRuntime();
    if (runtime === 'invoke-local') {
      await log.close();
      log = undefined;
    } else if (runtime === 'lambda') {
      await log.afterInvocation();
    }
  };
  return { after: settle, onError: settle };
}

/** Writes out the rest and stops the background flushes, for a process about to stop its S3 server. */
export async function closePredictionLog(): Promise<void> {
  const closing = log;
  log = undefined;
  await closing?.close();
}

/** Writes out what this process's log buffers (the embedded stack asks before it stops serverless-offline). */
export async function flushPredictionLog(): Promise<{ written: number; dropped: number } | null> {
  if (!log) return null;
  await log.flush();
  const { written, dropped } = log.stats();
  return { written, dropped };
}
