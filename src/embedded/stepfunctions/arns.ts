import { SfnApiError } from './errors.ts';

/** The region and account every ARN of the embedded endpoint carries (as LocalStack's defaults). */
export const REGION = 'us-east-1';
export const ACCOUNT = '000000000000';

export const stateMachineArn = (name: string): string => `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
export const executionArn = (stateMachineName: string, name: string): string => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${stateMachineName}:${name}`;
export const lambdaFunctionArn = (functionName: string): string => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`;
export const DEFAULT_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/StepFunctionsLocal`;

/**
 * A name as AWS allows it (1–80 characters; no white space, brackets, wildcards, the special
 * characters `" # % \ ^ | ~ \` $ & , ; : /`, or control characters).
 */
export function checkName(name: string, what = 'name'): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: AWS names may not hold control characters
  const bad = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;
  if (name.length < 1 || name.length > 80 || bad.test(name)) {
    throw new SfnApiError('InvalidName', `Invalid ${what}: '${name}'`);
  }
  return name;
}

const ARN = /^arn:aws:states:([a-z0-9-]+):(\d{12}):(stateMachine|execution):([^:]+)(?::([^:]+))?$/;

/** The state machine name of a state machine ARN; InvalidArn otherwise. */
export function parseStateMachineArn(arn: string): string {
  const m = ARN.exec(arn);
  if (m?.[3] !== 'stateMachine' || m[5] !== undefined) throw new SfnApiError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
  return m[4];
}

/** The state machine and execution names of an execution ARN; InvalidArn otherwise. */
export function parseExecutionArn(arn: string): { stateMachine: string; name: string } {
  const m = ARN.exec(arn);
  if (m?.[3] !== 'execution' || m[5] === undefined) throw new SfnApiError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${arn}'`);
  return { stateMachine: m[4], name: m[5] };
}
