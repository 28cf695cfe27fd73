import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../../src/dataset/spec.ts';
import { mysqlEnvironment, resolveFromRepo, s3Environment } from '../../src/config.ts';
import { S3MysqlLogWriter } from '../../src/monitoring/log-writer.ts';
import { monitorModel, type MonitorOptions } from '../../src/monitoring/monitor.ts';
import { logObjectText, PredictionLog, type PredictionRecord } from '../../src/monitoring/prediction-log.ts';
import { holdForLiveEvidence, LiveRequirementSchema } from '../../src/monitoring/live-gate.ts';
import { preprocess } from '../../src/pipeline/preprocess.ts';
import { promote, PromotionPolicySchema } from '../../src/pipeline/promote.ts';
import { train, TrainParamsSchema } from '../../src/pipeline/train.ts';
import { getAliasVersion, listPromotions, setAlias } from '../../src/registry/registry.ts';
import { ModelServer } from '../../src/serving/model-server.ts';
import { keys } from '../../src/storage/keys.ts';
import { inTransaction, type Pool } from '../../src/storage/mysql.ts';
import type { ArtifactStore } from '../../src/storage/s3.ts';
import { covertypePath, openTestStorage, type TestStorage } from '../helpers/env.ts';
import { runDomainPipeline, startFakeDataApi, toPredictRow, type FakeDataApi } from '../helpers/faults.ts';

/**
 * Monitoring against real MySQL and a real S3 server: the predict and monitor handlers in-process
 * (as in a Lambda container), a champion and a challenger trained by the real pipeline steps.
 */
type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
interface Answer {
  status: number;
  body: Record<string, unknown>;
}

let storage: TestStorage;
let pool: Pool;
let store: ArtifactStore;
let api: FakeDataApi;
let spec: DatasetSpec;
let rows: Record<string, number | string>[];
let predictHandler: Handler;
let monitorHandler: Handler;
let flushLog: () => Promise<void>;
let release: () => Promise<void>;
let champion = 0;
let challenger = 0;

/** The deployment's admin token (POST /monitoring/{name}/run needs it; the other routes ignore it). */
const ADMIN_TOKEN = 'monitoring-test-admin-token-8d41c0';

async function call(handler: Handler, method: string, path: string, body?: unknown, token: string | null = ADMIN_TOKEN): Promise<Answer> {
  const response = await handler(
    {
      rawPath: path,
      requestContext: { http: { method } },
      headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? null : JSON.stringify(body),
    },
    { functionName: 'test', getRemainingTimeInMillis: () => 29_000 },
  );
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
}

const options: MonitorOptions = { windowHours: 1, psiThreshold: 0.2, minRows: 100, minFeedback: 5 };

