import middy from '@middy/core';
import { z } from 'zod';
import { DEFAULT_DATA_API_SOURCES, resolveFromRepo } from '../src/config.ts';
import { batchSettingsFor, serveBatch, restartGroup } from '../src/data-api/service.ts';
import { DataSources } from '../src/data-api/sources.ts';
import { NotFound } from '../src/errors.ts';
import { getConfig, getPool, releaseWhenInvokedLocally } from './lib/context.ts';
import { DATASET_SLUG, httpErrors, json, parseQuery, type HttpEvent, type HttpResponse } from './lib/middleware.ts';

const GroupQuery = z.object({
  group_number: z.coerce.number({ error: 'group_number must be a number' }).int('group_number must be an integer').min(1).max(1000),
  /** Which dataset; the default one (covertype) when absent. */
  dataset: z.string().regex(DATASET_SLUG, 'dataset must be a dataset name such as "bodyfat"').optional(),
});

/** The served datasets, each read once per container. */
let sources: DataSources | undefined;
function dataSources(): DataSources {
  const c = getConfig();
  sources ??= new DataSources({
    defaultSpecPath: c.DATA_API_SPEC,
    defaultSourcePath: c.DATA_API_DATASET_PATH,
    specsDir: c.DATASET_SPECS_DIR,
    sources: { ...DEFAULT_DATA_API_SOURCES, ...c.DATA_API_SOURCES },
    resolve: resolveFromRepo,
  });
  return sources;
}

async function dataApi(event: HttpEvent): Promise<HttpResponse> {
  const { group_number: group, dataset } = parseQuery(GroupQuery, event);
  const c = getConfig();
  if (event.rawPath?.endsWith('/restart_data_generation')) {
    // Without a dataset, every dataset of the group starts again (the course API had only one).
    if (dataset !== undefined && !(await dataSources().names()).includes(dataset)) {
      throw new NotFound(`The data API serves no dataset named ${dataset} (it serves: ${(await dataSources().names()).join(', ')})`);
    }
    await restartGroup(getPool(), group, new Date(), dataset);
    return json(200, {
      ok: true, group_number: group, batch_number: 0, ...(dataset !== undefined ? { dataset } : {}),
      message: `Data generation restarted for group ${group}${dataset !== undefined ? ` of dataset ${dataset}` : ' (every dataset)'}`,
    });
  }
  if (!event.rawPath?.endsWith('/data')) throw new NotFound(`No route ${event.rawPath}`);
  const served = await dataSources().dataset(dataset);
  const base = { batches: c.DATA_API_BATCHES, intervalSeconds: c.DATA_API_BATCH_INTERVAL_SECONDS, sampleSize: c.DATA_API_SAMPLE_SIZE };
  const batchSize = c.DATA_API_BATCH_SIZES?.[served.spec.name] ?? served.spec.source?.batchSize;
  const settings = batchSettingsFor(base, served.rows.length, batchSize);
  return json(200, await serveBatch(getPool(), served.rows, group, settings, served.spec.name));
}

export const handler = middy<HttpEvent, HttpResponse>(dataApi).use(releaseWhenInvokedLocally()).use(httpErrors());
