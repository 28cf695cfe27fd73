import { execute, type Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import type { LogBatch, LogWriter } from './prediction-log.ts';

/** MySQL DATETIME(3) in UTC from an ISO time. */
export const sqlTime = (iso: string | Date): string => (typeof iso === 'string' ? iso : iso.toISOString()).replace('T', ' ').replace('Z', '').slice(0, 23);

/**
 * Writes a batch of the prediction log: the JSON Lines object to S3, then one row saying which
 * writer and request numbers it holds (what feedback looks a request id up by) and what the buffer
 * dropped. Both are idempotent (same key; INSERT IGNORE), so a retried batch never duplicates.
 */
export class S3MysqlLogWriter implements LogWriter {
  private readonly pool: Pool;
  private readonly store: ArtifactStore;

  constructor(pool: Pool, store: ArtifactStore) {
    this.pool = pool;
    this.store = store;
  }

  async write(batch: LogBatch): Promise<void> {
    await this.store.put(batch.key, batch.body, batch.contentType);
    await execute(
      this.pool,
      `INSERT IGNORE INTO prediction_log_flushes
      (model_name, log_key, writer_id, seq_first, seq_last, records, dropped, flushed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [batch.model, batch.key, batch.writerId, batch.seqFirst, batch.seqLast, batch.count, batch.dropped, sqlTime(new Date())],
    );
  }
}
