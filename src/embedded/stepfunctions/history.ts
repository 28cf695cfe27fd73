import type { AslDefinition, AslState, TaskTarget } from './definition.ts';
import { everyState, taskTarget } from './definition.ts';

/**
 * One event of an execution's history, as GetExecutionHistory returns it (`timestamp` in ms here;
 * the protocol layer turns it into epoch seconds). `thread` says where it happened (`''` for the
 * top level, `<Map>#<index>` for a Map iteration, `<Parallel>|` for a Parallel's branches): it is
 * what `previousEventId` follows, and what redrive reads; it is not part of the API.
 */
export interface RecordedEvent {
  id: number;
  previousEventId: number;
  type: string;
  timestamp: number;
  thread: string;
  details?: Record<string, unknown>;
}

/** The `<x>EventDetails` field of a HistoryEvent of the given type (botocore's HistoryEvent shape). */
export function detailsKey(type: string): string {
  if (type.endsWith('StateEntered')) return 'stateEnteredEventDetails';
  if (type.endsWith('StateExited')) return 'stateExitedEventDetails';
  return `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
}

/** One invocation made by a Task state, as the executor saw it. */
export interface TaskCall {
  stateName: string;
  target: TaskTarget;
  /** The Task's effective input (after InputPath and Parameters). */
  input: unknown;
  startedAt: number;
  endedAt: number;
  outcome: { ok: true; output: unknown } | { ok: false; error: string; cause: string };
  /** No answer within the Task's TimeoutSeconds (States.Timeout). */
  timedOut?: boolean;
  /** Answered from the results of an earlier attempt of the execution (redrive): not run, not recorded. */
  replayed?: boolean;
}

/** The events aws-local-stepfunctions produces (its `EventLog` type, the fields read here). */
export interface EngineEvent {
  type: string;
  timestamp: number;
  state?: { name: string; type: string; input?: unknown; output?: unknown };
  parentState?: { name: string; type: string; input?: unknown };
  index?: number;
  input?: unknown;
  output?: unknown;
  Error?: string;
  Cause?: unknown;
}

export const json = (value: unknown): string => JSON.stringify(value ?? null);
const dataDetails = { truncated: false };
const causeText = (cause: unknown): string => (typeof cause === 'string' ? cause : json(cause));

/** `$`, `$.a.b`, `$.a[0]`, `$['a']`: enough to size a Map's items for MapStateStarted; null otherwise. */
function simplePath(path: string, value: unknown): unknown {
  if (!path.startsWith('$')) return null;
  const steps = [...path.slice(1).matchAll(/\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|(.)/g)];
  let current: unknown = value;
  for (const [, dotted, index, quoted, other] of steps) {
    if (other !== undefined) return null;
    const key = dotted ?? quoted ?? Number(index);
    if (current === null || typeof current !== 'object') return null;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/**
 * The Map or Parallel state running at the top level. AWS's links around a Map (read off its
 * recorded histories): an iteration starts from where the previous one's last state ended
 * (`cursor`); MapStateSucceeded and MapStateExited both point at the last MapIterationSucceeded
 * (`lastEnd`); MapStateFailed points where the failed iteration's last state ended. The events of
 * a Parallel's branches point at 0.
 */
interface Container {
  name: string;
  type: string;
  cursor: number;
  lastEnd: number;
  open: Set<number>;
  branches: number;
  branchStates: Set<string>;
  /**
   * A Map with MaxConcurrency 1 runs its iterations one after the other, but the engine forwards
   * their events late; the events of an iteration wait here until the ones before it ended.
   */
  serial: { current: number; waiting: Map<number, EngineEvent[]> } | null;
}

export interface HistoryRecorderOptions {
  definition: AslDefinition;
  roleArn: string;
  /** Ids already used by this execution (a redrive appends to the history). */
  lastId: number;
  emit: (event: RecordedEvent) => void;
  /** Told of each Task state that ended well, with the call it made (its result is kept for redrive). */
  onTaskSucceeded?: (call: TaskCall) => void;
  /** A redrive: the engine's ExecutionStarted is not recorded (ExecutionRedriven is). */
  redrive?: { skipIterations: { map: string; indices: ReadonlySet<number> } | null };
}

/**
 * Turns the events of aws-local-stepfunctions and the Task invocations into Step Functions history
 * events: the event types of botocore's HistoryEventType enum, ids from 1 up, and `previousEventId`
 * pointing at the event before in the same thread (AWS's rule).
 */
export class HistoryRecorder {
  private readonly options: HistoryRecorderOptions;
  private readonly states: Map<string, AslState>;
  private nextId: number;
  private readonly last = new Map<string, number>();
  private readonly calls = new Map<string, TaskCall[]>();
  /** Threads where a Task attempt is under way and its invocation not yet recorded. */
  private readonly awaitingCall = new Set<string>();
  /** The Map or Parallel state running at the top level, its open iterations/branches, held top-level events. */
  private container: Container | null = null;
  private held: EngineEvent[] | null = null;
  private readonly skippedThreads = new Set<string>();

  constructor(options: HistoryRecorderOptions) {
    this.options = options;
    this.states = everyState(options.definition.States);
    this.nextId = options.lastId + 1;
    if (options.lastId > 0) this.last.set('', options.lastId);
  }

  /** Called by the executor when a Task invocation settles (before the engine reports the state's end). */
  call(call: TaskCall): void {
    const queue = this.calls.get(call.stateName) ?? [];
    queue.push(call);
    this.calls.set(call.stateName, queue);
  }

  /** Records an event made by the service itself (ExecutionRedriven, ExecutionAborted). */
  record(type: string, details?: Record<string, unknown>, thread = '', timestamp = Date.now(), link: { prev?: number; advance?: boolean } = {}): RecordedEvent {
    const previousEventId = link.prev ?? (thread.endsWith('|') ? 0 : (this.last.get(thread) ?? 0));
    const event: RecordedEvent = { id: this.nextId++, previousEventId, type, timestamp, thread, ...(details ? { details } : {}) };
    if (link.advance !== false) this.last.set(thread, event.id);
    this.options.emit(event);
    return event;
  }

  get lastEventId(): number {
    return this.nextId - 1;
  }

  event(event: EngineEvent): void {
    if (this.held && this.isTopLevel(event)) {
      this.held.push(event);
      return;
    }
    this.handle(event);
  }

  private isTopLevel(event: EngineEvent): boolean {
    if (event.index !== undefined || event.parentState) return false;
    if (event.type.startsWith('Execution')) return true;
    return !(
      this.container?.type === 'Parallel' &&
      event.state &&
      this.container.branchStates.has(event.state.name) &&
      !(event.state.name === this.container.name)
    );
  }

  private threadOf(event: EngineEvent): string {
    const c = this.container;
    if (!c) return '';
    if (event.index !== undefined) return `${c.name}#${event.index}`;
    if (c.type === 'Parallel' && event.state && event.state.name !== c.name && c.branchStates.has(event.state.name)) return `${c.name}|`;
    return '';
  }

  private handle(event: EngineEvent): void {
    const serial = this.container?.serial;
    if (serial && event.index !== undefined && event.index !== serial.current) {
      const waiting = serial.waiting.get(event.index) ?? [];
      waiting.push(event);
      serial.waiting.set(event.index, waiting);
      return;
    }
    const at = event.timestamp;
    switch (event.type) {
      case 'ExecutionStarted':
        // AWS: the first state's event points at 0, not at ExecutionStarted.
        if (!this.options.redrive)
          this.record('ExecutionStarted', { input: json(event.input), inputDetails: dataDetails, roleArn: this.options.roleArn }, '', at, { advance: false });
        return;
      case 'ExecutionSucceeded':
        this.record('ExecutionSucceeded', { output: json(event.output), outputDetails: dataDetails }, '', at);
        return;
      case 'ExecutionFailed':
        this.record('ExecutionFailed', { error: event.Error ?? 'States.Runtime', cause: causeText(event.Cause) }, '', at);
        return;
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
        return; // recorded by the service, with StopExecution's error and cause
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
        this.mapIteration(event);
        return;
      case 'ParallelBranchStarted':
        if (this.container) this.container.branches++;
        return;
      case 'ParallelBranchSucceeded':
      case 'ParallelBranchFailed':
        if (this.container) {
          this.container.branches--;
          if (this.container.branches === 0 && this.held) this.finishContainerWait();
        }
        return;
    }
    const thread = this.threadOf(event);
    const state = event.state;
    if (this.skippedThreads.has(thread)) {
      // An iteration a redrive does not run again: its Tasks answer from their recorded results,
      // which must still be taken off the queue (the next iteration's call is behind them).
      if (state?.type === 'Task' && (event.type === 'StateExited' || event.type === 'StateFailed')) this.calls.get(state.name)?.shift();
      return;
    }
    if (!state) return;
    const definition = this.states.get(state.name);
    switch (event.type) {
      case 'StateEntered': {
        this.record(`${state.type}StateEntered`, { name: state.name, input: json(state.input), inputDetails: dataDetails }, thread, at);
        if (state.type === 'Task') this.awaitingCall.add(thread);
        if ((state.type === 'Map' || state.type === 'Parallel') && thread === '') {
          const started =
            state.type === 'Map'
              ? this.record('MapStateStarted', this.mapLength(definition, state.input), thread, at)
              : this.record('ParallelStateStarted', undefined, thread, at);
          const branchStates = new Set<string>();
          for (const branch of definition?.Branches ?? []) for (const name of everyState(branch.States).keys()) branchStates.add(name);
          const concurrency =
            typeof definition?.MaxConcurrencyPath === 'string' ? simplePath(definition.MaxConcurrencyPath, state.input) : definition?.MaxConcurrency;
          const serial = state.type === 'Map' && concurrency === 1 ? { current: 0, waiting: new Map<number, EngineEvent[]>() } : null;
          this.container = { name: state.name, type: state.type, cursor: started.id, lastEnd: started.id, open: new Set(), branches: 0, branchStates, serial };
        }
        return;
      }
      case 'StateFailed':
        if (state.type === 'Task') this.taskCall(thread, state.name, definition, false);
        if (thread === '' && this.container?.name === state.name) {
          const c = this.container;
          for (const index of c.open) this.record('MapIterationAborted', { name: state.name, index }, `${state.name}#${index}`, at);
          this.record(`${state.type}StateFailed`, undefined, '', at, { prev: c.type === 'Map' ? c.cursor : this.lastEventId });
          this.container = null;
        }
        return;
      case 'StateRetried':
        if (state.type === 'Task') this.awaitingCall.add(thread);
        return;
      case 'StateCaught':
        return;
      case 'StateExited': {
        if (state.type === 'Task') this.taskCall(thread, state.name, definition, true);
        if (thread === '' && this.container?.name === state.name) {
          const c = this.container;
          if (c.open.size > 0 || c.branches > 0) {
            // The engine forwards nested events asynchronously: wait for the last iterations.
            this.held = [event];
            return;
          }
          this.containerSucceeded(c, event);
          return;
        }
        this.record(`${state.type}StateExited`, { name: state.name, output: json(event.state?.output), outputDetails: dataDetails }, thread, at);
        return;
      }
    }
  }

  /** The container's last iterations arrived: record its end, then the top-level events held meanwhile. */
  private finishContainerWait(): void {
    const c = this.container;
    const held = this.held;
    if (!c || !held) return;
    this.held = null;
    this.container = null;
    const [exit, ...rest] = held;
    this.containerSucceeded(c, exit);
    for (const e of rest) this.event(e);
  }

  /** AWS records MapStateSucceeded then MapStateExited for a Map, only ParallelStateExited for a Parallel. */
  private containerSucceeded(c: Container, exit: EngineEvent): void {
    this.container = null;
    const exited = { name: c.name, output: json(exit.state?.output), outputDetails: dataDetails };
    if (c.type === 'Map') {
      this.record('MapStateSucceeded', undefined, '', exit.timestamp, { prev: c.lastEnd });
      this.record('MapStateExited', exited, '', exit.timestamp, { prev: c.lastEnd });
    } else {
      this.record(`${c.type}StateExited`, exited, '', exit.timestamp, { prev: this.lastEventId });
    }
  }

  private mapLength(definition: AslState | undefined, input: unknown): Record<string, unknown> | undefined {
    const afterInputPath = typeof definition?.InputPath === 'string' ? simplePath(definition.InputPath, input) : input;
    const items = simplePath(definition?.ItemsPath ?? '$', afterInputPath);
    return Array.isArray(items) ? { length: items.length } : undefined;
  }

  private mapIteration(event: EngineEvent): void {
    const c = this.container;
    const map = event.parentState?.name ?? c?.name ?? '';
    const index = event.index ?? 0;
    const thread = `${map}#${index}`;
    const skip = this.options.redrive?.skipIterations;
    if (skip && skip.map === map && skip.indices.has(index)) {
      this.skippedThreads.add(thread);
      if (event.type !== 'MapIterationStarted' && c) this.nextSerialIteration(c, index);
      return;
    }
    const details = { name: map, index };
    if (event.type === 'MapIterationStarted') {
      c?.open.add(index);
      this.record('MapIterationStarted', details, thread, event.timestamp, { prev: c?.cursor ?? this.last.get('') ?? 0 });
      return;
    }
    c?.open.delete(index);
    const done = this.record(event.type, details, thread, event.timestamp);
    if (c) {
      c.cursor = done.previousEventId;
      c.lastEnd = done.id;
      this.nextSerialIteration(c, index);
    }
    if (c && c.open.size === 0 && this.held) this.finishContainerWait();
  }

  /** A serial Map's iteration `index` ended: the next one's events may go. */
  private nextSerialIteration(c: Container, index: number): void {
    if (!c.serial || index !== c.serial.current) return;
    c.serial.current++;
    const next = c.serial.waiting.get(c.serial.current) ?? [];
    c.serial.waiting.delete(c.serial.current);
    for (const e of next) this.handle(e);
  }

  /** Records the invocation a Task attempt made (scheduled, started, succeeded or failed). */
  private taskCall(thread: string, stateName: string, definition: AslState | undefined, stateSucceeded: boolean): void {
    if (!this.awaitingCall.delete(thread)) return;
    const call = this.calls.get(stateName)?.shift();
    if (!call) return;
    if (stateSucceeded && call.outcome.ok) this.options.onTaskSucceeded?.(call);
    if (call.replayed) return;
    const timeout = typeof definition?.TimeoutSeconds === 'number' ? { timeoutInSeconds: definition.TimeoutSeconds } : {};
    const outcome = call.outcome;
    if (call.target.kind === 'function') {
      this.record(
        'LambdaFunctionScheduled',
        { resource: call.target.resource, input: json(call.input), inputDetails: dataDetails, ...timeout },
        thread,
        call.startedAt,
      );
      this.record('LambdaFunctionStarted', undefined, thread, call.startedAt);
      if (outcome.ok) this.record('LambdaFunctionSucceeded', { output: json(outcome.output), outputDetails: dataDetails }, thread, call.endedAt);
      else if (call.timedOut) this.record('LambdaFunctionTimedOut', { error: outcome.error, cause: outcome.cause }, thread, call.endedAt);
      else this.record('LambdaFunctionFailed', { error: outcome.error, cause: outcome.cause }, thread, call.endedAt);
      return;
    }
    const resource = { resourceType: 'lambda', resource: 'invoke' };
    this.record('TaskScheduled', { ...resource, region: 'us-east-1', parameters: json(call.input), ...timeout }, thread, call.startedAt);
    this.record('TaskStarted', resource, thread, call.startedAt);
    if (outcome.ok) this.record('TaskSucceeded', { ...resource, output: json(outcome.output), outputDetails: dataDetails }, thread, call.endedAt);
    else if (call.timedOut) this.record('TaskTimedOut', { ...resource, error: outcome.error, cause: outcome.cause }, thread, call.endedAt);
    else this.record('TaskFailed', { ...resource, error: outcome.error, cause: outcome.cause }, thread, call.endedAt);
  }
}

export { taskTarget };
