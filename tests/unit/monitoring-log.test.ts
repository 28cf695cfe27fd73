import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import fc from 'fast-check';
import { ModelNotFound } from '../../src/errors.ts';
import { liveDrift, predictionMix } from '../../src/monitoring/monitor.ts';
import {
  logObjectText,
  millisJson,
  PredictionLog,
  recordLine,
  requestRecords,
  type LogBatch,
  type PredictionLogOptions,
  type PredictionRecord,
  type RequestRecords,
} from '../../src/monitoring/prediction-log.ts';
import { answerJson, isoTime, logPrediction, sentRowsJson } from '../../src/monitoring/records.ts';
import { formatRequestId, parseRequestId } from '../../src/monitoring/request-id.ts';
import { agrees, shadowScorer } from '../../src/monitoring/shadow.ts';
import { LiveRequirementSchema, meetsRequirement } from '../../src/monitoring/live-gate.ts';
import type { DatasetProfile } from '../../src/dataset/profile.ts';
import type { Prediction } from '../../src/serving/model-server.ts';

const record = (i: number, over: Partial<PredictionRecord> = {}): PredictionRecord => ({
  request_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  row: 0,
  ts: '2026-03-04T10:00:00.000Z',
  model: 'covertype',
  model_version: 3,
  alias: 'champion',
  source: 'api',
  features: { Elevation: 2000 + i, Soil_Type: 'C7745' },
  prediction: 2,
  label: 'Lodgepole Pine',
  probabilities: { 1: 0.2, 2: 0.8 },
  latency_ms: 0.5,
  ...over,
});

/** What the champion answered to a one-row request. */
const oneRowAnswer: Prediction = {
  model: { name: 'covertype', version: 3, alias: 'champion', dataset: 'covertype', datasetVersion: 2 },
  predictions: [{ prediction: 2, label: 'Lodgepole Pine' }],
};

class MemoryWriter {
  batches: LogBatch[] = [];
  failNext = 0;
  async write(batch: LogBatch): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('S3 down');
    }
    // The log reuses a body's memory once written (LogBatch): what is kept is a copy.
    this.batches.push({ ...batch, body: Buffer.from(batch.body) });
  }
  lines(): Record<string, unknown>[] {
    return this.batches.flatMap((b) =>
      logObjectText(b.key, b.body)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
  }
}

const options = (over: Partial<PredictionLogOptions> = {}): PredictionLogOptions => ({
  sampleRate: 1,
  bufferBytes: 1_000_000,
  flushBytes: 500_000,
  flushMs: 60_000,
  background: false,
  ...over,
});

