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
