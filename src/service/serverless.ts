/**
 * The parts of serverless.yml generated from the manifest (src/service/manifest.ts): the provider's
 * environment, the functions with their events, and the resources (the artifacts bucket and one
 * least-privilege role per function). serverless.yml loads them through src/service/serverless.cjs.
 */
import { CONFIG_KEYS, type ConfigKey, loadConfig, SECRET_PARAMETERS } from '../config.ts';
import { type FunctionName, type FunctionSpec, functionSpecs, type Grants, RUNTIME, secretParameterName, secretsOf } from './manifest.ts';

type Env = Readonly<Record<string, string | undefined>>;
type Statement = { Effect: 'Allow'; Action: string | string[]; Resource: unknown; Condition?: unknown };

/** Never in a function's environment: the secrets (functions get their SSM parameters' names) and AWS_REGION, which Lambda sets. */
const NOT_PASSED = new Set<string>([...Object.keys(SECRET_PARAMETERS), 'AWS_REGION']);
const OWN_SETTINGS = new Set<string>(functionSpecs().flatMap(([, spec]) => spec.ownSettings ?? []));

/** The settings of src/config.ts every function is given (those some function owns go to it alone). */
export const sharedSettings = (): ConfigKey[] => CONFIG_KEYS.filter((key) => !NOT_PASSED.has(key) && !OWN_SETTINGS.has(key));

/** The named settings that are set (unset ones take src/config.ts's defaults in the function). */
const pick = (keys: readonly string[], env: Env): Record<string, string> => Object.fromEntries(keys.flatMap((key) => (env[key] ? [[key, env[key]]] : [])));

/** `recordFailure` → `RecordFailure`, as serverless names its `RecordFailureLogGroup` and `RecordFailureLambdaFunction`. */
const pascal = (name: string) => name[0].toUpperCase() + name.slice(1);
export const roleId = (name: FunctionName): string => `${pascal(name)}Role`;

export interface Deployment {
  service: string;
  stage: string;
  /** The deploying environment: the settings' values (unset: the function's defaults). */
  env: Env;
}

/** The names a function's environment may hold (besides its own settings): no secret, nothing Lambda reserves. */
export const functionEnvironmentNames = (): string[] => ['NODE_OPTIONS', ...sharedSettings()];

/** The environment every function gets from a deploying environment: the shared settings set in it. */
export const sharedEnvironment = (env: Env): Record<string, string> => ({ NODE_OPTIONS: '--enable-source-maps', ...pick(sharedSettings(), env) });

/** On AWS, with the names of the secrets' SSM parameters (read at cold start by functions/lib/context.ts). */
export function providerEnvironment({ service, stage, env }: Deployment): Record<string, string> {
  return sharedEnvironment({
    ...env,
    MYSQL_PASSWORD_PARAMETER: secretParameterName(service, stage, 'MYSQL_PASSWORD'),
    ADMIN_TOKEN_PARAMETER: secretParameterName(service, stage, 'ADMIN_TOKEN'),
  });
}

function functionOf(name: FunctionName, spec: FunctionSpec, env: Env) {
  const events = [
    ...(spec.routes ?? []).map((r) => ({ httpApi: { path: r.path, method: r.method.toLowerCase() } })),
    // MONITOR_SCHEDULE=false (the embedded stack) turns the schedule off.
    ...(spec.schedule ? [{ schedule: { rate: spec.schedule, enabled: env.MONITOR_SCHEDULE !== 'false' } }] : []),
  ];
  return {
    handler: `dist/${spec.handler}`,
    role: roleId(name),
    description: spec.description,
    timeout: spec.timeout,
    memorySize: spec.memorySize ?? RUNTIME.memorySize,
    ...(spec.ownSettings ? { environment: pick(spec.ownSettings, env) } : {}),
    ...(events.length > 0 ? { events } : {}),
  };
}

