/**
 * The main job on the embedded stack: start MySQL schema + S3 server + serverless-offline, run the
 * pipeline state machine, print a summary, then keep serving predictions until Ctrl-C.
 *
 *   npm start                         # defaults: 3 batches, 5 s apart, 3 trials of 50 trees
 *   npm start -- --batches 5 --interval 10 --trees 100 --trials 6 --exit
 *   npm start -- --input my-input.json
 *   npm start -- --every 300             # then re-run every 5 minutes, like a scheduled DAG
 *   npm start -- --data-api-url http://<course-host>:<port> --batches 10 --interval 300   # the course's data API
 *   npm start -- --monitor-every 60      # check live drift and metrics every minute (the monitor's schedule)
 *
 * The admin token (rollback, champion, POST /executions) is ADMIN_TOKEN, else the one in .local/admin-token,
 * else a new one stored there.
 */
import { parseArgs } from 'node:util';
import { pipelineInput, pipelineInputOptions } from './lib/pipeline-input.ts';
import { progressPrinter } from './lib/progress.ts';
import { formatMetrics, printServing, samplePredict, scheduleMonitorIfAsked, stackOptions, startEmbeddedStack } from './lib/embedded-runner.ts';
import { DEFAULT_DATASET } from '../src/schemas.ts';

const { values: args } = parseArgs({
  options: {
    ...pipelineInputOptions,
    ...stackOptions,
    every: { type: 'string' },
    exit: { type: 'boolean', default: false },
  },
});

const print = (line: string) => console.log(line);
const input = await pipelineInput(args);
// The data API moves to its next batch as often as the pipeline asks for one (5 s, the ASL's default).
const interval = typeof input.intervalSeconds === 'number' ? input.intervalSeconds : 5;
const { stack, shutdown } = await startEmbeddedStack(args, print, {
  DATA_API_BATCH_INTERVAL_SECONDS: process.env.DATA_API_BATCH_INTERVAL_SECONDS ?? String(interval),
});

/** One execution: progress while it runs, then a summary. */
async function runOnce(input: Record<string, unknown>): Promise<boolean> {
  const result = await stack.runPipeline(input, progressPrinter(print));
  print('');
  if (result.status !== 'SUCCEEDED') {
    print(`Pipeline FAILED: ${result.error}: ${result.cause}`);
    print(`Recent function output:\n${stack.recentOutput().split('\n').slice(-40).join('\n')}`);
    print(`\nOnce the cause is fixed, it can go on from where it failed: npm run serve, then npm run cli -- redrive ${result.name}`);
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
  print(
    `  dataset version  ${out.dataset.datasetVersion} (${out.dataset.counts.train} train / ${out.dataset.counts.validation} validation / ${out.dataset.counts.test} test, ${out.dataset.counts.rejected} rejected)`,
  );
  print(`  trials           ${out.select.trials} (${out.select.failedTrials} failed)`);
  print(`  best run         ${out.select.candidate.runId} (validation ${out.select.candidate.metric} ${out.select.candidate.score.toFixed(4)})`);
  print(`  test             ${formatMetrics(out.promotion.testMetrics)}`);
  print(`  decision         ${out.promotion.decision} (candidate v${out.promotion.candidateVersion}, champion v${out.promotion.championVersion})`);
  print(`  reason           ${out.promotion.reason}`);
  print('');
  return true;
}

try {
  if (stack.options.dataApiUrl === undefined) {
    // Start from the first batch of the group, as the course's DAGs did; repeated runs (--every) move on.
    await fetch(`${stack.baseUrl}/restart_data_generation?group_number=${String(input.groupNumber ?? 1)}`);
  } else {
    print(`Data API: ${stack.dataApiUrl} (external: not restarted; its end of data ends the fetch loop and the run goes on)`);
  }
  print(`\nPipeline input: ${JSON.stringify(input)}`);
  const ok = await runOnce(input);
  if (!ok && !args.every) await shutdown(1);
  // A sample request for the dataset the run trained on (examples/<dataset>.predict.json).
  const dataset = typeof input.dataset === 'string' ? input.dataset : DEFAULT_DATASET;
  const served = await samplePredict(stack, dataset, print);
  if (args.exit) await shutdown(served ? 0 : 1);
  await printServing(stack, dataset, print);
  scheduleMonitorIfAsked(stack, args, print);
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
