import middy from '@middy/core';
import { z } from 'zod';
import { promote, PromotionPolicySchema } from '../src/pipeline/promote.ts';
import { getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { parseEvent } from './lib/middleware.ts';

const PromoteEvent = z.object({
  executionId: z.string().min(1).max(200),
  runId: z.string().uuid(),
  manifestKey: z.string().regex(/^datasets\/[a-z0-9_-]+\/[0-9a-f]{64}\/manifest\.json$/),
  policy: PromotionPolicySchema.default(PromotionPolicySchema.parse({})),
});

async function run(event: z.infer<typeof PromoteEvent>) {
  const result = await promote({ pool: getPool(), store: getStore() }, event);
  console.log(JSON.stringify({ step: 'promote', executionId: event.executionId, ...result }));
  return result;
}

export const handler = middy(run).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(PromoteEvent));
