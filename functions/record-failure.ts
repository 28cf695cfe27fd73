import middy from '@middy/core';
import { z } from 'zod';
import { recordFailure } from '../src/pipeline/failures.ts';
import { CaughtError, ExecutionId } from '../src/schemas.ts';
import { getPool, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { withLogger } from './lib/log.ts';
import { parseEvent } from './lib/middleware.ts';

/** The Catch of every task lands here with the error Step Functions caught. */
const FailureEvent = z.object({
  executionId: ExecutionId,
  state: z.string().max(100).nullable().default(null),
  error: CaughtError,
});

async function run(event: z.infer<typeof FailureEvent>) {
  await recordFailure(getPool(), { executionId: event.executionId, state: event.state, error: event.error.Error, cause: event.error.Cause });
  return { executionId: event.executionId, error: event.error.Error, cause: event.error.Cause };
}

export const handler = middy(run).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(parseEvent(FailureEvent));
