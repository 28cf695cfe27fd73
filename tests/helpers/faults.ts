// Fault injection for tests: a fake data API whose every answer a test scripts, a TCP proxy that can
// refuse or cut connections in front of a real server (MySQL, S3), and a closed port. All on 127.0.0.1.
import http from 'node:http';
import net from 'node:net';
import { freePort } from '../../src/embedded/stack.ts';
import type { DatasetSpec } from '../../src/dataset/spec.ts';
import { fetchBatch, type FetchResult } from '../../src/pipeline/fetch.ts';
import { preprocess, type PreprocessResult } from '../../src/pipeline/preprocess.ts';
import { promote, type PromoteResult } from '../../src/pipeline/promote.ts';
import { train, TrainParamsSchema, type TrainResult } from '../../src/pipeline/train.ts';
import type { Pool } from '../../src/storage/mysql.ts';
import type { ArtifactStore } from '../../src/storage/s3.ts';

/** What the fake data API does with one request. */
export type Reply =
  | { kind: 'batch'; rows: unknown[]; batchNumber?: number }
  | { kind: 'json'; status: number; body: unknown }
  | { kind: 'text'; status: number; text: string; contentType?: string }
  /** Accepts the connection and closes it without a response. */
  | { kind: 'reset' }
  /** Never answers (the caller's timeout must fire). */
  | { kind: 'hang' }
  /** Sends status and headers, then half a body, then stalls. */
  | { kind: 'stall-body' };

export interface FakeDataApi {
  url: string;
  port: number;
  /** Requests seen so far. */
  calls: number;
  /** Replies for the next requests, in order; then `fallback`. */
  queue: Reply[];
  fallback: () => Reply;
  close(): Promise<void>;
}

export async function startFakeDataApi(fallback: () => Reply): Promise<FakeDataApi> {
  const open = new Set<net.Socket>();
  const api: FakeDataApi = { url: '', port: 0, calls: 0, queue: [], fallback, close: async () => undefined };
  const server = http.createServer((req, res) => {
    api.calls++;
    const reply = api.queue.shift() ?? api.fallback();
    const url = new URL(req.url ?? '/', 'http://x');
    const group = Number(url.searchParams.get('group_number') ?? '0');
    switch (reply.kind) {
      case 'batch':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ group_number: group, batch_number: reply.batchNumber ?? 1, data: reply.rows }));
        return;
      case 'json':
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply.body));
        return;
      case 'text':
        res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/plain' });
        res.end(reply.text);
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'hang':
        return;
      case 'stall-body':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
        res.write('{"group_number":1,"batch_number":1,"data":[["3318","112"');
        return;
    }
  });
  server.on('connection', (socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.port = (server.address() as net.AddressInfo).port;
  api.url = `http://127.0.0.1:${api.port}`;
  api.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of open) socket.destroy();
      server.close(() => resolve());
    });
  return api;
}

/** A port nothing listens on (connections are refused). */
export const closedPort = freePort;

/**
 * A TCP proxy in front of a real server. `down()` stops listening and drops every connection (new
 * ones are refused); `up()` listens again on the same port; `cutAfter(n)` drops the connections once
 * n more bytes went from clients to the server (a failure in the middle of a request or transaction).
 */
