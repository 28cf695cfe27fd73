// The Step Functions API of the embedded stack, driven by @aws-sdk/client-sfn and the AWS CLI against
// the pipeline's state machine on real serverless-offline, MySQL and s3rver: an execution followed to
// SUCCEEDED, its history, listing with a status filter and pages, a Train failure then a redrive that
// does not run Fetch or Preprocess again, and a restart of the stack that keeps the executions.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { freePort, EmbeddedStack } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';
import { LambdaProxy } from '../helpers/faults.ts';
import { assertHistoryShape, aws, awsError, history, rawHistory, sfnClient, waitForExecution } from '../helpers/sfn.ts';

const mysql = testMysql('sfnapi');
const PIPELINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:mlops-pipeline-dev';
const fn = (key: string) => `mlops-pipeline-dev-${key}`;
const input = (seed: number) =>
  JSON.stringify({ batches: 1, intervalSeconds: 1, train: { nEstimators: 8, seed }, search: { trials: 3, seed, maxConcurrency: 1 } });

let s3Directory: string;
let proxy: LambdaProxy;
let stack: EmbeddedStack;
let sfn: SFNClient;
let lambdaPort: number;

async function startStack(): Promise<void> {
  stack = new EmbeddedStack({
    mysql,
    bucket: testBucket('sfnapi'),
    s3Directory,
    lambdaPort,
    sfnLambdaEndpoint: proxy.url,
    functionEnv: {
      DATA_API_DATASET_PATH: covertypePath,
      DATA_API_BATCH_INTERVAL_SECONDS: '1',
      DATA_API_SAMPLE_SIZE: '1500',
      DATA_API_BATCHES: '20',
      TRAIN_WORKERS: '1',
    },
  });
  await stack.start();
  sfn = sfnClient(stack.sfnUrl);
}

