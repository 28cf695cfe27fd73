import type { RowDataPacket } from 'mysql2/promise';
import { InvalidInput, NotFound } from '../errors.ts';
import { execute, queryRows, type Pool } from '../storage/mysql.ts';

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

interface IndexRow extends RowDataPacket {
  request_id: string; row_index: number; model_name: string; model_version: number; prediction: string; prediction_value: number | null;
  input_schema: unknown;
}

const pairKey = (requestId: string, row: number) => `${requestId}#${row}`;

/**
 * Joins each (request id, row, actual) to its logged prediction and stores the actual (a repeated
 * one replaces the earlier). All or nothing: an unknown request id or row (never predicted, not
 * sampled, or not flushed yet) is a 404 naming every one of them; an actual that is no class of
 * the model, or not a number for a regression model, is a 400 naming the item.
 */
export async function recordFeedback(pool: Pool, items: readonly FeedbackItem[]): Promise<JoinedFeedback[]> {
  if (items.length === 0) return [];
  const found = await queryRows<IndexRow>(pool,
    `SELECT i.request_id, i.row_index, i.model_name, i.model_version, i.prediction, i.prediction_value, v.input_schema
       FROM prediction_index i LEFT JOIN model_versions v ON v.model_name = i.model_name AND v.version = i.model_version
      WHERE (i.request_id, i.row_index) IN (${items.map(() => '(?, ?)').join(', ')})`,
    items.flatMap((i) => [i.request_id, i.row]));
  const byKey = new Map(found.map((r) => [pairKey(r.request_id, r.row_index), r]));
  const unknown = items.filter((i) => !byKey.has(pairKey(i.request_id, i.row)));
  if (unknown.length > 0) {
    const named = unknown.slice(0, 20).map((i) => (i.row === 0 ? i.request_id : `${i.request_id} row ${i.row}`));
    throw new NotFound(`Unknown request_id: ${named.join(', ')}${unknown.length > 20 ? ` (and ${unknown.length - 20} more)` : ''}` +
      ' — no logged prediction has it (not predicted, not sampled, or not flushed to the log yet)');
  }
  const issues: { field: string; message: string }[] = [];
  const rows = items.map((item, i) => {
    const logged = byKey.get(pairKey(item.request_id, item.row)) as IndexRow;
    const schema = (typeof logged.input_schema === 'string' ? JSON.parse(logged.input_schema) : logged.input_schema) as { task?: string; classes?: { value: number | string }[] } | null;
    const field = items.length === 1 ? 'actual' : `feedback[${i}].actual`;
    if (schema?.task === 'regression' || (schema?.task === undefined && logged.prediction_value !== null)) {
      const value = typeof item.actual === 'number' ? item.actual : Number(item.actual);
      if (!Number.isFinite(value)) issues.push({ field, message: `must be a number for regression model ${logged.model_name}` });
      return { logged, item, actual: String(value), value };
    }
    const classes = schema?.classes?.map((c) => String(c.value));
    if (classes && !classes.includes(String(item.actual))) {
      issues.push({ field, message: `${JSON.stringify(item.actual)} is not a class of ${logged.model_name} (one of ${classes.join(', ')})` });
    }
    return { logged, item, actual: String(item.actual), value: null };
  });
  if (issues.length > 0) throw new InvalidInput(`Invalid feedback: ${issues.slice(0, 5).map((e) => `${e.field}: ${e.message}`).join('; ')}`, issues);
  await execute(pool,
    `INSERT INTO prediction_feedback (request_id, row_index, actual, actual_value) VALUES ?
       ON DUPLICATE KEY UPDATE actual = VALUES(actual), actual_value = VALUES(actual_value), received_at = CURRENT_TIMESTAMP(3)`,
    [rows.map((r) => [r.item.request_id, r.item.row, r.actual, r.value])]);
  return rows.map(({ logged, item, actual, value }) => ({
    request_id: item.request_id, row: item.row, model: logged.model_name, model_version: logged.model_version,
    prediction: logged.prediction, actual, correct: value === null ? logged.prediction === actual : null,
  }));
}
