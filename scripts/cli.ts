/**
 * The pipeline from the command line, against a running stack (`npm start` leaves one up):
 *
 *   npm run cli -- run [--batches 3 --interval 5 --trials 3 --trees 50 --dataset covertype]  start an execution, follow it
 *   npm run cli -- executions                                        the latest executions and their status
 *   npm run cli -- redrive <execution>                               a failed execution goes on from where it failed
 *   npm run cli -- runs [--execution <id>] [--dataset covertype]     list runs and compare metrics
 *   npm run cli -- models [name]                                     versions, aliases, metrics
 *   npm run cli -- promote <name> <version> [--reason "..."]          make a version champion
 *   npm run cli -- rollback <name> [version] [--reason "..."]         back to the previous (or given) champion
 *   npm run cli -- predict <file.csv> [--model covertype] [--version N] [--out out.csv]
 *   npm run cli -- reproduce <name> <version>                        retrain from lineage, compare hashes
 *
 * --api (default http://127.0.0.1:3000) is the HTTP API, --lambda (http://127.0.0.1:3002) the Lambda
 * endpoint, --sfn (SFN_ENDPOINT, default http://127.0.0.1:8083) the Step Functions API and
 * --state-machine (STATE_MACHINE_ARN, default the embedded stack's pipeline) the state machine: run,
 * executions and redrive use @aws-sdk/client-sfn against it on any runtime (`--sfn aws` for AWS's own
 * endpoint). MySQL and S3 settings come from the environment as for the functions (src/config.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LOCAL_STACK_S3, loadConfig, mysqlSettings, s3Settings } from '../src/config.ts';
import { reproduceVersion } from '../src/pipeline/reproduce.ts';
import { ADMIN_TOKEN_FILE, findAdminToken } from '../src/embedded/admin-token.ts';
import { errorTypeOf } from '../src/embedded/lambda-invoker.ts';
import { SERVICE, STAGE } from '../src/statemachine/definition.ts';
import { EMBEDDED_SFN_ENDPOINT, EMBEDDED_STATE_MACHINE_ARN, executionsClient } from './lib/executions-client.ts';
import { pipelineInput, pipelineInputOptions } from './lib/pipeline-input.ts';
import { progressPrinter } from './lib/progress.ts';
import { createPool } from '../src/storage/mysql.ts';
import { ArtifactStore } from '../src/storage/s3.ts';
import { DEFAULT_DATASET } from '../src/schemas.ts';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    api: { type: 'string', default: process.env.MLOPS_API_URL ?? 'http://127.0.0.1:3000' },
    lambda: { type: 'string', default: process.env.MLOPS_LAMBDA_URL ?? 'http://127.0.0.1:3002' },
    sfn: { type: 'string', default: process.env.SFN_ENDPOINT ?? EMBEDDED_SFN_ENDPOINT },
    'state-machine': { type: 'string', default: process.env.STATE_MACHINE_ARN ?? EMBEDDED_STATE_MACHINE_ARN },
    ...pipelineInputOptions,
    execution: { type: 'string' },
    model: { type: 'string', default: DEFAULT_DATASET },
    version: { type: 'string' },
    reason: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const [command, ...rest] = positionals;

const fail = (message: string): never => {
  console.error(message);
  process.exit(1);
};

async function api(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    // Rollback, promote and run need the admin token: ADMIN_TOKEN, else the one `npm start` stored.
    const token = method === 'GET' ? undefined : await findAdminToken(process.env.ADMIN_TOKEN);
    const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    response = await fetch(`${opts.api}${route}`, {
      method,
      headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    return fail(`Cannot reach the API at ${opts.api} (${(error as Error).message}). Is the stack running (npm start)?`);
  }
  const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  const hint =
    response.status === 401 || response.status === 403
      ? `\nSet ADMIN_TOKEN to the deployment's admin token (npm start stores its own in ${path.relative(process.cwd(), ADMIN_TOKEN_FILE)}).`
      : '';
  if (!response.ok) fail(`${method} ${route} → ${response.status} ${String(payload.error ?? '')}: ${String(payload.message ?? '')}${hint}`);
  return payload;
}

const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : v === null || v === undefined ? '' : String(v));

function table(rows: Record<string, unknown>[], columns: string[]): void {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(line(columns));
  for (const r of rows) console.log(line(columns.map((c) => fmt(r[c]))));
}

function storage() {
  const c = loadConfig({ ...LOCAL_STACK_S3, ...process.env });
  const pool = createPool(mysqlSettings(c));
  return { pool, store: new ArtifactStore(s3Settings(c)), config: c };
}

/** The pipeline's executions through the Step Functions API of the runtime in use. */
const stepFunctions = () => executionsClient({ stateMachineArn: opts['state-machine'], ...(opts.sfn !== 'aws' ? { endpoint: opts.sfn } : {}) });

