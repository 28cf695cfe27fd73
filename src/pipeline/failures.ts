import { execute, type Pool } from '../storage/mysql.ts';

export interface FailureRecord {
  executionId: string;
  state: string | null;
  error: string;
  cause: string | null;
}

/** Records why an execution failed (once per execution: a retried record is a no-op). */
export async function recordFailure(pool: Pool, failure: FailureRecord): Promise<void> {
  await execute(
    pool,
    `INSERT INTO pipeline_failures (execution_id, state, error, cause) VALUES (?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE id = id`,
    [failure.executionId, failure.state, failure.error.slice(0, 200), failure.cause?.slice(0, 60_000) ?? null],
  );
}
