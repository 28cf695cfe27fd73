import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { LocalFunction } from './service.ts';

/** What a worker (worker.ts) is started with. */
export interface WorkerSetup {
  modulePath: string;
  exportName: string;
  functionName: string;
  functionArn: string;
  memorySize: number;
  logStreamName: string;
  timeoutMs: number;
  /** How long a worker may take to write out what it buffers when asked to stop. */
  drainMs: number;
}

export type ToWorker = { type: 'invoke'; id: number; requestId: string; event: unknown } | { type: 'shutdown' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; errorType: string; errorMessage: string }
  | { type: 'drained' };

export type Outcome = { kind: 'result'; result: unknown } | { kind: 'error'; errorType: string; errorMessage: string } | { kind: 'timeout' };

interface Pending {
  id: number;
  requestId: string;
  event: unknown;
  settle: (outcome: Outcome) => void;
}

interface Container {
  worker: Worker;
  current: (Pending & { timer: NodeJS.Timeout }) | undefined;
  /** It has answered once (its cold start, model or dataset loads included, is over). */
  warm: boolean;
}

// worker.ts next to this file, or worker.js when this runs compiled (dist/).
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

export interface FunctionWorkersOptions {
  /** The environment of the function's process (Lambda's reserved variables are added here). */
  env: Record<string, string | undefined>;
  region: string;
  accountId: string;
  /** At most this many invocations run at once (warm containers); more wait in line. */
  maxContainers: number;
  /** The function's output (console.log/error of the handler). */
  output: (text: string) => void;
  drainMs?: number;
}

/**
 * The warm containers of one function, as Lambda keeps them: each a worker thread that loads the
 * handler once and runs one invocation at a time. A new one starts when all are busy, up to
 * `maxContainers`; beyond that requests wait in line instead of each starting its own (cold starts
 * under load are what made the tail). A timed-out or crashed container is discarded, as Lambda does.
 */
export class FunctionWorkers {
  private readonly idle: Container[] = [];
  private readonly all = new Set<Container>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  readonly fn: LocalFunction;
  private readonly options: FunctionWorkersOptions;

  constructor(fn: LocalFunction, options: FunctionWorkersOptions) {
    this.fn = fn;
    this.options = options;
  }

  invoke(event: unknown, requestId: string = randomUUID()): Promise<Outcome> {
    if (this.closed) return Promise.resolve({ kind: 'error', errorType: 'Shutdown', errorMessage: 'The gateway is stopping' });
    return new Promise((settle) => {
      this.queue.push({ id: this.nextId++, requestId, event, settle });
      this.dispatch();
    });
  }

  /** Containers running now (for tests and diagnostics). */
  get containers(): number {
    return this.all.size;
  }

