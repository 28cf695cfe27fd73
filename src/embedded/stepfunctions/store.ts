import { execute, queryRows, type Pool, type RowDataPacket } from '../../storage/mysql.ts';
import type { RecordedEvent } from './history.ts';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface StateMachineRecord {
  arn: string;
  name: string;
  definition: string;
  roleArn: string;
  type: 'STANDARD' | 'EXPRESS';
  revisionId: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface ExecutionRecord {
  arn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  definition: string;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  startedAt: Date;
  stoppedAt: Date | null;
  redriveCount: number;
  redriveDate: Date | null;
}

interface StateMachineRow extends RowDataPacket {
  arn: string;
  name: string;
  definition: string;
  role_arn: string;
  type: 'STANDARD' | 'EXPRESS';
  revision_id: string;
  created_at: Date;
  updated_at: Date;
}
interface ExecutionRow extends RowDataPacket {
  arn: string;
  state_machine_arn: string;
  name: string;
  status: ExecutionStatus;
  definition: string;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  started_at: Date;
  stopped_at: Date | null;
  redrive_count: number;
  redrive_date: Date | null;
}
interface EventRow extends RowDataPacket {
  id: number;
  previous_event_id: number;
  type: string;
  at: Date;
  thread: string;
  details: string | null;
}

const stateMachineOf = (r: StateMachineRow): StateMachineRecord => ({
  arn: r.arn,
  name: r.name,
  definition: r.definition,
  roleArn: r.role_arn,
  type: r.type,
  revisionId: r.revision_id,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const executionOf = (r: ExecutionRow): ExecutionRecord => ({
  arn: r.arn,
  stateMachineArn: r.state_machine_arn,
  name: r.name,
  status: r.status,
  definition: r.definition,
  input: r.input,
  output: r.output,
  error: r.error,
  cause: r.cause,
  startedAt: r.started_at,
  stoppedAt: r.stopped_at,
  redriveCount: r.redrive_count,
  redriveDate: r.redrive_date,
});

/** The endpoint's state: state machines, executions and their histories, in MySQL (tables `sfn_*` of src/storage/schema.ts). */
export class SfnStore {
  private readonly pool: Pool;
  constructor(pool: Pool) {
    this.pool = pool;
  }

  async putStateMachine(sm: StateMachineRecord): Promise<void> {
    await execute(
      this.pool,
      `INSERT INTO sfn_state_machines (arn, name, definition, role_arn, type, revision_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE definition = VALUES(definition), role_arn = VALUES(role_arn), revision_id = VALUES(revision_id), updated_at = VALUES(updated_at)`,
      [sm.arn, sm.name, sm.definition, sm.roleArn, sm.type, sm.revisionId, sm.createdAt, sm.updatedAt],
    );
  }

  /** Creates it unless one of that name exists; false then. */
  async createStateMachine(sm: StateMachineRecord): Promise<boolean> {
    const result = await execute(
      this.pool,
      'INSERT IGNORE INTO sfn_state_machines (arn, name, definition, role_arn, type, revision_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [sm.arn, sm.name, sm.definition, sm.roleArn, sm.type, sm.revisionId, sm.createdAt, sm.updatedAt],
    );
    return result.affectedRows === 1;
  }

  async getStateMachine(arn: string): Promise<StateMachineRecord | null> {
    const rows = await queryRows<StateMachineRow>(this.pool, 'SELECT * FROM sfn_state_machines WHERE arn = ?', [arn]);
    return rows[0] ? stateMachineOf(rows[0]) : null;
  }

  async listStateMachines(offset: number, limit: number): Promise<StateMachineRecord[]> {
    const rows = await queryRows<StateMachineRow>(this.pool, 'SELECT * FROM sfn_state_machines ORDER BY name LIMIT ? OFFSET ?', [limit, offset]);
    return rows.map(stateMachineOf);
  }

  async deleteStateMachine(arn: string): Promise<void> {
    await execute(this.pool, 'DELETE FROM sfn_state_machines WHERE arn = ?', [arn]);
  }

  /** Inserts a new execution; false when one with that ARN exists already. */
  async createExecution(e: ExecutionRecord): Promise<boolean> {
    const result = await execute(
      this.pool,
      `INSERT IGNORE INTO sfn_executions (arn, state_machine_arn, name, status, definition, input, started_at, redrive_count)
       VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, 0)`,
      [e.arn, e.stateMachineArn, e.name, e.definition, e.input, e.startedAt],
    );
    return result.affectedRows === 1;
  }

  async getExecution(arn: string): Promise<ExecutionRecord | null> {
    const rows = await queryRows<ExecutionRow>(this.pool, 'SELECT * FROM sfn_executions WHERE arn = ?', [arn]);
    return rows[0] ? executionOf(rows[0]) : null;
  }

  /** Newest first, as ListExecutions. */
  async listExecutions(
    stateMachineArn: string,
    filter: { status?: ExecutionStatus | undefined; redriven?: boolean | undefined },
    offset: number,
    limit: number,
  ): Promise<ExecutionRecord[]> {
    const where = ['state_machine_arn = ?'];
    const params: unknown[] = [stateMachineArn];
    if (filter.status) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.redriven !== undefined) where.push(filter.redriven ? 'redrive_count > 0' : 'redrive_count = 0');
    const rows = await queryRows<ExecutionRow>(
      this.pool,
      `SELECT * FROM sfn_executions WHERE ${where.join(' AND ')} ORDER BY started_at DESC, arn DESC LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return rows.map(executionOf);
  }

  async finishExecution(
    arn: string,
    outcome: { status: ExecutionStatus; output?: string | null; error?: string | null; cause?: string | null; stoppedAt: Date },
  ): Promise<void> {
    await execute(this.pool, "UPDATE sfn_executions SET status = ?, output = ?, error = ?, cause = ?, stopped_at = ? WHERE arn = ? AND status = 'RUNNING'", [
      outcome.status,
      outcome.output ?? null,
      outcome.error?.slice(0, 256) ?? null,
      outcome.cause ?? null,
      outcome.stoppedAt,
      arn,
    ]);
  }

  /** Back to RUNNING for a redrive; false when it is not in a redrivable state any more. */
  async redriveExecution(arn: string, at: Date): Promise<boolean> {
    const result = await execute(
      this.pool,
      `UPDATE sfn_executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL, stopped_at = NULL,
         redrive_count = redrive_count + 1, redrive_date = ? WHERE arn = ? AND status IN ('FAILED', 'ABORTED', 'TIMED_OUT')`,
      [at, arn],
    );
    return result.affectedRows === 1;
  }

  /** The executions left RUNNING by a stack that stopped. */
  async runningExecutions(): Promise<ExecutionRecord[]> {
    const rows = await queryRows<ExecutionRow>(this.pool, "SELECT * FROM sfn_executions WHERE status = 'RUNNING'", []);
    return rows.map(executionOf);
  }

  async appendEvents(executionArn: string, events: readonly RecordedEvent[]): Promise<void> {
    if (events.length === 0) return;
    await execute(
      this.pool,
      `INSERT INTO sfn_history_events (execution_arn, id, previous_event_id, type, at, thread, details) VALUES ${events.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      events.flatMap((e) => [executionArn, e.id, e.previousEventId, e.type, new Date(e.timestamp), e.thread, e.details ? JSON.stringify(e.details) : null]),
    );
  }

  async events(executionArn: string): Promise<RecordedEvent[]> {
    const rows = await queryRows<EventRow>(
      this.pool,
      'SELECT id, previous_event_id, type, at, thread, details FROM sfn_history_events WHERE execution_arn = ? ORDER BY id',
      [executionArn],
    );
    return rows.map((r) => ({
      id: r.id,
      previousEventId: r.previous_event_id,
      type: r.type,
      timestamp: r.at.getTime(),
      thread: r.thread,
      ...(r.details ? { details: JSON.parse(r.details) as Record<string, unknown> } : {}),
    }));
  }

  async lastEventId(executionArn: string): Promise<number> {
    const rows = await queryRows<RowDataPacket & { id: number | null }>(this.pool, 'SELECT MAX(id) AS id FROM sfn_history_events WHERE execution_arn = ?', [
      executionArn,
    ]);
    return Number(rows[0]?.id ?? 0);
  }

  async keepTaskResult(executionArn: string, replayKey: string, output: string): Promise<void> {
    await execute(this.pool, 'INSERT IGNORE INTO sfn_task_results (execution_arn, replay_key, output) VALUES (?, ?, ?)', [executionArn, replayKey, output]);
  }

  async taskResults(executionArn: string): Promise<Map<string, unknown>> {
    const rows = await queryRows<RowDataPacket & { replay_key: string; output: string }>(
      this.pool,
      'SELECT replay_key, output FROM sfn_task_results WHERE execution_arn = ?',
      [executionArn],
    );
    return new Map(rows.map((r) => [r.replay_key, JSON.parse(r.output) as unknown]));
  }
}
