import middy from '@middy/core';
import { z } from 'zod';
import { resolveSearch, startSearch } from '../src/pipeline/search.ts';
import { datasetName, ExecutionId, VersionNumber } from '../src/schemas.ts';
import { getPool, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { logger, withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

const PlanEvent = z.object({
  executionId: ExecutionId,
  dataset: datasetName(),
  datasetVersion: VersionNumber,
  /** Parameters fixed for every trial (the execution input's `train`). */
  train: z.record(z.string(), z.unknown()).default({}),
  search: z.record(z.string(), z.unknown()).default({}),
});

async function run(event: z.infer<typeof PlanEvent>) {
  const search = resolveSearch(event.train, event.search);
  const { parentRunId, trials } = await startSearch(getPool(), event.executionId, event.dataset, event.datasetVersion, search);
  logger.info('planned', { parentRunId, trials: trials.length });
  return { parentRunId, trials, maxConcurrency: search.maxConcurrency };
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(PlanEvent));
