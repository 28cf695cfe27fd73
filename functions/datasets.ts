import { readdir } from 'node:fs/promises';
import middy from '@middy/core';
import { z } from 'zod';
import { resolveFromRepo } from '../src/config.ts';
import { NotFound } from '../src/errors.ts';
import { getDatasetVersion, listDatasetVersions } from '../src/registry/datasets.ts';
import { DATASET_NAME, datasetName, parseInput, VersionParam } from '../src/schemas.ts';
import { getConfig, getPool, getSpec, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { httpErrors, json, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { withLogger } from './lib/log.ts';
import { router } from './lib/router.ts';

const PathParams = z.object({
  name: datasetName('name must be a dataset name such as "bodyfat"').optional(),
  version: VersionParam.optional(),
});

function parsePath(event: HttpEvent): z.infer<typeof PathParams> {
  return parseInput(PathParams, event.pathParameters ?? {}, 'path', { whole: '(path)' });
}

/** Dataset names that have a spec file. */
async function specNames(): Promise<string[]> {
  const files = await readdir(resolveFromRepo(getConfig().DATASET_SPECS_DIR)).catch(() => [] as string[]);
  return files.flatMap((f) => (f.endsWith('.spec.json') ? [f.slice(0, -'.spec.json'.length)] : [])).filter((name) => DATASET_NAME.test(name));
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

export const handler = middy<HttpEvent, HttpResponse>(routes).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(httpErrors());