describe('prediction log', () => {
  it('writes records under predictions/<model>/date=<UTC day>/ with every field, one object per model and day', async () => {
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options());
    log.add([
      record(1),
      record(2, { ts: '2026-03-05T00:00:01.000Z' }),
      record(3, { model: 'bodyfat', prediction: 14.2, label: undefined, probabilities: undefined }),
    ]);
    await log.close();
    const byPrefix = writer.batches.map((b) => b.key.replace(/[^/]+$/, '')).sort();
    assert.deepEqual(byPrefix, ['predictions/bodyfat/date=2026-03-04/', 'predictions/covertype/date=2026-03-04/', 'predictions/covertype/date=2026-03-05/']);
    for (const b of writer.batches) assert.match(b.key, /\/[0-9TZ]+-[0-9a-f]{12}-\d+\.jsonl\.zst$/);
    const first = writer.lines().find((l) => l.request_id === record(1).request_id);
    assert.deepEqual(first, JSON.parse(JSON.stringify(record(1))));
    for (const key of ['request_id', 'features', 'prediction', 'probabilities', 'model_version', 'latency_ms']) assert.ok(first && key in first, key);
  });

  it('writes each object zstd-compressed, its content type saying so; reads compressed and plain objects', async () => {
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options());
    const records = Array.from({ length: 200 }, (_, i) => record(i));
    log.add(records);
    await log.close();
    const [batch] = writer.batches;
    const text = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
    assert.equal(batch.contentType, 'application/zstd');
    assert.equal(zstdDecompressSync(batch.body).toString('utf8'), text);
    assert.ok(batch.body.length * 5 < Buffer.byteLength(text), `${batch.body.length} bytes for ${Buffer.byteLength(text)}`);
    // Objects written before compression (.jsonl) read as they are.
    assert.equal(logObjectText('predictions/covertype/date=2026-03-04/x.jsonl', Buffer.from(text)), text);
    assert.equal(logObjectText(batch.key, batch.body), text);
  });

  it('loses nothing on a clean shutdown, across size-triggered background flushes', async () => {
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options({ background: true, flushBytes: 5_000 }));
    for (let i = 0; i < 2000; i++) {
      log.add([record(i)]);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    const stats = await log.close();
    assert.ok(writer.batches.length > 2, `flushed in several objects (${writer.batches.length})`);
    const ids = new Set(writer.lines().map((l) => l.request_id));
    assert.equal(ids.size, 2000);
    assert.equal(stats.written, 2000);
    assert.equal(stats.dropped, 0);
    assert.equal(stats.bufferedRecords, 0);
    assert.equal(stats.bufferedBytes, 0);
  });

  it('bounds its memory: a full buffer drops records and counts them, and the next batch carries the count', async () => {
    const writer = new MemoryWriter();
    const size = JSON.stringify(record(1)).length + 96;
    const log = new PredictionLog(writer, options({ bufferBytes: size * 10 + 5 }));
    for (let i = 0; i < 25; i++) log.add([record(i)]);
    assert.equal(log.stats().bufferedRecords, 10);
    assert.equal(log.stats().dropped, 15);
    await log.close();
    assert.equal(writer.lines().length, 10);
    assert.equal(writer.batches[0].dropped, 15);
  });

  it('keeps a failed batch for the next flush under the same key, and never throws', async () => {
    const writer = new MemoryWriter();
    writer.failNext = 1;
    const warnings: unknown[] = [];
    const log = new PredictionLog(writer, options({ warn: (e) => warnings.push(e) }));
    log.add([record(1)]);
    await log.flush();
    assert.equal(writer.batches.length, 0);
    assert.equal(log.stats().writeErrors, 1);
    assert.equal(warnings.length, 1);
    const stats = await log.close();
    assert.equal(writer.batches.length, 1);
    assert.equal(stats.written, 1);
  });

  it('keeps the lines of a failed batch while the batches after it reuse the memory bodies are made in', async () => {
    const writer = new MemoryWriter();
    writer.failNext = 1;
    const log = new PredictionLog(writer, options());
    log.add([record(1), record(2, { model: 'bodyfat', prediction: 14.2, label: undefined, probabilities: undefined })]);
    await log.flush(); // covertype's write fails; bodyfat's body is made after it, in the same memory
    log.add([record(3)]);
    await log.close();
    for (const b of writer.batches) {
      for (const line of logObjectText(b.key, b.body).trim().split('\n')) assert.equal((JSON.parse(line) as PredictionRecord).model, b.model);
    }
    assert.deepEqual(
      writer
        .lines()
        .map((l) => l.request_id)
        .sort(),
      [1, 2, 3].map((i) => record(i).request_id).sort(),
    );
  });

  it('flushes at the end of an invocation only when due by age or size', async () => {
    let now = 1_000_000;
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options({ flushMs: 1000, now: () => now }));
    log.add([record(1)]);
    await log.afterInvocation();
    assert.equal(writer.batches.length, 0, 'not due yet: stays buffered across the freeze');
    now += 1000;
    await log.afterInvocation();
    assert.equal(writer.batches.length, 1);
  });

  it('mints request ids that name the writer and the request number, and each object says which numbers it holds', async () => {
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options());
    const ids = [log.requestId(), log.requestId(), log.requestId()];
    assert.equal(new Set(ids).size, 3);
    for (const [i, id] of ids.entries()) {
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID (version 8)');
      assert.deepEqual(parseRequestId(id), { writerId: log.writerId, seq: i });
    }
    assert.deepEqual(parseRequestId(formatRequestId('abcdef012345', 2 ** 52 + 7)), { writerId: 'abcdef012345', seq: 2 ** 52 + 7 });
    assert.equal(parseRequestId('11111111-2222-4333-8444-555555555555'), null);
    log.add([record(0, { request_id: ids[2] }), record(1, { request_id: ids[0] }), record(2, { model: 'bodyfat', request_id: ids[1] })]);
    await log.close();
    const ranges = Object.fromEntries(writer.batches.map((b) => [b.model, [b.writerId, b.seqFirst, b.seqLast]]));
    assert.deepEqual(ranges, { covertype: [log.writerId, 0, 2], bodyfat: [log.writerId, 1, 1] });
  });

  it("finds the number of its own ids, however old, and none for another writer's", async () => {
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options());
    const old = log.requestId();
    for (let i = 0; i < 2000; i++) log.requestId();
    const recent = log.requestId();
    const other = formatRequestId('abcdef012345', 2001);
    log.add([record(0, { request_id: recent })]);
    log.add([record(1, { model: 'bodyfat', request_id: old })]);
    log.add([record(2, { model: 'diabetes', request_id: other })]);
    await log.close();
    const ranges = Object.fromEntries(writer.batches.map((b) => [b.model, [b.seqFirst, b.seqLast]]));
    assert.deepEqual(ranges, { covertype: [2001, 2001], bodyfat: [0, 0], diabetes: [null, null] });
  });

  it('writes each record as the same line JSON.stringify would, whatever its values', async () => {
    const odd: PredictionRecord[] = [
      record(1),
      record(2, { alias: null, label: undefined, probabilities: undefined, prediction: 31.25, latency_ms: 0 }),
      record(3, { prediction: 'Spruce/Fir', label: 'Spruce "Fir"\n', probabilities: { 'Spruce/Fir': 1 / 3, Aspen: 2 / 3, '10': 0, '2': Number.NaN } }),
      record(4, { features: { 'Soil "Type"': 'C\u00e9\u2028', nested: [1, null, 'x'], none: null, big: 1e21, small: -0 }, row: 7, model_version: 12 }),
      record(5, { source: 'batch', request_id: 'job-1', challenger: { version: 4, prediction: 1, agree: false } }),
      record(6, { probabilities: { 1: 0.1 + 0.2, 2: Number.POSITIVE_INFINITY, 3: 5e-324 }, latency_ms: Number.NaN }),
    ];
    for (const r of odd) assert.equal(recordLine(r), JSON.stringify(r));
    // And through the off-heap buffer: the bytes written are those lines, UTF-8.
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options());
    log.add(odd);
    await log.close();
    assert.equal(logObjectText(writer.batches[0].key, writer.batches[0].body), `${odd.map((r) => JSON.stringify(r)).join('\n')}\n`);
  });

  it('writes latencies and times with the digits JSON.stringify and toISOString give', () => {
    const rounded = (x: number) => Math.round(x * 1000) / 1000;
    for (const x of [
      0,
      -0,
      0.001,
      0.01,
      0.1,
      0.5,
      1,
      1.25,
      10.05,
      0.007,
      123.456,
      999_999_999.999,
      1e9,
      1e12,
      -1.5,
      0.1 + 0.2,
      1e-7,
      5e-324,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ])
      assert.equal(millisJson(x), JSON.stringify(x) ?? 'null', String(x));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 2e9, noNaN: true }), (x) => {
        assert.equal(millisJson(rounded(x)), JSON.stringify(rounded(x)));
        assert.equal(millisJson(x), JSON.stringify(x));
      }),
      { numRuns: 20_000 },
    );
    // Times in order (the cache's case), out of order, and outside the years 0–9999.
    let t = Date.UTC(2026, 11, 31, 23, 59, 59, 990);
    const times = [...Array.from({ length: 40 }, (_, i) => t + i * 0.5 * (i % 3)), -1, -1001, 0, 253402300799999, 253402300800000, -62198755200001, t + 1];
    for (t of times) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => assert.equal(isoTime(ms), new Date(ms).toISOString())),
      { numRuns: 5_000 },
    );
    // The fields requests share, kept from one line to the next, follow each field.
    const lines = [
      record(1),
      record(1, { ts: '2026-03-04T10:00:00.001Z' }),
      record(1, { model_version: 4 }),
      record(1, { alias: 'challenger' }),
      record(1, { model: 'diabetes' }),
    ];
    for (const r of lines) assert.equal(recordLine(r), JSON.stringify(r));
  });

  it('writes a request given once (addRequest) as the lines of its records one by one', async () => {
    const request = (over: Partial<RequestRecords> = {}): RequestRecords => ({
      request_id: formatRequestId('0123456789ab', 7),
      ts: '2026-03-04T10:00:00.000Z',
      model: 'covertype',
      model_version: 3,
      alias: 'champion',
      source: 'api',
      latency_ms: 1.25,
      features: [
        { Elevation: 2000, Soil_Type: 'C7745' },
        { Elevation: 2100.5, 'Soil "Type"': 'C\u00e9\u2028' },
        { none: null, big: 1e21 },
      ],
      predictions: [
        { prediction: 2, label: 'Lodgepole Pine', probabilities: { 1: 0.2, 2: 0.8 } },
        { prediction: 'Spruce/Fir', label: 'Spruce "Fir"\n', probabilities: { 'Spruce/Fir': 1 / 3, '10': 0, '2': Number.NaN } },
        { prediction: 31.25 },
      ],
      ...over,
    });
    const requests = [
      request(),
      request({ alias: null, source: 'batch', request_id: 'job-1', latency_ms: Number.NaN }),
      // A row without features: JSON leaves the field out, as JSON.stringify of its record does.
      request({ features: [undefined, { x: 1 }, { y: 'z' }] }),
      // With each row's prediction JSON as the answer wrote it (answerJson), reused as it is.
      { ...request(), predictionJson: request().predictions.map((p) => JSON.stringify(p)) },
    ];
    const oneByOne = new MemoryWriter();
    const given = new MemoryWriter();
    const byRecord = new PredictionLog(oneByOne, options());
    const byRequest = new PredictionLog(given, options());
    for (const r of requests) {
      byRecord.add(requestRecords(r));
      byRequest.addRequest(r);
    }
    await byRecord.close();
    await byRequest.close();
    const text = (w: MemoryWriter) => w.batches.map((b) => logObjectText(b.key, b.body)).join('');
    assert.equal(text(given), text(oneByOne));
    assert.equal(text(given), `${requests.flatMap((r) => requestRecords(r).map((x) => recordLine(x))).join('\n')}\n`);
    assert.deepEqual(
      given.batches.map((b) => [b.count, b.seqFirst, b.seqLast]),
      oneByOne.batches.map((b) => [b.count, b.seqFirst, b.seqLast]),
    );
    assert.equal(byRequest.stats().logged, 12);
  });

  it("writes a one-row request's features as the client sent them, and only a body that is exactly one row", async () => {
    const row = { Elevation: 2596, 'Soil "Type"': 'C7745 {x}', nested: [1, { a: '}]' }], none: null };
    const accepted = [
      JSON.stringify({ rows: [row] }),
      // Python's json.dumps spacing, and spaces and tabs around.
      ` {"rows" : [ ${JSON.stringify(row, null, 0).replaceAll(',', ', ')} ]\t} `,
      '{"rows":[{"a":"\\"}"}]}',
    ];
    for (const body of accepted) {
      const sent = sentRowsJson(body, 1);
      assert.ok(sent, body);
      assert.deepEqual(JSON.parse(sent[0]), (JSON.parse(body) as { rows: unknown[] }).rows[0], body);
    }
    const refused = [
      // Two rows; another field; a repeated "rows" key (JSON.parse keeps the last one).
      JSON.stringify({ rows: [row, row] }),
      JSON.stringify({ rows: [row], model: 'covertype' }),
      JSON.stringify({ model: 'covertype', rows: [row] }),
      '{"rows":[{"a":1}],"rows":[{"b":2}]}',
      '{"rows":[{"a":1},{"b":2}]}',
      // Line breaks: a log line is one line.
      '{"rows":[{"a":1,\n"b":2}]}',
      '{"rows":[{"a":1}]}\r',
      // Not an object row.
      '{"rows":[[1,2]]}',
    ];
    for (const body of refused) assert.equal(sentRowsJson(body, (JSON.parse(body) as { rows: unknown[] }).rows.length), undefined, body);
    assert.equal(sentRowsJson(undefined, 1), undefined);

    // The log writes the sent text where it would have written JSON.stringify of the parsed row.
    const body = ` {"rows": [{"Elevation": 2596.0, "Soil_Type": "C7745"}]} `;
    const rows = (JSON.parse(body) as { rows: unknown[] }).rows;
    const result = oneRowAnswer;
    const writers = [new MemoryWriter(), new MemoryWriter()];
    const requestId = formatRequestId('0123456789ab', 1);
    for (const [i, sentBody] of [body, undefined].entries()) {
      const log = new PredictionLog(writers[i], options());
      logPrediction(log, requestId, rows, result, 1.5, { body: sentBody });
      await log.close();
    }
    const [sent, serialized] = writers.map((w) => w.batches.map((b) => logObjectText(b.key, b.body)).join(''));
    assert.ok(sent.includes('"features":{"Elevation": 2596.0, "Soil_Type": "C7745"},'), sent);
    assert.ok(serialized.includes('"features":{"Elevation":2596,"Soil_Type":"C7745"},'), serialized);
    const record = (line: string) => ({ ...(JSON.parse(line) as Record<string, unknown>), ts: null });
    assert.deepEqual(record(sent), record(serialized));
  });

  it("queues answered requests in a long-lived process: their time is the answer's, none is lost on close, a failure counts as a drop", async () => {
    const result = oneRowAnswer;
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options({ background: true }));
    const answeredBy = Date.now();
    for (let i = 0; i < 3; i++) logPrediction(log, log.requestId(), [{ Elevation: 2000 + i }], result, 1.5);
    // Added later than answered: the records keep the time they were answered at.
    await new Promise((r) => setTimeout(r, 30));
    log.addRequestSoon(1, () => {
      throw new Error('cannot make its records');
    });
    const stats = await log.close();
    assert.equal(stats.written, 3);
    assert.equal(stats.dropped, 1);
    const lines = writer.lines();
    assert.deepEqual(
      lines.map((l) => (l.features as { Elevation: number }).Elevation),
      [2000, 2001, 2002],
    );
    for (const l of lines) assert.ok(Date.parse(String(l.ts)) <= answeredBy + 5, `${String(l.ts)} is the time it was added, not answered`);
  });

  it('makes the queued records of 32 rows in the next turn of the event loop, not in the time of the request that filled the queue', async () => {
    const result = oneRowAnswer;
    let now = 0;
    const log = new PredictionLog(new MemoryWriter(), options({ background: true, flushMs: 1000, now: () => now }));
    // due() turns true once a record is in the buffer (its oldest record is then "5 s" old).
    const inBuffer = () => {
      now = 5000;
      const due = log.due();
      now = 0;
      return due;
    };
    for (let i = 0; i < 31; i++) logPrediction(log, log.requestId(), [{ Elevation: 2000 + i }], result, 1.5);
    await new Promise((r) => setImmediate(r));
    assert.equal(inBuffer(), false, '31 rows wait in the queue');
    logPrediction(log, log.requestId(), [{ Elevation: 2031 }], result, 1.5);
    assert.equal(inBuffer(), false, 'not made in the time of the request that filled the queue');
    await new Promise((r) => setImmediate(r));
    assert.equal(inBuffer(), true, 'made in the next turn');
    assert.equal((await log.close()).written, 32);
  });

  it("answers with the text JSON.stringify gives, and hands each row's prediction JSON to the log", () => {
    const model = { name: 'covertype', version: 3, alias: 'champion' as const, dataset: 'covertype', datasetVersion: 2 };
    const predictions: Prediction['predictions'] = [
      { prediction: 2, label: 'Lodgepole Pine', probabilities: { 1: 0.2, 2: 0.8, 3: 0 } },
      { prediction: 'Spruce/Fir', label: 'Spruce "Fir"', probabilities: { 'Spruce/Fir': 1 / 3, '10': Number.NaN } },
    ];
    const results: Prediction[] = [
      { model, predictions },
      { model: { ...model, alias: null }, predictions: [{ prediction: 31.25 }], warnings: ['serving version 2, the last champion that loaded'] },
    ];
    for (const result of results) {
      const answer = answerJson('req-1', result);
      assert.equal(answer.text, JSON.stringify({ request_id: 'req-1', ...result }));
      assert.deepEqual(
        answer.predictionJson,
        result.predictions.map((p) => JSON.stringify(p)),
      );
    }
  });

  it('spreads a large flush over several off-heap chunks without losing a byte', async () => {
    const writer = new MemoryWriter();
    const log = new PredictionLog(writer, options({ bufferBytes: 50_000_000, flushBytes: 50_000_000 }));
    const long = 'ü'.repeat(70_000); // one line longer than a chunk, and 2 bytes a character
    const records = Array.from({ length: 500 }, (_, i) => record(i, i === 250 ? { features: { note: long } } : {}));
    log.add(records);
    await log.close();
    assert.equal(writer.batches.length, 1);
    assert.equal(logObjectText(writer.batches[0].key, writer.batches[0].body), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  });

  it('samples whole requests at the configured rate', () => {
    let r = 0;
    const draws = [0.05, 0.5, 0.09, 0.95];
    const log = new PredictionLog(new MemoryWriter(), options({ sampleRate: 0.1, random: () => draws[r++] }));
    assert.deepEqual(
      draws.map(() => log.sampled()),
      [true, false, true, false],
    );
    assert.equal(log.stats().sampledOut, 2);
  });
});

