import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { readDefinitionText } from '../../src/statemachine/definition.ts';
import type { LoggedEvent } from '../../src/executions/views.ts';
import { executionsClient } from '../../scripts/lib/executions-client.ts';
import { localstackClients, type Clients } from '../../localstack/clients.ts';
import { deployPipeline, functionEnvironment, serviceDefinition, teardownPipeline, type DeployOptions } from '../../localstack/deploy-lib.ts';

interface Call {
  api: 'lambda' | 'states' | 'apigatewayv2' | 'ssm';
  action: string;
  target?: string;
  body: Record<string, unknown>;
}

/**
 * A fake LocalStack on one port: the Lambda REST API (as @aws-sdk/client-lambda speaks it), Step Functions'
 * JSON 1.0 and API Gateway v2's REST JSON, just enough to record what the deploy asks for.
 */
class FakeLocalStack {
  calls: Call[] = [];
  httpApi = true;
  functions = new Map<string, { config: Record<string, unknown>; reads: number; url?: string }>();
  machines = new Map<string, string>();
  apis = new Map<string, string>();
  parameters = new Map<string, { type: string; value: string }>();
  history: Record<string, unknown>[] = [];
  describes = 0;
  server: Server;
  endpoint = '';

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
    res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const url = new URL(req.url ?? '/', this.endpoint);
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('AmazonSSM.')) return this.ssm(res, target.split('.')[1], body);
    if (typeof target === 'string') return this.states(res, target.split('.')[1], body);
    if (url.pathname.startsWith('/v2/')) return this.apigw(res, req.method ?? 'GET', url.pathname, body);
    return this.lambda(res, req.method ?? 'GET', url.pathname, body);
  }

  private lambda(res: ServerResponse, method: string, pathname: string, body: Record<string, unknown>): void {
    const m = /^\/(2015-03-31|2021-10-31)\/functions(?:\/([^/]+))?(?:\/(configuration|code|url))?$/.exec(pathname);
    if (!m) return this.send(res, 404, { message: `no route ${method} ${pathname}` });
    const name = m[2] ? decodeURIComponent(m[2]) : String(body.FunctionName);
    const fn = this.functions.get(name);
    const action = `${method} ${m[3] ?? 'function'}`;
    this.calls.push({ api: 'lambda', action, target: name, body });
    const notFound = () => this.send(res, 404, { Type: 'User', Message: `Function not found: ${name}` }, 'ResourceNotFoundException');
    const arn = `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
    switch (action) {
      case 'POST function': {
        // Like LocalStack: Pending right after CreateFunction, Active on a later read.
        const config = { ...body, FunctionArn: arn, State: 'Pending', LastUpdateStatus: 'InProgress' };
        delete (config as { Code?: unknown }).Code;
        this.functions.set(name, { config, reads: 0 });
        return this.send(res, 201, config);
      }
      case 'GET configuration': {
        if (!fn) return notFound();
        fn.reads += 1;
        if (fn.reads > 1) Object.assign(fn.config, { State: 'Active', LastUpdateStatus: 'Successful' });
        return this.send(res, 200, fn.config);
      }
      case 'PUT code':
      case 'PUT configuration':
        if (!fn) return notFound();
        if (action === 'PUT configuration') Object.assign(fn.config, body);
        return this.send(res, 200, fn.config);
      case 'DELETE function':
        if (!fn) return notFound();
        this.functions.delete(name);
        res.writeHead(204).end();
        return;
      case 'GET url':
        if (!fn?.url) return notFound();
        return this.send(res, 200, { FunctionUrl: fn.url });
      case 'POST url':
        if (!fn) return notFound();
        fn.url = `http://${name}.lambda-url.us-east-1.localhost.localstack.cloud:4566/`;
        return this.send(res, 201, { FunctionUrl: fn.url, FunctionArn: arn, AuthType: 'NONE' });
      case 'DELETE url':
        if (!fn?.url) return notFound();
        delete fn.url;
        res.writeHead(204).end();
        return;
      default:
        return this.send(res, 404, { message: action });
    }
  }

  /** SSM's JSON 1.1 API, as @aws-sdk/client-ssm speaks it: PutParameter only. */
  private ssm(res: ServerResponse, action: string, body: Record<string, unknown>): void {
    this.calls.push({ api: 'ssm', action, body });
    if (action !== 'PutParameter') return this.send(res, 400, { __type: 'InvalidAction', message: action });
    this.parameters.set(String(body.Name), { type: String(body.Type), value: String(body.Value) });
    return this.send(res, 200, { Version: 1, Tier: 'Standard' });
  }

  private states(res: ServerResponse, action: string, body: Record<string, unknown>): void {
    this.calls.push({ api: 'states', action, body });
    switch (action) {
      case 'ListStateMachines':
        return this.send(res, 200, { stateMachines: [...this.machines].map(([name, arn]) => ({ name, stateMachineArn: arn })) });
      case 'CreateStateMachine': {
        const arn = `arn:aws:states:us-east-1:000000000000:stateMachine:${String(body.name)}`;
        this.machines.set(String(body.name), arn);
        return this.send(res, 200, { stateMachineArn: arn, creationDate: 0 });
      }
      case 'UpdateStateMachine':
        return this.send(res, 200, { updateDate: 0 });
      case 'DeleteStateMachine':
        for (const [name, arn] of this.machines) if (arn === body.stateMachineArn) this.machines.delete(name);
        return this.send(res, 200, {});
      case 'StartExecution':
        return this.send(res, 200, { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:mlops-pipeline-dev:run-1', startDate: 0 });
      case 'DescribeExecution':
        this.describes += 1;
        return this.send(res, 200, this.describes < 2 ? { status: 'RUNNING' } : { status: 'SUCCEEDED', output: '{"promotion":{"decision":"promoted"}}' });
      case 'GetExecutionHistory':
        // The history grows between polls, as a running execution's does.
        return this.send(res, 200, { events: this.history.slice(0, this.describes < 2 ? 3 : undefined) });
      default:
        return this.send(res, 400, { __type: 'com.amazonaws.swf.base.model#InvalidAction', message: action });
    }
  }

  private apigw(res: ServerResponse, method: string, pathname: string, body: Record<string, unknown>): void {
    this.calls.push({ api: 'apigatewayv2', action: `${method} ${pathname}`, body });
    if (!this.httpApi) {
      // What LocalStack answers when the plan has no API Gateway v2.
      return this.send(res, 501, { __type: 'InternalFailure', message: "API for service 'apigatewayv2' not yet implemented or pro feature" });
    }
    if (method === 'GET' && pathname === '/v2/apis') {
      return this.send(res, 200, {
        items: [...this.apis].map(([apiId, name]) => ({ apiId, name, apiEndpoint: `http://${apiId}.execute-api.localhost.localstack.cloud:4566` })),
      });
    }
    if (method === 'POST' && pathname === '/v2/apis') {
      const apiId = `api${this.apis.size + 1}`;
      this.apis.set(apiId, String(body.name));
      return this.send(res, 201, { apiId, name: body.name, apiEndpoint: `http://${apiId}.execute-api.localhost.localstack.cloud:4566` });
    }
    const m = /^\/v2\/apis\/([^/]+)(?:\/(integrations|routes|stages))?$/.exec(pathname);
    if (method === 'DELETE' && m) {
      this.apis.delete(m[1]);
      res.writeHead(204).end();
      return;
    }
    if (method === 'POST' && m?.[2] === 'integrations') return this.send(res, 201, { integrationId: `int-${String(body.integrationUri).split(':').pop()}` });
    return this.send(res, 201, {});
  }
}

const service = serviceDefinition();
const definitionText = await readDefinitionText();
const zip = new Uint8Array([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);
const environment = functionEnvironment(service.environmentNames, {
  MYSQL_HOST: 'mysql',
  MYSQL_PORT: '3306',
  MYSQL_USER: 'mlops',
  MYSQL_DATABASE: 'mlops',
  S3_BUCKET: 'mlops-artifacts',
  S3_ENDPOINT: 'http://minio:9000',
  S3_ACCESS_KEY_ID: 'minio-user',
  DATA_API_DATASET_PATH: 'http://minio:9000/mlops-artifacts/sources/covertype.csv.gz',
});
/** Real-looking secrets: they go to SSM, and never into a function's configuration. */
const secrets = { MYSQL_PASSWORD: 'Zr8kq2VmL9pWx4TnB7cQ', S3_SECRET_ACCESS_KEY: 'minio-Hq3vN8xK2pR7tW4y', ADMIN_TOKEN: 'adm-5c1f9e7a2b8d4f6e0a3c7d91' };
const options = (httpMode: DeployOptions['httpMode']): DeployOptions => ({
  stage: 'dev',
  region: 'us-east-1',
  architecture: 'x86_64',
  httpMode,
  environment,
  secrets,
  lambdaRoleArn: 'arn:aws:iam::000000000000:role/lambda',
  stateMachineRoleArn: 'arn:aws:iam::000000000000:role/states',
  httpApiUrl: (apiId) => `http://${apiId}.execute-api.localhost.localstack.cloud:4566`,
  sleep: async () => undefined,
});
const name = (key: string) => `mlops-pipeline-dev-${key}`;

describe('LocalStack deploy against a fake endpoint', () => {
  const fake = new FakeLocalStack();
  let clients: Clients;
  before(async () => {
    await fake.start();
    clients = localstackClients({ endpoint: fake.endpoint, region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test' });
  });
  after(() => new Promise<void>((resolve) => fake.server.close(() => resolve())));
  beforeEach(() => {
    fake.calls = [];
    fake.functions.clear();
    fake.machines.clear();
    fake.apis.clear();
    fake.parameters.clear();
  });

  test('with an HTTP API: every function with its env, the routes, the state machine with Lambda ARNs', async () => {
    fake.httpApi = true;
    const result = await deployPipeline(clients, service, definitionText, zip, options('auto'));
    assert.equal(result.httpMode, 'http-api');

    const created = fake.calls.filter((c) => c.api === 'lambda' && c.action === 'POST function');
    assert.deepEqual(created.map((c) => c.target).sort(), service.functions.map((f) => name(f.key)).sort());
    const fetchFn = created.find((c) => c.target === name('fetch'))!.body;
    const env = (fetchFn.Environment as { Variables: Record<string, string> }).Variables;
    assert.equal(env.MYSQL_HOST, 'mysql');
    assert.equal(env.S3_ENDPOINT, 'http://minio:9000');
    assert.equal(env.S3_ACCESS_KEY_ID, 'minio-user');
    assert.equal(env.AWS_ACCESS_KEY_ID, undefined, 'Lambda reserves AWS_ACCESS_KEY_ID');
    assert.equal(env.DATA_API_URL, 'http://api1.execute-api.localhost.localstack.cloud:4566');
    assert.equal(fetchFn.Handler, 'dist/functions/fetch.handler');
    assert.equal(fetchFn.Runtime, 'nodejs22.x');
    assert.equal(fetchFn.Timeout, 120);
    assert.deepEqual(fetchFn.Architectures, ['x86_64']);
    assert.equal(typeof (fetchFn.Code as { ZipFile: string }).ZipFile, 'string');

    const routes = fake.calls
      .filter((c) => c.action === 'POST /v2/apis/api1/routes')
      .map((c) => `${String(c.body.routeKey)} → ${String(c.body.target)}`)
      .sort();
    // Every route of the manifest becomes a route to its function's integration.
    const declared = service.functions.flatMap((f) => f.routes.map((r) => `${r.method.toUpperCase()} ${r.path} → integrations/int-${name(f.key)}`)).sort();
    assert.deepEqual(routes, declared);
    assert.ok(routes.includes('POST /predict → integrations/int-mlops-pipeline-dev-predict'));
    const integration = fake.calls.find((c) => c.action === 'POST /v2/apis/api1/integrations')!.body;
    assert.equal(integration.payloadFormatVersion, '2.0');
    assert.ok(fake.calls.some((c) => c.action === 'POST /v2/apis/api1/stages' && c.body.stageName === '$default'));
    assert.equal(result.endpoints['POST /predict'], 'http://api1.execute-api.localhost.localstack.cloud:4566/predict');

    const sm = fake.calls.find((c) => c.action === 'CreateStateMachine')!.body;
    assert.equal(sm.name, 'mlops-pipeline-dev');
    const definition = JSON.parse(String(sm.definition)) as { States: Record<string, { Resource?: string }> };
    assert.equal(definition.States.FetchBatch.Resource, `arn:aws:lambda:us-east-1:000000000000:function:${name('fetch')}`);
    assert.equal(definition.States.RecordFailure.Resource, `arn:aws:lambda:us-east-1:000000000000:function:${name('recordFailure')}`);
    assert.doesNotMatch(String(sm.definition), /\$\{[A-Z][A-Za-z0-9]*FunctionArn\}/);
  });

  test('a second deploy updates code and configuration, and the state machine in place', async () => {
    fake.httpApi = true;
    await deployPipeline(clients, service, definitionText, zip, options('http-api'));
    fake.calls = [];
    await deployPipeline(clients, service, definitionText, zip, options('http-api'));
    assert.equal(fake.calls.filter((c) => c.action === 'POST function').length, 0);
    assert.equal(fake.calls.filter((c) => c.action === 'PUT code').length, service.functions.length);
    assert.equal(fake.calls.filter((c) => c.action === 'PUT configuration').length, service.functions.length);
    assert.ok(fake.calls.some((c) => c.action === 'UpdateStateMachine'));
    assert.ok(!fake.calls.some((c) => c.action === 'CreateStateMachine'));
    assert.ok(
      fake.calls.some((c) => c.action === 'DELETE /v2/apis/api1'),
      'the old HTTP API is replaced',
    );
  });

  test('without API Gateway v2 (community/free plans): function URLs, and fetch is pointed at the data API URL', async () => {
    fake.httpApi = false;
    const result = await deployPipeline(clients, service, definitionText, zip, options('auto'));
    assert.equal(result.httpMode, 'function-url');
    const urls = fake.calls
      .filter((c) => c.action === 'POST url')
      .map((c) => c.target)
      .sort();
    // One function URL per function that serves HTTP routes.
    assert.deepEqual(
      urls,
      service.functions
        .filter((f) => f.routes.length > 0)
        .map((f) => name(f.key))
        .sort(),
    );
    assert.ok(urls.includes(name('dataApi')) && urls.includes(name('predict')));
    const dataApiUrl = `http://${name('dataApi')}.lambda-url.us-east-1.localhost.localstack.cloud:4566`;
    assert.equal(result.dataApiUrl, dataApiUrl);
    assert.equal(result.endpoints['GET /data'], `${dataApiUrl}/data`);
    const update = fake.calls.find((c) => c.action === 'PUT configuration' && c.target === name('fetch'))!.body;
    assert.equal((update.Environment as { Variables: Record<string, string> }).Variables.DATA_API_URL, dataApiUrl);
    assert.ok(!fake.calls.some((c) => c.api === 'apigatewayv2' && c.action.startsWith('POST')));
  });

  test('refuses a name that is not a setting of src/config.ts, and every secret', () => {
    assert.throws(() => functionEnvironment(service.environmentNames, { MYSQL_HOSTNAME: 'x' }), /not a setting every function is given/);
    for (const name of [...Object.keys(secrets), 'AWS_REGION'])
      assert.throws(() => functionEnvironment(service.environmentNames, { [name]: 'x' }), /not a setting every function is given/, name);
    // The settings the hand-kept list of the deploy used to miss.
    for (const name of ['DRIFT_PSI_THRESHOLD', 'DATA_API_SOURCES', 'MONITOR_WEBHOOK_URL']) assert.ok(service.environmentNames.includes(name), name);
  });

  test('the secrets go to SSM as SecureString parameters; every function gets only their names', async () => {
    fake.httpApi = false;
    await deployPipeline(clients, service, definitionText, zip, options('auto'));
    assert.deepEqual(Object.fromEntries(fake.parameters), {
      '/mlops-pipeline/dev/mysql-password': { type: 'SecureString', value: secrets.MYSQL_PASSWORD },
      '/mlops-pipeline/dev/s3-secret-access-key': { type: 'SecureString', value: secrets.S3_SECRET_ACCESS_KEY },
      '/mlops-pipeline/dev/admin-token': { type: 'SecureString', value: secrets.ADMIN_TOKEN },
    });
    const configurations = fake.calls.filter((c) => c.api === 'lambda' && (c.action === 'POST function' || c.action === 'PUT configuration'));
    assert.ok(configurations.length >= service.functions.length);
    for (const c of configurations) {
      const text = JSON.stringify(c.body);
      for (const [name, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `${c.target} ${c.action} carries ${name}`);
      const env = (c.body.Environment as { Variables: Record<string, string> }).Variables;
      assert.equal(env.MYSQL_PASSWORD_PARAMETER, '/mlops-pipeline/dev/mysql-password');
      assert.equal(env.ADMIN_TOKEN_PARAMETER, '/mlops-pipeline/dev/admin-token');
      assert.equal(env.S3_SECRET_ACCESS_KEY_PARAMETER, '/mlops-pipeline/dev/s3-secret-access-key');
    }
  });

  test('refuses to deploy without an admin token, before creating anything', async () => {
    await assert.rejects(
      deployPipeline(clients, service, definitionText, zip, { ...options('auto'), secrets: { MYSQL_PASSWORD: secrets.MYSQL_PASSWORD } }),
      /No admin token: set ADMIN_TOKEN/,
    );
    assert.equal(fake.calls.length, 0);
  });

  test("the LocalStack runner follows an execution through @aws-sdk/client-sfn: each history event once, in the console's shape", async () => {
    const t = 1_700_000_000;
    fake.describes = 0;
    fake.history = [
      { id: 1, previousEventId: 0, type: 'ExecutionStarted', timestamp: t, executionStartedEventDetails: { input: '{}' } },
      { id: 2, previousEventId: 1, type: 'TaskStateEntered', timestamp: t + 1, stateEnteredEventDetails: { name: 'FetchBatch', input: '{}' } },
      {
        id: 3,
        previousEventId: 2,
        type: 'LambdaFunctionFailed',
        timestamp: t + 2,
        lambdaFunctionFailedEventDetails: { error: 'DataApiUnavailable', cause: 'down' },
      },
      {
        id: 4,
        previousEventId: 3,
        type: 'TaskStateExited',
        timestamp: t + 3,
        stateExitedEventDetails: { name: 'FetchBatch', output: '{"fetch":{"batchNumber":0}}' },
      },
      { id: 5, previousEventId: 4, type: 'ExecutionSucceeded', timestamp: t + 4, executionSucceededEventDetails: { output: '{}' } },
    ];
    const sfn = await executionsClient({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:mlops-pipeline-dev', endpoint: fake.endpoint });
    const { executionArn } = await sfn.start({});
    const events: LoggedEvent[] = [];
    const result = await sfn.follow(executionArn, { onEvent: (e) => events.push(e), pollMs: 1 });
    assert.equal(fake.describes, 2, 'followed until it stopped');
    assert.equal(result.status, 'SUCCEEDED');
    assert.deepEqual(result.output, { promotion: { decision: 'promoted' } });
    assert.deepEqual(
      events.map((e) => e.type),
      ['ExecutionStarted', 'StateEntered', 'StateFailed', 'StateCaught', 'StateExited', 'ExecutionSucceeded'],
    );
    assert.deepEqual([events[1].stateName, (events[1].payload.state as { type: string }).type], ['FetchBatch', 'Task']);
    assert.deepEqual([events[2].stateName, events[2].payload.Error], ['FetchBatch', 'DataApiUnavailable']);
    assert.deepEqual((events[4].payload.state as { output: unknown }).output, { fetch: { batchNumber: 0 } });
    assert.equal(events[0].at, new Date(t * 1000).toISOString());
  });

  test('teardown removes the state machine, the function URLs and the functions', async () => {
    fake.httpApi = false;
    await deployPipeline(clients, service, definitionText, zip, options('auto'));
    await teardownPipeline(clients, service, 'dev');
    assert.equal(fake.functions.size, 0);
    assert.equal(fake.machines.size, 0);
  });
});
