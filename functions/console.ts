import middy from '@middy/core';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { repoRoot } from '../src/config.ts';
import { InvalidInput, NotFound } from '../src/errors.ts';
import { batchPredict } from '../src/pipeline/batch-predict.ts';
import { ALIASES } from '../src/registry/registry.ts';
import { evaluateModelVersion, type ModelEvaluation } from '../src/serving/model-evaluation.ts';
import { DEFAULT_DATASET, modelName, VersionParam } from '../src/schemas.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { getConfig, getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { withLogger } from './lib/log.ts';
import { getPredictionLog, logPredictions } from './lib/prediction-log.ts';
import { httpErrors, json, parseQuery, pathParam, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { router } from './lib/router.ts';

/**
 * The web console, served by the project itself: GET / (the page), GET /console/{file} (its assets
 * from web/, the charting library from node_modules), and the two things the console needs beyond
 * the other APIs: a version's evaluation (confusion matrix, feature importances) and batch
 * prediction of an uploaded CSV.
 */

const WEB_DIR = path.join(repoRoot, 'web');
/** Files from node_modules the page loads, by the name it asks for: nothing else there is served. */
const VENDOR: Record<string, string> = {
  'chart.umd.min.js': path.join(repoRoot, 'node_modules', 'chart.js', 'dist', 'chart.umd.min.js'),
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};
const ASSET = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9]+)+$/;

const Name = modelName();
const BatchQuery = z
  .object({
    model: Name.default(DEFAULT_DATASET),
    version: VersionParam.optional(),
    alias: z.enum(ALIASES).optional(),
  })
  .refine((q) => !(q.version !== undefined && q.alias !== undefined), { message: 'give version or alias, not both', path: ['alias'] });

let server: ModelServer | undefined;
const getServer = (): ModelServer => {
  server ??= new ModelServer(getPool(), getStore(), getConfig().CHAMPION_CACHE_MS);
  return server;
};
/** Versions never change: an evaluation is computed once per container. */
const evaluations = new Map<string, Promise<ModelEvaluation>>();

async function file(name: string): Promise<HttpResponse> {
  const vendor = VENDOR[name];
  if (!vendor && !ASSET.test(name)) throw new NotFound(`No console file ${name}`);
  const full = vendor ?? path.join(WEB_DIR, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(full);
  } catch {
    throw new NotFound(`No console file ${name}`);
  }
  const type = TYPES[path.extname(full)] ?? 'application/octet-stream';
  const textual = type.startsWith('text/') || type === 'application/json' || type === 'image/svg+xml';
  return {
    statusCode: 200,
    headers: { 'content-type': type, 'cache-control': name.endsWith('.html') ? 'no-cache' : 'public, max-age=300', 'x-content-type-options': 'nosniff' },
    body: textual ? bytes.toString('utf8') : bytes.toString('base64'),
    ...(textual ? {} : { isBase64Encoded: true }),
  };
}

const asciiJson = (value: unknown): string => JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

async function batch(event: HttpEvent): Promise<HttpResponse> {
  const q = parseQuery(BatchQuery, event);
  const max = getConfig().CONSOLE_BATCH_MAX_BYTES;
  const bytes = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
  if (bytes.length === 0) throw new InvalidInput('Empty body: send a CSV file with a header row of feature names');
  if (bytes.length > max)
    throw new InvalidInput(`The CSV is ${bytes.length} bytes; at most ${max} bytes here (use the batchPredict function on S3 for larger files)`);
  const inputKey = `batch/uploads/${randomUUID()}.csv`;
  const store = getStore();
  await store.putBytes(inputKey, bytes, 'text/csv');
  const result = await batchPredict(
    getServer(),
    store,
    {
      modelName: q.model,
      inputKey,
      ...(q.version !== undefined ? { version: q.version } : {}),
      ...(q.alias ? { alias: q.alias } : {}),
    },
    getPredictionLog(getServer()),
  );
  const csv = Buffer.from(await store.getBytes(result.outputKey)).toString('utf8');
  return {
    statusCode: 200,
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="predictions-${q.model}-v${result.modelVersion}.csv"`,
      // Header values must be ASCII: JSON with \u escapes (reasons may quote any value).
      'x-batch-summary': asciiJson({ ...result, rejectedSample: result.rejectedSample.slice(0, 5) }),
    },
    body: csv,
  };
}

const consoleRoutes = router('console', {
  'GET /': () => file('index.html'),
  'GET /console/{file}': (event) => file(event.pathParameters?.file ?? ''),
  'GET /models/{name}/versions/{version}/evaluation': async (event) => {
    const name = pathParam(Name, event, 'name');
    const version = pathParam(VersionParam, event, 'version');
    const key = `${name}\u0000${version}`;
    let evaluation = evaluations.get(key);
    if (!evaluation) {
      evaluation = evaluateModelVersion(getPool(), getStore(), getServer(), name, version);
      evaluations.set(key, evaluation);
      evaluation.catch(() => evaluations.delete(key));
    }
    return json(200, await evaluation);
  },
  'POST /batch-predictions': batch,
});

export const handler = middy<HttpEvent, HttpResponse>(consoleRoutes)
  .use(withLogger())
  .use(withSecrets())
  .use(releaseWhenInvokedLocally())
  .use(httpErrors())
  .use(logPredictions());
