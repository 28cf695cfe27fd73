import { z } from 'zod';
import { COURSE_END_OF_DATA } from '../data-api/service.ts';
import type { DatasetSpec } from '../dataset/spec.ts';
import { rowKey, validateRows } from '../dataset/validate.ts';
import { DataApiUnavailable, InvalidInput, NoMoreBatches } from '../errors.ts';
import { describeIssues, fieldIssues } from '../schemas.ts';
import type { Pool, RowDataPacket } from '../storage/mysql.ts';
import { execute, inTransaction, queryRows } from '../storage/mysql.ts';

export interface FetchDeps {
  pool: Pool;
  spec: DatasetSpec;
  dataApiUrl: string;
  timeoutMs: number;
}

export interface FetchRequest {
  executionId: string;
  groupNumber: number;
  /** 0-based position of this fetch in the execution's loop; makes a re-run of the same fetch idempotent. */
  fetchIndex: number;
}

export interface FetchResult {
  batchNumber: number;
  rowsReceived: number;
  rowsNew: number;
  rowsRejected: number;
  batchesFetched: number;
  /** Rows stored for this dataset after the fetch. */
  rowsStored: number;
}

const BatchBody = z.object({
  group_number: z.number().int(),
  /** 1..10, as the course numbers them. */
  batch_number: z.number().int().positive(),
  /** Our data API says which dataset it served; the classic course API does not. */
  dataset: z.string().optional(),
  data: z.array(z.unknown()),
});

/** Lower case, without accents: the course's API has been seen with and without the accent of "mínima". */
const plain = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().trim();

/** The fields of a body that is a JSON object; none for anything else (a proxy's page, plain text). */
function jsonFields(text: string): Record<string, unknown> {
  try {
    const body = JSON.parse(text) as unknown;
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Whether a 400 body is the data API's end of data: the course's `{"detail": COURSE_END_OF_DATA}`, or
 * ours, which also names the error.
 */
export function isEndOfData(text: string): boolean {
  const { detail, error } = jsonFields(text);
  return error === 'NoMoreBatches' || (typeof detail === 'string' && plain(detail) === plain(COURSE_END_OF_DATA));
}

/**
 * What an error answer says: its JSON `message` (or `detail`) whole, up to 1000 characters (ours names a
 * missing dataset file and the setting that gives it), else the start of the body.
 */
function errorText(text: string): string {
  const { message, detail } = jsonFields(text);
  const said = message ?? detail;
  return typeof said === 'string' ? said.slice(0, 1000) : text.slice(0, 200);
}

/**
 * Calls the data API once for a batch of `dataset` (sent as the `dataset` query parameter), mapping
 * every way it can fail onto a named error.
 */
export async function requestBatch(baseUrl: string, groupNumber: number, timeoutMs: number, dataset?: string): Promise<z.infer<typeof BatchBody>> {
  const url = new URL('/data', baseUrl);
  url.searchParams.set('group_number', String(groupNumber));
  if (dataset !== undefined) url.searchParams.set('dataset', dataset);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new DataApiUnavailable(`Data API ${url.origin} did not answer: ${(error as Error).message}`, { cause: error });
  }
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    // Headers came, then the body stalled past the timeout or the connection dropped.
    throw new DataApiUnavailable(`Data API ${url.origin} answered ${response.status} but its body did not arrive: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // 5xx, and 408/429 (timed out, throttled), say "try again later".
  if (response.status >= 500 || response.status === 408 || response.status === 429) {
    throw new DataApiUnavailable(`Data API answered ${response.status}: ${errorText(text)}`);
  }
  if (response.status === 400 && isEndOfData(text)) {
    throw new NoMoreBatches(`Data API has no more batches for group ${groupNumber}: ${text.slice(0, 300)}`);
  }
  if (!response.ok) throw new InvalidInput(`Data API refused the request (${response.status}): ${text.slice(0, 300)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new DataApiUnavailable(`Data API returned malformed JSON: ${text.slice(0, 100)}`);
  }
  const parsed = BatchBody.safeParse(body);
  if (!parsed.success) {
    throw new DataApiUnavailable(`Data API returned an unexpected body: ${describeIssues(fieldIssues(parsed.error, { whole: '(body)' }))}`);
  }
  if (dataset !== undefined && parsed.data.dataset !== undefined && parsed.data.dataset !== dataset) {
    throw new InvalidInput(`Data API served dataset ${parsed.data.dataset} when asked for ${dataset}`);
  }
  return parsed.data;
}

const CHUNK = 1000;

/**
 * Fetches one batch and stores it in one transaction: valid rows go to raw_rows (a duplicate of a
 * stored row, by its feature key, is skipped), invalid ones to rejected_rows with their reason, and
 * the batch is recorded. Either all of it is stored or nothing is.
 */
export async function fetchBatch(deps: FetchDeps, request: FetchRequest): Promise<FetchResult> {
  const { spec, pool } = deps;
  const body = await requestBatch(deps.dataApiUrl, request.groupNumber, deps.timeoutMs, spec.name);
  const { valid, rejected } = validateRows(spec, body.data as unknown[][]);

  const rowsNew = await inTransaction(pool, async (tx) => {
    // Re-running the same fetch of the same execution replaces its record instead of adding one.
    const batch = await execute(
      tx,
      `INSERT INTO fetched_batches (execution_id, fetch_index, dataset, group_number, batch_number, rows_received, rows_new, rows_rejected)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?)
       ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id), batch_number = VALUES(batch_number),
         rows_received = VALUES(rows_received), rows_rejected = VALUES(rows_rejected), fetched_at = CURRENT_TIMESTAMP(3)`,
      [request.executionId, request.fetchIndex, spec.name, request.groupNumber, body.batch_number, body.data.length, rejected.length],
    );
    const batchId = batch.insertId;
    await execute(tx, 'DELETE FROM rejected_rows WHERE batch_id = ?', [batchId]);

    let inserted = 0;
    for (let start = 0; start < valid.length; start += CHUNK) {
      const chunk = valid.slice(start, start + CHUNK);
      const values = chunk.map((row) => [spec.name, rowKey(spec, row), JSON.stringify(spec.columns.map((c) => row[c.name])), batchId]);
      const result = await execute(tx, 'INSERT IGNORE INTO raw_rows (dataset, row_key, row_values, batch_id) VALUES ?', [values]);
      inserted += result.affectedRows;
    }
    for (let start = 0; start < rejected.length; start += CHUNK) {
      const values = rejected.slice(start, start + CHUNK).map((r) => [spec.name, batchId, JSON.stringify(body.data[r.index] ?? null), r.reason.slice(0, 500)]);
      await execute(tx, 'INSERT INTO rejected_rows (dataset, batch_id, row_values, reason) VALUES ?', [values]);
    }
    await execute(tx, 'UPDATE fetched_batches SET rows_new = ? WHERE id = ?', [inserted, batchId]);
    return inserted;
  });

  const count = await queryRows<RowDataPacket & { n: number }>(pool, 'SELECT COUNT(*) AS n FROM raw_rows WHERE dataset = ?', [spec.name]);
  return {
    batchNumber: body.batch_number,
    rowsReceived: body.data.length,
    rowsNew,
    rowsRejected: rejected.length,
    batchesFetched: request.fetchIndex + 1,
    rowsStored: Number(count[0].n),
  };
}
