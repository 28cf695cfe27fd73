import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mysqlEnvironment, repoRoot, s3Environment } from '../../src/config.ts';
import { parseCsv } from '../../src/dataset/csv.ts';
import { getAliasVersion, listRuns } from '../../src/registry/registry.ts';
import { errorTypeOf } from '../../src/embedded/lambda-invoker.ts';
import { SERVICE, STAGE } from '../../src/statemachine/definition.ts';
import { EmbeddedStack, type ExecutionResult } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypePath, testBucket, testMysql } from '../helpers/env.ts';

const mysql = testMysql('search');
const bucket = testBucket('search');
let stack: EmbeddedStack;
let tmp: string;
let execution: ExecutionResult;

const api = async (method: string, route: string, body?: unknown) => {
  const response = await fetch(`${stack.baseUrl}${route}`, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** Runs the CLI as a user would, against the test stack. */
function cli(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, 'scripts/cli.ts'), ...args, '--api', stack.baseUrl, '--lambda', `http://127.0.0.1:${stack.lambdaPort}`],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          ...mysqlEnvironment(mysql),
          ...s3Environment(stack.store!.settings),
          TRAIN_WORKERS: '1',
          ADMIN_TOKEN: stack.adminToken,
        },
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

describe('search fan-out, registry API, batch prediction and CLI', { timeout: 600_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-search-'));
    stack = new EmbeddedStack({
      mysql,
      bucket,
      s3Directory: path.join(tmp, 's3'),
      functionEnv: { DATA_API_DATASET_PATH: covertypePath, DATA_API_BATCH_INTERVAL_SECONDS: '1', DATA_API_SAMPLE_SIZE: '2500', TRAIN_WORKERS: '1' },
    });
    await stack.start();
    execution = await stack.runPipeline({
      batches: 2,
      intervalSeconds: 1,
      train: { nEstimators: 15 },
      search: { trials: 4, seed: 5, maxConcurrency: 2, space: { maxDepth: { values: [4, 12, null] }, minSamplesLeaf: { min: 1, max: 8 } } },
    });
    if (execution.status !== 'SUCCEEDED') console.error(stack.recentOutput());
  });

  after(async () => {
    await stack?.stop();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  test('each trial is one Train invocation in the Map, recorded under one parent run', async () => {
    assert.equal(execution.status, 'SUCCEEDED', `${execution.error}: ${execution.cause}`);
    const trainEvents = execution.events.filter((e) => e.type === 'StateExited' && e.stateName === 'Train');
    assert.deepEqual(trainEvents.map((e) => e.mapIndex).sort(), [0, 1, 2, 3]);
    const out = execution.output as {
      plan: { parentRunId: string };
      select: { candidate: { runId: string; score: number }; byObjective: Record<string, { runId: string }> };
    };
    const trials = await listRuns(stack.pool!, { parentRunId: out.plan.parentRunId });
    assert.equal(trials.length, 4);
    assert.ok(trials.every((t) => t.status === 'finished' && t.params.nEstimators === 15));
    // The candidate really is the best validation accuracy among the trials.
    const bestAccuracy = Math.max(...trials.map((t) => Number(t.metrics?.accuracy)));
    assert.equal(out.select.candidate.score, bestAccuracy);
    assert.ok(out.select.byObjective.auroc_ovr, 'best by AUROC too');
    const { body: parent } = await api('GET', `/runs/${out.plan.parentRunId}`);
    assert.equal(parent.status, 'finished');
    assert.equal((parent.trials as unknown[]).length, 4);
    assert.equal((parent.metrics as Record<string, number>).best_accuracy, bestAccuracy);
  });

  test('GET /models and the version lineage tell which data trained which model', async () => {
    const { status, body } = await api('GET', '/models');
    assert.equal(status, 200);
    const model = (body.models as { name: string; aliases: Record<string, number> }[])[0];
    assert.equal(model.name, 'covertype');
    assert.equal(model.aliases.champion, 1);
    const { body: lineage } = await api('GET', '/models/covertype/versions/1');
    const out = execution.output as { dataset: { datasetVersion: number; contentHash: string }; select: { candidate: { runId: string } } };
    assert.equal((lineage.run as { runId: string }).runId, out.select.candidate.runId);
    assert.equal((lineage.dataset as { contentHash: string }).contentHash, out.dataset.contentHash);
    assert.ok(lineage.search, 'the parent search is part of the lineage');
    assert.equal((lineage.promotions as { action: string }[])[0].action, 'promoted');
    assert.equal((await api('GET', '/models/covertype/versions/abc')).status, 400);
    assert.equal((await api('GET', '/models/nope/versions/1')).status, 404);
  });

  test('batch prediction writes a prediction per good row and the reason per bad row', async () => {
    const header =
      'id,Elevation,Aspect,Slope,Horizontal_Distance_To_Hydrology,Vertical_Distance_To_Hydrology,Horizontal_Distance_To_Roadways,Hillshade_9am,Hillshade_Noon,Hillshade_3pm,Horizontal_Distance_To_Fire_Points,Wilderness_Area,Soil_Type';
    const csv = [
      header,
      '1,2596,51,3,258,0,510,221,232,148,6279,Rawah,C7745',
      '2,high,51,3,258,0,510,221,232,148,6279,Rawah,C7745',
      '3,3100,100,10,200,20,1500,220,230,140,2000,Commanche,C7202',
      '4,2800,40,5,100,10,900,210,220,150,1000,Atlantis,C7202',
      '5,2800,40',
    ].join('\n');
    await stack.store!.putBytes('batch/inputs/t.csv', Buffer.from(csv));
    const lambda = new LambdaClient({
      endpoint: `http://127.0.0.1:${stack.lambdaPort}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const invoke = async (event: unknown) => {
      const r = await lambda.send(new InvokeCommand({ FunctionName: `${SERVICE}-${STAGE}-batchPredict`, Payload: Buffer.from(JSON.stringify(event)) }));
      return { error: r.FunctionError, body: JSON.parse(Buffer.from(r.Payload ?? new Uint8Array()).toString()) as Record<string, unknown> };
    };
    const { error, body } = await invoke({ model: 'covertype', inputKey: 'batch/inputs/t.csv' });
    assert.equal(error, undefined, JSON.stringify(body));
    assert.equal(body.rows, 5);
    assert.equal(body.predicted, 2);
    assert.equal(body.rejected, 3);
    const rows = parseCsv(Buffer.from(await stack.store!.getBytes(String(body.outputKey))).toString());
    const head = rows[0];
    const col = (name: string) => head.indexOf(name);
    assert.deepEqual(
      rows.slice(1).map((r) => r[col('model_version')]),
      ['1', '1', '1', '1', '1'],
    );
    assert.match(rows[2][col('error')], /Elevation/);
    assert.match(rows[4][col('error')], /Wilderness_Area/);
    assert.match(rows[5][col('error')], /expected 13 fields/);
    assert.ok(/^[1-7]$/.test(rows[1][col('prediction')]) && rows[1][col('error')] === '');
    // An S3 key outside batch/ is refused before anything is read.
    const refused = await invoke({ model: 'covertype', inputKey: '../models/x.csv' });
    assert.equal(refused.error, 'Unhandled');
    assert.equal(errorTypeOf(refused.body), 'InvalidInput');
  });

  test('the CLI lists runs and models, promotes, rolls back, predicts a CSV and reproduces a version', async () => {
    const runs = await cli('runs');
    assert.equal(runs.code, 0, runs.out);
    assert.match(runs.out, /accuracy/);
    assert.equal(runs.out.trim().split('\n').length, 1 + 5, 'a header, 4 trials and the search');
    assert.match(runs.out, /\bfamily\b/);
    assert.equal(runs.out.split('\n').filter((line) => /\bforest\b/.test(line)).length, 4, 'each trial shows its model family');

    // A second execution gives version 2 (promoted or not); then promote, roll back.
    const second = await stack.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: 15 }, search: { trials: 1, seed: 6 } });
    assert.equal(second.status, 'SUCCEEDED', `${second.error}: ${second.cause}`);
    const models = await cli('models');
    assert.equal(models.code, 0, models.out);
    assert.match(models.out, /^2\s/m);
    assert.match(models.out, /^1\s.*\bforest\b/m, 'a version shows its model family');
    const promoted = await cli('promote', 'covertype', '2', '--reason', 'test promote');
    assert.equal(promoted.code, 0, promoted.out);
    assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'champion'), 2);
    const rolled = await cli('rollback', 'covertype', '--reason', 'test rollback');
    assert.equal(rolled.code, 0, rolled.out);
    assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'champion'), 1);
    const missing = await cli('promote', 'covertype', '99');
    assert.notEqual(missing.code, 0);
    assert.match(missing.out, /404 ModelNotFound/);

    const file = path.join(tmp, 'rows.csv');
    await writeFile(
      file,
      'Elevation,Aspect,Slope,Horizontal_Distance_To_Hydrology,Vertical_Distance_To_Hydrology,Horizontal_Distance_To_Roadways,Hillshade_9am,Hillshade_Noon,Hillshade_3pm,Horizontal_Distance_To_Fire_Points,Wilderness_Area,Soil_Type\n2596,51,3,258,0,510,221,232,148,6279,Rawah,C7745\n2596,51,3,258,0,510,221,232,148,6279,Rawah,C0\n',
    );
    const predicted = await cli('predict', file);
    assert.equal(predicted.code, 0, predicted.out);
    assert.match(predicted.out, /1 of 2 rows predicted with covertype v1, 1 rejected/);
    const output = await readFile(path.join(tmp, 'rows.predictions.csv'), 'utf8');
    assert.equal(output.trim().split('\n').length, 3);

    const reproduced = await cli('reproduce', 'covertype', '1');
    assert.equal(reproduced.code, 0, reproduced.out);
    assert.match(reproduced.out, /rebuilt byte for byte/);
  });
});
