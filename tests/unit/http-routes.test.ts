import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import middy from '@middy/core';
import { repoRoot } from '../../src/config.ts';
import { httpRoutes, type Route } from '../../src/service/manifest.ts';
import { httpErrors, json, type HttpEvent, type HttpResponse } from '../../functions/lib/middleware.ts';
import { routeTable } from '../../functions/lib/router.ts';

const echo = async (event: HttpEvent): Promise<HttpResponse> => json(200, { route: event.routeKey, params: event.pathParameters });
const ROUTES: Route[] = [
  { method: 'GET', path: '/models' },
  { method: 'GET', path: '/models/{name}/versions/{version}' },
  { method: 'POST', path: '/models/{name}/rollback', admin: true },
];
let token: string | undefined = 'correct-horse-battery-staple';
const handler = middy<HttpEvent, HttpResponse>(
  routeTable(ROUTES, Object.fromEntries(ROUTES.map((r) => [`${r.method} ${r.path}`, echo])), async () => token),
).use(httpErrors());

const call = async (event: HttpEvent) => {
  const response = await handler(event, {} as never);
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(response.body) as Record<string, unknown> };
};

test('an API Gateway route key is kept as it came', async () => {
  const r = await call({
    routeKey: 'GET /models/{name}/versions/{version}',
    rawPath: '/models/covertype/versions/2',
    pathParameters: { name: 'covertype', version: '2' },
    requestContext: { http: { method: 'GET' } },
  });
  assert.deepEqual(r.body, { route: 'GET /models/{name}/versions/{version}', params: { name: 'covertype', version: '2' } });
});

test('a function URL request ($default) is matched by method and path, parameters decoded', async () => {
  const r = await call({ routeKey: '$default', rawPath: '/models/cover%20type/versions/2', requestContext: { http: { method: 'GET' } } });
  assert.deepEqual(r.body, { route: 'GET /models/{name}/versions/{version}', params: { name: 'cover type', version: '2' } });
  const post = await call({
    rawPath: '/models/covertype/rollback',
    headers: { authorization: 'Bearer correct-horse-battery-staple' },
    requestContext: { http: { method: 'POST' } },
  });
  assert.equal(post.body.route, 'POST /models/{name}/rollback');
});

test('an unknown path is a 404 naming it; a known path with another method a 405 with the Allow header', async () => {
  const missing = await call({ routeKey: '$default', rawPath: '/modelz', requestContext: { http: { method: 'GET' } } });
  assert.equal(missing.status, 404);
  assert.match(String(missing.body.message), /No route GET \/modelz/);
  const wrong = await call({ routeKey: '$default', rawPath: '/models/covertype/rollback', requestContext: { http: { method: 'GET' } } });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.allow, 'POST');
  assert.match(String(wrong.body.message), /No route GET \/models\/covertype\/rollback/);
});

test('admin routes need the admin token: none is 401, a wrong one 403, and without a configured token they stay closed', async () => {
  token = 'correct-horse-battery-staple';
  const send = async (method: string, rawPath: string, headers: Record<string, string> = {}) =>
    (await handler({ rawPath, headers, requestContext: { http: { method } } }, {} as never)).statusCode;
  assert.equal(await send('POST', '/models/covertype/rollback'), 401);
  assert.equal(await send('POST', '/models/covertype/rollback', { authorization: 'correct-horse-battery-staple' }), 401, 'not a bearer token');
  assert.equal(await send('POST', '/models/covertype/rollback', { authorization: 'Bearer wrong' }), 403);
  assert.equal(await send('POST', '/models/covertype/rollback', { authorization: 'Bearer correct-horse-battery-staplf' }), 403);
  assert.equal(await send('POST', '/models/covertype/rollback', { authorization: 'Bearer correct-horse-battery-staple' }), 200);
  assert.equal(await send('GET', '/models'), 200, 'reads stay open');
  token = undefined;
  assert.equal(await send('POST', '/models/covertype/rollback', { authorization: 'Bearer anything' }), 503, 'no configured token: closed, not open');
  assert.equal(await send('GET', '/models'), 200);
});

/** The routes that change the registry or start runs: the ones the manifest must mark `admin`. */
const GUARDED = [
  'POST /executions',
  'POST /executions/{id}/redrive',
  'POST /models/{name}/champion',
  'POST /models/{name}/rollback',
  'POST /monitoring/{name}/run',
];

test("every function's own handler guards the routes that change the registry or start runs, before doing anything", async () => {
  process.env.ADMIN_TOKEN = 'unit-test-admin-token-0c7e5a';
  const guarded = httpRoutes().filter((r) => r.admin);
  assert.deepEqual(guarded.map((r) => `${r.method} ${r.path}`).sort(), GUARDED);
  for (const route of guarded) {
    const module = (await import(pathToFileURL(path.join(repoRoot, `${route.module}.ts`)).href)) as Record<string, unknown>;
    const fn = module[route.export] as (event: HttpEvent, context: unknown) => Promise<HttpResponse>;
    const rawPath = route.path.replace(/\{\w+\}/g, 'x1');
    const event = (authorization?: string): HttpEvent => ({
      rawPath,
      headers: authorization ? { authorization } : {},
      requestContext: { http: { method: route.method } },
    });
    assert.equal((await fn(event(), {})).statusCode, 401, `${route.method} ${route.path} without a token`);
    assert.equal((await fn(event('Bearer not-the-admin-token-at-all'), {})).statusCode, 403, `${route.method} ${route.path} with a wrong token`);
  }
});

test("a function's handler answers 404 for a path it does not serve and 405 for a method its path does not take", async () => {
  const { handler: registry } = await import('../../functions/registry.ts');
  const missing = await registry({ rawPath: '/nothing/here', requestContext: { http: { method: 'GET' } } }, {} as never);
  assert.equal(missing.statusCode, 404);
  const wrong = await registry({ rawPath: '/models/covertype/rollback', requestContext: { http: { method: 'GET' } } }, {} as never);
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.headers.allow, 'POST');
});