/** Runs a Step Functions call, or says which endpoint did not answer. */
async function sfnCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    return fail(`Step Functions (${opts.sfn}, ${opts['state-machine']}): ${(error as Error).message}. Is the stack running (npm start or npm run serve)?`);
  }
}

/** Follows an execution to its end with progress lines; exits 0 only when it succeeded. */
async function followToEnd(executionArn: string, fromLastRedrive = false): Promise<never> {
  const sfn = await stepFunctions();
  const result = await sfnCall(() => sfn.follow(executionArn, { onEvent: progressPrinter((l) => console.log(l)), fromLastRedrive }));
  console.log(
    result.status === 'SUCCEEDED'
      ? JSON.stringify((result.output as { promotion?: unknown } | null)?.promotion ?? result.output, null, 2)
      : `${result.status} ${result.error ?? ''}: ${result.cause ?? ''}\nRedrive it from where it failed: npm run cli -- redrive ${result.name}`,
  );
  process.exit(result.status === 'SUCCEEDED' ? 0 : 1);
}

switch (command) {
  case 'run': {
    const input = await pipelineInput(opts);
    const sfn = await stepFunctions();
    const started = await sfnCall(() => sfn.start(input));
    console.log(`Execution ${started.executionArn}\nInput ${JSON.stringify(input)}`);
    await followToEnd(started.executionArn);
    break;
  }
  case 'executions': {
    const sfn = await stepFunctions();
    const executions = await sfnCall(() => sfn.list(20));
    if (opts.json) {
      console.log(JSON.stringify(executions, null, 2));
      break;
    }
    table(
      executions.map((e) => ({
        execution: e.name,
        status: e.status,
        started: e.startedAt,
        seconds: e.durationMs === null ? '' : Math.round(e.durationMs / 1000),
        redrives: e.redriveCount ?? 0,
      })),
      ['execution', 'status', 'started', 'seconds', 'redrives'],
    );
    break;
  }
  case 'redrive': {
    const [execution] = rest;
    if (!execution) fail('usage: cli redrive <execution name or ARN>');
    const sfn = await stepFunctions();
    const redriven = await sfnCall(() => sfn.redrive(execution));
    console.log(`Redriven ${redriven.executionArn} at ${redriven.redriveDate}`);
    await followToEnd(redriven.executionArn, true);
    break;
  }
  case 'runs': {
    const query = new URLSearchParams({
      ...(opts.execution ? { execution_id: opts.execution } : {}),
      ...(opts.dataset ? { dataset: opts.dataset } : {}),
      limit: '50',
    });
    const { runs } = (await api('GET', `/runs?${query}`)) as {
      runs: {
        runId: string;
        parentRunId: string | null;
        status: string;
        cachedFromRunId?: string | null;
        datasetVersion: number;
        params: Record<string, unknown>;
        metrics: Record<string, unknown> | null;
      }[];
    };
    if (opts.json) {
      console.log(JSON.stringify(runs, null, 2));
      break;
    }
    table(
      runs.map((r) => ({
        run: r.runId.slice(0, 8),
        parent: r.parentRunId?.slice(0, 8) ?? '(search)',
        status: r.cachedFromRunId ? `cached from ${r.cachedFromRunId.slice(0, 8)}` : r.status,
        data: r.datasetVersion,
        // Runs from before model families were searched have none: they are forests.
        family: r.params.search ? '' : (r.params.family ?? 'forest'),
        trees: r.params.nEstimators,
        depth: r.params.maxDepth ?? (r.params.search ? '' : 'full'),
        leaf: r.params.minSamplesLeaf,
        features: r.params.maxFeatures,
        accuracy: r.metrics?.accuracy ?? r.metrics?.best_accuracy,
        macro_f1: r.metrics?.macro_f1,
        auroc: r.metrics?.auroc_ovr ?? r.metrics?.best_auroc_ovr,
        avg_precision: r.metrics?.average_precision,
        rmse: r.metrics?.rmse,
      })),
      ['run', 'parent', 'status', 'data', 'family', 'trees', 'depth', 'leaf', 'features', 'accuracy', 'macro_f1', 'auroc', 'avg_precision', 'rmse'],
    );
    break;
  }
  case 'models': {
    const models = rest[0] ? [await api('GET', `/models/${encodeURIComponent(rest[0])}`)] : ((await api('GET', '/models')).models as Record<string, unknown>[]);
    if (opts.json) {
      console.log(JSON.stringify(models, null, 2));
      break;
    }
    for (const m of models as {
      name: string;
      versions: {
        version: number;
        aliases: string[];
        datasetVersion: number;
        runId: string;
        family: string;
        testMetrics: Record<string, unknown>;
        createdAt: string;
      }[];
    }[]) {
      console.log(`\n${m.name}`);
      table(
        m.versions.map((v) => ({
          version: v.version,
          aliases: v.aliases.join(','),
          data: v.datasetVersion,
          run: v.runId.slice(0, 8),
          family: v.family,
          ...v.testMetrics,
          created: v.createdAt,
        })),
        ['version', 'aliases', 'data', 'run', 'family', 'rows', 'accuracy', 'macro_f1', 'auroc_ovr', 'average_precision', 'rmse', 'mae', 'r2', 'created'],
      );
    }
    break;
  }
  case 'promote': {
    const [name, version] = rest;
    if (!name || !version) fail('usage: cli promote <name> <version> [--reason "..."]');
    console.log(
      JSON.stringify(
        await api('POST', `/models/${encodeURIComponent(name)}/champion`, {
          version: Number(version),
          request_id: randomUUID(),
          ...(opts.reason ? { reason: opts.reason } : {}),
        }),
        null,
        2,
      ),
    );
    break;
  }
  case 'rollback': {
    const [name, version] = rest;
    if (!name) fail('usage: cli rollback <name> [version] [--reason "..."]');
    console.log(
      JSON.stringify(
        await api('POST', `/models/${encodeURIComponent(name)}/rollback`, {
          ...(version ? { version: Number(version) } : {}),
          request_id: randomUUID(),
          ...(opts.reason ? { reason: opts.reason } : {}),
        }),
        null,
        2,
      ),
    );
    break;
  }
  case 'predict': {
    const [file] = rest;
    if (!file) fail('usage: cli predict <file.csv> [--model covertype] [--version N] [--out out.csv]');
    const { store } = storage();
    await store.ensureBucket();
    const inputKey = `batch/inputs/${randomUUID()}.csv`;
    await store.putBytes(inputKey, await readFile(file), 'text/csv');
    const lambda = new LambdaClient({ endpoint: opts.lambda, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const event = { model: opts.model, inputKey, ...(opts.version ? { version: Number(opts.version) } : {}) };
    const response = await lambda.send(new InvokeCommand({ FunctionName: `${SERVICE}-${STAGE}-batchPredict`, Payload: Buffer.from(JSON.stringify(event)) }));
    const result = JSON.parse(Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8')) as Record<string, unknown>;
    if (response.FunctionError) fail(`batch prediction failed: ${errorTypeOf(result)}: ${String(result.errorMessage)}`);
    const out = opts.out ?? path.join(path.dirname(file), `${path.basename(file, '.csv')}.predictions.csv`);
    await writeFile(out, await store.getBytes(String(result.outputKey)));
    console.log(
      `${String(result.predicted)} of ${String(result.rows)} rows predicted with ${String(result.modelName)} v${String(result.modelVersion)}, ${String(result.rejected)} rejected → ${out}`,
    );
    for (const r of (result.rejectedSample ?? []) as { line: number; reason: string }[]) console.log(`  line ${r.line}: ${r.reason}`);
    break;
  }
  case 'reproduce': {
    const [name, version] = rest;
    if (!name || !version) fail('usage: cli reproduce <name> <version>');
    const { pool, store } = storage();
    try {
      const result = await reproduceVersion(pool, store, name, Number(version));
      console.log(JSON.stringify(result, null, 2));
      console.log(
        result.identical ? `✓ ${name} v${version} rebuilt byte for byte from its lineage` : `✗ ${name} v${version} did NOT rebuild to the registered artifact`,
      );
      process.exitCode = result.identical ? 0 : 1;
    } finally {
      await pool.end();
    }
    break;
  }
  default:
    fail('usage: npm run cli -- <run|executions|redrive|runs|models|promote|rollback|predict|reproduce> … (see scripts/cli.ts)');
}
