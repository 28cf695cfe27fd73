import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { batchBounds, currentBatch, restartGroup, sampleRows, serveBatch } from '../../src/data-api/service.ts';
import type { Pool } from '../../src/storage/mysql.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/env.ts';

let db: TestDatabase;
let pool: Pool;

describe('data API batches', () => {
  before(async () => {
    db = await openTestDatabase('dataapi');
    pool = db.pool;
  });
  after(() => db.close());

  test('batch bounds cut the rows into equal, contiguous, complete parts', () => {
    const parts = Array.from({ length: 10 }, (_, k) => batchBounds(457_035, 10, k));
    assert.equal(parts[0][0], 0);
    assert.equal(parts[9][1], 457_035);
    for (let k = 1; k < 10; k++) assert.equal(parts[k][0], parts[k - 1][1]);
    for (const [a, b] of parts) assert.ok(b - a === 45_703 || b - a === 45_704);
  });

  test('a sample has distinct rows of the batch and the asked size', () => {
    const rows = Array.from({ length: 100 }, (_, i) => [String(i)]);
    const sample = sampleRows(rows, 30);
    assert.equal(sample.length, 30);
    assert.equal(new Set(sample.map((r) => r[0])).size, 30);
    assert.equal(sampleRows(rows, 500).length, 100);
  });

  test('batches are numbered 1..N as the course numbers them; each advances only after the interval, and after the last the API says so', async () => {
    const s = { batches: 3, intervalSeconds: 60, sampleSize: 5 };
    const t0 = new Date('2026-01-01T00:00:00Z');
    const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
    assert.equal(await currentBatch(pool, 7, s, t0), 1);
    assert.equal(await currentBatch(pool, 7, s, at(59)), 1);
    assert.equal(await currentBatch(pool, 7, s, at(61)), 2);
    assert.equal(await currentBatch(pool, 7, s, at(100)), 2);
    assert.equal(await currentBatch(pool, 7, s, at(122)), 3);
    await assert.rejects(
      currentBatch(pool, 7, s, at(200)),
      (e: Error) => e.name === 'NoMoreBatches' && /restart_data_generation\?group_number=7/.test(e.message),
    );
    // Another group has its own clock.
    assert.equal(await currentBatch(pool, 8, s, at(200)), 1);
    await restartGroup(pool, 7, at(300));
    assert.equal(await currentBatch(pool, 7, s, at(301)), 1);
  });

  test('served rows come from the current batch only', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => [String(i)]);
    const response = await serveBatch(pool, rows, 9, { batches: 4, intervalSeconds: 3600, sampleSize: 5 });
    assert.equal(response.group_number, 9);
    assert.equal(response.batch_number, 1);
    assert.equal(response.data.length, 5);
    for (const [value] of response.data) assert.ok(Number(value) < 10, `row ${value} is outside batch 1 (rows 0..9)`);
  });
});
