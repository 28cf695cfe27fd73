import middy from '@middy/core';
import { z } from 'zod';
import { GROUP_NUMBERS } from '../src/data-api/service.ts';
import { InvalidInput } from '../src/errors.ts';
import type { AslMachine } from '../src/executions/asl-graph.ts';
import { LOCAL_CREDENTIALS, stateMachineArnFromFunctionArn, StepFunctionsExecutions } from '../src/executions/step-functions.ts';
import { checkExecutionId, describeExecution, nestedStateNames } from '../src/executions/views.ts';
import { datasetName } from '../src/schemas.ts';
import { readDefinitionText } from '../src/statemachine/definition.ts';
import { getConfig, releaseWhenInvokedLocally, withSecrets } from './lib/context.ts';
import { httpErrors, json, parseJsonBody, parseQuery, type HttpEvent, type HttpResponse } from './lib/middleware.ts';
import { withLogger } from './lib/log.ts';
import { router } from './lib/router.ts';

/**
 * The pipeline's executions over HTTP, for the console: GET /executions, GET /executions/{id},
 * POST /executions, POST /executions/{id}/redrive. Always through the Step Functions API: the
 * embedded stack's endpoint, LocalStack's, or AWS's (STATE_MACHINE_ARN set, or derived from this
 * function's own ARN; SFN_ENDPOINT for an endpoint other than AWS's).
 */

/** What of the Lambda context is read here: the function's own ARN names its state machine. */
interface LambdaContext {
  invokedFunctionArn?: string;
}

const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });

const Section = z.record(z.string(), z.unknown());
/** The execution input (see README "Configuration"); each step validates its own section in detail. */
const StartBody = z.strictObject({
  dataset: datasetName().optional(),
  groupNumber: z.number().int().min(GROUP_NUMBERS.min).max(GROUP_NUMBERS.max).optional(),
  batches: z.number().int().min(1).max(100).optional(),
  intervalSeconds: z.number().int().min(0).max(3600).optional(),
  train: Section.optional(),
  search: Section.optional(),
  promotion: Section.optional(),
  /** Step caching (default true): false trains every trial even when an earlier run had the same inputs. */
  cache: z.boolean().optional(),
});

let definition: Promise<AslMachine> | undefined;
const getDefinition = (): Promise<AslMachine> => {
  definition ??= readDefinitionText().then((text) => JSON.parse(text) as AslMachine);
  return definition;
};

let source: StepFunctionsExecutions | undefined;
/** Where runs start; also the monitor's path to retraining (functions/monitor.ts). */
export async function getSource(context: LambdaContext | undefined): Promise<StepFunctionsExecutions> {
  if (source) return source;
  const c = getConfig();
  const stateMachineArn = c.STATE_MACHINE_ARN ?? stateMachineArnFromFunctionArn(context?.invokedFunctionArn, 'executions');
  if (!stateMachineArn) throw new InvalidInput("No state machine: set STATE_MACHINE_ARN (and SFN_ENDPOINT for a Step Functions endpoint other than AWS's)");
  source = new StepFunctionsExecutions({
    stateMachineArn,
    region: c.AWS_REGION,
    nestedStates: nestedStateNames(await getDefinition()),
    // Local endpoints (embedded, LocalStack) take any keys; on AWS the function's role signs.
    ...(c.SFN_ENDPOINT ? { endpoint: c.SFN_ENDPOINT, credentials: LOCAL_CREDENTIALS } : {}),
  });
  return source;
}

const executions = router<'executions', LambdaContext | undefined>('executions', {
  'GET /executions': async (event, context) => {
    const q = parseQuery(ListQuery, event);
    const src = await getSource(context);
    return json(200, { stateMachineArn: src.stateMachineArn, executions: await src.list(q.limit) });
  },
  'GET /executions/{id}': async (event, context) => {
    const id = checkExecutionId(event.pathParameters?.id ?? '');
    const { execution, events } = await (await getSource(context)).get(id);
    return json(200, describeExecution(execution, events, await getDefinition(), Date.now()));
  },
  'POST /executions': async (event, context) => {
    const src = await getSource(context);
    const started = await src.start(parseJsonBody(StartBody, event, { maxBytes: 100_000, allowEmpty: true, what: 'execution input' }));
    return json(202, started);
  },
  'POST /executions/{id}/redrive': async (event, context) => {
    const id = checkExecutionId(event.pathParameters?.id ?? '');
    return json(202, await (await getSource(context)).redrive(id));
  },
});

export const handler = middy<HttpEvent, HttpResponse>(executions).use(withLogger()).use(withSecrets()).use(releaseWhenInvokedLocally()).use(httpErrors());
