// Monitoring as it runs on AWS Lambda (AWS_LAMBDA_FUNCTION_NAME set, neither IS_OFFLINE nor IS_LOCAL):
// - predict: a frozen container runs nothing between invocations, so the prediction log has no
//   background timer there and is written out at the end of the invocation that finds it due, before
//   that invocation returns (functions/lib/prediction-log.ts, logPredictions);
// - the scheduled monitor publishes a fired trigger to the SNS topic (src/monitoring/alerts.ts, the real
//   @aws-sdk/client-sns) — here to a stand-in of SNS's Query API, which the SDK reaches through its
//   standard AWS_ENDPOINT_URL_SNS setting.
// Real MySQL and a real S3 server; a champion trained by the real pipeline steps.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { mysqlEnvironment, resolveFromRepo, s3Environment } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { S3MysqlLogWriter } from '../../src/monitoring/log-writer.ts';
import { logObjectText, PredictionLog } from '../../src/monitoring/prediction-log.ts';
import { getAliasVersion } from '../../src/registry/registry.ts';
import { ModelServer } from '../../src/serving/model-server.ts';
import { covertypePath, covertypeSampleRow, openTestStorage, type TestStorage } from '../helpers/env.ts';
import { runDomainPipeline, startFakeDataApi, toPredictRow, type FakeDataApi } from '../helpers/faults.ts';

type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:mlops-pipeline-test-alerts';
const FLUSH_MS = 1500;

interface Publish {
  params: URLSearchParams;
  authorization: string;
}
const published: Publish[] = [];
let sns: Server;

/** SNS's Publish as the service answers it (Query protocol: a form-encoded POST, an XML answer). */
async function startSns(): Promise<string> {
  sns = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const params = new URLSearchParams(body);
      published.push({ params, authorization: String(req.headers.authorization) });
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>msg-${published.length}</MessageId></PublishResult><ResponseMetadata><RequestId>req-${published.length}</RequestId></ResponseMetadata></PublishResponse>`,
      );
    });
  });
  await new Promise<void>((resolve) => sns.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(sns.address() as AddressInfo).port}`;
}

let storage: TestStorage;
let api: FakeDataApi;
let rows: Record<string, number | string>[];
let champion = 0;
let predictHandler: Handler;
let monitorHandler: (event: unknown, context: unknown) => Promise<unknown>;
let logModule: typeof import('../../functions/lib/prediction-log.ts');
let context: typeof import('../../functions/lib/context.ts');
const saved = { ...process.env };

const predict = async () => {
  const response = await predictHandler(
    {
      rawPath: '/predict',
      requestContext: { http: { method: 'POST' } },
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rows: [covertypeSampleRow] }),
    },
    { functionName: 'mlops-pipeline-test-predict', getRemainingTimeInMillis: () => 29_000 },
  );
  assert.equal(response.statusCode, 200, response.body);
  return (JSON.parse(response.body) as { request_id: string }).request_id;
};
const logKeys = () => storage.store.listKeys('predictions/covertype/');

