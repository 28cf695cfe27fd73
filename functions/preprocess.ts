import middy from '@middy/core';
import { z } from 'zod';
import { preprocess } from '../src/pipeline/preprocess.ts';
import { getPool, getSpec, getStore, releaseWhenInvokedLocally } from './lib/context.ts';
import { DATASET_SLUG, parseEvent } from './lib/middleware.ts';

const PreprocessEvent = z.object({
  executionId: z.string().min(1).max(200),
  dataset: z.string().regex(DATASET_SLUG),
});

async function run(event: z.infer<typeof PreprocessEvent>) {
  const spec = await getSpec(event.dataset);
  const result = await preprocess({ pool: getPool(), store: getStore(), spec }, event.executionId);
  console.log(JSON.stringify({ step: 'preprocess', executionId: event.executionId, ...result }));
  return result;
}

export const handler = middy(run).use(releaseWhenInvokedLocally()).use(parseEvent(PreprocessEvent));
