import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromResultV2, INTERNAL_ERROR, NOT_FOUND, routeMatcher, TIMED_OUT, toEventV2, type HttpReply } from './event.ts';
import type { LocalService } from './service.ts';
import { FunctionWorkers } from './workers.ts';

export interface HttpApiGatewayOptions {
  service: LocalService;
  /** The functions' environment before their own settings (the stack's, as serverless-offline got it). */
  env: Record<string, string | undefined>;
  host?: string;
  /** 0: a free port. */
  port: number;
  /** Warm containers per function (default 2). */
  containersPerFunction?: number;
  /** The functions' output. */
  output?: (text: string) => void;
  drainMs?: number;
}

export interface HttpApiGateway {
  port: number;
  url: string;
  /** The containers of a function (for tests and diagnostics). */
  workers(functionKey: string): FunctionWorkers | undefined;
  close(): Promise<void>;
}

/** The local API Gateway's identity in the events (as LocalStack and serverless-offline use). */
const ACCOUNT_ID = '000000000000';
const API_ID = 'local';

/**
 * A local API Gateway HTTP API for the embedded runtime: routes as the service manifest declares them,
 * each request as a payload-format-2.0 event to the function's own handler module running in warm
 * worker-thread containers (workers.ts), and the result back as API Gateway turns it into HTTP.
 */
export async function startHttpApiGateway(options: HttpApiGatewayOptions): Promise<HttpApiGateway> {
  const { service } = options;
  const match = routeMatcher(service.routes);
  const pools = new Map<string, FunctionWorkers>();
  const output = options.output ?? ((text: string) => process.stdout.write(text));
  const poolOf = (key: string): FunctionWorkers => {
    let pool = pools.get(key);
    if (!pool) {
      const fn = service.functions.get(key);
      if (!fn) throw new Error(`Route to unknown function ${key}`);
      pool = new FunctionWorkers(fn, {
        env: options.env,
        region: service.region,
        accountId: ACCOUNT_ID,
        maxContainers: options.containersPerFunction ?? 2,
        output,
        drainMs: options.drainMs,
      });
      pools.set(key, pool);
    }
    return pool;
  };

  const reply = (res: http.ServerResponse, r: HttpReply, requestId?: string) => {
    const headers: http.OutgoingHttpHeaders = { ...r.headers, 'content-length': r.body.length };
    if (requestId) headers['apigw-requestid'] = requestId;
    if (r.cookies.length) headers['set-cookie'] = r.cookies;
    res.writeHead(r.statusCode, headers);
    res.end(r.body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '/';
      const queryAt = url.indexOf('?');
      const matched = match(req.method ?? 'GET', queryAt < 0 ? url : url.slice(0, queryAt));
      if (!matched) return reply(res, NOT_FOUND);
      const event = toEventV2(
        {
          method: req.method ?? 'GET',
          url,
          rawHeaders: req.rawHeaders,
          httpVersion: req.httpVersion,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
        },
        matched,
        { accountId: ACCOUNT_ID, apiId: API_ID },
      );
      poolOf(matched.route.functionKey)
        .invoke(event, event.requestContext.requestId)
        .then(
          (outcome) =>
            reply(
              res,
              outcome.kind === 'result' ? fromResultV2(outcome.result) : outcome.kind === 'timeout' ? TIMED_OUT : INTERNAL_ERROR,
              event.requestContext.requestId,
            ),
          () => reply(res, INTERNAL_ERROR, event.requestContext.requestId),
        );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    workers: (key) => pools.get(key),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}
