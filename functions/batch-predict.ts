import middy from '@middy/core';
import { z } from 'zod';
import { batchPredict } from '../src/pipeline/batch-predict.ts';
import { ALIASES } from '../src/registry/registry.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { BatchInputKey, DEFAULT_DATASET, modelName, VersionNumber } from '../src/schemas.ts';
import { getConfig, getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, warnEvents, withLogger } from './lib/log.ts';
import { getPredictionLog } from './lib/prediction-log.ts';
import { parseEvent } from './lib/middleware.ts';

const BatchPredictEvent = z.object({
  model: modelName().default(DEFAULT_DATASET),
  version: VersionNumber.optional(),
  alias: z.enum(ALIASES).optional(),
  inputKey: BatchInputKey,
});

let server: ModelServer | undefined;

async function run(event: z.infer<typeof BatchPredictEvent>) {
  server ??= new ModelServer(getPool(), getStore(), getConfig().CHAMPION_CACHE_MS, { warn: warnEvents('modelServer') });
  const log = getPredictionLog(server);
  const result = await batchPredict(
    server,
    getStore(),
    {
      modelName: event.model,
      inputKey: event.inputKey,
      ...(event.version !== undefined ? { version: event.version } : {}),
      ...(event.alias ? { alias: event.alias } : {}),
    },
    log,
  );
  await log.flush(); // a batch job waits for its log: nothing left buffered when the function freezes
  logger.info('batch predicted', { ...result, rejectedSample: undefined });
  return result;
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(BatchPredictEvent));
