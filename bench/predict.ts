// Load benchmark of POST /predict: ours (the route users call: the embedded stack's HTTP API, the local
// API Gateway of src/embedded/http-api running the predict handler in warm containers, serving the
// champion the pipeline trained) against FastAPI + scikit-learn (bench/fastapi_server.py) serving a
// forest with the same settings (trees, full depth, min leaf 1, sqrt features) trained on the same rows
// (our champion's training split, read back from its snapshot).
//
// Each scenario (concurrency × rows per request) gets the same warm-up on both sides, then
// `--reps` fixed-duration runs per side, alternating sides; the result is the median of each figure
// (min–max in predict-details.json). Load comes from wrk (Debian's, installed when missing) or
// autocannon in duration mode (--tool autocannon). Also measured: the cold start (a fresh process to
// its first prediction through the same handler) and the handler, the model server and the trees
// alone in this process. Writes bench/results/predict.json and predict-details.json. Then the same
// route with the prediction log on and off (bench/prediction-log.ts; --log-overhead false skips it).
//
//   npm run bench:predict [-- --batches 9 --sample 46000 --trees 100 --duration 10 --warmup 5 --reps 3
//                            --concurrency 1,10,50 --rows-per-request 1,100 --tool wrk --log-overhead true]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig, mysqlEnvironment, mysqlSettings, repoRoot, resolveFromRepo, s3Environment } from '../src/config.ts';
import { loadDatasetRows } from '../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../src/dataset/spec.ts';
import { validateRecord, type TypedRow } from '../src/dataset/validate.ts';
import { readSnapshotSplit, formatSnapshotCsv, type DatasetManifest } from '../src/registry/snapshots.ts';
import { EmbeddedStack, freePort } from '../src/embedded/stack.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { dropDatabase } from '../src/storage/mysql.ts';
import { aptInstall, median, predictEvent, runToEnd } from './io.ts';

const { values: opts } = parseArgs({
  options: {
    batches: { type: 'string', default: '9' },
    sample: { type: 'string', default: '46000' },
    trees: { type: 'string', default: '100' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '5' },
    reps: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,10,50' },
    'rows-per-request': { type: 'string', default: '1,100' },
    tool: { type: 'string', default: 'wrk' },
    'cold-starts': { type: 'string', default: '3' },
    'log-overhead': { type: 'string', default: 'true' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(
    'Usage: npm run bench:predict [-- --batches 9 --sample 46000 --trees 100 --duration 10 --warmup 5 --reps 3\n' +
      '                                --concurrency 1,10,50 --rows-per-request 1,100 --tool wrk|autocannon --cold-starts 3\n' +
      '                                --log-overhead true|false]\n' +
      'Writes bench/results/predict.json and predict-details.json; then (unless --log-overhead false) measures the\n' +
      'prediction log on against off (bench/prediction-log.ts, bench/results/prediction-log.json).',
  );
  process.exit(0);
}
const BATCHES = Number(opts.batches);
const TREES = Number(opts.trees);
const DURATION = Number(opts.duration);
const WARMUP = Number(opts.warmup);
const REPS = Number(opts.reps);
const CONCURRENCY = String(opts.concurrency).split(',').map(Number);
const ROWS_PER_REQUEST = String(opts['rows-per-request']).split(',').map(Number);
const COLD_STARTS = Number(opts['cold-starts']);
const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');
const log = (line: string) => console.log(line);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;

interface Measured {
  requests: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  errors: number;
}
type Field = keyof Measured;
const FIELDS: Field[] = ['requests', 'rps', 'p50_ms', 'p99_ms', 'max_ms', 'errors'];

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const summary = (runs: Measured[]) => Object.fromEntries(FIELDS.map((f) => [f, round(median(runs.map((r) => r[f])))])) as unknown as Measured;
const spread = (runs: Measured[]) =>
  Object.fromEntries(FIELDS.map((f) => [f, [round(Math.min(...runs.map((r) => r[f]))), round(Math.max(...runs.map((r) => r[f])))]]));

// ---- load generators -----------------------------------------------------------------------

let tool = String(opts.tool);
if (tool === 'wrk' && spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error && !aptInstall(['wrk'])) {
  log('wrk could not be installed: using autocannon (duration mode)');
  tool = 'autocannon';
}

/** wrk's durations ("812.00us", "1.20ms", "2.01s", "1.00m") in ms. */
function wrkMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`unexpected wrk duration ${text}`);
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as 'us' | 'ms' | 's' | 'm'];
}

