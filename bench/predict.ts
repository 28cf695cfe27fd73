// Load benchmark of POST /predict: ours (serverless-offline on the embedded stack, a champion trained by
// the pipeline) against FastAPI + scikit-learn (bench/fastapi_server.py, a RandomForestClassifier with
// the same tree count on the same training rows), with autocannon over loopback, a fixed number of
// requests per scenario. Also measures our handler in-process (no HTTP server) to separate its cost from
// serverless-offline's. Writes bench/results/predict.json and prints a table.
//   npm run bench:predict [-- --requests 1000 --trees 100]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { repoRoot, resolveFromRepo } from '../src/config.ts';
import { loadDatasetRows } from '../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../src/dataset/spec.ts';
import { readSnapshotSplit, formatSnapshotCsv, type DatasetManifest } from '../src/registry/snapshots.ts';
import { EmbeddedStack } from '../src/embedded/stack.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { dropDatabase } from '../src/storage/mysql.ts';

const { values: opts } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    'requests-batch': { type: 'string', default: '300' },
    trees: { type: 'string', default: '100' },
    concurrency: { type: 'string', default: '1,10,50' },
  },
});
const REQUESTS_1 = Number(opts.requests);
const REQUESTS_100 = Number(opts['requests-batch']);
const TREES = Number(opts.trees);
const CONCURRENCY = String(opts.concurrency).split(',').map(Number);
const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');
const log = (line: string) => console.log(line);

