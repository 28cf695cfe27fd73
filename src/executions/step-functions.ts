import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  type ListExecutionsCommandOutput,
  RedriveExecutionCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { InvalidInput, NotFound, StorageUnavailable } from '../errors.ts';
import { LAMBDA_FUNCTION_ARN } from '../schemas.ts';
import { newExecutionName } from './names.ts';
import { durationMs, type ExecutionRecord, type ExecutionStatus, type ExecutionSummary, type LoggedEvent } from './views.ts';

/**
 * The pipeline's executions through the Step Functions API (@aws-sdk/client-sfn), on whichever
 * runtime answers it: the embedded stack's endpoint, LocalStack or AWS. The console's routes, the
 * CLI and the runners all go through here; histories become the console's events (views.ts).
 */

/** A Step Functions history event (SDK form: timestamps are Dates; JSON form: epoch seconds). */
export interface SfnHistoryEvent {
  id?: number;
  previousEventId?: number;
  type?: string;
  timestamp?: Date | number | string;
  [details: string]: unknown;
}

/** `arn:aws:states:<region>:<account>:execution:<machine>:<name>` for a state machine and an execution name. */
export const executionArnOf = (stateMachineArn: string, name: string): string => `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

/**
 * The pipeline's state machine as seen from one of its own functions on Lambda: the function
 * `<service>-<stage>-<key>` belongs to state machine `<service>-<stage>` in the same region and
 * account. Null when `functionArn` is not a Lambda ARN (serverless-offline, invoke local).
 */
export function stateMachineArnFromFunctionArn(functionArn: string | undefined, functionKey: string): string | null {
  const m = LAMBDA_FUNCTION_ARN.exec(functionArn ?? '');
  if (!m?.[4].endsWith(`-${functionKey}`)) return null;
  return `arn:${m[1]}:states:${m[2]}:${m[3]}:stateMachine:${m[4].slice(0, -functionKey.length - 1)}`;
}

const iso = (t: unknown): string => {
  if (t instanceof Date) return t.toISOString();
  if (typeof t === 'number') return new Date(t < 1e12 ? t * 1000 : t).toISOString();
  return new Date(String(t)).toISOString();
};

const parseJson = (value: unknown): unknown => {
  if (typeof value !== 'string') return value ?? null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

const details = (e: SfnHistoryEvent, key: string): Record<string, unknown> => (e[key] && typeof e[key] === 'object' ? (e[key] as Record<string, unknown>) : {});

const FAILURE = /^(Task|LambdaFunction|Activity)(Failed|TimedOut|StartFailed|ScheduleFailed|SubmitFailed)$/;
const SCHEDULED = /^(TaskScheduled|LambdaFunctionScheduled|ActivityScheduled)$/;
const SUCCEEDED = /^(TaskSucceeded|LambdaFunctionSucceeded|ActivitySucceeded)$/;

/**
 * Step Functions history → the execution log's events (StateEntered/Exited/Failed/Retried/Caught,
 * MapIteration*, Execution*). A nested state's Map iteration is found by walking `previousEventId`
 * back to its MapIterationStarted; a failure followed by a new attempt is a retry, and a state that
 * exits after a failure without succeeding had its error caught.
 */
export function historyToEvents(history: readonly SfnHistoryEvent[], nested: ReadonlySet<string>): LoggedEvent[] {
  const ctx = new Map<number, { state: string | null; mapIndex: number | null }>();
  const threads = new Map<string, { failed: boolean }>();
  const out: LoggedEvent[] = [];
  const push = (type: string, stateName: string | null, mapIndex: number | null, payload: Record<string, unknown>, at: string) =>
    out.push({ seq: out.length + 1, type, stateName, mapIndex, payload, at });
  for (const e of [...history].sort((a, b) => (a.id ?? 0) - (b.id ?? 0))) {
    const type = e.type ?? '';
    const at = iso(e.timestamp);
    const prev = ctx.get(e.previousEventId ?? -1) ?? { state: null, mapIndex: null };
    let here = { ...prev };
    if (type === 'MapIterationStarted') {
      const d = details(e, 'mapIterationStartedEventDetails');
      here = { state: null, mapIndex: typeof d.index === 'number' ? d.index : null };
      push('MapIterationStarted', typeof d.name === 'string' ? d.name : null, here.mapIndex, { parentState: { name: d.name } }, at);
    } else if (/^MapIteration(Succeeded|Failed|Aborted)$/.test(type)) {
      const d = details(e, `${type[0].toLowerCase()}${type.slice(1)}EventDetails`);
      push(type, typeof d.name === 'string' ? d.name : null, typeof d.index === 'number' ? d.index : null, {}, at);
    } else if (type.endsWith('StateEntered')) {
      const d = details(e, 'stateEnteredEventDetails');
      const name = String(d.name ?? '');
      here = { state: name, mapIndex: nested.has(name) ? prev.mapIndex : null };
      threads.set(`${name}\u0000${here.mapIndex ?? ''}`, { failed: false });
      push('StateEntered', name, here.mapIndex, { state: { name, type: type.slice(0, -'StateEntered'.length), input: parseJson(d.input) } }, at);
    } else if (type.endsWith('StateExited')) {
      const d = details(e, 'stateExitedEventDetails');
      const name = String(d.name ?? '');
      const mapIndex = nested.has(name) ? prev.mapIndex : null;
      const thread = threads.get(`${name}\u0000${mapIndex ?? ''}`);
      if (thread?.failed) push('StateCaught', name, mapIndex, {}, at);
      push('StateExited', name, mapIndex, { state: { name, type: type.slice(0, -'StateExited'.length), output: parseJson(d.output) } }, at);
      here = { state: null, mapIndex: prev.mapIndex };
    } else if (FAILURE.test(type) && prev.state) {
      const d = details(e, `${type[0].toLowerCase()}${type.slice(1)}EventDetails`);
      const thread = threads.get(`${prev.state}\u0000${prev.mapIndex ?? ''}`);
      if (thread) thread.failed = true;
      push('StateFailed', prev.state, prev.mapIndex, { Error: d.error ?? type, Cause: d.cause ?? null }, at);
    } else if (SCHEDULED.test(type) && prev.state) {
      const thread = threads.get(`${prev.state}\u0000${prev.mapIndex ?? ''}`);
      if (thread?.failed) {
        thread.failed = false;
        push('StateRetried', prev.state, prev.mapIndex, {}, at);
      }
    } else if (SUCCEEDED.test(type) && prev.state) {
      const thread = threads.get(`${prev.state}\u0000${prev.mapIndex ?? ''}`);
      if (thread) thread.failed = false;
    } else if (type === 'ExecutionStarted') {
      push(type, null, null, { input: parseJson(details(e, 'executionStartedEventDetails').input) }, at);
    } else if (type === 'ExecutionRedriven') {
      push(type, null, null, { redriveCount: details(e, 'executionRedrivenEventDetails').redriveCount ?? null }, at);
    } else if (type === 'ExecutionSucceeded') {
      push(type, null, null, { output: parseJson(details(e, 'executionSucceededEventDetails').output) }, at);
    } else if (/^Execution(Failed|Aborted|TimedOut)$/.test(type)) {
      const d = details(e, `${type[0].toLowerCase()}${type.slice(1)}EventDetails`);
      push(type, null, null, { Error: d.error ?? type, Cause: d.cause ?? null }, at);
    }
    if (e.id !== undefined) ctx.set(e.id, here);
  }
  return out;
}

const STATUSES: readonly ExecutionStatus[] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];
const statusOf = (s: unknown): ExecutionStatus => (STATUSES.includes(s as ExecutionStatus) ? (s as ExecutionStatus) : 'ABORTED');

/** SDK failures: a missing execution is a 404, a bad request a 400, anything else worth a retry. */
function translate(error: unknown, what: string): Error {
  if (error instanceof ExecutionDoesNotExist || (error as { name?: string }).name === 'ExecutionDoesNotExist') return new NotFound(`No execution ${what}`);
  const name = (error as { name?: string }).name ?? 'Error';
  if (/InvalidArn|InvalidName|InvalidExecutionInput|ValidationException|ExecutionNotRedrivable|ExecutionAlreadyExists|ExecutionLimitExceeded/.test(name))
    return new InvalidInput(`Step Functions refused ${what}: ${(error as Error).message}`);
  return new StorageUnavailable(`Step Functions unavailable (${name}) while reading ${what}: ${(error as Error).message}`, { cause: error });
}

/** An execution followed to its end: the outcome and its events (the console's form). */
export interface FinishedExecution {
  executionArn: string;
  name: string;
  status: ExecutionStatus;
  output: unknown;
  error: string | null;
  cause: string | null;
  events: LoggedEvent[];
}

/** Keys for a local endpoint (embedded, LocalStack): any do, but the SDK wants some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface StepFunctionsOptions {
  stateMachineArn: string;
  region: string;
  /** The Step Functions API (embedded stack, LocalStack); absent: AWS's regional endpoint. */
  endpoint?: string;
  /** Explicit keys (local endpoints take any); otherwise the AWS credential chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Names of the states nested in Map/Parallel states (views.ts nestedStateNames). */
  nestedStates: ReadonlySet<string>;
  now?: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class StepFunctionsExecutions {
  readonly stateMachineArn: string;
  readonly client: SFNClient;
  private readonly nested: ReadonlySet<string>;
  private readonly now: () => number;

  constructor(options: StepFunctionsOptions) {
    this.stateMachineArn = options.stateMachineArn;
    this.client = new SFNClient({
      region: options.region,
      maxAttempts: 3,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
    this.nested = options.nestedStates;
    this.now = options.now ?? Date.now;
  }

  /** An execution's ARN from its name (what URLs carry) or its ARN. */
  arnOf(id: string): string {
    return id.startsWith('arn:') ? id : executionArnOf(this.stateMachineArn, id);
  }

  async list(limit: number): Promise<ExecutionSummary[]> {
    let page: ListExecutionsCommandOutput;
    try {
      page = await this.client.send(new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, maxResults: Math.min(limit, 1000) }));
    } catch (error) {
      throw translate(error, `executions of ${this.stateMachineArn}`);
    }
    const now = this.now();
    return (page.executions ?? []).map((e) => {
      const startedAt = iso(e.startDate ?? 0);
      const stoppedAt = e.stopDate ? iso(e.stopDate) : null;
      return {
        id: e.name ?? '',
        name: e.name ?? '',
        executionArn: e.executionArn ?? '',
        status: statusOf(e.status),
        startedAt,
        stoppedAt,
        durationMs: durationMs(startedAt, stoppedAt, now),
        redriveCount: e.redriveCount ?? 0,
      };
    });
  }

  /** The whole history, page by page. */
  private async history(executionArn: string): Promise<SfnHistoryEvent[]> {
    const history: SfnHistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, includeExecutionData: true, ...(nextToken ? { nextToken } : {}) }),
      );
      history.push(...((page.events ?? []) as SfnHistoryEvent[]));
      nextToken = page.nextToken;
    } while (nextToken && history.length < 20_000);
    return history;
  }

  async get(id: string): Promise<{ execution: ExecutionRecord; events: LoggedEvent[] }> {
    const executionArn = this.arnOf(id);
    try {
      const d = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      const history = await this.history(executionArn);
      const startedAt = iso(d.startDate ?? 0);
      const stoppedAt = d.stopDate ? iso(d.stopDate) : null;
      return {
        execution: {
          id: d.name ?? id,
          name: d.name ?? id,
          executionArn,
          status: statusOf(d.status),
          startedAt,
          stoppedAt,
          durationMs: durationMs(startedAt, stoppedAt, this.now()),
          input: parseJson(d.input),
          output: parseJson(d.output),
          error: d.error ?? null,
          cause: d.cause ?? null,
          redriveCount: d.redriveCount ?? 0,
        },
        events: historyToEvents(history, this.nested),
      };
    } catch (error) {
      throw translate(error, id);
    }
  }

  async start(input: Record<string, unknown>, name: string = newExecutionName()): Promise<{ id: string; executionArn: string }> {
    try {
      const r = await this.client.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name, input: JSON.stringify(input) }));
      return { id: name, executionArn: r.executionArn ?? executionArnOf(this.stateMachineArn, name) };
    } catch (error) {
      throw translate(error, `a new execution of ${this.stateMachineArn}`);
    }
  }

  /** RedriveExecution: a failed, aborted or timed-out execution goes on from where it stopped. */
  async redrive(id: string): Promise<{ id: string; executionArn: string; redriveDate: string }> {
    const executionArn = this.arnOf(id);
    try {
      const r = await this.client.send(new RedriveExecutionCommand({ executionArn }));
      return { id: executionArn.split(':').pop() ?? id, executionArn, redriveDate: iso(r.redriveDate ?? new Date()) };
    } catch (error) {
      throw translate(error, id);
    }
  }

  /**
   * Polls DescribeExecution and GetExecutionHistory until the execution stops; `onEvent` sees each
   * new event (the console's form) once, in order.
   */
  async follow(
    id: string,
    options: { onEvent?: (event: LoggedEvent) => void; pollMs?: number; timeoutMs?: number; fromLastRedrive?: boolean } = {},
  ): Promise<FinishedExecution> {
    const executionArn = this.arnOf(id);
    const deadline = this.now() + (options.timeoutMs ?? 6 * 3600_000);
    let seen: number | null = null;
    for (;;) {
      const { execution, events } = await this.get(executionArn);
      // After a redrive, what ran before it is history: start at its ExecutionRedriven event.
      seen ??= options.fromLastRedrive ? Math.max(0, events.map((e) => e.type).lastIndexOf('ExecutionRedriven')) : 0;
      for (const event of events.slice(seen)) options.onEvent?.(event);
      seen = Math.max(seen, events.length);
      if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE') {
        return {
          executionArn,
          name: execution.name,
          status: execution.status,
          output: execution.output,
          error: execution.error,
          cause: execution.cause,
          events,
        };
      }
      if (this.now() > deadline) throw new Error(`Execution ${executionArn} still ${execution.status} after ${options.timeoutMs} ms`);
      await sleep(options.pollMs ?? 500);
    }
  }

  /** StartExecution, then follow it to its end. */
  async run(input: Record<string, unknown>, onEvent?: (event: LoggedEvent) => void): Promise<FinishedExecution> {
    const { executionArn } = await this.start(input);
    return this.follow(executionArn, onEvent ? { onEvent } : {});
  }
}
