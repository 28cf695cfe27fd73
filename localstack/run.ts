/**
 * Starts one pipeline execution on LocalStack and follows it to the end through @aws-sdk/client-sfn
 * (the same code as `npm start` and the CLI), printing the same progress lines; then calls /predict once.
 *   npx node localstack/run.ts [--batches 3] [--interval 5] [--trees 50] [--trials 3] [--group 1] [--dataset covertype] [--input file.json]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/config.ts';
import { executionsClient } from '../scripts/lib/executions-client.ts';
import { pipelineInput, pipelineInputOptions } from '../scripts/lib/pipeline-input.ts';
import { progressPrinter } from '../scripts/lib/progress.ts';
import { checkLocalstack, clientsFor, LOCALSTACK_KEYS, readDeployRecord, readService } from './common.ts';
import { findStateMachine } from './deploy-lib.ts';
import { loadDotEnv, loadSettings } from './settings.ts';

const { values: args } = parseArgs({
  options: {
    ...pipelineInputOptions,
  },
});
const print = (line: string) => console.log(line);

loadDotEnv();
const settings = loadSettings();
try {
  await checkLocalstack(settings.LOCALSTACK_ENDPOINT);
  const { sfn } = clientsFor(settings);
  const service = await readService();
  const stateMachineArn = await findStateMachine(sfn, `${service.service}-${settings.STAGE}`);
  const record = await readDeployRecord();
  const input = await pipelineInput(args);
  const restart = record?.endpoints['GET /restart_data_generation'];
  if (restart) {
    // Start each run from batch 0 of the group, as the embedded runtime does.
    const r = await fetch(`${restart}?group_number=${String(input.groupNumber ?? 1)}`);
    print(`GET /restart_data_generation → ${r.status}`);
  }
  const executions = await executionsClient({ stateMachineArn, endpoint: settings.LOCALSTACK_ENDPOINT, credentials: LOCALSTACK_KEYS });
  const { executionArn } = await executions.start(input);
  print(`Execution ${executionArn}\nInput ${JSON.stringify(input)}`);
  const result = await executions.follow(executionArn, { onEvent: progressPrinter(print), pollMs: 2000 });
  if (result.status !== 'SUCCEEDED') {
    print(`\nPipeline ${result.status}: ${result.error ?? ''} ${result.cause ?? ''}`);
    print('Function logs: docker compose logs localstack, or awslocal logs tail /aws/lambda/<function> (LocalStack CLI tools)');
    process.exitCode = 1;
  } else {
    print(`\nOutput ${JSON.stringify(result.output).slice(0, 2000)}`);
    const predict = record?.endpoints['POST /predict'];
    if (predict) {
      // The README's sample request (examples/covertype.predict.json), as `npm start` sends it.
      const body = await readFile(path.join(repoRoot, 'examples', 'covertype.predict.json'), 'utf8');
      const r = await fetch(predict, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      print(`POST ${predict} → ${r.status} ${await r.text()}`);
    }
  }
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  process.exitCode = 1;
}
