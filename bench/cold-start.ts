// One cold start, for bench/predict.ts: a fresh Node process (as a new Lambda container) that loads
// the compiled predict handler and answers one request, then times a model load on its own (registry
// row, S3 download, hash check, parse, compile). Environment: the functions' (MYSQL_*, S3_*).
// Prints one JSON line of milliseconds; node_start_ms etc. count from the process's start,
// first_prediction_at is the first answer's wall-clock time (epoch ms).
//   node bench/cold-start.ts '{"rows":[{...}]}'
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { predictEvent } from './io.ts';

const repo = path.resolve(import.meta.dirname, '..');
const at = () => performance.now();
const nodeStart = at();
const { handler } = (await import(pathToFileURL(path.join(repo, 'dist/functions/predict.js')).href)) as {
  handler: (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
};
const imported = at();
const response = await handler(predictEvent(process.argv[2]), {});
const firstPrediction = at();
const firstCpu = process.cpuUsage();
if (response.statusCode !== 200) throw new Error(`first prediction: ${response.statusCode} ${response.body}`);

const { ModelServer } = (await import(
  pathToFileURL(path.join(repo, 'dist/src/serving/model-server.js')).href
)) as typeof import('../src/serving/model-server.ts');
const context = (await import(pathToFileURL(path.join(repo, 'dist/functions/lib/context.js')).href)) as typeof import('../functions/lib/context.ts');
const server = new ModelServer(context.getPool(), context.getStore(), 60_000);
const version = await server.resolveVersion('covertype', 'champion');
const t = at();
await server.load('covertype', version);
const loadMs = at() - t;
console.log(
  JSON.stringify({
    node_start_ms: Math.round(nodeStart),
    import_ms: Math.round(imported - nodeStart),
    first_call_ms: Math.round(firstPrediction - imported),
    first_prediction_ms: Math.round(firstPrediction),
    // The same instant on the wall clock, for the parent to count from the spawn.
    first_prediction_at: performance.timeOrigin + firstPrediction,
    // CPU time of this process to its first answer: what a shared machine cannot inflate much.
    first_prediction_cpu_ms: Math.round((firstCpu.user + firstCpu.system) / 1000),
    load_ms: Math.round(loadMs),
  }),
);
await context.getPool().end();
context.getStore().client.destroy();
process.exit(0);
