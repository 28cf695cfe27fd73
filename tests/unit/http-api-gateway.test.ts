import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';
import { startHttpApiGateway, type HttpApiGateway } from '../../src/embedded/http-api/gateway.ts';
import { type LocalFunction, type LocalService, localService } from '../../src/embedded/http-api/service.ts';

// The local API Gateway (src/embedded/http-api) with a handler module of its own: the event it builds
// against AWS's documented format 2.0 example, routing, bodies, API Gateway's own answers, containers.

const documented = JSON.parse(readFileSync(path.join(repoRoot, 'tests/fixtures/apigw-http-api-v2-event.json'), 'utf8')) as Record<string, unknown>;

/** Every key of the documented event is present with the same JSON type, recursively (values differ). */
function assertSameShape(actual: unknown, expected: unknown, at = 'event'): void {
  const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  assert.equal(kind(actual), kind(expected), `${at}: ${JSON.stringify(actual)} should be a ${kind(expected)}`);
  if (kind(expected) === 'object') {
    for (const [key, value] of Object.entries(expected as Record<string, unknown>)) {
      if (key.startsWith('_')) continue;
      assert.ok(key in (actual as object), `${at}.${key} is missing`);
      // Header, query and path parameter names are the request's own.
      if (['headers', 'queryStringParameters', 'pathParameters'].includes(key)) {
        for (const v of Object.values((actual as Record<string, unknown>)[key] as object)) assert.equal(typeof v, 'string', `${at}.${key} values are strings`);
        continue;
      }
      assertSameShape((actual as Record<string, unknown>)[key], value, `${at}.${key}`);
    }
  }
  if (kind(expected) === 'array')
    for (const [i, v] of (actual as unknown[]).entries()) assert.equal(typeof v, typeof (expected as unknown[])[0], `${at}[${i}]`);
}

const HANDLER = `
import { threadId } from 'node:worker_threads';
// A slow cold start (a model or dataset loaded at init).
await new Promise((r) => setTimeout(r, Number(process.env.INIT_MS ?? 0)));
let invocations = 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const handler = async (event, context) => {
  invocations++;
  const route = event.routeKey;
  if (route === 'GET /boom') throw new TypeError('the handler failed');
  if (route === 'GET /slow') { await sleep(5000); return { statusCode: 200, body: 'late' }; }
  if (route === 'GET /plain') return { answer: 42 };
  if (route === 'GET /picture') return { statusCode: 201, headers: { 'Content-Type': 'image/png', 'X-Thing': 'a' }, cookies: ['a=1', 'b=2; Path=/'], body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true };
  if (route === 'GET /wait') await sleep(Number(event.queryStringParameters.ms));
  if (route === 'GET /callback') return new Promise(() => context.succeed({ statusCode: 202, body: 'via context' }));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      event,
      context: { awsRequestId: context.awsRequestId, functionName: context.functionName, remaining: context.getRemainingTimeInMillis(), memory: context.memoryLimitInMB, arn: context.invokedFunctionArn },
      env: { FROM_YML: process.env.FROM_YML, FROM_FUNCTION: process.env.FROM_FUNCTION, FROM_STACK: process.env.FROM_STACK, AWS_LAMBDA_FUNCTION_NAME: process.env.AWS_LAMBDA_FUNCTION_NAME, IS_OFFLINE: process.env.IS_OFFLINE },
      invocations,
      threadId,
    }),
  };
};
`;

/** The service under test: functions and routes as the manifest would give them (src/embedded/http-api/service.ts). */
function testService(dir: string): LocalService {
  const fn = (key: string, extra: Partial<LocalFunction> = {}): LocalFunction => ({
    key,
    name: `gw-test-dev-${key}`,
    modulePath: path.join(dir, 'handler.js'),
    exportName: 'handler',
    timeoutSeconds: 3,
    memorySize: 1024,
    environment: { FROM_YML: 'from-env' },
    ...extra,
  });
  const functions = [
    fn('api', { memorySize: 256, environment: { FROM_YML: 'from-env', FROM_FUNCTION: 'own' } }),
    fn('slow', { timeoutSeconds: 1 }),
    fn('coldStart', { environment: { FROM_YML: 'from-env', INIT_MS: '700' } }),
    fn('notHttp'),
  ];
  const route = (method: string, routePath: string, functionKey: string) => ({ method, path: routePath, functionKey });
  return {
    service: 'gw-test',
    stage: 'dev',
    region: 'eu-west-1',
    functions: new Map(functions.map((f) => [f.key, f])),
    routes: [
      route('GET', '/items/{id}', 'api'),
      route('POST', '/items/{id}', 'api'),
      route('GET', '/items/special', 'api'),
      route('GET', '/files/{path+}', 'api'),
      ...['/boom', '/plain', '/picture', '/wait', '/callback'].map((p) => route('GET', p, 'api')),
      route('GET', '/slow', 'slow'),
      route('GET', '/cold', 'coldStart'),
    ],
  };
}

