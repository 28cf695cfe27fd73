// fetchBatch against a real fake data API (an HTTP server on 127.0.0.1 scripted per request) and a
// real MySQL database: every way the API can fail is the named error, nothing partial is stored, and
// bad rows are set aside with their reason.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { resolveFromRepo } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../../src/dataset/spec.ts';
import { DataApiUnavailable, InvalidInput, NoMoreBatches } from '../../src/errors.ts';
import { fetchBatch } from '../../src/pipeline/fetch.ts';
import { createPool, dropDatabase, ensureDatabase, migrate, type Pool } from '../../src/storage/mysql.ts';
import { covertypePath, testMysql } from '../helpers/env.ts';
import { closedPort, startFakeDataApi, tableCounts, type FakeDataApi, type Reply } from '../helpers/faults.ts';

const settings = testMysql('faultapi');
let pool: Pool;
let spec: DatasetSpec;
let good: string[][];
let api: FakeDataApi;

const fetchOnce = (options: { url?: string; timeoutMs?: number; executionId?: string; fetchIndex?: number } = {}) =>
  fetchBatch(
    { pool, spec, dataApiUrl: options.url ?? api.url, timeoutMs: options.timeoutMs ?? 2000 },
    { executionId: options.executionId ?? 'exec-fault', groupNumber: 1, fetchIndex: options.fetchIndex ?? 0 },
  );

const empty = async () => {
  for (const t of ['raw_rows', 'rejected_rows', 'fetched_batches']) await pool.query(`DELETE FROM ${t}`);
};

async function nothingStored(): Promise<void> {
  const counts = await tableCounts(pool);
  assert.deepEqual([counts.raw_rows, counts.rejected_rows, counts.fetched_batches], [0, 0, 0], `stored something: ${JSON.stringify(counts)}`);
}