const ref = (name: string) => ({ Ref: `AWS::${name}` });
/** `arn:<partition>:<service>:<region>:<account>:<rest>`. */
const arn = (awsService: string, rest: string) => ({
  'Fn::Join': ['', ['arn:', ref('Partition'), `:${awsService}:`, ref('Region'), ':', ref('AccountId'), `:${rest}`]],
});
const bucketArn = { 'Fn::GetAtt': ['ArtifactsBucket', 'Arn'] };
const objects = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn, `/${prefix}*`]] });
const allow = (Action: string | string[], Resource: unknown, Condition?: unknown): Statement => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});

/** ssm:GetParameters on the secret's one parameter, and kms:Decrypt only for its value (SSM's encryption context names it). */
function readSecret(parameter: string): Statement[] {
  const parameterArn = arn('ssm', `parameter${parameter}`);
  return [
    allow('ssm:GetParameters', parameterArn),
    allow('kms:Decrypt', arn('kms', 'key/*'), { StringEquals: { 'kms:EncryptionContext:PARAMETER_ARN': parameterArn } }),
  ];
}

function grantStatements(grants: Grants, stateMachine: string): Statement[] {
  const states = grants.states ?? [];
  const onMachine = states.filter((a) => a === 'ListExecutions' || a === 'StartExecution').map((a) => `states:${a}`);
  const onExecutions = states.filter((a) => a !== 'ListExecutions' && a !== 'StartExecution').map((a) => `states:${a}`);
  return [
    ...(grants.s3Read ? [allow('s3:GetObject', objects(''))] : []),
    ...(grants.s3Write ?? []).map((prefix) => allow('s3:PutObject', objects(prefix))),
    ...(grants.s3List ? [allow('s3:ListBucket', bucketArn)] : []),
    ...(onMachine.length > 0 ? [allow(onMachine, arn('states', `stateMachine:${stateMachine}`))] : []),
    ...(onExecutions.length > 0 ? [allow(onExecutions, arn('states', `execution:${stateMachine}:*`))] : []),
    ...(grants.snsPublish ? [allow('sns:Publish', arn('sns', `${stateMachine}-*`))] : []),
  ];
}

/** A function's role: its own log group, its secrets, its grants; nothing else. */
function roleOf(name: FunctionName, spec: FunctionSpec, { service, stage }: Deployment) {
  const statements = [
    allow(['logs:CreateLogStream', 'logs:PutLogEvents'], { 'Fn::GetAtt': [`${pascal(name)}LogGroup`, 'Arn'] }),
    ...secretsOf(name).flatMap((setting) => readSecret(secretParameterName(service, stage, setting))),
    ...grantStatements(spec.grants ?? {}, `${service}-${stage}`),
  ];
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [{ PolicyName: 'least-privilege', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
    },
  };
}

/** Artifacts (dataset snapshots, models), kept on `serverless remove`: models outlive a stack. S3_BUCKET must be globally unique on AWS. */
const artifactsBucket = (bucketName: string) => ({
  Type: 'AWS::S3::Bucket',
  DeletionPolicy: 'Retain',
  UpdateReplacePolicy: 'Retain',
  Properties: {
    BucketName: bucketName,
    BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
  },
});

export interface ServerlessParts {
  runtime: string;
  environment: Record<string, string>;
  functions: Record<string, ReturnType<typeof functionOf>>;
  resources: Record<string, unknown>;
}

/** Everything serverless.yml takes from the manifest. */
export function serverlessParts(deployment: Deployment): ServerlessParts {
  // Validated like the functions will validate it: a bad setting fails the package, not the first request.
  const config = loadConfig(deployment.env);
  const specs = functionSpecs();
  return {
    runtime: RUNTIME.runtime,
    environment: providerEnvironment(deployment),
    functions: Object.fromEntries(specs.map(([name, spec]) => [name, functionOf(name, spec, deployment.env)])),
    resources: {
      ArtifactsBucket: artifactsBucket(config.S3_BUCKET),
      ...Object.fromEntries(specs.map(([name, spec]) => [roleId(name), roleOf(name, spec, deployment)])),
    },
  };
}
