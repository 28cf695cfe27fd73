import middy from '@middy/core';
import { z } from 'zod';
import { resolveFromRepo } from '../src/config.ts';
import { serveBatch, restartGroup } from '../src/data-api/service.ts';
import { loadDatasetRows } from '../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../src/dataset/spec.ts';
import { NotFound } from '../src/errors.ts';
import { getConfig, getPool, releaseWhenInvokedLocally } from './lib/context.ts';
import { httpErrors, json, parseQuery, type HttpEvent, type HttpResponse } from './lib/middleware.ts';

const GroupQuery = z.object({
  group_number: z.coerce.number({ error: 'group_number must be a number' }).int('group_number must be an integer').min(1).max(1000),
});

/** The served dataset, read once per container. */
let rows: Promise<string[][]> | undefined;
function datasetRows(): Promise<string[][]> {
  const c = getConfig();
  rows ??= readDatasetSpecFile(resolveFromRepo(c.DATA_API_SPEC))
    .then((spec) => loadDatasetRows(spec, resolveFromRepo(c.DATA_API_DATASET_PATH)))
    .catch((error: unknown) => {
      rows = undefined;
      throw error;
    });
  return rows;
}

async function dataApi(event: HttpEvent): Promise<HttpResponse> {
  const { group_number: group } = parseQuery(GroupQuery, event);
  const c = getConfig();
  if (event.rawPath?.endsWith('/restart_data_generation')) {
    await restartGroup(getPool(), group);
    return json(200, { ok: true, group_number: group, batch_number: 0, message: `Data generation restarted for group ${group}` });
  }
  if (!event.rawPath?.endsWith('/data')) throw new NotFound(`No route ${event.rawPath}`);
  const settings = { batches: c.DATA_API_BATCHES, intervalSeconds: c.DATA_API_BATCH_INTERVAL_SECONDS, sampleSize: c.DATA_API_SAMPLE_SIZE };
  return json(200, await serveBatch(getPool(), await datasetRows(), group, settings));
}

export const handler = middy<HttpEvent, HttpResponse>(dataApi).use(releaseWhenInvokedLocally()).use(httpErrors());
