import middy from '@middy/core';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { answerJson, logPrediction } from '../src/monitoring/records.ts';
import { ALIASES } from '../src/registry/registry.ts';
import { DEFAULT_DATASET, modelName, VersionNumber } from '../src/schemas.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { getConfig, getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { warnEvents, withLogger } from './lib/log.ts';
import { getPredictionLog, logPredictions } from './lib/prediction-log.ts';
import { httpErrors, jsonText, parseJsonBody, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { router } from './lib/router.ts';

const MAX_ROWS = 1000;
const MAX_BODY_BYTES = 1_000_000;

const PredictBody = z
  .strictObject({
    /** Registered model name; defaults to the only dataset shipped today. */
    model: modelName('model must be a model name such as "covertype"').default(DEFAULT_DATASET),
    model_version: VersionNumber.optional(),
    alias: z.enum(ALIASES).optional(),
    rows: z.array(z.unknown()).min(1, 'rows must hold at least one row').max(MAX_ROWS, `at most ${MAX_ROWS} rows per request`),
  })
  .refine((b) => !(b.model_version !== undefined && b.alias !== undefined), { message: 'give model_version or alias, not both', path: ['alias'] });

let server: ModelServer | undefined;

async function predict(event: HttpEvent): Promise<HttpResponse> {
  const started = performance.now();
  const body = parseJsonBody(PredictBody, event, { maxBytes: MAX_BODY_BYTES, emptyHint: 'send JSON like {"rows": [{...}]}' });
  // Problems the server works around (a champion that cannot load) are logged as one JSON line each.
  server ??= new ModelServer(getPool(), getStore(), getConfig().CHAMPION_CACHE_MS, {
    warn: warnEvents('modelServer'),
  });
  const result = await server.predict(
    { modelName: body.model, ...(body.model_version !== undefined ? { version: body.model_version } : {}), ...(body.alias ? { alias: body.alias } : {}) },
    body.rows,
  );
  // Monitoring: the answer carries its request id (feedback names it); the rows go to the prediction log's buffer.
  const log = getPredictionLog(server);
  const requestId = log.requestId();
  const answer = answerJson(requestId, result);
  const sentBody = event.isBase64Encoded ? undefined : (event.body ?? undefined);
  logPrediction(log, requestId, body.rows, result, performance.now() - started, { predictions: answer.predictionJson, body: sentBody });
  return jsonText(200, answer.text);
}

export const handler = middy<HttpEvent, HttpResponse>(router('predict', { 'POST /predict': predict }))
  .use(withLogger())
  .use(withSecrets())
  .use(releaseWhenInvokedLocally())
  .use(httpErrors())
  .use(logPredictions());
