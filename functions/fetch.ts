import middy from '@middy/core';
import { z } from 'zod';
import { GROUP_NUMBERS } from '../src/data-api/service.ts';
import { fetchBatch } from '../src/pipeline/fetch.ts';
import { datasetName, ExecutionId } from '../src/schemas.ts';
import { getConfig, getPool, getSpec, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

const FetchEvent = z.object({
  executionId: ExecutionId,
  dataset: datasetName(),
  groupNumber: z.number().int().min(GROUP_NUMBERS.min).max(GROUP_NUMBERS.max),
  fetchIndex: z.number().int().min(0),
});

async function run(event: z.infer<typeof FetchEvent>) {
  const c = getConfig();
  const spec = await getSpec(event.dataset);
  const result = await fetchBatch(
    { pool: getPool(), spec, dataApiUrl: c.DATA_API_URL, timeoutMs: c.DATA_API_TIMEOUT_MS },
    { executionId: event.executionId, groupNumber: event.groupNumber, fetchIndex: event.fetchIndex },
  );
  logger.info('fetched', { ...result });
  return result;
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(FetchEvent));
