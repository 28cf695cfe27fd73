import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import S3rver from 's3rver';
import { mysqlEnvironment, repoRoot, s3Environment } from '../config.ts';
import { generateAdminToken } from './admin-token.ts';
import { createPool, ensureDatabase, migrate, type MysqlSettings, type Pool } from '../storage/mysql.ts';
import { ArtifactStore } from '../storage/s3.ts';
import { LOCAL_CREDENTIALS, StepFunctionsExecutions, type FinishedExecution } from '../executions/step-functions.ts';
import { nestedStateNames, type LoggedEvent } from '../executions/views.ts';
import type { AslMachine } from '../executions/asl-graph.ts';
import { readDefinitionText, SERVICE, STAGE, substituteFunctions } from '../statemachine/definition.ts';
import { lambdaFunctionArn, REGION, stateMachineArn } from './stepfunctions/arns.ts';
import { startStepFunctionsEndpoint, type StepFunctionsEndpoint } from './stepfunctions/endpoint.ts';

/** The only key pair s3rver accepts. */
const S3RVER_KEYS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface EmbeddedStackOptions {
  mysql: MysqlSettings;
  bucket: string;
  /** Ports: 0 picks a free one. */
  httpPort?: number;
  lambdaPort?: number;
  s3Port?: number;
  /** The Step Functions API (0 or absent: a free port). */
  sfnPort?: number;
  /** Where the Step Functions endpoint's Tasks invoke functions (default: serverless-offline's Lambda endpoint). */
  sfnLambdaEndpoint?: string;
  /** Where the S3 server keeps its files. */
  s3Directory?: string;
  /** Extra environment for the functions (data API interval, sample size, dataset path…). */
  functionEnv?: Record<string, string>;
  /**
   * The admin token the guarded routes (rollback, champion, POST /executions) need; a random one for
   * this stack when absent (`stack.adminToken`).
   */
  adminToken?: string;
  /** The data API the fetch step calls: this stack's own (`/data`) when absent, or an external one such as the course's. */
  dataApiUrl?: string;
  log?: (line: string) => void;
  /** Print the functions' own output (serverless-offline and the HTTP API's containers) through `log`. */
  verbose?: boolean;
  /** Warm containers per function behind the HTTP API (default 2). */
  httpContainersPerFunction?: number;
  /** Node.js options for the HTTP API's process and its containers (a profiler's, such as --perf-basic-prof). */
  httpNodeOptions?: readonly string[];
}

export type ExecutionResult = FinishedExecution;

/** A loopback port free right now (nothing listens on it until someone binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${name} did not open port ${port} within ${timeoutMs} ms`);
}

/** The pipeline's state machine as the endpoint serves it: named as deployed, its Tasks naming the functions by ARN. */
export async function pipelineStateMachine(): Promise<{ name: string; definition: string }> {
  const definition = substituteFunctions(await readDefinitionText(), (key) => lambdaFunctionArn(`${SERVICE}-${STAGE}-${key}`));
  return { name: `${SERVICE}-${STAGE}`, definition: JSON.stringify(definition, null, 2) };
}

/** Says plainly what to do when MySQL is not there, instead of a bare ECONNREFUSED. */
export async function checkMysql(settings: MysqlSettings): Promise<void> {
  try {
    await ensureDatabase(settings);
  } catch (error) {
    throw new Error(
      `Cannot reach MySQL at ${settings.user}@${settings.host}:${settings.port} (${(error as Error).message}). ` +
        'Start a MySQL-compatible server (on Debian: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd) ' +
        'or set MYSQL_HOST, MYSQL_PORT, MYSQL_USER and MYSQL_PASSWORD.',
      { cause: error },
    );
  }
}

/**
 * The embedded local stack: a real MySQL database, an S3 server (s3rver), the HTTP API (a local API
 * Gateway, src/embedded/http-api), serverless-offline serving the Lambda invoke endpoint, and the state
 * machine run by aws-local-stepfunctions against that endpoint, state by state, from the same ASL file
 * the other runtimes deploy.
 */
