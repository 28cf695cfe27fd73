import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressPrinter } from '../../scripts/lib/progress.ts';

test('fetch lines: the batch as the data API numbers it, and the caught end of data says so instead of repeating the last batch', () => {
  const lines: string[] = [];
  const print = progressPrinter((l) => lines.push(l));
  const fetch = { batchNumber: 10, rowsReceived: 200, rowsNew: 200, rowsRejected: 0, rowsStored: 2000 };
  const at = (ms: number) => new Date(ms).toISOString();
  const exited = (seq: number, output: unknown) => ({
    seq,
    type: 'StateExited',
    stateName: 'FetchBatch',
    mapIndex: null,
    payload: { state: { type: 'Task', output } },
    at: at(seq * 1000),
  });
  print({ seq: 0, type: 'ExecutionStarted', stateName: null, mapIndex: null, payload: {}, at: at(0) });
  print(exited(1, { fetch }));
  print(exited(2, { fetch, fetchStop: { Error: 'NoMoreBatches', Cause: '{"detail":"…"}' } }));
  assert.match(lines[1], /✓ FetchBatch .*batch 10: 200 rows received, 200 new, 0 rejected; 2000 stored$/);
  assert.match(lines[2], /✓ FetchBatch .*NoMoreBatches: the data API has served its last batch; going on with 2000 rows stored$/);
});

test('a state left through its Catch is not shown as a result: no "batch undefined" line after a caught failure', () => {
  const lines: string[] = [];
  const print = progressPrinter((l) => lines.push(l));
  const at = (ms: number) => new Date(ms).toISOString();
  const event = (seq: number, type: string, payload: Record<string, unknown> = {}) => ({
    seq,
    type,
    stateName: 'FetchBatch',
    mapIndex: null,
    payload,
    at: at(seq * 1000),
  });
  const fetch = { batchNumber: 1, rowsReceived: 50, rowsNew: 50, rowsRejected: 0, rowsStored: 50 };
  print({ seq: 0, type: 'ExecutionStarted', stateName: null, mapIndex: null, payload: {}, at: at(0) });
  print(event(1, 'StateEntered', { state: { type: 'Task' } }));
  print(event(2, 'StateFailed', { Error: 'DataApiUnavailable', Cause: 'Data API answered 503' }));
  print(event(3, 'StateCaught'));
  // The output of a caught state: the input (an earlier batch's $.fetch) with the error added.
  print(event(4, 'StateExited', { state: { type: 'Task', output: { error: { Error: 'DataApiUnavailable' } } } }));
  // The same state entered again (a loop) and finishing is shown as usual.
  print(event(5, 'StateEntered', { state: { type: 'Task' } }));
  print(event(6, 'StateExited', { state: { type: 'Task', output: { fetch } } }));
  assert.ok(!lines.some((l) => l.includes('undefined')), lines.join('\n'));
  assert.match(lines.find((l) => l.includes('✗ FetchBatch (')) ?? '', /✗ FetchBatch \(3\.0s\) {2}failed; its Catch goes on$/);
  assert.match(lines[lines.length - 1], /✓ FetchBatch \(1\.0s\) {2}batch 1: 50 rows received/);
});
