import type { Pool, RowDataPacket } from '../storage/mysql.ts';
import { execute, inTransaction, queryRows } from '../storage/mysql.ts';
import { NoMoreBatches } from '../errors.ts';
import { DEFAULT_DATASET } from '../schemas.ts';

/**
 * The data API of the classic MLOps course, answering as the course's does: a dataset cut into N
 * batches numbered 1..N (the course's first call jumps from -1 to 1); each call returns a random sample
 * of the group's current batch; the batch moves on only after a minimum interval, and after the last
 * one the API answers 400 `{"detail": COURSE_END_OF_DATA}` until the group is restarted. Groups are the
 * course's 1..10. Group state lives in MySQL (as the 0-based index of the current batch) so that every
 * Lambda container (and a restart) sees the same batch.
 */

/** The course's groups. */
export const GROUP_NUMBERS = { min: 1, max: 10 } as const;

/** What the course's data API says, word for word, after the last batch and for a group outside 1..10. */
export const COURSE_END_OF_DATA = 'Ya se recolectó toda la información minima necesaria';
export const COURSE_BAD_GROUP = 'Número de grupo inválido';
export interface BatchSettings {
  batches: number;
  intervalSeconds: number;
  sampleSize: number;
  /**
   * Rows per batch (e.g. 15,000, as the seed loads Diabetes): batch k is rows [k·size, (k+1)·size),
   * served whole, and `batches` is how many there are. Without it the rows are cut into `batches`
   * nearly equal parts and each call samples `sampleSize` of the current one.
   */
  batchSize?: number;
}

/** The settings for a dataset of `rows` rows: fixed-size batches when it has a batch size. */
export function batchSettingsFor(base: BatchSettings, rows: number, batchSize: number | undefined): BatchSettings {
  if (batchSize === undefined) return base;
  return { ...base, batches: Math.max(1, Math.ceil(rows / batchSize)), sampleSize: batchSize, batchSize };
}

export interface BatchResponse {
  group_number: number;
  /** 1..batches, as the course numbers them. */
  batch_number: number;
  /** Which dataset the rows are from (an addition to the course API's body). */
  dataset: string;
  data: string[][];
}

/** Rows [start, end) of the batch of 0-based index `k` when `total` rows are cut into `batches` nearly equal parts. */
export function batchBounds(total: number, batches: number, k: number): [number, number] {
  return [Math.floor((total * k) / batches), Math.floor((total * (k + 1)) / batches)];
}

/** A uniform sample without replacement (partial Fisher–Yates over indices). */
export function sampleRows<T>(rows: readonly T[], size: number, random: () => number = Math.random): T[] {
  if (size >= rows.length) return rows.slice();
  const index = Array.from(rows.keys());
  for (let i = 0; i < size; i++) {
    const j = i + Math.floor(random() * (index.length - i));
    [index[i], index[j]] = [index[j], index[i]];
  }
  return index.slice(0, size).map((i) => rows[i]);
}

interface GroupRow extends RowDataPacket {
  batch_number: number;
  batch_started_at: Date;
}

/** The query string that restarts a group, as told to a client that has run out of batches. */
const restartQuery = (dataset: string, groupNumber: number) => `group_number=${groupNumber}${dataset === DEFAULT_DATASET ? '' : `&dataset=${dataset}`}`;

/**
 * The group's current batch number (1..batches) of `dataset`, advancing it when the interval has
 * passed. Each dataset has its own batch clock per group.
 */
export async function currentBatch(pool: Pool, groupNumber: number, settings: BatchSettings, now = new Date(), dataset = DEFAULT_DATASET): Promise<number> {
  return inTransaction(pool, async (tx) => {
    const rows = await queryRows<GroupRow>(
      tx,
      'SELECT batch_number, batch_started_at FROM data_api_dataset_groups WHERE dataset = ? AND group_number = ? FOR UPDATE',
      [dataset, groupNumber],
    );
    if (rows.length === 0) {
      // Two first requests at once: the loser's INSERT IGNORE is a no-op and both serve batch 1.
      await execute(tx, 'INSERT IGNORE INTO data_api_dataset_groups (dataset, group_number, batch_number, batch_started_at) VALUES (?, ?, 0, ?)', [
        dataset,
        groupNumber,
        now,
      ]);
      return 1;
    }
    const { batch_number: index, batch_started_at: startedAt } = rows[0];
    const elapsedSeconds = (now.getTime() - new Date(startedAt).getTime()) / 1000;
    if (elapsedSeconds < settings.intervalSeconds) return index + 1;
    if (index + 1 >= settings.batches) {
      throw new NoMoreBatches(
        `All ${settings.batches} batches of group ${groupNumber}${dataset === DEFAULT_DATASET ? '' : ` of dataset ${dataset}`} have been served. ` +
          `Call /restart_data_generation?${restartQuery(dataset, groupNumber)} to start again.`,
      );
    }
    await execute(tx, 'UPDATE data_api_dataset_groups SET batch_number = ?, batch_started_at = ? WHERE dataset = ? AND group_number = ?', [
      index + 1,
      now,
      dataset,
      groupNumber,
    ]);
    return index + 2;
  });
}

/**
 * Starts a group again from batch 1: of one dataset, or of every dataset the group has used when
 * `dataset` is not given (what `GET /restart_data_generation?group_number=N` does).
 */
export async function restartGroup(pool: Pool, groupNumber: number, now = new Date(), dataset?: string): Promise<void> {
  if (dataset === undefined) {
    await execute(pool, 'UPDATE data_api_dataset_groups SET batch_number = 0, batch_started_at = ? WHERE group_number = ?', [now, groupNumber]);
    return;
  }
  await execute(
    pool,
    `INSERT INTO data_api_dataset_groups (dataset, group_number, batch_number, batch_started_at) VALUES (?, ?, 0, ?)
     ON DUPLICATE KEY UPDATE batch_number = 0, batch_started_at = VALUES(batch_started_at)`,
    [dataset, groupNumber, now],
  );
}

/**
 * One call of `GET /data`: a random sample of the group's current batch of `rows` (a dataset in
 * spec column order). A sample size at least the batch's size gives the whole batch.
 */
export async function serveBatch(
  pool: Pool,
  rows: readonly string[][],
  groupNumber: number,
  settings: BatchSettings,
  dataset = DEFAULT_DATASET,
): Promise<BatchResponse> {
  const batch = await currentBatch(pool, groupNumber, settings, new Date(), dataset);
  // `batch` is 1-based, as the course numbers them.
  const [start, end] =
    settings.batchSize !== undefined
      ? [Math.min(rows.length, (batch - 1) * settings.batchSize), Math.min(rows.length, batch * settings.batchSize)]
      : batchBounds(rows.length, settings.batches, batch - 1);
  return { group_number: groupNumber, batch_number: batch, dataset, data: sampleRows(rows.slice(start, end), settings.sampleSize) };
}