describe('monitoring on AWS Lambda: the log written before an invocation returns, alerts to SNS', { timeout: 300_000 }, () => {
  before(async () => {
    storage = await openTestStorage('monlambda');
    const { pool, store, settings } = storage;
    const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    const all = (await loadDatasetRows(spec, covertypePath)).slice(0, 1200);
    rows = all.map((r) => toPredictRow(spec, r));
    api = await startFakeDataApi(() => ({ kind: 'batch', rows: all }));
    await runDomainPipeline({ pool, store, spec, dataApiUrl: api.url }, 'exec-monlambda-1', { nEstimators: 5, seed: 1 });
    champion = (await getAliasVersion(pool, 'covertype', 'champion')) as number;

    for (const name of ['IS_OFFLINE', 'IS_LOCAL', 'MONITOR_WEBHOOK_URL']) delete process.env[name];
    Object.assign(process.env, {
      AWS_LAMBDA_FUNCTION_NAME: 'mlops-pipeline-test-predict',
      ...mysqlEnvironment(settings),
      ...s3Environment(store.settings),
      AWS_ACCESS_KEY_ID: 'AKIDMONITORTEST',
      AWS_SECRET_ACCESS_KEY: 'monitor-test-secret',
      AWS_ENDPOINT_URL_SNS: await startSns(),
      CHAMPION_CACHE_MS: '0',
      PREDICTION_LOG_FLUSH_MS: String(FLUSH_MS),
      MONITOR_SNS_TOPIC_ARN: TOPIC,
      MONITOR_RETRAIN: 'false',
      MONITOR_WINDOW_HOURS: '1',
      MONITOR_MIN_ROWS: '100',
    });
    context = await import('../../functions/lib/context.ts');
    assert.equal(context.hostRuntime(), 'lambda');
    predictHandler = (await import('../../functions/predict.ts')).handler as unknown as Handler;
    monitorHandler = (await import('../../functions/monitor.ts')).handler as unknown as typeof monitorHandler;
    logModule = await import('../../functions/lib/prediction-log.ts');
  });
  after(async () => {
    await logModule?.closePredictionLog();
    await context
      ?.getPool()
      .end()
      .catch(() => undefined);
    context?.getStore().client.destroy();
    process.env = saved;
    await new Promise<void>((resolve) => (sns ? sns.close(() => resolve()) : resolve()));
    await api?.close();
    await storage?.close();
  });

  test('predict: nothing is written between invocations; the invocation that finds the log due writes it before it returns', async () => {
    const first = await predict();
    const log = logModule.getPredictionLog(new ModelServer(storage.pool, storage.store, 0));
    assert.deepEqual([log.stats().bufferedRecords, log.stats().written], [1, 0], 'not due yet: kept in memory');
    // The container is frozen now; a long-lived process's timer would have flushed by the end of this wait.
    await new Promise((r) => setTimeout(r, FLUSH_MS + 300));
    assert.deepEqual(await logKeys(), [], 'no write between invocations');
    assert.deepEqual([log.stats().bufferedRecords, log.stats().written], [1, 0]);

    const second = await predict();
    // Read the moment the handler has returned: the write was awaited inside the invocation.
    assert.deepEqual([log.stats().bufferedRecords, log.stats().written, log.stats().writeErrors], [0, 2, 0]);
    const keys = await logKeys();
    assert.equal(keys.length, 1);
    const object = logObjectText(keys[0], await storage.store.getBytes(keys[0]));
    const logged = object
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { request_id: string; model_version: number; features: unknown });
    assert.deepEqual(
      logged.map((r) => r.request_id),
      [first, second],
    );
    assert.ok(logged.every((r) => r.model_version === champion));
    assert.deepEqual(logged[0].features, covertypeSampleRow);
    const [flushes] = (await storage.pool.query('SELECT log_key, records FROM prediction_log_flushes')) as unknown as [{ log_key: string; records: number }[]];
    assert.deepEqual(flushes, [{ log_key: keys[0], records: 2 }]);
  });

  test('the scheduled monitor publishes a crossed drift trigger to the SNS topic, signed, and records the message id', async () => {
    // An hour's traffic far from the training data: every elevation at the top of its range, one wilderness area.
    const writer = new S3MysqlLogWriter(storage.pool, storage.store);
    const log = new PredictionLog(writer, { sampleRate: 1, bufferBytes: 50_000_000, flushBytes: 50_000_000, flushMs: 3_600_000, background: false });
    const ts = new Date(Date.now() - 60_000).toISOString();
    log.add(
      rows.slice(0, 300).map((r, i) => ({
        request_id: `dddddddd-0000-4000-8000-${String(i).padStart(12, '0')}`,
        row: 0,
        ts,
        model: 'covertype',
        model_version: champion,
        alias: 'champion',
        source: 'api' as const,
        features: { ...r, Elevation: 3850, Wilderness_Area: 'Cache' },
        prediction: 2,
        latency_ms: 1,
      })),
    );
    await log.close();

    // An EventBridge schedule's event.
    const out = (await monitorHandler(
      { version: '0', source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      { invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:mlops-pipeline-test-monitor' },
    )) as {
      checked: number;
      results: { model: string; drifted: boolean; fired: { trigger: string; actions: { action: string; ok: boolean; detail: string }[] }[] }[];
    };
    assert.equal(out.checked, 1);
    assert.equal(out.results[0].drifted, true);
    assert.deepEqual(
      out.results[0].fired.map((f) => [f.trigger, f.actions]),
      [['drift', [{ action: 'alert', ok: true, detail: 'SNS message msg-1' }]]],
    );

    assert.equal(published.length, 1);
    const { params, authorization } = published[0];
    assert.equal(params.get('Action'), 'Publish');
    assert.equal(params.get('TopicArn'), TOPIC);
    assert.equal(params.get('Subject'), 'Model covertype: drift crossed');
    const message = JSON.parse(String(params.get('Message'))) as Record<string, unknown>;
    assert.equal(message.model, 'covertype');
    assert.equal(message.trigger, 'drift');
    assert.equal(message.championVersion, champion);
    assert.match(authorization, /^AWS4-HMAC-SHA256 Credential=AKIDMONITORTEST\/\d{8}\/us-east-1\/sns\/aws4_request/);

    // Still drifted at the next check: the trigger is already active, nothing is published again.
    await monitorHandler({ model: 'covertype' }, {});
    assert.equal(published.length, 1);
  });
});
