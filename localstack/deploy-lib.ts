/**
 * Deploys the pipeline into LocalStack from the same sources the other runtimes use: the functions of
 * the service manifest (src/service/manifest.ts), the zip `serverless package` builds, and
 * statemachine/pipeline.asl.json through `substituteFunctions`. Every call to LocalStack goes through the `Clients` passed in.
 */
import { SECRET_PARAMETERS, type SecretSetting } from '../src/config.ts';
import { functionSpecs, RUNTIME, secretParameterName } from '../src/service/manifest.ts';
import { functionEnvironmentNames } from '../src/service/serverless.ts';
import { referencedFunctions, SERVICE, substituteFunctions } from '../src/statemachine/definition.ts';
import type { Clients, FunctionSpec, FunctionState, LambdaApi, SfnApi } from './clients.ts';

export { secretParameterName };

export interface HttpRoute {
  method: string;
  path: string;
}

export interface ServiceFunction {
  key: string;
  handler: string;
  timeout: number;
  memorySize: number;
  description?: string;
  routes: HttpRoute[];
}

export interface ServiceDefinition {
  service: string;
  runtime: string;
  /** The only settings a function may be given (src/service/serverless.ts): no secret among them. */
  environmentNames: string[];
  functions: ServiceFunction[];
}

/** The service as the manifest declares it, in the form the deploy uses (handlers in dist/, as packaged). */
export function serviceDefinition(): ServiceDefinition {
  const functions = functionSpecs().map(
    ([key, spec]): ServiceFunction => ({
      key,
      handler: `dist/${spec.handler}`,
      timeout: spec.timeout,
      memorySize: spec.memorySize ?? RUNTIME.memorySize,
      description: spec.description,
      routes: (spec.routes ?? []).map((r) => ({ method: r.method, path: r.path })),
    }),
  );
  return { service: SERVICE, runtime: RUNTIME.runtime, environmentNames: functionEnvironmentNames(), functions };
}

/** `mlops-pipeline-dev-fetch`: the name serverless gives function `fetch`, on every runtime. */
export const functionName = (service: string, stage: string, key: string) => `${service}-${stage}-${key}`;

/**
 * The environment of the functions on LocalStack. Only the settings every function gets on AWS too are
 * allowed (never a secret; MinIO's keys travel as S3_ACCESS_KEY_ID and the S3_SECRET_ACCESS_KEY parameter,
 * not the AWS_* names Lambda reserves for the function's role).
 */
export function functionEnvironment(declared: readonly string[], values: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (!declared.includes(name)) throw new Error(`${name} is not a setting every function is given (src/service/serverless.ts)`);
    if (value !== undefined && value !== '') env[name] = value;
  }
  return env;
}

