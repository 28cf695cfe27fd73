/**
 * Starts one pipeline execution on LocalStack and follows it to the end through @aws-sdk/client-sfn
 * (the same code as `npm start` and the CLI), printing the same progress lines; then calls /predict once.
 *   npx node localstack/run.ts [--batches 3] [--interval 5] [--trees 50] [--trials 3] [--group 1] [--dataset covertype] [--input file.json]
 */
import { parseArgs } from 'node:util';
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
      const body = {
        rows: [
          {
            Elevation: 2596,
            Aspect: 51,
            Slope: 3,
            Horizontal_Distance_To_Hydrology: 258,
            Vertical_Distance_To_Hydrology: 0,
            Horizontal_Distance_To_Roadways: 510,
            Hillshade_9am: 221,
            Hillshade_Noon: 232,
            Hillshade_3pm: 148,
            Horizontal_Distance_To_Fire_Points: 6279,
            Wilderness_Area: 'Rawah',
            Soil_Type: 'C7745',
          },
        ],
      };
      const r = await fetch(predict, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      print(`POST ${predict} → ${r.status} ${await r.text()}`);
    }
  }
} catch (error) {
  console.error(`\n${(error as Error).message}`);
  process.exitCode = 1;
}
