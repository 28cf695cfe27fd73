import assert from 'node:assert/strict';
import { test } from 'node:test';
import middy from '@middy/core';
import { loadConfig } from '../../src/config.ts';

// What Lambda sets for an on-demand container; without it Powertools reports no cold start (as under serverless-offline).
process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
const { logger, warnEvents, withLogger } = await import('../../functions/lib/log.ts');

/** The JSON lines the logger writes (to stdout or stderr) while `run` runs. */
async function captured(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof stream.write;
  }
  try {
    await run();
  } finally {
    streams.forEach((stream, i) => {
      stream.write = writes[i];
    });
  }
  return lines
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const context = (requestId: string) => ({ functionName: 'mlops-pipeline-dev-train', awsRequestId: requestId, memoryLimitInMB: '1024' }) as never;

test('each entry carries the function name, the cold start and the correlation id: execution id, else HTTP request id', async () => {
  const handler = middy(async (event: { step?: string }) => {
    logger.info('done', { step: event.step });
    logger.debug('not at INFO');
  }).use(withLogger());
  const entries = await captured(async () => {
    await handler({ executionId: 'arn:aws:states:us-east-1:000000000000:execution:pipeline:run-1', step: 'train' } as never, context('r1'));
    await handler({ requestContext: { requestId: 'http-42' }, step: 'predict' } as never, context('r2'));
    await handler({ step: 'monitor' } as never, context('r3'));
  });
  assert.equal(entries.length, 3, JSON.stringify(entries));
  assert.deepEqual(
    entries.map((e) => [e.level, e.message, e.step, e.function_name, e.cold_start, e.correlation_id, e.function_request_id]),
    [
      ['INFO', 'done', 'train', 'mlops-pipeline-dev-train', true, 'arn:aws:states:us-east-1:000000000000:execution:pipeline:run-1', 'r1'],
      ['INFO', 'done', 'predict', 'mlops-pipeline-dev-train', false, 'http-42', 'r2'],
      // the previous invocation's correlation id does not leak into the next
      ['INFO', 'done', 'monitor', 'mlops-pipeline-dev-train', false, undefined, 'r3'],
    ],
  );
});

test("a domain event's name becomes the message and its own message the reason (Powertools would drop a `message` key)", async () => {
  const [entry] = await captured(async () =>
    warnEvents('modelServer')({ event: 'model_load_failed', model: 'covertype', version: 3, message: 'artifact altered' }),
  );
  assert.deepEqual(
    [entry.level, entry.message, entry.event, entry.source, entry.model, entry.version, entry.reason],
    ['WARN', 'model_load_failed', 'model_load_failed', 'modelServer', 'covertype', 3, 'artifact altered'],
  );
});

test('LOG_LEVEL is a config setting, INFO unless set', () => {
  assert.equal(loadConfig({}).LOG_LEVEL, 'INFO');
  assert.equal(loadConfig({ LOG_LEVEL: 'warn' }).LOG_LEVEL, 'WARN');
  assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL/);
});
