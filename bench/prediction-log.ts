// What the prediction log costs POST /predict: the same champion, the same request bodies, the same
// cores, with logging on (PREDICTION_LOG_SAMPLE_RATE=1, the default) and off (0).
//
// - HTTP: two serverless-offline processes of one embedded stack's database and bucket (one with the
//   log on, one off), loaded in turn with autocannon for a fixed duration per round; rounds alternate
//   on/off and repeat, and the table shows the median and spread of each side and their ratio.
//   Each round also reads the serving process's CPU time (/proc), which other load on a shared
//   machine disturbs far less than throughput: CPU µs per answered request, on against off.
// - In-process: ModelServer.predict plus logPrediction into a real log (S3 + MySQL writer, background
//   flushes) against ModelServer.predict alone, alternating fixed-duration windows in one process.
//   The S3 server (s3rver) runs in this same process and MySQL on the same cores, so the "on" side
//   also pays for receiving and storing its own log here: an upper bound of the log's cost.
//
// Writes bench/results/prediction-log.json. Goal (issue 16): throughput overhead < 5 %, p99 overhead < 2 ms.
//   npm run bench:predict-log [-- --seconds 8 --rounds 5 --concurrency 1,10,50 --trees 100]
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { repoRoot, resolveFromRepo } from '../src/config.ts';
import { loadDatasetRows } from '../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../src/dataset/spec.ts';
import { S3MysqlLogWriter } from '../src/monitoring/log-writer.ts';
import { PredictionLog } from '../src/monitoring/prediction-log.ts';
import { logPrediction } from '../src/monitoring/records.ts';
import { EmbeddedStack } from '../src/embedded/stack.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { dropDatabase } from '../src/storage/mysql.ts';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,10,50' },
    trees: { type: 'string', default: '100' },
  },
});
const SECONDS = Number(opts.seconds);
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = String(opts.concurrency).split(',').map(Number);
const TREES = Number(opts.trees);
const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');
const log = (line: string) => console.log(line);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)}`;
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

interface Round {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  cpu_us_per_request: number;
}

/** CPU time (user + system) a process has used, in µs (Linux /proc; clock ticks of 10 ms). */
async function cpuMicros(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * One fixed-duration round against one side. Besides throughput and latency (which the other
 * processes on a shared machine disturb), the serving process's own CPU time per answered request.
 */
async function load(url: string, body: string, connections: number, seconds: number, pid: number): Promise<Round> {
  const cpu0 = await cpuMicros(pid);
  const r = await autocannon({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: seconds, timeout: 20 });
  const cpu = (await cpuMicros(pid)) - cpu0;
  return {
    rps: Math.round(r.requests.average * 10) / 10,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    cpu_us_per_request: Math.round(cpu / Math.max(1, r['2xx'])),
  };
}
/** serverless-offline's process id (the stack keeps its child process to itself). */
const pidOf = (stack: EmbeddedStack): number => (stack as unknown as { offline: { pid: number } }).offline.pid;

const label = randomBytes(4).toString('hex');
const mysql = {
  host: process.env.MYSQL_HOST ?? '127.0.0.1',
  port: Number(process.env.MYSQL_PORT ?? 3306),
  user: process.env.MYSQL_USER ?? 'root',
  password: process.env.MYSQL_PASSWORD ?? '',
  database: `mlops_bench_predlog_${label}`,
};
const bucket = `mlops-bench-predlog-${label}`;
const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-bench-predlog-'));
const base = { DATA_API_DATASET_PATH: covertypePath, DATA_API_BATCH_INTERVAL_SECONDS: '1', DATA_API_SAMPLE_SIZE: '5000', TRAIN_WORKERS: '2' };
// The pipeline runs on a stack of its own, stopped before the measurement: the data API and training
// leave a large heap behind, which would tax (through GC) whichever side had run them.
const trainer = new EmbeddedStack({ mysql, bucket, s3Directory: path.join(work, 's3'), functionEnv: base, log });
const stacks = {
  on: new EmbeddedStack({ mysql, bucket, s3Directory: path.join(work, 's3'), functionEnv: { ...base, PREDICTION_LOG_SAMPLE_RATE: '1' }, log }),
  // The same database and S3 files: the same champion (the "off" side writes nothing there).
  off: new EmbeddedStack({ mysql, bucket, s3Directory: path.join(work, 's3'), functionEnv: { ...base, PREDICTION_LOG_SAMPLE_RATE: '0' } }),
};

try {
  await trainer.start();
  const run = await trainer.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: TREES, seed: 42 }, search: { trials: 1 } });
  if (run.status !== 'SUCCEEDED') throw new Error(`pipeline ${run.status}: ${run.error} ${run.cause}`);
  await trainer.stop();
  await stacks.on.start();
  await stacks.off.start();

  const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
  const all = await loadDatasetRows(spec, covertypePath);
  const names = spec.columns.map((c) => c.name);
  const rows = all
    .slice(-100)
    .map((r) => Object.fromEntries(names.slice(0, -1).map((n, i) => [n, spec.columns[i].type === 'categorical' ? r[i] : Number(r[i])])));
  const body = JSON.stringify({ rows: rows.slice(0, 1) });

  const scenarios: Record<string, unknown>[] = [];
  for (const c of CONCURRENCY) {
    const sides: Record<'on' | 'off', Round[]> = { on: [], off: [] };
    for (const side of ['on', 'off'] as const) await load(`${stacks[side].baseUrl}/predict`, body, c, 2, pidOf(stacks[side])); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first, so neither always runs on a warmer machine.
      for (const side of (r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as ('on' | 'off')[])
        sides[side].push(await load(`${stacks[side].baseUrl}/predict`, body, c, SECONDS, pidOf(stacks[side])));
    }
    const m = (side: 'on' | 'off', k: keyof Round) => median(sides[side].map((x) => x[k]));
    const s = {
      concurrency: c,
      seconds: SECONDS,
      rounds: ROUNDS,
      on: sides.on,
      off: sides.off,
      rps_on: m('on', 'rps'),
      rps_off: m('off', 'rps'),
      p99_on: m('on', 'p99_ms'),
      p99_off: m('off', 'p99_ms'),
      throughput_overhead_pct: Math.round((1 - m('on', 'rps') / m('off', 'rps')) * 1000) / 10,
      p99_overhead_ms: m('on', 'p99_ms') - m('off', 'p99_ms'),
      cpu_us_on: m('on', 'cpu_us_per_request'),
      cpu_us_off: m('off', 'cpu_us_per_request'),
      cpu_overhead_pct: Math.round((m('on', 'cpu_us_per_request') / m('off', 'cpu_us_per_request') - 1) * 1000) / 10,
      errors: sides.on.reduce((n, x) => n + x.errors, 0) + sides.off.reduce((n, x) => n + x.errors, 0),
    };
    scenarios.push(s);
    log(
      `c=${c}: on ${s.rps_on} rps (${spread(sides.on.map((x) => x.rps))}) p99 ${s.p99_on} ms | off ${s.rps_off} rps (${spread(sides.off.map((x) => x.rps))}) p99 ${s.p99_off} ms | overhead ${s.throughput_overhead_pct} % rps, ${s.p99_overhead_ms} ms p99 | CPU/request on ${s.cpu_us_on} µs (${spread(sides.on.map((x) => x.cpu_us_per_request))}) off ${s.cpu_us_off} µs (${spread(sides.off.map((x) => x.cpu_us_per_request))}): ${s.cpu_overhead_pct} %`,
    );
  }

  // Every answered request of the "on" side reached the log (after its flush interval).
  await new Promise((r) => setTimeout(r, 7000));
  const [[counts]] = (await stacks.on.pool!.query(
    'SELECT COALESCE(SUM(records), 0) AS n, COALESCE(SUM(dropped), 0) AS dropped FROM prediction_log_flushes',
  )) as unknown as [{ n: number; dropped: number }[]];
  log(`prediction log: ${counts.n} rows written, ${counts.dropped} dropped`);

  // In-process: the same predict, with and without logPrediction into a real log.
  const store = stacks.on.store!;
  const pool = stacks.on.pool!;
  const server = new ModelServer(pool, store, 2000);
  const predictionLog = new PredictionLog(new S3MysqlLogWriter(pool, store), {
    sampleRate: 1,
    bufferBytes: 8_000_000,
    flushBytes: 1_000_000,
    flushMs: 5000,
    background: true,
  });
  const records = [rows[0]];
  const window = async (logged: boolean, ms: number) => {
    const times: number[] = [];
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const t = performance.now();
      const result = await server.predict({ modelName: 'covertype' }, records);
      if (logged) logPrediction(predictionLog, predictionLog.requestId(), records, result, performance.now() - t);
      times.push(performance.now() - t);
      // Back to the event loop after each call, as a server does between requests: the log's
      // background flushes (JSON, S3, MySQL) run here and share the thread, so their cost is counted.
      await new Promise((r) => setImmediate(r));
    }
    times.sort((a, b) => a - b);
    return {
      calls_per_s: Math.round(times.length / ((performance.now() - end + ms) / 1000)),
      p50_us: Math.round(pct(times, 50) * 1000),
      p99_us: Math.round(pct(times, 99) * 1000),
    };
  };
  await window(true, 500);
  await window(false, 500);
  const inProcess: Record<'on' | 'off', { calls_per_s: number; p50_us: number; p99_us: number }[]> = { on: [], off: [] };
  for (let r = 0; r < 5; r++)
    for (const side of (r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as ('on' | 'off')[]) inProcess[side].push(await window(side === 'on', 2000));
  const stats = await predictionLog.close();
  const ip = {
    on: {
      calls_per_s: median(inProcess.on.map((x) => x.calls_per_s)),
      p99_us: median(inProcess.on.map((x) => x.p99_us)),
      p50_us: median(inProcess.on.map((x) => x.p50_us)),
    },
    off: {
      calls_per_s: median(inProcess.off.map((x) => x.calls_per_s)),
      p99_us: median(inProcess.off.map((x) => x.p99_us)),
      p50_us: median(inProcess.off.map((x) => x.p50_us)),
    },
    rounds: inProcess,
    log: stats,
  };
  log(
    `in-process: on ${ip.on.calls_per_s}/s (${spread(inProcess.on.map((x) => x.calls_per_s))}) p50 ${ip.on.p50_us} µs p99 ${ip.on.p99_us} µs | off ${ip.off.calls_per_s}/s (${spread(inProcess.off.map((x) => x.calls_per_s))}) p50 ${ip.off.p50_us} µs p99 ${ip.off.p99_us} µs; log wrote ${stats.written}, dropped ${stats.dropped}`,
  );

  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(repoRoot, 'bench/results/prediction-log.json'),
    `${JSON.stringify({ trees: TREES, http: scenarios, indexed: counts, inProcess: ip }, null, 2)}\n`,
  );
  log(
    '\n| concurrency | log on rps (spread) | log off rps (spread) | throughput overhead | p99 on / off ms | p99 overhead | CPU µs/request on / off | CPU overhead |',
  );
  log('|---|---|---|---|---|---|---|---|');
  for (const s of scenarios as {
    concurrency: number;
    on: Round[];
    off: Round[];
    rps_on: number;
    rps_off: number;
    throughput_overhead_pct: number;
    p99_on: number;
    p99_off: number;
    p99_overhead_ms: number;
    cpu_us_on: number;
    cpu_us_off: number;
    cpu_overhead_pct: number;
  }[]) {
    log(
      `| ${s.concurrency} | ${s.rps_on} (${spread(s.on.map((x) => x.rps))}) | ${s.rps_off} (${spread(s.off.map((x) => x.rps))}) | ${s.throughput_overhead_pct} % | ${s.p99_on} / ${s.p99_off} | ${s.p99_overhead_ms} ms | ${s.cpu_us_on} / ${s.cpu_us_off} | ${s.cpu_overhead_pct} % |`,
    );
  }
} finally {
  await trainer.stop();
  await stacks.off.stop();
  await stacks.on.stop();
  await dropDatabase(mysql).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
