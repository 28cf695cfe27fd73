import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig, mysqlEnvironment, mysqlSettings, s3Environment, s3Settings } from '../../src/config.ts';

// The environment a test, a bench or the embedded stack gives a function is written from connection
// settings; the function reads them back with loadConfig. Both directions must agree, field by field.
test('mysqlEnvironment is read back by mysqlSettings', () => {
  const mysql = { host: 'db.internal', port: 3307, user: 'app', password: 'p w', database: 'mlops_x' };
  assert.deepEqual(mysqlSettings(loadConfig(mysqlEnvironment(mysql))), mysql);
});

test('s3Environment is read back by s3Settings, with and without an endpoint and keys', () => {
  const local = {
    bucket: 'mlops-a',
    region: 'eu-west-1',
    endpoint: 'http://127.0.0.1:4569',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
  assert.deepEqual(s3Settings(loadConfig(s3Environment(local))), local);
  const aws = { bucket: 'mlops-b', region: 'us-east-1' };
  assert.deepEqual(s3Settings(loadConfig(s3Environment(aws))), aws);
});
