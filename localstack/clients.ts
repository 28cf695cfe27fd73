/**
 * The few LocalStack calls the deploy needs, behind small interfaces so the deploy logic can be tested
 * against fakes. Lambda and SSM go through @aws-sdk/client-lambda and client-ssm (project dependencies). Step Functions
 * (AWS JSON 1.0) and API Gateway v2 (REST JSON) go over plain fetch: their SDK clients are not
 * dependencies of the project, and LocalStack does not check signatures, only reads the region and
 * service from the Authorization header. These two adapters are for LocalStack only; AWS is deployed
 * by `serverless deploy`.
 */
import {
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionCommand,
  DeleteFunctionUrlConfigCommand,
  GetFunctionConfigurationCommand,
  GetFunctionUrlConfigCommand,
  LambdaClient,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type Architecture,
  type Runtime,
} from '@aws-sdk/client-lambda';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

export interface FunctionSpec {
  /** serverless.yml function key (`fetch`). */
  key: string;
  /** Deployed name (`mlops-pipeline-dev-fetch`). */
  name: string;
  handler: string;
  runtime: string;
  role: string;
  timeout: number;
  memorySize: number;
  description?: string;
  architecture: 'x86_64' | 'arm64';
  environment: Record<string, string>;
}

export interface FunctionState {
  arn: string;
  /** Pending / Active / Failed. */
  state?: string;
  /** InProgress / Successful / Failed. */
  lastUpdateStatus?: string;
}

export interface LambdaApi {
  getFunction(name: string): Promise<FunctionState | undefined>;
  createFunction(spec: FunctionSpec, zip: Uint8Array): Promise<FunctionState>;
  updateFunctionCode(name: string, zip: Uint8Array, architecture: FunctionSpec['architecture']): Promise<void>;
  updateFunctionConfiguration(spec: FunctionSpec): Promise<void>;
  deleteFunction(name: string): Promise<void>;
  getFunctionUrl(name: string): Promise<string | undefined>;
  createFunctionUrl(name: string): Promise<string>;
  deleteFunctionUrl(name: string): Promise<void>;
}

export interface StateMachineSummary {
  name: string;
  stateMachineArn: string;
}

/** The state machine management the deploy needs (executions go through @aws-sdk/client-sfn: src/executions/). */
export interface SfnApi {
  listStateMachines(): Promise<StateMachineSummary[]>;
  createStateMachine(input: { name: string; definition: string; roleArn: string }): Promise<string>;
  updateStateMachine(input: { stateMachineArn: string; definition: string; roleArn: string }): Promise<void>;
  deleteStateMachine(stateMachineArn: string): Promise<void>;
}

export interface HttpApiSummary {
  apiId: string;
  name: string;
  apiEndpoint: string;
}

/** API Gateway v2 (HTTP APIs). On LocalStack only in paid plans: `getApis` throws on the others. */
export interface HttpApiApi {
  getApis(): Promise<HttpApiSummary[]>;
  createApi(name: string): Promise<HttpApiSummary>;
  createLambdaIntegration(apiId: string, functionArn: string): Promise<string>;
  createRoute(apiId: string, routeKey: string, integrationId: string): Promise<void>;
  createDefaultStage(apiId: string): Promise<void>;
  deleteApi(apiId: string): Promise<void>;
}

/** SSM Parameter Store: where the deploy puts the secrets the functions read at cold start. */
export interface SsmApi {
  /** Creates or overwrites a SecureString parameter. */
  putSecureString(name: string, value: string): Promise<void>;
}

export interface Clients {
  lambda: LambdaApi;
  sfn: SfnApi;
  httpApi: HttpApiApi;
  ssm: SsmApi;
}

export interface Connection {
  endpoint: string;
  region: string;
  /** LocalStack's test credentials: it takes any key pair, and the key picks the account (test → 000000000000). */
  accessKeyId: string;
  secretAccessKey: string;
}

const isNotFound = (error: unknown) => (error as { name?: string }).name === 'ResourceNotFoundException';

