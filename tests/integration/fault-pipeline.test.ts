// The state machine under faults, on the embedded stack (serverless-offline, aws-local-stepfunctions,
// s3rver, real MySQL) with the fetch function pointed at a fake data API: the ASL retries
// DataApiUnavailable with backoff, an API that stays down fails the execution into pipeline_failures
// without touching the registry, two executions at once keep the registry consistent, and predict
// keeps serving the last good champion when the champion moves to a broken artifact.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveFromRepo } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../../src/dataset/spec.ts';
import { ensureRegisteredModel, getAliasVersion, getModelVersion, listPromotions, lockModel, registerVersion, setAlias } from '../../src/registry/registry.ts';
import { EmbeddedStack, type ExecutionResult } from '../../src/embedded/stack.ts';
import { keys } from '../../src/storage/keys.ts';
import { dropDatabase, inTransaction } from '../../src/storage/mysql.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';
import { startFakeDataApi, tableCounts, toPredictRow, type FakeDataApi } from '../helpers/faults.ts';

const mysql = testMysql('faultsfn');
let stack: EmbeddedStack;
let s3Directory: string;
let api: FakeDataApi;
let spec: DatasetSpec;
let sample: string[][];

/** A random 1500 of the first 20,000 rows: successive calls overlap, as the real API's samples do. */
const randomBatch = () => {
  const rows: string[][] = [];
  for (let i = 0; i < 1500; i++) rows.push(sample[Math.floor(Math.random() * sample.length)]);
  return { kind: 'batch' as const, rows };
};
const input = (extra: Record<string, unknown> = {}) => ({ batches: 1, intervalSeconds: 1, train: { nEstimators: 8, seed: 5 }, ...extra });
const explain = (r: ExecutionResult) => `${r.status} ${r.error ?? ''}: ${r.cause ?? ''}\n${stack.recentOutput().slice(-3000)}`;
const post = async (body: unknown) => {
  const response = await fetch(`${stack.baseUrl}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { unparsed: text.slice(0, 300) };
  }
  return { status: response.status, body: json };
};

// Named Retry/Catch on the embedded runtime depends on src/embedded/lambda-invoker.ts restoring the error
// name: serverless-offline's Lambda invoke endpoint reports every unhandled error as errorType "Error".
describe('the state machine under faults (embedded stack, fake data API)', { timeout: 900_000 }, () => {
  before(async () => {
    spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    sample = (await loadDatasetRows(spec, covertypePath)).slice(0, 20_000);
    api = await startFakeDataApi(randomBatch);
    s3Directory = await mkdtemp(path.join(os.tmpdir(), 'mlops-faultsfn-s3-'));
    stack = new EmbeddedStack({
      mysql,
      bucket: testBucket('faultsfn'),
      s3Directory,
      functionEnv: { DATA_API_URL: api.url, DATA_API_TIMEOUT_MS: '3000', TRAIN_WORKERS: '1', CHAMPION_CACHE_MS: '300' },
    });
    await stack.start();
  });
  after(async () => {
    await stack?.stop();
    await api?.close();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(s3Directory, { recursive: true, force: true });
  });

  test('DataApiUnavailable twice, then an answer: the ASL retries with backoff and the execution succeeds', async () => {
    api.queue = [{ kind: 'text', status: 500, text: 'boom' }, { kind: 'reset' }];
    const callsBefore = api.calls;
    const started = Date.now();
    const result = await stack.runPipeline(input());
    assert.equal(result.status, 'SUCCEEDED', explain(result));
    assert.equal(api.calls - callsBefore, 3, 'two failed calls and the good one');
    const retried = result.events.filter((e) => e.type === 'StateRetried' && e.stateName === 'FetchBatch');
    assert.equal(retried.length, 2, 'FetchBatch retried twice');
    // IntervalSeconds 2, BackoffRate 2: 2 s then 4 s.
    assert.ok(Date.now() - started >= 6000, 'the retries backed off');
    const out = result.output as { promotion: { decision: string; candidateVersion: number } };
    assert.equal(out.promotion.decision, 'promoted');
    assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'champion'), out.promotion.candidateVersion);
    const [failures] = await stack.pool!.query('SELECT COUNT(*) AS n FROM pipeline_failures');
    assert.equal(Number((failures as { n: number }[])[0].n), 0);
  });

  test('a data API that stays down: FAILED with DataApiUnavailable, recorded in pipeline_failures, registry untouched', async () => {
    const before = await tableCounts(stack.pool!);
    const champion = await getAliasVersion(stack.pool!, 'covertype', 'champion');
    api.queue = [];
    const callsBefore = api.calls;
    api.fallback = () => ({ kind: 'json', status: 503, body: { message: 'Service Unavailable' } });
    let result: ExecutionResult;
    try {
      result = await stack.runPipeline(input());
    } finally {
      api.fallback = randomBatch;
    }
    assert.equal(result.status, 'FAILED', explain(result));
    assert.equal(result.error, 'DataApiUnavailable');
    assert.match(result.cause ?? '', /answered 503/);
    // MaxAttempts 4: the first call and four retries.
    assert.equal(api.calls - callsBefore, 5);
    const [rows] = await stack.pool!.query('SELECT execution_id, state, error, cause FROM pipeline_failures WHERE execution_id = ?', [result.executionArn]);
    const failures = rows as { execution_id: string; state: string; error: string; cause: string }[];
    assert.equal(failures.length, 1);
    assert.equal(failures[0].execution_id, result.executionArn);
    assert.equal(failures[0].state, 'FetchBatch');
    assert.equal(failures[0].error, 'DataApiUnavailable');
    assert.match(failures[0].cause, /answered 503/);
    const now = await tableCounts(stack.pool!);
    for (const t of ['raw_rows', 'rejected_rows', 'fetched_batches', 'dataset_versions', 'runs', 'model_versions', 'model_aliases', 'promotions']) {
      assert.equal(now[t], before[t], `${t} unchanged`);
    }
    assert.equal(now.pipeline_failures, before.pipeline_failures + 1);
    assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'champion'), champion);
  });

  test('two executions at once: both succeed, one champion, the promotion history chains, no duplicate rows', async () => {
    api.queue = [];
    const before = await tableCounts(stack.pool!);
    const [a, b] = await Promise.all([
      stack.runPipeline(input({ batches: 2, train: { nEstimators: 8, seed: 11 } })),
      stack.runPipeline(input({ batches: 2, train: { nEstimators: 8, seed: 12 } })),
    ]);
    assert.equal(a.status, 'SUCCEEDED', explain(a));
    assert.equal(b.status, 'SUCCEEDED', explain(b));
    const pool = stack.pool!;
    const now = await tableCounts(pool);
    assert.equal(now.fetched_batches, before.fetched_batches + 4);
    assert.equal(now.model_versions, before.model_versions + 2, 'one version per execution');
    assert.equal(now.promotions, before.promotions + 2, 'one decision per execution');
    const [dups] = await pool.query('SELECT COUNT(*) AS n, COUNT(DISTINCT dataset, row_key) AS k FROM raw_rows');
    const d = (dups as { n: number; k: number }[])[0];
    assert.equal(Number(d.n), Number(d.k), 'no duplicate rows');
    const [versions] = await pool.query('SELECT COUNT(*) AS n, COUNT(DISTINCT run_id) AS r, MAX(version) AS m FROM model_versions');
    const v = (versions as { n: number; r: number; m: number }[])[0];
    assert.deepEqual([Number(v.n), Number(v.r), Number(v.m)], [now.model_versions, now.model_versions, now.model_versions], 'versions 1..n, one per run');
    const [aliases] = await pool.query("SELECT COUNT(*) AS n FROM model_aliases WHERE model_name = 'covertype' AND alias = 'champion'");
    assert.equal(Number((aliases as { n: number }[])[0].n), 1, 'exactly one champion');
    // Replaying the history from nothing must land on the current champion: every entry's previous
    // version is the champion the one before it left.
    let champion: number | null = null;
    for (const p of await listPromotions(pool, 'covertype')) {
      assert.equal(p.previousVersion, champion, `promotion ${p.id} (${p.requestId}) saw champion ${p.previousVersion}, expected ${champion}`);
      if (p.action !== 'rejected') champion = p.candidateVersion;
    }
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), champion);
    const [failures] = await pool.query('SELECT COUNT(*) AS n FROM pipeline_failures');
    assert.equal(Number((failures as { n: number }[])[0].n), before.pipeline_failures);
  });

  test('POST /predict keeps serving the last good champion when the champion moves to a broken artifact, and says so', async () => {
    const pool = stack.pool!;
    const store = stack.store!;
    const row = toPredictRow(spec, sample[0]);
    const good = await post({ rows: [row] });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    const goodVersion = (good.body.model as { version: number }).version;
    assert.equal(goodVersion, await getAliasVersion(pool, 'covertype', 'champion'));
    assert.equal(good.body.warnings, undefined);

    // A new version whose artifact bytes are not the ones the registry recorded, made champion.
    const entry = await getModelVersion(pool, 'covertype', goodVersion);
    const runId = '00000000-0000-4000-8000-00000000beef';
    const key = keys.modelArtifact('covertype', runId);
    await store.putBytes(key, Buffer.from('not a model'), 'application/gzip');
    await ensureRegisteredModel(pool, 'covertype');
    const broken = await inTransaction(pool, async (tx) => {
      await lockModel(tx, 'covertype');
      const v = await registerVersion(tx, { ...entry, runId, artifactKey: key, artifactSha256: 'f'.repeat(64) });
      await setAlias(tx, 'covertype', 'champion', v);
      return v;
    });
    try {
      await new Promise((r) => setTimeout(r, 700)); // past CHAMPION_CACHE_MS
      const degraded = await post({ rows: [row] });
      assert.equal(degraded.status, 200, JSON.stringify(degraded.body));
      assert.equal((degraded.body.model as { version: number }).version, goodVersion);
      assert.deepEqual(degraded.body.predictions, good.body.predictions);
      const warnings = degraded.body.warnings as string[];
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0],
        new RegExp(`champion of covertype is version ${broken}, which cannot be served .*ArtifactHashMismatch.*serving version ${goodVersion}`),
      );
      assert.match(stack.recentOutput(), /"event":"model_load_failed".*"error":"ModelUnavailable"/);

      const explicit = await post({ rows: [row], model_version: broken });
      assert.equal(explicit.status, 503, JSON.stringify(explicit.body));
      assert.equal(explicit.body.error, 'ModelUnavailable');
      assert.match(String(explicit.body.message), new RegExp(`version ${broken} cannot be served: ArtifactHashMismatch`));
    } finally {
      await inTransaction(pool, (tx) => setAlias(tx, 'covertype', 'champion', goodVersion));
    }
  });

  test('POST /predict through the HTTP API: junk and oversized bodies get a 4xx JSON error, never a 5xx', async () => {
    const row = toPredictRow(spec, sample[1]);
    const huge = JSON.stringify({ rows: [row], pad: 'x'.repeat(1_200_000) });
    const cases: [string, string | unknown][] = [
      ['empty', ''],
      ['invalid JSON', '{"rows": ['],
      ['JSON null', 'null'],
      ['a bare string', '"rows"'],
      ['too many rows', { rows: Array.from({ length: 1001 }, () => row) }],
      ['over the size limit', huge],
      ['deeply nested', `{"rows":[${'['.repeat(50_000)}${']'.repeat(50_000)}]}`],
      ['unicode junk', { rows: [{ ...row, Wilderness_Area: '\u0000\ud800💥\u202e' }] }],
    ];
    for (const [what, body] of cases) {
      const response = await post(body);
      assert.ok(response.status >= 400 && response.status < 500, `${what}: ${response.status} ${JSON.stringify(response.body).slice(0, 300)}`);
      if (what !== 'over the size limit') {
        assert.equal(typeof response.body.error, 'string', `${what}: ${JSON.stringify(response.body).slice(0, 300)}`);
        assert.equal(typeof response.body.message, 'string');
      }
    }
  });
});
