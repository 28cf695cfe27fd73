import middy from '@middy/core';
import { z } from 'zod';
import { PromotionMetricSchema } from '../src/metrics/names.ts';
import { PromotionPolicySchema } from '../src/pipeline/promote.ts';
import { selectBest } from '../src/pipeline/select.ts';
import { CaughtError, ExecutionId, RunId } from '../src/schemas.ts';
import { getPool, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

/** Each Map iteration gives either a finished trial or the error that stopped it. */
const Trial = z.union([
  z.object({
    runId: RunId,
    metrics: z.record(z.string(), z.unknown()),
    artifactKey: z.string(),
    /** The dataset spec's promotion metric, used when the execution input names none. */
    family: z.string().optional(),
    defaultMetric: PromotionMetricSchema.nullable().optional(),
  }),
  z.object({ trialIndex: z.number().int(), error: CaughtError }),
]);

const SelectEvent = z.object({
  executionId: ExecutionId,
  parentRunId: RunId,
  trials: z.array(Trial).min(1),
  promotion: PromotionPolicySchema.default(PromotionPolicySchema.parse({})),
});

async function run(event: z.infer<typeof SelectEvent>) {
  const result = await selectBest(getPool(), { ...event, metric: event.promotion.metric ?? null });
  logger.info('selected', { ...result });
  return result;
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(SelectEvent));
