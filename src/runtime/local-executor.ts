import { StateMachine } from 'aws-local-stepfunctions';
import { readDefinitionText, substituteFunctions } from './definition.ts';
import { newExecutionName } from './names.ts';
import { errorTypeOf, lambdaInvoker, TaskFailed } from '../embedded/lambda-invoker.ts';
import { taskResources, type AslDefinition } from '../embedded/stepfunctions/definition.ts';

export const SERVICE = 'mlops-pipeline';
export const STAGE = 'dev';

export interface ExecutionEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  index?: number;
  Error?: string;
  Cause?: unknown;
  [key: string]: unknown;
}

export interface ExecutionResult {
  executionArn: string;
  status: 'SUCCEEDED' | 'FAILED';
  output: unknown;
  error?: string;
  cause?: string;
  events: ExecutionEvent[];
}

export { errorTypeOf, TaskFailed };

/**
 * Where an execution is written as it runs: the embedded runtime's execution log (MySQL, see
 * execution-log.ts), the counterpart of Step Functions' execution history on LocalStack and AWS.
 * Calls are made one at a time, in order; a recorder that fails does not fail the execution.
 */
export interface ExecutionRecorder {
  started(execution: { executionArn: string; name: string; input: unknown; startedAt: Date }): Promise<void>;
  event(executionArn: string, seq: number, event: ExecutionEvent): Promise<void>;
  finished(executionArn: string, result: { status: ExecutionResult['status']; output: unknown; error?: string; cause?: string; stoppedAt: Date }): Promise<void>;
  /** Called every `heartbeatMs` while the execution runs, so a reader can tell a lost runner from a slow one. */
  heartbeat?(executionArn: string, at: Date): Promise<void>;
}

export interface LocalExecutionOptions {
  /** Records the execution and each of its events as they happen. */
  recorder?: ExecutionRecorder;
  /** The execution's name (default: `run-<UTC time>-<6 hex>`), unique like on Step Functions. */
  name?: string;
  /** Told when the recorder fails (the execution goes on); default: one warning on stderr. */
  onRecorderError?: (error: unknown) => void;
  heartbeatMs?: number;
}

export interface StartedLocalExecution {
  executionArn: string;
  name: string;
  /** Settles once the recorder has the execution (it can be listed and read from then on). */
  recorded: Promise<void>;
  /** The execution's outcome; never rejects. */
  done: Promise<ExecutionResult>;
}

export { newExecutionName };

export const localStateMachineArn = `arn:aws:states:us-east-1:000000000000:stateMachine:${SERVICE}-${STAGE}`;
export const localExecutionArn = (name: string): string => `arn:aws:states:us-east-1:000000000000:execution:${SERVICE}-${STAGE}:${name}`;

/**
 * Runs the pipeline's ASL with aws-local-stepfunctions, state by state. Its Task states invoke the
 * functions by name over real HTTP at a Lambda endpoint (serverless-offline's), through our own
 * client so that a function's error keeps its name for Retry/Catch.
 */
export async function runLocalExecution(
  lambdaEndpoint: string, input: Record<string, unknown>, onEvent?: (event: ExecutionEvent) => void, options: LocalExecutionOptions = {},
): Promise<ExecutionResult> {
  return startLocalExecution(lambdaEndpoint, input, { ...options, ...(onEvent ? { onEvent } : {}) }).done;
}

/** Starts an execution and returns at once: its ARN, when it is recorded, and its outcome. */
export function startLocalExecution(
  lambdaEndpoint: string, input: Record<string, unknown>, options: LocalExecutionOptions & { onEvent?: (event: ExecutionEvent) => void } = {},
): StartedLocalExecution {
  const name = options.name ?? newExecutionName();
  const executionArn = localExecutionArn(name);
  const { recorder } = options;
  let warned = false;
  const onRecorderError = options.onRecorderError ?? ((error: unknown) => {
    if (!warned) console.warn(`execution log: recording ${name} failed: ${(error as Error).message ?? String(error)}`);
    warned = true;
  });
  let chain: Promise<void> = Promise.resolve();
  const record = (write: (r: ExecutionRecorder) => Promise<void>): Promise<void> => {
    if (!recorder) return chain;
    chain = chain.then(() => write(recorder)).catch(onRecorderError);
    return chain;
  };
  const recorded = record((r) => r.started({ executionArn, name, input, startedAt: new Date() }));
  const heartbeat = recorder?.heartbeat
    ? setInterval(() => { void record((r) => r.heartbeat?.(executionArn, new Date()) ?? Promise.resolve()); }, options.heartbeatMs ?? 15_000)
    : undefined;
  heartbeat?.unref();
  let seq = 0;
  const done = (async (): Promise<ExecutionResult> => {
    const result = await execute(lambdaEndpoint, input, name, executionArn, (event) => {
      const n = ++seq;
      void record((r) => r.event(executionArn, n, event));
      options.onEvent?.(event);
    }).catch((error: unknown): ExecutionResult => ({
      executionArn, status: 'FAILED', output: null, error: (error as Error).name ?? 'Error', cause: (error as Error).message ?? String(error), events: [],
    }));
    if (heartbeat) clearInterval(heartbeat);
    const { events: _events, executionArn: _arn, ...outcome } = result;
    await record((r) => r.finished(executionArn, { ...outcome, stoppedAt: new Date() }));
    return result;
  })();
  return { executionArn, name, recorded, done };
}

async function execute(
  lambdaEndpoint: string, input: Record<string, unknown>, name: string, executionArn: string, onEvent: (event: ExecutionEvent) => void,
): Promise<ExecutionResult> {
  const definition = substituteFunctions(await readDefinitionText(), (key) => `${SERVICE}-${STAGE}-${key}`);
  const invokeFunction = lambdaInvoker(lambdaEndpoint);
  const invoke = (functionName: string) => (payload: unknown): Promise<unknown> => invokeFunction(functionName, payload);
  const handlers = Object.fromEntries(
    [...taskResources((definition as unknown as AslDefinition).States)].map(([state, resource]) => [state, invoke(resource)]),
  );
  const machine = new StateMachine(definition as unknown as ConstructorParameters<typeof StateMachine>[0], {
    validationOptions: { checkArn: false },
  });
  const json = input as Parameters<typeof machine.run>[0];
  const execution = machine.run(json, {
    overrides: { taskResourceLocalHandlers: handlers as Record<string, (input: Parameters<typeof machine.run>[0]) => Promise<Parameters<typeof machine.run>[0]>> },
    context: {
      Execution: { Id: executionArn, Name: name, Input: json, StartTime: new Date().toISOString() },
      StateMachine: { Id: localStateMachineArn, Name: `${SERVICE}-${STAGE}` },
    },
  });
  const events: ExecutionEvent[] = [];
  const drained = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event as unknown as ExecutionEvent);
      onEvent(event as unknown as ExecutionEvent);
    }
  })();
  try {
    const output = await execution.result;
    await drained;
    return { executionArn, status: 'SUCCEEDED', output, events };
  } catch (error) {
    await drained.catch(() => undefined);
    const e = error as { name?: string; message?: string };
    const failed = [...events].reverse().find((ev) => ev.type === 'ExecutionFailed');
    return {
      executionArn,
      status: 'FAILED',
      output: null,
      error: typeof failed?.Error === 'string' ? failed.Error : (e.name ?? 'Error'),
      cause: typeof failed?.Cause === 'string' ? failed.Cause : (e.message ?? String(error)),
      events,
    };
  }
}