export class EmbeddedStack {
  readonly options: EmbeddedStackOptions;
  readonly adminToken: string;
  httpPort = 0;
  lambdaPort = 0;
  s3Port = 0;
  sfnPort = 0;
  stepFunctions: StepFunctionsEndpoint | undefined;
  /** The pipeline's executions through the Step Functions API, as every other client sees them. */
  executions: StepFunctionsExecutions | undefined;
  pool: Pool | undefined;
  store: ArtifactStore | undefined;
  private s3: S3rver | undefined;
  private offline: ChildProcess | undefined;
  private offlineOutput: string[] = [];
  private httpApi: ChildProcess | undefined;

  constructor(options: EmbeddedStackOptions) {
    this.options = options;
    this.adminToken = options.adminToken ?? generateAdminToken();
  }

  /** The data API the fetch step calls. */
  get dataApiUrl(): string {
    return this.options.dataApiUrl ?? this.baseUrl;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  async start(): Promise<void> {
    const { mysql } = this.options;
    await checkMysql(mysql);
    this.pool = createPool(mysql);
    await migrate(this.pool);
    this.log(`MySQL ${mysql.host}:${mysql.port}/${mysql.database}: schema ready`);

    this.s3Port = this.options.s3Port || (await freePort());
    const s3Directory = this.options.s3Directory ?? path.join(repoRoot, '.local', 's3');
    await mkdir(s3Directory, { recursive: true });
    this.s3 = new S3rver({ port: this.s3Port, address: '127.0.0.1', directory: s3Directory, silent: true });
    await this.s3.run();
    const s3Endpoint = `http://127.0.0.1:${this.s3Port}`;
    this.store = new ArtifactStore({ bucket: this.options.bucket, region: 'us-east-1', endpoint: s3Endpoint, credentials: S3RVER_KEYS });
    await this.store.ensureBucket();
    this.log(`S3 server ${s3Endpoint} (files in ${path.relative(process.cwd(), s3Directory) || '.'}): bucket ${this.options.bucket}`);

    this.httpPort = this.options.httpPort || (await freePort());
    // serverless-offline runs the Lambda endpoint; its own HTTP server (which it always starts) listens
    // on a port nobody calls: the HTTP API is ours (src/embedded/http-api).
    const offlineHttpPort = await freePort();
    this.lambdaPort = this.options.lambdaPort || (await freePort());
    this.sfnPort = this.options.sfnPort || (await freePort());
    const pipeline = await pipelineStateMachine();
    const pipelineArn = stateMachineArn(pipeline.name);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // The bucket on s3rver, signed with s3rver's own key pair (the only one it accepts).
      ...s3Environment(this.store.settings),
      ...mysqlEnvironment(mysql),
      HTTP_PORT: String(offlineHttpPort),
      LAMBDA_PORT: String(this.lambdaPort),
      DATA_API_URL: this.dataApiUrl,
      ADMIN_TOKEN: this.adminToken,
      // The console's executions function reads, starts and redrives through the Step Functions API.
      SFN_ENDPOINT: this.sfnUrl,
      STATE_MACHINE_ARN: pipelineArn,
      // The monitor's schedule is AWS's (EventBridge); here `npm start -- --monitor-every N` runs it.
      MONITOR_SCHEDULE: 'false',
      // serverless-offline writes lines per request at "notice" (a tenth of its CPU under load, and
      // the writes queue behind a slow reader): only warnings unless the output is shown.
      SLS_LOG_LEVEL: process.env.SLS_LOG_LEVEL ?? (this.options.verbose ? 'notice' : 'warning'),
      ...this.options.functionEnv,
    };
    const serverlessBin = path.join(repoRoot, 'node_modules', 'serverless', 'bin', 'serverless.js');
    // process.execPath: the functions run on the same Node (22) as this runner.
    this.offline = spawn(process.execPath, [serverlessBin, 'offline', 'start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer | string) => {
      const text = chunk.toString();
      this.offlineOutput.push(text);
      if (this.offlineOutput.length > 500) this.offlineOutput.shift();
      if (this.options.verbose) for (const line of text.split('\n')) if (line.trim()) this.log(`  [offline] ${line}`);
    };
    this.offline.stdout?.on('data', keep);
    this.offline.stderr?.on('data', keep);
    // The HTTP API: the same handler modules, the same environment, API Gateway's v2 events; a process
    // of its own, so that this one's S3 server and Step Functions endpoint never delay a request.
    const gatewayMain = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './http-api/main.ts' : './http-api/main.js', import.meta.url));
    this.httpApi = spawn(
      process.execPath,
      [...(this.options.httpNodeOptions ?? []), gatewayMain, String(this.httpPort), String(this.options.httpContainersPerFunction ?? 2)],
      {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.httpApi.stdout?.on('data', keep);
    this.httpApi.stderr?.on('data', keep);
    try {
      await waitForPort(this.lambdaPort, this.offline, 'serverless-offline', 60_000);
      await waitForPort(this.httpPort, this.httpApi, 'the HTTP API', 30_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.offlineOutput.join('')}`);
    }
    this.log(`serverless-offline: Lambda endpoint http://127.0.0.1:${this.lambdaPort}`);
    this.log(`HTTP API ${this.baseUrl} (local API Gateway, payload format 2.0)`);

    this.stepFunctions = await startStepFunctionsEndpoint({
      pool: this.pool,
      lambdaEndpoint: this.options.sfnLambdaEndpoint ?? `http://127.0.0.1:${this.lambdaPort}`,
      port: this.sfnPort,
      builtIn: [pipeline],
    });
    this.log(`Step Functions API ${this.stepFunctions.url}`);
    this.executions = new StepFunctionsExecutions({
      stateMachineArn: pipelineArn,
      region: REGION,
      endpoint: this.sfnUrl,
      credentials: LOCAL_CREDENTIALS,
      nestedStates: nestedStateNames(JSON.parse(pipeline.definition) as AslMachine),
    });
  }

  get sfnUrl(): string {
    return `http://127.0.0.1:${this.sfnPort}`;
  }

  /** The process serving the HTTP API (the local gateway and its containers), for benchmarks reading its CPU time. */
  get httpApiPid(): number | undefined {
    return this.httpApi?.pid;
  }

  /** Recent output of the functions (serverless-offline and the HTTP API's containers), for diagnosing a failure. */
  recentOutput(): string {
    return this.offlineOutput.join('');
  }

  /**
   * Runs the pipeline state machine once through the Step Functions API (StartExecution, then
   * GetExecutionHistory until it stops); `onEvent` sees each event as it is recorded.
   */
  runPipeline(input: Record<string, unknown>, onEvent?: (event: LoggedEvent) => void): Promise<ExecutionResult> {
    if (!this.executions) throw new Error('The stack is not started');
    return this.executions.run(input, onEvent);
  }

  async stop(): Promise<void> {
    await this.stepFunctions?.close().catch(() => undefined);
    // Its containers write out their prediction logs (beforeExit) while S3 and MySQL are still up.
    if (this.httpApi && this.httpApi.exitCode === null) {
      const exited = new Promise((resolve) => this.httpApi?.once('exit', resolve));
      this.httpApi.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 8000))]);
      if (this.httpApi.exitCode === null) this.httpApi.kill('SIGKILL');
    }
    if (this.offline && this.offline.exitCode === null) {
      // The functions buffer the prediction log (src/monitoring/): have it written out before the process goes.
      await fetch(`http://127.0.0.1:${this.lambdaPort}/2015-03-31/functions/${SERVICE}-${STAGE}-monitor/invocations`, {
        method: 'POST',
        body: '{"flush":true}',
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      const exited = new Promise((resolve) => this.offline?.once('exit', resolve));
      this.offline.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.offline.exitCode === null) this.offline.kill('SIGKILL');
    }
    await this.s3?.close().catch(() => undefined);
    await this.pool?.end().catch(() => undefined);
  }
}
