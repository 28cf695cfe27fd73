// The history recorder of the embedded Step Functions endpoint, fed engine events by hand: the order a
// serial Map's iterations are recorded in, a redrive's skipped iterations, and a Task's invocation events.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistoryRecorder, type EngineEvent, type RecordedEvent, type TaskCall } from '../../src/embedded/stepfunctions/history.ts';
import type { AslDefinition } from '../../src/embedded/stepfunctions/definition.ts';

const definition: AslDefinition = {
  StartAt: 'M',
  States: {
    M: {
      Type: 'Map',
      MaxConcurrency: 1,
      ItemProcessor: { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:000000000000:function:f', End: true } } },
      End: true,
    },
  },
};

const t = 1_700_000_000_000;
const mapState = { name: 'M', type: 'Map' };
const entered = (index: number, input: unknown): EngineEvent => ({ type: 'StateEntered', timestamp: t, index, state: { name: 'T', type: 'Task', input } });
const exited = (index: number, output: unknown): EngineEvent => ({
  type: 'StateExited',
  timestamp: t,
  index,
  state: { name: 'T', type: 'Task', input: null, output },
});
const iteration = (type: string, index: number): EngineEvent => ({ type, timestamp: t, index, parentState: mapState });
const call = (input: number, replayed = false): TaskCall => ({
  stateName: 'T',
  target: { kind: 'function', resource: 'arn:aws:lambda:us-east-1:000000000000:function:f', functionName: 'f' },
  input,
  startedAt: t,
  endedAt: t,
  outcome: { ok: true, output: input * 10 },
  ...(replayed ? { replayed } : {}),
});

function recorder(redrive?: ConstructorParameters<typeof HistoryRecorder>[0]['redrive']) {
  const events: RecordedEvent[] = [];
  const kept: TaskCall[] = [];
  const r = new HistoryRecorder({
    definition,
    roleArn: 'arn:aws:iam::000000000000:role/r',
    lastId: redrive ? 10 : 0,
    emit: (e) => events.push(e),
    onTaskSucceeded: (c) => kept.push(c),
    ...(redrive ? { redrive } : {}),
  });
  return { r, events, kept };
}

test('a serial Map is recorded one iteration after the other, however late the engine forwards their events', () => {
  const { r, events, kept } = recorder();
  r.event({ type: 'ExecutionStarted', timestamp: t, input: [1, 2] });
  r.event({ type: 'StateEntered', timestamp: t, state: { ...mapState, input: [1, 2] } });
  // Iteration 1 starts before iteration 0's end has been forwarded.
  r.event(iteration('MapIterationStarted', 0));
  r.event(entered(0, 1));
  r.call(call(1));
  r.event(iteration('MapIterationStarted', 1));
  r.event(entered(1, 2));
  r.event(exited(0, 10));
  r.call(call(2));
  r.event(exited(1, 20));
  r.event(iteration('MapIterationSucceeded', 1));
  r.event(iteration('MapIterationSucceeded', 0));
  r.event({ type: 'StateExited', timestamp: t, state: { ...mapState, input: [1, 2], output: [10, 20] } });
  r.event({ type: 'ExecutionSucceeded', timestamp: t, output: [10, 20] });
  const types = events.map((e) => `${e.type}${e.details && 'index' in e.details ? `[${String(e.details.index)}]` : ''}`);
  const one = ['TaskStateEntered', 'LambdaFunctionScheduled', 'LambdaFunctionStarted', 'LambdaFunctionSucceeded', 'TaskStateExited'];
  assert.deepEqual(types, [
    'ExecutionStarted',
    'MapStateEntered',
    'MapStateStarted',
    'MapIterationStarted[0]',
    ...one,
    'MapIterationSucceeded[0]',
    'MapIterationStarted[1]',
    ...one,
    'MapIterationSucceeded[1]',
    'MapStateSucceeded',
    'MapStateExited',
    'ExecutionSucceeded',
  ]);
  assert.deepEqual(
    events.map((e) => e.id),
    events.map((_, i) => i + 1),
  );
  assert.deepEqual(
    events.filter((e) => e.type === 'LambdaFunctionScheduled').map((e) => e.details?.input),
    ['1', '2'],
  );
  assert.deepEqual(
    kept.map((c) => c.input),
    [1, 2],
    'each Task that succeeded is kept for redrive',
  );
});

test('a redrive records ExecutionRedriven and skips the Map iterations that succeeded before; replayed Tasks record nothing', () => {
  const { r, events, kept } = recorder({ skipIterations: { map: 'M', indices: new Set([0]) } });
  r.record('ExecutionRedriven', { redriveCount: 1 });
  r.event({ type: 'ExecutionStarted', timestamp: t, input: [1, 2] });
  r.event({ type: 'StateEntered', timestamp: t, state: { ...mapState, input: [1, 2] } });
  r.event(iteration('MapIterationStarted', 0));
  r.event(entered(0, 1));
  r.call(call(1, true));
  r.event(iteration('MapIterationStarted', 1));
  r.event(entered(1, 2));
  r.event(exited(0, 10));
  r.event(iteration('MapIterationSucceeded', 0));
  r.call(call(2));
  r.event(exited(1, 20));
  r.event(iteration('MapIterationSucceeded', 1));
  r.event({ type: 'StateExited', timestamp: t, state: { ...mapState, input: [1, 2], output: [10, 20] } });
  r.event({ type: 'ExecutionSucceeded', timestamp: t, output: [10, 20] });
  assert.deepEqual(
    events.map((e) => e.type),
    [
      'ExecutionRedriven',
      'MapStateEntered',
      'MapStateStarted',
      'MapIterationStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'MapIterationSucceeded',
      'MapStateSucceeded',
      'MapStateExited',
      'ExecutionSucceeded',
    ],
  );
  assert.equal(events[0].id, 11, 'the history goes on after the events of the first attempt');
  assert.equal(events[0].previousEventId, 10);
  assert.deepEqual(
    events.filter((e) => e.type === 'MapIterationStarted').map((e) => e.details?.index),
    [1],
  );
  assert.deepEqual(
    kept.map((c) => c.input),
    [2],
    'only the Task that ran is kept anew',
  );
});