async function wrk(url: string, bodyFile: string, connections: number, seconds: number): Promise<Measured> {
  const script = `${bodyFile}.lua`;
  await writeFile(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open("${bodyFile}", "rb")\nwrk.body = f:read("*a")\nf:close()\n`,
  );
  // Asynchronously: the stack's HTTP API answers from this process's event loop.
  const {
    status,
    stdout: out,
    stderr: err,
  } = await runToEnd('wrk', [
    '-t',
    String(Math.min(2, connections)),
    '-c',
    String(connections),
    '-d',
    `${seconds}s`,
    '--timeout',
    '10s',
    '--latency',
    '-s',
    script,
    url,
  ]);
  if (status !== 0) throw new Error(`wrk failed: ${err}${out}`);
  const requests = Number(/(\d+) requests in ([\d.]+\w+)/.exec(out)?.[1]);
  const duration = wrkMs(/\d+ requests in ([\d.]+\w+)/.exec(out)?.[1] ?? '0s') / 1000;
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    requests,
    rps: round(requests / duration, 1),
    p50_ms: wrkMs(/ 50%\s+(\S+)/.exec(out)?.[1] ?? 'NaNms'),
    p99_ms: wrkMs(/ 99%\s+(\S+)/.exec(out)?.[1] ?? 'NaNms'),
    max_ms: wrkMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? 'NaNms'),
    errors: non2xx + (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0),
  };
}

async function cannon(url: string, body: string, connections: number, seconds: number): Promise<Measured> {
  const r = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: seconds, timeout: 10 });
  return {
    requests: r.requests.total,
    rps: round(r.requests.total / seconds, 1),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    max_ms: r.latency.max,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

const load = (url: string, body: { file: string; text: string }, connections: number, seconds: number): Promise<Measured> =>
  tool === 'wrk' ? wrk(url, body.file, connections, seconds) : cannon(url, body.text, connections, seconds);

// ---- the peer ------------------------------------------------------------------------------

// Debian's packages live in the system interpreter, which a pyenv shim on PATH may hide.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
if (
  spawnSync(PYTHON, ['-c', 'import fastapi, uvicorn, sklearn'], { stdio: 'ignore' }).status !== 0 &&
  !aptInstall(['python3-fastapi', 'python3-uvicorn', 'python3-sklearn'])
) {
  throw new Error('apt-get install failed: install python3-fastapi python3-uvicorn python3-sklearn');
}

// ---- run -----------------------------------------------------------------------------------

const label = randomBytes(4).toString('hex');
const mysql = { ...mysqlSettings(loadConfig(process.env)), database: `mlops_bench_predict_${label}` };
const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-bench-predict-'));
const stack = new EmbeddedStack({
  mysql,
  bucket: `mlops-bench-predict-${label}`,
  s3Directory: path.join(work, 's3'),
  functionEnv: {
    DATA_API_DATASET_PATH: covertypePath,
    DATA_API_BATCH_INTERVAL_SECONDS: '1',
    DATA_API_SAMPLE_SIZE: String(opts.sample),
    TRAIN_WORKERS: '2',
    // A batch of 46,000 rows (and the first load of the file) takes longer than the default 10 s on a busy machine.
    DATA_API_TIMEOUT_MS: '120000',
    ...(process.env.BENCH_CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_CPU_PROF}` } : {}),
  },
  log,
});
let peer: ChildProcess | undefined;

