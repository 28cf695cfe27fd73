// The deployed functions' secrets come from SSM Parameter Store: functions/lib/context.ts reads them with
// the real @aws-sdk/client-ssm against a stand-in of the SSM JSON API (AmazonSSM.GetParameters over
// application/x-amz-json-1.1), once per container, and puts them into the config.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';

interface Call {
  target: string;
  contentType: string;
  signed: boolean;
  body: { Names?: string[]; WithDecryption?: boolean };
}

const PARAMETERS: Record<string, string> = {
  '/mlops-pipeline/test/mysql-password': 'Zr8kq2VmL9pWx4TnB7cQ',
  '/mlops-pipeline/test/admin-token': 'adm-5c1f9e7a2b8d4f6e0a3c7d91',
};
const calls: Call[] = [];
let server: Server;

/** SSM's GetParameters as the service answers it: found ones in Parameters, the others in InvalidParameters. */
async function startSsm(): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Call['body'];
      calls.push({
        target: String(req.headers['x-amz-target']),
        contentType: String(req.headers['content-type']),
        signed: /^AWS4-HMAC-SHA256 Credential=/.test(String(req.headers.authorization)),
        body,
      });
      const names = body.Names ?? [];
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(
        JSON.stringify({
          Parameters: names
            .filter((n) => n in PARAMETERS)
            .map((n) => ({ Name: n, Type: 'SecureString', Value: body.WithDecryption ? PARAMETERS[n] : 'AQICAHencrypted', Version: 1 })),
          InvalidParameters: names.filter((n) => !(n in PARAMETERS)),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const saved = { ...process.env };
/** A new instance of the context module (a new container): its cache starts empty. */
const freshContext = (tag: string) => import(`../../functions/lib/context.ts?${tag}`) as Promise<typeof import('../../functions/lib/context.ts')>;

describe('secrets from SSM Parameter Store (the real SSM client, a stand-in of the SSM API)', () => {
  before(async () => {
    const endpoint = await startSsm();
    for (const name of ['IS_OFFLINE', 'IS_LOCAL', 'MYSQL_PASSWORD', 'ADMIN_TOKEN', 'S3_SECRET_ACCESS_KEY', 'S3_SECRET_ACCESS_KEY_PARAMETER'])
      delete process.env[name];
    Object.assign(process.env, {
      SSM_ENDPOINT: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
      MYSQL_PASSWORD_PARAMETER: '/mlops-pipeline/test/mysql-password',
      ADMIN_TOKEN_PARAMETER: '/mlops-pipeline/test/admin-token',
    });
  });
  after(async () => {
    process.env = saved;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('a cold start reads the named parameters decrypted, in one call, and later invocations read nothing', async () => {
    const context = await freshContext('ssm-read');
    assert.equal(context.getConfig().MYSQL_PASSWORD, '', 'before loading: only the names are known');
    await context.loadSecrets(['MYSQL_PASSWORD', 'S3_SECRET_ACCESS_KEY', 'ADMIN_TOKEN']);
    assert.equal(context.getConfig().MYSQL_PASSWORD, PARAMETERS['/mlops-pipeline/test/mysql-password']);
    assert.equal(context.getConfig().ADMIN_TOKEN, PARAMETERS['/mlops-pipeline/test/admin-token']);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0], {
      target: 'AmazonSSM.GetParameters',
      contentType: 'application/x-amz-json-1.1',
      signed: true,
      body: { Names: ['/mlops-pipeline/test/mysql-password', '/mlops-pipeline/test/admin-token'], WithDecryption: true },
    });
    await context.loadSecrets(['MYSQL_PASSWORD', 'S3_SECRET_ACCESS_KEY', 'ADMIN_TOKEN']);
    assert.equal(calls.length, 1, 'cached for the container');
  });

  test('a function that does not use the admin token does not read it', async () => {
    calls.length = 0;
    const context = await freshContext('ssm-no-admin');
    await context.loadSecrets(['MYSQL_PASSWORD', 'S3_SECRET_ACCESS_KEY']);
    assert.deepEqual(
      calls.map((c) => c.body.Names),
      [['/mlops-pipeline/test/mysql-password']],
    );
    assert.equal(context.getConfig().ADMIN_TOKEN, undefined);
  });

  test('a missing parameter fails the cold start naming it', async () => {
    process.env.MYSQL_PASSWORD_PARAMETER = '/mlops-pipeline/test/no-such-password';
    try {
      const context = await freshContext('ssm-missing');
      await assert.rejects(context.loadSecrets(['MYSQL_PASSWORD']), /Missing SSM parameters \/mlops-pipeline\/test\/no-such-password \(MYSQL_PASSWORD\)/);
    } finally {
      process.env.MYSQL_PASSWORD_PARAMETER = '/mlops-pipeline/test/mysql-password';
    }
  });

  test('local invocations (serverless-offline) keep the plain environment and read no SSM', async () => {
    calls.length = 0;
    process.env.IS_OFFLINE = 'true';
    process.env.MYSQL_PASSWORD = 'plain-local-password';
    try {
      const context = await freshContext('ssm-offline');
      await context.loadSecrets(['MYSQL_PASSWORD', 'ADMIN_TOKEN']);
      assert.equal(calls.length, 0);
      assert.equal(context.getConfig().MYSQL_PASSWORD, 'plain-local-password');
    } finally {
      delete process.env.IS_OFFLINE;
      delete process.env.MYSQL_PASSWORD;
    }
  });

  test('the AWS deploy refuses to run while the secrets are not in SSM, naming the parameters to create', async () => {
    // Asynchronously: the stand-in SSM answers from this process.
    const deploy = (stage: string) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/deploy-aws.ts'), '--stage', stage, '--dry-run'], {
          cwd: repoRoot,
          env: process.env,
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const refused = await deploy('prod');
    assert.equal(refused.status, 1, refused.stdout + refused.stderr);
    assert.match(
      refused.stderr,
      /Refusing to deploy stage prod: missing SSM parameters \/mlops-pipeline\/prod\/mysql-password \(MYSQL_PASSWORD\), \/mlops-pipeline\/prod\/admin-token \(ADMIN_TOKEN\)/,
    );
    assert.match(refused.stderr, /aws ssm put-parameter --type SecureString --name \/mlops-pipeline\/prod\/admin-token/);
    const ready = await deploy('test');
    assert.equal(ready.status, 0, ready.stdout + ready.stderr);
    assert.match(ready.stdout, /Would run: serverless deploy --stage test/);
  });
});
