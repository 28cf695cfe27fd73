// The in-process half of bench/prediction-log.ts, in a process of its own: what the predict handler
// (functions/predict.ts) does per request after validating the body — ModelServer.predict, a request id,
// the answer's JSON (answerJson), logPrediction with the answer's prediction JSON and the body's text —
// into a log that samples every request (S3 + MySQL writer, background flushes) or none (rate 0: what
// the handler does with the log off), in alternating fixed-duration windows. Both sides do the same non-log work, so the
// difference is the log's. (Until 2026-12-02 the off side left out the request id and the answer, and
// the on side wrote the probabilities anew: ~+16 µs per one-row call against the handler's ~+6.) Its own process so that the S3 server (s3rver, in
// the parent) and the parent's heap (the dataset, the stacks) are not measured with it: what is left
// is what a serving process pays for its log.
//
// Besides calls/s and latency, per window: CPU time per call (this process, GC threads included; far
// less disturbed than throughput by other load on a shared machine) and the longest stalls of the
// event loop (a flush runs on the serving thread: this is what it can make a request wait).
//
// Reads the stack it measures from the environment (MYSQL_*, S3_*), prints one JSON line:
//   node bench/prediction-log-in-process.ts --seconds 3 --rounds 5 --model covertype --rows-file rows.json --rows-per-request 1
// (the calls cycle through the file's rows, ROWS_PER_REQUEST at a time)
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { S3MysqlLogWriter } from '../src/monitoring/log-writer.ts';
import { PredictionLog } from '../src/monitoring/prediction-log.ts';
import { answerJson, logPrediction } from '../src/monitoring/records.ts';
import { ModelServer } from '../src/serving/model-server.ts';
import { createPool } from '../src/storage/mysql.ts';
import { ArtifactStore } from '../src/storage/s3.ts';
import { loadConfig, mysqlSettings, s3Settings } from '../src/config.ts';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    model: { type: 'string', default: 'covertype' },
    'rows-file': { type: 'string' },
    'rows-per-request': { type: 'string', default: '1' },
  },
});
const config = loadConfig(process.env);
const pool = createPool(mysqlSettings(config));
const store = new ArtifactStore(s3Settings(config));
const server = new ModelServer(pool, store, 2000);
// The deployed settings (src/config.ts's defaults unless the environment says otherwise); the off side's
// log samples nothing, as PREDICTION_LOG_SAMPLE_RATE=0 makes the handler's.
const logs = Object.fromEntries(
  (['on', 'off'] as const).map((side) => [
    side,
    new PredictionLog(new S3MysqlLogWriter(pool, store), {
      sampleRate: side === 'on' ? 1 : 0,
      bufferBytes: config.PREDICTION_LOG_BUFFER_BYTES,
      flushBytes: config.PREDICTION_LOG_FLUSH_BYTES,
      flushMs: config.PREDICTION_LOG_FLUSH_MS,
      background: true,
    }),
  ]),
) as Record<'on' | 'off', PredictionLog>;
const allRows = JSON.parse(readFileSync(String(opts['rows-file']), 'utf8')) as unknown[];
const perRequest = Number(opts['rows-per-request']);
// Request bodies, parsed per call as the handler parses each request's: its rows are new objects every time.
const bodies = Array.from({ length: Math.floor(allRows.length / perRequest) }, (_, b) =>
  JSON.stringify({ rows: allRows.slice(b * perRequest, (b + 1) * perRequest) }),
);
let next = 0;
/** The answers' lengths, summed: their JSON is used, as a handler's is. */
let answered = 0;
const model = String(opts.model);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export interface Window {
  calls_per_s: number;
  p50_us: number;
  p99_us: number;
  cpu_us_per_call: number;
  /** Longest turns of the event loop between two calls: what a request could have waited behind. */
  stall_p999_ms: number;
  stall_max_ms: number;
}

async function window(logged: boolean, ms: number): Promise<Window> {
  const predictionLog = logs[logged ? 'on' : 'off'];
  const times: number[] = [];
  const turns: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  let last = start;
  while (performance.now() < end) {
    const body = bodies[next++ % bodies.length];
    const records = (JSON.parse(body) as { rows: unknown[] }).rows;
    const t = performance.now();
    const result = await server.predict({ modelName: model }, records);
    const requestId = predictionLog.requestId();
    const answer = answerJson(requestId, result);
    logPrediction(predictionLog, requestId, records, result, performance.now() - t, { predictions: answer.predictionJson, body });
    answered += answer.text.length;
    times.push(performance.now() - t);
    // Back to the event loop after each call, as a server does between requests: the log's
    // background flushes (S3, MySQL) run here and share the thread, so their cost is counted.
    await new Promise((r) => setImmediate(r));
    const now = performance.now();
    turns.push(now - last);
    last = now;
  }
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  turns.sort((a, b) => a - b);
  return {
    calls_per_s: Math.round(times.length / (elapsed / 1000)),
    p50_us: Math.round(pct(times, 50) * 1000),
    p99_us: Math.round(pct(times, 99) * 1000),
    cpu_us_per_call: round((cpu.user + cpu.system) / times.length),
    stall_p999_ms: round(pct(turns, 99.9), 3),
    stall_max_ms: round(turns[turns.length - 1], 3),
  };
}

const seconds = Number(opts.seconds);
const warmup = Number(opts.warmup);
// The same warm-up on both sides, then rounds in alternating order (neither always runs first).
await window(true, warmup * 1000);
await window(false, warmup * 1000);
const rounds: Record<'on' | 'off', Window[]> = { on: [], off: [] };
for (let r = 0; r < Number(opts.rounds); r++)
  for (const side of (r % 2 === 0 ? ['on', 'off'] : ['off', 'on']) as ('on' | 'off')[]) rounds[side].push(await window(side === 'on', seconds * 1000));
await logs.off.close();
const log = await logs.on.close();
if (answered === 0) throw new Error('no answer');
await pool.end();
store.client.destroy();
console.log(JSON.stringify({ rounds, log }));
