/**
 * The embedded stack without a pipeline run: the HTTP API (predict, console, data API), the Lambda
 * endpoint and the S3 server on the data already in MySQL and S3, serving each model's champion.
 * What you want after `npm start -- --exit`, or after a reboot.
 *
 *   npm run serve [-- --http-port 3000 --s3-port 4569 --lambda-port 3002 --s3-dir .local/s3 --monitor-every 60 --verbose]
 */
import { parseArgs } from 'node:util';
import { getAliasVersion, getModelVersion, listModelNames } from '../src/registry/registry.ts';
import { formatMetrics, printServing, samplePredict, scheduleMonitorIfAsked, stackOptions, startEmbeddedStack } from './lib/embedded-runner.ts';

const { values: args } = parseArgs({ options: { ...stackOptions } });
const print = (line: string) => console.log(line);

const { stack, shutdown } = await startEmbeddedStack(args, print);
try {
  const pool = stack.pool;
  if (!pool) throw new Error('The stack started without a MySQL pool');
  const champions: { model: string; version: number }[] = [];
  for (const model of await listModelNames(pool)) {
    const version = await getAliasVersion(pool, model, 'champion');
    if (version !== null) champions.push({ model, version });
  }
  if (champions.length === 0) {
    console.error(
      `\nNo champion yet in database ${stack.options.mysql.database}: nothing to serve. ` +
        'Run the pipeline first: `npm start` (or `npm run cli -- run` against a running stack).',
    );
    await shutdown(1);
  }
  print('');
  for (const { model, version } of champions) {
    const v = await getModelVersion(pool, model, version);
    print(`Champion ${model} v${version} (run ${v.runId}, dataset version ${v.datasetVersion}, test ${formatMetrics(v.testMetrics)})`);
    await samplePredict(stack, model, print);
  }
  await printServing(stack, champions[0].model, print);
  scheduleMonitorIfAsked(stack, args, print);
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  await shutdown(1);
}
