import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressPrinter } from '../../src/runtime/progress.ts';

test('fetch lines: the batch as the data API numbers it, and the caught end of data says so instead of repeating the last batch', () => {
  const lines: string[] = [];
  const print = progressPrinter((l) => lines.push(l));
  const fetch = { batchNumber: 10, rowsReceived: 200, rowsNew: 200, rowsRejected: 0, rowsStored: 2000 };
  print({ type: 'ExecutionStarted', timestamp: 0 });
  print({ type: 'StateExited', timestamp: 1000, state: { name: 'FetchBatch', type: 'Task', output: { fetch } } });
  print({ type: 'StateExited', timestamp: 2000, state: { name: 'FetchBatch', type: 'Task', output: { fetch, fetchStop: { Error: 'NoMoreBatches', Cause: '{"detail":"…"}' } } } });
  assert.match(lines[1], /✓ FetchBatch .*batch 10: 200 rows received, 200 new, 0 rejected; 2000 stored$/);
  assert.match(lines[2], /✓ FetchBatch .*NoMoreBatches: the data API has served its last batch; going on with 2000 rows stored$/);
});
