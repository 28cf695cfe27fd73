import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { httpRoutes, secretsOf } from '../../src/service/manifest.ts';
import { serverlessParts } from '../../src/service/serverless.ts';

const SECRETS = { MYSQL_PASSWORD: 'Zr8kq2VmL9pWx4TnB7cQ', ADMIN_TOKEN: 'adm-5c1f9e7a2b8d4f6e0a3c7d91', S3_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-K7MDENG' };
const parts = (env: Record<string, string> = {}) => serverlessParts({ service: 'mlops-pipeline', stage: 'dev', env: { ...SECRETS, ...env } });

type Statement = { Action: string | string[]; Resource: unknown };
const statementsOf = (role: unknown) =>
  (role as { Properties: { Policies: { PolicyDocument: { Statement: Statement[] } }[] } }).Properties.Policies.flatMap((p) => p.PolicyDocument.Statement);

describe('the serverless.yml parts made from the service manifest', () => {
  test('the environment: the settings that are set, the secrets only as their SSM parameter names', () => {
    const { environment } = parts({ DRIFT_PSI_THRESHOLD: '0.3', MYSQL_HOST: 'db.internal', NOT_A_SETTING: 'x', AWS_REGION: 'eu-west-1' });
    assert.equal(environment.DRIFT_PSI_THRESHOLD, '0.3');
    assert.equal(environment.MYSQL_HOST, 'db.internal');
    assert.equal(environment.MYSQL_PASSWORD_PARAMETER, '/mlops-pipeline/dev/mysql-password');
    assert.equal(environment.ADMIN_TOKEN_PARAMETER, '/mlops-pipeline/dev/admin-token');
    for (const name of [...Object.keys(SECRETS), 'NOT_A_SETTING', 'AWS_REGION', 'MYSQL_PORT']) assert.equal(environment[name], undefined, name);
    assert.ok(!JSON.stringify(parts()).includes(SECRETS.MYSQL_PASSWORD));
  });

  test("a function's own settings go to it alone", () => {
    const { environment, functions } = parts({ STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:123456789012:stateMachine:mlops-pipeline-dev' });
    assert.equal(environment.STATE_MACHINE_ARN, undefined);
    assert.match(String((functions.executions as { environment?: Record<string, string> }).environment?.STATE_MACHINE_ARN), /stateMachine/);
    assert.equal((functions.predict as { environment?: unknown }).environment, undefined);
  });

  test('an invalid setting fails the package, not the first request', () => {
    assert.throws(() => parts({ S3_BUCKET: 'Not A Bucket' }), /Invalid configuration: S3_BUCKET/);
  });

  test('the monitor schedule is on unless MONITOR_SCHEDULE=false', () => {
    const schedule = (env: Record<string, string>) =>
      (parts(env).functions.monitor as { events: { schedule?: { enabled: boolean } }[] }).events.find((e) => e.schedule)?.schedule?.enabled;
    assert.equal(schedule({}), true);
    assert.equal(schedule({ MONITOR_SCHEDULE: 'false' }), false);
  });

  test('roles: predict writes only its prediction log; the admin token is read only where an admin route is', () => {
    const { resources } = parts();
    const puts = statementsOf(resources.PredictRole).filter((s) => [s.Action].flat().includes('s3:PutObject'));
    assert.deepEqual(
      puts.map((s) => JSON.stringify(s.Resource).match(/"\/([a-z/]*)\*"/)?.[1]),
      ['predictions/'],
    );
    const withAdmin = [
      ...new Set(
        httpRoutes()
          .filter((r) => r.admin)
          .map((r) => r.function),
      ),
    ].sort();
    assert.deepEqual(withAdmin, ['executions', 'monitor', 'registry']);
    for (const name of ['registry', 'predict', 'fetch'] as const) {
      const text = JSON.stringify(statementsOf(resources[`${name[0].toUpperCase()}${name.slice(1)}Role`]));
      assert.equal(text.includes('/admin-token'), secretsOf(name).includes('ADMIN_TOKEN'), name);
      assert.equal(text.includes('/admin-token'), withAdmin.includes(name), name);
    }
  });

  test('roles: registry may read (not write) the bucket, since rollback and manual promotion check the artifact', () => {
    const actions = statementsOf(parts().resources.RegistryRole).flatMap((s) => [s.Action].flat());
    assert.ok(actions.includes('s3:GetObject') && actions.includes('s3:ListBucket'), actions.join(', '));
    assert.ok(!actions.includes('s3:PutObject'));
  });

  test('httpRoutes: each route with the module and export of its handler', () => {
    const predict = httpRoutes().find((r) => r.path === '/predict');
    assert.deepEqual(predict, { method: 'POST', path: '/predict', function: 'predict', module: 'functions/predict', export: 'handler' });
    const keys = httpRoutes().map((r) => `${r.method} ${r.path}`);
    assert.equal(new Set(keys).size, keys.length, 'no route is declared twice');
  });
});
