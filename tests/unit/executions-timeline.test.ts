import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executionArnOf, historyToEvents, stateMachineArnFromFunctionArn } from '../../src/executions/step-functions.ts';
import { buildTimeline, nestedStateNames, summarizeStates, type LoggedEvent } from '../../src/executions/views.ts';

const t0 = Date.parse('2025-01-01T00:00:00.000Z');
let seq = 0;
const ev = (type: string, stateName: string | null, atMs: number, payload: Record<string, unknown> = {}, mapIndex: number | null = null): LoggedEvent => ({
  seq: ++seq,
  type,
  stateName,
  mapIndex,
  payload,
  at: new Date(t0 + atMs).toISOString(),
});

test('timeline: durations, a loop, retries, a caught error and Map iterations', () => {
  const events = [
    ev('ExecutionStarted', null, 0),
    ev('StateEntered', 'FetchBatch', 0, { state: { type: 'Task', input: { i: 0 } } }),
    ev('StateFailed', 'FetchBatch', 100, { Error: 'DataApiUnavailable', Cause: 'down' }),
    ev('StateRetried', 'FetchBatch', 2100, { retry: { attempt: 1 } }),
    ev('StateExited', 'FetchBatch', 2500, { state: { type: 'Task', output: { ok: true } } }),
    ev('StateEntered', 'FetchBatch', 3000, { state: { type: 'Task' } }),
    ev('StateFailed', 'FetchBatch', 3100, { Error: 'NoMoreBatches', Cause: 'done' }),
    ev('StateCaught', 'FetchBatch', 3100),
    ev('StateExited', 'FetchBatch', 3100, { state: { type: 'Task' } }),
    ev('MapIterationStarted', 'Trials', 3200, {}, 0),
    ev('StateEntered', 'Train', 3200, { state: { type: 'Task' } }, 0),
    ev('StateEntered', 'Train', 3200, { state: { type: 'Task' } }, 1),
    ev('StateExited', 'Train', 4200, { state: { type: 'Task', output: { runId: 'b' } } }, 1),
    ev('StateExited', 'Train', 5200, { state: { type: 'Task', output: { runId: 'a' } } }, 0),
  ];
  const runs = buildTimeline(events, { status: 'RUNNING' }, t0 + 6000);
  assert.deepEqual(
    runs.map((r) => `${r.label}:${r.status}`),
    ['FetchBatch:succeeded', 'FetchBatch#2:caught', 'Train[0]:succeeded', 'Train[1]:succeeded'],
  );
  assert.equal(runs[0].retries, 1);
  assert.equal(runs[0].error, null, "a retried error that then succeeded is not the run's error");
  assert.equal(runs[0].durationMs, 2500);
  assert.deepEqual(runs[0].input, { i: 0 });
  assert.deepEqual(runs[0].output, { ok: true });
  assert.equal(runs[1].error, 'NoMoreBatches');
  assert.equal(runs[2].durationMs, 2000);
  assert.deepEqual(runs[3].output, { runId: 'b' });
  const summary = summarizeStates(runs);
  assert.deepEqual(summary.FetchBatch, { status: 'caught', runs: 2, retries: 1, failed: 0 });
  assert.equal(summary.Train.runs, 2);
});

test('timeline: a state open when the execution failed failed with it; one open while running is running', () => {
  const events = [
    ev('StateEntered', 'Preprocess', 0, { state: { type: 'Task' } }),
    ev('StateFailed', 'Preprocess', 500, { Error: 'InvalidRows', Cause: 'too few' }),
  ];
  const failed = buildTimeline(events, { status: 'FAILED', error: 'InvalidRows', cause: 'too few' }, t0 + 1000);
  assert.equal(failed[0].status, 'failed');
  assert.equal(failed[0].error, 'InvalidRows');
  assert.equal(failed[0].cause, 'too few');
  assert.equal(summarizeStates(failed).Preprocess.status, 'failed');
  const running = buildTimeline([events[0]], { status: 'RUNNING' }, t0 + 1000);
  assert.equal(running[0].status, 'running');
  assert.equal(running[0].durationMs, 1000);
});

test('timeline: a redriven execution keeps the failed run and adds the new one', () => {
  const events = [
    ev('StateEntered', 'Preprocess', 0, { state: { type: 'Task' } }),
    ev('StateExited', 'Preprocess', 100, { state: { type: 'Task', output: {} } }),
    ev('StateEntered', 'Train', 200, { state: { type: 'Task' } }, 0),
    ev('StateFailed', 'Train', 300, { Error: 'Boom', Cause: 'injected' }, 0),
    ev('ExecutionFailed', null, 300, { Error: 'Boom', Cause: 'injected' }),
    ev('ExecutionRedriven', null, 1000, { redriveCount: 1 }),
    ev('StateEntered', 'Train', 1000, { state: { type: 'Task' } }, 0),
    ev('StateExited', 'Train', 1500, { state: { type: 'Task', output: { runId: 'r' } } }, 0),
  ];
  const runs = buildTimeline(events, { status: 'SUCCEEDED' }, t0 + 2000);
  assert.deepEqual(
    runs.map((r) => `${r.label}:${r.status}`),
    ['Preprocess:succeeded', 'Train[0]:failed', 'Train[0]#2:succeeded'],
  );
  assert.equal(runs[1].error, 'Boom');
  assert.equal(runs[1].durationMs, 100, 'the failed run ended when the execution failed');
  assert.equal(summarizeStates(runs).Train.failed, 1);
});

