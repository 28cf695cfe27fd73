import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ensureRegisteredModel,
  getAliasVersion,
  setChampion,
  listPromotions,
  listModelVersions,
  lockModel,
  recordPromotion,
  registerVersion,
  rollbackChampion,
  setAlias,
} from '../../src/registry/registry.ts';
import { inTransaction, type Pool } from '../../src/storage/mysql.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/env.ts';

let db: TestDatabase;
let pool: Pool;

const version = (runId: string) => ({
  modelName: 'covertype',
  runId,
  dataset: 'covertype',
  datasetVersion: 1,
  artifactKey: `models/covertype/runs/${runId}/model.json.gz`,
  artifactSha256: 'a'.repeat(64),
  inputSchema: { features: [] },
  testMetrics: { accuracy: 0.5 },
});

/** Registers a run and makes it champion in one transaction, as promote does. */
async function promoteRun(runId: string, requestId: string): Promise<number> {
  await ensureRegisteredModel(pool, 'covertype');
  return inTransaction(pool, async (tx) => {
    await lockModel(tx, 'covertype');
    const previous = await getAliasVersion(tx, 'covertype', 'champion');
    const v = await registerVersion(tx, version(runId));
    await setAlias(tx, 'covertype', 'champion', v);
    await recordPromotion(tx, {
      requestId,
      modelName: 'covertype',
      action: 'promoted',
      candidateVersion: v,
      previousVersion: previous,
      metric: 'accuracy',
      candidateScore: 0.9,
      championScore: null,
      minGain: 0,
      reason: 'test',
    });
    return v;
  });
}

describe('model registry (MySQL)', () => {
  before(async () => {
    db = await openTestDatabase('registry');
    pool = db.pool;
  });
  after(() => db.close());

  test('versions are numbered 1, 2, … and registering the same run again returns its version', async () => {
    const v1 = await inTransaction(pool, (tx) => registerVersion(tx, version('00000000-0000-4000-8000-000000000001')));
    const v2 = await inTransaction(pool, (tx) => registerVersion(tx, version('00000000-0000-4000-8000-000000000002')));
    const again = await inTransaction(pool, (tx) => registerVersion(tx, version('00000000-0000-4000-8000-000000000001')));
    assert.deepEqual([v1, v2, again], [1, 2, 1]);
  });

  test('concurrent promotions leave exactly one champion and distinct versions', async () => {
    const runs = Array.from({ length: 8 }, (_, i) => `10000000-0000-4000-8000-00000000000${i}`);
    const versions = await Promise.all(runs.map((r, i) => promoteRun(r, `exec-${i}`)));
    assert.equal(new Set(versions).size, runs.length);
    const [aliases] = await pool.query('SELECT COUNT(*) AS n FROM model_aliases WHERE model_name = ? AND alias = ?', ['covertype', 'champion']);
    assert.equal(Number((aliases as { n: number }[])[0].n), 1);
    const champion = await getAliasVersion(pool, 'covertype', 'champion');
    assert.ok(champion !== null && versions.includes(champion));
    // The history chains: each promotion's previous version is the champion it replaced.
    const history = await listPromotions(pool, 'covertype');
    const chained = history.filter((p) => p.action === 'promoted');
    for (let i = 1; i < chained.length; i++) assert.equal(chained[i].previousVersion, chained[i - 1].candidateVersion);
  });

  test('rollback moves champion back, is recorded, and is idempotent per request', async () => {
    const before = await getAliasVersion(pool, 'covertype', 'champion');
    const entry = await rollbackChampion(pool, 'covertype', 1, 'rollback-1', 'bad model in production');
    assert.equal(entry.action, 'rollback');
    assert.equal(entry.previousVersion, before);
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), 1);
    await rollbackChampion(pool, 'covertype', 2, 'rollback-1', 'retried request');
    // Without a version, rollback goes to the champion before the current one.
    const manual = await setChampion(pool, 'covertype', 3, 'manual-1', 'manual', 'try v3');
    assert.equal(manual.previousVersion, 1);
    const back = await rollbackChampion(pool, 'covertype', null, 'rollback-3', 'v3 was worse');
    assert.equal(back.candidateVersion, 1);
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), 1, 'a retried request changes nothing');
    const versions = await listModelVersions(pool, 'covertype');
    assert.deepEqual(versions.find((v) => v.version === 1)?.aliases, ['champion']);
  });

  test('rollback to a version that does not exist fails and changes nothing', async () => {
    const before = await getAliasVersion(pool, 'covertype', 'champion');
    await assert.rejects(rollbackChampion(pool, 'covertype', 999, 'rollback-2', 'typo'), { name: 'ModelNotFound' });
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), before);
    assert.equal((await listPromotions(pool, 'covertype')).filter((p) => p.requestId === 'rollback-2').length, 0);
  });
});
