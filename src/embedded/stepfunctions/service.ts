import { randomBytes, randomUUID } from 'node:crypto';
import type { Invoke } from '../lambda-invoker.ts';
import { checkName, DEFAULT_ROLE_ARN, executionArn, parseExecutionArn, parseStateMachineArn, stateMachineArn } from './arns.ts';
import { parseDefinition, type AslDefinition } from './definition.ts';
import { executionDoesNotExist, SfnApiError, stateMachineDoesNotExist } from './errors.ts';
import { replayKey, runDefinition, type RunOutcome } from './executor.ts';
import { detailsKey, HistoryRecorder, json, type RecordedEvent } from './history.ts';
import { parseRequest, type Operation, type RequestOf } from './requests.ts';
import type { ExecutionRecord, ExecutionStatus, SfnStore, StateMachineRecord } from './store.ts';

/** Step Functions' limit on an execution input (and on any payload), in UTF-8 bytes. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
const DEFAULT_PAGE = 100;

/** Timestamps go out as epoch seconds, as AWS's JSON protocol sends them. */
const seconds = (date: Date | number): number => (typeof date === 'number' ? date : date.getTime()) / 1000;

const pageToken = (offset: number): string => Buffer.from(JSON.stringify({ offset })).toString('base64url');
function pageOffset(token: string | undefined): number {
  if (!token) return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // falls through
  }
  throw new SfnApiError('InvalidToken', `Invalid Token: '${token}'`);
}
const pageSizeOf = (maxResults: number | undefined): number => (maxResults ? maxResults : DEFAULT_PAGE);

const REDRIVABLE: ReadonlySet<ExecutionStatus> = new Set(['FAILED', 'ABORTED', 'TIMED_OUT']);

/** Where a redrive goes on: the top-level state that did not finish, its input, and a Map's iterations that did. */
export interface RedrivePoint {
  startAt: string;
  input: unknown;
  skipIterations: { map: string; indices: Set<number> } | null;
}

/**
 * AWS's redrive rule read off a history: go on from the last top-level state that was entered and
 * did not exit, with the input it had; for a Map state, keep the iterations that succeeded. Null
 * when nothing is left to run.
 */
export function redrivePoint(definition: AslDefinition, events: readonly RecordedEvent[], executionInput: unknown): RedrivePoint {
  const top = events.filter((e) => e.thread === '' && (e.type.endsWith('StateEntered') || e.type.endsWith('StateExited')));
  const last = top.at(-1);
  if (!last) return { startAt: definition.StartAt, input: executionInput, skipIterations: null };
  const name = String(last.details?.name);
  if (last.type.endsWith('StateExited')) {
    const next = definition.States[name]?.Next;
    if (typeof next !== 'string') throw new SfnApiError('ExecutionNotRedrivable', 'Execution has no state left to run and cannot be redriven');
    return { startAt: next, input: JSON.parse(String(last.details?.output ?? 'null')), skipIterations: null };
  }
  const input = JSON.parse(String(last.details?.input ?? 'null')) as unknown;
  if (!last.type.startsWith('Map')) return { startAt: name, input, skipIterations: null };
  const indices = new Set<number>();
  for (const e of events) {
    if (e.id > last.id && e.type === 'MapIterationSucceeded' && e.details?.name === name) indices.add(Number(e.details.index));
  }
  return { startAt: name, input, skipIterations: { map: name, indices } };
}

interface Running {
  abort(): void;
  finished: Promise<void>;
  stop?: { error?: string; cause?: string };
}

export interface StepFunctionsServiceOptions {
  store: SfnStore;
  invoke: Invoke;
  /** Told when writing the history fails (the execution goes on). */
  onStoreError?: (error: unknown) => void;
}

/** A state machine the endpoint has from the start (the pipeline's), kept in step with its file. */
export interface BuiltInStateMachine {
  name: string;
  definition: string;
}

/** What the stack's shutdown left RUNNING is ABORTED with this error (and can be redriven). */
export const ENDPOINT_STOPPED = {
  error: 'EndpointStopped',
  cause: 'The embedded Step Functions endpoint stopped while this execution was running. RedriveExecution goes on from the state that did not finish.',
};

/**
 * The Step Functions API of the embedded runtime: state machines and executions kept in MySQL,
 * executions run by aws-local-stepfunctions, history recorded as AWS records it.
 */
