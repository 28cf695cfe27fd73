import middy from '@middy/core';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ArtifactHashMismatch, Conflict, NotFound } from '../src/errors.ts';
import {
  getLineage,
  getRun,
  type ModelVersion,
  listModelNames,
  listModelVersions,
  listPromotions,
  listRuns,
  rollbackChampion,
  setChampion,
} from '../src/registry/registry.ts';
import { datasetName, ExecutionId, modelName, RunId, VersionNumber, VersionParam } from '../src/schemas.ts';
import { getPool, getStore, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { withLogger } from './lib/log.ts';
import { httpErrors, json, parseJsonBody, parseQuery, pathParam, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { router } from './lib/router.ts';

/** Path parameters, validated before they reach SQL (which is parameterised anyway). */
const ModelName = modelName();

const RollbackBody = z.strictObject({
  version: VersionNumber.optional(),
  reason: z.string().min(1).max(500).default('rollback requested'),
  /** Makes a retried request a no-op; generated when absent. */
  request_id: z.string().min(1).max(200).optional(),
});
const ChampionBody = RollbackBody.extend({ version: VersionNumber, reason: z.string().min(1).max(500).default('manual promotion') });

const RunsQuery = z.object({
  dataset: datasetName().optional(),
  execution_id: ExecutionId.optional(),
  parent_run_id: RunId.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** A version may only become champion if its artifact is still there and unaltered: 409 with the reason otherwise. */
async function artifactIntact(version: ModelVersion): Promise<void> {
  try {
    await getStore().getVerifiedBytes(version.artifactKey, version.artifactSha256);
  } catch (error) {
    // Missing or altered; S3 being unreachable stays a retryable 503.
    if (!(error instanceof NotFound || error instanceof ArtifactHashMismatch)) throw error;
    throw new Conflict(`Version ${version.version} of ${version.modelName} cannot serve: ${error.message}`);
  }
}

async function summary(name: string) {
  const versions = await listModelVersions(getPool(), name);
  const aliases = Object.fromEntries(versions.flatMap((v) => v.aliases.map((a) => [a, v.version])));
  return { name, aliases, versions };
}

/** The registry over HTTP: models, versions with lineage, promotion history, rollback, runs. */
const registry = router('registry', {
  'GET /models': async () => json(200, { models: await Promise.all((await listModelNames(getPool())).map(summary)) }),
  'GET /models/{name}': async (event) => {
    const name = pathParam(ModelName, event, 'name');
    const model = await summary(name);
    if (model.versions.length === 0) throw new NotFound(`No registered model ${name}`);
    return json(200, { ...model, promotions: await listPromotions(getPool(), name) });
  },
  'GET /models/{name}/versions/{version}': async (event) =>
    json(200, await getLineage(getPool(), pathParam(ModelName, event, 'name'), pathParam(VersionParam, event, 'version'))),
  'GET /models/{name}/promotions': async (event) => json(200, { promotions: await listPromotions(getPool(), pathParam(ModelName, event, 'name')) }),
  'POST /models/{name}/rollback': async (event) => {
    const b = parseJsonBody(RollbackBody, event, { allowEmpty: true, maxBytes: 10_000 });
    return json(
      200,
      await rollbackChampion(getPool(), pathParam(ModelName, event, 'name'), b.version ?? null, b.request_id ?? randomUUID(), b.reason, artifactIntact),
    );
  },
  'POST /models/{name}/champion': async (event) => {
    const b = parseJsonBody(ChampionBody, event, { maxBytes: 10_000 });
    return json(
      200,
      await setChampion(getPool(), pathParam(ModelName, event, 'name'), b.version, b.request_id ?? randomUUID(), 'manual', b.reason, artifactIntact),
    );
  },
  'GET /runs': async (event) => {
    const q = parseQuery(RunsQuery, event);
    return json(200, { runs: await listRuns(getPool(), { dataset: q.dataset, executionId: q.execution_id, parentRunId: q.parent_run_id, limit: q.limit }) });
  },
  'GET /runs/{runId}': async (event) => {
    const run = await getRun(getPool(), pathParam(RunId, event, 'runId'));
    return json(200, { ...run, trials: await listRuns(getPool(), { parentRunId: run.runId }) });
  },
});

export const handler = middy<HttpEvent, HttpResponse>(registry).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(httpErrors());
