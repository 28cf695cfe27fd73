// Conformance with AWS: small state machines on the embedded Step Functions endpoint, whose history
// (event types, and the previousEventId links where AWS's are deterministic) and output must be what
// AWS itself records. The expected sequences are our own, written from LocalStack's AWS-validated
// snapshot files (github.com/localstack/localstack, tests/aws/services/stepfunctions/v2/…): each case
// names the file and test it was read from. Tasks invoke a fake Lambda endpoint (the invoke API).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CreateStateMachineCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { startStepFunctionsEndpoint, type StepFunctionsEndpoint } from '../../src/embedded/stepfunctions/endpoint.ts';
import { SfnStore } from '../../src/embedded/stepfunctions/store.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/env.ts';
import { assertHistoryShape, rawCall, rawHistory, sfnClient, waitForExecution } from '../helpers/sfn.ts';

const SNAPSHOTS = 'localstack/localstack tests/aws/services/stepfunctions/v2';
const ROLE = 'arn:aws:iam::000000000000:role/test';
const fnArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/** The functions of the fake Lambda endpoint. */
type Answer = { error?: { errorType: string; errorMessage: string }; result?: unknown; afterMs?: number };
const functions: Record<string, (payload: unknown) => Answer> = {
  slow: (payload) => ({ result: payload, afterMs: 2500 }),
  echo: (payload) => ({ result: payload }),
  wrap: (payload) => ({ result: { Return: payload } }),
  raise: () => ({ error: { errorType: 'Exception', errorMessage: 'Some exception was raised.' } }),
};
const invocations: string[] = [];

let db: TestDatabase;
let lambda: http.Server;
let endpoint: StepFunctionsEndpoint;
let sfn: SFNClient;
let machines = 0;

interface Case {
  /** Where AWS's sequence was read. */
  source: string;
  definition: Record<string, unknown>;
  input?: unknown;
  /** `Type(previousEventId)`, or just `Type` where AWS's links vary run to run (concurrent branches). */
  events: string[];
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: { error?: string; cause?: string };
}

