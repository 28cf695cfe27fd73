import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, mysqlSettings, repoRoot } from '../../src/config.ts';
import { localAdminToken } from '../../src/embedded/admin-token.ts';
import { EmbeddedStack } from '../../src/embedded/stack.ts';
import { scheduleMonitor } from '../../src/monitoring/local-schedule.ts';

/**
 * Start-up of the embedded stack shared by `npm start` (scripts/run-local.ts) and `npm run serve`
 * (scripts/serve.ts): the command-line options, the stack built from the environment's config, a
 * clean stop on Ctrl-C, and what is printed once it serves.
 */

/** The stack's options for node:util parseArgs (fixed ports by default, so URLs stay the same). */
export const stackOptions = {
  'http-port': { type: 'string', default: '3000' },
  's3-port': { type: 'string', default: '4569' },
  'lambda-port': { type: 'string', default: '3002' },
  /** The Step Functions API (8083, as Step Functions Local). */
  'sfn-port': { type: 'string', default: '8083' },
  /** Where the S3 server keeps its files (default .local/s3). */
  's3-dir': { type: 'string' },
  /** An external data API (the course's) instead of the stack's own; DATA_API_URL does the same. */
  'data-api-url': { type: 'string', default: process.env.DATA_API_URL },
  /** Seconds between the monitor's checks (its EventBridge schedule on AWS); unset: only on demand. */
  'monitor-every': { type: 'string' },
  verbose: { type: 'boolean', default: false },
} as const;

export interface StackArgs {
  'http-port': string;
  's3-port': string;
  'lambda-port': string;
  'sfn-port': string;
  's3-dir'?: string;
  'data-api-url'?: string;
  'monitor-every'?: string;
  verbose: boolean;
}

export interface RunningStack {
  stack: EmbeddedStack;
  /** Stops the stack and ends the process with `code`. */
  shutdown(code: number): Promise<never>;
}

/** Starts the embedded stack; Ctrl-C or SIGTERM stops it. Start-up failures end the process with their message. */
export async function startEmbeddedStack(args: StackArgs, print: (line: string) => void, functionEnv: Record<string, string> = {}): Promise<RunningStack> {
  const config = loadConfig();
  const externalDataApi = args['data-api-url'] || undefined;
  if (externalDataApi !== undefined && !URL.canParse(externalDataApi)) {
    console.error(`--data-api-url: not a URL: ${externalDataApi}`);
    process.exit(2);
  }
  const admin = await localAdminToken(process.env.ADMIN_TOKEN).catch((error: unknown) => {
    console.error((error as Error).message);
    return process.exit(2);
  });
  const stack = new EmbeddedStack({
    mysql: mysqlSettings(config),
    bucket: config.S3_BUCKET,
    httpPort: Number(args['http-port']),
    s3Port: Number(args['s3-port']),
    lambdaPort: Number(args['lambda-port']),
    sfnPort: Number(args['sfn-port']),
    ...(args['s3-dir'] ? { s3Directory: path.resolve(args['s3-dir']) } : {}),
    functionEnv: {
      DATA_API_BATCH_INTERVAL_SECONDS: String(config.DATA_API_BATCH_INTERVAL_SECONDS),
      DATA_API_SAMPLE_SIZE: String(config.DATA_API_SAMPLE_SIZE),
      DATA_API_DATASET_PATH: config.DATA_API_DATASET_PATH,
      ...functionEnv,
    },
    adminToken: admin.token,
    ...(externalDataApi !== undefined ? { dataApiUrl: externalDataApi } : {}),
    log: print,
    verbose: args.verbose,
  });
  const shutdown = async (code: number): Promise<never> => {
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  try {
    await stack.start();
    print(
      admin.source === 'environment'
        ? 'Admin token: ADMIN_TOKEN of the environment'
        : `Admin token: ${admin.source === 'generated' ? 'generated and stored' : 'stored'} in ${path.relative(process.cwd(), admin.file)} (mode 0600); the CLI reads it from there, the console asks for it once`,
    );
  } catch (error) {
    console.error(`\n${(error as Error).message}`);
    return shutdown(1);
  }
  return { stack, shutdown };
}

/** The sample request for a dataset (examples/<dataset>.predict.json) and where it lives. */
async function sampleRequest(dataset: string): Promise<{ path: string; body: unknown }> {
  const samplePath = path.join(repoRoot, 'examples', `${path.basename(dataset)}.predict.json`);
  return { path: samplePath, body: JSON.parse(await readFile(samplePath, 'utf8').catch(() => `{"model":"${dataset}","rows":[{}]}`)) as unknown };
}

/** One POST /predict with the dataset's sample request, printed; true when it answered 200. */
/** The scalar metrics, 4 decimals (per class: GET /models/<name>/versions/<v>/evaluation). */
export function formatMetrics(metrics: Record<string, unknown>): string {
  return Object.entries(metrics)
    .flatMap(([k, v]) => (typeof v === 'number' ? [`${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`] : []))
    .join(', ');
}

export async function samplePredict(stack: EmbeddedStack, dataset: string, print: (line: string) => void): Promise<boolean> {
  const sample = await sampleRequest(dataset);
  const response = await fetch(`${stack.baseUrl}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(sample.body),
  });
  print(`POST ${stack.baseUrl}/predict → ${response.status} ${await response.text()}`);
  return response.ok;
}

/** Where to go from here, once the stack serves. */
export async function printServing(stack: EmbeddedStack, dataset: string, print: (line: string) => void): Promise<void> {
  const sample = await sampleRequest(dataset);
  print(`\nConsole: ${stack.baseUrl}/   (executions, runs, models, predict)`);
  print(`Serving predictions at ${stack.baseUrl}/predict (data API at ${stack.baseUrl}/data). Ctrl-C to stop. Try:`);
  print(`  curl -s -X POST ${stack.baseUrl}/predict -H 'content-type: application/json' -d @${path.relative(process.cwd(), sample.path)}`);
  print(`  npm run cli -- models      npm run cli -- runs      npm run cli -- rollback ${dataset}`);
}

/** --monitor-every N: invokes the monitor function every N seconds, as its schedule does on AWS. */
export function scheduleMonitorIfAsked(stack: EmbeddedStack, args: StackArgs, print: (line: string) => void): void {
  if (!args['monitor-every']) return;
  print(`Monitoring every ${args['monitor-every']} s (console: ${stack.baseUrl}/#/monitoring).`);
  scheduleMonitor(`http://127.0.0.1:${stack.lambdaPort}`, Number(args['monitor-every']), (line) => print(`${new Date().toISOString()}  ${line}`));
}