describe('the Step Functions API of the embedded stack (pipeline state machine)', { timeout: 900_000 }, () => {
  before(async () => {
    s3Directory = await mkdtemp(path.join(os.tmpdir(), 'mlops-sfnapi-s3-'));
    lambdaPort = await freePort();
    proxy = new LambdaProxy(`http://127.0.0.1:${lambdaPort}`);
    await proxy.start();
    await startStack();
  });

  after(async () => {
    await stack?.stop();
    await proxy?.close();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(s3Directory, { recursive: true, force: true });
  });

  let first: string;

  test('the pipeline state machine exists from the start, named as deployed', async () => {
    const { stateMachines } = await sfn.send(new ListStateMachinesCommand({}));
    assert.deepEqual(
      stateMachines?.map((s) => s.stateMachineArn),
      [PIPELINE],
    );
    const described = await aws(stack.sfnUrl, 'describe-state-machine', '--state-machine-arn', PIPELINE);
    assert.equal(described.name, 'mlops-pipeline-dev');
    const definition = JSON.parse(String(described.definition)) as { States: Record<string, { Resource?: string }> };
    assert.equal(definition.States.FetchBatch.Resource, `arn:aws:lambda:us-east-1:000000000000:function:${fn('fetch')}`);
  });

  test('SDK: StartExecution, DescribeExecution to SUCCEEDED, the history of every state', async () => {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: PIPELINE, name: 'sdk-run-1', input: input(1) }));
    first = started.executionArn!;
    assert.equal(first, 'arn:aws:states:us-east-1:000000000000:execution:mlops-pipeline-dev:sdk-run-1');
    const done = await waitForExecution(sfn, first);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}\n${stack.recentOutput().slice(-3000)}`);
    assert.equal(done.redriveStatus, 'NOT_REDRIVABLE');
    assert.equal(done.input, input(1));
    const output = JSON.parse(done.output!) as { promotion: { decision: string }; trials: unknown[] };
    assert.equal(output.promotion.decision, 'promoted');
    assert.equal(output.trials.length, 3);
    assert.ok(done.stopDate! >= done.startDate!);

    const raw = await rawHistory(stack.sfnUrl, first);
    assertHistoryShape(raw);
    const events = await history(sfn, first);
    assert.equal(events.length, raw.length);
    const types = events.map((e) => e.type);
    assert.equal(types.at(-1), 'ExecutionSucceeded');
    // The invocations that succeeded (a retried one failed first), each traced back along previousEventId:
    // LambdaFunctionSucceeded → LambdaFunctionStarted → LambdaFunctionScheduled.
    const byId = (id: number | undefined) => events[Number(id) - 1];
    const succeeded = events
      .filter((e) => e.type === 'LambdaFunctionSucceeded')
      .map((e) => {
        const startedEvent = byId(e.previousEventId);
        assert.equal(startedEvent.type, 'LambdaFunctionStarted');
        const scheduledEvent = byId(startedEvent.previousEventId);
        assert.equal(scheduledEvent.type, 'LambdaFunctionScheduled');
        return scheduledEvent.lambdaFunctionScheduledEventDetails!.resource!.split(':').at(-1);
      });
    assert.deepEqual(succeeded, [fn('fetch'), fn('preprocess'), fn('plan'), fn('train'), fn('train'), fn('train'), fn('select'), fn('promote')]);
    for (const t of [
      'TaskStateEntered',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'PassStateEntered',
      'ChoiceStateEntered',
      'MapStateEntered',
      'MapStateStarted',
      'MapStateSucceeded',
      'MapStateExited',
      'SucceedStateEntered',
    ]) {
      assert.ok(types.includes(t as never), `${t} recorded`);
    }
    assert.deepEqual(
      events.filter((e) => e.type === 'MapIterationStarted').map((e) => e.mapIterationStartedEventDetails),
      [0, 1, 2].map((index) => ({ name: 'Trials', index })),
    );
    assert.equal(events.find((e) => e.type === 'MapStateStarted')?.mapStateStartedEventDetails?.length, 3);
    // The execution's output is the last state's output.
    assert.equal(events.at(-1)!.executionSucceededEventDetails!.output, done.output);
  });

  test('AWS CLI: start-execution, describe-execution, get-execution-history, list-executions with a filter and pages', async () => {
    const started = await aws(stack.sfnUrl, 'start-execution', '--state-machine-arn', PIPELINE, '--name', 'cli-run-1', '--input', input(2));
    const arn = String(started.executionArn);
    let described: Record<string, unknown>;
    for (;;) {
      described = await aws(stack.sfnUrl, 'describe-execution', '--execution-arn', arn);
      if (described.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(described.status, 'SUCCEEDED', JSON.stringify(described));
    const h = await aws(stack.sfnUrl, 'get-execution-history', '--execution-arn', arn, '--reverse-order', '--max-items', '5');
    const last = h.events as { type: string; id: number }[];
    assert.equal(last.length, 5);
    assert.equal(last[0].type, 'ExecutionSucceeded');
    assert.ok(last[0].id > last[1].id);
    const withoutData = await aws(stack.sfnUrl, 'get-execution-history', '--execution-arn', arn, '--no-include-execution-data', '--max-items', '1');
    assert.deepEqual((withoutData.events as Record<string, Record<string, unknown>>[])[0].executionStartedEventDetails.input, undefined);

    // A failed execution to filter out: the input of a name taken already.
    assert.match(
      await awsError(stack.sfnUrl, 'start-execution', '--state-machine-arn', PIPELINE, '--name', 'cli-run-1', '--input', '{"other":1}'),
      /ExecutionAlreadyExists/,
    );
    assert.match(await awsError(stack.sfnUrl, 'start-execution', '--state-machine-arn', PIPELINE, '--input', '{not json'), /InvalidExecutionInput/);
    assert.match(
      await awsError(stack.sfnUrl, 'describe-execution', '--execution-arn', `${PIPELINE.replace('stateMachine', 'execution')}:nope`),
      /ExecutionDoesNotExist/,
    );
    assert.match(await awsError(stack.sfnUrl, 'describe-execution', '--execution-arn', 'arn:aws:states:us-east-1:000000000000:nothing'), /InvalidArn/);

    const succeeded = await aws(stack.sfnUrl, 'list-executions', '--state-machine-arn', PIPELINE, '--status-filter', 'SUCCEEDED');
    assert.deepEqual(
      (succeeded.executions as { name: string }[]).map((e) => e.name),
      ['cli-run-1', 'sdk-run-1'],
    );
    const failed = await aws(stack.sfnUrl, 'list-executions', '--state-machine-arn', PIPELINE, '--status-filter', 'FAILED');
    assert.deepEqual(failed.executions, []);
    // Server-side pages: one execution per page, the token leads to the next.
    const page1 = await aws(stack.sfnUrl, 'list-executions', '--state-machine-arn', PIPELINE, '--no-paginate', '--max-results', '1');
    assert.equal((page1.executions as unknown[]).length, 1);
    assert.equal(typeof page1.nextToken, 'string');
    const page2 = await aws(
      stack.sfnUrl,
      'list-executions',
      '--state-machine-arn',
      PIPELINE,
      '--no-paginate',
      '--max-results',
      '1',
      '--next-token',
      String(page1.nextToken),
    );
    assert.deepEqual(
      [...(page1.executions as { name: string }[]), ...(page2.executions as { name: string }[])].map((e) => e.name),
      ['cli-run-1', 'sdk-run-1'],
    );
    assert.equal(page2.nextToken, undefined);
    const sdkPage = await sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE, maxResults: 1, nextToken: String(page1.nextToken) }));
    assert.deepEqual(
      sdkPage.executions?.map((e) => e.name),
      ['sdk-run-1'],
    );
  });

  test('a failure in Train, then RedriveExecution: SUCCEEDED without running Fetch, Preprocess or the trials that succeeded again', async () => {
    // Trial 1 answers a result without runId: Train's ResultSelector fails with States.Runtime,
    // which no Catch matches (as on AWS), so the Trials Map and the execution fail there.
    let broken = true;
    proxy.fault = (name, payload) =>
      broken && name === fn('train') && (payload as { trialIndex?: number }).trialIndex === 1 ? { kind: 'answer', body: { metrics: {} } } : null;
    const before = new Map([...proxy.invocations]);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: PIPELINE, name: 'redrive-me', input: input(3) }));
    const failed = await waitForExecution(sfn, executionArn!);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.error, 'States.Runtime');
    assert.equal(failed.redriveStatus, 'REDRIVABLE');
    const ran = (key: string) => proxy.count(fn(key)) - (before.get(fn(key)) ?? 0);
    assert.equal(ran('fetch'), 1);
    assert.equal(ran('preprocess'), 1);
    const trainsBefore = ran('train');
    const firstHistory = await history(sfn, executionArn!);
    const succeededTrials = firstHistory.filter((e) => e.type === 'MapIterationSucceeded').map((e) => e.mapIterationSucceededEventDetails!.index);
    assert.ok(!succeededTrials.includes(1));
    assert.ok(firstHistory.some((e) => e.type === 'MapIterationFailed' && e.mapIterationFailedEventDetails?.index === 1));
    assert.equal(firstHistory.at(-1)!.type, 'ExecutionFailed');

    broken = false;
    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const done = await waitForExecution(sfn, executionArn!);
    assert.equal(done.status, 'SUCCEEDED', `${done.error}: ${done.cause}`);
    assert.equal(done.redriveCount, 1);
    assert.ok(done.redriveDate);
    assert.equal(ran('fetch'), 1, 'Fetch is not run again');
    assert.equal(ran('preprocess'), 1, 'Preprocess is not run again');
    assert.equal(ran('plan'), 1, 'PlanTrials is not run again');
    assert.equal(ran('train') - trainsBefore, 3 - succeededTrials.length, 'only the trials that did not succeed train again');
    assert.equal(ran('promote'), 1);
    const output = JSON.parse(done.output!) as { trials: { runId?: string }[] };
    assert.equal(output.trials.length, 3);
    for (const t of output.trials) assert.match(String(t.runId), /^[0-9a-f-]{36}$/);

    const raw = await rawHistory(stack.sfnUrl, executionArn!);
    assertHistoryShape(raw);
    const events = await history(sfn, executionArn!);
    const redriven = events.findIndex((e) => e.type === 'ExecutionRedriven');
    assert.equal(redriven, firstHistory.length, 'the redrive appends to the history');
    assert.equal(events[redriven].executionRedrivenEventDetails?.redriveCount, 1);
    const after = events.slice(redriven + 1);
    assert.equal(after[0].type, 'MapStateEntered', 'the run goes on from the Map that failed');
    assert.deepEqual(
      after.filter((e) => e.type === 'MapIterationStarted').map((e) => e.mapIterationStartedEventDetails!.index),
      [0, 1, 2].filter((i) => !succeededTrials.includes(i)),
    );
    const scheduledAfter = after
      .filter((e) => e.type === 'LambdaFunctionScheduled')
      .map((e) => e.lambdaFunctionScheduledEventDetails!.resource!.split(':').at(-1));
    assert.deepEqual([...new Set(scheduledAfter)], [fn('train'), fn('select'), fn('promote')], 'after the redrive: the trials left, SelectBest, Promote');
    assert.equal(scheduledAfter.filter((f) => f === fn('train')).length, ran('train') - trainsBefore, 'each Train invocation of the redrive is in the history');
    assert.equal(events.at(-1)!.type, 'ExecutionSucceeded');
    // (Debian 12's AWS CLI 2.9 predates redrive-execution: the SDK asks.)
    await assert.rejects(sfn.send(new RedriveExecutionCommand({ executionArn })), { name: 'ExecutionNotRedrivable' });
  });

  test('a restart of the stack keeps the executions; the one it interrupted is ABORTED and can be redriven', async () => {
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'slow',
        roleArn: 'arn:aws:iam::000000000000:role/test',
        definition: JSON.stringify({
          StartAt: 'Before',
          States: {
            Before: { Type: 'Pass', Result: { waited: true }, Next: 'Pause' },
            Pause: { Type: 'Wait', Seconds: 3, Next: 'After' },
            After: { Type: 'Pass', End: true },
          },
        }),
      }),
    );
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'interrupted' }));
    for (;;) {
      if ((await history(sfn, executionArn!)).some((e) => e.type === 'WaitStateEntered')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await stack.stop();
    await startStack();
    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: PIPELINE }));
    assert.deepEqual(
      listed.executions?.map((e) => e.name),
      ['redrive-me', 'cli-run-1', 'sdk-run-1'],
    );
    const interrupted = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    assert.equal(interrupted.status, 'ABORTED');
    assert.match(String(interrupted.cause), /stopped while this execution was running/);
    assert.equal(interrupted.redriveStatus, 'REDRIVABLE');
    await sfn.send(new RedriveExecutionCommand({ executionArn }));
    const done = await waitForExecution(sfn, executionArn!);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.output, '{"waited":true}');
    const events = await history(sfn, executionArn!);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf('ExecutionAborted')), [
      'ExecutionAborted',
      'ExecutionRedriven',
      'WaitStateEntered',
      'WaitStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    assertHistoryShape(await rawHistory(stack.sfnUrl, executionArn!));
  });
});