describe('live drift on hand-made distributions', () => {
  const profile: DatasetProfile = {
    dataset: 'toy',
    rows: 100,
    columns: [
      {
        name: 'x',
        type: 'numeric',
        role: 'feature',
        count: 100,
        missing: 0,
        min: 0,
        max: 2,
        mean: 1,
        std: 0.5,
        histogram: { edges: [0, 1, 2], counts: [50, 50] },
      },
      { name: 'c', type: 'categorical', role: 'feature', count: 100, missing: 0, categories: { a: 50, b: 50 } },
      {
        name: 'y',
        type: 'numeric',
        role: 'target',
        count: 100,
        missing: 0,
        min: 0,
        max: 10,
        mean: 5,
        std: 2,
        histogram: { edges: [0, 5, 10], counts: [50, 50] },
      },
    ],
  };
  it('is 0 for the training distribution and 0.25·ln 3 for a 25/75 split', () => {
    const same = [0.5, 1.5, 0.2, 1.9].map((x, i) => ({ features: { x, c: i % 2 ? 'a' : 'b' } }));
    const drift = liveDrift(profile, same, 0.2);
    assert.deepEqual(
      drift.map((f) => [f.name, f.psi]),
      [
        ['x', 0],
        ['c', 0],
      ],
    );
    // x: 1 of 4 below 1 (and one value outside the range, counted in the outer bin); c: 3 of 4 are "a".
    const shifted = [{ features: { x: 0.5, c: 'a' } }, { features: { x: 1.5, c: 'a' } }, { features: { x: 7, c: 'a' } }, { features: { x: 1.2, c: 'b' } }];
    const d = liveDrift(profile, shifted, 0.2);
    const expected = Math.round(0.25 * Math.log(3) * 1e6) / 1e6;
    assert.deepEqual(
      d.map((f) => [f.name, f.psi, f.drifted]),
      [
        ['x', expected, true],
        ['c', expected, true],
      ],
    );
    assert.ok(!liveDrift(profile, shifted, 0.3)[0].drifted);
  });
  it('counts predicted classes by label, and regression predictions on the target bins', () => {
    const schema = {
      task: 'classification' as const,
      classes: [
        { value: 1, label: 'one' },
        { value: 2, label: 'two' },
        { value: 3, label: 'three' },
      ],
    };
    assert.deepEqual(predictionMix([{ prediction: 2 }, { prediction: 2 }, { prediction: 1 }], schema, null), { one: 1, two: 2, three: 0 });
    assert.deepEqual(predictionMix([{ prediction: 1 }, { prediction: 6 }, { prediction: 9.5 }], { task: 'regression' }, profile), { '0–5': 1, '5–10': 2 });
  });
});

