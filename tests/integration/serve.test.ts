import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { testBucket, testMysql } from '../helpers/env.ts';
import { startServe } from '../helpers/serve.ts';

// Serving the existing champion is tested in pipeline.test.ts, after its runs made one.
test('npm run serve without a champion says so and ends with an error', { timeout: 120_000 }, async () => {
  const mysql = testMysql('serve');
  const s3Directory = await mkdtemp(path.join(os.tmpdir(), 'mlops-serve-s3-'));
  const serve = await startServe(mysql, testBucket('serve'), s3Directory);
  try {
    assert.equal(await serve.ready, false, serve.output());
    assert.equal(await serve.exited, 1);
    assert.match(serve.output(), new RegExp(`No champion yet in database ${mysql.database}: nothing to serve\\. Run the pipeline first: \`npm start\``));
  } finally {
    await serve.stop();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(s3Directory, { recursive: true, force: true });
  }
});
