import middy from '@middy/core';
import { z } from 'zod';
import { train, TrainParamsSchema } from '../src/pipeline/train.ts';
import { ExecutionId, ManifestKey, RunId, VersionNumber } from '../src/schemas.ts';
import { getConfig, getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

const TrainEvent = z.object({
  executionId: ExecutionId,
  datasetVersion: VersionNumber,
  manifestKey: ManifestKey,
  params: TrainParamsSchema.default(TrainParamsSchema.parse({})),
  trialIndex: z.number().int().min(0).default(0),
  parentRunId: RunId.nullable().default(null),
  /** The execution input's `cache`: false trains even when an earlier run had the same inputs. */
  cache: z.boolean().default(true),
});

async function run(event: z.infer<typeof TrainEvent>) {
  const workers = getConfig().TRAIN_WORKERS;
  const result = await train(
    { pool: getPool(), store: getStore(), ...(workers !== undefined ? { workers } : {}), log: (message) => logger.info(message) },
    event,
  );
  logger.info('trained', { runId: result.runId, cachedFromRunId: result.cachedFromRunId, metrics: result.metrics, trainSeconds: result.trainSeconds });
  return result;
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(TrainEvent));
