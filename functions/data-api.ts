import middy from '@middy/core';
import { z } from 'zod';
import { type ConfigKey, DEFAULT_DATA_API_SOURCES, resolveFromRepo } from '../src/config.ts';
import { batchSettingsFor, COURSE_BAD_GROUP, COURSE_END_OF_DATA, GROUP_NUMBERS, serveBatch, restartGroup } from '../src/data-api/service.ts';
import { DataSources } from '../src/data-api/sources.ts';
import { InvalidInput, NoMoreBatches, NotFound, type PipelineError } from '../src/errors.ts';
import { datasetName } from '../src/schemas.ts';
import { getConfig, getPool, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { httpErrors, json, parseQuery, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { withLogger } from './lib/log.ts';
import { router } from './lib/router.ts';

const GroupQuery = z.object({
  group_number: z.coerce
    .number({ error: 'group_number must be a number' })
    .int('group_number must be an integer')
    .min(GROUP_NUMBERS.min, `group_number must be ${GROUP_NUMBERS.min}..${GROUP_NUMBERS.max}`)
    .max(GROUP_NUMBERS.max, `group_number must be ${GROUP_NUMBERS.min}..${GROUP_NUMBERS.max}`),
  /** Which dataset; the default one (covertype) when absent. */
  dataset: datasetName('dataset must be a dataset name such as "bodyfat"').optional(),
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
    settingNames: { defaultSource: 'DATA_API_DATASET_PATH' satisfies ConfigKey, sources: 'DATA_API_SOURCES' satisfies ConfigKey },
  });
  return sources;
}

const dataApi = router('dataApi', {
  'GET /restart_data_generation': async (event) => {
    const { group_number: group, dataset } = parseQuery(GroupQuery, event);
    // Without a dataset, every dataset of the group starts again (the course API had only one).
    if (dataset !== undefined && !(await dataSources().names()).includes(dataset)) {
      throw new NotFound(`The data API serves no dataset named ${dataset} (it serves: ${(await dataSources().names()).join(', ')})`);
    }
    await restartGroup(getPool(), group, new Date(), dataset);
    // The course's API answers `{'ok'}`, a Python set FastAPI sends as ["ok"].
    return json(200, ['ok']);
  },
  'GET /data': async (event) => {
    const { group_number: group, dataset } = parseQuery(GroupQuery, event);
    const c = getConfig();
    const served = await dataSources().dataset(dataset);
    const base = { batches: c.DATA_API_BATCHES, intervalSeconds: c.DATA_API_BATCH_INTERVAL_SECONDS, sampleSize: c.DATA_API_SAMPLE_SIZE };
    const batchSize = c.DATA_API_BATCH_SIZES?.[served.spec.name] ?? served.spec.source?.batchSize;
    const settings = batchSettingsFor(base, served.rows.length, batchSize);
    return json(200, await serveBatch(getPool(), served.rows, group, settings, served.spec.name));
  },
});

/** The `detail` of an error, as the course's API words it where it has the same error (clients may compare it). */
function courseDetail(error: PipelineError): string {
  if (error instanceof NoMoreBatches) return COURSE_END_OF_DATA;
  if (error instanceof InvalidInput && error.issues.some((i) => i.field === 'group_number')) return COURSE_BAD_GROUP;
  return error.message;
}

export const handler = middy<HttpEvent, HttpResponse>(dataApi)
  .use(withLogger())
  .use(withSecrets())
  .use(releaseWhenInvokedLocally())
  .use(httpErrors({ detail: courseDetail }));