interface Echo {
  event: Record<string, unknown> & { requestContext: Record<string, unknown>; headers: Record<string, string> };
  context: { awsRequestId: string; functionName: string; remaining: number; memory: string; arn: string };
  env: Record<string, string | undefined>;
  invocations: number;
  threadId: number;
}

describe('the local HTTP API gateway', { timeout: 60_000 }, () => {
  let dir: string;
  let gateway: HttpApiGateway;
  let output = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-gateway-'));
    await writeFile(path.join(dir, 'handler.js'), HANDLER);
    await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
    const env = { FROM_STACK: 'stack' };
    gateway = await startHttpApiGateway({
      service: testService(dir),
      env,
      port: 0,
      containersPerFunction: 2,
      output: (text) => {
        output += text;
      },
      drainMs: 0,
    });
  });
  after(async () => {
    await gateway?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (route: string, init?: RequestInit) => {
    const response = await fetch(`${gateway.url}${route}`, init);
    return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
  };
  const echo = async (route: string, init?: RequestInit): Promise<Echo> => {
    const r = await get(route, init);
    assert.equal(r.status, 200, r.bytes.toString());
    return JSON.parse(r.bytes.toString()) as Echo;
  };

  test('the event has every key of the documented format 2.0 example, with its type', async () => {
    const { event } = await echo('/items/42?parameter1=value1&parameter1=value2&parameter2=value', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', cookie: 'cookie1=a; cookie2=b', 'X-Mixed-Case': 'yes', 'user-agent': 'agent' },
      body: 'Hello from Lambda',
    });
    assertSameShape(event, documented);
    assert.equal(event.version, '2.0');
    assert.equal(event.routeKey, 'POST /items/{id}');
    assert.equal(event.rawPath, '/items/42');
    assert.equal(event.rawQueryString, 'parameter1=value1&parameter1=value2&parameter2=value');
    assert.deepEqual(event.queryStringParameters, { parameter1: 'value1,value2', parameter2: 'value' });
    assert.deepEqual(event.pathParameters, { id: '42' });
    assert.deepEqual(event.cookies, ['cookie1=a', 'cookie2=b']);
    assert.equal(event.headers['x-mixed-case'], 'yes');
    assert.equal(event.headers.cookie, undefined, 'cookies travel in `cookies`, not as a header');
    assert.equal(event.body, 'Hello from Lambda');
    assert.equal(event.isBase64Encoded, false);
    const rc = event.requestContext;
    assert.equal(rc.routeKey, 'POST /items/{id}');
    assert.equal(rc.stage, '$default');
    assert.deepEqual(rc.http, { method: 'POST', path: '/items/42', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'agent' });
    assert.match(String(rc.time), /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    assert.ok(Math.abs(Number(rc.timeEpoch) - Date.now()) < 60_000);
  });

  test('no query, no path parameters, no body: those keys are absent, as on API Gateway', async () => {
    const { event } = await echo('/items/special');
    assert.equal(event.routeKey, 'GET /items/special', 'a literal segment wins over {id}');
    for (const key of ['queryStringParameters', 'pathParameters', 'body', 'cookies']) assert.ok(!(key in event), key);
    assert.equal(event.rawQueryString, '');
    assert.equal(event.isBase64Encoded, false);
  });

  test('path parameters are decoded; {name+} takes the rest of the path', async () => {
    assert.deepEqual((await echo('/items/a%20b')).event.pathParameters, { id: 'a b' });
    assert.deepEqual((await echo('/files/css/site.css')).event.pathParameters, { path: 'css/site.css' });
  });

  test('a binary body arrives base64-encoded, a JSON body as text', async () => {
    const bytes = Buffer.from([0, 159, 146, 150, 255]);
    const binary = await echo('/items/1', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(binary.event.isBase64Encoded, true);
    assert.deepEqual(Buffer.from(String(binary.event.body), 'base64'), bytes);
    const json = await echo('/items/1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"é":1}' });
    assert.equal(json.event.isBase64Encoded, false);
    assert.equal(json.event.body, '{"é":1}');
  });

  test('the response: status, headers, each cookie a set-cookie, a base64 body as bytes', async () => {
    const r = await get('/picture');
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('content-type'), 'image/png');
    assert.equal(r.headers.get('x-thing'), 'a');
    assert.deepEqual(r.headers.getSetCookie(), ['a=1', 'b=2; Path=/']);
    assert.deepEqual(r.bytes, Buffer.from([0, 1, 2, 255]));
    assert.ok(r.headers.get('apigw-requestid'));
  });

  test('a result without statusCode is a 200 JSON body', async () => {
    const r = await get('/plain');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(r.bytes.toString()), { answer: 42 });
  });

  test('context.succeed answers like a returned result', async () => {
    const r = await get('/callback');
    assert.equal(r.status, 202);
    assert.equal(r.bytes.toString(), 'via context');
  });

  test('unknown route or method: 404 {"message":"Not Found"}', async () => {
    for (const [route, method] of [
      ['/nowhere', 'GET'],
      ['/plain', 'POST'],
      ['/items', 'GET'],
    ]) {
      const r = await get(route, { method });
      assert.equal(r.status, 404, route);
      assert.deepEqual(JSON.parse(r.bytes.toString()), { message: 'Not Found' });
    }
  });

  test('a handler error is a 500 {"message":"Internal Server Error"}, logged with the function output', async () => {
    const r = await get('/boom');
    assert.equal(r.status, 500);
    assert.deepEqual(JSON.parse(r.bytes.toString()), { message: 'Internal Server Error' });
    assert.match(output, /ERROR\tInvoke Error\t.*"errorType":"TypeError","errorMessage":"the handler failed"/);
    // The container survives a handled error.
    assert.equal((await get('/plain')).status, 200);
  });

  test('over the function timeout: 504, and the timed-out container is not reused', async () => {
    const started = Date.now();
    const r = await get('/slow');
    assert.equal(r.status, 504);
    assert.deepEqual(JSON.parse(r.bytes.toString()), { message: 'Service Unavailable' });
    assert.ok(Date.now() - started < 4000, 'answered at the 1 s timeout, not when the handler ended');
    assert.match(output, /gw-test-dev-slow: \S+ Task timed out after 1\.00 seconds/);
    assert.equal(gateway.workers('slow')?.containers, 0);
  });

  test("the function's environment: the stack's, serverless.yml's resolved, Lambda's own; a Lambda-like context", async () => {
    const { env, context, event } = await echo('/items/7');
    assert.deepEqual(env, { FROM_YML: 'from-env', FROM_FUNCTION: 'own', FROM_STACK: 'stack', AWS_LAMBDA_FUNCTION_NAME: 'gw-test-dev-api', IS_OFFLINE: 'true' });
    assert.equal(context.functionName, 'gw-test-dev-api');
    assert.equal(context.awsRequestId, event.requestContext.requestId);
    assert.equal(context.memory, '256');
    assert.equal(context.arn, 'arn:aws:lambda:eu-west-1:000000000000:function:gw-test-dev-api');
    assert.ok(context.remaining > 2000 && context.remaining <= 3000, String(context.remaining));
  });

  test('while a container is still starting, other requests wait for it instead of each starting one', async () => {
    const answers = Promise.all(Array.from({ length: 3 }, () => echo('/cold')));
    // Half-way through the first container's 700 ms init, it is the only one.
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(gateway.workers('coldStart')?.containers, 1);
    const threads = new Set((await answers).map((a) => a.threadId));
    // A second container may start once the first is warm, but no request waits for its init: the warm one answers them.
    assert.equal(threads.size, 1, `threads ${[...threads]}`);
  });

  test('warm containers: both serve under load, the rest wait in line; each loads the handler once', async () => {
    // The earlier tests warmed the first container: while it is busy, the second starts and takes its share.
    assert.equal(gateway.workers('api')?.containers, 1);
    const answers = await Promise.all(Array.from({ length: 8 }, () => echo('/wait?ms=400')));
    assert.equal(gateway.workers('api')?.containers, 2, 'two containers, not one per request');
    const threads = new Set(answers.map((a) => a.threadId));
    assert.equal(threads.size, 2, `threads ${[...threads]}`);
    // Module state lives on between invocations of one container (the handler module is not reloaded).
    const perThread = new Map<number, number[]>();
    for (const a of answers) perThread.set(a.threadId, [...(perThread.get(a.threadId) ?? []), a.invocations]);
    for (const counts of perThread.values()) assert.equal(new Set(counts).size, counts.length, 'each invocation counted once in its container');
    assert.ok(Math.max(...answers.map((a) => a.invocations)) > 1);
  });
});

test("the manifest's service: every HTTP route, the functions' handlers, timeouts and environment", () => {
  const service = localService({ MYSQL_HOST: 'db.example', STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:x' });
  assert.ok(service.routes.some((r) => r.method === 'POST' && r.path === '/predict' && r.functionKey === 'predict'));
  assert.ok(service.routes.some((r) => r.method === 'GET' && r.path === '/models/{name}/versions/{version}/evaluation' && r.functionKey === 'console'));
  assert.ok(!service.routes.some((r) => r.functionKey === 'train'), 'a step function has no route');
  const predict = service.functions.get('predict');
  assert.ok(predict);
  assert.equal(predict.name, 'mlops-pipeline-dev-predict');
  assert.equal(predict.modulePath, path.join(repoRoot, 'dist/functions/predict.js'));
  assert.equal(predict.exportName, 'handler');
  assert.equal(predict.timeoutSeconds, 29);
  assert.equal(predict.environment.MYSQL_HOST, 'db.example');
  assert.equal(predict.environment.STATE_MACHINE_ARN, undefined, "another function's own setting");
  assert.equal(service.functions.get('executions')?.environment.STATE_MACHINE_ARN, 'arn:aws:states:us-east-1:000000000000:stateMachine:x');
});
