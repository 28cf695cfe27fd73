/**
 * The main job on the embedded stack: start MySQL schema + S3 server + serverless-offline, run the
 * pipeline state machine, print a summary, then keep serving predictions until Ctrl-C.
 *
 *   npm start                         # defaults: 3 batches, 5 s apart, 3 trials of 50 trees
 *   npm start -- --batches 5 --interval 10 --trees 100 --trials 6 --exit
 *   npm start -- --input my-input.json
 *   npm start -- --every 300             # then re-run every 5 minutes, like a scheduled DAG
 *   npm start -- --monitor-every 60      # check live drift and metrics every minute (the monitor's schedule)
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import path from 'node:path';
import { loadConfig, repoRoot } from '../src/config.ts';
import { LocalStack } from '../src/runtime/local-stack.ts';
import { pipelineInput, pipelineInputOptions } from '../src/runtime/pipeline-input.ts';
import { progressPrinter } from '../src/runtime/progress.ts';
import { scheduleMonitor } from '../src/monitoring/local-schedule.ts';

const { values: args } = parseArgs({
  options: {
    ...pipelineInputOptions,
    'http-port': { type: 'string', default: '3000' },
    's3-port': { type: 'string', default: '4569' },
    'lambda-port': { type: 'string', default: '3002' },
    every: { type: 'string' },
    'monitor-every': { type: 'string' },
    exit: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const config = loadConfig();
const print = (line: string) => console.log(line);
const input = await pipelineInput(args);
// The data API moves to its next batch as often as the pipeline asks for one (5 s, the ASL's default).
const interval = typeof input.intervalSeconds === 'number' ? input.intervalSeconds : 5;

const stack = new LocalStack({
  mysql: { host: config.MYSQL_HOST, port: config.MYSQL_PORT, user: config.MYSQL_USER, password: config.MYSQL_PASSWORD, database: config.MYSQL_DATABASE },
  bucket: config.S3_BUCKET,
  httpPort: Number(args['http-port']),
  s3Port: Number(args['s3-port']),
  lambdaPort: Number(args['lambda-port']),
  functionEnv: {
    DATA_API_BATCH_INTERVAL_SECONDS: process.env.DATA_API_BATCH_INTERVAL_SECONDS ?? String(interval),
    DATA_API_SAMPLE_SIZE: String(config.DATA_API_SAMPLE_SIZE),
    DATA_API_DATASET_PATH: config.DATA_API_DATASET_PATH,
  },
  log: print,
  verbose: args.verbose,
});

/** One execution: progress while it runs, then a summary. */
async function runOnce(input: Record<string, unknown>): Promise<boolean> {
  const result = await stack.runPipeline(input, progressPrinter(print));
  print('');
  if (result.status !== 'SUCCEEDED') {
    print(`Pipeline FAILED: ${result.error}: ${result.cause}`);
    print('Recent function output:\n' + stack.recentOutput().split('\n').slice(-40).join('\n'));
    return false;
  }
  const out = result.output as {
    fetch: { rowsStored: number };
    dataset: { datasetVersion: number; counts: Record<string, number> };
    select: { candidate: { runId: string; metric: string; score: number }; trials: number; failedTrials: number };
    promotion: { decision: string; candidateVersion: number; championVersion: number; reason: string; testMetrics: Record<string, number>; modelName: string };
  };
  print('Summary');
  print(`  execution        ${result.executionArn}`);
  print(`  rows stored      ${out.fetch.rowsStored}`);
  print(`  dataset version  ${out.dataset.datasetVersion} (${out.dataset.counts.train} train / ${out.dataset.counts.validation} validation / ${out.dataset.counts.test} test, ${out.dataset.counts.rejected} rejected)`);
  print(`  trials           ${out.select.trials} (${out.select.failedTrials} failed)`);
  print(`  best run         ${out.select.candidate.runId} (validation ${out.select.candidate.metric} ${out.select.candidate.score.toFixed(4)})`);
  print(`  test             ${JSON.stringify(out.promotion.testMetrics)}`);
  print(`  decision         ${out.promotion.decision} (candidate v${out.promotion.candidateVersion}, champion v${out.promotion.championVersion})`);
  print(`  reason           ${out.promotion.reason}`);
  print('');
  return true;
}

const shutdown = async (code: number) => {
  await stack.stop();
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  await stack.start();
  // Start from batch 0 of the group, as the course's DAGs did; repeated runs (--every) move on.
  await fetch(`${stack.baseUrl}/restart_data_generation?group_number=${String(input.groupNumber ?? 1)}`);
  print(`\nPipeline input: ${JSON.stringify(input)}`);
  const ok = await runOnce(input);
  if (!ok && !args.every) await shutdown(1);
  // A sample request for the dataset the run trained on (examples/<dataset>.predict.json).
  const dataset = typeof input.dataset === 'string' ? input.dataset : 'covertype';
  const samplePath = path.join(repoRoot, 'examples', `${path.basename(dataset)}.predict.json`);
  const sample = JSON.parse(await readFile(samplePath, 'utf8').catch(() => `{"model":"${dataset}","rows":[{}]}`)) as unknown;
  const response = await fetch(`${stack.baseUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample) });
  print(`POST ${stack.baseUrl}/predict → ${response.status} ${await response.text()}`);
  if (args.exit) await shutdown(response.ok ? 0 : 1);
  print(`\nConsole: ${stack.baseUrl}/   (executions, runs, models, predict)`);
  print(`Serving predictions at ${stack.baseUrl}/predict (data API at ${stack.baseUrl}/data). Ctrl-C to stop. Try:`);
  print(`  curl -s -X POST ${stack.baseUrl}/predict -H 'content-type: application/json' -d @${path.relative(process.cwd(), samplePath)}`);
  print(`  npm run cli -- models      npm run cli -- runs      npm run cli -- rollback ${dataset}`);
  if (args['monitor-every']) {
    print(`Monitoring every ${args['monitor-every']} s (console: ${stack.baseUrl}/#/monitoring).`);
    scheduleMonitor(`http://127.0.0.1:${stack.lambdaPort}`, Number(args['monitor-every']), (line) => print(`${new Date().toISOString()}  ${line}`));
  }
  if (args.every) {
    // Scheduled retraining, as the course's every-N-minutes DAG: the data API moves on between runs.
    const everyMs = Number(args.every) * 1000;
    print(`Re-running the pipeline every ${args.every} s.`);
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, everyMs));
      print(`\n${new Date().toISOString()}  scheduled run`);
      await runOnce(input);
    }
  }
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  await shutdown(1);
}
