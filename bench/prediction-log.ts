// What the prediction log costs POST /predict: the same champion, the same request bodies, the same
// cores, with logging on (PREDICTION_LOG_SAMPLE_RATE=1, the default) and off (0).
//
// - HTTP: two embedded stacks on one database and bucket (one with the log on, one off), the same
//   warm-up each, then loaded in turn with autocannon (in a process of its own: this one runs the
//   stacks' S3 servers, whose work must not stall the load generator's event loop) for a fixed duration
//   per round; rounds alternate which side goes first and repeat; the tables show the median and
//   min–max of each side and their ratio. Each round also reads the CPU time (/proc), which other load
//   on a shared machine disturbs far less than throughput, per answered request, of every process
//   involved: the gateway serving the HTTP API (its containers, where the log is buffered and flushed),
//   this runner (the S3 emulator, s3rver, which receives the log's PUTs: a cost AWS S3 does not put on
//   the machine, shown apart but not taken out of the throughput), MariaDB (when local) and the load
//   generator; and the log's PUTs per second. The machine's noise at this level is larger than the
//   goal: read the spreads before the medians.
// - Alternating (bench/alternating-client.ts, a process of its own): 1, 10 and 50 clients, each sending
//   its requests to the stacks in turn, for a fixed duration cut into 1 s windows: every side sees the
//   same machine at the same moments, and 1 - (mean latency off / mean latency on) is the throughput
//   overhead (the figure the goal is judged by: the rounds above see different moments of the machine).
//   A third stack, log off too, takes its turn as well (the control): the same figure for it against
//   "off" is what this run reads with no difference at all. The runs repeat (--alternating-repeats, the
//   concurrencies in turn), and the goals are judged by the median over the repeats: at 50 clients p99 is
//   tens of ms and one run's p99 moves by several ms with no difference at all (the control's spread).
// - In-process (bench/prediction-log-in-process.ts, a process of its own): the handler's work per request
//   (ModelServer.predict, request id, answer JSON, logPrediction) into a real log (S3 + MySQL writer,
//   background flushes) that samples every request against one that samples none, alternating
//   fixed-duration windows: calls/s, CPU per call, and the event loop's longest stalls (a flush shares
//   the serving thread).
// - With --perf (bench/perf-profile.ts, Linux perf): each gateway's CPU per request during the alternating
//   runs, by function: the log's own code measured where it runs, cold between requests (in process it is
//   warm, and read 2-4x cheaper).
//
// Writes bench/results/prediction-log.json (only this script does; --a-a: prediction-log-a-a.json). Goal (issue 16): throughput
// overhead < 5 %, p99 overhead < 2 ms. bench:predict runs it after its own measurement.
//   npm run bench:predict-log [-- --seconds 8 --rounds 5 --concurrency 1,10,50 --trees 100 --in-process-seconds 0.3
//                                 --in-process-rounds 30
//                                 --rows-per-request 1 --alternating-concurrency 1,10,50 --alternating-seconds 30
//                                 --alternating-repeats 3 --a-a --perf]
//   (--concurrency "" measures in-process only; --help)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type autocannon from 'autocannon';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { loadConfig, mysqlEnvironment, mysqlSettings, repoRoot, resolveFromRepo, s3Environment } from '../src/config.ts';
import { loadDatasetRows } from '../src/dataset/layouts.ts';
import { readDatasetSpecFile } from '../src/dataset/spec.ts';
import type { PredictionLogStats } from '../src/monitoring/prediction-log.ts';
import { EmbeddedStack } from '../src/embedded/stack.ts';
import { dropDatabase } from '../src/storage/mysql.ts';
import { median, medianAndRange, runToEnd, spread } from './io.ts';
import { GOALS, summarizeAlternating, type AlternatingRun } from './alternating-summary.ts';
import type { AlternatingWindow } from './alternating-client.ts';
import type { Window as InProcessWindow } from './prediction-log-in-process.ts';
import { compareProfiles, PERF_NODE_OPTIONS, readProfiles, recordProcesses, removePerfMaps, requirePerf, type ProcessProfile } from './perf-profile.ts';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1,10,50' },
    trees: { type: 'string', default: '100' },
    // Short windows, many rounds: on a shared machine the same side's CPU per call moved by half from one
    // 3 s window to the next; 0.3 s windows paired over 30+ rounds held the difference to ~1–2 µs.
    'in-process-seconds': { type: 'string', default: '0.3' },
    'in-process-rounds': { type: 'string', default: '30' },
    'rows-per-request': { type: 'string', default: '1' },
    // Clients alternating their requests between the two stacks (bench/alternating-client.ts).
    'alternating-concurrency': { type: 'string', default: '1,10,50' },
    'alternating-seconds': { type: 'string', default: '30' },
    'alternating-repeats': { type: 'string', default: '3' },
    // Both stacks with the log off: an A/A comparison, the size of the machine's noise in the same figures.
    'a-a': { type: 'boolean', default: false },
    // Linux perf samples of each gateway's threads during the alternating runs (bench/perf-profile.ts).
    perf: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(
    'Usage: npm run bench:predict-log [-- --seconds 8 --rounds 5 --concurrency 1,10,50 --trees 100 --in-process-seconds 0.3 --in-process-rounds 30 --rows-per-request 1]\n' +
      '  --seconds             length of each measured round (per side)\n' +
      '  --rounds              rounds per side and concurrency (alternating which side goes first)\n' +
      '  --concurrency         client connections, comma-separated ("" measures in-process only)\n' +
      '  --trees               trees of the champion the pipeline trains first (full depth)\n' +
      '  --in-process-seconds  length of each in-process window\n' +
      '  --in-process-rounds   in-process windows per side (alternating which side goes first)\n' +
      '  --rows-per-request    rows in each request body (1–100; the requests cycle through 5,000 held-back rows of the file)\n' +
      '  --alternating-concurrency  clients alternating their requests between the two stacks, comma-separated ("": none)\n' +
      '  --alternating-seconds length of each alternating run (1 s windows)\n' +
      '  --alternating-repeats alternating runs per concurrency (the concurrencies in turn); the goals are judged by their median\n' +
      '  --a-a                 the "on" stack logs nothing either (an A/A run: what the figures show with no difference)\n' +
      '  --perf                profile each gateway with Linux perf during the alternating runs: CPU per request by\n' +
      '                        thread, and in the functions only the log-on side runs (needs linux-perf)\n' +
      'Writes bench/results/prediction-log.json.',
  );
  process.exit(0);
}
const SECONDS = Number(opts.seconds);
const ROUNDS = Number(opts.rounds);
const CONCURRENCY = String(opts.concurrency).split(',').filter(Boolean).map(Number);
const IN_PROCESS_SECONDS = Number(opts['in-process-seconds']);
const IN_PROCESS_ROUNDS = Number(opts['in-process-rounds']);
const ROWS_PER_REQUEST = Number(opts['rows-per-request']);
const ALTERNATING_CONCURRENCY = String(opts['alternating-concurrency']).split(',').filter(Boolean).map(Number);
const ALTERNATING_SECONDS = Number(opts['alternating-seconds']);
const ALTERNATING_REPEATS = Number(opts['alternating-repeats']);
if (!Number.isInteger(ALTERNATING_REPEATS) || ALTERNATING_REPEATS < 1) throw new Error('--alternating-repeats must be a positive integer');
const A_A = opts['a-a'] === true;
const PERF = opts.perf === true;
if (PERF) requirePerf();
/** Held-back rows the requests cycle through. */
const DISTINCT_ROWS = 5000;
if (!Number.isInteger(ROWS_PER_REQUEST) || ROWS_PER_REQUEST < 1 || ROWS_PER_REQUEST > 100)
  throw new Error('--rows-per-request must be an integer from 1 to 100');
