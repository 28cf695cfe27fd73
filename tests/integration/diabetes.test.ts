import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { repoRoot } from '../../src/config.ts';
import { parseCsv } from '../../src/dataset/csv.ts';
import { SERVICE, STAGE } from '../../src/statemachine/definition.ts';
import { readSnapshotSplit, type DatasetManifest } from '../../src/registry/snapshots.ts';
import { EmbeddedStack, type ExecutionResult } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';

const diabetesPath = path.resolve(repoRoot, '../shared/data/diabetes/diabetic_data.csv.gz');

const mysql = testMysql('diabetes');
/** Small batches keep the run short; the spec's own batch size is the seed's 15,000. */
const BATCH_SIZE = 1500;
const BATCHES = 3;

type Output = {
  fetch: { rowsStored: number };
  dataset: { manifestKey: string; counts: { total: number; train: number; validation: number; test: number; rejected: number } };
  trials: { runId: string; family: string; metrics: Record<string, unknown> }[];
  select: { candidate: { runId: string; metric: string; score: number } };
  promotion: { decision: string; metric: string; candidateVersion: number; testMetrics: Record<string, unknown> };
};

let stack: EmbeddedStack;
let s3Directory: string;
let run: ExecutionResult;
const out = () => run.output as Output;

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('Diabetes end to end: transforms in the spec, a grouped split, three model families, imbalanced metrics', { timeout: 900_000 }, () => {
  before(async () => {
    s3Directory = await mkdtemp(path.join(os.tmpdir(), 'mlops-s3-'));
    stack = new EmbeddedStack({
      mysql,
      bucket: testBucket('diabetes'),
      s3Directory,
      functionEnv: {
        DATA_API_DATASET_PATH: covertypePath,
        DATA_API_BATCH_SIZES: JSON.stringify({ diabetes: BATCH_SIZE }),
        DATA_API_BATCH_INTERVAL_SECONDS: '1',
        TRAIN_WORKERS: '2',
      },
    });
    await stack.start();
    const input = JSON.parse(await readFile(path.join(repoRoot, 'examples/diabetes.input.json'), 'utf8')) as Record<string, unknown>;
    run = await stack.runPipeline({
      ...input,
      batches: BATCHES,
      intervalSeconds: 1,
      // No metric in the input: the spec's promotionMetric (average precision) decides.
      promotion: { minGain: 0 },
      // Small trials: every family once, each scored by 3-fold grouped cross-validation.
      search: {
        trials: 3,
        seed: 7,
        maxConcurrency: 1,
        cv: 3,
        space: { family: { values: ['forest', 'boosting', 'linear'] } },
        spaces: { forest: { nEstimators: { values: [20] } }, boosting: { nEstimators: { values: [40] } }, linear: { l2: { values: [0.01] } } },
      },
    });
    if (run.status !== 'SUCCEEDED') console.error(stack.recentOutput());
  });

  after(async () => {
    await stack?.stop();
    await dropDatabase(mysql).catch(() => undefined);
    if (s3Directory) await rm(s3Directory, { recursive: true, force: true });
  });

  test('the data API serves whole batches of the configured size, and every row is kept (? is missing, not a rejection)', () => {
    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.equal(out().fetch.rowsStored, BATCHES * BATCH_SIZE);
    assert.equal(out().dataset.counts.rejected, 0);
    assert.equal(out().dataset.counts.total, BATCHES * BATCH_SIZE);
  });

  test('the snapshot holds transformed rows, split by patient: no patient is in two splits', async () => {
    const manifest = await stack.store!.getJson<DatasetManifest>(out().dataset.manifestKey);
    const patients: Record<string, Set<unknown>> = {};
    for (const split of ['train', 'validation', 'test'] as const) {
      const rows = await readSnapshotSplit(stack.store!, manifest, split);
      assert.ok(rows.length > 0, split);
      patients[split] = new Set(rows.map((r) => r.patient_nbr));
      for (const r of rows) {
        assert.ok(r.readmitted === 0 || r.readmitted === 1);
        assert.ok(!('diag_1' in r) && !('encounter_id' in r) && 'diag_1_group' in r);
      }
    }
    for (const [a, b] of [
      ['train', 'validation'],
      ['train', 'test'],
      ['validation', 'test'],
    ]) {
      const shared = [...patients[a]].filter((p) => patients[b].has(p));
      assert.deepEqual(shared, [], `patients in both ${a} and ${b}`);
    }
    assert.ok(!manifest.featureNames.some((f) => f.startsWith('patient_nbr')), 'the group column is not a feature');
    assert.ok(manifest.featureNames.includes('diag_1_group=diabetes'));
  });

  test("each family trained a trial with CV mean and spread; the candidate is chosen by the spec's metric", async () => {
    const trials = out().trials;
    assert.deepEqual(new Set(trials.map((t) => t.family)), new Set(['forest', 'boosting', 'linear']));
    for (const t of trials) {
      // The run registry records the family with the run's params.
      const response = await fetch(`${stack.baseUrl}/runs/${t.runId}`);
      const recorded = (await response.json()) as { params: { family: string }; metrics: Record<string, unknown> };
      assert.equal(recorded.params.family, t.family);
      for (const key of ['average_precision', 'auroc_ovr', 'balanced_accuracy', 'f1', 'threshold', 'average_precision_cv_mean']) {
        assert.equal(typeof t.metrics[key], 'number', `${t.family}: ${key}`);
        assert.equal(recorded.metrics[key], t.metrics[key], `${t.family}: ${key} as recorded`);
      }
      assert.equal(t.metrics.cv_folds, 3);
      // The run record also has the spread of each CV metric and the per-class figures; the step output stays small.
      assert.equal(typeof recorded.metrics.average_precision_cv_std, 'number');
      assert.equal((recorded.metrics.perClass as unknown[]).length, 2);
      assert.ok(!('perClass' in t.metrics) && !('average_precision_cv_std' in t.metrics));
    }
    assert.equal(out().select.candidate.metric, 'average_precision');
    const best = Math.max(...trials.map((t) => t.metrics.average_precision_cv_mean as number));
    assert.equal(out().select.candidate.score, best);
  });

  test('the version stores its decision threshold and per-class test metrics; it beats the base rate on AUROC', () => {
    const m = out().promotion.testMetrics;
    assert.equal(out().promotion.metric, 'average_precision');
    assert.equal(typeof m.threshold, 'number');
    assert.deepEqual(
      (m.perClass as { label: string }[]).map((c) => c.label),
      ['not readmitted within 30 days', 'readmitted within 30 days'],
    );
    assert.ok((m.auroc_ovr as number) > 0.55, `test AUROC ${m.auroc_ovr}`);
  });

  test("/predict serves rows in the dataset's own columns: ?, null and absent optional fields get a prediction", async () => {
    const example = JSON.parse(await readFile(path.join(repoRoot, 'examples/diabetes.predict.json'), 'utf8')) as { rows: Record<string, unknown>[] };
    const { status, body } = await post(`${stack.baseUrl}/predict`, example);
    assert.equal(status, 200, JSON.stringify(body));
    const predictions = body.predictions as { prediction: number; label: string; probabilities: Record<string, number> }[];
    assert.equal(predictions.length, example.rows.length);
    for (const p of predictions) {
      assert.ok(p.prediction === 0 || p.prediction === 1);
      assert.ok(Math.abs(p.probabilities['0'] + p.probabilities['1'] - 1) < 1e-9);
    }
    // A required column left out, or a code that is not ICD-9, is refused naming the field.
    const { gender: _g, ...noGender } = example.rows[0];
    const bad = await post(`${stack.baseUrl}/predict`, { model: 'diabetes', rows: [noGender, { ...example.rows[0], diag_1: 'X12' }] });
    assert.equal(bad.status, 400);
    const issues = bad.body.issues as { field: string; message: string }[];
    assert.deepEqual(
      issues.map((i) => i.field),
      ['rows[0].gender', 'rows[1].diag_1'],
    );
  });

  test("batch prediction of the source file's own lines gives what /predict gives for the same rows", async () => {
    // Lines from the end of the file (not fetched in 3 small batches), with their ? and None values as they are.
    const lines = gunzipSync(await readFile(diabetesPath))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    const csv = [lines[0], ...lines.slice(-6)].join('\n');
    assert.ok(csv.includes('?'));
    await stack.store!.putBytes('batch/inputs/diabetes.csv', Buffer.from(csv));
    const lambda = new LambdaClient({
      endpoint: `http://127.0.0.1:${stack.lambdaPort}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const r = await lambda.send(
      new InvokeCommand({
        FunctionName: `${SERVICE}-${STAGE}-batchPredict`,
        Payload: Buffer.from(JSON.stringify({ model: 'diabetes', inputKey: 'batch/inputs/diabetes.csv' })),
      }),
    );
    const body = JSON.parse(Buffer.from(r.Payload ?? new Uint8Array()).toString()) as { predicted: number; outputKey: string };
    assert.equal(r.FunctionError, undefined, JSON.stringify(body));
    assert.equal(body.predicted, 6);
    const [header, ...rows] = parseCsv(Buffer.from(await stack.store!.getBytes(body.outputKey)).toString());
    const col = (name: string) => header.indexOf(name);

    const source = parseCsv(csv);
    const names = source[0];
    const records = source.slice(1).map((values) => Object.fromEntries(names.map((n, k) => [n, values[k]]).filter(([n]) => n !== 'readmitted')));
    const served = await post(`${stack.baseUrl}/predict`, { model: 'diabetes', rows: records });
    assert.equal(served.status, 200, JSON.stringify(served.body));
    const predictions = served.body.predictions as { prediction: number; probabilities: Record<string, number> }[];
    rows.forEach((row, i) => {
      assert.equal(row[col('error')], '');
      assert.equal(row[col('prediction')], String(predictions[i].prediction));
      assert.equal(row[col('probability')], Math.max(...Object.values(predictions[i].probabilities)).toFixed(6));
    });
  });
});
