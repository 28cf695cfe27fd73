import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../src/config.ts';
import { localstackClients, type Clients } from './clients.ts';
import { serviceDefinition, type DeployResult, type ServiceDefinition } from './deploy-lib.ts';
import type { Settings } from './settings.ts';

/** Where deploy.ts leaves what run.ts needs (endpoints, state machine ARN); .local/ is git-ignored. */
export const DEPLOY_RECORD = path.join(repoRoot, '.local', 'localstack-deploy.json');

export async function readService(): Promise<ServiceDefinition> {
  return serviceDefinition();
}

/** LocalStack's documented test key: account 000000000000. */
export const LOCALSTACK_KEYS = { accessKeyId: 'test', secretAccessKey: 'test' };

export function clientsFor(settings: Settings): Clients {
  return localstackClients({ endpoint: settings.LOCALSTACK_ENDPOINT, region: settings.AWS_REGION, ...LOCALSTACK_KEYS });
}

export async function readDeployRecord(): Promise<DeployResult | undefined> {
  try {
    return JSON.parse(await readFile(DEPLOY_RECORD, 'utf8')) as DeployResult;
  } catch {
    return undefined;
  }
}

/** Says what to do when LocalStack is not up, instead of a bare ECONNREFUSED. */
export async function checkLocalstack(endpoint: string): Promise<void> {
  try {
    const response = await fetch(new URL('/_localstack/health', endpoint), { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (error) {
    throw new Error(`LocalStack is not answering at ${endpoint} (${(error as Error).message}). Start the containers: docker compose up -d --wait`, {
      cause: error,
    });
  }
}