test('Step Functions history becomes the same events: Map index from the event chain, retries, catches', () => {
  const nested = nestedStateNames({
    StartAt: 'F',
    States: {
      F: { Type: 'Task', End: true },
      Trials: { Type: 'Map', End: true, ItemProcessor: { StartAt: 'Train', States: { Train: { Type: 'Task', End: true } } } },
    },
  });
  assert.deepEqual([...nested], ['Train']);
  const at = (s: number) => new Date(t0 + s * 1000);
  const history = [
    { id: 1, type: 'ExecutionStarted', timestamp: at(0), executionStartedEventDetails: { input: '{"batches":1}' } },
    { id: 2, previousEventId: 1, type: 'TaskStateEntered', timestamp: at(0), stateEnteredEventDetails: { name: 'F', input: '{"x":1}' } },
    { id: 3, previousEventId: 2, type: 'LambdaFunctionScheduled', timestamp: at(0) },
    {
      id: 4,
      previousEventId: 3,
      type: 'LambdaFunctionFailed',
      timestamp: at(1),
      lambdaFunctionFailedEventDetails: { error: 'DataApiUnavailable', cause: 'down' },
    },
    { id: 5, previousEventId: 4, type: 'LambdaFunctionScheduled', timestamp: at(3) },
    { id: 6, previousEventId: 5, type: 'LambdaFunctionSucceeded', timestamp: at(4) },
    { id: 7, previousEventId: 6, type: 'TaskStateExited', timestamp: at(4), stateExitedEventDetails: { name: 'F', output: '{"ok":true}' } },
    { id: 8, previousEventId: 7, type: 'MapStateEntered', timestamp: at(4), stateEnteredEventDetails: { name: 'Trials', input: '{}' } },
    { id: 9, previousEventId: 8, type: 'MapStateStarted', timestamp: at(4) },
    { id: 10, previousEventId: 9, type: 'MapIterationStarted', timestamp: at(4), mapIterationStartedEventDetails: { name: 'Trials', index: 0 } },
    { id: 11, previousEventId: 9, type: 'MapIterationStarted', timestamp: at(4), mapIterationStartedEventDetails: { name: 'Trials', index: 1 } },
    { id: 12, previousEventId: 11, type: 'TaskStateEntered', timestamp: at(4), stateEnteredEventDetails: { name: 'Train', input: '{"trialIndex":1}' } },
    { id: 13, previousEventId: 10, type: 'TaskStateEntered', timestamp: at(4), stateEnteredEventDetails: { name: 'Train', input: '{"trialIndex":0}' } },
    { id: 14, previousEventId: 12, type: 'LambdaFunctionScheduled', timestamp: at(4) },
    {
      id: 15,
      previousEventId: 14,
      type: 'LambdaFunctionFailed',
      timestamp: at(5),
      lambdaFunctionFailedEventDetails: { error: 'InvalidInput', cause: 'bad params' },
    },
    { id: 16, previousEventId: 15, type: 'TaskStateExited', timestamp: at(5), stateExitedEventDetails: { name: 'Train', output: '{}' } },
    { id: 17, previousEventId: 13, type: 'TaskStateExited', timestamp: at(7), stateExitedEventDetails: { name: 'Train', output: '{"runId":"a"}' } },
    { id: 18, previousEventId: 17, type: 'MapStateExited', timestamp: at(7), stateExitedEventDetails: { name: 'Trials', output: '{}' } },
    { id: 19, previousEventId: 18, type: 'ExecutionSucceeded', timestamp: at(7), executionSucceededEventDetails: { output: '{}' } },
  ];
  const events = historyToEvents(history, nested);
  const runs = buildTimeline(events, { status: 'SUCCEEDED' }, t0 + 10_000);
  assert.deepEqual(
    runs.map((r) => `${r.label}:${r.status}:${r.retries}`),
    ['F:succeeded:1', 'Trials:succeeded:0', 'Train[1]:caught:0', 'Train[0]:succeeded:0'],
  );
  assert.deepEqual(runs[0].input, { x: 1 });
  assert.equal(runs[0].durationMs, 4000);
  assert.equal(runs[1].mapIndex, null, 'the Map state itself has no iteration');
  assert.equal(runs[2].error, 'InvalidInput');
  assert.deepEqual(runs[3].output, { runId: 'a' });
  // Epoch seconds (the JSON protocol) work too.
  assert.equal(historyToEvents([{ id: 1, type: 'ExecutionStarted', timestamp: t0 / 1000 }], nested)[0].at, new Date(t0).toISOString());
});

test('a deployed function finds its state machine from its own ARN', () => {
  assert.equal(
    stateMachineArnFromFunctionArn('arn:aws:lambda:eu-west-1:123456789012:function:mlops-pipeline-prod-executions', 'executions'),
    'arn:aws:states:eu-west-1:123456789012:stateMachine:mlops-pipeline-prod',
  );
  assert.equal(
    stateMachineArnFromFunctionArn('arn:aws:lambda:us-east-1:000000000000:function:mlops-pipeline-dev-executions:live', 'executions'),
    'arn:aws:states:us-east-1:000000000000:stateMachine:mlops-pipeline-dev',
  );
  assert.equal(stateMachineArnFromFunctionArn('offline_invokedFunctionArn_for_executions', 'executions'), null);
  assert.equal(stateMachineArnFromFunctionArn(undefined, 'executions'), null);
  assert.equal(stateMachineArnFromFunctionArn('arn:aws:lambda:us-east-1:000000000000:function:other', 'executions'), null);
  assert.equal(executionArnOf('arn:aws:states:us-east-1:000000000000:stateMachine:m', 'run-1'), 'arn:aws:states:us-east-1:000000000000:execution:m:run-1');
});