describe('fetch against a faulty data API (real HTTP server, real MySQL)', { timeout: 120_000 }, () => {
  before(async () => {
    await ensureDatabase(settings);
    pool = createPool(settings);
    await migrate(pool);
    spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    good = (await loadDatasetRows(spec, covertypePath)).slice(0, 200);
    api = await startFakeDataApi(() => ({ kind: 'batch', rows: good.slice(0, 50) }));
  });
  after(async () => {
    await api?.close();
    await pool?.end();
    await dropDatabase(settings);
  });
  beforeEach(async () => {
    api.queue = [];
    await empty();
  });

  const unavailable: [string, Reply | 'refused', RegExp][] = [
    ['connection refused (API down)', 'refused', /did not answer/],
    ['connection reset without an answer', { kind: 'reset' }, /did not answer/],
    ['no answer within the timeout (slow API)', { kind: 'hang' }, /did not answer.*(timeout|aborted)/i],
    ['headers, then the body stalls past the timeout', { kind: 'stall-body' }, /body did not arrive/],
    ['HTTP 500', { kind: 'text', status: 500, text: 'Internal Server Error' }, /answered 500/],
    ['HTTP 502 from a proxy', { kind: 'text', status: 502, text: '<html>Bad Gateway</html>', contentType: 'text/html' }, /answered 502/],
    ['HTTP 503', { kind: 'json', status: 503, body: { message: 'Service Unavailable' } }, /answered 503/],
    [
      "HTTP 503 from our data API missing its dataset file: the whole message, not the body's first 200 characters",
      {
        kind: 'json',
        status: 503,
        body: {
          detail: `The data API cannot read dataset covertype from /${'very-long-folder/'.repeat(12)}covertype.csv.gz: no such file (the DATA_API_DATASET_PATH setting gives its path or URL)`,
          error: 'DatasetSourceUnavailable',
          message: `The data API cannot read dataset covertype from /${'very-long-folder/'.repeat(12)}covertype.csv.gz: no such file (the DATA_API_DATASET_PATH setting gives its path or URL)`,
        },
      },
      /answered 503: The data API cannot read dataset covertype from .*covertype\.csv\.gz: no such file \(the DATA_API_DATASET_PATH setting gives its path or URL\)$/,
    ],
    ['HTTP 429 (throttled)', { kind: 'json', status: 429, body: { message: 'Too Many Requests' } }, /answered 429/],
    [
      'malformed JSON',
      { kind: 'text', status: 200, text: '{"group_number":1,"batch_number":0,"data":[["3318",', contentType: 'application/json' },
      /malformed JSON/,
    ],
    ['an HTML page with status 200', { kind: 'text', status: 200, text: '<!doctype html><title>login</title>', contentType: 'text/html' }, /malformed JSON/],
    ['empty 200 body', { kind: 'text', status: 200, text: '' }, /malformed JSON/],
    [
      'JSON of the wrong shape (data not an array)',
      { kind: 'json', status: 200, body: { group_number: 1, batch_number: 1, data: 'rows' } },
      /unexpected body: data/,
    ],
    ['JSON without batch_number', { kind: 'json', status: 200, body: { group_number: 1, data: [] } }, /unexpected body: batch_number/],
    ['a negative batch number', { kind: 'json', status: 200, body: { group_number: 1, batch_number: -1, data: [] } }, /batch_number/],
    ['batch number 0 (the course numbers them from 1)', { kind: 'json', status: 200, body: { group_number: 1, batch_number: 0, data: [] } }, /batch_number/],
    ['a JSON array instead of an object', { kind: 'json', status: 200, body: [[1, 2, 3]] }, /unexpected body/],
  ];
  for (const [what, reply, message] of unavailable) {
    test(`${what} → DataApiUnavailable, nothing stored`, async () => {
      let url = api.url;
      if (reply === 'refused') url = `http://127.0.0.1:${await closedPort()}`;
      else api.queue.push(reply);
      const started = Date.now();
      await assert.rejects(fetchOnce({ url, timeoutMs: 500 }), (error: Error) => {
        assert.ok(error instanceof DataApiUnavailable, `${error.name}: ${error.message}`);
        assert.equal(error.name, 'DataApiUnavailable');
        assert.match(error.message, message);
        return true;
      });
      assert.ok(Date.now() - started < 5000, 'the timeout bounds the wait');
      await nothingStored();
    });
  }

  const endOfData: [string, unknown][] = [
    ["the course's API (400 detail, word for word)", { detail: 'Ya se recolectó toda la información minima necesaria' }],
    ["the course's API in the variant with the accent on mínima", { detail: 'Ya se recolectó toda la información mínima necesaria' }],
    [
      'ours (the same detail, and the error named)',
      { detail: 'Ya se recolectó toda la información minima necesaria', error: 'NoMoreBatches', message: 'All 10 batches of group 1 have been served.' },
    ],
  ];
  for (const [what, body] of endOfData) {
    test(`the last batch served, as ${what} → NoMoreBatches (not retried: the loop ends), nothing stored`, async () => {
      api.queue.push({ kind: 'json', status: 400, body });
      await assert.rejects(fetchOnce(), (e: Error) => e instanceof NoMoreBatches);
      await nothingStored();
    });
  }

  test("any other 400 with a detail (the course's bad group) → InvalidInput with the detail", async () => {
    api.queue.push({ kind: 'json', status: 400, body: { detail: 'Número de grupo inválido' } });
    await assert.rejects(fetchOnce(), (e: Error) => e instanceof InvalidInput && /refused the request \(400\).*Número de grupo inválido/.test(e.message));
    await nothingStored();
  });

  test('another 4xx → InvalidInput (a retry would get the same answer), nothing stored', async () => {
    api.queue.push({ kind: 'json', status: 404, body: { message: 'Not Found' } });
    await assert.rejects(fetchOnce(), (e: Error) => e instanceof InvalidInput && /refused the request \(404\)/.test(e.message));
    await nothingStored();
  });

  test('bad rows (wrong types, NaN, Infinity, out of range, wrong width, non-rows) are set aside with a reason; good ones stored', async () => {
    const base = good[0];
    const withValue = (column: number, value: unknown) => base.map((v, i) => (i === column ? value : v));
    const bad: [unknown, RegExp][] = [
      [withValue(0, 'high'), /^Elevation: not a number: "high"/],
      [withValue(0, 'NaN'), /^Elevation: not a number: "NaN"/],
      [withValue(1, 'Infinity'), /^Aspect: not a number: "Infinity"/],
      [withValue(0, '99999'), /^Elevation: "99999" is out of range/],
      [withValue(2, -5), /^Slope: -5 is out of range/],
      [withValue(3, 12.5), /^Horizontal_Distance_To_Hydrology: not an integer/],
      [withValue(0, true), /^Elevation: not a number: true/],
      [withValue(0, null), /^Elevation: missing value/],
      [withValue(0, { $gt: 1 }), /^Elevation: not a number/],
      [withValue(10, 'Mordor'), /^Wilderness_Area: unknown category "Mordor"/],
      [withValue(11, 'C0000'), /^Soil_Type: unknown category "C0000"/],
      [withValue(12, '9'), /^Cover_Type: "9" is out of range \[1, 7\]/],
      [withValue(12, ''), /^Cover_Type: missing target value/],
      [base.slice(0, 12), /expected 13 values, got 12/],
      [[...base, 'extra'], /expected 13 values, got 14/],
      [42, /expected an array or an object, got 42/],
      ['a row', /expected an array or an object/],
      [null, /expected an array or an object, got null/],
    ];
    const goodRows = good.slice(0, 20);
    // 1e400 is valid JSON that parses to Infinity; JSON.stringify cannot write it, so splice it in as text.
    const rows = [...goodRows, ...bad.map(([row]) => row)];
    const text = JSON.stringify({ group_number: 1, batch_number: 3, data: [...rows, withValue(5, 'INF_MARKER')] }).replace('"INF_MARKER"', '1e400');
    api.queue.push({ kind: 'text', status: 200, text, contentType: 'application/json' });

    const result = await fetchOnce();
    assert.equal(result.rowsReceived, goodRows.length + bad.length + 1);
    assert.equal(result.rowsRejected, bad.length + 1);
    assert.equal(result.rowsNew, goodRows.length);
    assert.equal(result.batchNumber, 3);
    const [rejected] = await pool.query('SELECT row_values, reason FROM rejected_rows ORDER BY id');
    const reasons = (rejected as { reason: string }[]).map((r) => r.reason);
    assert.equal(reasons.length, bad.length + 1);
    for (const [i, [, pattern]] of bad.entries()) assert.match(reasons[i], pattern);
    assert.match(reasons[bad.length], /^Horizontal_Distance_To_Roadways: not finite: Infinity/);
    const [counts] = await pool.query('SELECT COUNT(*) AS n FROM raw_rows');
    assert.equal(Number((counts as { n: number }[])[0].n), goodRows.length);
    const [batches] = await pool.query('SELECT rows_received, rows_new, rows_rejected FROM fetched_batches');
    assert.deepEqual((batches as unknown[])[0], { rows_received: rows.length + 1, rows_new: goodRows.length, rows_rejected: bad.length + 1 });
  });

  test('a batch of only bad rows stores the batch record and its rejects, and no rows', async () => {
    api.queue.push({ kind: 'batch', rows: [[1], 'x', null] });
    const result = await fetchOnce();
    assert.deepEqual([result.rowsNew, result.rowsRejected, result.rowsStored], [0, 3, 0]);
  });

  test('duplicates within a batch and across re-runs are stored once; a re-run of the same fetch adds no batch or reject twice', async () => {
    const rows = [...good.slice(0, 30), ...good.slice(0, 10), ['bad']];
    api.fallback = () => ({ kind: 'batch', rows });
    try {
      const first = await fetchOnce({ executionId: 'exec-rerun' });
      assert.deepEqual([first.rowsReceived, first.rowsNew, first.rowsRejected], [41, 30, 1]);
      const again = await fetchOnce({ executionId: 'exec-rerun' });
      assert.deepEqual([again.rowsNew, again.rowsRejected, again.rowsStored], [0, 1, 30]);
      const counts = await tableCounts(pool);
      assert.deepEqual([counts.raw_rows, counts.rejected_rows, counts.fetched_batches], [30, 1, 1]);
    } finally {
      api.fallback = () => ({ kind: 'batch', rows: good.slice(0, 50) });
    }
  });

  test('the fetch after a fault stores the batch normally', async () => {
    api.queue.push({ kind: 'text', status: 500, text: 'boom' }, { kind: 'reset' });
    await assert.rejects(fetchOnce(), DataApiUnavailable);
    await assert.rejects(fetchOnce(), DataApiUnavailable);
    await nothingStored();
    const result = await fetchOnce();
    assert.deepEqual([result.rowsNew, result.rowsRejected, result.rowsStored], [50, 0, 50]);
  });
});