describe('shadow challenger', () => {
  const fakeModel = (answer: number) => ({
    spec: {
      name: 'toy',
      task: 'classification',
      columns: [
        { name: 'Elevation', type: 'numeric' },
        { name: 'Soil_Type', type: 'categorical', values: ['C7745'] },
        { name: 't', type: 'categorical', values: ['1', '2'] },
      ],
      target: 't',
      classes: [{ value: 1 }, { value: 2 }],
      split: { train: 0.8, validation: 0.1, test: 0.1, seed: 's' },
      layout: { kind: 'plain' },
    },
    predictRow: () => ({ prediction: answer }),
  });
  const server = (challenger: number | null) => ({
    resolveVersion: async (_m: string, alias: string) => {
      if (alias === 'challenger' && challenger === null) throw new ModelNotFound('no challenger');
      return 7;
    },
    load: async () => ({ model: fakeModel(challenger ?? 0), datasetVersion: 1 }),
  });

  it('scores logged champion rows at flush time and never touches the answer already sent', async () => {
    const result: Prediction = {
      model: { name: 'covertype', version: 3, alias: 'champion', dataset: 'covertype', datasetVersion: 1 },
      predictions: [{ prediction: 2, label: 'Lodgepole Pine', probabilities: { 1: 0.2, 2: 0.8 } }],
    };
    const answer = JSON.stringify(result);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const writer = new MemoryWriter();
    const scorer = shadowScorer(server(1) as never);
    const log = new PredictionLog(
      writer,
      options({
        enrich: {
          applies: scorer.applies,
          apply: async (records) => {
            await gate;
            await scorer.apply(records);
          },
        },
      }),
    );
    logPrediction(log, '00000000-0000-4000-8000-000000000001', [{ Elevation: 2000, Soil_Type: 'C7745' }], result, 1.5);
    // The request path is done while the shadow has not even started.
    assert.equal(JSON.stringify(result), answer);
    const flushed = log.flush();
    release();
    await flushed;
    assert.equal(JSON.stringify(result), answer, 'the champion answer is unchanged');
    const [line] = writer.lines();
    assert.equal(line.prediction, 2);
    assert.deepEqual(line.challenger, { version: 7, prediction: 1, agree: false });
  });

  it('does nothing without a challenger, and agreement follows the task', async () => {
    const records = [record(1)];
    const none = shadowScorer(server(null) as never);
    assert.equal(await none.applies('covertype'), false);
    await none.apply(records);
    assert.equal(records[0].challenger, undefined);
    assert.ok(agrees(2, 2) && !agrees(2, 3) && agrees('a', 'a'));
    assert.ok(agrees(100, 104) && !agrees(100, 106));
  });
});

