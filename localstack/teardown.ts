/**
 * Removes the pipeline from LocalStack (state machine, HTTP API or function URLs, functions).
 * The data in MySQL and MinIO stays; `docker compose down -v` removes the containers and their volumes.
 */
import { rm } from 'node:fs/promises';
import { checkLocalstack, clientsFor, DEPLOY_RECORD, readService } from './common.ts';
import { teardownPipeline } from './deploy-lib.ts';
import { loadDotEnv, loadSettings } from './settings.ts';

loadDotEnv();
const settings = loadSettings();
try {
  await checkLocalstack(settings.LOCALSTACK_ENDPOINT);
  await teardownPipeline(clientsFor(settings), await readService(), settings.STAGE, (line) => console.log(line));
  await rm(DEPLOY_RECORD, { force: true });
  console.log('Torn down. Containers and volumes: docker compose down -v');
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  process.exitCode = 1;
}
