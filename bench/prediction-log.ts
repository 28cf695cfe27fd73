// What the prediction log costs POST /predict: the same champion, the same request bodies, the same
// cores, with logging on (PREDICTION_LOG_SAMPLE_RATE=1, the default) and off (0).
//
// - HTTP: two serverless-offline processes of one embedded stack's database and bucket (one with the
//   log on, one off), the same warm-up each, then loaded in turn with autocannon for a fixed duration
//   per round; rounds alternate which side goes first and repeat; the tables show the median and
//   min–max of each side and their ratio. Each round also reads the serving process's CPU time
//   (/proc), which other load on a shared machine disturbs far less than throughput: CPU µs per
//   answered request, on against off. The machine's noise at this level is larger than the goal:
//   read the spreads before the medians.
// - In-process (bench/prediction-log-in-process.ts, a process of its own): ModelServer.predict plus
//   logPrediction into a real log (S3 + MySQL writer, background flushes) against ModelServer.predict
//   alone, alternating fixed-duration windows: calls/s, CPU per call, and the event loop's longest
//   stalls (a flush shares the serving thread).
//
// Writes bench/results/prediction-log.json (only this script does). Goal (issue 16): throughput
// overhead < 5 %, p99 overhead < 2 ms. bench:predict runs it after its own measurement.
//   npm run bench:predict-log [-- --seconds 8 --rounds 5 --concurrency 1,10,50 --trees 100 --in-process-seconds 3]
//   (--concurrency "" measures in-process only)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { loadConfig, mysqlSettings, repoRoot, resolveFromRepo } from '../src/config.ts';
import { loadDatasetRows } from '../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../src/dataset/spec.ts';
import type { PredictionLogStats } from '../src/monitoring/prediction-log.ts';
import { EmbeddedStack } from '../src/embedded/stack.ts';
import { dropDatabase } from '../src/storage/mysql.ts';
import type { Window as InProcessWindow } from './prediction-log-in-process.ts';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,10,50' },
    trees: { type: 'string', default: '100' },
    'in-process-seconds': { type: 'string', default: '3' },
  },
});
const SECONDS = Number(opts.seconds);
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = String(opts.concurrency).split(',').filter(Boolean).map(Number);
const IN_PROCESS_SECONDS = Number(opts['in-process-seconds']);
const IN_PROCESS_FIELDS = ['calls_per_s', 'cpu_us_per_call', 'p50_us', 'p99_us', 'stall_p999_ms', 'stall_max_ms'] as const;
const TREES = Number(opts.trees);
const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');
const log = (line: string) => console.log(line);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs: number[]) => `${Math.min(...xs)}–${Math.max(...xs)}`;

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
const pidOf = (stack: EmbeddedStack): number => stack.httpApiPid ?? 0;

const label = randomBytes(4).toString('hex');
const mysql = { ...mysqlSettings(loadConfig(process.env)), database: `mlops_bench_predlog_${label}` };
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
  if (scenarios.length > 0) await new Promise((r) => setTimeout(r, 7000));
  const [[counts]] = (await stacks.on.pool!.query(
    'SELECT COALESCE(SUM(records), 0) AS n, COALESCE(SUM(dropped), 0) AS dropped FROM prediction_log_flushes',
  )) as unknown as [{ n: number; dropped: number }[]];
  log(`prediction log: ${counts.n} rows written, ${counts.dropped} dropped`);

  // In-process: the same predict, with and without logPrediction into a real log, in a process of its
  // own (bench/prediction-log-in-process.ts) so that neither the S3 server nor this heap is measured.
  // Asynchronously: the S3 server the child writes to runs in this process.
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'bench/prediction-log-in-process.ts'),
      '--seconds',
      String(IN_PROCESS_SECONDS),
      '--rounds',
      String(ROUNDS),
      '--rows',
      JSON.stringify(rows.slice(0, 1)),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MYSQL_HOST: mysql.host,
        MYSQL_PORT: String(mysql.port),
        MYSQL_USER: mysql.user,
        MYSQL_PASSWORD: mysql.password,
        MYSQL_DATABASE: mysql.database,
        S3_BUCKET: bucket,
        S3_ENDPOINT: `http://127.0.0.1:${stacks.on.s3Port}`,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`in-process measurement failed (${code}): ${stderr}`);
  const measured = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    rounds: Record<'on' | 'off', InProcessWindow[]>;
    log: PredictionLogStats;
  };
  const inProcess = measured.rounds;
  const sideSummary = (side: 'on' | 'off') =>
    Object.fromEntries(
      IN_PROCESS_FIELDS.map((k) => [k, { median: median(inProcess[side].map((x) => x[k])), range: spread(inProcess[side].map((x) => x[k])) }]),
    );
  const ip = {
    seconds: IN_PROCESS_SECONDS,
    rounds: ROUNDS,
    on: sideSummary('on'),
    off: sideSummary('off'),
    calls_per_s_ratio: Math.round((median(inProcess.on.map((x) => x.calls_per_s)) / median(inProcess.off.map((x) => x.calls_per_s))) * 1000) / 1000,
    cpu_per_call_ratio: Math.round((median(inProcess.on.map((x) => x.cpu_us_per_call)) / median(inProcess.off.map((x) => x.cpu_us_per_call))) * 1000) / 1000,
    windows: inProcess,
    log: measured.log,
  };
  log(`\nin-process (ModelServer.predict ± logPrediction, ${ROUNDS} × ${IN_PROCESS_SECONDS} s per side, alternating; median [min–max]):`);
  log('| | log on | log off | on / off |');
  log('|---|---|---|---|');
  for (const k of IN_PROCESS_FIELDS) {
    const on = ip.on[k];
    const off = ip.off[k];
    log(`| ${k} | ${on.median} [${on.range}] | ${off.median} [${off.range}] | ${Math.round((on.median / off.median) * 1000) / 1000} |`);
  }
  log(`log: wrote ${measured.log.written}, dropped ${measured.log.dropped}, write errors ${measured.log.writeErrors}`);

  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(repoRoot, 'bench/results/prediction-log.json'),
    `${JSON.stringify({ trees: TREES, http: scenarios, indexed: counts, inProcess: ip }, null, 2)}\n`,
  );
  log(
    '\n| concurrency | log on rps (spread) | log off rps (spread) | throughput overhead | p99 on / off ms (spread) | p99 overhead | CPU µs/request on / off | CPU overhead |',
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
      `| ${s.concurrency} | ${s.rps_on} (${spread(s.on.map((x) => x.rps))}) | ${s.rps_off} (${spread(s.off.map((x) => x.rps))}) | ${s.throughput_overhead_pct} % | ${s.p99_on} [${spread(s.on.map((x) => x.p99_ms))}] / ${s.p99_off} [${spread(s.off.map((x) => x.p99_ms))}] | ${s.p99_overhead_ms} ms | ${s.cpu_us_on} / ${s.cpu_us_off} | ${s.cpu_overhead_pct} % |`,
    );
  }
} finally {
  await trainer.stop();
  await stacks.off.stop();
  await stacks.on.stop();
  await dropDatabase(mysql).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
