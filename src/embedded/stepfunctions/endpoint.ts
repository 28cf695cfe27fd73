import { lambdaInvoker } from '../lambda-invoker.ts';
import type { Pool } from '../../storage/mysql.ts';
import { StepFunctionsServer } from './server.ts';
import { StepFunctionsService, type BuiltInStateMachine } from './service.ts';
import { SfnStore } from './store.ts';

export interface StepFunctionsEndpointOptions {
  pool: Pool;
  /** Where Task states invoke functions (serverless-offline's Lambda endpoint). */
  lambdaEndpoint: string;
  /** 0 picks a free port. */
  port: number;
  /** State machines that exist from the start (the pipeline's). */
  builtIn: readonly BuiltInStateMachine[];
}

export interface StepFunctionsEndpoint {
  url: string;
  port: number;
  service: StepFunctionsService;
  /** Stops the running executions (ABORTED, redrivable), then the server. */
  close(): Promise<void>;
}

/** The Step Functions API of the embedded runtime, listening on 127.0.0.1. */
export async function startStepFunctionsEndpoint(options: StepFunctionsEndpointOptions): Promise<StepFunctionsEndpoint> {
  const service = new StepFunctionsService({ store: new SfnStore(options.pool), invoke: lambdaInvoker(options.lambdaEndpoint) });
  await service.start(options.builtIn);
  const server = new StepFunctionsServer(service);
  const port = await server.listen(options.port);
  return {
    url: server.url,
    port,
    service,
    close: async () => {
      await server.close();
      await service.close();
    },
  };
}
