// Course compatibility, both ways, on the embedded stack (serverless-offline):
// - our data API answers as the course's does, so a client written like the course's DAGs (a GET,
//   response.json()['data'], a branch on 'detail') sees the same batches and the same end from both;
// - the pipeline runs against a stand-in of the course's API (its FastAPI app reduced to its behaviour:
//   groups 1..10, a counter from -1 that jumps to 1, one step per interval, 400 {detail} after batch 10),
//   and its end of data ends the fetch loop instead of failing the run.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveFromRepo } from '../../src/config.ts';
import { loadDatasetRows } from '../../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { EmbeddedStack } from '../../src/embedded/stack.ts';
import { dropDatabase } from '../../src/storage/mysql.ts';
import { covertypeHead, covertypePath, testBucket, testMysql } from '../helpers/env.ts';

const mysql = testMysql('course');
const INTERVAL_S = 1;
const END = 'Ya se recolectó toda la información minima necesaria';

interface CourseApi {
  url: string;
  /** group_number of every GET /data, in order. */
  calls: number[];
  close(): Promise<void>;
}

/** The course's data API as it behaves (not its code): the stand-in the pipeline is run against. */
async function startCourseApi(rows: string[][], minUpdateSeconds: number): Promise<CourseApi> {
  const timestamps = new Map<number, [number, number]>(Array.from({ length: 10 }, (_, i) => [i + 1, [0, -1]]));
  const batchSize = Math.floor(rows.length / 10);
  const calls: number[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const group = Number(url.searchParams.get('group_number'));
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const state = timestamps.get(group);
    if (!state) return send(400, { detail: 'Número de grupo inválido' });
    if (url.pathname === '/restart_data_generation') {
      state[0] = 0;
      state[1] = -1;
      return send(200, ['ok']);
    }
    if (url.pathname !== '/data') return send(404, { detail: 'Not Found' });
    calls.push(group);
    if (state[1] >= 10) return send(400, { detail: END });
    const now = Date.now() / 1000;
    if (now - state[0] > minUpdateSeconds) {
      state[0] = now;
      state[1] += state[1] === -1 ? 2 : 1;
    }
    const batch = rows.slice((state[1] - 1) * batchSize, state[1] * batchSize);
    return send(200, { group_number: group, batch_number: state[1], data: batch.filter((_, i) => i % 2 === 0) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A client written the way the course's DAGs are: `requests.get(url)`, then `response.json()['data']`,
 * and a branch on `'detail' in response.json()` for the end. Returns each batch number seen, and the end's detail.
 */
async function collectLikeACourseDag(baseUrl: string, group: number): Promise<{ batches: number[]; rows: number; detail: string; status: number }> {
  const batches: number[] = [];
  let rows = 0;
  for (;;) {
    const response = await fetch(`${baseUrl}/data?group_number=${group}`);
    const body = (await response.json()) as Record<string, unknown>;
    if ('detail' in body) return { batches, rows, detail: String(body.detail), status: response.status };
    if (!Array.isArray(body.data)) throw new Error(`GET /data answered ${response.status} ${JSON.stringify(body)} after batches ${batches.join(',')}`);
    rows += body.data.length;
    batches.push(Number(body.batch_number));
    if (batches.length > 20) throw new Error('no end of data after 20 batches');
    await new Promise((r) => setTimeout(r, INTERVAL_S * 1000 + 100));
  }
}

const get = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as unknown };
};

let stack: EmbeddedStack;
let course: CourseApi;
let tmp: string;

describe('course compatibility, both ways (embedded stack, a stand-in of the course API)', { timeout: 600_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-course-'));
    const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
    course = await startCourseApi((await loadDatasetRows(spec, covertypePath)).slice(0, 4000), INTERVAL_S);
    stack = new EmbeddedStack({
      mysql,
      bucket: testBucket('course'),
      s3Directory: path.join(tmp, 's3'),
      // The fetch step calls the course's API, as `npm start -- --data-api-url` does.
      dataApiUrl: course.url,
      functionEnv: {
        // The same 4,000 rows as the stand-in: a data API that loads all of Covertype can overrun
        // its first request's timeout on a loaded machine.
        DATA_API_DATASET_PATH: await covertypeHead(tmp, 4000),
        DATA_API_BATCH_INTERVAL_SECONDS: String(INTERVAL_S),
        DATA_API_SAMPLE_SIZE: '50',
        TRAIN_WORKERS: '1',
        // A dataset whose file is not there (a clone without ../shared/data, a mistyped path).
        DATA_API_SOURCES: JSON.stringify({ diabetes: path.join(tmp, 'absent', 'diabetic_data.csv.gz') }),
      },
    });
    await stack.start();
  });

  after(async () => {
    await stack?.stop();
    await course?.close();
    await dropDatabase(mysql).catch(() => undefined);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test("a course-style client gets batches 1..10 then the 400 detail end, from our API and the course's alike", async () => {
    const [ours, theirs] = await Promise.all([collectLikeACourseDag(stack.baseUrl, 2), collectLikeACourseDag(course.url, 2)]);
    const oneToTen = Array.from({ length: 10 }, (_, i) => i + 1);
    assert.deepEqual(theirs.batches, oneToTen, 'the stand-in behaves as the course API');
    assert.deepEqual(ours.batches, oneToTen);
    assert.equal(ours.rows, 10 * 50);
    for (const end of [ours, theirs]) assert.deepEqual([end.status, end.detail], [400, END]);
    // Our end also names the error, in fields a course client does not read.
    const again = await get(`${stack.baseUrl}/data?group_number=2`);
    assert.equal(again.status, 400);
    assert.deepEqual(Object.keys(again.body as object).sort(), ['detail', 'error', 'message']);
    assert.equal((again.body as { error: string }).error, 'NoMoreBatches');

    // Restart answers ["ok"] and the next batch is 1 again.
    for (const base of [stack.baseUrl, course.url]) {
      assert.deepEqual(await get(`${base}/restart_data_generation?group_number=2`), { status: 200, body: ['ok'] }, base);
      const first = await get(`${base}/data?group_number=2`);
      assert.equal((first.body as { batch_number: number }).batch_number, 1, base);
    }
  });

  test('a dataset whose file is missing is a 503 that names the file and the setting, not an internal error', async () => {
    const r = await get(`${stack.baseUrl}/data?group_number=1&dataset=diabetes`);
    assert.equal(r.status, 503);
    const body = r.body as { error: string; message: string };
    assert.equal(body.error, 'DatasetSourceUnavailable');
    assert.ok(body.message.includes(path.join(tmp, 'absent', 'diabetic_data.csv.gz')), body.message);
    assert.match(body.message, /DATA_API_SOURCES/);
  });

  test("a group outside the course's 1..10 is a 400 with a detail, on our API as on the course's", async () => {
    for (const base of [stack.baseUrl, course.url]) {
      for (const group of [0, 11]) {
        const r = await get(`${base}/data?group_number=${group}`);
        assert.equal(r.status, 400, `${base} group ${group}`);
        assert.equal((r.body as { detail: string }).detail, 'Número de grupo inválido');
      }
    }
    // The pipeline refuses such a group before calling any API.
    const response = await fetch(`${stack.baseUrl}/executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` },
      body: JSON.stringify({ groupNumber: 11 }),
    });
    assert.equal(response.status, 400);
    assert.match(JSON.stringify(await response.json()), /groupNumber/);
  });

  test("the pipeline runs against the course's API: ten batches, its 400 detail ends the loop, and the run goes on to promotion", async () => {
    const calls = course.calls.length;
    const result = await stack.runPipeline({
      dataset: 'covertype',
      groupNumber: 4,
      batches: 20,
      intervalSeconds: INTERVAL_S,
      train: { nEstimators: 10, seed: 3 },
      search: { trials: 1, seed: 1, maxConcurrency: 1 },
    });
    if (result.status !== 'SUCCEEDED') console.error(stack.recentOutput());
    assert.equal(result.status, 'SUCCEEDED', `${result.error}: ${result.cause}`);
    const fetched = result.events
      .filter((e) => e.type === 'StateExited' && e.stateName === 'FetchBatch')
      .map((e) => (e.payload.state as { output: { fetch: { batchNumber: number } } }).output.fetch.batchNumber);
    // Within one interval the course's API serves the same batch again, so a batch may come twice.
    assert.deepEqual(
      [...new Set(fetched)],
      Array.from({ length: 10 }, (_, i) => i + 1),
      `batches in order: ${fetched.join(' ')}`,
    );
    assert.deepEqual(
      fetched,
      [...fetched].sort((a, b) => a - b),
    );
    const ended = result.events.filter((e) => e.type === 'StateFailed' && e.stateName === 'FetchBatch');
    assert.deepEqual(
      ended.map((e) => e.payload.Error),
      ['NoMoreBatches'],
      'the end of data, not a failure',
    );
    const entered = result.events.filter((e) => e.type === 'StateEntered' && e.stateName === 'FetchBatch').length;
    assert.deepEqual(
      course.calls.slice(calls),
      Array.from({ length: entered }, () => 4),
      'each fetch asked once, for group 4',
    );
    const out = result.output as { fetch: { rowsStored: number }; promotion: { decision: string } };
    assert.equal(out.fetch.rowsStored, 2000, 'every row the course served (200 per batch), once');
    assert.equal(out.promotion.decision, 'promoted');
  });
});
