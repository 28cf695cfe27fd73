import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';

/** An error as Step Functions sees it: `name` is what Retry/Catch `ErrorEquals` match. */
export class TaskFailed extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * The error type of a failed invocation. Lambda reports the thrown error's name; serverless-offline
 * reports "Error" for everything, but its trace starts with "<Name>: <message>", so read it there.
 */
export function errorTypeOf(payload: { errorType?: unknown; errorMessage?: unknown; trace?: unknown; stackTrace?: unknown }): string {
  const declared = typeof payload.errorType === 'string' ? payload.errorType : 'Error';
  if (declared !== 'Error') return declared;
  const trace = Array.isArray(payload.trace) ? payload.trace : Array.isArray(payload.stackTrace) ? payload.stackTrace : [];
  const first = typeof trace[0] === 'string' ? /^([A-Za-z_$][\w$.]*):/.exec(trace[0]) : null;
  return first ? first[1] : declared;
}

/** Invokes a function by name and returns its JSON result; a function error becomes a TaskFailed with its name. */
export type Invoke = (functionName: string, payload: unknown) => Promise<unknown>;

/**
 * Invokes functions over real HTTP at a Lambda endpoint (serverless-offline's), through our own
 * client so that a function's error keeps its name for Retry/Catch.
 */
export function lambdaInvoker(lambdaEndpoint: string): Invoke {
  const lambda = new LambdaClient({
    endpoint: lambdaEndpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return async (functionName, payload) => {
    let response: InvokeCommandOutput;
    try {
      response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }));
    } catch (error) {
      const name = (error as Error).name === 'ResourceNotFoundException' ? 'Lambda.ResourceNotFoundException' : 'Lambda.ServiceException';
      throw new TaskFailed(name, `Invoking ${functionName} failed: ${(error as Error).message}`);
    }
    const text = Buffer.from(response.Payload ?? new Uint8Array()).toString('utf8');
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      throw new TaskFailed('Lambda.ServiceException', `${functionName} answered something that is not JSON: ${text.slice(0, 200)}`);
    }
    if (response.FunctionError) {
      const failure = (body ?? {}) as { errorMessage?: unknown };
      throw new TaskFailed(errorTypeOf((body ?? {}) as object), typeof failure.errorMessage === 'string' ? failure.errorMessage : text);
    }
    return body;
  };
}
