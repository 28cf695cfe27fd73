import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { resolveFromRepo } from '../../src/config.ts';
import { batchBounds } from '../../src/data-api/service.ts';
import { getAliasVersion, listModelVersions, listPromotions, listRuns } from '../../src/registry/registry.ts';
import { progressPrinter } from '../../scripts/lib/progress.ts';
import { EmbeddedStack, type ExecutionResult } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { covertypePath, covertypeSampleRow, testBucket, testMysql } from '../helpers/env.ts';
import { startServe } from '../helpers/serve.ts';

const mysql = testMysql('pipeline');
const bucket = testBucket('pipeline');
const BATCHES = 10;
let stack: EmbeddedStack;
let s3Directory: string;
let first: ExecutionResult;

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('the whole pipeline on the embedded stack (real MySQL, S3 server, serverless-offline, ASL)', { timeout: 600_000 }, () => {
  before(async () => {
    s3Directory = await mkdtemp(path.join(os.tmpdir(), 'mlops-s3-'));
    stack = new EmbeddedStack({
      mysql,
      bucket,
      s3Directory,
      functionEnv: {
        DATA_API_DATASET_PATH: covertypePath,
        DATA_API_BATCH_INTERVAL_SECONDS: '1',
        DATA_API_SAMPLE_SIZE: '3000',
        DATA_API_BATCHES: String(BATCHES),
        TRAIN_WORKERS: '2',
      },
    });
    await stack.start();
    first = await stack.runPipeline({ batches: 3, intervalSeconds: 1, train: { nEstimators: 30, seed: 7 } });
    if (first.status !== 'SUCCEEDED') console.error(stack.recentOutput());
  });

  after(async () => {
    await stack?.stop();
    await dropDatabase(mysql).catch(() => undefined);
    await rm(s3Directory, { recursive: true, force: true });
  });

  test('the execution runs every state and ends with a champion', async () => {
    assert.equal(first.status, 'SUCCEEDED', `${first.error}: ${first.cause}`);
    const exited = first.events.filter((e) => e.type === 'StateExited').map((e) => e.stateName);
    assert.deepEqual(exited.filter((n) => n === 'FetchBatch').length, 3);
    for (const state of ['Preprocess', 'Train', 'Promote']) assert.ok(exited.includes(state), `${state} ran`);
    const out = first.output as {
      fetch: { rowsStored: number };
      dataset: { datasetVersion: number; counts: { train: number; test: number } };
      promotion: { decision: string; candidateVersion: number };
    };
    assert.ok(out.fetch.rowsStored > 5000 && out.fetch.rowsStored <= 9000, `3 samples of 3000 rows, got ${out.fetch.rowsStored}`);
    assert.equal(out.dataset.datasetVersion, 1);
    assert.equal(out.promotion.decision, 'promoted');
    assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'champion'), out.promotion.candidateVersion);
  });

  test('POST /predict serves the champion, and its accuracy on rows never served is far above chance', async () => {
    const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    const all = await loadDatasetRows(spec, covertypePath);
    // The last batch was never served to the pipeline: held-back rows.
    const [start] = batchBounds(all.length, BATCHES, BATCHES - 1);
    const heldBack = all.slice(start, start + 400);
    const names = spec.columns.map((c) => c.name);
    const rows = heldBack.map((r) => Object.fromEntries(names.slice(0, -1).map((n, i) => [n, i < 10 ? Number(r[i]) : r[i]])));
    const { status, body } = await post(`${stack.baseUrl}/predict`, { rows });
    assert.equal(status, 200, JSON.stringify(body));
    const model = body.model as { version: number; alias: string };
    assert.equal(model.alias, 'champion');
    assert.equal(model.version, await getAliasVersion(stack.pool!, 'covertype', 'champion'));
    const predictions = body.predictions as { prediction: number; label: string; probabilities: Record<string, number> }[];
    assert.equal(predictions.length, rows.length);
    for (const p of predictions) {
      const total = Object.values(p.probabilities).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 1) < 1e-9, 'probabilities sum to 1');
      assert.equal(Object.keys(p.probabilities).length, 7);
    }
    const correct = predictions.filter((p, i) => p.prediction === Number(heldBack[i][12])).length;
    const accuracy = correct / rows.length;
    // The majority class is 47.5 %; a 30-tree forest on ~6k rows reaches well over 70 %.
    assert.ok(accuracy > 0.65, `held-back accuracy ${accuracy}`);
  });

  test('bad predict requests get a 4xx naming the problem', async () => {
    const good = covertypeSampleRow;
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 400, /not valid JSON/],
      [{ rows: [] }, 400, /at least one row/],
      [{ rows: [{ ...good, Elevation: 'high' }] }, 400, /Elevation/],
      [{ rows: [{ ...good, Soil_Type: 'C0000' }] }, 400, /Soil_Type/],
      [{ rows: [{ ...good, Colour: 'red' }] }, 400, /Colour: unknown field/],
      [{ rows: [good], model_version: 99 }, 404, /no version 99/],
    ];
    for (const [body, status, message] of cases) {
      const response = await post(`${stack.baseUrl}/predict`, body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(String(response.body.message), message);
    }
  });

  test('a second run on the same data adds no rows twice and promotes only a better model', async () => {
    const [before] = await stack.pool!.query('SELECT COUNT(*) AS n, COUNT(DISTINCT row_key) AS k FROM raw_rows');
    const second = await stack.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: 30, seed: 7 } });
    assert.equal(second.status, 'SUCCEEDED', `${second.error}: ${second.cause}`);
    const [afterRows] = await stack.pool!.query('SELECT COUNT(*) AS n, COUNT(DISTINCT row_key) AS k FROM raw_rows');
    const b = (before as { n: number; k: number }[])[0];
    const a = (afterRows as { n: number; k: number }[])[0];
    assert.equal(Number(a.n), Number(a.k), 'no duplicate rows');
    assert.ok(Number(a.n) >= Number(b.n));
    const out = second.output as { promotion: { decision: string; candidateScore: number; championScore: number | null; candidateVersion: number } };
    const history = await listPromotions(stack.pool!, 'covertype');
    assert.equal(history.length, 2);
    const last = history[1];
    assert.equal(last.candidateVersion, out.promotion.candidateVersion);
    assert.equal(last.previousVersion, history[0].candidateVersion);
    // The decision follows the numbers recorded with it.
    assert.equal(last.action, (last.candidateScore ?? 0) > (last.championScore ?? 0) ? 'promoted' : 'rejected');
    const champion = await getAliasVersion(stack.pool!, 'covertype', 'champion');
    assert.equal(champion, last.action === 'promoted' ? last.candidateVersion : history[0].candidateVersion);
    if (last.action === 'rejected') {
      assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'challenger'), last.candidateVersion);
      const served = await post(`${stack.baseUrl}/predict`, {
        alias: 'challenger',
        rows: [covertypeSampleRow],
      });
      assert.equal((served.body.model as { version: number }).version, last.candidateVersion);
    }
  });

  test('step caching: an identical second run trains nothing and promotes nothing new; "cache": false trains again', async () => {
    // Body Fat's batches (~25 rows) are smaller than the sample size, so a batch is served whole, and
    // a group's first request is always batch 1: each run below, on a group of its own, fetches the
    // same rows, and preprocess finds the same content.
    const input = (groupNumber: number) => ({
      dataset: 'bodyfat',
      groupNumber,
      batches: 1,
      intervalSeconds: 1,
      train: { nEstimators: 10 },
      search: { trials: 2, seed: 3, maxConcurrency: 2 },
    });
    const trialsOf = async (result: ExecutionResult) =>
      (await listRuns(stack.pool!, { executionId: result.executionArn })).filter((r) => r.parentRunId !== null);
    type Out = { dataset: { datasetVersion: number; created: boolean }; promotion: { decision: string; candidateVersion: number; championVersion: number } };

    const a = await stack.runPipeline(input(8));
    assert.equal(a.status, 'SUCCEEDED', `${a.error}: ${a.cause}`);
    const aOut = a.output as Out;
    assert.equal(aOut.promotion.decision, 'promoted');
    const aTrials = await trialsOf(a);
    assert.equal(aTrials.length, 2);
    for (const t of aTrials) assert.equal(t.cachedFromRunId, null, 'the first run trains');

    const lines: string[] = [];
    const b = await stack.runPipeline(
      input(9),
      progressPrinter((line) => lines.push(line)),
    );
    assert.equal(b.status, 'SUCCEEDED', `${b.error}: ${b.cause}`);
    const bOut = b.output as Out;
    assert.equal(bOut.dataset.datasetVersion, aOut.dataset.datasetVersion);
    assert.equal(bOut.dataset.created, false);
    const bTrials = await trialsOf(b);
    assert.equal(bTrials.length, 2);
    const byParams = new Map(aTrials.map((t) => [JSON.stringify(t.params), t]));
    for (const t of bTrials) {
      const source = byParams.get(JSON.stringify(t.params));
      assert.ok(source, `trial ${t.runId} has the parameters of a first-run trial`);
      assert.equal(t.cachedFromRunId, source.runId);
      assert.equal(t.artifactKey, source.artifactKey);
      assert.equal(t.artifactSha256, source.artifactSha256);
      assert.equal(t.trainSeconds, 0);
    }
    const trainOutputs = b.events
      .filter((e) => e.type === 'StateExited' && e.stateName === 'Train')
      .map((e) => (e.payload.state as { output: { cached: boolean } }).output);
    assert.deepEqual(
      trainOutputs.map((o) => o.cached),
      [true, true],
    );
    assert.equal(lines.filter((l) => /✓ Train\[\d\].* cached \(artifact of run /.test(l)).length, 2, lines.join('\n'));
    assert.ok(
      lines.some((l) => /✓ Preprocess .*\(cached/.test(l)),
      lines.join('\n'),
    );
    // Nothing new: the candidate is the champion's own version, no version was added, no alias moved.
    assert.equal(bOut.promotion.candidateVersion, aOut.promotion.candidateVersion);
    assert.equal(bOut.promotion.decision, 'rejected');
    assert.equal((await listModelVersions(stack.pool!, 'bodyfat')).length, 1);
    assert.equal(await getAliasVersion(stack.pool!, 'bodyfat', 'champion'), aOut.promotion.candidateVersion);
    assert.equal(await getAliasVersion(stack.pool!, 'bodyfat', 'challenger'), null);

    const c = await stack.runPipeline({ ...input(10), cache: false });
    assert.equal(c.status, 'SUCCEEDED', `${c.error}: ${c.cause}`);
    const cTrials = await trialsOf(c);
    assert.equal(cTrials.length, 2);
    for (const t of cTrials) {
      assert.equal(t.cachedFromRunId, null, 'cache: false trains');
      assert.ok((t.trainSeconds ?? 0) > 0);
      assert.notEqual(t.artifactKey, byParams.get(JSON.stringify(t.params))?.artifactKey);
    }
  });

  test('a champion whose artifact is gone is replaced by a verified candidate, and the history says why', async () => {
    const champion = await getAliasVersion(stack.pool!, 'covertype', 'champion');
    const [rows] = await stack.pool!.query('SELECT artifact_key FROM model_versions WHERE model_name = ? AND version = ?', ['covertype', champion]);
    const key = (rows as { artifact_key: string }[])[0].artifact_key;
    await stack.store!.client.send(new DeleteObjectCommand({ Bucket: stack.store!.bucket, Key: key }));
    const third = await stack.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: 10, seed: 3 } });
    assert.equal(third.status, 'SUCCEEDED', `${third.error}: ${third.cause}`);
    const out = third.output as { promotion: { decision: string; candidateVersion: number; reason: string } };
    assert.equal(out.promotion.decision, 'promoted');
    assert.match(out.promotion.reason, new RegExp(`champion v${champion} cannot be loaded`));
    assert.equal(await getAliasVersion(stack.pool!, 'covertype', 'champion'), out.promotion.candidateVersion);
  });

  test('npm run serve brings the stack up again on the stored data and serves the champion without running the pipeline', async () => {
    const champion = await getAliasVersion(stack.pool!, 'covertype', 'champion');
    await stack.stop();
    const serve = await startServe(mysql, bucket, s3Directory);
    try {
      assert.equal(await serve.ready, true, serve.output());
      assert.match(serve.output(), new RegExp(`Champion covertype v${champion} `));
      assert.ok(serve.output().includes(`Step Functions API ${serve.sfnUrl}`), serve.output());
      // The executions of the runs above, through the restarted Step Functions endpoint.
      const listed = await fetch(`${serve.baseUrl}/executions`).then(
        async (r) => (await r.json()) as { executions: { executionArn: string; status: string }[] },
      );
      assert.ok(
        listed.executions.some((e) => e.executionArn === first.executionArn && e.status === 'SUCCEEDED'),
        JSON.stringify(listed).slice(0, 500),
      );
      const good = covertypeSampleRow;
      const { status, body } = await post(`${serve.baseUrl}/predict`, { rows: [good] });
      assert.equal(status, 200, JSON.stringify(body));
      assert.deepEqual(
        { version: (body.model as { version: number }).version, alias: (body.model as { alias: string }).alias },
        { version: champion, alias: 'champion' },
      );
      assert.doesNotMatch(serve.output(), /execution started|▶ FetchBatch/);
    } finally {
      await serve.stop();
    }
  });
});
