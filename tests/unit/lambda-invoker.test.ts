import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorTypeOf } from '../../src/embedded/lambda-invoker.ts';

test('a failed invocation keeps the error name Retry/Catch match on', () => {
  // What AWS Lambda reports.
  assert.equal(errorTypeOf({ errorType: 'DataApiUnavailable', errorMessage: 'down' }), 'DataApiUnavailable');
  // What serverless-offline reports: always "Error", the name only in the trace.
  assert.equal(errorTypeOf({ errorType: 'Error', trace: ['NoMoreBatches: all 10 batches served', '    at x'] }), 'NoMoreBatches');
  assert.equal(errorTypeOf({ errorType: 'Error', trace: ['TypeError: x is not a function'] }), 'TypeError');
  assert.equal(errorTypeOf({ errorType: 'Error', trace: ['weird first line'] }), 'Error');
  assert.equal(errorTypeOf({}), 'Error');
});