const IN_PROCESS_FIELDS = ['calls_per_s', 'cpu_us_per_call', 'p50_us', 'p99_us', 'stall_p999_ms', 'stall_max_ms'] as const;
const TREES = Number(opts.trees);
const covertypePath = process.env.COVERTYPE_PATH ?? path.resolve(repoRoot, '../shared/data/covertype/covertype.csv.gz');
const log = (line: string) => console.log(line);

interface Round {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  /** CPU µs per answered request: the gateway (the HTTP API and its containers). */
  cpu_us_per_request: number;
  /**
   * … the gateway's threads: its main thread (HTTP, events, messages), then its other threads busiest
   * first — the two containers (worker threads) are normally the first two, then V8's and libuv's helpers.
   * Shows whether requests landed evenly on the containers.
   */
  gateway_threads_us: { main: number; others: number[] };
  /** … every server-side process of the route: the gateway, the S3 emulator and MariaDB (not the load generator). */
  route_cpu_us_per_request: number;
  /** … this runner: the S3 emulator (s3rver) the log's PUTs go to. */
  s3_cpu_us_per_request: number;
  /** … MariaDB (null: not a local process). */
  db_cpu_us_per_request: number | null;
  /** … the load generator. */
  client_cpu_us_per_request: number;
  /** The log's PUTs (rows of prediction_log_flushes) per second. */
  puts_per_s: number;
}