const cases: Record<string, Case> = {
  'Pass with a Result': {
    source: 'base/test_base.snapshot.json test_state_pass_result',
    definition: { StartAt: 'State_1', States: { State_1: { Type: 'Pass', Result: { Arg1: 'argument1' }, End: true } } },
    events: ['ExecutionStarted(0)', 'PassStateEntered(0)', 'PassStateExited(2)', 'ExecutionSucceeded(3)'],
    status: 'SUCCEEDED',
    output: { Arg1: 'argument1' },
  },
  'Fail with Error and Cause': {
    source: 'base/test_base.snapshot.json test_state_fail',
    definition: {
      StartAt: 'FailState',
      States: { FailState: { Type: 'Fail', Error: 'SomeFailure', Cause: "This state machines raises a 'SomeFailure' failure." } },
    },
    events: ['ExecutionStarted(0)', 'FailStateEntered(0)', 'ExecutionFailed(2)'],
    status: 'FAILED',
    error: { error: 'SomeFailure', cause: "This state machines raises a 'SomeFailure' failure." },
  },
  'Choice then Pass': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_choice_aws_docs_scenario',
    definition: {
      StartAt: 'Choice',
      States: {
        Choice: { Type: 'Choice', Choices: [{ Variable: '$.type', StringEquals: 'Private', Next: 'Private' }], Default: 'Public' },
        Private: { Type: 'Pass', End: true },
        Public: { Type: 'Pass', Result: 'public', End: true },
      },
    },
    input: { type: 'Private', value: 22 },
    events: ['ExecutionStarted(0)', 'ChoiceStateEntered(0)', 'ChoiceStateExited(2)', 'PassStateEntered(3)', 'PassStateExited(4)', 'ExecutionSucceeded(5)'],
    status: 'SUCCEEDED',
    output: { type: 'Private', value: 22 },
  },
  Wait: {
    source: 'scenarios/test_base_scenarios.snapshot.json test_wait_timestamp',
    definition: { StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 1, End: true } } },
    events: ['ExecutionStarted(0)', 'WaitStateEntered(0)', 'WaitStateExited(2)', 'ExecutionSucceeded(3)'],
    status: 'SUCCEEDED',
    output: {},
  },
  Succeed: {
    source: 'scenarios/test_base_scenarios.snapshot.json (SucceedStateEntered/Exited as in its Choice scenarios)',
    definition: { StartAt: 'Done', States: { Done: { Type: 'Succeed' } } },
    input: { a: 1 },
    events: ['ExecutionStarted(0)', 'SucceedStateEntered(0)', 'SucceedStateExited(2)', 'ExecutionSucceeded(3)'],
    status: 'SUCCEEDED',
    output: { a: 1 },
  },
  'Map of Pass states, one at a time': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_map_state_item_selector_singleton',
    definition: {
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Result: ['A', 'B', 'C'], ResultPath: '$.shipped', Next: 'Map' },
        Map: {
          Type: 'Map',
          MaxConcurrency: 1,
          ItemsPath: '$.shipped',
          ItemSelector: { 'value.$': '$$.Map.Item.Value', 'index.$': '$$.Map.Item.Index' },
          ItemProcessor: { StartAt: 'Item', States: { Item: { Type: 'Pass', End: true } } },
          ResultPath: '$.out',
          Next: 'Final',
        },
        Final: { Type: 'Pass', End: true },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'PassStateEntered(0)',
      'PassStateExited(2)',
      'MapStateEntered(3)',
      'MapStateStarted(4)',
      'MapIterationStarted(5)',
      'PassStateEntered(6)',
      'PassStateExited(7)',
      'MapIterationSucceeded(8)',
      'MapIterationStarted(8)',
      'PassStateEntered(10)',
      'PassStateExited(11)',
      'MapIterationSucceeded(12)',
      'MapIterationStarted(12)',
      'PassStateEntered(14)',
      'PassStateExited(15)',
      'MapIterationSucceeded(16)',
      'MapStateSucceeded(17)',
      'MapStateExited(17)',
      'PassStateEntered(19)',
      'PassStateExited(20)',
      'ExecutionSucceeded(21)',
    ],
    status: 'SUCCEEDED',
    output: {
      shipped: ['A', 'B', 'C'],
      out: [
        { value: 'A', index: 0 },
        { value: 'B', index: 1 },
        { value: 'C', index: 2 },
      ],
    },
  },
  'Map whose iteration fails': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_map_state_catch (without Catch: MapStateFailed, ExecutionFailed as in its failing Map cases)',
    definition: {
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Result: [1], Next: 'Map' },
        Map: {
          Type: 'Map',
          ItemProcessor: { StartAt: 'HandleItem', States: { HandleItem: { Type: 'Fail', Error: 'HandleItemFailError', Cause: 'HandleItemFailCause' } } },
          End: true,
        },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'PassStateEntered(0)',
      'PassStateExited(2)',
      'MapStateEntered(3)',
      'MapStateStarted(4)',
      'MapIterationStarted(5)',
      'FailStateEntered(6)',
      'MapIterationFailed(7)',
      'MapStateFailed(7)',
      'ExecutionFailed(9)',
    ],
    status: 'FAILED',
    error: { error: 'HandleItemFailError', cause: 'HandleItemFailCause' },
  },
  'Map with a Catch': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_map_state_catch',
    definition: {
      StartAt: 'Start',
      States: {
        Start: { Type: 'Pass', Result: [1], Next: 'Map' },
        Map: {
          Type: 'Map',
          ItemProcessor: { StartAt: 'HandleItem', States: { HandleItem: { Type: 'Fail', Error: 'HandleItemFailError', Cause: 'HandleItemFailCause' } } },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
          End: true,
        },
        Caught: { Type: 'Pass', End: true },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'PassStateEntered(0)',
      'PassStateExited(2)',
      'MapStateEntered(3)',
      'MapStateStarted(4)',
      'MapIterationStarted(5)',
      'FailStateEntered(6)',
      'MapIterationFailed(7)',
      'MapStateFailed(7)',
      'MapStateExited(9)',
      'PassStateEntered(10)',
      'PassStateExited(11)',
      'ExecutionSucceeded(12)',
    ],
    status: 'SUCCEEDED',
    output: { Error: 'HandleItemFailError', Cause: 'HandleItemFailCause' },
  },
  'Parallel of Pass states': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_parallel_state_order',
    definition: {
      StartAt: 'Parallel',
      States: {
        Parallel: {
          Type: 'Parallel',
          End: true,
          Branches: [0, 1, 2, 3].map((i) => ({ StartAt: `B${i}`, States: { [`B${i}`]: { Type: 'Pass', Result: { branch: i }, End: true } } })),
        },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'ParallelStateEntered(0)',
      'ParallelStateStarted(2)',
      'PassStateEntered',
      'PassStateEntered',
      'PassStateEntered',
      'PassStateEntered',
      'PassStateExited',
      'PassStateExited',
      'PassStateExited',
      'PassStateExited',
      'ParallelStateExited(11)',
      'ExecutionSucceeded(12)',
    ],
    status: 'SUCCEEDED',
    output: [{ branch: 0 }, { branch: 1 }, { branch: 2 }, { branch: 3 }],
  },
  'Parallel whose branch fails, caught': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_parallel_state_catch',
    definition: {
      StartAt: 'Parallel',
      States: {
        Parallel: {
          Type: 'Parallel',
          Branches: [{ StartAt: 'Branch1', States: { Branch1: { Type: 'Fail', Error: 'FailureType', Cause: 'Cause description' } } }],
          Catch: [{ ErrorEquals: ['FailureType'], Next: 'FinalCaught' }],
          Next: 'Final',
        },
        FinalCaught: { Type: 'Pass', End: true },
        Final: { Type: 'Pass', End: true },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'ParallelStateEntered(0)',
      'ParallelStateStarted(2)',
      'FailStateEntered',
      'ParallelStateFailed(4)',
      'ParallelStateExited(5)',
      'PassStateEntered(6)',
      'PassStateExited(7)',
      'ExecutionSucceeded(8)',
    ],
    status: 'SUCCEEDED',
    output: { Error: 'FailureType', Cause: 'Cause description' },
  },
  'Parallel whose branch fails': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_parallel_state_fail',
    definition: {
      StartAt: 'Parallel',
      States: {
        Parallel: { Type: 'Parallel', Branches: [{ StartAt: 'Branch1', States: { Branch1: { Type: 'Fail', Error: 'FailureType' } } }], End: true },
      },
    },
    events: ['ExecutionStarted(0)', 'ParallelStateEntered(0)', 'ParallelStateStarted(2)', 'FailStateEntered', 'ParallelStateFailed(4)', 'ExecutionFailed(5)'],
    status: 'FAILED',
    error: { error: 'FailureType' },
  },
  'Two Lambda Tasks in a row': {
    source: 'services/test_lambda_task.snapshot.json test_invoke_pipe',
    definition: {
      StartAt: 'step1',
      States: {
        step1: { Type: 'Task', Resource: fnArn('wrap'), Next: 'step2' },
        step2: { Type: 'Task', Resource: fnArn('wrap'), End: true },
      },
    },
    input: 'HelloWorld',
    events: [
      'ExecutionStarted(0)',
      'TaskStateEntered(0)',
      'LambdaFunctionScheduled(2)',
      'LambdaFunctionStarted(3)',
      'LambdaFunctionSucceeded(4)',
      'TaskStateExited(5)',
      'TaskStateEntered(6)',
      'LambdaFunctionScheduled(7)',
      'LambdaFunctionStarted(8)',
      'LambdaFunctionSucceeded(9)',
      'TaskStateExited(10)',
      'ExecutionSucceeded(11)',
    ],
    status: 'SUCCEEDED',
    output: { Return: { Return: 'HelloWorld' } },
  },
  'Lambda Task that fails, uncaught': {
    source: 'error_handling/test_task_lambda.snapshot.json test_raise_exception',
    definition: { StartAt: 'Start', States: { Start: { Type: 'Task', Resource: fnArn('raise'), End: true } } },
    events: [
      'ExecutionStarted(0)',
      'TaskStateEntered(0)',
      'LambdaFunctionScheduled(2)',
      'LambdaFunctionStarted(3)',
      'LambdaFunctionFailed(4)',
      'ExecutionFailed(5)',
    ],
    status: 'FAILED',
    error: { error: 'Exception' },
  },
  'Lambda Task with Retry, then Catch': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_lambda_invoke_with_retry_base',
    definition: {
      StartAt: 'InvokeLambdaWithRetry',
      States: {
        InvokeLambdaWithRetry: {
          Type: 'Task',
          Resource: fnArn('raise'),
          Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'HandleGeneralError' }],
          End: true,
        },
        HandleGeneralError: { Type: 'Pass', End: true },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'TaskStateEntered(0)',
      'LambdaFunctionScheduled(2)',
      'LambdaFunctionStarted(3)',
      'LambdaFunctionFailed(4)',
      'LambdaFunctionScheduled(5)',
      'LambdaFunctionStarted(6)',
      'LambdaFunctionFailed(7)',
      'LambdaFunctionScheduled(8)',
      'LambdaFunctionStarted(9)',
      'LambdaFunctionFailed(10)',
      'LambdaFunctionScheduled(11)',
      'LambdaFunctionStarted(12)',
      'LambdaFunctionFailed(13)',
      'TaskStateExited(14)',
      'PassStateEntered(15)',
      'PassStateExited(16)',
      'ExecutionSucceeded(17)',
    ],
    status: 'SUCCEEDED',
    output: { Error: 'Exception', Cause: 'Some exception was raised.' },
  },
  'lambda:invoke Task with Retry, then Catch': {
    source: 'scenarios/test_base_scenarios.snapshot.json test_lambda_service_invoke_with_retry_extended_input',
    definition: {
      StartAt: 'InvokeLambdaWithRetry',
      States: {
        InvokeLambdaWithRetry: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: fnArn('raise'), 'Payload.$': '$' },
          Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 1 }],
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'HandleGeneralError' }],
          End: true,
        },
        HandleGeneralError: { Type: 'Pass', End: true },
      },
    },
    events: [
      'ExecutionStarted(0)',
      'TaskStateEntered(0)',
      'TaskScheduled(2)',
      'TaskStarted(3)',
      'TaskFailed(4)',
      'TaskScheduled(5)',
      'TaskStarted(6)',
      'TaskFailed(7)',
      'TaskScheduled(8)',
      'TaskStarted(9)',
      'TaskFailed(10)',
      'TaskScheduled(11)',
      'TaskStarted(12)',
      'TaskFailed(13)',
      'TaskStateExited(14)',
      'PassStateEntered(15)',
      'PassStateExited(16)',
      'ExecutionSucceeded(17)',
    ],
    status: 'SUCCEEDED',
    output: { Error: 'Exception', Cause: 'Some exception was raised.' },
  },
  'Lambda Task that times out': {
    source: 'timeouts/test_timeouts.snapshot.json test_fixed_timeout_lambda',
    definition: { StartAt: 'Start', States: { Start: { Type: 'Task', Resource: fnArn('slow'), TimeoutSeconds: 1, End: true } } },
    events: [
      'ExecutionStarted(0)',
      'TaskStateEntered(0)',
      'LambdaFunctionScheduled(2)',
      'LambdaFunctionStarted(3)',
      'LambdaFunctionTimedOut(4)',
      'ExecutionFailed(5)',
    ],
    status: 'FAILED',
    error: { error: 'States.Timeout' },
  },
  'lambda:invoke Task that times out': {
    source: 'timeouts/test_timeouts.snapshot.json test_fixed_timeout_service_lambda',
    definition: {
      StartAt: 'Start',
      States: {
        Start: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'slow', 'Payload.$': '$' },
          TimeoutSeconds: 1,
          End: true,
        },
      },
    },
    events: ['ExecutionStarted(0)', 'TaskStateEntered(0)', 'TaskScheduled(2)', 'TaskStarted(3)', 'TaskTimedOut(4)', 'ExecutionFailed(5)'],
    status: 'FAILED',
    error: { error: 'States.Timeout' },
  },
};

