// One warm "container" of a function: a worker thread that loads the handler module once and runs
// one invocation at a time, with a Lambda-like context. Started by FunctionWorkers (workers.ts).
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerSetup } from './workers.ts';

type Callback = (error?: unknown, result?: unknown) => void;
type Handler = (event: unknown, context: Record<string, unknown>, callback: Callback) => unknown;

const setup = workerData as WorkerSetup;
let loaded: Promise<Handler> | undefined;

const load = (): Promise<Handler> =>
  (loaded ??= import(pathToFileURL(setup.modulePath).href).then((module: Record<string, unknown>) => {
    const handler = module[setup.exportName];
    if (typeof handler !== 'function') throw new Error(`${setup.modulePath} has no export "${setup.exportName}"`);
    return handler as Handler;
  }));

async function invoke(event: unknown, requestId: string): Promise<unknown> {
  const handler = await load();
  const deadline = Date.now() + setup.timeoutMs;
  return new Promise((resolve, reject) => {
    const callback: Callback = (error, result) => (error ? reject(error) : resolve(result));
    const context = {
      awsRequestId: requestId,
      functionName: setup.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: setup.functionArn,
      memoryLimitInMB: String(setup.memorySize),
      logGroupName: `/aws/lambda/${setup.functionName}`,
      logStreamName: setup.logStreamName,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: callback,
      fail: (error: unknown) => callback(error),
      succeed: (result: unknown) => callback(undefined, result),
    };
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof (returned as Promise<unknown>).then === 'function') (returned as Promise<unknown>).then(resolve, reject);
    } catch (error) {
      reject(error);
    }
  });
}

const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread');
// The module loads when the container starts, as Lambda's init phase: the gateway sends a container it
// started ahead of need no request until then. A module that fails to load fails each invocation.
load().then(
  () => port.postMessage({ type: 'ready' } satisfies FromWorker),
  () => port.postMessage({ type: 'ready' } satisfies FromWorker),
);
port.on('message', (message: ToWorker) => {
  if (message.type === 'shutdown') {
    // A process that runs out of work lets its modules write out what they buffer ('beforeExit'),
    // which a worker kept alive by open connections never reaches by itself.
    const pending = process.listenerCount('beforeExit') > 0;
    if (pending) process.emit('beforeExit', 0);
    setTimeout(() => port.postMessage({ type: 'drained' } satisfies FromWorker), pending ? setup.drainMs : 0);
    return;
  }
  const requestId = message.requestId || randomUUID();
  invoke(message.event, requestId).then(
    (result) => {
      try {
        port.postMessage({ type: 'result', id: message.id, result } satisfies FromWorker);
      } catch (error) {
        // A result that is not plain data (API Gateway would get it serialized as JSON, or fail).
        port.postMessage({ type: 'error', id: message.id, errorType: 'Runtime.MarshalError', errorMessage: (error as Error).message } satisfies FromWorker);
      }
    },
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      // Lambda logs an unhandled error with the function's output.
      console.error(
        `${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error\t${JSON.stringify({ errorType: e.name, errorMessage: e.message, stack: e.stack?.split('\n') })}`,
      );
      port.postMessage({ type: 'error', id: message.id, errorType: e.name, errorMessage: e.message } satisfies FromWorker);
    },
  );
});
