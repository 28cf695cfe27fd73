import type { MiddlewareObj } from '@middy/core';
import { loadConfig, mysqlSettings, resolveFromRepo, s3Settings, SECRET_PARAMETERS, type Config, type SecretSetting } from '../../src/config.ts';
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

/** Secrets read from SSM by this container, by setting: read once, at the first invocation that needs them. */
const secrets: Partial<Record<SecretSetting, string>> = {};

/**
 * Where this handler runs: `lambda` (AWS or LocalStack: the process is frozen between invocations),
 * `offline` (serverless-offline: a long-lived process) or `invoke-local` (`serverless invoke local`: one
 * invocation, then the process ends).
 */
export function hostRuntime(): 'lambda' | 'offline' | 'invoke-local' {
  if (process.env.IS_LOCAL === 'true') return 'invoke-local';
  if (process.env.IS_OFFLINE === 'true' || !process.env.AWS_LAMBDA_FUNCTION_NAME) return 'offline';
  return 'lambda';
}

/**
 * Reads the `needed` secrets whose SSM parameters the environment names (SecureString, decrypted, one
 * GetParameters call) and puts them into the config; each is read once per container. Deployed functions
 * hold only the parameter names. Local invocations (serverless-offline, `serverless invoke local`) take
 * the secrets from their plain environment and read nothing.
 */
export async function loadSecrets(needed: readonly SecretSetting[]): Promise<void> {
  if (process.env.IS_OFFLINE === 'true' || process.env.IS_LOCAL === 'true') return;
  const c = getConfig();
  const missing = needed.flatMap((setting) => {
    const name = c[SECRET_PARAMETERS[setting]];
    return name !== undefined && secrets[setting] === undefined ? [{ setting, name }] : [];
  });
  if (missing.length === 0) return;
  // Imported here, not with the module: only a deployed function with parameter names reads SSM, and
  // the client adds a few hundred ms to every other cold start.
  const { GetParametersCommand, SSMClient } = await import('@aws-sdk/client-ssm');
  const client = new SSMClient({ region: c.AWS_REGION, ...(c.SSM_ENDPOINT ? { endpoint: c.SSM_ENDPOINT } : {}) });
  try {
    const answer = await client.send(new GetParametersCommand({ Names: missing.map((m) => m.name), WithDecryption: true }));
    const values = new Map((answer.Parameters ?? []).map((p) => [p.Name, p.Value]));
    const absent = missing.filter((m) => values.get(m.name) === undefined);
    if (absent.length > 0) {
      throw new Error(`Missing SSM parameters ${absent.map((m) => `${m.name} (${m.setting})`).join(', ')}: create them (SecureString) before deploying`);
    }
    for (const m of missing) secrets[m.setting] = values.get(m.name);
  } finally {
    client.destroy();
  }
  config = loadConfig({ ...process.env, ...secrets });
}

/**
 * Loads the function's secrets before its handler runs: the MySQL password and the S3 secret key (where
 * configured), and the `extra` ones this function uses (its role may read only those).
 */
export function withSecrets(...extra: SecretSetting[]): MiddlewareObj {
  const needed: SecretSetting[] = ['MYSQL_PASSWORD', 'S3_SECRET_ACCESS_KEY', ...extra];
  return { before: () => loadSecrets(needed) };
}

export function getPool(): Pool {
  const c = getConfig();
  pool ??= createPool(mysqlSettings(c));
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
    if (hostRuntime() !== 'invoke-local') return;
    await pool?.end().catch(() => undefined);
    pool = undefined;
    store?.client.destroy();
    store = undefined;
  };
  return { after: release, onError: release };
}
