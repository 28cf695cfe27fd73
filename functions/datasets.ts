import { readdir } from 'node:fs/promises';
import middy from '@middy/core';
import { z } from 'zod';
import { resolveFromRepo } from '../src/config.ts';
import { InvalidInput, NotFound } from '../src/errors.ts';
import { getDatasetVersion, listDatasetVersions } from '../src/registry/datasets.ts';
import { getConfig, getPool, getSpec, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { DATASET_SLUG, httpErrors, json, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { router } from './lib/router.ts';

const PathParams = z.object({
  name: z.string().regex(DATASET_SLUG, 'name must be a dataset name such as "bodyfat"').optional(),
  version: z.coerce.number({ error: 'version must be a number' }).int('version must be an integer').positive().max(2_147_483_647).optional(),
});

function parsePath(event: HttpEvent): z.infer<typeof PathParams> {
  const result = PathParams.safeParse(event.pathParameters ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(path)', message: i.message }));
    throw new InvalidInput(`Invalid path: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, issues);
  }
  return result.data;
}

/** Dataset names that have a spec file. */
async function specNames(): Promise<string[]> {
  const files = await readdir(resolveFromRepo(getConfig().DATASET_SPECS_DIR)).catch(() => [] as string[]);
  return files.map((f) => /^([a-z0-9][a-z0-9_-]{0,63})\.spec\.json$/.exec(f)?.[1]).filter((n): n is string => n !== undefined);
}

async function specInfo(name: string) {
  try {
    const spec = await getSpec(name);
    return { task: spec.task, target: spec.target, ...(spec.description !== undefined ? { description: spec.description } : {}) };
  } catch (error) {
    if (error instanceof NotFound) return { task: null, target: null };
    throw error;
  }
}

/**
 * GET /datasets: every dataset (with a spec or with versions), its latest version and its drift.
 * GET /datasets/{name}: the dataset's versions, newest first, each with its drift summary.
 * GET /datasets/{name}/versions/{version}: one version with its column profile and drift report.
 */
async function datasets(event: HttpEvent): Promise<HttpResponse> {
  const { name, version } = parsePath(event);
  const pool = getPool();
  if (name !== undefined && version !== undefined) {
    return json(200, await getDatasetVersion(pool, getStore(), name, version));
  }
  if (name !== undefined) {
    const versions = await listDatasetVersions(pool, { dataset: name });
    const info = await specInfo(name);
    if (versions.length === 0 && info.task === null) throw new NotFound(`No dataset named ${name}`);
    return json(200, { name, ...info, versions });
  }
  const all = await listDatasetVersions(pool);
  const names = [...new Set([...(await specNames()), ...all.map((v) => v.dataset)])].sort();
  const list = await Promise.all(
    names.map(async (n) => {
      const versions = all.filter((v) => v.dataset === n);
      return { name: n, ...(await specInfo(n)), versions: versions.length, latest: versions[0] ?? null };
    }),
  );
  return json(200, { datasets: list });
}

// One handler for the three routes: which path parameters are there says which it is.
const routes = router('datasets', { 'GET /datasets': datasets, 'GET /datasets/{name}': datasets, 'GET /datasets/{name}/versions/{version}': datasets });

export const handler = middy<HttpEvent, HttpResponse>(routes).use(withSecrets()).use(releaseWhenInvokedLocally()).use(httpErrors());