  /**
   * Requests in line go to idle containers. With none at all, the first starts with the request (it
   * cannot go anywhere else). When every container is busy and warm, another starts ahead of need and
   * joins the idle ones once its module is loaded: until then the line keeps going to whichever
   * container frees up first, so no request waits for a cold start that a warm container would beat.
   */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const container = this.idle.pop() ?? (this.all.size === 0 ? this.start() : undefined);
      if (!container) {
        if (this.canStart()) this.start();
        return;
      }
      const pending = this.queue.shift() as Pending;
      const timer = setTimeout(() => this.timeOut(container), this.fn.timeoutSeconds * 1000);
      container.current = { ...pending, timer };
      container.worker.postMessage({ type: 'invoke', id: pending.id, requestId: pending.requestId, event: pending.event } satisfies ToWorker);
    }
  }

  /**
   * Another container only when every one is busy and warm: while one is still starting, requests wait
   * for it rather than each starting (and loading models, datasets) in parallel — a retry after a slow
   * cold start must not start the same load again beside it, on the same cores.
   */
  private canStart(): boolean {
    if (this.all.size >= this.options.maxContainers) return false;
    for (const container of this.all) if (!container.warm) return false;
    return true;
  }

  private start(): Container {
    const { fn, options } = this;
    const functionArn = `arn:aws:lambda:${options.region}:${options.accountId}:function:${fn.name}`;
    const setup: WorkerSetup = {
      modulePath: fn.modulePath,
      exportName: fn.exportName,
      functionName: fn.name,
      functionArn,
      memorySize: fn.memorySize,
      logStreamName: `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      timeoutMs: fn.timeoutSeconds * 1000,
      drainMs: options.drainMs ?? 2000,
    };
    const worker = new Worker(WORKER_URL, { workerData: setup, env: this.environment(setup), stdout: true, stderr: true });
    const container: Container = { worker, current: undefined, warm: false };
    worker.stdout.on('data', (chunk: Buffer) => options.output(chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => options.output(chunk.toString()));
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'drained') return;
      if (message.type === 'ready') {
        // Started ahead of need: it joins the idle ones (one started with a request answers it first).
        if (!container.current && !this.closed) {
          this.idle.push(container);
          this.dispatch();
        }
        return;
      }
      const current = container.current;
      if (!current || current.id !== message.id) return;
      clearTimeout(current.timer);
      container.current = undefined;
      container.warm = true;
      current.settle(
        message.type === 'result'
          ? { kind: 'result', result: message.result }
          : { kind: 'error', errorType: message.errorType, errorMessage: message.errorMessage },
      );
      if (!this.closed) {
        this.idle.push(container);
        this.dispatch();
      }
    });
    // A crash (an uncaught error, an unhandled rejection, out of memory) loses the container.
    worker.on('error', (error) => {
      options.output(`${fn.name}: the container crashed: ${error.stack ?? error.message}\n`);
      this.discard(container, { kind: 'error', errorType: 'Runtime.ExitError', errorMessage: error.message });
    });
    worker.on('exit', () => this.discard(container, { kind: 'error', errorType: 'Runtime.ExitError', errorMessage: 'The container exited' }));
    this.all.add(container);
    return container;
  }

  /** The function's environment plus the variables Lambda sets in every container. */
  private environment(setup: WorkerSetup): Record<string, string> {
    const { fn, options } = this;
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.env)) if (value !== undefined) env[name] = value;
    Object.assign(env, {
      AWS_REGION: options.region,
      AWS_DEFAULT_REGION: options.region,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: setup.logStreamName,
      _HANDLER: `${fn.modulePath}.${fn.exportName}`,
    });
    Object.assign(env, fn.environment);
    // As serverless-offline says: a long-lived local process, not a frozen Lambda sandbox (functions/lib/context.ts).
    env.IS_OFFLINE = 'true';
    return env;
  }

  private timeOut(container: Container): void {
    const current = container.current;
    if (!current) return;
    this.options.output(`${this.fn.name}: ${current.requestId} Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds\n`);
    container.current = undefined;
    current.settle({ kind: 'timeout' });
    // The sandbox of a timed-out invocation is not reused.
    this.discard(container);
    void container.worker.terminate();
  }

  private discard(container: Container, outcome?: Outcome): void {
    if (!this.all.delete(container)) return;
    const idleAt = this.idle.indexOf(container);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    if (container.current && outcome) {
      clearTimeout(container.current.timer);
      container.current.settle(outcome);
      container.current = undefined;
    }
    if (!this.closed) this.dispatch();
  }

  /** Lets each container write out what it buffers, then stops them; waiting requests fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.settle({ kind: 'error', errorType: 'Shutdown', errorMessage: 'The gateway is stopping' });
    const containers = [...this.all];
    const drainMs = this.options.drainMs ?? 2000;
    await Promise.all(
      containers.map(async (container) => {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, drainMs + 2000);
          container.worker.on('message', (message: FromWorker) => {
            if (message.type === 'drained') {
              clearTimeout(timer);
              resolve();
            }
          });
          container.worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          container.worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
        });
        await container.worker.terminate();
      }),
    );
    this.all.clear();
    this.idle.length = 0;
  }
}
