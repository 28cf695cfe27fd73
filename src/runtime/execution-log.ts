import type { RowDataPacket } from 'mysql2/promise';
import { NotFound } from '../errors.ts';
import { queryRows, type Pool } from '../storage/mysql.ts';
import { schemaStatements } from '../storage/schema.ts';
import type { ExecutionEvent, ExecutionRecorder } from './local-executor.ts';

/**
 * The embedded runtime's execution log in MySQL (tables `executions` and `execution_events`): the
 * local runner writes it as an execution runs; the console reads it where Step Functions would answer
 * ListExecutions / GetExecutionHistory on LocalStack and AWS.
 */

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ExecutionRow {
  executionArn: string;
  name: string;
  status: ExecutionStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  cause: string | null;
  startedAt: string;
  stoppedAt: string | null;
  heartbeatAt: string | null;
}

/** One event as the log keeps it: the runner's event, flattened to what the console needs. */
export interface LoggedEvent {
  seq: number;
  type: string;
  stateName: string | null;
  mapIndex: number | null;
  payload: Record<string, unknown>;
  at: string;
}

/** A state's input or output above this many characters is cut (the pipeline passes ids and keys, not data). */
export const MAX_PAYLOAD_CHARS = 200_000;

/** JSON text for a column, cut to a readable stand-in when too large. */
export function payloadJson(value: unknown, max = MAX_PAYLOAD_CHARS): string {
  const text = JSON.stringify(value === undefined ? null : value);
  if (text.length <= max) return text;
  return JSON.stringify({ truncated: true, chars: text.length, preview: text.slice(0, Math.min(2000, max)) });
}

/** What of a runner's event goes in `payload`: everything but what has a column of its own. */
export function eventPayload(event: ExecutionEvent): Record<string, unknown> {
  const { type: _type, timestamp: _timestamp, index: _index, ...rest } = event;
  const payload: Record<string, unknown> = { ...rest };
  if (event.state) payload.state = { ...event.state };
  // The parent Map state's input is the whole execution state: noise in every iteration event.
  if (payload.parentState && typeof payload.parentState === 'object') {
    const parent = payload.parentState as { name?: unknown; type?: unknown };
    payload.parentState = { name: parent.name, type: parent.type };
  }
  // Retry/Catch: the rule matters, not its JSON object.
  return payload;
}

const parsed = (value: unknown): unknown => {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};
const iso = (value: unknown): string | null => (value === null || value === undefined ? null : value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString());

interface ExecutionDbRow extends RowDataPacket {
  execution_arn: string; name: string; status: ExecutionStatus; input: unknown; output: unknown; error: string | null; cause: string | null;
  started_at: unknown; stopped_at: unknown; heartbeat_at: unknown;
}

const toExecution = (r: ExecutionDbRow): ExecutionRow => ({
  executionArn: r.execution_arn, name: r.name, status: r.status, input: parsed(r.input), output: parsed(r.output),
  error: r.error, cause: r.cause, startedAt: iso(r.started_at) ?? '', stoppedAt: iso(r.stopped_at), heartbeatAt: iso(r.heartbeat_at),
});

export class MysqlExecutionLog implements ExecutionRecorder {
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  private ensured: Promise<void> | undefined;

  /** Creates the log's two tables if a database predates them (idempotent; `migrate` creates them too). */
  ensureTables(): Promise<void> {
    this.ensured ??= (async () => {
      for (const statement of schemaStatements.filter((q) => /CREATE TABLE IF NOT EXISTS (executions|execution_events) /.test(q))) await queryRows(this.pool, statement, []);
    })().catch((error: unknown) => {
      this.ensured = undefined;
      throw error;
    });
    return this.ensured;
  }

  async started(execution: { executionArn: string; name: string; input: unknown; startedAt: Date }): Promise<void> {
    await this.ensureTables();
    await queryRows(this.pool,
      `INSERT INTO executions (execution_arn, name, status, input, started_at, heartbeat_at) VALUES (?, ?, 'RUNNING', ?, ?, ?)
       ON DUPLICATE KEY UPDATE execution_arn = execution_arn`,
      [execution.executionArn, execution.name, payloadJson(execution.input), execution.startedAt, execution.startedAt]);
  }

  async event(executionArn: string, seq: number, event: ExecutionEvent): Promise<void> {
    const stateName = event.state?.name ?? (typeof (event.parentState as { name?: unknown } | undefined)?.name === 'string' ? (event.parentState as { name: string }).name : null);
    await queryRows(this.pool,
      `INSERT IGNORE INTO execution_events (execution_arn, seq, type, state_name, map_index, payload, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [executionArn, seq, event.type, stateName, typeof event.index === 'number' ? event.index : null, payloadJson(eventPayload(event)), new Date(event.timestamp)]);
  }

  async finished(executionArn: string, result: { status: string; output: unknown; error?: string; cause?: string; stoppedAt: Date }): Promise<void> {
    await queryRows(this.pool,
      'UPDATE executions SET status = ?, output = ?, error = ?, cause = ?, stopped_at = ?, heartbeat_at = ? WHERE execution_arn = ?',
      [result.status, payloadJson(result.output ?? null), result.error?.slice(0, 200) ?? null, result.cause ?? null, result.stoppedAt, result.stoppedAt, executionArn]);
  }

  async heartbeat(executionArn: string, at: Date): Promise<void> {
    await queryRows(this.pool, "UPDATE executions SET heartbeat_at = ? WHERE execution_arn = ? AND status = 'RUNNING'", [at, executionArn]);
  }

  async list(limit: number): Promise<ExecutionRow[]> {
    await this.ensureTables();
    const rows = await queryRows<ExecutionDbRow>(this.pool,
      'SELECT execution_arn, name, status, NULL AS input, NULL AS output, error, cause, started_at, stopped_at, heartbeat_at FROM executions ORDER BY started_at DESC, name DESC LIMIT ?',
      [limit]);
    return rows.map(toExecution);
  }

  /** By name (what URLs carry) or ARN. */
  async get(nameOrArn: string): Promise<ExecutionRow> {
    await this.ensureTables();
    const rows = await queryRows<ExecutionDbRow>(this.pool, 'SELECT * FROM executions WHERE name = ? OR execution_arn = ? LIMIT 1', [nameOrArn, nameOrArn]);
    if (rows.length === 0) throw new NotFound(`No execution ${nameOrArn}`);
    return toExecution(rows[0]);
  }

  async events(executionArn: string): Promise<LoggedEvent[]> {
    const rows = await queryRows<RowDataPacket & { seq: number; type: string; state_name: string | null; map_index: number | null; payload: unknown; at: unknown }>(
      this.pool, 'SELECT seq, type, state_name, map_index, payload, at FROM execution_events WHERE execution_arn = ? ORDER BY seq', [executionArn]);
    return rows.map((r) => ({
      seq: r.seq, type: r.type, stateName: r.state_name, mapIndex: r.map_index,
      payload: (parsed(r.payload) ?? {}) as Record<string, unknown>, at: iso(r.at) ?? '',
    }));
  }
}
