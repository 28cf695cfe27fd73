import middy from '@middy/core';
import { z } from 'zod';
import { promote, PromotionPolicySchema } from '../src/pipeline/promote.ts';
import { getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { ExecutionId, ManifestKey, RunId } from '../src/schemas.ts';
import { parseEvent } from './lib/middleware.ts';

const PromoteEvent = z.object({
  executionId: ExecutionId,
  runId: RunId,
  manifestKey: ManifestKey,
  policy: PromotionPolicySchema.default(PromotionPolicySchema.parse({})),
});

async function run(event: z.infer<typeof PromoteEvent>) {
  const result = await promote({ pool: getPool(), store: getStore() }, event);
  console.log(JSON.stringify({ step: 'promote', executionId: event.executionId, ...result }));
  return result;
}

export const handler = middy(run).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(PromoteEvent));