describe('promotion.live requirement', () => {
  const live = { version: 4, rows: 500, agreement: 0.93, metric: 'accuracy' as const, value: 0.81, feedbackRows: 120, championValue: 0.8 };
  it('needs enough rows, the agreement and the live metric', () => {
    assert.equal(meetsRequirement(LiveRequirementSchema.parse({ minAgreement: 0.9, minAccuracy: 0.8, minRows: 100 }), live).ok, true);
    assert.match(meetsRequirement(LiveRequirementSchema.parse({ minAgreement: 0.95 }), live).reason, /agreement 0.93 < 0.95/);
    assert.match(meetsRequirement(LiveRequirementSchema.parse({ minAccuracy: 0.85 }), live).reason, /live accuracy 0.81 misses 0.85/);
    assert.match(meetsRequirement(LiveRequirementSchema.parse({ minAccuracy: 0.5, minRows: 200 }), live).reason, /120 feedback rows of the 200 needed/);
    assert.match(meetsRequirement(LiveRequirementSchema.parse({ minAgreement: 0.5, minRows: 1000 }), live).reason, /500 shadow-scored rows of the 1000 needed/);
    assert.equal(meetsRequirement(LiveRequirementSchema.parse({ maxRmse: 3 }), { ...live, metric: 'rmse', value: 2.5 }).ok, true);
    assert.equal(meetsRequirement(LiveRequirementSchema.parse({ maxRmse: 2 }), { ...live, metric: 'rmse', value: 2.5 }).ok, false);
  });
  it('refuses a requirement that requires nothing', () => {
    assert.equal(LiveRequirementSchema.safeParse({ minRows: 10 }).success, false);
  });
});
