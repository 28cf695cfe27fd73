import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { MiddlewareObj } from '@middy/core';
import { getConfig } from './context.ts';

/**
 * The functions' one logger (Powertools): a JSON line per entry with its level, the function's name,
 * whether the container started cold, and the correlation id. Domain code gets it (or one of its
 * methods) as an argument; it never logs on its own.
 */
export const logger = new Logger({ serviceName: 'mlops-pipeline', logLevel: 'INFO' });

/**
 * A warning callback for domain code that reports events as `{ event, message, ...details }` (the model
 * server, the prediction log): the event's name is also the entry's message, its `message` (a key
 * Powertools reserves) becomes `reason`.
 */
export function warnEvents(source: string): (event: Record<string, unknown>) => void {
  return ({ message, ...details }) =>
    logger.warn(typeof details.event === 'string' ? details.event : source, { ...details, source, ...(message !== undefined ? { reason: message } : {}) });
}

/** The Step Functions execution a task runs for, or the HTTP request's id (API Gateway and function URLs). */
export function correlationId(event: unknown): string | undefined {
  if (event === null || typeof event !== 'object') return undefined;
  const { executionId, requestContext } = event as { executionId?: unknown; requestContext?: { requestId?: unknown } };
  if (typeof executionId === 'string') return executionId;
  return typeof requestContext?.requestId === 'string' ? requestContext.requestId : undefined;
}

/**
 * Puts the invocation's Lambda context (function name, cold start, request id) and correlation id
 * into every entry, and the configured level (LOG_LEVEL) on first use. Logs nothing by itself.
 */
export function withLogger(): MiddlewareObj {
  const inject = injectLambdaContext(logger, { resetKeys: true }) as MiddlewareObj;
  let levelSet = false;
  return {
    before: async (request) => {
      if (!levelSet) {
        logger.setLogLevel(getConfig().LOG_LEVEL);
        levelSet = true;
      }
      await inject.before?.(request);
      const id = correlationId(request.event);
      if (id !== undefined) logger.setCorrelationId(id);
    },
    after: inject.after,
    onError: inject.onError,
  };
}
