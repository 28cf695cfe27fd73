import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { loadConfig, mysqlSettings, repoRoot } from '../../src/config.ts';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import os from 'node:os';
import S3rver from 's3rver';
import { createPool, dropDatabase, ensureDatabase, migrate, type MysqlSettings, type Pool } from '../../src/storage/mysql.ts';
import { ArtifactStore } from '../../src/storage/s3.ts';
import { freePort } from '../../src/embedded/stack.ts';

/** The real Covertype file, from the shared data folder beside the repo (or COVERTYPE_PATH). */
export const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');

/**
 * The header and first `rows` rows of the Covertype file, written gzipped into `directory`: a data API
 * (DATA_API_DATASET_PATH) that loads this instead of all 457,035 rows starts in a fraction of the time,
 * which keeps a test's first GET /data inside the function's timeout on a loaded machine.
 */
export async function covertypeHead(directory: string, rows: number): Promise<string> {
  const text = gunzipSync(await readFile(covertypePath)).toString('utf8');
  let end = -1;
  for (let line = 0; line <= rows; line++) {
    end = text.indexOf('\n', end + 1);
    if (end < 0) break;
  }
  const file = path.join(directory, `covertype-head-${rows}.csv.gz`);
  await writeFile(file, gzipSync(end < 0 ? text : text.slice(0, end + 1)));
  return file;
}

/** The Covertype row the README, `npm start` and the LocalStack runner send (examples/covertype.predict.json). */
export const covertypeSampleRow: Readonly<Record<string, string | number>> = (
  JSON.parse(readFileSync(path.join(repoRoot, 'examples', 'covertype.predict.json'), 'utf8')) as { rows: Record<string, string | number>[] }
).rows[0];

/** A database of its own for each test file, on the MySQL the environment points at. */
export function testMysql(label: string): MysqlSettings {
  return { ...mysqlSettings(loadConfig(process.env)), database: `mlops_test_${label}_${randomBytes(4).toString('hex')}` };
}

export const testBucket = (label: string) => `mlops-test-${label}-${randomBytes(4).toString('hex')}`;

export interface TestDatabase {
  settings: MysqlSettings;
  pool: Pool;
  /** Ends the pool and drops the database. */
  close(): Promise<void>;
}

/** A fresh database with the schema applied, for one test file. */
export async function openTestDatabase(label: string): Promise<TestDatabase> {
  const settings = testMysql(label);
  await ensureDatabase(settings);
  const pool = createPool(settings);
  await migrate(pool);
  return {
    settings,
    pool,
    close: async () => {
      await pool.end().catch(() => undefined);
      await dropDatabase(settings);
    },
  };
}

export interface TestStorage extends TestDatabase {
  store: ArtifactStore;
  s3Endpoint: string;
}

/** A fresh database and an s3rver with its own folder and bucket, for one test file. */
export async function openTestStorage(label: string): Promise<TestStorage> {
  const database = await openTestDatabase(label);
  const directory = await mkdtemp(path.join(os.tmpdir(), `mlops-${label}-s3-`));
  const port = await freePort();
  const s3 = new S3rver({ port, address: '127.0.0.1', directory, silent: true });
  await s3.run();
  const s3Endpoint = `http://127.0.0.1:${port}`;
  const store = new ArtifactStore({
    bucket: testBucket(label),
    region: 'us-east-1',
    endpoint: s3Endpoint,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await store.ensureBucket();
  return {
    ...database,
    store,
    s3Endpoint,
    close: async () => {
      store.client.destroy();
      await s3.close().catch(() => undefined);
      await database.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