/** CPU time (user + system) a process or thread has used, in µs (Linux /proc; clock ticks of 10 ms). */
async function cpuMicros(pid: number, tid?: number): Promise<number> {
  const fields = (await readFile(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** CPU µs of each thread of a process (a thread that ended in between is missing). */
async function threadMicros(pid: number): Promise<Map<number, number>> {
  const tids = (await readdir(`/proc/${pid}/task`)).map(Number);
  const times = await Promise.all(tids.map((tid) => cpuMicros(pid, tid).catch(() => null)));
  return new Map(tids.flatMap((tid, i) => (times[i] === null ? [] : [[tid, times[i] as number]])));
}

/** The local MySQL server's process, when there is one to read. */
function localDatabasePid(): number | null {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      return Number(execFileSync('pgrep', ['-o', '-x', name], { encoding: 'utf8' }).trim()) || null;
    } catch {
      // not running under this name
    }
  }
  return null;
}

/**
 * The overhead of the log in each round's pair of back-to-back runs (on against off), in %: the median
 * and min–max over the rounds. `lower` for a figure where less is worse (throughput).
 */
function paired(sides: Record<'on' | 'off', Round[]>, figure: (r: Round) => number, lower = false): { median: number; range: string } {
  const pct = sides.on.map((on, i) => {
    const ratio = figure(on) / figure(sides.off[i]);
    return Math.round((lower ? 1 - ratio : ratio - 1) * 1000) / 10;
  });
  return medianAndRange(pct, 1);
}

/** Runs a bench script in a process of its own and reads the JSON line it ends its output with. */
async function childJson<T>(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const { status, stdout, stderr } = await runToEnd(process.execPath, [path.join(repoRoot, script), ...args], { env });
  if (status !== 0) throw new Error(`${script} failed (${status}): ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as T;
}

/** autocannon in a process of its own (bench/autocannon-process.ts): its result and its CPU time. */
const autocannonProcess = async (options: autocannon.Options & { bodies?: string[] }) => {
  const file = path.join(work, 'autocannon-options.json');
  await writeFile(file, JSON.stringify(options));
  return childJson<{ result: autocannon.Result; cpu_us: number }>('bench/autocannon-process.ts', [`@${file}`]);
};

/** Rows of prediction_log_flushes: one per PUT of the log. */
async function flushes(stack: EmbeddedStack): Promise<number> {
  const [[row]] = (await stack.pool!.query('SELECT COUNT(*) AS n FROM prediction_log_flushes')) as unknown as [{ n: number }[]];
  return Number(row.n);
}

/**
 * One fixed-duration round against one side. Besides throughput and latency (which the other
 * processes on a shared machine disturb), the CPU time per answered request of each process involved.
 */
async function load(stack: EmbeddedStack, bodies: string[], connections: number, seconds: number): Promise<Round> {
  const gateway = stack.httpApiPid ?? 0;
  const [cpu0, threads0, db0, puts0] = await Promise.all([cpuMicros(gateway), threadMicros(gateway), database ? cpuMicros(database) : 0, flushes(stack)]);
  const runner0 = process.cpuUsage();
  const started = performance.now();
  const { result: r, cpu_us: client } = await autocannonProcess({
    url: `${stack.baseUrl}/predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    bodies,
    connections,
    duration: seconds,
    timeout: 20,
  });
  const elapsed = (performance.now() - started) / 1000;
  const runner = process.cpuUsage(runner0);
  const [cpu1, threads1, db1, puts1] = await Promise.all([cpuMicros(gateway), threadMicros(gateway), database ? cpuMicros(database) : 0, flushes(stack)]);
  const per = (us: number) => Math.round(us / Math.max(1, r['2xx']));
  const threadUse = [...threads1].map(([tid, us]) => [tid, us - (threads0.get(tid) ?? 0)] as const);
  const others = threadUse
    .filter(([tid]) => tid !== gateway)
    .map(([, us]) => per(us))
    .filter((us) => us > 0)
    .sort((a, b) => b - a);
  return {
    rps: Math.round(r.requests.average * 10) / 10,
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    cpu_us_per_request: per(cpu1 - cpu0),
    gateway_threads_us: { main: per(threadUse.find(([tid]) => tid === gateway)?.[1] ?? 0), others },
    route_cpu_us_per_request: per(cpu1 - cpu0 + runner.user + runner.system + (db1 - db0)),
    s3_cpu_us_per_request: per(runner.user + runner.system),
    db_cpu_us_per_request: database ? per(db1 - db0) : null,
    client_cpu_us_per_request: per(client),
    puts_per_s: Math.round(((puts1 - puts0) / elapsed) * 100) / 100,
  };
}