export function lambdaOverSdk(connection: Connection): LambdaApi {
  const client = new LambdaClient({
    endpoint: connection.endpoint,
    region: connection.region,
    credentials: { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey },
    maxAttempts: 3,
  });
  const configuration = (spec: FunctionSpec) => ({
    FunctionName: spec.name,
    Runtime: spec.runtime as Runtime,
    Role: spec.role,
    Handler: spec.handler,
    Timeout: spec.timeout,
    MemorySize: spec.memorySize,
    Description: spec.description,
    Environment: { Variables: spec.environment },
  });
  return {
    async getFunction(name) {
      try {
        const c = await client.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
        return { arn: c.FunctionArn ?? '', state: c.State, lastUpdateStatus: c.LastUpdateStatus };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async createFunction(spec, zip) {
      const c = await client.send(
        new CreateFunctionCommand({
          ...configuration(spec),
          Code: { ZipFile: zip },
          Architectures: [spec.architecture as Architecture],
          PackageType: 'Zip',
        }),
      );
      return { arn: c.FunctionArn ?? '', state: c.State, lastUpdateStatus: c.LastUpdateStatus };
    },
    async updateFunctionCode(name, zip, architecture) {
      await client.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: zip, Architectures: [architecture as Architecture] }));
    },
    async updateFunctionConfiguration(spec) {
      await client.send(new UpdateFunctionConfigurationCommand(configuration(spec)));
    },
    async deleteFunction(name) {
      try {
        await client.send(new DeleteFunctionCommand({ FunctionName: name }));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
    async getFunctionUrl(name) {
      try {
        return (await client.send(new GetFunctionUrlConfigCommand({ FunctionName: name }))).FunctionUrl;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async createFunctionUrl(name) {
      const c = await client.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }));
      return c.FunctionUrl ?? '';
    },
    async deleteFunctionUrl(name) {
      try {
        await client.send(new DeleteFunctionUrlConfigCommand({ FunctionName: name }));
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
  };
}

/** An Authorization header LocalStack can route by (service, region); the signature is not checked there. */
function localstackAuthorization(connection: Connection, service: string): Record<string, string> {
  const now = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const scope = `${connection.accessKeyId}/${now.slice(0, 8)}/${connection.region}/${service}/aws4_request`;
  return {
    'x-amz-date': now,
    authorization: `AWS4-HMAC-SHA256 Credential=${scope}, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
  };
}

export class AwsCallError extends Error {
  readonly status: number;
  constructor(name: string, message: string, status: number) {
    super(message);
    this.name = name;
    this.status = status;
  }
}

async function parseResponse(response: Response, what: string): Promise<unknown> {
  const text = await response.text();
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    const b = body as { __type?: string; message?: string; Message?: string };
    const header = response.headers.get('x-amzn-errortype') ?? '';
    const name = (b.__type ?? header).split('#').pop()?.split(':')[0] || `Http${response.status}`;
    throw new AwsCallError(name, `${what}: ${response.status} ${name}: ${b.message ?? b.Message ?? text.slice(0, 300)}`, response.status);
  }
  return body;
}

export function sfnOverHttp(connection: Connection): SfnApi {
  const call = async <T>(action: string, input: Record<string, unknown>): Promise<T> => {
    const response = await fetch(connection.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AWSStepFunctions.${action}`,
        ...localstackAuthorization(connection, 'states'),
      },
      body: JSON.stringify(input),
    });
    return (await parseResponse(response, `states:${action}`)) as T;
  };
  return {
    async listStateMachines() {
      const all: StateMachineSummary[] = [];
      let nextToken: string | undefined;
      do {
        const page = await call<{ stateMachines?: StateMachineSummary[]; nextToken?: string }>('ListStateMachines', nextToken ? { nextToken } : {});
        all.push(...(page.stateMachines ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
      return all;
    },
    async createStateMachine({ name, definition, roleArn }) {
      return (await call<{ stateMachineArn: string }>('CreateStateMachine', { name, definition, roleArn, type: 'STANDARD' })).stateMachineArn;
    },
    async updateStateMachine({ stateMachineArn, definition, roleArn }) {
      await call('UpdateStateMachine', { stateMachineArn, definition, roleArn });
    },
    async deleteStateMachine(stateMachineArn) {
      await call('DeleteStateMachine', { stateMachineArn });
    },
  };
}

export function httpApiOverHttp(connection: Connection): HttpApiApi {
  const call = async <T>(method: string, path: string, body?: Record<string, unknown>): Promise<T> => {
    const response = await fetch(new URL(path, connection.endpoint), {
      method,
      headers: { 'content-type': 'application/json', ...localstackAuthorization(connection, 'apigateway') },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await parseResponse(response, `apigatewayv2 ${method} ${path}`)) as T;
  };
  return {
    async getApis() {
      return (await call<{ items?: HttpApiSummary[] }>('GET', '/v2/apis')).items ?? [];
    },
    async createApi(name) {
      return call<HttpApiSummary>('POST', '/v2/apis', { name, protocolType: 'HTTP' });
    },
    async createLambdaIntegration(apiId, functionArn) {
      const r = await call<{ integrationId: string }>('POST', `/v2/apis/${apiId}/integrations`, {
        integrationType: 'AWS_PROXY',
        integrationUri: functionArn,
        payloadFormatVersion: '2.0',
      });
      return r.integrationId;
    },
    async createRoute(apiId, routeKey, integrationId) {
      await call('POST', `/v2/apis/${apiId}/routes`, { routeKey, target: `integrations/${integrationId}` });
    },
    async createDefaultStage(apiId) {
      await call('POST', `/v2/apis/${apiId}/stages`, { stageName: '$default', autoDeploy: true });
    },
    async deleteApi(apiId) {
      await call('DELETE', `/v2/apis/${apiId}`);
    },
  };
}

export function ssmOverSdk(connection: Connection): SsmApi {
  const client = new SSMClient({
    endpoint: connection.endpoint,
    region: connection.region,
    maxAttempts: 3,
    credentials: { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey },
  });
  return {
    async putSecureString(name, value) {
      await client.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true }));
    },
  };
}

export function localstackClients(connection: Connection): Clients {
  return { lambda: lambdaOverSdk(connection), sfn: sfnOverHttp(connection), httpApi: httpApiOverHttp(connection), ssm: ssmOverSdk(connection) };
}
