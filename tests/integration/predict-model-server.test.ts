// The model server when artifacts go bad: it keeps serving the last good champion (with warnings and a
// log line) when the champion moves to a broken version, answers a clear ModelUnavailable for a broken
// version asked for by number, rides out a registry outage, and promotion refuses a candidate whose
// artifact does not match its hash. Real MySQL and s3rver.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveFromRepo } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../../src/dataset/spec.ts';
import { ArtifactHashMismatch, ModelNotFound, ModelUnavailable } from '../../src/errors.ts';
import { promote } from '../../src/pipeline/promote.ts';
import { train, TrainParamsSchema } from '../../src/pipeline/train.ts';
import { ensureRegisteredModel, getAliasVersion, getModelVersion, lockModel, registerVersion, setAlias, type Alias } from '../../src/registry/registry.ts';
import { ModelServer } from '../../src/serving/model-server.ts';
import { keys } from '../../src/storage/keys.ts';
import { createPool, inTransaction, type MysqlSettings, type Pool } from '../../src/storage/mysql.ts';
import type { ArtifactStore } from '../../src/storage/s3.ts';
import { covertypePath, openTestStorage, type TestStorage } from '../helpers/env.ts';
import { runDomainPipeline, startFakeDataApi, tableCounts, TcpProxy, toPredictRow, type DomainRun, type FakeDataApi } from '../helpers/faults.ts';

let storage: TestStorage;
let settings: MysqlSettings;
let pool: Pool;
let store: ArtifactStore;
let api: FakeDataApi;
let spec: DatasetSpec;
let seed: DomainRun;
let row: Record<string, number | string>;
let nextRun = 0;

