/**
 * `serverless invoke local` for one function with its sample event, against the stack that
 * `npm start` leaves running (MySQL, the S3 server on its fixed port, the HTTP API).
 *
 *   npm run invoke -- fetch
 *   npm run invoke -- train --event my-event.json
 *
 * Events may say "${latest.datasetVersion}", "${latest.manifestKey}", "${latest.runId}" or
 * "${latest.parentRunId}": they are
 * filled in from the registry, so train and promote have something real to work on.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_STACK_S3, loadConfig, mysqlSettings, repoRoot, s3Settings } from '../src/config.ts';
import { createPool, queryRows, type RowDataPacket } from '../src/storage/mysql.ts';
import { ArtifactStore } from '../src/storage/s3.ts';

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { event: { type: 'string' } } });
const fn = positionals[0];
if (!fn) {
  console.error('usage: npm run invoke -- <function> [--event file.json]');
  process.exit(2);
}
const eventPath = args.event ?? path.join(repoRoot, 'events', `${fn}.json`);
let text = await readFile(eventPath, 'utf8');

if (text.includes('${latest.')) {
  const c = loadConfig();
  const pool = createPool(mysqlSettings(c));
  try {
    const versions = await queryRows<RowDataPacket>(
      pool,
      'SELECT version, manifest_key FROM dataset_versions ORDER BY created_at DESC, version DESC LIMIT 1',
      [],
    );
    const runs = await queryRows<RowDataPacket>(
      pool,
      "SELECT run_id FROM runs WHERE status = 'finished' AND artifact_key IS NOT NULL ORDER BY ended_at DESC LIMIT 1",
      [],
    );
    const parents = await queryRows<RowDataPacket>(pool, 'SELECT parent_run_id FROM runs WHERE parent_run_id IS NOT NULL ORDER BY started_at DESC LIMIT 1', []);
    const latest: Record<string, unknown> = {
      datasetVersion: versions[0]?.version,
      manifestKey: versions[0]?.manifest_key,
      runId: runs[0]?.run_id,
      parentRunId: parents[0]?.parent_run_id,
    };
    text = text.replace(/"\$\{latest\.(\w+)\}"/g, (_, name: string) => {
      if (latest[name] === undefined) throw new Error(`No ${name} in the registry yet: run the pipeline first (npm start)`);
      return JSON.stringify(latest[name]);
    });
  } finally {
    await pool.end();
  }
}
// An event that reads a CSV from S3 (batchPredict) gets the sample CSV beside it uploaded first.
const sampleCsv = eventPath.replace(/\.json$/, '.csv');
const inputKey = (JSON.parse(text) as { inputKey?: unknown }).inputKey;
if (typeof inputKey === 'string' && (await stat(sampleCsv).catch(() => null))) {
  const store = new ArtifactStore(s3Settings(loadConfig({ ...LOCAL_STACK_S3, ...process.env })));
  await store.putBytes(inputKey, await readFile(sampleCsv), 'text/csv');
}
const resolved = path.join(await mkdtemp(path.join(os.tmpdir(), 'invoke-')), `${fn}.json`);
await writeFile(resolved, text);

const env = {
  // What `npm start` runs: the S3 server on its fixed port (s3rver's own key pair) and the HTTP API.
  ...LOCAL_STACK_S3,
  ...process.env,
  DATA_API_URL: process.env.DATA_API_URL ?? 'http://127.0.0.1:3000',
};
const serverless = path.join(repoRoot, 'node_modules', 'serverless', 'bin', 'serverless.js');
const result = spawnSync(process.execPath, [serverless, 'invoke', 'local', '-f', fn, '--path', resolved], { cwd: repoRoot, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