export class StepFunctionsService {
  private readonly store: SfnStore;
  private readonly invoke: Invoke;
  private readonly onStoreError: (error: unknown) => void;
  private readonly running = new Map<string, Running>();

  constructor(options: StepFunctionsServiceOptions) {
    this.store = options.store;
    this.invoke = options.invoke;
    this.onStoreError = options.onStoreError ?? ((error) => console.warn(`Step Functions endpoint: writing history failed: ${(error as Error).message}`));
  }

  /** Marks what a previous run of the stack left RUNNING as ABORTED, and puts the built-in state machines in place. */
  async start(builtIn: readonly BuiltInStateMachine[]): Promise<void> {
    for (const execution of await this.store.runningExecutions()) {
      if (this.running.has(execution.arn)) continue;
      await this.abortStored(execution, ENDPOINT_STOPPED);
    }
    for (const sm of builtIn) {
      parseDefinition(sm.definition);
      const arn = stateMachineArn(sm.name);
      const existing = await this.store.getStateMachine(arn);
      if (existing?.definition === sm.definition) continue;
      const now = new Date();
      await this.store.putStateMachine({
        arn,
        name: sm.name,
        definition: sm.definition,
        roleArn: existing?.roleArn ?? DEFAULT_ROLE_ARN,
        type: 'STANDARD',
        revisionId: randomBytes(16).toString('hex'),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
    }
  }

  /** Stops the executions running here (ABORTED, redrivable), after their history is written. */
  async close(): Promise<void> {
    const running = [...this.running.values()];
    for (const r of running) {
      r.stop = ENDPOINT_STOPPED;
      r.abort();
    }
    await Promise.all(running.map((r) => r.finished));
  }

  /** Settles when the execution is no longer running here. */
  async settled(executionArn: string): Promise<void> {
    await this.running.get(executionArn)?.finished;
  }

  async call(operation: string, body: unknown): Promise<unknown> {
    switch (operation as Operation) {
      case 'ListStateMachines':
        return this.listStateMachines(parseRequest('ListStateMachines', body));
      case 'DescribeStateMachine':
        return this.describeStateMachine(parseRequest('DescribeStateMachine', body));
      case 'DescribeStateMachineForExecution':
        return this.describeStateMachineForExecution(parseRequest('DescribeStateMachineForExecution', body));
      case 'CreateStateMachine':
        return this.createStateMachine(parseRequest('CreateStateMachine', body));
      case 'UpdateStateMachine':
        return this.updateStateMachine(parseRequest('UpdateStateMachine', body));
      case 'DeleteStateMachine':
        return this.deleteStateMachine(parseRequest('DeleteStateMachine', body));
      case 'StartExecution':
        return this.startExecution(parseRequest('StartExecution', body));
      case 'DescribeExecution':
        return this.describeExecution(parseRequest('DescribeExecution', body));
      case 'ListExecutions':
        return this.listExecutions(parseRequest('ListExecutions', body));
      case 'GetExecutionHistory':
        return this.getExecutionHistory(parseRequest('GetExecutionHistory', body));
      case 'StopExecution':
        return this.stopExecution(parseRequest('StopExecution', body));
      case 'RedriveExecution':
        return this.redriveExecution(parseRequest('RedriveExecution', body));
      default:
        throw new SfnApiError('UnknownOperationException', `Operation ${operation} is not supported by the embedded Step Functions endpoint`);
    }
  }

  private async stateMachine(arn: string): Promise<StateMachineRecord> {
    parseStateMachineArn(arn);
    const sm = await this.store.getStateMachine(arn);
    if (!sm) throw stateMachineDoesNotExist(arn);
    return sm;
  }

  private async execution(arn: string): Promise<ExecutionRecord> {
    parseExecutionArn(arn);
    const execution = await this.store.getExecution(arn);
    if (!execution) throw executionDoesNotExist(arn);
    return execution;
  }

  private async listStateMachines(req: RequestOf<'ListStateMachines'>) {
    const offset = pageOffset(req.nextToken);
    const size = pageSizeOf(req.maxResults);
    const rows = await this.store.listStateMachines(offset, size + 1);
    return {
      stateMachines: rows.slice(0, size).map((sm) => ({ stateMachineArn: sm.arn, name: sm.name, type: sm.type, creationDate: seconds(sm.createdAt) })),
      ...(rows.length > size ? { nextToken: pageToken(offset + size) } : {}),
    };
  }

  private async describeStateMachine(req: RequestOf<'DescribeStateMachine'>) {
    const sm = await this.stateMachine(req.stateMachineArn);
    return {
      stateMachineArn: sm.arn,
      name: sm.name,
      status: 'ACTIVE',
      definition: req.includedData === 'METADATA_ONLY' ? '{}' : sm.definition,
      roleArn: sm.roleArn,
      type: sm.type,
      creationDate: seconds(sm.createdAt),
      revisionId: sm.revisionId,
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
    };
  }

  private async describeStateMachineForExecution(req: RequestOf<'DescribeStateMachineForExecution'>) {
    const execution = await this.execution(req.executionArn);
    const sm = await this.store.getStateMachine(execution.stateMachineArn);
    return {
      stateMachineArn: execution.stateMachineArn,
      name: parseStateMachineArn(execution.stateMachineArn),
      definition: req.includedData === 'METADATA_ONLY' ? '{}' : execution.definition,
      roleArn: sm?.roleArn ?? DEFAULT_ROLE_ARN,
      updateDate: seconds(sm?.updatedAt ?? execution.startedAt),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
    };
  }

  private async createStateMachine(req: RequestOf<'CreateStateMachine'>) {
    const name = checkName(req.name);
    parseDefinition(req.definition);
    const now = new Date();
    const record: StateMachineRecord = {
      arn: stateMachineArn(name),
      name,
      definition: req.definition,
      roleArn: req.roleArn,
      type: req.type ?? 'STANDARD',
      revisionId: randomBytes(16).toString('hex'),
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.store.createStateMachine(record))) {
      const existing = (await this.store.getStateMachine(record.arn))!;
      if (existing.definition !== record.definition || existing.roleArn !== record.roleArn || existing.type !== record.type) {
        throw new SfnApiError('StateMachineAlreadyExists', `State Machine Already Exists: '${record.arn}'`);
      }
      return { stateMachineArn: existing.arn, creationDate: seconds(existing.createdAt) };
    }
    return { stateMachineArn: record.arn, creationDate: seconds(now) };
  }

  private async updateStateMachine(req: RequestOf<'UpdateStateMachine'>) {
    const sm = await this.stateMachine(req.stateMachineArn);
    if (req.definition === undefined && req.roleArn === undefined) {
      throw new SfnApiError('MissingRequiredParameter', 'Either the definition or the roleArn must be specified');
    }
    if (req.definition !== undefined) parseDefinition(req.definition);
    const updated: StateMachineRecord = {
      ...sm,
      definition: req.definition ?? sm.definition,
      roleArn: req.roleArn ?? sm.roleArn,
      revisionId: randomBytes(16).toString('hex'),
      updatedAt: new Date(),
    };
    await this.store.putStateMachine(updated);
    return { updateDate: seconds(updated.updatedAt), revisionId: updated.revisionId };
  }

  private async deleteStateMachine(req: RequestOf<'DeleteStateMachine'>) {
    parseStateMachineArn(req.stateMachineArn);
    await this.store.deleteStateMachine(req.stateMachineArn);
    return {};
  }

  private async startExecution(req: RequestOf<'StartExecution'>) {
    const sm = await this.stateMachine(req.stateMachineArn);
    const name = checkName(req.name ?? randomUUID());
    const input = req.input ?? '{}';
    if (Buffer.byteLength(input, 'utf8') > MAX_PAYLOAD_BYTES) {
      throw new SfnApiError(
        'InvalidExecutionInput',
        `Invalid State Machine Execution Input: the input is ${Buffer.byteLength(input, 'utf8')} bytes; the limit is ${MAX_PAYLOAD_BYTES}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      throw new SfnApiError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    const arn = executionArn(sm.name, name);
    const record: ExecutionRecord = {
      arn,
      stateMachineArn: sm.arn,
      name,
      status: 'RUNNING',
      definition: sm.definition,
      input,
      output: null,
      error: null,
      cause: null,
      startedAt: new Date(),
      stoppedAt: null,
      redriveCount: 0,
      redriveDate: null,
    };
    if (!(await this.store.createExecution(record))) {
      // AWS: the same name and input as a RUNNING execution answers that execution; otherwise the name is taken.
      const existing = (await this.store.getExecution(arn))!;
      if (existing.status === 'RUNNING' && existing.input === input) return { executionArn: arn, startDate: seconds(existing.startedAt) };
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    await this.launch(record, parseDefinition(sm.definition), { input: parsed, lastId: 0 });
    return { executionArn: arn, startDate: seconds(record.startedAt) };
  }

  /** Runs (or, for a redrive, goes on with) an execution in the background, recording its history. */
  private async launch(
    execution: ExecutionRecord,
    definition: AslDefinition,
    from: { input: unknown; lastId: number; redrive?: RedrivePoint & { count: number } },
  ): Promise<void> {
    const { store } = this;
    const arn = execution.arn;
    let pending: RecordedEvent[] = [];
    let writes: Promise<void> = Promise.resolve();
    const flush = () => {
      const batch = pending;
      pending = [];
      return store.appendEvents(arn, batch).catch(this.onStoreError);
    };
    const emit = (event: RecordedEvent) => {
      if (pending.length === 0) writes = writes.then(flush);
      pending.push(event);
    };
    const sm = await store.getStateMachine(execution.stateMachineArn);
    const roleArn = sm?.roleArn ?? DEFAULT_ROLE_ARN;
    const recorder = new HistoryRecorder({
      definition,
      roleArn,
      lastId: from.lastId,
      emit,
      onTaskSucceeded: (call) => {
        writes = writes.then(() =>
          store.keepTaskResult(arn, replayKey(call.stateName, call.input), json(call.outcome.ok ? call.outcome.output : null)).catch(this.onStoreError),
        );
      },
      ...(from.redrive ? { redrive: { skipIterations: from.redrive.skipIterations } } : {}),
    });
    if (from.redrive) recorder.record('ExecutionRedriven', { redriveCount: from.redrive.count });
    const run = runDefinition({
      definition,
      input: from.input,
      ...(from.redrive ? { startAt: from.redrive.startAt } : {}),
      context: {
        executionArn: arn,
        name: execution.name,
        stateMachineArn: execution.stateMachineArn,
        stateMachineName: parseStateMachineArn(execution.stateMachineArn),
        startTime: execution.startedAt,
        roleArn,
      },
      invoke: this.invoke,
      replay: await store.taskResults(arn),
      recorder,
    });
    const entry: Running = { abort: run.abort, finished: Promise.resolve() };
    entry.finished = (async () => {
      const outcome: RunOutcome = await run.done;
      if (outcome.status === 'TIMED_OUT')
        recorder.record('ExecutionTimedOut', { error: 'States.Timeout', cause: 'The execution ran longer than the TimeoutSeconds of its state machine' });
      if (outcome.status === 'ABORTED') {
        recorder.record(
          'ExecutionAborted',
          entry.stop ? { ...(entry.stop.error ? { error: entry.stop.error } : {}), ...(entry.stop.cause ? { cause: entry.stop.cause } : {}) } : undefined,
        );
      }
      await writes;
      await store
        .finishExecution(arn, {
          status: outcome.status,
          stoppedAt: new Date(),
          output: outcome.status === 'SUCCEEDED' ? json(outcome.output) : null,
          error: outcome.status === 'FAILED' ? outcome.error : outcome.status === 'TIMED_OUT' ? 'States.Timeout' : (entry.stop?.error ?? null),
          cause: outcome.status === 'FAILED' ? outcome.cause : outcome.status === 'TIMED_OUT' ? null : (entry.stop?.cause ?? null),
        })
        .catch(this.onStoreError);
      this.running.delete(arn);
    })();
    this.running.set(arn, entry);
  }

  private async describeExecution(req: RequestOf<'DescribeExecution'>) {
    const e = await this.execution(req.executionArn);
    const data = req.includedData !== 'METADATA_ONLY';
    const redrivable = REDRIVABLE.has(e.status);
    return {
      executionArn: e.arn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: seconds(e.startedAt),
      ...(e.stoppedAt ? { stopDate: seconds(e.stoppedAt) } : {}),
      ...(data ? { input: e.input, inputDetails: { included: true } } : {}),
      ...(data && e.output !== null ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== null ? { error: e.error } : {}),
      ...(e.cause !== null ? { cause: e.cause } : {}),
      redriveCount: e.redriveCount,
      ...(e.redriveDate ? { redriveDate: seconds(e.redriveDate) } : {}),
      redriveStatus: redrivable ? 'REDRIVABLE' : 'NOT_REDRIVABLE',
      ...(redrivable ? {} : { redriveStatusReason: `Execution is ${e.status} and cannot be redriven` }),
    };
  }

  private async listExecutions(req: RequestOf<'ListExecutions'>) {
    if (req.mapRunArn !== undefined) throw new SfnApiError('ValidationException', 'mapRunArn: Distributed Map runs are not supported by the embedded runtime');
    if (req.stateMachineArn === undefined) throw new SfnApiError('ValidationException', 'Must provide a StateMachine ARN or MapRun ARN');
    if (req.statusFilter === 'PENDING_REDRIVE') throw new SfnApiError('ValidationException', 'The PENDING_REDRIVE status filter needs a mapRunArn');
    const sm = await this.stateMachine(req.stateMachineArn);
    const offset = pageOffset(req.nextToken);
    const size = pageSizeOf(req.maxResults);
    const rows = await this.store.listExecutions(
      sm.arn,
      { status: req.statusFilter, redriven: req.redriveFilter === undefined ? undefined : req.redriveFilter === 'REDRIVEN' },
      offset,
      size + 1,
    );
    return {
      executions: rows.slice(0, size).map((e) => ({
        executionArn: e.arn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: seconds(e.startedAt),
        ...(e.stoppedAt ? { stopDate: seconds(e.stoppedAt) } : {}),
        redriveCount: e.redriveCount,
        ...(e.redriveDate ? { redriveDate: seconds(e.redriveDate) } : {}),
      })),
      ...(rows.length > size ? { nextToken: pageToken(offset + size) } : {}),
    };
  }

  private async getExecutionHistory(req: RequestOf<'GetExecutionHistory'>) {
    await this.execution(req.executionArn);
    const all = await this.store.events(req.executionArn);
    if (req.reverseOrder) all.reverse();
    const offset = pageOffset(req.nextToken);
    const size = pageSizeOf(req.maxResults);
    const page = all.slice(offset, offset + size);
    const withData = req.includeExecutionData !== false;
    return {
      events: page.map((e) => {
        let details = e.details;
        if (details && !withData) {
          const { input: _i, output: _o, parameters: _p, ...rest } = details;
          details = rest;
        }
        return {
          timestamp: seconds(e.timestamp),
          type: e.type,
          id: e.id,
          previousEventId: e.previousEventId,
          ...(details ? { [detailsKey(e.type)]: details } : {}),
        };
      }),
      ...(offset + size < all.length ? { nextToken: pageToken(offset + size) } : {}),
    };
  }

  private async stopExecution(req: RequestOf<'StopExecution'>) {
    const e = await this.execution(req.executionArn);
    const stop = { ...(req.error !== undefined ? { error: req.error } : {}), ...(req.cause !== undefined ? { cause: req.cause } : {}) };
    const running = this.running.get(e.arn);
    if (running) {
      running.stop = stop;
      running.abort();
      await running.finished;
    } else if (e.status === 'RUNNING') {
      await this.abortStored(e, stop);
    }
    const after = await this.store.getExecution(e.arn);
    return { stopDate: seconds(after?.stoppedAt ?? new Date()) };
  }

  /** ABORTED for an execution that is RUNNING in the store but not here (the stack stopped under it). */
  private async abortStored(e: ExecutionRecord, stop: { error?: string; cause?: string }): Promise<void> {
    const lastId = await this.store.lastEventId(e.arn);
    await this.store.appendEvents(e.arn, [
      { id: lastId + 1, previousEventId: lastId, type: 'ExecutionAborted', timestamp: Date.now(), thread: '', details: stop },
    ]);
    await this.store.finishExecution(e.arn, { status: 'ABORTED', error: stop.error ?? null, cause: stop.cause ?? null, stoppedAt: new Date() });
  }

  private async redriveExecution(req: RequestOf<'RedriveExecution'>) {
    const e = await this.execution(req.executionArn);
    if (!REDRIVABLE.has(e.status) || this.running.has(e.arn)) {
      throw new SfnApiError('ExecutionNotRedrivable', `Execution is ${e.status} and cannot be redriven: '${e.arn}'`);
    }
    const definition = parseDefinition(e.definition);
    const events = await this.store.events(e.arn);
    const point = redrivePoint(definition, events, JSON.parse(e.input) as unknown);
    const at = new Date();
    if (!(await this.store.redriveExecution(e.arn, at))) {
      throw new SfnApiError('ExecutionNotRedrivable', `Execution cannot be redriven: '${e.arn}'`);
    }
    await this.launch({ ...e, status: 'RUNNING' }, definition, {
      input: point.input,
      lastId: events.at(-1)?.id ?? 0,
      redrive: { ...point, count: e.redriveCount + 1 },
    });
    return { redriveDate: seconds(at) };
  }
}
