import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';
import { readDefinitionText, referencedFunctions } from '../../src/statemachine/definition.ts';
import { serviceDefinition } from '../../localstack/deploy-lib.ts';

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string | string[];
}

/** Real-looking secrets in the packaging environment: none of them may end up in what is packaged. */
const SECRETS = {
  MYSQL_PASSWORD: 'Zr8kq2VmL9pWx4TnB7cQ',
  ADMIN_TOKEN: 'adm-5c1f9e7a2b8d4f6e0a3c7d91',
  S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYzEXAMPLEKEY',
};

/** `serverless package` for AWS, offline, into a folder of its own (not the shared .serverless/). */
describe('serverless package (the AWS CloudFormation template)', () => {
  let dir: string;
  let resources: Record<string, Resource>;
  /** Every text file the package wrote (templates, state), concatenated. */
  let packaged: string;
  const logicalId = (key: string) => `${key[0].toUpperCase()}${key.slice(1)}LambdaFunction`;
  const byType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sls-package-'));
    if (!existsSync(path.join(repoRoot, 'dist', 'functions'))) {
      const build = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      assert.equal(build.status, 0, build.stdout + build.stderr);
    }
    const result = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'node_modules/serverless/bin/serverless.js'), 'package', '--stage', 'dev', '--package', dir],
      {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 180_000,
        env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', ...SECRETS },
      },
    );
    assert.equal(result.status, 0, `serverless package failed:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout + result.stderr, /State machine "pipeline" definition is valid/);
    const template = JSON.parse(await readFile(path.join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as { Resources: Record<string, Resource> };
    resources = template.Resources;
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    assert.ok(files.includes('serverless-state.json'));
    packaged = (await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')))).join('\n');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('has each function of the manifest, on its own role', async () => {
    const service = serviceDefinition();
    for (const f of service.functions) {
      const fn = resources[logicalId(f.key)];
      assert.equal(fn?.Type, 'AWS::Lambda::Function', f.key);
      assert.deepEqual(fn.Properties.Role, { 'Fn::GetAtt': [`${logicalId(f.key).replace(/LambdaFunction$/, '')}Role`, 'Arn'] });
    }
    assert.equal(resources.IamRoleLambdaExecution, undefined, 'no shared role for all functions');
  });

  test('has the HTTP API routes: every route of the manifest', async () => {
    const routes = byType('AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties.RouteKey)
      .sort();
    const service = serviceDefinition();
    const declared = service.functions.flatMap((f) => f.routes.map((r) => `${r.method.toUpperCase()} ${r.path}`)).sort();
    assert.deepEqual(routes, declared);
    for (const core of ['GET /data', 'GET /restart_data_generation', 'POST /predict', 'GET /models', 'POST /models/{name}/rollback']) {
      assert.ok(routes.includes(core), core);
    }
  });

  test('has the state machine from the ASL file with GetAtt ARNs, invoking only its functions', async () => {
    const [[id, machine]] = byType('AWS::StepFunctions::StateMachine');
    assert.equal(machine.Properties.StateMachineName, 'mlops-pipeline-dev');
    const [body, params] = (machine.Properties.DefinitionString as { 'Fn::Sub': [string, Record<string, unknown>] })['Fn::Sub'];
    const referenced = referencedFunctions(await readDefinitionText());
    const getAtts = Object.values(params)
      .map((p) => (p as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0])
      .sort();
    assert.deepEqual(getAtts, referenced.map(logicalId).sort());
    // Each placeholder is a Fn::Sub variable now; any other "${" is escaped as "${!".
    for (const variable of body.matchAll(/\$\{([^}!]+)\}/g)) assert.ok(variable[1] in params, `unresolved \${${variable[1]}}`);
    const states = JSON.parse(body.replace(/"\$\{[0-9a-f]+\}"/g, '"arn"')) as { States: Record<string, unknown> };
    assert.ok('FetchBatch' in states.States && 'Promote' in states.States);

    const roleId = String((machine.Properties.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]);
    const policies = resources[roleId].Properties.Policies as { PolicyDocument: { Statement: { Action: string[]; Resource: unknown[] }[] } }[];
    const statements = policies.flatMap((p) => p.PolicyDocument.Statement);
    assert.deepEqual([...new Set(statements.flatMap((s) => s.Action))], ['lambda:InvokeFunction']);
    const invoked = new Set(JSON.stringify(statements).match(/[A-Za-z]+LambdaFunction/g));
    assert.deepEqual([...invoked].sort(), referenced.map(logicalId).sort(), `${id} may invoke only its own functions`);
  });

  test('schedules retraining, disabled by default; schedules the monitor step', () => {
    const rules = byType('AWS::Events::Rule').map(([, r]) => r.Properties);
    assert.equal(rules.length, 2);
    const retrain = rules.filter((r) => r.ScheduleExpression === 'rate(1 day)');
    assert.equal(retrain.length, 1);
    assert.equal(retrain[0].State, 'DISABLED');
    const monitor = rules.filter((r) => r.ScheduleExpression === 'rate(15 minutes)');
    assert.equal(monitor.length, 1);
    assert.equal(monitor[0].State, process.env.MONITOR_SCHEDULE === 'false' ? 'DISABLED' : 'ENABLED');
    assert.match(JSON.stringify(monitor[0].Targets), /MonitorLambdaFunction/);
  });

  const policiesOf = (role: string) =>
    (
      resources[role].Properties.Policies as { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] } }[]
    ).flatMap((p) => p.PolicyDocument.Statement);

  test('grants each function only what it uses', () => {
    const actionsOf = (role: string) => [...new Set(policiesOf(role).flatMap((s) => s.Action))].sort();
    const logs = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    const secrets = ['kms:Decrypt', 'ssm:GetParameters'];
    for (const role of ['DataApiRole', 'FetchRole', 'RecordFailureRole']) assert.deepEqual(actionsOf(role), [...logs, ...secrets].sort(), role);
    for (const role of ['PreprocessRole', 'TrainRole', 'PromoteRole'])
      assert.deepEqual(actionsOf(role), [...logs, ...secrets, 's3:GetObject', 's3:ListBucket', 's3:PutObject'].sort(), role);
    assert.deepEqual(actionsOf('PredictRole'), [...logs, ...secrets, 's3:GetObject', 's3:ListBucket', 's3:PutObject'].sort());
    // predict writes only its prediction log (src/monitoring/); the monitor reads, starts runs and alerts.
    const writes = (role: string) =>
      policiesOf(role)
        .filter((st) => [st.Action].flat().includes('s3:PutObject'))
        .map((st) => JSON.stringify(st.Resource));
    assert.deepEqual(
      writes('PredictRole').map((r) => /"\/predictions\/\*"/.test(r)),
      [true],
    );
    // Only the pipeline's steps write anywhere in the bucket; the others only under their prefixes.
    const prefixes = (role: string) => writes(role).map((r) => /"\/([a-z]*\/?)\*"/.exec(r)?.[1]);
    for (const role of ['PreprocessRole', 'TrainRole', 'PromoteRole']) assert.deepEqual(prefixes(role), [''], role);
    for (const role of ['ConsoleRole', 'BatchPredictRole']) assert.deepEqual(prefixes(role).sort(), ['batch/', 'predictions/'], role);
    for (const role of [
      'DataApiRole',
      'FetchRole',
      'PlanRole',
      'SelectRole',
      'RecordFailureRole',
      'RegistryRole',
      'DatasetsRole',
      'ExecutionsRole',
      'MonitorRole',
    ])
      assert.deepEqual(writes(role), [], role);
    // Each role writes logs to its own function's log group only.
    for (const f of serviceDefinition().functions) {
      const role = `${f.key[0].toUpperCase()}${f.key.slice(1)}Role`;
      const logs = policiesOf(role).filter((st) => [st.Action].flat().includes('logs:PutLogEvents'));
      assert.deepEqual(
        logs.map((st) => st.Resource),
        [{ 'Fn::GetAtt': [role.replace(/Role$/, 'LogGroup'), 'Arn'] }],
        role,
      );
    }
    assert.deepEqual(actionsOf('MonitorRole'), [...logs, ...secrets, 's3:GetObject', 's3:ListBucket', 'sns:Publish', 'states:StartExecution'].sort());
    const s3 = JSON.stringify(resources.TrainRole.Properties.Policies);
    assert.match(s3, /"ArtifactsBucket","Arn"/);
    assert.doesNotMatch(JSON.stringify(Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Role')), /"Resource":"\*"|"Action":"\*"/);
    assert.equal(resources.ArtifactsBucket.Type, 'AWS::S3::Bucket');
  });

  test("puts no secret in the template or any function environment, however real the deploying environment's are", () => {
    for (const [name, value] of Object.entries(SECRETS)) {
      assert.ok(!packaged.includes(value), `the value of ${name} is in the package`);
    }
    for (const [id, fn] of byType('AWS::Lambda::Function')) {
      const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      for (const name of Object.keys(SECRETS)) assert.equal(env[name], undefined, `${id} has ${name} in its environment`);
      // Only the names of the SSM parameters the functions read at cold start.
      assert.equal(env.MYSQL_PASSWORD_PARAMETER, '/mlops-pipeline/dev/mysql-password', id);
      assert.equal(env.ADMIN_TOKEN_PARAMETER, '/mlops-pipeline/dev/admin-token', id);
    }
  });

  test('each role reads (and decrypts) exactly the SSM parameters its function uses: the admin token only registry, executions and monitor', async () => {
    const parameterOf = (resource: unknown) => /:parameter(\/[^"]+)"/.exec(JSON.stringify(resource))?.[1];
    const service = serviceDefinition();
    const roles = service.functions.map((f) => `${f.key[0].toUpperCase()}${f.key.slice(1)}Role`);
    for (const role of roles) {
      const statements = policiesOf(role);
      const read = statements
        .filter((s) => s.Action === 'ssm:GetParameters')
        .map((s) => parameterOf(s.Resource))
        .sort();
      const decrypt = statements
        .filter((s) => s.Action === 'kms:Decrypt')
        .map((s) => parameterOf(s.Condition))
        .sort();
      const expected = ['RegistryRole', 'ExecutionsRole', 'MonitorRole'].includes(role)
        ? ['/mlops-pipeline/dev/admin-token', '/mlops-pipeline/dev/mysql-password']
        : ['/mlops-pipeline/dev/mysql-password'];
      assert.deepEqual(read, expected, `${role} reads`);
      assert.deepEqual(decrypt, expected, `${role} decrypts`);
      for (const s of statements.filter((x) => x.Action === 'kms:Decrypt')) assert.match(JSON.stringify(s.Condition), /kms:EncryptionContext:PARAMETER_ARN/);
    }
  });
});