interface Measured { requests: number; rps: number; p50_ms: number; p99_ms: number; errors: number }
interface Scenario { concurrency: number; rows_per_request: number; ours: Measured; fastapi: Measured; ratio_rps: number; ratio_p99: number }

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function load(url: string, body: string, connections: number, amount: number): Promise<Measured> {
  const result = await autocannon({
    url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, amount, timeout: 20,
  });
  const total = result['2xx'] + result.non2xx;
  return {
    requests: total,
    rps: Math.round((total / Math.max(result.duration, 1e-3)) * 10) / 10,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// Debian's packages live in the system interpreter, which a pyenv shim on PATH may hide.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const python = spawnSync(PYTHON, ['-c', 'import fastapi, uvicorn, sklearn'], { stdio: 'ignore' });
if (python.status !== 0) {
  log('Installing python3-fastapi, python3-uvicorn, python3-sklearn (Debian packages)…');
  const apt = spawnSync('apt-get', ['install', '-y', 'python3-fastapi', 'python3-uvicorn', 'python3-sklearn'], { stdio: 'inherit' });
  if (apt.status !== 0) throw new Error('apt-get install failed: install python3-fastapi python3-uvicorn python3-sklearn');
}

const label = randomBytes(4).toString('hex');
const mysql = {
  host: process.env.MYSQL_HOST ?? '127.0.0.1', port: Number(process.env.MYSQL_PORT ?? 3306),
  user: process.env.MYSQL_USER ?? 'root', password: process.env.MYSQL_PASSWORD ?? '', database: `mlops_bench_predict_${label}`,
};
const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-bench-predict-'));
const stack = new EmbeddedStack({
  mysql, bucket: `mlops-bench-predict-${label}`, s3Directory: path.join(work, 's3'),
  functionEnv: {
    DATA_API_DATASET_PATH: covertypePath, DATA_API_BATCH_INTERVAL_SECONDS: '1', DATA_API_SAMPLE_SIZE: '5000', TRAIN_WORKERS: '2',
    ...(process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` } : {}),
  },
  log,
});
let peer: ChildProcess | undefined;

try {
  await stack.start();
  const run = await stack.runPipeline({ batches: 3, intervalSeconds: 1, train: { nEstimators: TREES, seed: 42 } });
  if (run.status !== 'SUCCEEDED') throw new Error(`pipeline ${run.status}: ${run.error} ${run.cause}`);
  const out = run.output as { dataset: { manifestKey: string }; promotion: { championVersion: number; candidateVersion: number } };
  log(`champion v${out.promotion.championVersion} (${TREES} trees)`);

  // The peer trains on the same training split our champion was trained on.
  const store = stack.store!;
  const manifest = await store.getJson<DatasetManifest>(out.dataset.manifestKey);
  const trainRows = await readSnapshotSplit(store, manifest, 'train');
  const trainCsv = path.join(work, 'train.csv');
  await writeFile(trainCsv, formatSnapshotCsv(manifest.spec, trainRows));
  const peerPort = await freePort();
  peer = spawn(PYTHON, [path.join(repoRoot, 'bench/fastapi_server.py'), '--spec', resolveFromRepo('datasets/covertype.spec.json'), '--train', trainCsv, '--trees', String(TREES), '--port', String(peerPort)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  for (let i = 0; ; i++) {
    if (peer.exitCode !== null) throw new Error('the FastAPI server exited');
    const ok = await fetch(`${peerUrl}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) throw new Error('the FastAPI server did not start');
    await new Promise((r) => setTimeout(r, 200));
  }

  // Request bodies: real rows of the last batch, never served to the pipeline.
  const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
  const all = await loadDatasetRows(spec, covertypePath);
  const names = spec.columns.map((c) => c.name);
  const rows = all.slice(-200).map((r) => Object.fromEntries(names.slice(0, -1).map((n, i) => [n, spec.columns[i].type === 'categorical' ? r[i] : Number(r[i])])));
  const bodies = { 1: JSON.stringify({ rows: rows.slice(0, 1) }), 100: JSON.stringify({ rows: rows.slice(0, 100) }) } as const;

  // Same answers? Both must serve; their predictions agree on most rows (different forests, same data).
  const answer = async (url: string) => ((await (await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[100] })).json()) as { predictions: { prediction: number }[] }).predictions.map((p) => p.prediction);
  const [a, b] = [await answer(stack.baseUrl), await answer(peerUrl)];
  const agreement = a.filter((p, i) => p === b[i]).length / a.length;
  log(`prediction agreement ours vs sklearn on 100 held-back rows: ${(agreement * 100).toFixed(0)} %`);

  const scenarios: Scenario[] = [];
  for (const rowsPerRequest of [1, 100] as const) {
    for (const c of CONCURRENCY) {
      const amount = rowsPerRequest === 1 ? REQUESTS_1 : REQUESTS_100;
      const body = bodies[rowsPerRequest];
      await load(`${stack.baseUrl}/predict`, body, c, Math.min(200, amount)); // warm-up
      const ours = await load(`${stack.baseUrl}/predict`, body, c, amount);
      await load(`${peerUrl}/predict`, body, c, Math.min(100, amount));
      const fastapi = await load(`${peerUrl}/predict`, body, c, amount);
      const s: Scenario = {
        concurrency: c, rows_per_request: rowsPerRequest, ours, fastapi,
        ratio_rps: Math.round((ours.rps / fastapi.rps) * 10) / 10,
        ratio_p99: Math.round((fastapi.p99_ms / Math.max(ours.p99_ms, 0.5)) * 10) / 10,
      };
      scenarios.push(s);
      log(`c=${c} rows=${rowsPerRequest}: ours ${ours.rps} rps p50 ${ours.p50_ms} ms p99 ${ours.p99_ms} ms err ${ours.errors} | fastapi ${fastapi.rps} rps p50 ${fastapi.p50_ms} ms p99 ${fastapi.p99_ms} ms err ${fastapi.errors} | ×${s.ratio_rps} rps`);
    }
  }

  // The handler's own cost, in this process: the same compiled handler serverless-offline runs, and
  // ModelServer.predict alone (no JSON parsing, no middy).
  Object.assign(process.env, {
    MYSQL_HOST: mysql.host, MYSQL_PORT: String(mysql.port), MYSQL_USER: mysql.user, MYSQL_PASSWORD: mysql.password, MYSQL_DATABASE: mysql.database,
    S3_BUCKET: stack.options.bucket, S3_ENDPOINT: `http://127.0.0.1:${stack.s3Port}`, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1',
  });
  const { handler } = await import('../functions/predict.ts');
  const context = await import('../functions/lib/context.ts');
  const server = new ModelServer(context.getPool(), context.getStore(), 2000);
  const inProcess: Record<string, unknown>[] = [];
  for (const rowsPerRequest of [1, 100] as const) {
    const body = bodies[rowsPerRequest];
    const records = (JSON.parse(body) as { rows: unknown[] }).rows;
    const n = rowsPerRequest === 1 ? 5000 : 500;
    for (const [what, once] of [
      ['handler', async () => { const r = await handler({ body, rawPath: '/predict' }, {} as Parameters<typeof handler>[1]); if (r.statusCode !== 200) throw new Error(r.body); }],
      ['ModelServer.predict', async () => { await server.predict({ modelName: 'covertype' }, records); }],
    ] as const) {
      for (let i = 0; i < 100; i++) await once();
      const times: number[] = [];
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await once();
        times.push(performance.now() - t);
      }
      const seconds = (performance.now() - started) / 1000;
      times.sort((x, y) => x - y);
      const row = { what, rows_per_request: rowsPerRequest, calls: n, per_second: Math.round(n / seconds), p50_ms: +percentile(times, 50).toFixed(3), p99_ms: +percentile(times, 99).toFixed(3) };
      inProcess.push(row);
      log(`in-process ${what} rows=${rowsPerRequest}: ${row.per_second}/s p50 ${row.p50_ms} ms p99 ${row.p99_ms} ms`);
    }
  }
  await context.getPool().end();
  context.getStore().client.destroy();

  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(path.join(repoRoot, 'bench/results/predict.json'), `${JSON.stringify(scenarios, null, 2)}\n`);
  await writeFile(path.join(repoRoot, 'bench/results/predict-inprocess.json'), `${JSON.stringify({ trees: TREES, agreement, inProcess }, null, 2)}\n`);
  log('\n| concurrency | rows/request | ours rps | ours p50 / p99 ms | fastapi rps | fastapi p50 / p99 ms | rps ratio | errors ours / fastapi |');
  log('|---|---|---|---|---|---|---|---|');
  for (const s of scenarios) {
    log(`| ${s.concurrency} | ${s.rows_per_request} | ${s.ours.rps} | ${s.ours.p50_ms} / ${s.ours.p99_ms} | ${s.fastapi.rps} | ${s.fastapi.p50_ms} / ${s.fastapi.p99_ms} | ${s.ratio_rps}× | ${s.ours.errors} / ${s.fastapi.errors} |`);
  }
} finally {
  if (peer && peer.exitCode === null) peer.kill('SIGTERM');
  await stack.stop();
  await dropDatabase(mysql).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