export class TcpProxy {
  readonly targetPort: number;
  port = 0;
  private server: net.Server | undefined;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private budget = Number.POSITIVE_INFINITY;
  /** Bytes sent from clients to the server since the start. */
  bytesUp = 0;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, '127.0.0.1');
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('data', (chunk: Buffer) => {
        this.bytesUp += chunk.length;
        this.budget -= chunk.length;
        if (this.budget < 0) {
          drop();
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  dropAll(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  cutAfter(bytes: number): void {
    this.budget = bytes;
  }

  heal(): void {
    this.budget = Number.POSITIVE_INFINITY;
  }
}

/** Rows of the course layout (13 strings) as a record keyed by column name, numbers as numbers: a predict row. */
export function toPredictRow(spec: DatasetSpec, row: readonly string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  spec.columns.forEach((c, i) => {
    if (c.name === spec.target) return;
    out[c.name] = c.type === 'categorical' ? row[i] : Number(row[i]);
  });
  return out;
}

export interface DomainRun {
  fetches: FetchResult[];
  dataset: PreprocessResult;
  train: TrainResult;
  promotion: PromoteResult;
}

/** fetch × batches → preprocess → train → promote, by the domain functions, as the state machine chains them. */
export async function runDomainPipeline(
  deps: { pool: Pool; store: ArtifactStore; spec: DatasetSpec; dataApiUrl: string },
  executionId: string,
  options: { batches?: number; nEstimators?: number; seed?: number } = {},
): Promise<DomainRun> {
  const fetches: FetchResult[] = [];
  for (let i = 0; i < (options.batches ?? 1); i++) {
    fetches.push(
      await fetchBatch({ pool: deps.pool, spec: deps.spec, dataApiUrl: deps.dataApiUrl, timeoutMs: 5000 }, { executionId, groupNumber: 1, fetchIndex: i }),
    );
  }
  const dataset = await preprocess({ pool: deps.pool, store: deps.store, spec: deps.spec }, executionId);
  const trained = await train(
    { pool: deps.pool, store: deps.store, workers: 1 },
    {
      executionId,
      datasetVersion: dataset.datasetVersion,
      manifestKey: dataset.manifestKey,
      params: TrainParamsSchema.parse({ nEstimators: options.nEstimators ?? 10, seed: options.seed ?? 42 }),
      trialIndex: 0,
    },
  );
  const promotion = await promote(
    { pool: deps.pool, store: deps.store },
    {
      executionId,
      runId: trained.runId,
      manifestKey: dataset.manifestKey,
      policy: { minGain: 0 },
    },
  );
  return { fetches, dataset, train: trained, promotion };
}

/** Counts of every table a pipeline writes, to compare before and after a fault or a re-run. */
export async function tableCounts(pool: Pool): Promise<Record<string, number>> {
  const tables = [
    'raw_rows',
    'rejected_rows',
    'fetched_batches',
    'dataset_versions',
    'runs',
    'model_versions',
    'model_aliases',
    'promotions',
    'pipeline_failures',
  ];
  const out: Record<string, number> = {};
  for (const t of tables) {
    const [rows] = await pool.query(`SELECT COUNT(*) AS n FROM ${t}`);
    out[t] = Number((rows as { n: number }[])[0].n);
  }
  return out;
}

/** What a LambdaProxy does with one invocation: pass it on, or answer it itself. */
export type InvokeFault = { kind: 'answer'; status?: number; body: unknown; functionError?: string } | null;

/**
 * An HTTP proxy in front of a Lambda invoke endpoint (serverless-offline's): counts the invocations
 * per function name and lets a test answer some of them itself (`fault`), e.g. a malformed result.
 */
export class LambdaProxy {
  readonly targetUrl: string;
  url = '';
  /** Invocations seen, by function name (faulted ones included). */
  readonly invocations = new Map<string, number>();
  fault: (functionName: string, payload: unknown) => InvokeFault = () => null;
  private server: http.Server | undefined;

  constructor(targetUrl: string) {
    this.targetUrl = targetUrl;
  }

  count(functionName: string): number {
    return this.invocations.get(functionName) ?? 0;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const name = decodeURIComponent(/\/functions\/([^/]+)\/invocations/.exec(req.url ?? '')?.[1] ?? '');
        if (name) this.invocations.set(name, this.count(name) + 1);
        let payload: unknown = null;
        try {
          payload = JSON.parse(body.toString('utf8') || 'null');
        } catch {
          // passed on as it is
        }
        const fault = name ? this.fault(name, payload) : null;
        if (fault) {
          res.writeHead(fault.status ?? 200, {
            'content-type': 'application/json',
            ...(fault.functionError ? { 'x-amz-function-error': fault.functionError } : {}),
          });
          res.end(JSON.stringify(fault.body));
          return;
        }
        const upstream = http.request(`${this.targetUrl}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', (error) => {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: error.message }));
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    server?.closeAllConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
