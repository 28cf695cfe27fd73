import { createHash } from 'node:crypto';
import { ExecutionAbortedError, ExecutionTimeoutError, StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { TaskFailed, type Invoke } from '../lambda-invoker.ts';
import { everyState, functionNameOf, taskResources, taskTarget, type AslDefinition, type AslState, type AslStates } from './definition.ts';
import { json, type EngineEvent, type HistoryRecorder, type TaskCall } from './history.ts';

/** The Context Object's execution and state machine fields. */
export interface ExecutionContext {
  executionArn: string;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  startTime: Date;
  roleArn: string;
}

export type RunOutcome =
  | { status: 'SUCCEEDED'; output: unknown }
  | { status: 'FAILED'; error: string; cause: string }
  | { status: 'ABORTED' }
  | { status: 'TIMED_OUT' };

/**
 * A Task without TimeoutSeconds runs as long as it takes on AWS (99999999 s); aws-local-stepfunctions
 * stops it after 60 s. Such Tasks get the longest timeout a Node timer can hold (24.8 days).
 */
const LONGEST_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
function withAwsTaskTimeouts(states: AslStates): AslStates {
  return Object.fromEntries(
    Object.entries(states).map(([name, state]) => {
      const copy: AslState = { ...state };
      if (copy.Type === 'Task' && copy.TimeoutSeconds === undefined && copy.TimeoutSecondsPath === undefined) copy.TimeoutSeconds = LONGEST_TIMEOUT_SECONDS;
      if (copy.ItemProcessor) copy.ItemProcessor = { ...copy.ItemProcessor, States: withAwsTaskTimeouts(copy.ItemProcessor.States) };
      if (copy.Iterator) copy.Iterator = { ...copy.Iterator, States: withAwsTaskTimeouts(copy.Iterator.States) };
      if (copy.Branches) copy.Branches = copy.Branches.map((b) => ({ ...b, States: withAwsTaskTimeouts(b.States) }));
      return [name, copy];
    }),
  );
}

/** The results of the Tasks that succeeded in earlier attempts, by `replayKey` (redrive does not run them again). */
export type ReplayResults = ReadonlyMap<string, unknown>;
export const replayKey = (stateName: string, input: unknown): string => `${stateName}:${createHash('sha256').update(json(input)).digest('hex')}`;

export interface RunPlan {
  definition: AslDefinition;
  input: unknown;
  /** Redrive: the top-level state to go on from (with `input` as that state's input). */
  startAt?: string;
  context: ExecutionContext;
  invoke: Invoke;
  replay: ReplayResults;
  recorder: HistoryRecorder;
}

export interface RunningExecution {
  abort(): void;
  /** Settles once the outcome and every history event have been handed to the recorder; never rejects. */
  done: Promise<RunOutcome>;
}

type Handler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];

/**
 * Runs an ASL definition with aws-local-stepfunctions. Each Task invokes its function through
 * `invoke` (serverless-offline's Lambda endpoint) and tells the recorder about the call; a Task whose
 * state succeeded in an earlier attempt with the same input answers from `replay` instead.
 */