describe(`conformance with AWS's recorded histories (read from ${SNAPSHOTS})`, { timeout: 300_000 }, () => {
  before(async () => {
    db = await openTestDatabase('sfnconf');
    lambda = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const name = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(req.url ?? '')?.[1] ?? '');
        invocations.push(name);
        const fn = functions[name];
        if (!fn) {
          res.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
          res.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }));
          return;
        }
        const answer = fn(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null'));
        if (answer.afterMs) await new Promise((r) => setTimeout(r, answer.afterMs));
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json', ...(answer.error ? { 'x-amz-function-error': 'Unhandled' } : {}) });
        res.end(JSON.stringify(answer.error ?? answer.result));
      });
    });
    await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
    endpoint = await startStepFunctionsEndpoint({
      pool: db.pool,
      lambdaEndpoint: `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`,
      port: 0,
      builtIn: [],
    });
    sfn = sfnClient(endpoint.url);
  });

  after(async () => {
    await endpoint?.close();
    lambda?.closeAllConnections();
    await new Promise((resolve) => lambda?.close(resolve));
    await db?.close();
  });

  for (const [title, c] of Object.entries(cases)) {
    test(`${title} (${c.source})`, async () => {
      const { stateMachineArn } = await sfn.send(
        new CreateStateMachineCommand({ name: `conformance-${++machines}`, roleArn: ROLE, definition: JSON.stringify(c.definition) }),
      );
      const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(c.input ?? {}) }));
      const done = await waitForExecution(sfn, executionArn!, 60_000);
      const raw = await rawHistory(endpoint.url, executionArn!);
      assertHistoryShape(raw);
      const recorded = raw.map((e, i) => (c.events[i]?.includes('(') ? `${String(e.type)}(${String(e.previousEventId)})` : String(e.type)));
      assert.deepEqual(recorded, c.events);
      assert.equal(done.status, c.status);
      if (c.status === 'SUCCEEDED') {
        assert.deepEqual(JSON.parse(done.output!), c.output);
        const last = raw.at(-1)!.executionSucceededEventDetails as { output: string };
        assert.deepEqual(JSON.parse(last.output), c.output);
      } else {
        assert.equal(done.error, c.error?.error);
        if (c.error?.cause !== undefined) assert.equal(done.cause, c.error.cause);
      }
    });
  }

  test('errors come in AWS shape: HTTP 400 with __type and message', async () => {
    const expectError = async (operation: string, body: unknown, type: string) => {
      const r = await rawCall(endpoint.url, operation, body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.__type, type);
      assert.equal(typeof r.body.message, 'string');
    };
    const sm = 'arn:aws:states:us-east-1:000000000000:stateMachine:conformance-1';
    await expectError('NoSuchOperation', {}, 'UnknownOperationException');
    await expectError('DescribeStateMachine', { stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:missing' }, 'StateMachineDoesNotExist');
    await expectError('DescribeStateMachine', { stateMachineArn: 'not-an-arn' }, 'InvalidArn');
    await expectError('DescribeExecution', { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:conformance-1:missing' }, 'ExecutionDoesNotExist');
    await expectError('StartExecution', { stateMachineArn: sm, name: 'has space' }, 'InvalidName');
    await expectError('StartExecution', { stateMachineArn: sm, input: '{"a":' }, 'InvalidExecutionInput');
    await expectError('StartExecution', { stateMachineArn: sm, input: JSON.stringify({ big: 'x'.repeat(256 * 1024) }) }, 'InvalidExecutionInput');
    await expectError('StartExecution', {}, 'ValidationException');
    await expectError('CreateStateMachine', { name: 'bad', roleArn: ROLE, definition: '{"StartAt":"Nope","States":{}}' }, 'InvalidDefinition');
    await expectError(
      'CreateStateMachine',
      {
        name: 'sqs',
        roleArn: ROLE,
        definition: JSON.stringify({ StartAt: 'S', States: { S: { Type: 'Task', Resource: 'arn:aws:states:::sqs:sendMessage', End: true } } }),
      },
      'InvalidDefinition',
    );
    // Same name and input as a RUNNING execution: that execution; another input: ExecutionAlreadyExists.
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'idempotent',
        roleArn: ROLE,
        definition: JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 2, End: true } } }),
      }),
    );
    const a = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'once', input: '{"x":1}' }));
    const b = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'once', input: '{"x":1}' }));
    assert.equal(b.executionArn, a.executionArn);
    assert.equal(b.startDate?.getTime(), a.startDate?.getTime());
    await expectError('StartExecution', { stateMachineArn, name: 'once', input: '{"x":2}' }, 'ExecutionAlreadyExists');
    await expectError('RedriveExecution', { executionArn: a.executionArn }, 'ExecutionNotRedrivable');
    // StopExecution: ABORTED with the given error and cause, and redrivable.
    const stopped = await rawCall(endpoint.url, 'StopExecution', { executionArn: a.executionArn, error: 'Stop.Test', cause: 'stopped by the test' });
    assert.equal(stopped.status, 200);
    const described = await waitForExecution(sfn, a.executionArn!);
    assert.equal(described.status, 'ABORTED');
    assert.equal(described.error, 'Stop.Test');
    assert.equal(described.redriveStatus, 'REDRIVABLE');
    const raw = await rawHistory(endpoint.url, a.executionArn!);
    assert.deepEqual(raw.at(-1)!.executionAbortedEventDetails, { error: 'Stop.Test', cause: 'stopped by the test' });
    await expectError('StartExecution', { stateMachineArn, name: 'once', input: '{"x":1}' }, 'ExecutionAlreadyExists');
  });

  test('an execution a stack left RUNNING when it died is ABORTED at the next start, with a cause saying so, and redrivable', async () => {
    // What a killed stack leaves behind: the execution RUNNING, its history up to the Wait it was in.
    const definition = JSON.stringify({
      StartAt: 'First',
      States: {
        First: { Type: 'Pass', Result: { n: 1 }, Next: 'Pause' },
        Pause: { Type: 'Wait', Seconds: 1, Next: 'Last' },
        Last: { Type: 'Pass', End: true },
      },
    });
    const { stateMachineArn } = await sfn.send(new CreateStateMachineCommand({ name: 'crashed', roleArn: ROLE, definition }));
    const executionArn = `${stateMachineArn!.replace(':stateMachine:', ':execution:')}:left-running`;
    const store = new SfnStore(db.pool);
    const at = Date.now() - 5000;
    await store.createExecution({
      arn: executionArn,
      stateMachineArn: stateMachineArn!,
      name: 'left-running',
      status: 'RUNNING',
      definition,
      input: '{}',
      output: null,
      error: null,
      cause: null,
      startedAt: new Date(at),
      stoppedAt: null,
      redriveCount: 0,
      redriveDate: null,
    });
    await store.appendEvents(executionArn, [
      { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: at, thread: '', details: { input: '{}', roleArn: ROLE } },
      { id: 2, previousEventId: 0, type: 'PassStateEntered', timestamp: at, thread: '', details: { name: 'First', input: '{}' } },
      { id: 3, previousEventId: 2, type: 'PassStateExited', timestamp: at, thread: '', details: { name: 'First', output: '{"n":1}' } },
      { id: 4, previousEventId: 3, type: 'WaitStateEntered', timestamp: at, thread: '', details: { name: 'Pause', input: '{"n":1}' } },
    ]);
    const next = await startStepFunctionsEndpoint({ pool: db.pool, lambdaEndpoint: 'http://127.0.0.1:1', port: 0, builtIn: [] });
    try {
      const client = sfnClient(next.url);
      const aborted = await waitForExecution(client, executionArn);
      assert.equal(aborted.status, 'ABORTED');
      assert.equal(aborted.error, 'EndpointStopped');
      assert.match(String(aborted.cause), /stopped while this execution was running/);
      assert.equal(aborted.redriveStatus, 'REDRIVABLE');
      await rawCall(next.url, 'RedriveExecution', { executionArn });
      const done = await waitForExecution(client, executionArn);
      assert.equal(done.status, 'SUCCEEDED');
      assert.equal(done.output, '{"n":1}');
      const raw = await rawHistory(next.url, executionArn);
      assertHistoryShape(raw);
      assert.deepEqual(
        raw.map((e) => e.type),
        [
          'ExecutionStarted',
          'PassStateEntered',
          'PassStateExited',
          'WaitStateEntered',
          'ExecutionAborted',
          'ExecutionRedriven',
          'WaitStateEntered',
          'WaitStateExited',
          'PassStateEntered',
          'PassStateExited',
          'ExecutionSucceeded',
        ],
      );
    } finally {
      await next.close();
    }
  });

  test('an execution over its TimeoutSeconds is TIMED_OUT (ExecutionTimedOut, error States.Timeout), and redrivable', async () => {
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'too-slow',
        roleArn: ROLE,
        definition: JSON.stringify({ TimeoutSeconds: 1, StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 3, End: true } } }),
      }),
    );
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn }));
    const done = await waitForExecution(sfn, executionArn!);
    assert.equal(done.status, 'TIMED_OUT');
    assert.equal(done.error, 'States.Timeout');
    assert.equal(done.redriveStatus, 'REDRIVABLE');
    const raw = await rawHistory(endpoint.url, executionArn!);
    assertHistoryShape(raw);
    assert.deepEqual(
      raw.map((e) => e.type),
      ['ExecutionStarted', 'WaitStateEntered', 'ExecutionTimedOut'],
    );
  });
});
