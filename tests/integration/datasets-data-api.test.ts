import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { currentBatch, restartGroup, serveBatch } from '../../src/data-api/service.ts';
import { DataSources } from '../../src/data-api/sources.ts';
import { resolveFromRepo } from '../../src/config.ts';
import type { PipelineError } from '../../src/errors.ts';
import { createPool, dropDatabase, ensureDatabase, migrate, type Pool } from '../../src/storage/mysql.ts';
import { schemaStatements } from '../../src/storage/schema.ts';
import { covertypePath, testMysql } from '../helpers/env.ts';

const settings = testMysql('dsapi');
const settingNames = { defaultSource: 'DATA_API_DATASET_PATH', sources: 'DATA_API_SOURCES' };
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
      settingNames,
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

  test('sources: a dataset whose file is missing is a DatasetSourceUnavailable naming the path and the setting, tried again next time', async () => {
    const missing = path.join(os.tmpdir(), `mlops-missing-${process.pid}`, 'covertype.csv.gz');
    const sources = new DataSources({
      defaultSpecPath: 'datasets/covertype.spec.json',
      defaultSourcePath: missing,
      specsDir: 'datasets',
      sources: { bodyfat: `${missing}-bodyfat.csv` },
      resolve: resolveFromRepo,
      settingNames,
    });
    const named = (setting: string, file: string) => (e: Error) =>
      e.name === 'DatasetSourceUnavailable' && (e as PipelineError).status === 503 && e.message.includes(file) && e.message.includes(`the ${setting} setting`);
    await assert.rejects(sources.dataset(), named('DATA_API_DATASET_PATH', missing));
    await assert.rejects(sources.dataset('bodyfat'), named('DATA_API_SOURCES', `${missing}-bodyfat.csv`));
    // Once the file is there, the next request loads it (a failed load is not kept).
    await mkdir(path.dirname(missing), { recursive: true });
    try {
      await writeFile(`${missing}-bodyfat.csv`, await readFile(resolveFromRepo('../shared/data/bodyfat/bodyfat.csv')));
      assert.equal((await sources.dataset('bodyfat')).rows.length, 252);
    } finally {
      await rm(path.dirname(missing), { recursive: true, force: true });
    }
  });
});
