/**
 * The service manifest: every Lambda function of the project, named once, with what it runs, its size,
 * its HTTP routes (`admin: true` where the admin token is needed) and what it may touch. serverless.yml
 * takes its functions, environment and roles from here (src/service/serverless.ts); the HTTP router and
 * its admin guard (functions/lib/router.ts), the LocalStack deploy and the embedded runtime read it too.
 */
import type { ConfigKey, SecretSetting } from '../config.ts';

/** What every function runs on, and its memory unless it says otherwise. */
export const RUNTIME = { runtime: 'nodejs22.x', memorySize: 1024 } as const;

export type HttpMethod = 'GET' | 'POST';

export interface Route {
  readonly method: HttpMethod;
  /** An API Gateway path template: `/models/{name}`. */
  readonly path: string;
  /** Needs `authorization: Bearer <ADMIN_TOKEN>` (functions/lib/router.ts); its function then reads the token's SSM parameter. */
  readonly admin?: true;
}

/** Step Functions actions on this service's state machine (Start, List) or on its executions (the others). */
export type StatesAction = 'ListExecutions' | 'StartExecution' | 'DescribeExecution' | 'GetExecutionHistory' | 'RedriveExecution';

/** What a function may do besides writing its own log group and reading the MySQL password (every function does). */
export interface Grants {
  /** s3:GetObject anywhere in the artifacts bucket. */
  readonly s3Read?: true;
  /** s3:ListBucket, so a missing key answers 404 NoSuchKey (our NotFound) instead of 403. */
  readonly s3List?: true;
  /** s3:PutObject under these key prefixes ('' is the whole bucket). */
  readonly s3Write?: readonly string[];
  readonly states?: readonly StatesAction[];
  /** sns:Publish to this service's topics (`<service>-<stage>-…`, MONITOR_SNS_TOPIC_ARN). */
  readonly snsPublish?: true;
}

export interface FunctionSpec {
  /** The handler's module and export, from the repository root without extension: `functions/fetch.handler`. */
  readonly handler: string;
  readonly description: string;
  /** Seconds; HTTP functions stay under API Gateway's 29 s. */
  readonly timeout: number;
  /** MB (RUNTIME.memorySize when absent). */
  readonly memorySize?: number;
  readonly routes?: readonly Route[];
  readonly grants?: Grants;
  /** Settings of src/config.ts only this function is given; every other function gets all the others. */
  readonly ownSettings?: readonly ConfigKey[];
  /** An EventBridge schedule; `npm start -- --monitor-every N` does its work on the embedded runtime. */
  readonly schedule?: string;
}

/** Where the prediction log goes (src/monitoring/): predict, the console and batch prediction write it. */
const PREDICTION_LOG = 'predictions/';
const STEP = { s3Read: true, s3List: true, s3Write: [''] } as const satisfies Grants;

