import middy from '@middy/core';
import { z } from 'zod';
import { promote, PromotionPolicySchema } from '../src/pipeline/promote.ts';
import { ExecutionId, ManifestKey, RunId } from '../src/schemas.ts';
import { getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

const PromoteEvent = z.object({
  executionId: ExecutionId,
  runId: RunId,
  manifestKey: ManifestKey,
  policy: PromotionPolicySchema.default(PromotionPolicySchema.parse({})),
});

async function run(event: z.infer<typeof PromoteEvent>) {
  const result = await promote({ pool: getPool(), store: getStore() }, event);
  logger.info('promotion decided', { ...result });
  return result;
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(PromoteEvent));
