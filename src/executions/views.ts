import { InvalidInput, NotFound } from '../errors.ts';
import { layoutAsl, type AslMachine, type AslState, type GraphLayout } from './asl-graph.ts';

/**
 * Executions of the pipeline state machine as the console shows them: a list, and one execution as
 * its graph (each state coloured by status) plus a timeline of state runs (durations, retries, the
 * error of a failed state, Map iterations as `Train[2]`). The Step Functions API answers on every
 * runtime (embedded, LocalStack, AWS); step-functions.ts turns its histories into these events.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';

/** One event of an execution, flattened to what the console needs (from a Step Functions history). */
export interface LoggedEvent {
  seq: number;
  type: string;
  stateName: string | null;
  mapIndex: number | null;
  payload: Record<string, unknown>;
  at: string;
}

export interface ExecutionSummary {
  /** What URLs carry: the execution's name (unique per state machine). */
  id: string;
  name: string;
  executionArn: string;
  status: ExecutionStatus;
  startedAt: string;
  stoppedAt: string | null;
  durationMs: number | null;
  error?: string | null;
  /** How many times it was redriven (RedriveExecution). */
  redriveCount?: number;
}

export interface ExecutionRecord extends ExecutionSummary {
  input: unknown;
  output: unknown;
  error: string | null;
  cause: string | null;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'caught';

/** One run of one state: a state entered twice (a loop) or once per Map iteration has several. */
export interface StateRun {
  /** `FetchBatch`, `FetchBatch#2` for its second run, `Train[2]` in Map iteration 2. */
  label: string;
  name: string;
  type: string;
  mapIndex: number | null;
  status: RunStatus;
  enteredAt: string;
  exitedAt: string | null;
  durationMs: number | null;
  /** Attempts that failed and were retried. */
  retries: number;
  error: string | null;
  cause: string | null;
  input: unknown;
  output: unknown;
}

export type NodeStatus = 'not-run' | RunStatus;

export interface StateSummary {
  status: NodeStatus;
  runs: number;
  retries: number;
  failed: number;
}

export interface ExecutionDetail extends ExecutionRecord {
  states: StateRun[];
  /** By state name: what the graph colours each node with. */
  stateStatus: Record<string, StateSummary>;
  graph: GraphLayout;
  events: LoggedEvent[];
}

const ms = (iso: string | null | undefined): number | null => (iso ? Date.parse(iso) : null);

export function durationMs(startedAt: string, stoppedAt: string | null, now: number): number | null {
  const start = ms(startedAt);
  if (start === null || Number.isNaN(start)) return null;
  const stop = stoppedAt ? ms(stoppedAt) : now;
  return stop === null || Number.isNaN(stop) ? null : Math.max(0, stop - start);
}

const text = (value: unknown): string | null => (value === undefined || value === null ? null : typeof value === 'string' ? value : JSON.stringify(value));

/**
 * State runs from an execution's events, in the order they were entered. A state that failed and
 * was retried is one run with `retries`; one whose error a Catch took is `caught`; one still open
 * when the execution stopped failed with it (or is still running). A redriven execution's states
 * that run again are new runs (`Train[1]#2`).
 */
export function buildTimeline(
  events: readonly LoggedEvent[],
  execution: { status: ExecutionStatus; error?: string | null; cause?: string | null },
  now: number,
): StateRun[] {
  const runs: StateRun[] = [];
  const open = new Map<string, StateRun>();
  const seen = new Map<string, number>();
  for (const e of events) {
    if (/^Execution(Failed|Aborted|TimedOut)$/.test(e.type)) {
      // What was open when the execution stopped failed with it (a redrive runs it again as a new run).
      for (const run of open.values()) {
        run.status = 'failed';
        run.error ??= text(e.payload.Error) ?? e.type;
        run.cause ??= text(e.payload.Cause);
        run.exitedAt = e.at;
        run.durationMs = durationMs(run.enteredAt, e.at, now);
      }
      open.clear();
      continue;
    }
    if (!e.stateName) continue;
    const key = `${e.stateName}\u0000${e.mapIndex ?? ''}`;
    const state = (e.payload.state ?? {}) as { type?: unknown; input?: unknown; output?: unknown };
    switch (e.type) {
      case 'StateEntered': {
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        const base = e.mapIndex === null ? e.stateName : `${e.stateName}[${e.mapIndex}]`;
        const run: StateRun = {
          label: n > 1 ? `${base}#${n}` : base,
          name: e.stateName,
          type: typeof state.type === 'string' ? state.type : 'State',
          mapIndex: e.mapIndex,
          status: 'running',
          enteredAt: e.at,
          exitedAt: null,
          durationMs: null,
          retries: 0,
          error: null,
          cause: null,
          input: state.input ?? null,
          output: null,
        };
        runs.push(run);
        open.set(key, run);
        break;
      }
      case 'StateFailed': {
        const run = open.get(key);
        if (run) {
          run.error = text(e.payload.Error) ?? 'Error';
          run.cause = text(e.payload.Cause);
        }
        break;
      }
      case 'StateRetried': {
        const run = open.get(key);
        if (run) run.retries++;
        break;
      }
      case 'StateCaught': {
        const run = open.get(key);
        if (run) run.status = 'caught';
        break;
      }
      case 'StateExited': {
        const run = open.get(key);
        if (!run) break;
        if (run.status !== 'caught') {
          run.status = 'succeeded';
          // A retried attempt's error is history; the run itself succeeded.
          run.error = null;
          run.cause = null;
        }
        run.exitedAt = e.at;
        run.durationMs = durationMs(run.enteredAt, e.at, now);
        run.output = state.output ?? null;
        open.delete(key);
        break;
      }
      default:
        break;
    }
  }
  const stopped = execution.status !== 'RUNNING';
  for (const run of open.values()) {
    if (stopped) {
      run.status = 'failed';
      run.error ??= execution.error ?? execution.status;
      run.cause ??= execution.cause ?? null;
    }
    run.durationMs = durationMs(run.enteredAt, null, now);
  }
  return runs;
}

const rank: Record<NodeStatus, number> = { 'not-run': 0, succeeded: 1, caught: 2, failed: 3, running: 4 };

/** Per state name, the status the graph shows: running over failed over caught over succeeded. */
export function summarizeStates(runs: readonly StateRun[]): Record<string, StateSummary> {
  const out: Record<string, StateSummary> = {};
  for (const run of runs) {
    out[run.name] ??= { status: 'not-run', runs: 0, retries: 0, failed: 0 };
    const s = out[run.name];
    s.runs++;
    s.retries += run.retries;
    if (run.status === 'failed') s.failed++;
    if (rank[run.status] > rank[s.status]) s.status = run.status;
  }
  return out;
}

/** Names of the states nested in Map/Parallel states (their events carry an iteration index). */
export function nestedStateNames(machine: AslMachine): Set<string> {
  const names = new Set<string>();
  const walk = (states: Record<string, AslState>, nested: boolean) => {
    for (const [name, s] of Object.entries(states)) {
      if (nested) names.add(name);
      for (const m of s.ItemProcessor ? [s.ItemProcessor] : s.Iterator ? [s.Iterator] : (s.Branches ?? [])) walk(m.States, true);
    }
  };
  walk(machine.States, false);
  return names;
}

/** The whole picture of one execution, from its record and events and the state machine's definition. */
export function describeExecution(execution: ExecutionRecord, events: readonly LoggedEvent[], definition: AslMachine, now: number): ExecutionDetail {
  const states = buildTimeline(events, execution, now);
  return { ...execution, states, stateStatus: summarizeStates(states), graph: layoutAsl(definition), events: [...events] };
}

/** Execution names as Step Functions allows them (and as URLs carry them). */
export const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export function checkExecutionId(id: string): string {
  if (!EXECUTION_NAME.test(id))
    throw new InvalidInput(`id: "${id.slice(0, 100)}" is not an execution name (letters, digits, - and _)`, [{ field: 'id', message: 'an execution name' }]);
  return id;
}

export const notFoundExecution = (id: string): NotFound => new NotFound(`No execution ${id}`);
