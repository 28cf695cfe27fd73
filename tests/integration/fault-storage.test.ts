// S3 or MySQL failing in the middle of a step: the step fails with StorageUnavailable (which the state
// machine retries), leaves nothing half-done, and running it again for the same execution id
// duplicates nothing. Real MariaDB and a real S3 server (s3rver), with TCP proxies in front that
// refuse or cut connections.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import { resolveFromRepo } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../../src/dataset/spec.ts';
import { StorageUnavailable } from '../../src/errors.ts';
import { fetchBatch } from '../../src/pipeline/fetch.ts';
import { preprocess } from '../../src/pipeline/preprocess.ts';
import { promote } from '../../src/pipeline/promote.ts';
import { train, TrainParamsSchema } from '../../src/pipeline/train.ts';
import { getRun, listPromotions } from '../../src/registry/registry.ts';
import { createPool, dropDatabase, ensureDatabase, migrate, type MysqlSettings, type Pool } from '../../src/storage/mysql.ts';
import { ArtifactStore } from '../../src/storage/s3.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';
import { closedPort, runDomainPipeline, startFakeDataApi, tableCounts, TcpProxy, type DomainRun, type FakeDataApi } from '../helpers/faults.ts';

const settings = testMysql('faultstore');
const bucket = testBucket('faultstore');
const KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
let s3: S3rver;
let s3Dir: string;
let s3Port: number;
let pool: Pool;
let store: ArtifactStore;
let spec: DatasetSpec;
let all: string[][];
let api: FakeDataApi;
let seed: DomainRun;
const cleanup: (() => unknown)[] = [];

const storeAt = (endpoint: string) => {
  const s = new ArtifactStore({ bucket, region: 'us-east-1', endpoint, credentials: KEYS });
  cleanup.push(() => s.client.destroy());
  return s;
};
const poolAt = (port: number) => {
  const p = createPool({ ...settings, port } satisfies MysqlSettings);
  cleanup.push(() => p.end().catch(() => undefined));
  return p;
};
const isStorageUnavailable = (error: Error) => {
  assert.ok(error instanceof StorageUnavailable, `expected StorageUnavailable, got ${error.name}: ${error.message}`);
  assert.equal(error.name, 'StorageUnavailable');
  return true;
};
const params = TrainParamsSchema.parse({ nEstimators: 8, seed: 1 });

