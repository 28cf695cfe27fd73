/**
 * Deploys the pipeline into the compose stack (LocalStack + MinIO + MySQL):
 *   docker compose up -d --wait && npx node localstack/deploy.ts
 * Builds, packages with serverless (the same zip AWS gets), applies the MySQL schema, uploads the data
 * API's source CSV to MinIO, then creates or updates the functions of the service manifest
 * (src/service/manifest.ts), their HTTP routes and the state machine.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { repoRoot, resolveFromRepo } from '../src/config.ts';
import { readDefinitionText } from '../src/statemachine/definition.ts';
import { checkMysql } from '../src/embedded/stack.ts';
import { createPool, migrate } from '../src/storage/mysql.ts';
import { checkLocalstack, clientsFor, DEPLOY_RECORD, readService } from './common.ts';
import { localAdminToken } from '../src/embedded/admin-token.ts';
import { sharedEnvironment } from '../src/service/serverless.ts';
import { deployPipeline, functionEnvironment, secretParameterName } from './deploy-lib.ts';
import { IN_NETWORK, loadDotEnv, loadSettings, type Settings } from './settings.ts';

const PACKAGE_DIR = path.join(repoRoot, '.local', 'localstack-package');
const print = (line: string) => console.log(line);

function run(what: string, args: string[]): void {
  print(`$ ${what}`);
  // process.execPath: the same Node 22 as this script, whatever `node` is on PATH.
  const result = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status})`);
}

/** The schema is applied here, by the project's own `migrate`, through the port compose publishes. */
async function applySchema(settings: Settings): Promise<void> {
  const mysql = {
    host: '127.0.0.1',
    port: settings.MYSQL_HOST_PORT,
    user: settings.MYSQL_USER,
    password: settings.MYSQL_PASSWORD,
    database: settings.MYSQL_DATABASE,
  };
  await checkMysql(mysql);
  const pool = createPool(mysql);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  print(`MySQL 127.0.0.1:${mysql.port}/${mysql.database}: schema ready`);
}

/** Puts the source CSV where the data API function can read it: MinIO, under the public-read `sources/` prefix. */
async function uploadDatasetSource(settings: Settings): Promise<string> {
  const source = settings.DATA_API_DATASET_PATH;
  if (/^https?:\/\//.test(source)) return source;
  const file = resolveFromRepo(source);
  const key = `sources/${path.basename(file)}`;
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${settings.MINIO_PORT}`,
    region: settings.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.MINIO_ROOT_USER, secretAccessKey: settings.MINIO_ROOT_PASSWORD },
  });
  const size = (await stat(file)).size;
  const existing = await s3.send(new HeadObjectCommand({ Bucket: settings.S3_BUCKET, Key: key })).catch(() => undefined);
  if (existing?.ContentLength !== size) {
    await s3.send(new PutObjectCommand({ Bucket: settings.S3_BUCKET, Key: key, Body: await readFile(file) }));
    print(`MinIO: uploaded ${path.relative(repoRoot, file)} to s3://${settings.S3_BUCKET}/${key}`);
  }
  return `${IN_NETWORK.s3Endpoint}/${settings.S3_BUCKET}/${key}`;
}

loadDotEnv();
const settings = loadSettings();
try {
  await checkLocalstack(settings.LOCALSTACK_ENDPOINT);
  run('tsc -p tsconfig.build.json', [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
  run(`serverless package --package ${path.relative(repoRoot, PACKAGE_DIR)}`, [
    path.join(repoRoot, 'node_modules/serverless/bin/serverless.js'),
    'package',
    '--stage',
    settings.STAGE,
    '--package',
    PACKAGE_DIR,
  ]);
  const zipPath = path.join(PACKAGE_DIR, 'mlops-pipeline.zip');
  if (!existsSync(zipPath)) throw new Error(`serverless package left no ${zipPath}`);
  const zip = await readFile(zipPath);
  print(`package ${path.relative(repoRoot, zipPath)}: ${(zip.length / 1e6).toFixed(1)} MB`);

  await applySchema(settings);
  const datasetUrl = await uploadDatasetSource(settings);
  const service = await readService();
  const environment = functionEnvironment(service.environmentNames, {
    // Every setting of src/config.ts set here or in .env (sharedEnvironment leaves the secrets out)…
    ...sharedEnvironment(process.env),
    // …where the Lambda containers reach the compose services.
    MYSQL_HOST: IN_NETWORK.mysqlHost,
    MYSQL_PORT: String(IN_NETWORK.mysqlPort),
    S3_ENDPOINT: IN_NETWORK.s3Endpoint,
    S3_ACCESS_KEY_ID: settings.MINIO_ROOT_USER,
    DATA_API_DATASET_PATH: datasetUrl,
    // LocalStack's Lambdas reach SSM through AWS_ENDPOINT_URL, not a local emulator's endpoint.
    SSM_ENDPOINT: undefined,
  });
  // The admin token: ADMIN_TOKEN, else the one stored in .local/admin-token, else a new one stored there.
  const admin = await localAdminToken(process.env.ADMIN_TOKEN);
  const account = '000000000000';
  const result = await deployPipeline(clientsFor(settings), service, await readDefinitionText(), zip, {
    stage: settings.STAGE,
    region: settings.AWS_REGION,
    architecture: settings.LAMBDA_ARCH,
    lambdaRoleArn: `arn:aws:iam::${account}:role/${service.service}-${settings.STAGE}-lambda`,
    stateMachineRoleArn: `arn:aws:iam::${account}:role/${service.service}-${settings.STAGE}-states`,
    httpMode: settings.LOCALSTACK_HTTP,
    environment,
    // Written to LocalStack's SSM as SecureString parameters; the functions get only their names.
    secrets: { MYSQL_PASSWORD: settings.MYSQL_PASSWORD, S3_SECRET_ACCESS_KEY: settings.MINIO_ROOT_PASSWORD, ADMIN_TOKEN: admin.token },
    // LocalStack's DNS answers *.localhost.localstack.cloud inside the Lambda containers too.
    httpApiUrl: (apiId) => `http://${apiId}.execute-api.localhost.localstack.cloud:${new URL(settings.LOCALSTACK_ENDPOINT).port || '4566'}`,
    log: print,
  });
  await mkdir(path.dirname(DEPLOY_RECORD), { recursive: true });
  await writeFile(DEPLOY_RECORD, JSON.stringify(result, null, 2));
  print(
    `Admin token: in SSM ${secretParameterName(service.service, settings.STAGE, 'ADMIN_TOKEN')}${admin.source === 'environment' ? ' (from ADMIN_TOKEN)' : ` and in ${path.relative(process.cwd(), admin.file)} (mode 0600${admin.source === 'generated' ? ', generated now' : ''})`}`,
  );
  print(`\nDeployed. Run the pipeline: npx node localstack/run.ts`);
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  process.exitCode = 1;
}
