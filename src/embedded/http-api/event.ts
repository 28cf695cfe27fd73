import { randomUUID } from 'node:crypto';
import type { HttpRoute } from './service.ts';

/**
 * API Gateway HTTP API's side of a Lambda proxy integration, payload format 2.0: the request as the
 * event a function receives, and the function's result as the HTTP response
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
 */

export interface HttpApiEventV2 {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  pathParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

/** What the gateway knows of a request before it routes it. */
export interface IncomingRequest {
  method: string;
  /** The request target: path and query string, as sent. */
  url: string;
  /** Node's rawHeaders: name, value, name, value… */
  rawHeaders: readonly string[];
  httpVersion: string;
  sourceIp: string;
  body: Buffer;
}

export interface MatchedRoute {
  route: HttpRoute;
  pathParameters: Record<string, string>;
}

interface CompiledRoute {
  route: HttpRoute;
  pattern: RegExp;
  names: string[];
  /** Literal segments first, as API Gateway prefers the most specific route. */
  literals: number;
}

/** Routes `METHOD /path/{param}` as an HTTP API does: exact method (or ANY), `{name}` one segment, `{name+}` the rest. */
export function routeMatcher(routes: readonly HttpRoute[]): (method: string, path: string) => MatchedRoute | undefined {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const names: string[] = [];
    let literals = 0;
    const source = route.path
      .split('/')
      .map((segment) => {
        const param = /^\{([^}+]+)(\+?)\}$/.exec(segment);
        if (!param) {
          literals++;
          return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }
        names.push(param[1]);
        return param[2] ? '(.+)' : '([^/]+)';
      })
      .join('/');
    return { route, pattern: new RegExp(`^${source}$`), names, literals };
  });
  compiled.sort((a, b) => b.literals - a.literals);
  return (method, path) => {
    for (const c of compiled) {
      if (c.route.method !== method && c.route.method !== 'ANY' && c.route.method !== '*') continue;
      const m = c.pattern.exec(path);
      if (!m) continue;
      const pathParameters = Object.fromEntries(c.names.map((name, i) => [name, safeDecode(m[i + 1])]));
      return { route: c.route, pathParameters };
    }
    return undefined;
  };
}

const safeDecode = (text: string): string => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

/** Bodies API Gateway passes as text; any other content type arrives base64-encoded. */
const isTextual = (contentType: string | undefined): boolean => {
  if (!contentType) return true;
  const type = contentType.split(';')[0].trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type.endsWith('+json') ||
    type === 'application/xml' ||
    type.endsWith('+xml') ||
    type === 'application/javascript' ||
    type === 'application/x-www-form-urlencoded'
  );
};

/** CLF-style time of the request context: `12/Mar/2020:19:03:58 +0000`. */
function requestTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

export interface ApiIdentity {
  accountId: string;
  apiId: string;
}

/** The event API Gateway hands the function for this request on this route. */
export function toEventV2(request: IncomingRequest, matched: MatchedRoute, api: ApiIdentity, now = new Date()): HttpApiEventV2 {
  const query = request.url.indexOf('?');
  const rawPath = query < 0 ? request.url : request.url.slice(0, query);
  const rawQueryString = query < 0 ? '' : request.url.slice(query + 1);
  // Header names lower-cased; repeated headers joined with commas; cookies apart, in `cookies`.
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i].toLowerCase();
    const value = request.rawHeaders[i + 1];
    if (name === 'cookie') {
      for (const cookie of value.split(';')) if (cookie.trim()) cookies.push(cookie.trim());
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const queryStringParameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
  }
  const routeKey = `${matched.route.method} ${matched.route.path}`;
  const domainName = headers.host ?? 'localhost';
  const textual = isTextual(headers['content-type']);
  const event: HttpApiEventV2 = {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters } : {}),
    ...(Object.keys(matched.pathParameters).length ? { pathParameters: matched.pathParameters } : {}),
    requestContext: {
      accountId: api.accountId,
      apiId: api.apiId,
      domainName,
      domainPrefix: domainName.split('.')[0],
      http: {
        method: request.method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: request.body.length > 0 && !textual,
  };
  if (request.body.length > 0) event.body = textual ? request.body.toString('utf8') : request.body.toString('base64');
  return event;
}

export interface HttpReply {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** API Gateway's own answers: unknown route, failed function, timed-out function. */
export const NOT_FOUND: HttpReply = { statusCode: 404, headers: JSON_TYPE, cookies: [], body: Buffer.from('{"message":"Not Found"}') };
export const INTERNAL_ERROR: HttpReply = { statusCode: 500, headers: JSON_TYPE, cookies: [], body: Buffer.from('{"message":"Internal Server Error"}') };
export const TIMED_OUT: HttpReply = { statusCode: 504, headers: JSON_TYPE, cookies: [], body: Buffer.from('{"message":"Service Unavailable"}') };

/**
 * A function's result as the HTTP response (format 2.0): a `statusCode` makes it a response
 * (headers, cookies, body, isBase64Encoded); anything else is the body of a 200 JSON response.
 */
export function fromResultV2(result: unknown): HttpReply {
  if (result !== null && typeof result === 'object' && 'statusCode' in result) {
    const r = result as { statusCode: unknown; headers?: Record<string, unknown>; cookies?: unknown; body?: unknown; isBase64Encoded?: unknown };
    const statusCode = Number(r.statusCode);
    if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return INTERNAL_ERROR;
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
    const cookies = Array.isArray(r.cookies) ? r.cookies.map(String) : [];
    const text = typeof r.body === 'string' ? r.body : r.body === undefined || r.body === null ? '' : JSON.stringify(r.body);
    const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
    return { statusCode, headers, cookies, body };
  }
  const body = result === undefined ? '' : typeof result === 'string' ? result : JSON.stringify(result);
  return { statusCode: 200, headers: JSON_TYPE, cookies: [], body: Buffer.from(body, 'utf8') };
}