try {
  await stack.start();
  // One trial with every searched parameter fixed: the settings the peer uses.
  const train = { nEstimators: TREES, maxDepth: null, minSamplesLeaf: 1, maxFeatures: 'sqrt', seed: 42 };
  const run = await stack.runPipeline({
    batches: BATCHES,
    intervalSeconds: 1,
    train,
    search: { trials: 1, seed: 1, maxConcurrency: 1 },
    promotion: { minGain: 0 },
  });
  if (run.status !== 'SUCCEEDED') throw new Error(`pipeline ${run.status}: ${run.error} ${run.cause}\n${stack.recentOutput().slice(-3000)}`);
  const out = run.output as { dataset: { manifestKey: string }; promotion: { championVersion: number } };
  log(`${elapsed()} champion v${out.promotion.championVersion}: ${JSON.stringify(train)}`);

  // The peer trains on the same training split our champion was trained on, with the same settings.
  const store = stack.store!;
  const manifest = await store.getJson<DatasetManifest>(out.dataset.manifestKey);
  const trainRows = await readSnapshotSplit(store, manifest, 'train');
  const trainCsv = path.join(work, 'train.csv');
  await writeFile(trainCsv, formatSnapshotCsv(manifest.spec, trainRows));
  const peerPort = await freePort();
  peer = spawn(
    PYTHON,
    [
      path.join(repoRoot, 'bench/fastapi_server.py'),
      '--spec',
      resolveFromRepo('datasets/covertype.spec.json'),
      '--train',
      trainCsv,
      '--trees',
      String(TREES),
      '--min-samples-leaf',
      '1',
      '--max-features',
      'sqrt',
      '--fit-jobs',
      '2',
      '--port',
      String(peerPort),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  for (let i = 0; ; i++) {
    if (peer.exitCode !== null) throw new Error('the FastAPI server exited');
    if (
      await fetch(`${peerUrl}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 3000) throw new Error('the FastAPI server did not start within 10 minutes');
    await new Promise((r) => setTimeout(r, 200));
  }
  log(`${elapsed()} FastAPI peer ready on ${trainRows.length} training rows`);

  // Request bodies: real rows from the end of the file (the batches the pipeline did not fetch).
  const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
  const all = await loadDatasetRows(spec, covertypePath);
  const names = spec.columns.map((c) => c.name);
  const rows = all
    .slice(-1000)
    .map((r) => Object.fromEntries(names.slice(0, -1).map((n, i) => [n, spec.columns[i].type === 'categorical' ? r[i] : Number(r[i])])));
  const bodies = new Map<number, { file: string; text: string }>();
  for (const n of ROWS_PER_REQUEST) {
    const text = JSON.stringify({ rows: rows.slice(0, n) });
    const file = path.join(work, `body-${n}.json`);
    await writeFile(file, text);
    bodies.set(n, { file, text });
  }
  const answer = async (url: string) =>
    (
      (await (
        await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: rows.slice(0, 500) }) })
      ).json()) as { predictions: { prediction: number }[] }
    ).predictions.map((p) => p.prediction);
  const [a, b] = [await answer(stack.baseUrl), await answer(peerUrl)];
  const agreement = a.filter((p, i) => p === b[i]).length / a.length;
  log(`prediction agreement ours vs sklearn on 500 held-back rows: ${(agreement * 100).toFixed(1)} % (two forests, same settings and rows)`);

  // Cold start: a new process (as a new Lambda container) to its first prediction, through the
  // compiled handler: module loading, registry lookup, model download, hash check, load, predict.
  // Measured before the load, on an idle stack: a new Lambda container has a CPU of its own, and cold
  // starts measured right after the load shared the two cores with what the load left behind.
  const functionEnv = { ...mysqlEnvironment(mysql), ...s3Environment(store.settings) };
  const coldStarts: Record<string, number>[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    const spawned = performance.timeOrigin + performance.now();
    // Asynchronously: the S3 server runs in this process.
    const child = spawn(process.execPath, [path.join(repoRoot, 'bench/cold-start.ts'), bodies.get(1)?.text ?? JSON.stringify({ rows: rows.slice(0, 1) })], {
      env: { ...process.env, ...functionEnv },
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`cold start failed (${code}): ${stderr}`);
    const spawnToExit = performance.timeOrigin + performance.now() - spawned;
    const { first_prediction_at, ...measured } = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
    // To the first answer (the child then times a second load alone, load_ms, before it exits).
    coldStarts.push({ spawn_to_first_prediction_ms: round(first_prediction_at - spawned, 1), spawn_to_exit_ms: round(spawnToExit, 1), ...measured });
    log(`${elapsed()} cold start ${i + 1}: ${JSON.stringify(coldStarts.at(-1))}`);
  }

  const scenarios: { concurrency: number; rows_per_request: number; ours: Measured; fastapi: Measured }[] = [];
  const details: Record<string, unknown>[] = [];
  for (const rowsPerRequest of ROWS_PER_REQUEST) {
    for (const c of CONCURRENCY) {
      const body = bodies.get(rowsPerRequest)!;
      const sides = { ours: `${stack.baseUrl}/predict`, fastapi: `${peerUrl}/predict` };
      for (const url of Object.values(sides)) await load(url, body, c, WARMUP);
      const runs: Record<keyof typeof sides, Measured[]> = { ours: [], fastapi: [] };
      for (let rep = 0; rep < REPS; rep++) {
        for (const side of Object.keys(sides) as (keyof typeof sides)[]) runs[side].push(await load(sides[side], body, c, DURATION));
      }
      const s = { concurrency: c, rows_per_request: rowsPerRequest, ours: summary(runs.ours), fastapi: summary(runs.fastapi) };
      scenarios.push(s);
      details.push({ ...s, spread: { ours: spread(runs.ours), fastapi: spread(runs.fastapi) }, runs });
      const f = (m: Measured, side: keyof typeof sides) =>
        `${m.rps} rps [${spread(runs[side]).rps.join('–')}] p50 ${m.p50_ms} p99 ${m.p99_ms} max ${m.max_ms} ms err ${m.errors}`;
      log(
        `${elapsed()} c=${c} rows=${rowsPerRequest}: ours ${f(s.ours, 'ours')} | fastapi ${f(s.fastapi, 'fastapi')} | ×${round(s.ours.rps / s.fastapi.rps, 1)} rps`,
      );
    }
  }

  // The handler's own cost in this process: the handler the HTTP API's containers run,
  // ModelServer.predict alone (no JSON, no middy), and the trees alone on encoded rows.
  Object.assign(process.env, functionEnv);
  const { handler } = await import('../functions/predict.ts');
  const context = await import('../functions/lib/context.ts');
  const server = new ModelServer(context.getPool(), context.getStore(), 2000);
  const { model } = await server.load('covertype', out.promotion.championVersion);
  const typed = rows
    .map((r) => validateRecord(spec, r, { requireTarget: false }))
    .filter((c) => c.ok)
    .map((c) => (c as { row: TypedRow }).row);
  const encoded = typed.map((r) => model.encoder.encode(r));
  const inProcess: Record<string, unknown>[] = [];
  const timeCalls = async (what: string, rowsPerCall: number, n: number, once: (i: number) => unknown) => {
    for (let i = 0; i < Math.min(n, 200); i++) await once(i);
    const times: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await once(i);
      times.push(performance.now() - t);
    }
    const seconds = (performance.now() - t0) / 1000;
    times.sort((x, y) => x - y);
    const pct = (p: number) => round(times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))], 4);
    const entry = {
      what,
      rows_per_call: rowsPerCall,
      calls: n,
      per_second: Math.round(n / seconds),
      mean_ms: round((seconds * 1000) / n, 4),
      p50_ms: pct(50),
      p99_ms: pct(99),
    };
    inProcess.push(entry);
    log(`in-process ${what} rows=${rowsPerCall}: ${entry.per_second}/s mean ${entry.mean_ms} ms p50 ${entry.p50_ms} ms p99 ${entry.p99_ms} ms`);
  };
  await timeCalls('trees alone (CompiledTrees.predictRow), a different held-back row each call', 1, 20_000, (i) =>
    model.predictor.predictRow(encoded[i % encoded.length]),
  );
  for (const rowsPerRequest of ROWS_PER_REQUEST) {
    const body = bodies.get(rowsPerRequest)!.text;
    const records = (JSON.parse(body) as { rows: unknown[] }).rows;
    const n = rowsPerRequest === 1 ? 5000 : 500;
    await timeCalls('handler (body parse, zod, validation, predict, JSON)', rowsPerRequest, n, async () => {
      const r = await handler(predictEvent(body), {} as never);
      if (r.statusCode !== 200) throw new Error(r.body);
    });
    await timeCalls('ModelServer.predict', rowsPerRequest, n, () => server.predict({ modelName: 'covertype' }, records));
  }
  // The handler calls above logged their predictions in this process: write them out before the pool goes.
  await (await import('../functions/lib/prediction-log.ts')).closePredictionLog();
  await context.getPool().end();
  context.getStore().client.destroy();

  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(path.join(repoRoot, 'bench/results/predict.json'), `${JSON.stringify(scenarios, null, 2)}\n`);
  const coldMedian = Object.fromEntries(Object.keys(coldStarts[0] ?? {}).map((k) => [k, round(median(coldStarts.map((c) => c[k])), 1)]));
  await writeFile(
    path.join(repoRoot, 'bench/results/predict-details.json'),
    `${JSON.stringify(
      {
        settings: {
          tool,
          duration_s: DURATION,
          warmup_s: WARMUP,
          reps: REPS,
          batches: BATCHES,
          sample: Number(opts.sample),
          train,
          train_rows: trainRows.length,
          cores: os.availableParallelism(),
        },
        agreement,
        scenarios: details,
        cold_start: { median: coldMedian, runs: coldStarts },
        in_process: inProcess,
      },
      null,
      2,
    )}\n`,
  );
  log(
    `\n${trainRows.length} training rows, ${TREES} trees, full depth, min leaf 1, sqrt; ${tool}, ${WARMUP} s warm-up, ${REPS} × ${DURATION} s per side (median [min–max])\n`,
  );
  log('| concurrency | rows/request | ours rps | ours p50 / p99 / max ms | fastapi rps | fastapi p50 / p99 / max ms | rps ratio | errors ours / fastapi |');
  log('|---|---|---|---|---|---|---|---|');
  for (const [i, s] of scenarios.entries()) {
    const sp = details[i].spread as Record<'ours' | 'fastapi', Record<Field, number[]>>;
    log(
      `| ${s.concurrency} | ${s.rows_per_request} | ${s.ours.rps} [${sp.ours.rps.join('–')}] | ${s.ours.p50_ms} / ${s.ours.p99_ms} / ${s.ours.max_ms} | ${s.fastapi.rps} [${sp.fastapi.rps.join('–')}] | ${s.fastapi.p50_ms} / ${s.fastapi.p99_ms} / ${s.fastapi.max_ms} | ${round(s.ours.rps / s.fastapi.rps, 1)}× | ${s.ours.errors} / ${s.fastapi.errors} |`,
    );
  }
  log(`\ncold start (new process → first prediction): median ${JSON.stringify(coldMedian)}`);
  log(`total ${elapsed()}`);
} finally {
  if (peer && peer.exitCode === null) peer.kill('SIGTERM');
  await stack.stop();
  await dropDatabase(mysql).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}

// The other figure: the same route with the prediction log on and off (bench/prediction-log.ts, on
// stacks of its own, after this one has stopped), with the same duration, repetitions and concurrencies.
if (opts['log-overhead'] !== 'false') {
  log('\nprediction log on against off (bench/prediction-log.ts):');
  const overhead = spawnSync(
    process.execPath,
    [
      path.join(repoRoot, 'bench/prediction-log.ts'),
      '--seconds',
      String(DURATION),
      '--rounds',
      String(Math.max(REPS, 3)),
      '--concurrency',
      CONCURRENCY.join(','),
      '--trees',
      String(TREES),
    ],
    { stdio: 'inherit' },
  );
  if (overhead.status !== 0) throw new Error(`bench/prediction-log.ts failed (${overhead.status})`);
}
