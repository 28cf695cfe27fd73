import type { AslMachine } from '../../src/executions/asl-graph.ts';
import { LOCAL_CREDENTIALS, StepFunctionsExecutions } from '../../src/executions/step-functions.ts';
import { nestedStateNames } from '../../src/executions/views.ts';
import { readDefinitionText, SERVICE, STAGE } from '../../src/statemachine/definition.ts';

/** What `npm start` and `npm run serve` listen on: the embedded stack's Step Functions API and its pipeline. */
export const EMBEDDED_SFN_ENDPOINT = 'http://127.0.0.1:8083';
export const EMBEDDED_STATE_MACHINE_ARN = `arn:aws:states:us-east-1:000000000000:stateMachine:${SERVICE}-${STAGE}`;

/**
 * The pipeline's executions through @aws-sdk/client-sfn for the command-line tools, on any runtime:
 * the embedded stack's endpoint, LocalStack's, or AWS's (`endpoint` absent). Without `credentials`,
 * loopback endpoints get placeholder keys and others use the AWS credential chain. The region is the state machine's.
 */
export async function executionsClient(options: {
  stateMachineArn: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}): Promise<StepFunctionsExecutions> {
  const region = options.stateMachineArn.split(':')[3] || 'us-east-1';
  const local = options.endpoint !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(options.endpoint);
  const credentials = options.credentials ?? (local ? LOCAL_CREDENTIALS : undefined);
  return new StepFunctionsExecutions({
    stateMachineArn: options.stateMachineArn,
    region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(credentials ? { credentials } : {}),
    nestedStates: nestedStateNames(JSON.parse(await readDefinitionText()) as AslMachine),
  });
}
