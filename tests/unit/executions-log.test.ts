import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MysqlExecutionLog } from '../../src/runtime/execution-log.ts';
import { EmbeddedExecutions } from '../../src/runtime/executions.ts';
import { createPool, dropDatabase, ensureDatabase, migrate, type Pool } from '../../src/storage/mysql.ts';
import { testMysql } from '../helpers/env.ts';

// The execution log on a real MySQL (its own database, dropped at the end).
const mysql = testMysql('execlog');
let pool: Pool;

before(async () => {
  await ensureDatabase(mysql);
  pool = createPool(mysql);
  await migrate(pool);
  await migrate(pool); // idempotent
});

after(async () => {
  await pool?.end();
  await dropDatabase(mysql);
});

test('the recorder writes an execution and its events; the embedded source lists and reads them back', async () => {
  const log = new MysqlExecutionLog(pool);
  const arn = 'arn:aws:states:us-east-1:000000000000:execution:mlops-pipeline-dev:run-20250101000000-abcdef';
  const t = Date.parse('2025-01-01T00:00:00.000Z');
  await log.started({ executionArn: arn, name: 'run-20250101000000-abcdef', input: { batches: 2 }, startedAt: new Date(t) });
  await log.started({ executionArn: arn, name: 'run-20250101000000-abcdef', input: { batches: 2 }, startedAt: new Date(t) }); // a retry is a no-op
  await log.event(arn, 1, { type: 'ExecutionStarted', timestamp: t, input: { batches: 2 } });
  await log.event(arn, 2, { type: 'StateEntered', timestamp: t + 10, state: { name: 'Train', type: 'Task', input: { trialIndex: 1 } }, index: 1 });
  await log.event(arn, 3, { type: 'StateExited', timestamp: t + 1510, state: { name: 'Train', type: 'Task', input: {}, output: { runId: 'r' } }, index: 1 });
  await log.event(arn, 3, { type: 'StateExited', timestamp: t + 1510 }); // the same seq twice is ignored

  const running = new EmbeddedExecutions(pool, undefined, () => t + 2000);
  const [listed] = await running.list(10);
  assert.equal(listed.id, 'run-20250101000000-abcdef');
  assert.equal(listed.status, 'RUNNING');
  assert.equal(listed.durationMs, 2000);

  await log.finished(arn, { status: 'SUCCEEDED', output: { done: true }, stoppedAt: new Date(t + 3000) });
  const { execution, events } = await running.get('run-20250101000000-abcdef');
  assert.equal(execution.status, 'SUCCEEDED');
  assert.deepEqual(execution.input, { batches: 2 });
  assert.deepEqual(execution.output, { done: true });
  assert.equal(execution.durationMs, 3000);
  assert.deepEqual(events.map((e) => [e.seq, e.type, e.stateName, e.mapIndex]), [[1, 'ExecutionStarted', null, null], [2, 'StateEntered', 'Train', 1], [3, 'StateExited', 'Train', 1]]);
  assert.deepEqual((events[2].payload.state as { output: unknown }).output, { runId: 'r' });
  assert.equal(events[1].at, new Date(t + 10).toISOString());
  // By ARN too; an unknown one is a 404; starting without a Lambda endpoint says why not.
  assert.equal((await running.get(arn)).execution.name, 'run-20250101000000-abcdef');
  await assert.rejects(running.get('run-nope'), { name: 'NotFound' });
  await assert.rejects(running.start({}), /LAMBDA_ENDPOINT/);
});