/** Registers a version pointing at `bytes` (stored under a fresh key) or at nothing, and makes it champion if asked. */
async function addVersion(options: { bytes?: Uint8Array; sha256?: string; alias?: Alias }): Promise<number> {
  const good = await getModelVersion(pool, 'covertype', seed.promotion.candidateVersion);
  const runId = `00000000-0000-4000-8000-${String(++nextRun).padStart(12, '0')}`;
  const key = keys.modelArtifact('covertype', runId);
  const sha = options.bytes ? await store.putBytes(key, options.bytes) : 'e'.repeat(64);
  return inTransaction(pool, async (tx) => {
    await lockModel(tx, 'covertype');
    const v = await registerVersion(tx, { ...good, runId, artifactKey: key, artifactSha256: options.sha256 ?? sha });
    if (options.alias) await setAlias(tx, 'covertype', options.alias, v);
    return v;
  });
}
const setChampion = (v: number) => inTransaction(pool, (tx) => setAlias(tx, 'covertype', 'champion', v));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('model server with missing or corrupted artifacts (real MySQL, s3rver)', { timeout: 300_000 }, () => {
  before(async () => {
    storage = await openTestStorage('predictms');
    ({ settings, pool, store } = storage);
    spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    const rows = (await loadDatasetRows(spec, covertypePath)).slice(0, 1500);
    row = toPredictRow(spec, rows[0]);
    api = await startFakeDataApi(() => ({ kind: 'batch', rows }));
    seed = await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-predict-ms', { nEstimators: 5 });
    await ensureRegisteredModel(pool, 'covertype');
  });
  after(async () => {
    await api?.close();
    await storage?.close();
  });

  test('the champion moves to a corrupted artifact: the last good champion keeps serving, with a warning and one log line', async () => {
    const logs: Record<string, unknown>[] = [];
    const server = new ModelServer(pool, store, 50, { retryFailedLoadMs: 60_000, warn: (e) => logs.push(e) });
    const goodVersion = seed.promotion.candidateVersion;
    const first = await server.predict({ modelName: 'covertype' }, [row]);
    assert.equal(first.model.version, goodVersion);
    assert.equal(first.warnings, undefined);

    const broken = await addVersion({ bytes: Buffer.from('definitely not gzip'), sha256: 'a'.repeat(64), alias: 'champion' });
    try {
      await sleep(80);
      for (let i = 0; i < 5; i++) {
        const degraded = await server.predict({ modelName: 'covertype' }, [row]);
        assert.equal(degraded.model.version, goodVersion);
        assert.equal(degraded.model.alias, 'champion');
        assert.deepEqual(degraded.predictions, first.predictions);
        assert.equal(degraded.warnings?.length, 1);
        assert.match(
          degraded.warnings?.[0] ?? '',
          new RegExp(`champion of covertype is version ${broken}, which cannot be served \\(.*ArtifactHashMismatch.*\\); serving version ${goodVersion}`),
        );
        await sleep(60);
      }
      // The broken artifact is not fetched again on every request: one failed load, one log line.
      assert.equal(logs.filter((l) => l.event === 'model_load_failed').length, 1);
      assert.deepEqual(
        { ...logs[0], message: undefined },
        { event: 'model_load_failed', model: 'covertype', version: broken, error: 'ModelUnavailable', message: undefined },
      );
    } finally {
      await setChampion(goodVersion);
    }
  });

  test('the champion moves to a version whose artifact is gone: same, and the warning says the object is missing', async () => {
    const server = new ModelServer(pool, store, 0, { retryFailedLoadMs: 0 });
    const goodVersion = seed.promotion.candidateVersion;
    await server.predict({ modelName: 'covertype' }, [row]);
    const missing = await addVersion({ alias: 'champion' });
    try {
      const degraded = await server.predict({ modelName: 'covertype' }, [row]);
      assert.equal(degraded.model.version, goodVersion);
      assert.match(degraded.warnings?.[0] ?? '', new RegExp(`version ${missing}, which cannot be served .*NotFound: S3 object not found`));
    } finally {
      await setChampion(goodVersion);
    }
  });

  test('a broken version asked for by number: ModelUnavailable (503) naming the cause, not a 404', async () => {
    const server = new ModelServer(pool, store, 0);
    const corrupted = await addVersion({ bytes: Buffer.from('junk'), sha256: 'b'.repeat(64) });
    const missing = await addVersion({});
    const unreadable = await addVersion({ bytes: Buffer.from('not gzip at all') });
    const cases: [number, RegExp][] = [
      [corrupted, /cannot be served: ArtifactHashMismatch: Artifact .* has sha256 [0-9a-f]{64}, the registry recorded b{64}/],
      [missing, /cannot be served: NotFound: S3 object not found/],
      [unreadable, /cannot be served: ArtifactHashMismatch: Model artifact .* is neither a model file nor readable gzip JSON/],
    ];
    for (const [version, message] of cases) {
      await assert.rejects(server.predict({ modelName: 'covertype', version }, [row]), (error: Error) => {
        assert.ok(error instanceof ModelUnavailable, `${error.name}: ${error.message}`);
        assert.equal(error.status, 503);
        assert.match(error.message, message);
        return true;
      });
    }
    await assert.rejects(server.predict({ modelName: 'covertype', version: 424242 }, [row]), ModelNotFound);
  });

  test('a cold server whose champion is broken has nothing good to fall back on: ModelUnavailable', async () => {
    const broken = await addVersion({ bytes: Buffer.from('junk'), sha256: 'c'.repeat(64), alias: 'champion' });
    try {
      const server = new ModelServer(pool, store, 0);
      await assert.rejects(
        server.predict({ modelName: 'covertype' }, [row]),
        (e: Error) => e instanceof ModelUnavailable && e.message.includes(`version ${broken}`),
      );
    } finally {
      await setChampion(seed.promotion.candidateVersion);
    }
  });

  test('once the champion is servable again it is picked up (failed loads are retried after the window)', async () => {
    const server = new ModelServer(pool, store, 0, { retryFailedLoadMs: 100 });
    const goodVersion = seed.promotion.candidateVersion;
    await server.predict({ modelName: 'covertype' }, [row]);
    const good = await getModelVersion(pool, 'covertype', goodVersion);
    const goodBytes = await store.getBytes(good.artifactKey);
    // Registered with the right hash, but the upload has not landed yet.
    const runId = '00000000-0000-4000-8000-0000000f103d';
    const key = keys.modelArtifact('covertype', runId);
    const late = await inTransaction(pool, async (tx) => {
      await lockModel(tx, 'covertype');
      const v = await registerVersion(tx, { ...good, runId, artifactKey: key, artifactSha256: good.artifactSha256 });
      await setAlias(tx, 'covertype', 'champion', v);
      return v;
    });
    try {
      assert.equal((await server.predict({ modelName: 'covertype' }, [row])).model.version, goodVersion);
      await store.putBytes(key, goodBytes);
      await sleep(150);
      const healed = await server.predict({ modelName: 'covertype' }, [row]);
      assert.equal(healed.model.version, late);
      assert.equal(healed.warnings, undefined);
    } finally {
      await setChampion(goodVersion);
    }
  });

  test('MySQL unreachable: the alias version last read keeps serving, with a warning', async () => {
    const proxy = new TcpProxy(settings.port);
    await proxy.up();
    const viaProxy = createPool({ ...settings, port: proxy.port });
    try {
      const server = new ModelServer(viaProxy, store, 10);
      const first = await server.predict({ modelName: 'covertype' }, [row]);
      await proxy.down();
      await sleep(30);
      const during = await server.predict({ modelName: 'covertype' }, [row]);
      assert.equal(during.model.version, first.model.version);
      assert.match(during.warnings?.[0] ?? '', /registry could not be read .*MySQL unavailable/);
    } finally {
      await proxy.down();
      await viaProxy.end().catch(() => undefined);
    }
  });

  test('promotion refuses a candidate whose artifact does not match its recorded hash; the registry is untouched', async () => {
    const exec = 'exec-tampered';
    const trained = await train(
      { pool, store, workers: 1 },
      {
        executionId: exec,
        datasetVersion: seed.dataset.datasetVersion,
        manifestKey: seed.dataset.manifestKey,
        params: TrainParamsSchema.parse({ nEstimators: 3, seed: 77 }),
        trialIndex: 0,
      },
    );
    // Someone rewrites the artifact after training (same key, other bytes).
    const other = await store.getBytes(seed.train.artifactKey);
    await store.putBytes(trained.artifactKey, other);
    const before = await tableCounts(pool);
    const champion = await getAliasVersion(pool, 'covertype', 'champion');
    await assert.rejects(
      promote({ pool, store }, { executionId: exec, runId: trained.runId, manifestKey: seed.dataset.manifestKey, policy: { minGain: 0 } }),
      (error: Error) => error instanceof ArtifactHashMismatch && error.message.includes(trained.artifactKey),
    );
    const now = await tableCounts(pool);
    assert.equal(now.model_versions, before.model_versions);
    assert.equal(now.promotions, before.promotions);
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), champion);
  });
});
