import middy from '@middy/core';
import { z } from 'zod';
import { preprocess } from '../src/pipeline/preprocess.ts';
import { championAgeHours } from '../src/registry/registry.ts';
import { datasetName, ExecutionId } from '../src/schemas.ts';
import { getConfig, getPool, getSpec, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

const PreprocessEvent = z.object({
  executionId: ExecutionId,
  dataset: datasetName(),
});

async function run(event: z.infer<typeof PreprocessEvent>) {
  const spec = await getSpec(event.dataset);
  const result = await preprocess(
    { pool: getPool(), store: getStore(), spec, driftThreshold: getConfig().DRIFT_PSI_THRESHOLD, warn: (message, details) => logger.warn(message, details) },
    event.executionId,
  );
  // For the state machine's "skip training when nothing drifted and the champion is recent" choice.
  const champion = { ageHours: await championAgeHours(getPool(), spec.name) };
  logger.info('preprocessed', { ...result, champion });
  return { ...result, champion };
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(PreprocessEvent));
