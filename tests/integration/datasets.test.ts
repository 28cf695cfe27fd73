import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';
import { InvalidDatasetSpec, readDatasetSpecFile } from '../../src/dataset/spec.ts';
import type { DriftReport, DriftSummary } from '../../src/dataset/drift.ts';
import type { DatasetProfile } from '../../src/dataset/profile.ts';
import { getAliasVersion } from '../../src/registry/registry.ts';
import { readSnapshotSplit, type DatasetManifest } from '../../src/registry/snapshots.ts';
import { EmbeddedStack, type ExecutionResult } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypePath, covertypeSampleRow, testBucket, testMysql } from '../helpers/env.ts';

const mysql = testMysql('datasets');
const BODYFAT_SPEC = path.join(repoRoot, 'datasets/bodyfat.spec.json');
/** Population std of BodyFat over the 252 rows of the file (README of the data: mean 19.15). */
const BODYFAT_STD = 8.35;

type PipelineOutput = {
  fetch: { rowsStored: number };
  dataset: {
    dataset: string;
    datasetVersion: number;
    manifestKey: string;
    created: boolean;
    counts: { total: number; train: number; validation: number; test: number; rejected: number };
    drift: DriftSummary;
  };
  promotion: { modelName: string; decision: string; metric: string; candidateVersion: number; testMetrics: Record<string, number> };
};

let stack: EmbeddedStack;
let s3Directory: string;
let bodyfat: ExecutionResult;
let covertype: ExecutionResult;

const get = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const outputOf = (r: ExecutionResult) => r.output as PipelineOutput;