/** The log's objects: how many, their bytes. */
async function loggedObjects(stack: EmbeddedStack): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const page: ListObjectsV2CommandOutput = await stack.store!.client.send(
      new ListObjectsV2Command({ Bucket: stack.store!.bucket, Prefix: 'predictions/', ...(token ? { ContinuationToken: token } : {}) }),
    );
    for (const o of page.Contents ?? []) {
      objects++;
      bytes += o.Size ?? 0;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { objects, bytes };
}

const database = localDatabasePid();

const label = randomBytes(4).toString('hex');
const mysql = { ...mysqlSettings(loadConfig(process.env)), database: `mlops_bench_predlog_${label}` };
const bucket = `mlops-bench-predlog-${label}`;
const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-bench-predlog-'));
const base = { DATA_API_DATASET_PATH: covertypePath, DATA_API_BATCH_INTERVAL_SECONDS: '1', DATA_API_SAMPLE_SIZE: '5000', TRAIN_WORKERS: '2' };
// The pipeline runs on a stack of its own, stopped before the measurement: the data API and training
// leave a large heap behind, which would tax (through GC) whichever side had run them.
const trainer = new EmbeddedStack({ mysql, bucket, s3Directory: path.join(work, 's3'), functionEnv: base, log });
// All three alike, profiled or not.
const httpNodeOptions = PERF ? PERF_NODE_OPTIONS : [];
const stacks = {
  on: new EmbeddedStack({
    mysql,
    bucket,
    s3Directory: path.join(work, 's3'),
    functionEnv: { ...base, PREDICTION_LOG_SAMPLE_RATE: A_A ? '0' : '1' },
    httpNodeOptions,
    log,
  }),
  // The same database and S3 files: the same champion (the "off" side writes nothing there).
  off: new EmbeddedStack({ mysql, bucket, s3Directory: path.join(work, 's3'), functionEnv: { ...base, PREDICTION_LOG_SAMPLE_RATE: '0' }, httpNodeOptions }),
  // A second log-off stack, loaded with the others by the alternating clients: "off" against it, at the
  // same moments, is what the figure reads with no difference at all (this run's noise).
  control: new EmbeddedStack({ mysql, bucket, s3Directory: path.join(work, 's3'), functionEnv: { ...base, PREDICTION_LOG_SAMPLE_RATE: '0' }, httpNodeOptions }),
};
type Side = keyof typeof stacks;