describe('monitoring: prediction log, feedback, monitor step', { timeout: 300_000 }, () => {
  before(async () => {
    storage = await openTestStorage('monitor');
    ({ pool, store } = storage);
    spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    const all = (await loadDatasetRows(spec, covertypePath)).slice(0, 1200);
    rows = all.map((r) => toPredictRow(spec, r));
    api = await startFakeDataApi(() => ({ kind: 'batch', rows: all }));
    const first = await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-monitor-1', { nEstimators: 5, seed: 1 });
    const second = await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-monitor-2', { nEstimators: 3, seed: 2 });
    champion = (await getAliasVersion(pool, 'covertype', 'champion')) as number;
    challenger = [first.promotion.candidateVersion, second.promotion.candidateVersion].find((v) => v !== champion) as number;
    await inTransaction(pool, (tx) => setAlias(tx, 'covertype', 'challenger', challenger));

    const { settings } = storage;
    Object.assign(process.env, {
      ...mysqlEnvironment(settings),
      ...s3Environment(store.settings),
      CHAMPION_CACHE_MS: '0',
      // The test flushes by hand: nothing is written behind its back.
      PREDICTION_LOG_FLUSH_MS: '3600000',
      MONITOR_RETRAIN: 'false',
      ADMIN_TOKEN,
    });
    predictHandler = (await import('../../functions/predict.ts')).handler as unknown as Handler;
    monitorHandler = (await import('../../functions/monitor.ts')).handler as unknown as Handler;
    const logModule = await import('../../functions/lib/prediction-log.ts');
    const context = await import('../../functions/lib/context.ts');
    flushLog = () => logModule.getPredictionLog(new ModelServer(pool, store, 0)).flush();
    release = async () => {
      await logModule.getPredictionLog(new ModelServer(pool, store, 0)).close();
      await context
        .getPool()
        .end()
        .catch(() => undefined);
      context.getStore().client.destroy();
    };
  });
  after(async () => {
    await release?.();
    await api?.close();
    await storage?.close();
  });

  let answered: { request_id: string; predictions: { prediction: number }[] } | undefined;

  test('/predict answers with a request_id; the rows land in the log partition with every field, scored by the shadow challenger', async () => {
    const sent = rows.slice(0, 20);
    const answer = await call(predictHandler, 'POST', '/predict', { rows: sent });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    answered = answer.body as unknown as typeof answered;
    assert.match(String(answer.body.request_id), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Shadow scoring never changes the champion's answer: the same rows through a plain model server.
    const plain = await new ModelServer(pool, store, 0).predict({ modelName: 'covertype' }, sent);
    assert.deepEqual(answer.body.predictions, plain.predictions);
    assert.equal((answer.body.model as { version: number }).version, champion);

    await flushLog();
    const day = new Date().toISOString().slice(0, 10);
    const objects = await store.listKeys(keys.predictionLogPrefix('covertype', day));
    assert.equal(objects.length, 1);
    const lines = logObjectText(objects[0], await store.getBytes(objects[0]))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PredictionRecord);
    assert.equal(lines.length, 20);
    lines.forEach((line, i) => {
      assert.equal(line.request_id, answer.body.request_id);
      assert.equal(line.row, i);
      assert.deepEqual(line.features, sent[i]);
      assert.equal(line.prediction, plain.predictions[i].prediction);
      assert.deepEqual(line.probabilities, plain.predictions[i].probabilities);
      assert.equal(line.model_version, champion);
      assert.ok(line.latency_ms > 0);
      assert.equal(line.challenger?.version, challenger);
      assert.equal(line.challenger?.agree, line.challenger?.prediction === line.prediction);
    });
  });

  test('feedback joins to its predictions; unknown request ids get a 404 naming them, bad actuals a 400', async () => {
    assert.ok(answered);
    const id = answered.request_id;
    const single = await call(monitorHandler, 'POST', '/feedback', { request_id: id, actual: answered.predictions[0].prediction });
    assert.equal(single.status, 200, JSON.stringify(single.body));
    assert.deepEqual((single.body.feedback as unknown[])[0], {
      request_id: id,
      row: 0,
      model: 'covertype',
      model_version: champion,
      prediction: String(answered.predictions[0].prediction),
      actual: String(answered.predictions[0].prediction),
      correct: true,
    });
    // The rest of the rows, as a batch: half right, half wrong on purpose.
    const batch = answered.predictions.slice(1).map((p, i) => ({ request_id: id, row: i + 1, actual: i % 2 === 0 ? p.prediction : (p.prediction % 7) + 1 }));
    const stored = await call(monitorHandler, 'POST', '/feedback', { feedback: batch });
    assert.equal(stored.status, 200, JSON.stringify(stored.body));
    assert.equal(stored.body.stored, 19);

    const unknownId = '11111111-2222-4333-8444-555555555555';
    const unknown = await call(monitorHandler, 'POST', '/feedback', {
      feedback: [
        { request_id: id, row: 0, actual: 1 },
        { request_id: unknownId, actual: 1 },
      ],
    });
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.message), new RegExp(unknownId));
    assert.doesNotMatch(String(unknown.body.message), new RegExp(`${id}[^ ]`));
    const noRow = await call(monitorHandler, 'POST', '/feedback', { request_id: id, row: 20, actual: 1 });
    assert.equal(noRow.status, 404);
    assert.match(String(noRow.body.message), /row 20/);
    const badClass = await call(monitorHandler, 'POST', '/feedback', { request_id: id, actual: 99 });
    assert.equal(badClass.status, 400);
    assert.match(String(badClass.body.message), /actual: 99 is not a class/);
    const badId = await call(monitorHandler, 'POST', '/feedback', { request_id: 'abc', actual: 1 });
    assert.equal(badId.status, 400);
    assert.match(String(badId.body.message), /request_id/);
    // The rejected batch stored nothing: row 0 still says what the first call said.
    const [[row0]] = (await pool.query('SELECT actual FROM prediction_feedback WHERE request_id = ? AND row_index = 0', [id])) as unknown as [
      { actual: string }[],
    ];
    assert.equal(row0.actual, String(answered.predictions[0].prediction));

    // The monitor's live accuracy is the share of right answers among the joined pairs.
    const right = 1 + batch.filter((b) => b.actual === answered?.predictions[b.row].prediction).length;
    // Checking on demand is admin-only.
    assert.equal((await call(monitorHandler, 'POST', '/monitoring/covertype/run', undefined, null)).status, 401);
    const check = await call(monitorHandler, 'POST', '/monitoring/covertype/run');
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.liveMetric, 'accuracy');
    assert.equal(check.body.feedbackRows, 20);
    assert.equal(check.body.liveValue, Math.round((right / 20) * 1e6) / 1e6);
    assert.equal(check.body.challengerVersion, challenger);
    assert.equal(check.body.challengerRows, 20);
    assert.equal(check.body.drifted, null, '20 rows are too few for a drift verdict');
  });

  test('a drift trigger fires exactly once per crossing, also when two checks run at once', async () => {
    const writer = new S3MysqlLogWriter(pool, store);
    const log = new PredictionLog(writer, { sampleRate: 1, bufferBytes: 50_000_000, flushBytes: 50_000_000, flushMs: 3_600_000, background: false });
    const at = (iso: string, features: Record<string, number | string>[], tag: string) =>
      log.add(
        features.map((f, i) => ({
          request_id: `${tag}-0000-4000-8000-${String(i).padStart(12, '0')}`,
          row: 0,
          ts: iso,
          model: 'covertype',
          model_version: champion,
          alias: 'champion',
          source: 'api' as const,
          features: f,
          prediction: 2,
          latency_ms: 1,
        })),
      );
    // Inputs far from the training data: every elevation at the top of its range, one wilderness area.
    const drifted = rows.slice(0, 300).map((r) => ({ ...r, Elevation: 3850, Wilderness_Area: 'Cache' }));
    at('2025-01-10T10:00:00.000Z', drifted, 'aaaaaaaa');
    at('2025-01-10T15:00:00.000Z', rows, 'bbbbbbbb'); // the training rows themselves: no drift
    at('2025-01-10T20:00:00.000Z', drifted, 'cccccccc');
    await log.close();

    let runs = 0;
    const actions = { startRun: async () => ({ id: `run-${++runs}` }) };
    const check = (iso: string) => monitorModel({ pool, store, now: () => Date.parse(iso) }, 'covertype', options, actions);

    const first = await check('2025-01-10T10:30:00.000Z');
    assert.equal(first?.drifted, true);
    assert.ok((first?.features.find((f) => f.name === 'Elevation')?.psi ?? 0) > 1);
    assert.deepEqual(
      first?.fired.map((f) => [f.trigger, f.actions[0].detail]),
      [['drift', 'started execution run-1']],
    );
    const again = await Promise.all([check('2025-01-10T10:40:00.000Z'), check('2025-01-10T10:41:00.000Z'), check('2025-01-10T10:50:00.000Z')]);
    assert.deepEqual(
      again.map((r) => [r?.drifted, r?.fired.length]),
      [
        [true, 0],
        [true, 0],
        [true, 0],
      ],
    );
    assert.equal(runs, 1);

    const calm = await check('2025-01-10T15:30:00.000Z');
    assert.equal(calm?.drifted, false, JSON.stringify(calm?.features));
    assert.equal(calm?.fired.length, 0);

    const twice = await Promise.all([check('2025-01-10T20:30:00.000Z'), check('2025-01-10T20:31:00.000Z')]);
    assert.equal(twice.filter((r) => r?.fired.length === 1).length, 1, 'two checks at once: one fires');
    assert.equal(runs, 2);

    const history = await call(monitorHandler, 'GET', '/monitoring/covertype');
    assert.equal(history.status, 200);
    const results = history.body.results as { fired: unknown[]; windowEnd: string }[];
    assert.equal(results.filter((r) => r.fired.length > 0).length, 2);
    assert.deepEqual(history.body.triggers, [{ trigger: 'drift', active: true, changedAt: (history.body.triggers as { changedAt: string }[])[0].changedAt }]);
  });

  test('promotion.live: a challenger held for live evidence becomes champion once, when its shadow numbers meet the requirement', async () => {
    await inTransaction(pool, (tx) => holdForLiveEvidence(tx, 'covertype', challenger, LiveRequirementSchema.parse({ minAgreement: 0, minRows: 25 })));
    const now = { pool, store };
    const early = await monitorModel(now, 'covertype', options);
    assert.equal(early?.challengerRows, 20);
    assert.deepEqual(
      early?.fired.map((f) => f.trigger),
      [],
    );
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), champion, 'not yet: 20 shadow-scored rows of the 25 needed');

    assert.equal((await call(predictHandler, 'POST', '/predict', { rows: rows.slice(100, 110) })).status, 200);
    await flushLog();
    const met = await monitorModel(now, 'covertype', options);
    assert.equal(met?.challengerRows, 30);
    assert.deepEqual(
      met?.fired.map((f) => f.trigger),
      ['live-promotion'],
    );
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), challenger);
    const last = (await listPromotions(pool, 'covertype')).at(-1);
    assert.equal(last?.action, 'promoted');
    assert.equal(last?.previousVersion, champion);
    assert.match(String(last?.reason), /live evidence as challenger: agreement [\d.]+ ≥ 0 over 30 rows/);

    const after = await monitorModel(now, 'covertype', options);
    assert.deepEqual(
      after?.fired.map((f) => f.trigger),
      [],
      'the requirement is consumed: promoted once',
    );
    assert.equal((await listPromotions(pool, 'covertype')).filter((p) => /live evidence/.test(p.reason)).length, 1);
  });

  test('promotion.live: promote holds a candidate that beats the champion as challenger, with its requirement', async () => {
    const servingChampion = await getAliasVersion(pool, 'covertype', 'champion');
    const dataset = await preprocess({ pool, store, spec }, 'exec-monitor-3');
    const trained = await train(
      { pool, store, workers: 1 },
      {
        executionId: 'exec-monitor-3',
        datasetVersion: dataset.datasetVersion,
        manifestKey: dataset.manifestKey,
        params: TrainParamsSchema.parse({ nEstimators: 40, seed: 9 }),
        trialIndex: 0,
      },
    );
    const policy = PromotionPolicySchema.parse({ live: { minAgreement: 0.9, minRows: 50 } });
    const result = await promote({ pool, store }, { executionId: 'exec-monitor-3', runId: trained.runId, manifestKey: dataset.manifestKey, policy });
    assert.equal(result.decision, 'rejected', result.reason);
    assert.match(result.reason, /beats champion .*; held as challenger until its live numbers meet promotion.live \{"minAgreement":0.9,"minRows":50\}/);
    assert.equal(await getAliasVersion(pool, 'covertype', 'champion'), servingChampion);
    assert.equal(await getAliasVersion(pool, 'covertype', 'challenger'), result.candidateVersion);
    const [held] = (await pool.query('SELECT version FROM challenger_requirements WHERE model_name = ?', ['covertype'])) as unknown as [{ version: number }[]];
    assert.deepEqual(
      held.map((r) => r.version),
      [result.candidateVersion],
    );
    // Without promotion.live the same winner would have become champion at once.
    assert.equal(PromotionPolicySchema.safeParse({ live: { minRows: 5 } }).success, false, 'a requirement must require something');
  });
});
