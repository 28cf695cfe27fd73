/**
 * The main job on the embedded stack: start MySQL schema + S3 server + serverless-offline, run the
 * pipeline state machine, print a summary, then keep serving predictions until Ctrl-C.
 *
 *   npm start                         # defaults: 3 batches, 5 s apart, 50 trees
 *   npm start -- --batches 5 --interval 10 --trees 100 --exit
 *   npm start -- --input my-input.json
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { LocalStack } from '../src/runtime/local-stack.ts';
import { progressPrinter } from '../src/runtime/progress.ts';

const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '3' },
    interval: { type: 'string', default: '5' },
    trees: { type: 'string', default: '50' },
    group: { type: 'string', default: '1' },
    input: { type: 'string' },
    'http-port': { type: 'string', default: '3000' },
    's3-port': { type: 'string', default: '4569' },
    exit: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});

const config = loadConfig();
const print = (line: string) => console.log(line);
const interval = Number(args.interval);

const stack = new LocalStack({
  mysql: { host: config.MYSQL_HOST, port: config.MYSQL_PORT, user: config.MYSQL_USER, password: config.MYSQL_PASSWORD, database: config.MYSQL_DATABASE },
  bucket: config.S3_BUCKET,
  httpPort: Number(args['http-port']),
  s3Port: Number(args['s3-port']),
  functionEnv: {
    // The data API moves to its next batch as often as the pipeline asks for one.
    DATA_API_BATCH_INTERVAL_SECONDS: process.env.DATA_API_BATCH_INTERVAL_SECONDS ?? String(interval),
    DATA_API_SAMPLE_SIZE: String(config.DATA_API_SAMPLE_SIZE),
    DATA_API_DATASET_PATH: config.DATA_API_DATASET_PATH,
  },
  log: print,
  verbose: args.verbose,
});

const shutdown = async (code: number) => {
  await stack.stop();
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  await stack.start();
  const input = args.input
    ? (JSON.parse(await readFile(args.input, 'utf8')) as Record<string, unknown>)
    : {
        dataset: 'covertype',
        groupNumber: Number(args.group),
        batches: Number(args.batches),
        intervalSeconds: interval,
        train: { nEstimators: Number(args.trees) },
        promotion: { metric: 'accuracy', minGain: 0 },
      };
  // Start each run from batch 0 of the group, as the course's DAGs did.
  await fetch(`${stack.baseUrl}/restart_data_generation?group_number=${String(input.groupNumber ?? 1)}`);
  print(`\nPipeline input: ${JSON.stringify(input)}`);
  const result = await stack.runPipeline(input, progressPrinter(print));
  print('');
  if (result.status !== 'SUCCEEDED') {
    print(`Pipeline FAILED: ${result.error}: ${result.cause}`);
    print('Recent function output:\n' + stack.recentOutput().split('\n').slice(-40).join('\n'));
    await shutdown(1);
  }
  const out = result.output as {
    fetch: { rowsStored: number };
    dataset: { datasetVersion: number; counts: Record<string, number> };
    train: { runId: string; metrics: Record<string, number> };
    promotion: { decision: string; candidateVersion: number; championVersion: number; reason: string; testMetrics: Record<string, number>; modelName: string };
  };
  print('Summary');
  print(`  execution        ${result.executionArn}`);
  print(`  rows stored      ${out.fetch.rowsStored}`);
  print(`  dataset version  ${out.dataset.datasetVersion} (${out.dataset.counts.train} train / ${out.dataset.counts.validation} validation / ${out.dataset.counts.test} test, ${out.dataset.counts.rejected} rejected)`);
  print(`  run              ${out.train.runId}`);
  print(`  validation       ${JSON.stringify(out.train.metrics)}`);
  print(`  test             ${JSON.stringify(out.promotion.testMetrics)}`);
  print(`  decision         ${out.promotion.decision} (candidate v${out.promotion.candidateVersion}, champion v${out.promotion.championVersion})`);
  print(`  reason           ${out.promotion.reason}`);
  print('');
  const sample = {
    rows: [{
      Elevation: 2596, Aspect: 51, Slope: 3, Horizontal_Distance_To_Hydrology: 258, Vertical_Distance_To_Hydrology: 0,
      Horizontal_Distance_To_Roadways: 510, Hillshade_9am: 221, Hillshade_Noon: 232, Hillshade_3pm: 148,
      Horizontal_Distance_To_Fire_Points: 6279, Wilderness_Area: 'Rawah', Soil_Type: 'C7745',
    }],
  };
  const response = await fetch(`${stack.baseUrl}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample) });
  print(`POST ${stack.baseUrl}/predict → ${response.status} ${await response.text()}`);
  if (args.exit) await shutdown(response.ok ? 0 : 1);
  print(`\nServing predictions at ${stack.baseUrl}/predict (data API at ${stack.baseUrl}/data). Ctrl-C to stop. Try:`);
  print(`  curl -s -X POST ${stack.baseUrl}/predict -H 'content-type: application/json' -d '${JSON.stringify(sample)}'`);
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  await shutdown(1);
}
