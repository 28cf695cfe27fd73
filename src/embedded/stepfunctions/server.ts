import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SfnApiError } from './errors.ts';
import type { StepFunctionsService } from './service.ts';

/** AWS's JSON 1.0 protocol: `POST /`, `X-Amz-Target: AWSStepFunctions.<Operation>`, JSON in and out. */
const TARGET_PREFIX = 'AWSStepFunctions.';
const CONTENT_TYPE = 'application/x-amz-json-1.0';
const MAX_BODY_BYTES = 2 * 1024 * 1024;

function send(res: http.ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': crypto.randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(text);
}

const sendError = (res: http.ServerResponse, error: SfnApiError) => send(res, error.status, { __type: error.type, message: error.message }, error.type);

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new SfnApiError('ValidationException', `Request body over ${MAX_BODY_BYTES} bytes`, 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves the service over HTTP; resolves with the port once it listens. */
export class StepFunctionsServer {
  private readonly service: StepFunctionsService;
  private readonly server: http.Server;
  port = 0;

  constructor(service: StepFunctionsService) {
    this.service = service;
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // AWS's endpoints keep an idle connection open for about a minute; Node's default 5 s lets a client
    // that reuses a pooled connection after a longer stall (a loaded machine) meet a reset instead.
    this.server.keepAliveTimeout = 60_000;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') {
        throw new SfnApiError('UnknownOperationException', `${req.method} ${req.url}: the Step Functions API takes POST / with an X-Amz-Target header`, 404);
      }
      const target = String(req.headers['x-amz-target'] ?? '');
      if (!target.startsWith(TARGET_PREFIX)) {
        throw new SfnApiError('UnknownOperationException', `X-Amz-Target '${target}' does not name an AWSStepFunctions operation`);
      }
      const text = await readBody(req);
      let body: unknown = {};
      if (text.trim()) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new SfnApiError('SerializationException', 'The request body is not JSON');
        }
      }
      send(res, 200, await this.service.call(target.slice(TARGET_PREFIX.length), body));
    } catch (error) {
      if (error instanceof SfnApiError) {
        sendError(res, error);
      } else {
        sendError(res, new SfnApiError('InternalFailure', (error as Error).message ?? String(error), 500));
      }
    }
  }
}