describe('any tabular dataset: Body Fat (regression) and Covertype (classification) on one stack', { timeout: 900_000 }, () => {
  before(async () => {
    s3Directory = await mkdtemp(path.join(os.tmpdir(), 'mlops-s3-'));
    stack = new EmbeddedStack({
      mysql,
      bucket: testBucket('datasets'),
      s3Directory,
      functionEnv: {
        DATA_API_DATASET_PATH: covertypePath,
        DATA_API_BATCH_INTERVAL_SECONDS: '1',
        DATA_API_SAMPLE_SIZE: '2000',
        TRAIN_WORKERS: '2',
      },
    });
    await stack.start();
    // Both at once: each dataset has its own batch clock for group 1, its own rows, versions and model.
    [bodyfat, covertype] = await Promise.all([
      stack.runPipeline({ dataset: 'bodyfat', batches: 10, intervalSeconds: 1, train: { nEstimators: 100, seed: 7 } }),
      stack.runPipeline({ dataset: 'covertype', batches: 2, intervalSeconds: 1, train: { nEstimators: 20, seed: 7 } }),
    ]);
    if (bodyfat.status !== 'SUCCEEDED' || covertype.status !== 'SUCCEEDED') console.error(stack.recentOutput());
  });

  after(async () => {
    await stack?.stop();
    await dropDatabase(mysql).catch(() => undefined);
    if (s3Directory) await rm(s3Directory, { recursive: true, force: true });
  });

  test('Body Fat runs end to end: all 10 batches, Density ignored, the bad Height row rejected, promoted on RMSE', async () => {
    assert.equal(bodyfat.status, 'SUCCEEDED', `${bodyfat.error}: ${bodyfat.cause}`);
    const out = outputOf(bodyfat);
    const fetches = bodyfat.events.filter((e) => e.type === 'StateExited' && e.stateName === 'FetchBatch').length;
    assert.equal(fetches, 10);
    // 252 rows, one rejected at fetch (source row 42: Height 29.5 in, outside the spec's [48, 90]).
    assert.equal(out.fetch.rowsStored, 251);
    const [rejected] = await stack.pool!.query("SELECT reason FROM rejected_rows WHERE dataset = 'bodyfat'");
    assert.deepEqual(
      (rejected as { reason: string }[]).map((r) => r.reason),
      ['Height: "29.50" is out of range [48, 90]'],
    );
    assert.equal(out.dataset.dataset, 'bodyfat');
    assert.equal(out.dataset.datasetVersion, 1);
    assert.equal(out.dataset.counts.total, 251);
    assert.equal(out.dataset.counts.train + out.dataset.counts.validation + out.dataset.counts.test, 251);
    const manifest = await stack.store!.getJson<DatasetManifest>(out.dataset.manifestKey);
    assert.deepEqual(manifest.featureNames, [
      'Age',
      'Weight',
      'Height',
      'Neck',
      'Chest',
      'Abdomen',
      'Hip',
      'Thigh',
      'Knee',
      'Ankle',
      'Biceps',
      'Forearm',
      'Wrist',
    ]);
    assert.equal(manifest.classCounts, undefined);

    assert.equal(out.promotion.modelName, 'bodyfat');
    assert.equal(out.promotion.decision, 'promoted');
    assert.equal(out.promotion.metric, 'rmse', 'regression promotes on RMSE by default');
    assert.deepEqual(Object.keys(out.promotion.testMetrics).sort(), ['mae', 'r2', 'rmse', 'rows']);
    assert.equal(await getAliasVersion(stack.pool!, 'bodyfat', 'champion'), out.promotion.candidateVersion);
    const [schema] = await stack.pool!.query("SELECT input_schema FROM model_versions WHERE model_name = 'bodyfat'");
    const inputSchema = (schema as { input_schema: { task: string; target: string; features: { name: string }[] } }[])[0].input_schema;
    assert.equal(inputSchema.task, 'regression');
    assert.equal(inputSchema.target, 'BodyFat');
    assert.equal(inputSchema.features.length, 13);
    assert.ok(!inputSchema.features.some((f) => f.name === 'Density'));
  });

  test('POST /predict for bodyfat returns numbers, and its test RMSE is well below the target spread', async (t) => {
    const out = outputOf(bodyfat);
    const manifest = await stack.store!.getJson<DatasetManifest>(out.dataset.manifestKey);
    const testRows = await readSnapshotSplit(stack.store!, manifest, 'test');
    assert.ok(testRows.length >= 20, `${testRows.length} test rows`);
    const rows = testRows.map(({ BodyFat: _target, ...features }) => features);
    const { status, body } = await post(`${stack.baseUrl}/predict`, { model: 'bodyfat', rows });
    assert.equal(status, 200, JSON.stringify(body));
    const predictions = body.predictions as { prediction: unknown }[];
    assert.equal(predictions.length, rows.length);
    for (const p of predictions) assert.equal(typeof p.prediction, 'number');
    const squared = predictions.reduce((s, p, i) => s + ((p.prediction as number) - (testRows[i].BodyFat as number)) ** 2, 0);
    const rmse = Math.sqrt(squared / rows.length);
    // Same model, same rows: what promote recorded.
    assert.ok(Math.abs(rmse - out.promotion.testMetrics.rmse) < 1e-6, `${rmse} vs recorded ${out.promotion.testMetrics.rmse}`);
    t.diagnostic(
      `bodyfat: ${rows.length} test rows, RMSE ${rmse.toFixed(3)}, MAE ${out.promotion.testMetrics.mae.toFixed(3)}, R² ${out.promotion.testMetrics.r2.toFixed(3)}`,
    );
    // Predicting the mean gives RMSE ≈ std (8.35); circumferences explain most of body fat.
    assert.ok(rmse < 0.75 * BODYFAT_STD, `test RMSE ${rmse}`);
    assert.ok(out.promotion.testMetrics.r2 > 0.4, `test R² ${out.promotion.testMetrics.r2}`);
  });

  test('a request for the wrong spec is rejected naming the fields (covertype fields sent to the bodyfat model)', async () => {
    const covertypeRow = covertypeSampleRow;
    const { status, body } = await post(`${stack.baseUrl}/predict`, { model: 'bodyfat', rows: [covertypeRow] });
    assert.equal(status, 400, JSON.stringify(body));
    const issues = body.issues as { field: string; message: string }[];
    assert.ok(
      issues.some((i) => i.field === 'Elevation' && /unknown field/.test(i.message)),
      JSON.stringify(issues),
    );
    assert.ok(
      issues.some((i) => i.field === 'Abdomen' && /missing field/.test(i.message)),
      JSON.stringify(issues),
    );
    assert.match(String(body.message), /Elevation: unknown field/);
    // And a Body Fat value out of the spec's range names its field.
    const good = {
      Age: 40,
      Weight: 180,
      Height: 70,
      Neck: 38,
      Chest: 100,
      Abdomen: 92,
      Hip: 100,
      Thigh: 59,
      Knee: 38,
      Ankle: 23,
      Biceps: 32,
      Forearm: 28,
      Wrist: 18,
    };
    const bad = await post(`${stack.baseUrl}/predict`, { model: 'bodyfat', rows: [{ ...good, Height: 29.5 }] });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.message), /Height: 29\.5 is out of range \[48, 90\]/);
    const ok = await post(`${stack.baseUrl}/predict`, { model: 'bodyfat', rows: [good] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const prediction = (ok.body.predictions as { prediction: number }[])[0].prediction;
    assert.ok(prediction > 0 && prediction < 60, `${prediction}`);
  });

  test('Covertype runs on the same stack as a classification pipeline with its own model', async () => {
    assert.equal(covertype.status, 'SUCCEEDED', `${covertype.error}: ${covertype.cause}`);
    const out = outputOf(covertype);
    assert.equal(out.dataset.dataset, 'covertype');
    assert.equal(out.dataset.datasetVersion, 1);
    assert.ok(out.fetch.rowsStored > 2000 && out.fetch.rowsStored <= 4000, `2 samples of 2000 rows, got ${out.fetch.rowsStored}`);
    assert.equal(out.promotion.modelName, 'covertype');
    assert.equal(out.promotion.metric, 'accuracy');
    assert.ok(out.promotion.testMetrics.accuracy > 0.5);
    const { status, body } = await post(`${stack.baseUrl}/predict`, {
      model: 'covertype',
      rows: [covertypeSampleRow],
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(Number.isInteger((body.predictions as { prediction: number }[])[0].prediction));
  });

  test('preprocess reports drift: a first version has no baseline, a second one is compared with the first', async (t) => {
    for (const run of [bodyfat, covertype]) {
      assert.deepEqual(outputOf(run).dataset.drift, { drifted: true, maxPsi: 0, flagged: [], baselineVersion: null, threshold: 0.2 });
    }
    // One more Covertype batch: version 2, compared with version 1 feature by feature.
    const second = await stack.runPipeline({ dataset: 'covertype', batches: 1, intervalSeconds: 1, train: { nEstimators: 10, seed: 7 } });
    assert.equal(second.status, 'SUCCEEDED', `${second.error}: ${second.cause}`);
    const out = outputOf(second);
    assert.equal(out.dataset.datasetVersion, 2);
    const drift = out.dataset.drift;
    assert.equal(drift.baselineVersion, 1);
    assert.equal(drift.threshold, 0.2);
    assert.equal(drift.drifted, drift.flagged.length > 0);
    assert.ok(drift.maxPsi >= 0);
    const report = await stack.store!.getJson<DriftReport>(
      `datasets/covertype/${(await stack.store!.getJson<DatasetManifest>(out.dataset.manifestKey)).contentHash}/drift.json`,
    );
    assert.equal(report.features.length, 12);
    t.diagnostic(`covertype v2 vs v1: ${report.reason}`);
    for (const f of report.features) {
      assert.equal(typeof f.psi, 'number', f.name);
      assert.equal(f.drifted, (f.psi as number) > 0.2, f.name);
    }
    assert.deepEqual(report.flagged, drift.flagged);
    assert.equal(report.maxPsi, drift.maxPsi);

    // The same content again is the same version, with the drift recorded when it was made. (The
    // group is restarted first: every Body Fat batch was served, and on serverless-offline a Lambda
    // error reaches the state machine as "Error", so the NoMoreBatches Catch would not match.)
    const [beforeRows] = await stack.pool!.query('SELECT COUNT(*) AS n FROM dataset_versions');
    assert.equal((await get(`${stack.baseUrl}/restart_data_generation?group_number=1&dataset=bodyfat`)).status, 200);
    const again = await stack.runPipeline({ dataset: 'bodyfat', batches: 1, intervalSeconds: 1, train: { nEstimators: 10, seed: 7 } });
    assert.equal(again.status, 'SUCCEEDED', `${again.error}: ${again.cause}`);
    assert.equal(outputOf(again).dataset.created, false);
    assert.equal(outputOf(again).dataset.datasetVersion, 1);
    assert.deepEqual(outputOf(again).dataset.drift, outputOf(bodyfat).dataset.drift);
    const [afterRows] = await stack.pool!.query('SELECT COUNT(*) AS n FROM dataset_versions');
    assert.deepEqual(afterRows, beforeRows);
  });

  test('GET /datasets lists versions, and a version shows its profile and drift', async () => {
    const list = await get(`${stack.baseUrl}/datasets`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const datasets = list.body.datasets as {
      name: string;
      task: string | null;
      versions: number;
      latest: { version: number; drift: DriftSummary | null } | null;
    }[];
    const byName = new Map(datasets.map((d) => [d.name, d]));
    assert.equal(byName.get('bodyfat')?.task, 'regression');
    assert.equal(byName.get('bodyfat')?.versions, 1);
    assert.equal(byName.get('covertype')?.task, 'classification');
    assert.equal(byName.get('covertype')?.latest?.version, 2);
    assert.equal(byName.get('covertype')?.latest?.drift?.baselineVersion, 1);

    const versions = await get(`${stack.baseUrl}/datasets/covertype`);
    assert.equal(versions.status, 200);
    assert.deepEqual(
      (versions.body.versions as { version: number }[]).map((v) => v.version),
      [2, 1],
    );

    const detail = await get(`${stack.baseUrl}/datasets/bodyfat/versions/1`);
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    const profile = detail.body.profile as DatasetProfile;
    assert.equal(profile.rows, 251);
    assert.deepEqual(
      profile.columns.map((c) => c.name),
      ['Age', 'Weight', 'Height', 'Neck', 'Chest', 'Abdomen', 'Hip', 'Thigh', 'Knee', 'Ankle', 'Biceps', 'Forearm', 'Wrist', 'BodyFat'],
    );
    const fat = profile.columns.find((c) => c.name === 'BodyFat');
    assert.ok(fat && fat.type === 'numeric');
    assert.equal(fat.role, 'target');
    assert.equal(fat.count, 251);
    assert.equal(fat.missing, 0);
    assert.equal(fat.min, 0);
    assert.equal(fat.max, 47.5);
    assert.ok(Math.abs((fat.mean ?? 0) - 19.15) < 0.2 && Math.abs((fat.std ?? 0) - BODYFAT_STD) < 0.2, `${fat.mean} ± ${fat.std}`);
    assert.equal(
      fat.histogram.counts.reduce((a, b) => a + b, 0),
      251,
    );
    const height = profile.columns.find((c) => c.name === 'Height');
    assert.ok(height && height.type === 'numeric' && (height.min ?? 0) >= 48, 'the rejected 29.5 in is not in the profile');
    assert.equal((detail.body.driftReport as DriftReport).baselineVersion, null);

    const covertypeDetail = await get(`${stack.baseUrl}/datasets/covertype/versions/2`);
    assert.equal(covertypeDetail.status, 200);
    const area = (covertypeDetail.body.profile as DatasetProfile).columns.find((c) => c.name === 'Wilderness_Area');
    assert.ok(area && area.type === 'categorical');
    assert.deepEqual(Object.keys(area.categories), ['Rawah', 'Neota', 'Commanche', 'Cache']);
    assert.equal((covertypeDetail.body.driftReport as DriftReport).baselineVersion, 1);

    assert.equal((await get(`${stack.baseUrl}/datasets/bodyfat/versions/9`)).status, 404);
    assert.equal((await get(`${stack.baseUrl}/datasets/nope`)).status, 404);
    const badVersion = await get(`${stack.baseUrl}/datasets/bodyfat/versions/x`);
    assert.equal(badVersion.status, 400);
    assert.match(String(badVersion.body.message), /version/);
  });

  test("the data API serves each spec'd dataset per group, a whole Body Fat batch at a time", async () => {
    const group = 9;
    const first = await get(`${stack.baseUrl}/data?group_number=${group}&dataset=bodyfat`);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.dataset, 'bodyfat');
    assert.equal(first.body.batch_number, 1);
    const rows = first.body.data as string[][];
    // 252 rows in 10 batches: batch 1 is rows [0, 25); the sample size (2000) exceeds it, so all of them.
    assert.equal(rows.length, 25);
    assert.ok(rows.every((r) => r.length === 14));
    const covertypeBatch = await get(`${stack.baseUrl}/data?group_number=${group}`);
    assert.equal(covertypeBatch.body.dataset, 'covertype');
    assert.equal(covertypeBatch.body.batch_number, 1);
    assert.ok((covertypeBatch.body.data as string[][]).every((r) => r.length === 13));

    const unknown = await get(`${stack.baseUrl}/data?group_number=${group}&dataset=iris`);
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.body.message), /no dataset named iris.*bodyfat/);
    const invalid = await get(`${stack.baseUrl}/data?group_number=${group}&dataset=Body%20Fat`);
    assert.equal(invalid.status, 400);
    assert.match(String(invalid.body.message), /dataset/);

    const restart = await get(`${stack.baseUrl}/restart_data_generation?group_number=${group}&dataset=bodyfat`);
    assert.equal(restart.status, 200);
    assert.deepEqual(restart.body, ['ok'], "the course's answer");
    assert.equal((await get(`${stack.baseUrl}/restart_data_generation?group_number=${group}&dataset=iris`)).status, 404);
  });

  test('a malformed spec fails with the path of the offending field', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'spec-'));
    try {
      const spec = JSON.parse(await readFile(BODYFAT_SPEC, 'utf8')) as { columns: Record<string, unknown>[]; target: string };
      spec.columns[2].type = 'float';
      spec.columns[5].min = 300;
      spec.target = 'Density';
      const file = path.join(dir, 'bodyfat.spec.json');
      await writeFile(file, JSON.stringify(spec));
      await assert.rejects(readDatasetSpecFile(file), (error: unknown) => {
        assert.ok(error instanceof InvalidDatasetSpec);
        assert.match(error.message, /columns\[2\]\.type/);
        const paths = error.issues.map((i) => i.path);
        assert.ok(paths.includes('columns[2].type'), paths.join(', '));
        return true;
      });
      // Shape fixed, cross-field problems remain: each is named.
      spec.columns[2].type = 'numeric';
      await writeFile(file, JSON.stringify(spec));
      await assert.rejects(readDatasetSpecFile(file), (error: unknown) => {
        assert.ok(error instanceof InvalidDatasetSpec);
        assert.match(error.message, /columns\[5\]\.min: min \(300\) is greater than max \(200\)/);
        assert.match(error.message, /target: no column named "Density"/);
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
