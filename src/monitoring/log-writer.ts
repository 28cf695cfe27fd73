import { execute, type Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import type { LogBatch, LogWriter, PredictionRecord } from './prediction-log.ts';

/** Rows per INSERT statement (well under max_allowed_packet for any row). */
const INSERT_CHUNK = 500;

const numberOrNull = (v: number | string | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** MySQL DATETIME(3) in UTC from an ISO time. */
export const sqlTime = (iso: string | Date): string => (typeof iso === 'string' ? iso : iso.toISOString()).replace('T', ' ').replace('Z', '').slice(0, 23);

function indexRow(r: PredictionRecord, key: string): unknown[] {
  // A regression prediction is a bare number; a class (even a numeric one) comes with its probabilities.
  const regression = r.probabilities === undefined && typeof r.prediction === 'number';
  return [
    r.request_id, r.row, r.model, r.model_version, r.source, String(r.prediction), regression ? numberOrNull(r.prediction) : null,
    r.challenger?.version ?? null, r.challenger ? String(r.challenger.prediction) : null, regression ? numberOrNull(r.challenger?.prediction) : null,
    r.challenger ? (r.challenger.agree ? 1 : 0) : null, key, sqlTime(r.ts),
  ];
}

/**
 * Writes a batch of the prediction log: the JSON Lines object to S3, then the joinable facts
 * (request id and row → model, version, prediction, challenger's) to MySQL for feedback, then a
 * flush record with the drops. Every part is idempotent (same key, INSERT IGNORE), so a retried
 * batch never duplicates.
 */
export class S3MysqlLogWriter implements LogWriter {
  private readonly pool: Pool;
  private readonly store: ArtifactStore;

  constructor(pool: Pool, store: ArtifactStore) {
    this.pool = pool;
    this.store = store;
  }

  async write(batch: LogBatch): Promise<void> {
    await this.store.putBytes(batch.key, Buffer.from(batch.body), 'application/x-ndjson');
    for (let i = 0; i < batch.records.length; i += INSERT_CHUNK) {
      const rows = batch.records.slice(i, i + INSERT_CHUNK).map((r) => indexRow(r, batch.key));
      await execute(this.pool, `INSERT IGNORE INTO prediction_index
        (request_id, row_index, model_name, model_version, source, prediction, prediction_value,
         challenger_version, challenger_prediction, challenger_value, agree, log_key, predicted_at) VALUES ?`, [rows]);
    }
    await execute(this.pool, 'INSERT IGNORE INTO prediction_log_flushes (model_name, log_key, records, dropped, flushed_at) VALUES (?, ?, ?, ?, ?)',
      [batch.model, batch.key, batch.records.length, batch.dropped, sqlTime(new Date())]);
  }
}
