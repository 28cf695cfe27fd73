import type { RowDataPacket } from '../storage/mysql.ts';
import { InvalidInput, NotFound } from '../errors.ts';
import { execute, queryRows, type Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { sqlTime } from './log-writer.ts';
import { logObjectText, type PredictionRecord } from './prediction-log.ts';
import { parseRequestId } from './request-id.ts';

/** The true outcome of one logged prediction row. */
export interface FeedbackItem {
  request_id: string;
  /** Row of the request (0 for a one-row request). */
  row: number;
  actual: number | string;
}

export interface JoinedFeedback {
  request_id: string;
  row: number;
  model: string;
  model_version: number;
  prediction: string;
  actual: string;
  /** Classification: the prediction was right; regression: null. */
  correct: boolean | null;
}

/** Log objects recently read (feedback tends to come for recent requests, often in runs). */
export class LogObjectCache {
  private readonly entries = new Map<string, Promise<Map<string, PredictionRecord>>>();
  private readonly max: number;
  constructor(max = 8) {
    this.max = max;
  }
  get(store: ArtifactStore, key: string): Promise<Map<string, PredictionRecord>> {
    let hit = this.entries.get(key);
    if (!hit) {
      hit = store.getBytes(key).then((bytes) => {
        const byRow = new Map<string, PredictionRecord>();
        for (const line of logObjectText(key, bytes).split('\n')) {
          if (!line) continue;
          try {
            const r = JSON.parse(line) as PredictionRecord;
            byRow.set(pairKey(r.request_id, r.row), r);
          } catch {
            // a torn line is skipped
          }
        }
        return byRow;
      });
      hit.catch(() => this.entries.delete(key));
      this.entries.set(key, hit);
      while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    }
    return hit;
  }
}

const pairKey = (requestId: string, row: number) => `${requestId}#${row}`;

interface FlushRow extends RowDataPacket {
  log_key: string;
  writer_id: string;
  seq_first: number;
  seq_last: number;
}
interface SchemaRow extends RowDataPacket {
  model_name: string;
  version: number;
  input_schema: unknown;
}

/** A regression prediction is a bare number; a class (even a numeric one) comes with its probabilities. */
const isRegression = (r: PredictionRecord) => r.probabilities === undefined && typeof r.prediction === 'number';

/**
 * Joins each (request id, row, actual) to its logged prediction and stores the pair with the
 * prediction's facts (a repeated actual replaces the earlier). The request id names the writer and
 * request number (request-id.ts), which prediction_log_flushes maps to the log object in S3.
 * All or nothing: an unknown request id or row (never predicted, not sampled, or not flushed yet)
 * is a 404 naming every one of them; an actual that is no class of the model, or not a number for a
 * regression model, is a 400 naming the item.
 */
export async function recordFeedback(
  pool: Pool,
  store: ArtifactStore,
  items: readonly FeedbackItem[],
  cache = new LogObjectCache(),
): Promise<JoinedFeedback[]> {
  if (items.length === 0) return [];
  const ids = items.map((i) => parseRequestId(i.request_id));
  const wanted = [...new Map(ids.filter((x) => x !== null).map((x) => [`${x.writerId}#${x.seq}`, x])).values()];
  const flushes =
    wanted.length === 0
      ? []
      : await queryRows<FlushRow>(
          pool,
          `SELECT log_key, writer_id, seq_first, seq_last FROM prediction_log_flushes
      WHERE ${wanted.map(() => '(writer_id = ? AND seq_first <= ? AND seq_last >= ?)').join(' OR ')}`,
          wanted.flatMap((x) => [x.writerId, x.seq, x.seq]),
        );
  const found = new Map<string, { record: PredictionRecord; key: string }>();
  const keysToRead = new Set<string>();
  for (const id of ids) {
    if (!id) continue;
    for (const f of flushes) if (f.writer_id === id.writerId && f.seq_first <= id.seq && id.seq <= f.seq_last) keysToRead.add(f.log_key);
  }
  for (const key of keysToRead) {
    const records = await cache.get(store, key);
    for (const item of items) {
      const record = records.get(pairKey(item.request_id, item.row));
      if (record) found.set(pairKey(item.request_id, item.row), { record, key });
    }
  }
  const unknown = items.filter((i) => !found.has(pairKey(i.request_id, i.row)));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 20).map((i) => (i.row === 0 ? i.request_id : `${i.request_id} row ${i.row}`));
    throw new NotFound(
      `Unknown request_id: ${named.join(', ')}${unknown.length > 20 ? ` (and ${unknown.length - 20} more)` : ''}` +
        ' — no logged prediction has it (not predicted, not sampled, or not flushed to the log yet)',
    );
  }
  const versions = [...new Set([...found.values()].map(({ record }) => `${record.model}\u0000${record.model_version}`))].map((k) => k.split('\u0000'));
  const schemas = await queryRows<SchemaRow>(
    pool,
    `SELECT model_name, version, input_schema FROM model_versions WHERE ${versions.map(() => '(model_name = ? AND version = ?)').join(' OR ')}`,
    versions.flatMap(([m, v]) => [m, Number(v)]),
  );
  const schemaOf = new Map(
    schemas.map((r) => [
      `${r.model_name}\u0000${r.version}`,
      (typeof r.input_schema === 'string' ? JSON.parse(r.input_schema) : r.input_schema) as { classes?: { value: number | string }[] } | null,
    ]),
  );

  const issues: { field: string; message: string }[] = [];
  const rows = items.map((item, i) => {
    const { record, key } = found.get(pairKey(item.request_id, item.row)) as { record: PredictionRecord; key: string };
    const field = items.length === 1 ? 'actual' : `feedback[${i}].actual`;
    const regression = isRegression(record);
    let actual = String(item.actual);
    let value: number | null = null;
    if (regression) {
      value = typeof item.actual === 'number' ? item.actual : Number(item.actual);
      if (!Number.isFinite(value)) issues.push({ field, message: `must be a number for regression model ${record.model}` });
      actual = String(value);
    } else {
      const classes = schemaOf.get(`${record.model}\u0000${record.model_version}`)?.classes?.map((c) => String(c.value));
      if (classes && !classes.includes(actual))
        issues.push({ field, message: `${JSON.stringify(item.actual)} is not a class of ${record.model} (one of ${classes.join(', ')})` });
    }
    const c = record.challenger;
    return {
      record,
      actual,
      value,
      values: [
        item.request_id,
        item.row,
        record.model,
        record.model_version,
        String(record.prediction),
        regression ? record.prediction : null,
        c?.version ?? null,
        c ? String(c.prediction) : null,
        c && regression && typeof c.prediction === 'number' ? c.prediction : null,
        sqlTime(record.ts),
        key,
        actual,
        value,
      ],
    };
  });
  if (issues.length > 0)
    throw new InvalidInput(
      `Invalid feedback: ${issues
        .slice(0, 5)
        .map((e) => `${e.field}: ${e.message}`)
        .join('; ')}`,
      issues,
    );
  await execute(
    pool,
    `INSERT INTO prediction_feedback (request_id, row_index, model_name, model_version, prediction, prediction_value,
       challenger_version, challenger_prediction, challenger_value, predicted_at, log_key, actual, actual_value) VALUES ?
       ON DUPLICATE KEY UPDATE actual = VALUES(actual), actual_value = VALUES(actual_value), received_at = CURRENT_TIMESTAMP(3)`,
    [rows.map((r) => r.values)],
  );
  return rows.map(({ record, actual, value }, i) => ({
    request_id: items[i].request_id,
    row: items[i].row,
    model: record.model,
    model_version: record.model_version,
    prediction: String(record.prediction),
    actual,
    correct: value === null ? String(record.prediction) === actual : null,
  }));
}
