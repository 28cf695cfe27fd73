import { timingSafeEqual } from 'node:crypto';
import { AdminTokenNotConfigured, Forbidden, MethodNotAllowed, NotFound, Unauthorized } from '../../src/errors.ts';
import { type HttpFunctionName, type Route, type RouteKey, routeKey, routesOf } from '../../src/service/manifest.ts';
import { getConfig, loadSecrets } from './context.ts';
import type { HttpEvent, HttpResponse } from './middleware.ts';

/** What answers one route. */
export type RouteHandler<C = unknown> = (event: HttpEvent, context: C) => Promise<HttpResponse>;

interface CompiledRoute {
  route: Route;
  key: string;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const pattern = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, key: routeKey(route), pattern: new RegExp(`^${pattern}$`), names };
}

/**
 * The route an event is for, with `routeKey` and `pathParameters` set on it, whatever delivered the
 * request: API Gateway sets them; a Lambda function URL (LocalStack's free plans) sends `$default`
 * and only the raw path, matched here. A path no route has is a 404; one whose routes take other
 * methods, a 405 naming them.
 */
function match(table: readonly CompiledRoute[], event: HttpEvent): CompiledRoute {
  const given = table.find((r) => r.key === event.routeKey);
  if (given) return given;
  const method = event.requestContext?.http?.method ?? '';
  const rawPath = event.rawPath ?? '';
  const onPath = table.flatMap((r) => {
    const found = r.pattern.exec(rawPath);
    return found ? [{ r, found }] : [];
  });
  const hit = onPath.find(({ r }) => r.route.method === method);
  if (!hit) {
    if (onPath.length === 0) throw new NotFound(`No route ${method} ${rawPath}`);
    const allow = [...new Set(onPath.map(({ r }) => r.route.method))];
    throw new MethodNotAllowed(`No route ${method} ${rawPath}: it takes ${allow.join(', ')}`, allow);
  }
  event.routeKey = hit.r.key;
  event.pathParameters = Object.fromEntries(hit.r.names.map((n, i) => [n, decodeURIComponent(hit.found[i + 1])]));
  return hit.r;
}

/**
 * The admin guard of a route the manifest marks `admin`: it needs `authorization: Bearer <token>`,
 * always. No token sent is a 401, a wrong one a 403, and a deployment without a configured token
 * refuses it (503); in each case the route's handler does not run.
 */
export function checkAdminToken(route: string, headers: HttpEvent['headers'], expected: string | undefined): void {
  if (!expected) throw new AdminTokenNotConfigured(`${route} is closed: this deployment has no admin token configured (ADMIN_TOKEN)`);
  const given = /^Bearer (.+)$/.exec(headers?.authorization ?? headers?.Authorization ?? '')?.[1];
  if (given === undefined) throw new Unauthorized(`${route} needs the admin token: send "authorization: Bearer <ADMIN_TOKEN>"`);
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new Forbidden(`${route}: the admin token sent is not this deployment's`);
}

/** The admin token, read from SSM (where configured) the first time a guarded route is called. */
async function adminToken(): Promise<string | undefined> {
  await loadSecrets(['ADMIN_TOKEN']);
  return getConfig().ADMIN_TOKEN;
}

/** Routes the requests of `routes` to their handlers, the admin ones through the guard. */
export function routeTable<C>(
  routes: readonly Route[],
  handlers: Readonly<Record<string, RouteHandler<C>>>,
  token: () => Promise<string | undefined> = adminToken,
): RouteHandler<C> {
  const table = routes.map(compile);
  return async (event, context) => {
    const { route, key } = match(table, event);
    if (route.admin) checkAdminToken(key, event.headers, await token());
    return handlers[key](event, context);
  };
}

/** The handler of function `name`: one handler per route the manifest gives it, no more, no fewer. */
export function router<F extends HttpFunctionName, C = unknown>(name: F, handlers: NoInfer<{ readonly [K in RouteKey<F>]: RouteHandler<C> }>): RouteHandler<C> {
  return routeTable<C>(routesOf(name), handlers as Readonly<Record<string, RouteHandler<C>>>);
}
