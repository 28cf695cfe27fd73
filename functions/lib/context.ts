import type { MiddlewareObj } from '@middy/core';
import { loadConfig, resolveFromRepo, s3Settings, type Config } from '../../src/config.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../../src/dataset/spec.ts';
import { NotFound } from '../../src/errors.ts';
import { createPool, type Pool } from '../../src/storage/mysql.ts';
import { ArtifactStore } from '../../src/storage/s3.ts';

/**
 * What a Lambda container keeps between invocations: config, one MySQL pool, one S3 client, and
 * parsed dataset specs. Built on first use, so a cold start pays once and a bad config fails loudly.
 */
let config: Config | undefined;
let pool: Pool | undefined;
let store: ArtifactStore | undefined;
const specs = new Map<string, Promise<DatasetSpec>>();

export function getConfig(): Config {
  config ??= loadConfig();
  return config;
}

export function getPool(): Pool {
  const c = getConfig();
  pool ??= createPool({ host: c.MYSQL_HOST, port: c.MYSQL_PORT, user: c.MYSQL_USER, password: c.MYSQL_PASSWORD, database: c.MYSQL_DATABASE });
  return pool;
}

export function getStore(): ArtifactStore {
  const c = getConfig();
  store ??= new ArtifactStore(s3Settings(c));
  return store;
}

/** The spec of a dataset by name (a validated slug, so it cannot walk out of the specs folder). */
export function getSpec(dataset: string): Promise<DatasetSpec> {
  let spec = specs.get(dataset);
  if (!spec) {
    const file = resolveFromRepo(`${getConfig().DATASET_SPECS_DIR}/${dataset}.spec.json`);
    spec = readDatasetSpecFile(file).catch((error: unknown) => {
      specs.delete(dataset);
      if ((error as { code?: string }).code === 'ENOENT') throw new NotFound(`No dataset spec named ${dataset}`);
      throw error;
    });
    specs.set(dataset, spec);
  }
  return spec;
}

/**
 * `serverless invoke local` (which sets IS_LOCAL) waits for the event loop to empty, and an open
 * MySQL pool never lets it: close the container's resources after each local invocation.
 * Deployed and offline functions keep them for the next request.
 */
export function releaseWhenInvokedLocally(): MiddlewareObj {
  const release = async () => {
    if (process.env.IS_LOCAL !== 'true') return;
    await pool?.end().catch(() => undefined);
    pool = undefined;
    store?.client.destroy();
    store = undefined;
  };
  return { after: release, onError: release };
}
