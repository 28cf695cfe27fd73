import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { currentBatch, restartGroup, serveBatch } from '../../src/data-api/service.ts';
import { DataSources } from '../../src/data-api/sources.ts';
import { resolveFromRepo } from '../../src/config.ts';
import { createPool, dropDatabase, ensureDatabase, migrate, type Pool } from '../../src/storage/mysql.ts';
import { schemaStatements } from '../../src/storage/schema.ts';
import { covertypePath, testMysql } from '../helpers/env.ts';

const settings = testMysql('dsapi');
let pool: Pool;
const t0 = new Date('2026-01-01T00:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe('data API: per-dataset group state and sources', () => {
  before(async () => {
    await ensureDatabase(settings);
    pool = createPool(settings);
  });
  after(async () => {
    await pool.end();
    await dropDatabase(settings);
  });

  test('a database of the single-dataset data API migrates: its groups continue as covertype groups', async () => {
    // The schema as it was: group state keyed by group number only, group 3 at batch 4.
    await pool.query(
      'CREATE TABLE data_api_groups (group_number INT NOT NULL PRIMARY KEY, batch_number INT NOT NULL, batch_started_at DATETIME(3) NOT NULL) ENGINE=InnoDB',
    );
    await pool.query('INSERT INTO data_api_groups VALUES (3, 4, ?)', [t0]);
    await migrate(pool);
    await migrate(pool); // idempotent
    const [rows] = await pool.query('SELECT dataset, group_number, batch_number FROM data_api_dataset_groups');
    assert.deepEqual(rows, [{ dataset: 'covertype', group_number: 3, batch_number: 4 }]);
    assert.ok(schemaStatements.some((s) => /PRIMARY KEY \(dataset, group_number\)/.test(s)));

    const s = { batches: 10, intervalSeconds: 60, sampleSize: 5 };
    assert.equal(await currentBatch(pool, 3, s, at(10)), 5, 'stored index 4 is batch 5');
    assert.equal(await currentBatch(pool, 3, s, at(61), 'covertype'), 6);
    // Another dataset of the same group has its own clock.
    assert.equal(await currentBatch(pool, 3, s, at(61), 'bodyfat'), 1);
    assert.equal(await currentBatch(pool, 3, s, at(122), 'bodyfat'), 2);
    // A migration run again does not overwrite the state that moved on.
    await migrate(pool);
    assert.equal(await currentBatch(pool, 3, s, at(70)), 6);
  });

  test('restart: one dataset, or every dataset of the group', async () => {
    const s = { batches: 3, intervalSeconds: 60, sampleSize: 5 };
    await currentBatch(pool, 4, s, at(0), 'bodyfat');
    assert.equal(await currentBatch(pool, 4, s, at(61), 'bodyfat'), 2);
    assert.equal(await currentBatch(pool, 4, s, at(122), 'bodyfat'), 3);
    await assert.rejects(
      currentBatch(pool, 4, s, at(200), 'bodyfat'),
      (e: Error) =>
        e.name === 'NoMoreBatches' &&
        /batches of group 4 of dataset bodyfat have been served/.test(e.message) &&
        /restart_data_generation\?group_number=4&dataset=bodyfat/.test(e.message),
    );
    await currentBatch(pool, 4, s, at(0), 'covertype');
    assert.equal(await currentBatch(pool, 4, s, at(61), 'covertype'), 2);
    await restartGroup(pool, 4, at(300), 'covertype');
    assert.equal(await currentBatch(pool, 4, s, at(301), 'covertype'), 1);
    await assert.rejects(currentBatch(pool, 4, s, at(301), 'bodyfat'), { name: 'NoMoreBatches' });
    await restartGroup(pool, 4, at(400));
    assert.equal(await currentBatch(pool, 4, s, at(401), 'bodyfat'), 1);
    assert.equal(await currentBatch(pool, 4, s, at(401), 'covertype'), 1);
  });

  test('a sample size at least the batch size gives the whole batch, in order', async () => {
    const rows = Array.from({ length: 252 }, (_, i) => [String(i)]);
    const response = await serveBatch(pool, rows, 5, { batches: 10, intervalSeconds: 3600, sampleSize: 25 }, 'bodyfat');
    assert.equal(response.dataset, 'bodyfat');
    assert.deepEqual(
      response.data.map((r) => Number(r[0])),
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  test('sources: the default dataset, the configured ones, and a clear 404 for the rest', async () => {
    const sources = new DataSources({
      defaultSpecPath: 'datasets/covertype.spec.json',
      defaultSourcePath: covertypePath,
      specsDir: 'datasets',
      sources: { bodyfat: '../shared/data/bodyfat/bodyfat.csv', nospec: 'x.csv' },
      resolve: resolveFromRepo,
    });
    assert.equal(await sources.defaultName(), 'covertype');
    assert.deepEqual(await sources.names(), ['covertype', 'bodyfat', 'nospec']);
    const bodyfat = await sources.dataset('bodyfat');
    assert.equal(bodyfat.spec.name, 'bodyfat');
    assert.equal(bodyfat.rows.length, 252);
    // Spec column order, Density dropped: Age first, BodyFat (the target) last.
    assert.deepEqual(bodyfat.rows[0], ['23', '154.25', '67.75', '36.2', '93.1', '85.2', '94.5', '59.0', '37.3', '21.9', '32.0', '27.4', '17.1', '12.3']);
    assert.equal(await sources.dataset('bodyfat'), bodyfat, 'loaded once');
    await assert.rejects(
      sources.dataset('iris'),
      (e: Error) => e.name === 'NotFound' && /no dataset named iris \(it serves: covertype, bodyfat, nospec\)/.test(e.message),
    );
    await assert.rejects(sources.dataset('nospec'), (e: Error) => e.name === 'NotFound' && /no spec datasets\/nospec\.spec\.json/.test(e.message));
  });
});
