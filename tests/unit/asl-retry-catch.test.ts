// Every Task of the state machine, at any depth (Map ItemProcessor/Iterator, Parallel Branches), retries
// the transient errors with backoff and catches everything else on a path that ends in RecordFailure, so
// a task added later cannot skip either. Read from the ASL file itself, whatever it holds at the time.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';
import * as errors from '../../src/errors.ts';

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
}
interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}
interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Retry?: Retrier[];
  Catch?: Catcher[];
  TimeoutSeconds?: number;
  ResultPath?: string | null;
  ErrorPath?: string;
  ItemProcessor?: Machine;
  Iterator?: Machine;
  Branches?: Machine[];
}
interface Machine {
  StartAt: string;
  States: Record<string, State>;
}

/** Errors a Task may meet that a later attempt can get past. */
const TRANSIENT = [
  'StorageUnavailable',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];
/** Our errors that are worth a retry (the rest would fail the same way again). */
const RETRYABLE = new Set(['DataApiUnavailable', 'StorageUnavailable']);
const NAMED_ERRORS = Object.entries(errors)
  .filter(([, value]) => typeof value === 'function' && value.prototype instanceof errors.PipelineError)
  .map(([name]) => name);
const FAILURE_SINK = 'RecordFailure';

const definition = JSON.parse(await readFile(path.join(repoRoot, 'statemachine', 'pipeline.asl.json'), 'utf8')) as Machine;

interface Located {
  name: string;
  state: State;
  scope: Machine;
  container: Located | null;
  where: string;
}

function collect(machine: Machine, container: Located | null, where: string, out: Located[]): Located[] {
  for (const [name, state] of Object.entries(machine.States)) {
    const here: Located = { name, state, scope: machine, container, where: `${where}${name}` };
    out.push(here);
    const nested = [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].filter((m): m is Machine => m !== undefined);
    for (const [i, m] of nested.entries()) collect(m, here, `${where}${name}${nested.length > 1 ? `[${i}]` : ''} › `, out);
  }
  return out;
}

const all = collect(definition, null, '', []);
const tasks = all.filter((s) => s.state.Type === 'Task');
const containers = all.filter((s) => s.state.Type === 'Map' || s.state.Type === 'Parallel');

/** Follows Pass states (and nothing else) from `start`; returns the first other state's name. */
function through(scope: Machine, start: string): { name: string; state: State | undefined } {
  let name = start;
  for (let hops = 0; hops < 20; hops++) {
    const state = scope.States[name];
    if (state?.Type !== 'Pass' || !state.Next) return { name, state };
    name = state.Next;
  }
  return { name, state: scope.States[name] };
}

const catchAll = (s: State) => s.Catch?.find((c) => c.ErrorEquals.includes('States.ALL'));

/** Where a failure of `s` ends: its catch-all leads to RecordFailure (top level), or ends its own branch (nested). */
function checkCatch(s: Located): string | null {
  const c = catchAll(s.state);
  if (!c) return `${s.where} (${s.state.Type}) has no Catch for States.ALL`;
  const target = through(s.scope, c.Next);
  if (!target.state) return `${s.where}: Catch goes to ${c.Next}, which is not a state of its scope`;
  if (s.container === null) {
    return target.name === FAILURE_SINK ? null : `${s.where}: Catch-all leads to ${target.name}, not ${FAILURE_SINK}`;
  }
  // Inside a Map/Parallel the Catch cannot leave the branch: it must end the branch there (the item is
  // recorded as failed, or the branch fails and the container's own Catch takes over).
  const ends = target.state.Type === 'Fail' || target.state.End === true;
  return ends ? null : `${s.where}: nested Catch-all leads to ${target.name}, which does not end its branch`;
}