try {
  await trainer.start();
  const run = await trainer.runPipeline({ batches: 1, intervalSeconds: 1, train: { nEstimators: TREES, seed: 42 }, search: { trials: 1 } });
  if (run.status !== 'SUCCEEDED') throw new Error(`pipeline ${run.status}: ${run.error} ${run.cause}`);
  await trainer.stop();
  await stacks.on.start();
  await stacks.off.start();
  if (ALTERNATING_CONCURRENCY.length > 0) await stacks.control.start();

  const spec = await readDatasetSpecFile(resolveFromRepo('datasets/covertype.spec.json'));
  const all = await loadDatasetRows(spec, covertypePath);
  const names = spec.columns.map((c) => c.name);
  // Distinct rows, as real traffic sends (the same body over and over would flatter the log: its objects
  // would compress ~70x instead of ~10x): the file's last DISTINCT_ROWS rows, held back from the
  // training batch, cut into bodies of ROWS_PER_REQUEST rows that every client cycles through.
  const rows = all
    .slice(-DISTINCT_ROWS)
    .map((r) => Object.fromEntries(names.slice(0, -1).map((n, i) => [n, spec.columns[i].type === 'categorical' ? r[i] : Number(r[i])])));
  const bodies = Array.from({ length: Math.floor(rows.length / ROWS_PER_REQUEST) }, (_, b) =>
    JSON.stringify({ rows: rows.slice(b * ROWS_PER_REQUEST, (b + 1) * ROWS_PER_REQUEST) }),
  );
  const rowsFile = path.join(work, 'rows.json');
  await writeFile(rowsFile, JSON.stringify(rows));

  const scenarios: Record<string, unknown>[] = [];
  for (const c of CONCURRENCY) {
    const sides: Record<'on' | 'off', Round[]> = { on: [], off: [] };
    for (const side of ['on', 'off'] as const) await load(stacks[side], bodies, c, 2); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which side goes first, so neither always runs on a warmer machine.
      for (const side of (r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as ('on' | 'off')[]) sides[side].push(await load(stacks[side], bodies, c, SECONDS));
    }
    const m = (side: 'on' | 'off', k: keyof Round) => Math.round(median(sides[side].map((x) => Number(x[k]))) * 100) / 100;
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
      route_cpu_us_on: m('on', 'route_cpu_us_per_request'),
      route_cpu_us_off: m('off', 'route_cpu_us_per_request'),
      // Round r's two sides ran back to back: their ratio is the least disturbed by whatever else the
      // machine was doing then (the figure the goal is judged by; the medians above mix rounds).
      paired_route_cpu_overhead_pct: paired(sides, (x) => x.route_cpu_us_per_request),
      paired_throughput_overhead_pct: paired(sides, (x) => x.rps, true),
      s3_cpu_us_on: m('on', 's3_cpu_us_per_request'),
      s3_cpu_us_off: m('off', 's3_cpu_us_per_request'),
      db_cpu_us_on: database ? m('on', 'db_cpu_us_per_request') : null,
      db_cpu_us_off: database ? m('off', 'db_cpu_us_per_request') : null,
      client_cpu_us_on: m('on', 'client_cpu_us_per_request'),
      client_cpu_us_off: m('off', 'client_cpu_us_per_request'),
      puts_per_s_on: m('on', 'puts_per_s'),
      errors: sides.on.reduce((n, x) => n + x.errors, 0) + sides.off.reduce((n, x) => n + x.errors, 0),
    };
    scenarios.push(s);
    log(
      `c=${c}: on ${s.rps_on} rps (${spread(sides.on.map((x) => x.rps))}) p99 ${s.p99_on} ms | off ${s.rps_off} rps (${spread(sides.off.map((x) => x.rps))}) p99 ${s.p99_off} ms | overhead ${s.throughput_overhead_pct} % rps, ${s.p99_overhead_ms} ms p99 | gateway CPU/request on ${s.cpu_us_on} µs (${spread(sides.on.map((x) => x.cpu_us_per_request))}) off ${s.cpu_us_off} µs (${spread(sides.off.map((x) => x.cpu_us_per_request))}): ${s.cpu_overhead_pct} % | S3 emulator ${s.s3_cpu_us_on} / ${s.s3_cpu_us_off} µs, MariaDB ${s.db_cpu_us_on ?? '-'} / ${s.db_cpu_us_off ?? '-'} µs, load generator ${s.client_cpu_us_on} / ${s.client_cpu_us_off} µs | ${s.puts_per_s_on} PUTs/s`,
    );
    log(
      `  route CPU/request (gateway + S3 emulator + MariaDB) on ${s.route_cpu_us_on} off ${s.route_cpu_us_off} µs; paired rounds: CPU overhead ${s.paired_route_cpu_overhead_pct.median} % [${s.paired_route_cpu_overhead_pct.range}], throughput overhead ${s.paired_throughput_overhead_pct.median} % [${s.paired_throughput_overhead_pct.range}]`,
    );
    for (const side of ['on', 'off'] as const)
      log(
        `  gateway threads ${side}, µs/request per round (main | others, busiest first): ${sides[side].map((x) => `${x.gateway_threads_us.main} | ${x.gateway_threads_us.others.slice(0, 4).join(' ')}`).join('; ')}`,
      );
  }

  // Clients whose requests alternate between the sides: see bench/alternating-client.ts.
  const alternating: AlternatingRun[] = [];
  const alternatingSides = Object.keys(stacks) as Side[];
  // The same warm-up for every side (the control has not served the rounds above: cold, it read 12 %
  // slower than "off" at one client).
  if (ALTERNATING_CONCURRENCY.length > 0) for (const side of alternatingSides) await load(stacks[side], bodies, Math.max(...ALTERNATING_CONCURRENCY), 3);
  const alternatingRuns = Array.from({ length: ALTERNATING_REPEATS }, (_, r) => ALTERNATING_CONCURRENCY.map((c) => ({ repeat: r + 1, c }))).flat();
  for (const { repeat, c } of alternatingRuns) {
    const file = path.join(work, 'alternating-options.json');
    await writeFile(
      file,
      JSON.stringify({
        urls: Object.fromEntries(alternatingSides.map((side) => [side, `${stacks[side].baseUrl}/predict`])),
        bodies,
        connections: c,
        seconds: ALTERNATING_SECONDS,
        windowSeconds: 1,
      }),
    );
    // Each side's gateway CPU over the same seconds: per answered request, by thread.
    const gateways = Object.fromEntries(alternatingSides.map((side) => [side, stacks[side].httpApiPid ?? 0])) as Record<Side, number>;
    const threadsBySide = async () =>
      Object.fromEntries(await Promise.all(alternatingSides.map(async (side) => [side, await threadMicros(gateways[side])] as const)));
    const before = await threadsBySide();
    const perfFile = path.join(work, `perf-${c}-${repeat}.data`);
    const recording = PERF ? recordProcesses(Object.values(gateways), perfFile) : undefined;
    const a = await childJson<{ windows: (AlternatingWindow | null)[]; p50_ms: Record<Side, number>; p99_ms: Record<Side, number> }>(
      'bench/alternating-client.ts',
      [`@${file}`],
    );
    const after = await threadsBySide();
    await recording?.stop();
    const answered = (side: Side) => a.windows.reduce((n, w) => n + (w ? w[side].requests : 0), 0);
    const profiled = recording
      ? await readProfiles(perfFile, Object.values(gateways)).then((byPid) =>
          compareProfiles(
            Object.fromEntries(alternatingSides.map((side) => [side, byPid.get(gateways[side])!])) as Record<Side, ProcessProfile>,
            Object.fromEntries(alternatingSides.map((side) => [side, answered(side)])) as Record<Side, number>,
          ),
        )
      : undefined;
    const gatewayCpu = (side: Side) => {
      const use = [...after[side]].map(([tid, us]) => [tid, (us - (before[side].get(tid) ?? 0)) / answered(side)] as const);
      const main = use.find(([tid]) => tid === gateways[side])?.[1] ?? 0;
      const others = use.filter(([tid]) => tid !== gateways[side]).map(([, us]) => us);
      return {
        total: Math.round(main + others.reduce((x, y) => x + y, 0)),
        main: Math.round(main),
        others: others
          .sort((x, y) => y - x)
          .slice(0, 4)
          .map(Math.round),
      };
    };
    const cpu = Object.fromEntries(alternatingSides.map((side) => [side, gatewayCpu(side)])) as Record<Side, ReturnType<typeof gatewayCpu>>;
    /** 1 − mean latency of `base` / mean latency of `side`, in %: what `side` costs more than `base`. */
    const overhead = (w: AlternatingWindow, side: Side, base: Side = 'off') =>
      Math.round((1 - w[base].ms / w[base].requests / (w[side].ms / w[side].requests)) * 1000) / 10;
    const full = a.windows.filter((w): w is AlternatingWindow => w !== null && alternatingSides.every((side) => w[side].requests > 0));
    const total = Object.fromEntries(
      alternatingSides.map((side) => [side, { requests: full.reduce((n, w) => n + w[side].requests, 0), ms: full.reduce((n, w) => n + w[side].ms, 0) }]),
    ) as AlternatingWindow;
    const byWindow = (side: Side) =>
      medianAndRange(
        full.map((w) => overhead(w, side)),
        1,
      );
    const meanMs = (side: Side) => Math.round((total[side].ms / total[side].requests) * 1000) / 1000;
    const p99Overhead = (side: Side) => Math.round((a.p99_ms[side] - a.p99_ms.off) * 1000) / 1000;
    const row = {
      concurrency: c,
      repeat,
      seconds: ALTERNATING_SECONDS,
      window_seconds: 1,
      requests: Object.fromEntries(alternatingSides.map((side) => [side, total[side].requests])),
      mean_latency_ms: Object.fromEntries(alternatingSides.map((side) => [side, meanMs(side)])),
      throughput_overhead_pct: overhead(total, 'on'),
      throughput_overhead_pct_by_window: byWindow('on'),
      p50_ms: a.p50_ms,
      p99_ms: a.p99_ms,
      p99_overhead_ms: p99Overhead('on'),
      // The control stack logs nothing either: the same figures read with no difference, at the same moments.
      control_throughput_overhead_pct: overhead(total, 'control'),
      control_throughput_overhead_pct_by_window: byWindow('control'),
      control_p99_overhead_ms: p99Overhead('control'),
      gateway_cpu_us_per_request: cpu,
      gateway_cpu_us_on_minus_off: cpu.on.total - cpu.off.total,
      ...(profiled ? { perf: profiled } : {}),
      windows: full,
    };
    alternating.push(row);
    const threads = (side: Side) => `${cpu[side].total} (main ${cpu[side].main} | ${cpu[side].others.join(' ')})`;
    log(
      `alternating, ${c} client(s), run ${repeat}/${ALTERNATING_REPEATS}, ${ALTERNATING_SECONDS} s: ${total.on.requests} / ${total.off.requests} / ${total.control.requests} requests, mean latency on ${meanMs('on')} off ${meanMs('off')} control ${meanMs('control')} ms: throughput overhead ${row.throughput_overhead_pct} % (per 1 s window: median ${row.throughput_overhead_pct_by_window.median} % [${row.throughput_overhead_pct_by_window.range}]), control ${row.control_throughput_overhead_pct} % (${row.control_throughput_overhead_pct_by_window.median} % [${row.control_throughput_overhead_pct_by_window.range}]); p99 on ${a.p99_ms.on} off ${a.p99_ms.off} control ${a.p99_ms.control} ms; gateway CPU µs/request on ${threads('on')} off ${threads('off')} control ${threads('control')}`,
    );
    if (profiled) {
      const all = profiled.cpu_us_per_request;
      log(
        `  perf, µs of CPU per request (all gateway threads): on ${all.on.all} off ${all.off.all} control ${all.control.all}; in functions only that side ran: on ${profiled.only_us_per_request.on}, control ${profiled.only_us_per_request.control} (chance alone); the log-on side's: ${profiled.only_on_top.map((t) => `${t.symbol.replace(/ file:\/\/\/.*\//, ' ')} ${t.us_per_request}`).join(', ')}`,
      );
    }
  }

  const alternatingSummary = summarizeAlternating(alternating);
  if (alternatingSummary.length > 0) {
    log(
      `\nalternating, median [min–max] over ${ALTERNATING_REPEATS} run(s) per concurrency (goals: throughput overhead < ${GOALS.throughput_overhead_pct} %, p99 overhead < ${GOALS.p99_overhead_ms} ms):`,
    );
    log('| clients | runs | throughput overhead | control | p99 overhead, ms | control | gateway CPU on − off, µs/request | goals |');
    log('|---|---|---|---|---|---|---|---|');
    const cell = (f: { median: number; range: string }) => `${f.median} [${f.range}]`;
    for (const x of alternatingSummary)
      log(
        `| ${x.concurrency} | ${x.runs} | ${cell(x.throughput_overhead_pct)} % | ${cell(x.control_throughput_overhead_pct)} % | ${cell(x.p99_overhead_ms)} | ${cell(x.control_p99_overhead_ms)} | ${cell(x.gateway_cpu_us_on_minus_off)} | throughput ${x.meets.throughput ? 'met' : 'missed'}, p99 ${x.meets.p99 ? 'met' : 'missed'} |`,
      );
  }

  // Every answered request of the "on" side reached the log (after its flush interval).
  if (scenarios.length > 0 || alternating.length > 0) await new Promise((r) => setTimeout(r, 7000));
  const [[counts]] = (await stacks.on.pool!.query(
    'SELECT COALESCE(SUM(records), 0) AS n, COALESCE(SUM(dropped), 0) AS dropped FROM prediction_log_flushes',
  )) as unknown as [{ n: number; dropped: number }[]];
  const objects = await loggedObjects(stacks.on);
  const bytesPerRecord = Math.round(objects.bytes / Math.max(1, Number(counts.n)));
  log(
    `prediction log: ${counts.n} rows written, ${counts.dropped} dropped, in ${objects.objects} objects (${Math.round(objects.bytes / Math.max(1, objects.objects) / 1000)} kB each, ${bytesPerRecord} B per row)`,
  );

  // In-process: the same predict, with and without logPrediction into a real log, in a process of its
  // own (bench/prediction-log-in-process.ts) so that neither the S3 server nor this heap is measured.
  // Asynchronously: the S3 server the child writes to runs in this process.
  // This process meanwhile only runs the S3 emulator the child's log writes to.
  const emulator0 = process.cpuUsage();
  const measured = await childJson<{ rounds: Record<'on' | 'off', InProcessWindow[]>; log: PredictionLogStats }>(
    'bench/prediction-log-in-process.ts',
    ['--seconds', String(IN_PROCESS_SECONDS), '--rounds', String(IN_PROCESS_ROUNDS), '--rows-file', rowsFile, '--rows-per-request', String(ROWS_PER_REQUEST)],
    { ...process.env, ...mysqlEnvironment(mysql), ...s3Environment(stacks.on.store!.settings) },
  );
  const emulator = process.cpuUsage(emulator0);
  const inProcess = measured.rounds;
  const sideSummary = (side: 'on' | 'off') =>
    Object.fromEntries(
      IN_PROCESS_FIELDS.map((k) => [
        k,
        medianAndRange(
          inProcess[side].map((x) => x[k]),
          3,
        ),
      ]),
    );
  const ip = {
    seconds: IN_PROCESS_SECONDS,
    rounds: IN_PROCESS_ROUNDS,
    on: sideSummary('on'),
    off: sideSummary('off'),
    calls_per_s_ratio: Math.round((median(inProcess.on.map((x) => x.calls_per_s)) / median(inProcess.off.map((x) => x.calls_per_s))) * 1000) / 1000,
    cpu_per_call_ratio: Math.round((median(inProcess.on.map((x) => x.cpu_us_per_call)) / median(inProcess.off.map((x) => x.cpu_us_per_call))) * 1000) / 1000,
    /**
     * The log's CPU per call, on − off of each round's two windows (back to back): median and min–max over
     * the rounds, the figure least moved by the machine's other work.
     */
    paired_cpu_us_per_call: (() => {
      const d = inProcess.on.map((w, i) => Math.round((w.cpu_us_per_call - inProcess.off[i].cpu_us_per_call) * 100) / 100);
      return medianAndRange(d, 2);
    })(),
    windows: inProcess,
    log: measured.log,
    /** The S3 emulator's CPU (this process, while the child ran) per row the child's log wrote. */
    s3_cpu_us_per_logged_row: Math.round(((emulator.user + emulator.system) / Math.max(1, measured.log.written)) * 10) / 10,
  };
  log(`\nin-process (the handler's work, log sampling all / none, ${IN_PROCESS_ROUNDS} × ${IN_PROCESS_SECONDS} s per side, alternating; median [min–max]):`);
  log('| | log on | log off | on / off |');
  log('|---|---|---|---|');
  for (const k of IN_PROCESS_FIELDS) {
    const on = ip.on[k];
    const off = ip.off[k];
    log(`| ${k} | ${on.median} [${on.range}] | ${off.median} [${off.range}] | ${Math.round((on.median / off.median) * 1000) / 1000} |`);
  }
  log(`paired rounds: the log's CPU per call (on − off) ${ip.paired_cpu_us_per_call.median} µs [${ip.paired_cpu_us_per_call.range}]`);
  log(
    `log: wrote ${measured.log.written}, dropped ${measured.log.dropped}, write errors ${measured.log.writeErrors}; the S3 emulator's CPU meanwhile: ${ip.s3_cpu_us_per_logged_row} µs per row written`,
  );

  await mkdir(path.join(repoRoot, 'bench/results'), { recursive: true });
  await writeFile(
    // An A/A run is not the log's measurement: it does not replace it.
    path.join(repoRoot, A_A ? 'bench/results/prediction-log-a-a.json' : 'bench/results/prediction-log.json'),
    `${JSON.stringify({ trees: TREES, rows_per_request: ROWS_PER_REQUEST, a_a: A_A, http: scenarios, alternating_summary: alternatingSummary, alternating, indexed: { ...counts, ...objects, bytes_per_record: bytesPerRecord }, inProcess: ip }, null, 2)}\n`,
  );
  log(
    '\n| concurrency | log on rps (spread) | log off rps (spread) | throughput overhead | paired: throughput overhead [spread] | p99 on / off ms (spread) | p99 overhead | gateway CPU µs/request on / off | route CPU µs/request on / off | paired: route CPU overhead [spread] | S3 emulator CPU µs/request on / off | MariaDB on / off | load generator on / off | log PUTs/s |',
  );
  log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
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
    route_cpu_us_on: number;
    route_cpu_us_off: number;
    paired_route_cpu_overhead_pct: { median: number; range: string };
    paired_throughput_overhead_pct: { median: number; range: string };
    s3_cpu_us_on: number;
    s3_cpu_us_off: number;
    db_cpu_us_on: number | null;
    db_cpu_us_off: number | null;
    client_cpu_us_on: number;
    client_cpu_us_off: number;
    puts_per_s_on: number;
  }[]) {
    log(
      `| ${s.concurrency} | ${s.rps_on} (${spread(s.on.map((x) => x.rps))}) | ${s.rps_off} (${spread(s.off.map((x) => x.rps))}) | ${s.throughput_overhead_pct} % | ${s.paired_throughput_overhead_pct.median} % [${s.paired_throughput_overhead_pct.range}] | ${s.p99_on} [${spread(s.on.map((x) => x.p99_ms))}] / ${s.p99_off} [${spread(s.off.map((x) => x.p99_ms))}] | ${s.p99_overhead_ms} ms | ${s.cpu_us_on} / ${s.cpu_us_off} | ${s.route_cpu_us_on} / ${s.route_cpu_us_off} | ${s.paired_route_cpu_overhead_pct.median} % [${s.paired_route_cpu_overhead_pct.range}] | ${s.s3_cpu_us_on} / ${s.s3_cpu_us_off} | ${s.db_cpu_us_on ?? '-'} / ${s.db_cpu_us_off ?? '-'} | ${s.client_cpu_us_on} / ${s.client_cpu_us_off} | ${s.puts_per_s_on} |`,
    );
  }
} finally {
  const gatewayPids = Object.values(stacks).map((stack) => stack.httpApiPid ?? 0);
  await trainer.stop();
  await stacks.control.stop();
  await stacks.off.stop();
  await stacks.on.stop();
  if (PERF) await removePerfMaps(gatewayPids);
  await dropDatabase(mysql).catch(() => undefined);
  await rm(work, { recursive: true, force: true });
}