export interface DeployOptions {
  stage: string;
  region: string;
  architecture: FunctionSpec['architecture'];
  /** LocalStack does not enforce IAM by default; any role ARN of the account will do. */
  lambdaRoleArn: string;
  stateMachineRoleArn: string;
  httpMode: 'auto' | 'http-api' | 'function-url';
  /** Environment for every function (DATA_API_URL is added once the HTTP endpoint is known); no secrets. */
  environment: Record<string, string>;
  /**
   * The secrets: written to SSM as SecureString parameters; the functions get only their names
   * (`<SETTING>_PARAMETER`). The admin token is required.
   */
  secrets: Partial<Record<SecretSetting, string>>;
  /** Base URL the functions use to reach an HTTP API from inside the compose network. */
  httpApiUrl: (apiId: string) => string;
  log?: (line: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeployResult {
  functions: Record<string, string>;
  stateMachineArn: string;
  httpMode: 'http-api' | 'function-url';
  /** Route (`GET /data`) → URL to call it from this machine. */
  endpoints: Record<string, string>;
  dataApiUrl: string;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** LocalStack creates and updates functions asynchronously; the next update must wait for the last. */
export async function waitUntilReady(lambda: LambdaApi, name: string, sleep: (ms: number) => Promise<void>, timeoutMs = 120_000): Promise<FunctionState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await lambda.getFunction(name);
    if (!s) throw new Error(`Function ${name} disappeared`);
    if (s.state === 'Failed' || s.lastUpdateStatus === 'Failed')
      throw new Error(`Function ${name} failed to deploy (state ${s.state}, last update ${s.lastUpdateStatus})`);
    if ((s.state ?? 'Active') === 'Active' && s.lastUpdateStatus !== 'InProgress') return s;
    if (Date.now() > deadline) throw new Error(`Function ${name} not ready after ${timeoutMs} ms (state ${s.state})`);
    await sleep(500);
  }
}

async function upsertFunction(lambda: LambdaApi, spec: FunctionSpec, zip: Uint8Array, sleep: (ms: number) => Promise<void>): Promise<string> {
  const existing = await lambda.getFunction(spec.name);
  if (!existing) {
    await lambda.createFunction(spec, zip);
  } else {
    await waitUntilReady(lambda, spec.name, sleep);
    await lambda.updateFunctionCode(spec.name, zip, spec.architecture);
    await waitUntilReady(lambda, spec.name, sleep);
    await lambda.updateFunctionConfiguration(spec);
  }
  return (await waitUntilReady(lambda, spec.name, sleep)).arn;
}

async function httpApiAvailable(clients: Clients): Promise<boolean> {
  try {
    await clients.httpApi.getApis();
    return true;
  } catch {
    return false;
  }
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** Creates or updates everything; safe to run again after a code change. */
export async function deployPipeline(
  clients: Clients,
  service: ServiceDefinition,
  definitionText: string,
  zip: Uint8Array,
  options: DeployOptions,
): Promise<DeployResult> {
  const log = options.log ?? (() => undefined);
  const sleep = options.sleep ?? defaultSleep;
  const name = (key: string) => functionName(service.service, options.stage, key);
  const apiName = `${service.service}-${options.stage}`;

  const missing = referencedFunctions(definitionText).filter((key) => !service.functions.some((f) => f.key === key));
  if (missing.length > 0) throw new Error(`The state machine refers to functions the manifest does not define: ${missing.join(', ')}`);
  if (!options.secrets.ADMIN_TOKEN) throw new Error('No admin token: set ADMIN_TOKEN (the deploy refuses to leave rollback, promotion and runs unguarded)');

  const parameters: Record<string, string> = {};
  for (const [setting, value] of Object.entries(options.secrets) as [SecretSetting, string | undefined][]) {
    if (value === undefined || value === '') continue;
    const parameter = secretParameterName(service.service, options.stage, setting);
    await clients.ssm.putSecureString(parameter, value);
    parameters[SECRET_PARAMETERS[setting]] = parameter;
    log(`SSM ${parameter} (SecureString): ${setting}`);
  }

  const httpMode = options.httpMode === 'auto' ? ((await httpApiAvailable(clients)) ? 'http-api' : 'function-url') : options.httpMode;
  log(`HTTP routes: ${httpMode === 'http-api' ? 'HTTP API (API Gateway v2)' : 'Lambda function URLs (this LocalStack plan has no API Gateway v2)'}`);

  // The HTTP API goes first so its URL can be in the functions' DATA_API_URL; it is recreated each time.
  let api: { apiId: string; apiEndpoint: string } | undefined;
  if (httpMode === 'http-api') {
    for (const old of (await clients.httpApi.getApis()).filter((a) => a.name === apiName)) await clients.httpApi.deleteApi(old.apiId);
    api = await clients.httpApi.createApi(apiName);
  }
  const environment = {
    ...functionEnvironment(service.environmentNames, { ...options.environment, ...parameters }),
    ...(api ? { DATA_API_URL: options.httpApiUrl(api.apiId) } : {}),
  };

  const specOf = (f: ServiceFunction, env: Record<string, string>): FunctionSpec => ({
    key: f.key,
    name: name(f.key),
    handler: f.handler,
    runtime: service.runtime,
    role: options.lambdaRoleArn,
    timeout: f.timeout,
    memorySize: f.memorySize,
    ...(f.description ? { description: f.description } : {}),
    architecture: options.architecture,
    environment: env,
  });

  const functions: Record<string, string> = {};
  for (const f of service.functions) {
    functions[f.key] = await upsertFunction(clients.lambda, specOf(f, environment), zip, sleep);
    log(`λ ${name(f.key)}  ${f.handler}  (${f.memorySize} MB, ${f.timeout} s)`);
  }

  const endpoints: Record<string, string> = {};
  let dataApiUrl = environment.DATA_API_URL ?? '';
  const routed = service.functions.filter((f) => f.routes.length > 0);
  if (api) {
    for (const f of routed) {
      const integrationId = await clients.httpApi.createLambdaIntegration(api.apiId, functions[f.key]);
      for (const r of f.routes) {
        await clients.httpApi.createRoute(api.apiId, `${r.method} ${r.path}`, integrationId);
        endpoints[`${r.method} ${r.path}`] = `${trimSlash(api.apiEndpoint)}${r.path}`;
      }
    }
    await clients.httpApi.createDefaultStage(api.apiId);
  } else {
    // A function URL sends the same payload (format 2.0, rawPath) as an HTTP API, so handlers need no change.
    const urls: Record<string, string> = {};
    for (const f of routed) {
      urls[f.key] = trimSlash((await clients.lambda.getFunctionUrl(name(f.key))) ?? (await clients.lambda.createFunctionUrl(name(f.key))));
      for (const r of f.routes) endpoints[`${r.method} ${r.path}`] = `${urls[f.key]}${r.path}`;
    }
    const dataApi = service.functions.find((f) => f.routes.some((r) => r.path === '/data'));
    if (dataApi) {
      dataApiUrl = urls[dataApi.key];
      // Now that the data API has a URL, the functions that call it get it.
      for (const f of service.functions.filter((fn) => fn.key === 'fetch')) {
        await waitUntilReady(clients.lambda, name(f.key), sleep);
        await clients.lambda.updateFunctionConfiguration(specOf(f, { ...environment, DATA_API_URL: dataApiUrl }));
        await waitUntilReady(clients.lambda, name(f.key), sleep);
      }
    }
  }
  for (const [route, url] of Object.entries(endpoints)) log(`${route.padEnd(30)} ${url}`);

  const definition = JSON.stringify(
    substituteFunctions(definitionText, (key) => {
      const arn = functions[key];
      if (!arn) throw new Error(`No deployed function for ${key}`);
      return arn;
    }),
  );
  const smName = `${service.service}-${options.stage}`;
  const existing = (await clients.sfn.listStateMachines()).find((m) => m.name === smName);
  let stateMachineArn: string;
  if (existing) {
    stateMachineArn = existing.stateMachineArn;
    await clients.sfn.updateStateMachine({ stateMachineArn, definition, roleArn: options.stateMachineRoleArn });
  } else {
    stateMachineArn = await clients.sfn.createStateMachine({ name: smName, definition, roleArn: options.stateMachineRoleArn });
  }
  log(`state machine ${stateMachineArn}`);
  return { functions, stateMachineArn, httpMode, endpoints, dataApiUrl };
}

/** Removes what `deployPipeline` created (the containers' data stays: `docker compose down -v` clears it). */
export async function teardownPipeline(
  clients: Clients,
  service: ServiceDefinition,
  stage: string,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const smName = `${service.service}-${stage}`;
  for (const m of (await clients.sfn.listStateMachines()).filter((s) => s.name === smName)) {
    await clients.sfn.deleteStateMachine(m.stateMachineArn);
    log(`deleted state machine ${m.stateMachineArn}`);
  }
  try {
    for (const api of (await clients.httpApi.getApis()).filter((a) => a.name === smName)) {
      await clients.httpApi.deleteApi(api.apiId);
      log(`deleted HTTP API ${api.apiId}`);
    }
  } catch {
    // No API Gateway v2 on this LocalStack plan: nothing was created there.
  }
  for (const f of service.functions) {
    const name = functionName(service.service, stage, f.key);
    if (f.routes.length > 0) await clients.lambda.deleteFunctionUrl(name);
    await clients.lambda.deleteFunction(name);
    log(`deleted ${name}`);
  }
}

export async function findStateMachine(sfn: SfnApi, name: string): Promise<string> {
  const found = (await sfn.listStateMachines()).find((m) => m.name === name);
  if (!found) throw new Error(`No state machine ${name} on LocalStack: run \`npx node localstack/deploy.ts\` first`);
  return found.stateMachineArn;
}
