import middy from '@middy/core';
import { z } from 'zod';
import { InvalidInput } from '../src/errors.ts';
import type { AslMachine } from '../src/runtime/asl-graph.ts';
import { readDefinitionText } from '../src/runtime/definition.ts';
import { MysqlExecutionLog } from '../src/runtime/execution-log.ts';
import {
  checkExecutionId, describeExecution, EmbeddedExecutions, nestedStateNames, type ExecutionSource, type StartLocal,
} from '../src/runtime/executions.ts';
import { stateMachineArnFromFunctionArn, StepFunctionsExecutions } from '../src/runtime/sfn-executions.ts';
import { createPool } from '../src/storage/mysql.ts';
import { getConfig, getPool, releaseWhenInvokedLocally } from './lib/context.ts';
import { adminOnly, DATASET_SLUG, httpErrors, json, parseJsonBody, parseQuery, routes, type HttpEvent, type HttpResponse } from './lib/middleware.ts';

/**
 * The pipeline's executions over HTTP, for the console: GET /executions, GET /executions/{id},
 * POST /executions. On LocalStack/AWS (STATE_MACHINE_ARN set, or derived from this function's own
 * ARN) through the Step Functions API; on the embedded runtime from the MySQL execution log, and a
 * new execution runs in this function's process against LAMBDA_ENDPOINT (serverless-offline's).
 */

/** What of the Lambda context is read here: the function's own ARN names its state machine. */
interface LambdaContext { invokedFunctionArn?: string }

const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });

const Section = z.record(z.string(), z.unknown());
/** The execution input (see README "Configuration"); each step validates its own section in detail. */
const StartBody = z.strictObject({
  dataset: z.string().regex(DATASET_SLUG, 'a dataset name such as "covertype"').optional(),
  groupNumber: z.number().int().min(1).max(1000).optional(),
  batches: z.number().int().min(1).max(100).optional(),
  intervalSeconds: z.number().int().min(0).max(3600).optional(),
  train: Section.optional(),
  search: Section.optional(),
  promotion: Section.optional(),
});

let definition: Promise<AslMachine> | undefined;
const getDefinition = (): Promise<AslMachine> => {
  definition ??= readDefinitionText().then((text) => JSON.parse(text) as AslMachine);
  return definition;
};

/** Runs an execution in this process, not awaited: its own pool, closed when it ends; the log shows its progress. */
const startInProcess = (lambdaEndpoint: string): StartLocal => async (input) => {
  const { startLocalExecution } = await import('../src/runtime/local-executor.ts');
  const c = getConfig();
  const pool = createPool({ host: c.MYSQL_HOST, port: c.MYSQL_PORT, user: c.MYSQL_USER, password: c.MYSQL_PASSWORD, database: c.MYSQL_DATABASE });
  const started = startLocalExecution(lambdaEndpoint, input, { recorder: new MysqlExecutionLog(pool) });
  void started.done.then((result) => {
    console.log(JSON.stringify({ function: 'executions', event: 'execution_finished', name: started.name, status: result.status, error: result.error }));
  }).finally(() => pool.end().catch(() => undefined));
  await started.recorded;
  return started;
};

let source: ExecutionSource | undefined;
/** Where runs start; also the monitor's path to retraining (functions/monitor.ts). */
export async function getSource(context: LambdaContext | undefined): Promise<ExecutionSource> {
  if (source) return source;
  const c = getConfig();
  const stateMachineArn = c.STATE_MACHINE_ARN ?? stateMachineArnFromFunctionArn(context?.invokedFunctionArn, 'executions');
  source = stateMachineArn
    ? new StepFunctionsExecutions({
      stateMachineArn, region: c.AWS_REGION, nestedStates: nestedStateNames(await getDefinition()), ...(c.SFN_ENDPOINT ? { endpoint: c.SFN_ENDPOINT } : {}),
    })
    : new EmbeddedExecutions(getPool(), c.LAMBDA_ENDPOINT ? startInProcess(c.LAMBDA_ENDPOINT) : undefined);
  return source;
}

async function executions(event: HttpEvent, context?: LambdaContext): Promise<HttpResponse> {
  const src = await getSource(context);
  switch (event.routeKey) {
    case 'GET /executions': {
      const q = parseQuery(ListQuery, event);
      return json(200, { source: src.kind, executions: await src.list(q.limit) });
    }
    case 'GET /executions/{id}': {
      const id = checkExecutionId(event.pathParameters?.id ?? '');
      const { execution, events } = await src.get(id);
      return json(200, describeExecution(src.kind, execution, events, await getDefinition(), Date.now()));
    }
    case 'POST /executions': {
      const started = await src.start(parseJsonBody(StartBody, event, { maxBytes: 100_000, allowEmpty: true, what: 'execution input' }));
      return json(202, { source: src.kind, ...started });
    }
    default:
      throw new InvalidInput(`No route ${event.routeKey ?? event.rawPath}`);
  }
}

export const handler = middy<HttpEvent, HttpResponse>(executions).use(releaseWhenInvokedLocally()).use(httpErrors()).use(routes([
  'GET /executions', 'GET /executions/{id}', 'POST /executions',
])).use(adminOnly(['POST /executions'], () => getConfig().ADMIN_TOKEN));
