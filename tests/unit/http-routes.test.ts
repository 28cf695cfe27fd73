import assert from 'node:assert/strict';
import { test } from 'node:test';
import middy from '@middy/core';
import { adminOnly, httpErrors, json, routes, type HttpEvent, type HttpResponse } from '../../functions/lib/middleware.ts';

const echo = async (event: HttpEvent): Promise<HttpResponse> => json(200, { route: event.routeKey, params: event.pathParameters });
const handler = middy<HttpEvent, HttpResponse>(echo)
  .use(httpErrors())
  .use(routes(['GET /models', 'GET /models/{name}/versions/{version}', 'POST /models/{name}/rollback']));

const call = async (event: HttpEvent) => {
  const response = await handler(event, {} as never);
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
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
  const post = await call({ rawPath: '/models/covertype/rollback', requestContext: { http: { method: 'POST' } } });
  assert.equal(post.body.route, 'POST /models/{name}/rollback');
});

test('an unknown path or method is a 404 naming it', async () => {
  const r = await call({ routeKey: '$default', rawPath: '/models/covertype/rollback', requestContext: { http: { method: 'GET' } } });
  assert.equal(r.status, 404);
  assert.match(String(r.body.message), /No route GET \/models\/covertype\/rollback/);
});

test('guarded routes need the admin token: none is 401, a wrong one 403, and without a configured token they stay closed', async () => {
  let token: string | undefined = 'correct-horse-battery-staple';
  const guarded = middy<HttpEvent, HttpResponse>(echo)
    .use(httpErrors())
    .use(routes(['GET /models', 'POST /models/{name}/rollback']))
    .use(adminOnly(['POST /models/{name}/rollback'], () => token));
  const send = async (method: string, rawPath: string, headers: Record<string, string> = {}) =>
    (await guarded({ rawPath, headers, requestContext: { http: { method } } }, {} as never)).statusCode;
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