describe('S3 or MySQL unavailable in the middle of a step', { timeout: 300_000 }, () => {
  before(async () => {
    s3Dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-fault-s3-'));
    s3Port = await closedPort();
    s3 = new S3rver({ port: s3Port, address: '127.0.0.1', directory: s3Dir, silent: true });
    await s3.run();
    store = storeAt(`http://127.0.0.1:${s3Port}`);
    await store.ensureBucket();
    await ensureDatabase(settings);
    pool = createPool(settings);
    await migrate(pool);
    spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    all = await loadDatasetRows(spec, covertypePath);
    let offset = 0;
    // Each call serves 600 rows not served before.
    api = await startFakeDataApi(() => {
      offset += 600;
      return { kind: 'batch', rows: all.slice(offset - 600, offset) };
    });
    seed = await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-seed', { batches: 2, nEstimators: 8 });
  });
  after(async () => {
    for (const c of cleanup) await c();
    await api?.close();
    await pool?.end();
    await s3?.close().catch(() => undefined);
    await dropDatabase(settings);
    await rm(s3Dir, { recursive: true, force: true });
  });

  test('an ArtifactStore whose server is down: every call is StorageUnavailable', async () => {
    const down = storeAt(`http://127.0.0.1:${await closedPort()}`);
    await assert.rejects(down.putBytes('models/x/y.bin', new Uint8Array([1, 2, 3])), isStorageUnavailable);
    await assert.rejects(down.getBytes(seed.train.artifactKey), isStorageUnavailable);
    await assert.rejects(down.getVerifiedBytes(seed.train.artifactKey, seed.train.artifactSha256), isStorageUnavailable);
    await assert.rejects(down.getJson(seed.dataset.manifestKey), isStorageUnavailable);
  });

  test('MySQL down: fetch, preprocess, train and promote fail with StorageUnavailable and change nothing', async () => {
    const before = await tableCounts(pool);
    const down = poolAt(await closedPort());
    const exec = 'exec-db-down';
    await assert.rejects(
      fetchBatch({ pool: down, spec, dataApiUrl: api.url, timeoutMs: 2000 }, { executionId: exec, groupNumber: 1, fetchIndex: 0 }),
      isStorageUnavailable,
    );
    await assert.rejects(preprocess({ pool: down, store, spec }, exec), isStorageUnavailable);
    await assert.rejects(
      train(
        { pool: down, store, workers: 1 },
        { executionId: exec, datasetVersion: seed.dataset.datasetVersion, manifestKey: seed.dataset.manifestKey, params, trialIndex: 0 },
      ),
      isStorageUnavailable,
    );
    await assert.rejects(
      promote({ pool: down, store }, { executionId: exec, runId: seed.train.runId, manifestKey: seed.dataset.manifestKey, policy: { minGain: 0 } }),
      isStorageUnavailable,
    );
    assert.deepEqual(await tableCounts(pool), before);
  });

  test('S3 down: preprocess, train and promote fail with StorageUnavailable; the registry is untouched', async () => {
    const before = await tableCounts(pool);
    const down = storeAt(`http://127.0.0.1:${await closedPort()}`);
    const exec = 'exec-s3-down';
    await fetchBatch({ pool, spec, dataApiUrl: api.url, timeoutMs: 2000 }, { executionId: exec, groupNumber: 1, fetchIndex: 0 });
    await assert.rejects(preprocess({ pool, store: down, spec }, exec), isStorageUnavailable);
    await assert.rejects(
      train(
        { pool, store: down, workers: 1 },
        { executionId: exec, datasetVersion: seed.dataset.datasetVersion, manifestKey: seed.dataset.manifestKey, params, trialIndex: 0 },
      ),
      isStorageUnavailable,
    );
    await assert.rejects(
      promote({ pool, store: down }, { executionId: exec, runId: seed.train.runId, manifestKey: seed.dataset.manifestKey, policy: { minGain: 0 } }),
      isStorageUnavailable,
    );
    const now = await tableCounts(pool);
    for (const t of ['dataset_versions', 'model_versions', 'model_aliases', 'promotions']) assert.equal(now[t], before[t], t);
  });

  test('MySQL connection cut in the middle of the fetch transaction: StorageUnavailable, no row of it stored; the re-run stores it once', async () => {
    const proxy = new TcpProxy(settings.port);
    await proxy.up();
    cleanup.push(() => proxy.down());
    const viaProxy = poolAt(proxy.port);
    await viaProxy.query('SELECT 1');
    const before = await tableCounts(pool);
    const exec = 'exec-db-cut';
    const rows = all.slice(100_000, 103_000);
    api.queue.push({ kind: 'batch', rows }, { kind: 'batch', rows });
    // The 3000-row INSERTs are ~100 KB each: the cut lands inside the transaction.
    proxy.cutAfter(40_000);
    const fetchDeps = { pool: viaProxy, spec, dataApiUrl: api.url, timeoutMs: 2000 };
    await assert.rejects(fetchBatch(fetchDeps, { executionId: exec, groupNumber: 1, fetchIndex: 0 }), isStorageUnavailable);
    assert.ok(proxy.bytesUp > 40_000, 'the connection was cut after the transaction started');
    assert.deepEqual(await tableCounts(pool), before, 'the cut transaction left nothing');
    proxy.heal();
    const result = await fetchBatch(fetchDeps, { executionId: exec, groupNumber: 1, fetchIndex: 0 });
    assert.equal(result.rowsNew, 3000);
    const now = await tableCounts(pool);
    assert.equal(now.raw_rows, before.raw_rows + 3000);
    assert.equal(now.fetched_batches, before.fetched_batches + 1);
  });

  test('S3 connection cut while preprocess writes the snapshot: no dataset version; the re-run creates exactly one', async () => {
    const proxy = new TcpProxy(s3Port);
    await proxy.up();
    cleanup.push(() => proxy.down());
    const viaProxy = storeAt(`http://127.0.0.1:${proxy.port}`);
    const exec = 'exec-s3-cut-pre';
    api.queue.push({ kind: 'batch', rows: all.slice(200_000, 201_000) });
    await fetchBatch({ pool, spec, dataApiUrl: api.url, timeoutMs: 2000 }, { executionId: exec, groupNumber: 1, fetchIndex: 0 });
    const before = await tableCounts(pool);
    proxy.cutAfter(8_000);
    await assert.rejects(preprocess({ pool, store: viaProxy, spec }, exec), isStorageUnavailable);
    assert.equal((await tableCounts(pool)).dataset_versions, before.dataset_versions);
    proxy.heal();
    const first = await preprocess({ pool, store: viaProxy, spec }, exec);
    const again = await preprocess({ pool, store: viaProxy, spec }, exec);
    assert.equal(first.created, true);
    assert.deepEqual({ ...again, created: true }, first, 're-run returns the same version');
    assert.equal((await tableCounts(pool)).dataset_versions, before.dataset_versions + 1);
  });

  test('MySQL connection cut at every point of preprocess: always StorageUnavailable, never a plain Error; the retry makes one version', async () => {
    const proxy = new TcpProxy(settings.port);
    await proxy.up();
    cleanup.push(() => proxy.down());
    const viaProxy = poolAt(proxy.port);
    const exec = 'exec-db-cut-pre';
    api.queue.push({ kind: 'batch', rows: all.slice(250_000, 251_000) });
    await fetchBatch({ pool, spec, dataApiUrl: api.url, timeoutMs: 2000 }, { executionId: exec, groupNumber: 1, fetchIndex: 0 });
    const before = await tableCounts(pool);
    // Cut after more and more bytes, until preprocess gets through: the cut falls in each of its
    // queries in turn (the first read, the baseline and version reads, the version and drift writes).
    let cuts = 0;
    let cutAfterFirstQuery = false;
    for (let budget = 0; ; budget += 150) {
      assert.ok(budget < 20_000, 'preprocess got through once the budget allowed it');
      proxy.heal();
      await viaProxy.query('SELECT 1');
      const sentBefore = proxy.bytesUp;
      proxy.cutAfter(budget);
      try {
        await preprocess({ pool: viaProxy, store, spec }, exec);
        break;
      } catch (error) {
        isStorageUnavailable(error as Error);
        cuts++;
        if (proxy.bytesUp - sentBefore > 400) cutAfterFirstQuery = true;
        const now = await tableCounts(pool);
        assert.ok(now.dataset_versions - before.dataset_versions <= 1, 'at most the one version');
      }
    }
    assert.ok(cuts >= 3 && cutAfterFirstQuery, `cut in the middle of preprocess (${cuts} cuts)`);
    proxy.heal();
    const retried = await preprocess({ pool: viaProxy, store, spec }, exec);
    assert.equal(retried.created, false, 'the run that got through made the version; the retry finds it');
    assert.equal((await tableCounts(pool)).dataset_versions, before.dataset_versions + 1);
  });

  test('S3 connection cut while train uploads the model: run marked failed; the re-run finishes the same run, no second one', async () => {
    const proxy = new TcpProxy(s3Port);
    await proxy.up();
    cleanup.push(() => proxy.down());
    const viaProxy = storeAt(`http://127.0.0.1:${proxy.port}`);
    const exec = 'exec-s3-cut-train';
    const request = { executionId: exec, datasetVersion: seed.dataset.datasetVersion, manifestKey: seed.dataset.manifestKey, params, trialIndex: 0 };
    const before = await tableCounts(pool);
    // Reading manifest and splits sends only small GET requests; the artifact upload is far bigger.
    proxy.cutAfter(6_000);
    await assert.rejects(train({ pool, store: viaProxy, workers: 1 }, request), isStorageUnavailable);
    const [failed] = await pool.query('SELECT status, artifact_key FROM runs WHERE execution_id = ?', [exec]);
    assert.deepEqual(failed, [{ status: 'failed', artifact_key: null }]);
    proxy.heal();
    const first = await train({ pool, store: viaProxy, workers: 1 }, request);
    const again = await train({ pool, store: viaProxy, workers: 1 }, request);
    assert.equal(again.runId, first.runId);
    assert.equal(again.artifactSha256, first.artifactSha256, 'same lineage, same bytes');
    assert.equal((await getRun(pool, first.runId)).status, 'finished');
    assert.equal((await tableCounts(pool)).runs, before.runs + 1);
  });

  test('MySQL connection cut during promote: no version or promotion half-recorded; re-runs record one decision', async () => {
    const exec = 'exec-db-cut-promote';
    const trained = await train(
      { pool, store, workers: 1 },
      {
        executionId: exec,
        datasetVersion: seed.dataset.datasetVersion,
        manifestKey: seed.dataset.manifestKey,
        params: TrainParamsSchema.parse({ nEstimators: 4, seed: 9 }),
        trialIndex: 0,
      },
    );
    const proxy = new TcpProxy(settings.port);
    await proxy.up();
    cleanup.push(() => proxy.down());
    const viaProxy = poolAt(proxy.port);
    const before = await tableCounts(pool);
    const request = { executionId: exec, runId: trained.runId, manifestKey: seed.dataset.manifestKey, policy: { minGain: 0 } };
    // Let the reads through, then cut: the cut falls somewhere in the registering transaction.
    let cutSomewhere = false;
    for (const budget of [1_500, 2_500, 3_500, 5_000]) {
      proxy.heal();
      await viaProxy.query('SELECT 1');
      proxy.cutAfter(budget);
      try {
        await promote({ pool: viaProxy, store }, request);
        break;
      } catch (error) {
        isStorageUnavailable(error as Error);
        cutSomewhere = true;
        const now = await tableCounts(pool);
        // Either nothing was recorded, or (the cut fell after COMMIT reached the server, before its
        // answer came back) the version and its promotion record were recorded together.
        assert.equal(now.model_versions - before.model_versions, now.promotions - before.promotions, 'no version without its promotion record');
        assert.ok(now.promotions - before.promotions <= 1);
      }
    }
    assert.ok(cutSomewhere, 'at least one attempt was cut');
    proxy.heal();
    const first = await promote({ pool: viaProxy, store }, request);
    const again = await promote({ pool: viaProxy, store }, request);
    assert.equal(again.candidateVersion, first.candidateVersion);
    assert.equal(again.decision, first.decision);
    const now = await tableCounts(pool);
    assert.equal(now.model_versions, before.model_versions + 1);
    assert.equal(now.promotions, before.promotions + 1);
    assert.equal((await listPromotions(pool, 'covertype')).filter((p) => p.requestId === exec).length, 1);
  });

  test('re-running fetch, preprocess, train and promote for the same execution duplicates nothing', async () => {
    const before = await tableCounts(pool);
    const rows = all.slice(300_000, 301_200);
    api.queue.push({ kind: 'batch', rows: rows.slice(0, 600) }, { kind: 'batch', rows: rows.slice(600) });
    const first = await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-rerun', { batches: 2, nEstimators: 6 });
    const afterFirst = await tableCounts(pool);
    assert.equal(afterFirst.raw_rows, before.raw_rows + 1200);
    // The same execution again, and the data API serves the same rows again.
    api.queue.push({ kind: 'batch', rows: rows.slice(0, 600) }, { kind: 'batch', rows: rows.slice(600) });
    const second = await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-rerun', { batches: 2, nEstimators: 6 });
    assert.deepEqual(await tableCounts(pool), afterFirst, 'no table grew');
    assert.equal(second.dataset.datasetVersion, first.dataset.datasetVersion);
    assert.equal(second.dataset.created, false);
    assert.equal(second.train.runId, first.train.runId);
    assert.equal(second.promotion.candidateVersion, first.promotion.candidateVersion);
    assert.equal(second.promotion.decision, first.promotion.decision);
    assert.deepEqual(
      second.fetches.map((f) => f.rowsNew),
      [0, 0],
    );
    const [dups] = await pool.query('SELECT COUNT(*) AS n, COUNT(DISTINCT dataset, row_key) AS k FROM raw_rows');
    const d = (dups as { n: number; k: number }[])[0];
    assert.equal(Number(d.n), Number(d.k));
  });
});