export function runDefinition(plan: RunPlan): RunningExecution {
  const { recorder, replay, invoke } = plan;
  const handlers: Record<string, Handler> = {};
  const timeouts = new Map<string, number>();
  for (const [name, state] of everyState(plan.definition.States))
    if (state.Type === 'Task' && typeof state.TimeoutSeconds === 'number') timeouts.set(name, state.TimeoutSeconds);
  for (const [stateName, resource] of taskResources(plan.definition.States)) {
    const target = taskTarget(resource);
    if (!target) continue; // parseDefinition refused it already
    handlers[stateName] = async (input) => {
      const startedAt = Date.now();
      const key = replayKey(stateName, input);
      if (replay.has(key)) {
        const output = replay.get(key);
        recorder.call({ stateName, target, input, startedAt, endedAt: startedAt, outcome: { ok: true, output }, replayed: true });
        return output as Awaited<ReturnType<Handler>>;
      }
      const base: Omit<TaskCall, 'outcome' | 'endedAt'> = { stateName, target, input, startedAt };
      const invocation = (async () => {
        if (target.kind === 'function') return invoke(target.functionName, input);
        const parameters = (input ?? {}) as { FunctionName?: unknown; Payload?: unknown };
        if (typeof parameters.FunctionName !== 'string') throw new TaskFailed('States.Runtime', "lambda:invoke needs a string 'FunctionName' parameter");
        return { ExecutedVersion: '$LATEST', Payload: await invoke(functionNameOf(parameters.FunctionName), parameters.Payload ?? {}), StatusCode: 200 };
      })();
      // The engine gives up on the Task after TimeoutSeconds (States.Timeout); the call is recorded as
      // timed out just before (this timer starts first), and its late answer is dropped.
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const timeoutSeconds = timeouts.get(stateName);
      const timeout =
        timeoutSeconds === undefined
          ? null
          : new Promise<never>(() => {
              timer = setTimeout(() => {
                timedOut = true;
                recorder.call({
                  ...base,
                  endedAt: Date.now(),
                  outcome: { ok: false, error: 'States.Timeout', cause: `Task timed out after ${timeoutSeconds} seconds` },
                  timedOut: true,
                });
              }, timeoutSeconds * 1000);
            });
      const answered = invocation.then(
        (output) => {
          clearTimeout(timer);
          if (!timedOut) recorder.call({ ...base, endedAt: Date.now(), outcome: { ok: true, output } });
          return output as Awaited<ReturnType<Handler>>;
        },
        (error: unknown) => {
          clearTimeout(timer);
          const e = error as Error;
          if (!timedOut) recorder.call({ ...base, endedAt: Date.now(), outcome: { ok: false, error: e.name ?? 'Error', cause: e.message ?? String(error) } });
          throw error;
        },
      );
      return timeout ? Promise.race([answered, timeout]) : answered;
    };
  }
  const definition = { ...plan.definition, States: withAwsTaskTimeouts(plan.definition.States), ...(plan.startAt ? { StartAt: plan.startAt } : {}) };
  const machine = new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
  const { context } = plan;
  const execution = machine.run(plan.input as Parameters<typeof machine.run>[0], {
    overrides: { taskResourceLocalHandlers: handlers },
    context: {
      Execution: { Id: context.executionArn, Name: context.name, StartTime: context.startTime.toISOString(), RoleArn: context.roleArn },
      StateMachine: { Id: context.stateMachineArn, Name: context.stateMachineName },
    },
  });
  let failed: EngineEvent | undefined;
  const drained = (async () => {
    for await (const event of execution.eventLogs) {
      const e = event as unknown as EngineEvent;
      if (e.type === 'ExecutionFailed') failed = e;
      recorder.event(e);
    }
  })();
  const done = (async (): Promise<RunOutcome> => {
    let outcome: RunOutcome;
    try {
      outcome = { status: 'SUCCEEDED', output: await execution.result };
    } catch (error) {
      if (error instanceof ExecutionAbortedError) {
        outcome = { status: 'ABORTED' };
      } else if (error instanceof ExecutionTimeoutError) {
        outcome = { status: 'TIMED_OUT' };
      } else {
        const e = (error as { cause?: unknown }).cause ?? error;
        const failure = e as { name?: string; message?: string; cause?: unknown };
        outcome = {
          status: 'FAILED',
          error: failure.name ?? 'Error',
          cause: typeof failure.cause === 'string' ? failure.cause : (failure.message ?? String(e)),
        };
      }
    }
    await drained.catch(() => undefined);
    if (outcome.status === 'FAILED' && failed?.Error) {
      outcome = { status: 'FAILED', error: failed.Error, cause: typeof failed.Cause === 'string' ? failed.Cause : json(failed.Cause) };
    }
    return outcome;
  })();
  return { abort: () => execution.abort(), done };
}
