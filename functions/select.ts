import middy from '@middy/core';
import { z } from 'zod';
import { PromotionMetricSchema } from '../src/metrics/names.ts';
import { PromotionPolicySchema } from '../src/pipeline/promote.ts';
import { selectBest } from '../src/pipeline/select.ts';
import { getPool, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { parseEvent } from './lib/middleware.ts';

/** Each Map iteration gives either a finished trial or the error that stopped it. */
const Trial = z.union([
  z.object({
    runId: z.string().uuid(),
    metrics: z.record(z.string(), z.unknown()),
    artifactKey: z.string(),
    /** The dataset spec's promotion metric, used when the execution input names none. */
    family: z.string().optional(),
    defaultMetric: PromotionMetricSchema.nullable().optional(),
  }),
  z.object({ trialIndex: z.number().int(), error: z.object({ Error: z.string(), Cause: z.string().nullable().optional() }).passthrough() }),
]);

const SelectEvent = z.object({
  executionId: z.string().min(1).max(200),
  parentRunId: z.string().uuid(),
  trials: z.array(Trial).min(1),
  promotion: PromotionPolicySchema.default(PromotionPolicySchema.parse({})),
});

async function run(event: z.infer<typeof SelectEvent>) {
  const result = await selectBest(getPool(), { ...event, metric: event.promotion.metric ?? null });
  console.log(JSON.stringify({ step: 'select', executionId: event.executionId, ...result }));
  return result;
}

export const handler = middy(run).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(SelectEvent));