describe('state machine: every task retries transient errors and routes failures to RecordFailure', () => {
  test('the definition has the tasks we expect to check (nested ones included)', () => {
    assert.ok(tasks.length >= 5, `found ${tasks.length} tasks`);
    assert.ok(definition.States[FAILURE_SINK]?.Type === 'Task', `${FAILURE_SINK} is a Task state`);
  });

  test('every Task has a TimeoutSeconds (else Step Functions waits a year for a stuck Lambda)', () => {
    for (const t of tasks) assert.ok((t.state.TimeoutSeconds ?? 0) > 0, `${t.where} has no TimeoutSeconds`);
  });

  test('every Task retries the transient errors, with a sane backoff', () => {
    for (const t of tasks) {
      const retry = t.state.Retry ?? [];
      assert.ok(retry.length > 0, `${t.where} has no Retry`);
      const covered = new Set(retry.flatMap((r) => r.ErrorEquals));
      for (const name of TRANSIENT) {
        assert.ok(covered.has(name) || covered.has('States.ALL'), `${t.where} does not retry ${name}`);
      }
      if (t.state.Resource?.includes('FetchFunctionArn')) {
        assert.ok(covered.has('DataApiUnavailable'), `${t.where} (the fetch task) does not retry DataApiUnavailable`);
      }
      for (const r of retry) {
        assert.ok((r.MaxAttempts ?? 3) >= 2, `${t.where}: retrier ${r.ErrorEquals} makes fewer than 2 attempts`);
        assert.ok((r.IntervalSeconds ?? 1) >= 1, `${t.where}: retrier ${r.ErrorEquals} waits under 1 s`);
        assert.ok((r.BackoffRate ?? 2) >= 1, `${t.where}: retrier ${r.ErrorEquals} backs off by < 1`);
      }
    }
  });

  test('no Task retries an error that would only happen again (bad input, bad rows, broken artifact…)', () => {
    const permanent = NAMED_ERRORS.filter((n) => !RETRYABLE.has(n));
    assert.ok(permanent.includes('InvalidInput') && permanent.includes('ArtifactHashMismatch'), `named errors: ${NAMED_ERRORS}`);
    for (const t of tasks) {
      const retried = (t.state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      for (const name of permanent) assert.ok(!retried.includes(name), `${t.where} retries ${name}`);
      // States.ALL in a Retry would retry InvalidInput too: only the failure recorder may (it must not lose the record).
      if (t.name !== FAILURE_SINK) assert.ok(!retried.includes('States.ALL'), `${t.where} retries States.ALL`);
    }
  });

  test('every Task and every Map/Parallel catches States.ALL on a path to RecordFailure', () => {
    const problems = [...tasks, ...containers]
      .filter((s) => s.name !== FAILURE_SINK)
      .map(checkCatch)
      .filter((p): p is string => p !== null);
    assert.deepEqual(problems, []);
    // A nested state's failure surfaces through its container: every container up the chain is checked above.
    for (const t of tasks) {
      for (let c = t.container; c; c = c.container) assert.ok(catchAll(c.state), `${c.where}, which holds ${t.where}, has no Catch-all`);
    }
  });

  test('RecordFailure retries anything, then ends in a Fail state that carries the original error', () => {
    const sink = definition.States[FAILURE_SINK];
    assert.ok(
      sink.Retry?.some((r) => r.ErrorEquals.includes('States.ALL')),
      'RecordFailure retries States.ALL',
    );
    const next = definition.States[sink.Next ?? ''];
    assert.equal(next?.Type, 'Fail', 'RecordFailure is followed by a Fail state');
    const caught = catchAll(sink);
    assert.ok(caught && definition.States[caught.Next]?.Type === 'Fail', 'a RecordFailure that still fails ends in Fail too');
    assert.equal(next.ErrorPath, '$.error.Error', 'the Fail state reports the caught error name');
    assert.equal(sink.ResultPath ?? null, null, "RecordFailure keeps the caught error in the state's data");
  });

  test('the Catch of every top-level Task keeps the error where RecordFailure reads it ($.error)', () => {
    for (const t of tasks.filter((x) => x.container === null && x.name !== FAILURE_SINK)) {
      const c = catchAll(t.state);
      assert.equal(c?.ResultPath, '$.error', `${t.where}: Catch ResultPath`);
    }
  });

  test('the check itself catches a Task without Retry or Catch, also inside a Map', () => {
    const bad: Machine = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemProcessor: { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'x', End: true } } },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: FAILURE_SINK }],
          End: true,
        },
        [FAILURE_SINK]: { Type: 'Task', Resource: 'y', End: true },
      },
    };
    const found = collect(bad, null, '', []).filter((s) => s.state.Type === 'Task' && s.name !== FAILURE_SINK);
    assert.equal(found.length, 1);
    assert.equal(found[0].where, 'M › T');
    assert.match(checkCatch(found[0]) ?? '', /no Catch/);
    assert.equal(found[0].state.Retry, undefined);
  });
});