export const FUNCTIONS = {
  dataApi: {
    handler: 'functions/data-api.handler',
    description: 'Classic course data API - GET /data and /restart_data_generation',
    timeout: 29,
    memorySize: 1536,
    routes: [
      { method: 'GET', path: '/data' },
      { method: 'GET', path: '/restart_data_generation' },
    ],
  },
  fetch: { handler: 'functions/fetch.handler', description: 'Fetch one batch from the data API into MySQL without duplicates', timeout: 120 },
  preprocess: {
    handler: 'functions/preprocess.handler',
    description: 'Validate, split and snapshot the stored rows as a dataset version in S3',
    timeout: 600,
    memorySize: 3008,
    grants: STEP,
  },
  plan: { handler: 'functions/plan.handler', description: 'Draw the trials of a hyper-parameter search and open its parent run', timeout: 30 },
  select: { handler: 'functions/select.handler', description: 'Pick the best trial per objective and the candidate to promote', timeout: 30 },
  train: {
    handler: 'functions/train.handler',
    description: 'Train a random forest on a dataset version and record the run',
    timeout: 900,
    memorySize: 3008,
    grants: STEP,
  },
  promote: {
    handler: 'functions/promote.handler',
    description: "Register the run's model and make it champion if it beats the current one",
    timeout: 600,
    memorySize: 3008,
    grants: STEP,
  },
  recordFailure: { handler: 'functions/record-failure.handler', description: 'Record why an execution failed', timeout: 30 },
  registry: {
    handler: 'functions/registry.handler',
    description: 'Models, versions with lineage, promotion history, rollback and runs over HTTP',
    timeout: 29,
    routes: [
      { method: 'GET', path: '/models' },
      { method: 'GET', path: '/models/{name}' },
      { method: 'GET', path: '/models/{name}/versions/{version}' },
      { method: 'GET', path: '/models/{name}/promotions' },
      { method: 'POST', path: '/models/{name}/rollback', admin: true },
      { method: 'POST', path: '/models/{name}/champion', admin: true },
      { method: 'GET', path: '/runs' },
      { method: 'GET', path: '/runs/{runId}' },
    ],
    // Rollback and manual promotion check the target's artifact (a missing one is a 409, so list too: S3 answers 403, not 404, without it).
    grants: { s3Read: true, s3List: true },
  },
  batchPredict: {
    handler: 'functions/batch-predict.handler',
    description: 'Predict every row of a CSV in S3 (batch/...) and write the predictions beside it',
    timeout: 900,
    memorySize: 3008,
    grants: { s3Read: true, s3Write: ['batch/', PREDICTION_LOG] },
  },
  datasets: {
    handler: 'functions/datasets.handler',
    description: 'Dataset versions with their column profiles and drift reports over HTTP',
    timeout: 29,
    routes: [
      { method: 'GET', path: '/datasets' },
      { method: 'GET', path: '/datasets/{name}' },
      { method: 'GET', path: '/datasets/{name}/versions/{version}' },
    ],
    // Only reads snapshots' manifests, profiles and drift reports.
    grants: { s3Read: true, s3List: true },
  },
  predict: {
    handler: 'functions/predict.handler',
    description: 'POST /predict with the champion or a named version',
    timeout: 29,
    memorySize: 1536,
    routes: [{ method: 'POST', path: '/predict' }],
    // Reads models (ModelServer never writes them); writes only its prediction log.
    grants: { s3Read: true, s3List: true, s3Write: [PREDICTION_LOG] },
  },
  console: {
    handler: 'functions/console.handler',
    description: 'The web console (GET / and /console/{file}), version evaluation and CSV batch prediction for it',
    timeout: 29,
    memorySize: 1536,
    routes: [
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/console/{file}' },
      { method: 'GET', path: '/models/{name}/versions/{version}/evaluation' },
      { method: 'POST', path: '/batch-predictions' },
    ],
    // Reads models and snapshots (evaluation, batch prediction), writes uploads under batch/.
    grants: { s3Read: true, s3List: true, s3Write: ['batch/', PREDICTION_LOG] },
  },
  executions: {
    handler: 'functions/executions.handler',
    description: 'Pipeline executions for the console - list, graph and timeline, start, redrive (Step Functions API)',
    timeout: 29,
    routes: [
      { method: 'GET', path: '/executions' },
      { method: 'GET', path: '/executions/{id}' },
      { method: 'POST', path: '/executions', admin: true },
      { method: 'POST', path: '/executions/{id}/redrive', admin: true },
    ],
    grants: { states: ['ListExecutions', 'StartExecution', 'DescribeExecution', 'GetExecutionHistory', 'RedriveExecution'] },
    // The state machine to read and start; unset, a deployed function derives it from its own ARN.
    ownSettings: ['STATE_MACHINE_ARN', 'SFN_ENDPOINT'],
  },
  monitor: {
    handler: 'functions/monitor.handler',
    description: 'Feedback, and the monitor step - live drift, class mix, live metrics, once-per-crossing triggers',
    timeout: 300,
    memorySize: 1536,
    routes: [
      { method: 'POST', path: '/feedback' },
      { method: 'GET', path: '/monitoring/{name}' },
      { method: 'POST', path: '/monitoring/{name}/run', admin: true },
    ],
    // Reads the prediction log and training profiles, starts runs (retraining), publishes alerts.
    grants: { s3Read: true, s3List: true, states: ['StartExecution'], snsPublish: true },
    // Retraining starts runs the way the executions function does.
    ownSettings: ['STATE_MACHINE_ARN', 'SFN_ENDPOINT'],
    // Every model's check (the embedded stack sets MONITOR_SCHEDULE=false and runs it itself).
    schedule: 'rate(15 minutes)',
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof FUNCTIONS;
type RoutesOf<F extends FunctionName> = (typeof FUNCTIONS)[F] extends { routes: readonly (infer R)[] } ? R : never;
/** `GET /models/{name}`: API Gateway's route key of each route of function F. */
export type RouteKey<F extends FunctionName> = RoutesOf<F> extends infer R ? (R extends Route ? `${R['method']} ${R['path']}` : never) : never;
/** The functions that answer HTTP. */
export type HttpFunctionName = { [F in FunctionName]: [RoutesOf<F>] extends [never] ? never : F }[FunctionName];

export const routeKey = (route: Route): string => `${route.method} ${route.path}`;

/** Every function with its spec, in the manifest's order. */
export function functionSpecs(): [FunctionName, FunctionSpec][] {
  return Object.entries(FUNCTIONS) as [FunctionName, FunctionSpec][];
}

export const routesOf = (name: FunctionName): readonly Route[] => (FUNCTIONS[name] as FunctionSpec).routes ?? [];

/** The secrets a function reads from SSM: the MySQL password always, the admin token where a route needs it. */
export function secretsOf(name: FunctionName): SecretSetting[] {
  return routesOf(name).some((r) => r.admin) ? ['MYSQL_PASSWORD', 'ADMIN_TOKEN'] : ['MYSQL_PASSWORD'];
}

/** One HTTP route with the function that answers it and where that function's handler is. */
export interface HttpRoute extends Route {
  function: FunctionName;
  /** The handler's module from the repository root, without extension: `functions/registry` (`dist/functions/registry.js` once built). */
  module: string;
  /** Its export: `handler`. */
  export: string;
}

/** Every HTTP route of the service, for whatever routes requests to the functions (API Gateway, a local gateway). */
export function httpRoutes(): HttpRoute[] {
  return functionSpecs().flatMap(([name, spec]) => {
    const dot = spec.handler.lastIndexOf('.');
    return (spec.routes ?? []).map((r) => ({ ...r, function: name, module: spec.handler.slice(0, dot), export: spec.handler.slice(dot + 1) }));
  });
}

/**
 * The SSM parameter of a secret, on every deployed runtime: `/mlops-pipeline/dev/mysql-password`,
 * `/mlops-pipeline/dev/admin-token`.
 */
export const secretParameterName = (service: string, stage: string, setting: SecretSetting): string =>
  `/${service}/${stage}/${setting.toLowerCase().replaceAll('_', '-')}`;
