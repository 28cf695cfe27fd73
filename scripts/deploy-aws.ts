/**
 * `serverless deploy` to AWS, refused unless the secrets the functions read at cold start are in SSM
 * Parameter Store (the MySQL password and the admin token): a stack without an admin token would leave
 * rollback, promotion and runs closed, and one without the password would fail every function.
 *
 *   npm run deploy:aws -- --stage dev [--dry-run]
 *
 * Uses the AWS credentials and region of the environment (AWS_PROFILE, AWS_REGION), as serverless does.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { loadConfig, repoRoot, type SecretSetting } from '../src/config.ts';
import { readService } from '../localstack/common.ts';
import { secretParameterName } from '../localstack/deploy-lib.ts';

const { values: args } = parseArgs({
  options: { stage: { type: 'string', default: 'dev' }, 'dry-run': { type: 'boolean', default: false } },
});
const stage = args.stage;
const config = loadConfig();
const service = await readService();
const required: SecretSetting[] = ['MYSQL_PASSWORD', 'ADMIN_TOKEN'];
const names = required.map((setting) => ({ setting, name: secretParameterName(service.service, stage, setting) }));

const client = new SSMClient({ region: config.AWS_REGION, ...(config.SSM_ENDPOINT ? { endpoint: config.SSM_ENDPOINT } : {}) });
let found: Set<string>;
try {
  // Only whether they exist: the values stay in SSM (no decryption asked).
  const answer = await client.send(new GetParametersCommand({ Names: names.map((n) => n.name) }));
  found = new Set((answer.Parameters ?? []).map((p) => p.Name ?? ''));
} catch (error) {
  console.error(`Cannot read SSM Parameter Store in ${config.AWS_REGION}: ${(error as Error).message}`);
  process.exit(1);
} finally {
  client.destroy();
}
const missing = names.filter((n) => !found.has(n.name));
if (missing.length > 0) {
  console.error(`Refusing to deploy stage ${stage}: missing SSM parameters ${missing.map((m) => `${m.name} (${m.setting})`).join(', ')}. Create them:`);
  for (const m of missing) {
    const value = m.setting === 'ADMIN_TOKEN' ? '"$(openssl rand -hex 24)"' : "'…'";
    console.error(`  aws ssm put-parameter --type SecureString --name ${m.name} --value ${value}`);
  }
  process.exit(1);
}
console.log(`SSM parameters present: ${names.map((n) => n.name).join(', ')}`);
const command = [path.join(repoRoot, 'node_modules/serverless/bin/serverless.js'), 'deploy', '--stage', stage];
if (args['dry-run']) {
  console.log(`Would run: serverless deploy --stage ${stage}`);
  process.exit(0);
}
const result = spawnSync(process.execPath, command, { cwd: repoRoot, stdio: 'inherit' });
process.exit(result.status ?? 1);
