import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { datasetName, describeIssues, fieldIssues } from './schemas.ts';

/** The repository root (src/ or dist/src/ sits under it). */
export const repoRoot = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.basename(path.dirname(here)) === 'dist' ? '../..' : '..';
  return path.resolve(here, up);
})();

/** The shortest admin token the functions accept. */
export const ADMIN_TOKEN_MIN_LENGTH = 16;

/** An SSM parameter name such as /mlops-pipeline/dev/mysql-password. */
const parameterName = z.string().regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'an SSM parameter name such as /mlops-pipeline/dev/mysql-password');

/**
 * The settings that are secrets, each with the setting that names its SSM parameter. Deployed functions
 * (LocalStack, AWS) hold only the names and read the SecureString values at cold start
 * (functions/lib/context.ts); the embedded runtime gives the values themselves, in its own environment.
 */
export const SECRET_PARAMETERS = {
  MYSQL_PASSWORD: 'MYSQL_PASSWORD_PARAMETER',
  ADMIN_TOKEN: 'ADMIN_TOKEN_PARAMETER',
  S3_SECRET_ACCESS_KEY: 'S3_SECRET_ACCESS_KEY_PARAMETER',
} as const;
export type SecretSetting = keyof typeof SECRET_PARAMETERS;

const int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** A setting holding a JSON object dataset name → value, such as `example`. */
const byDataset = <T extends z.ZodType>(value: T, example: string) =>
  z
    .string()
    .transform((text, ctx): unknown => {
      try {
        return JSON.parse(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a JSON object such as ${example}` });
        return z.NEVER;
      }
    })
    .pipe(z.record(datasetName('dataset names are slugs'), value))
    .optional();

/** Every setting the project reads from the environment, validated once. */
const ConfigSchema = z.object({
  MYSQL_HOST: z.string().default('127.0.0.1'),
  MYSQL_PORT: int(3306),
  MYSQL_USER: z.string().default('root'),
  MYSQL_PASSWORD: z.string().default(''),
  MYSQL_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,64}$/, 'letters, digits and _ only')
    .default('mlops'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a valid S3 bucket name')
    .default('mlops-artifacts'),
  /** Set for S3-compatible servers (s3rver, MinIO, LocalStack); unset on AWS. */
  S3_ENDPOINT: z.string().url().optional(),
  /**
   * Keys for an S3-compatible server (MinIO, s3rver). Separate from AWS_ACCESS_KEY_ID, which Lambda
   * reserves for the function's own role; unset on AWS, where the role's credentials are used.
   */
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  AWS_REGION: z.string().default('us-east-1'),
  /** Base URL of the data API the fetch step calls. */
  DATA_API_URL: z.string().url().default('http://127.0.0.1:3000'),
  DATA_API_TIMEOUT_MS: int(10_000),
  /** Dataset the data API serves: a CSV path (relative to the repo root) or an http(s) URL. */
  DATA_API_DATASET_PATH: z.string().default('../shared/data/covertype/covertype.csv.gz'),
  DATA_API_SPEC: z.string().default('datasets/covertype.spec.json'),
  /**
   * Sources of the other datasets the data API serves (`GET /data?dataset=<name>`), as a JSON object
   * dataset name → CSV path (relative to the repo root) or URL. Merged over DEFAULT_DATA_API_SOURCES;
   * the spec is `${DATASET_SPECS_DIR}/<name>.spec.json`. The default dataset (no `dataset` parameter)
   * is the one of DATA_API_SPEC, read from DATA_API_DATASET_PATH unless named here.
   */
  DATA_API_SOURCES: byDataset(z.string().min(1), '{"bodyfat":"../shared/data/bodyfat/bodyfat.csv"}'),
  /**
   * Rows per batch by dataset, as a JSON object (e.g. {"diabetes": 1500}), over each spec's
   * `source.batchSize`; such a dataset is served in whole batches of that size.
   */
  DATA_API_BATCH_SIZES: byDataset(z.number().int().positive(), '{"diabetes":15000}'),
  /** A feature whose PSI against the previous dataset version is above this is flagged as drifted. */
  DRIFT_PSI_THRESHOLD: z.coerce.number().positive().default(0.2),
  DATA_API_BATCHES: int(10),
  DATA_API_BATCH_INTERVAL_SECONDS: int(300),
  /** Rows per call: a random sample of the current batch. */
  DATA_API_SAMPLE_SIZE: int(5000),
  /** Folder of dataset specs the pipeline steps read. */
  DATASET_SPECS_DIR: z.string().default('datasets'),
  /** How long predict trusts its cached view of which version is champion. */
  CHAMPION_CACHE_MS: int(2000),
  /**
   * The routes that change the registry or start runs (rollback, champion, POST /executions) always need
   * `authorization: Bearer <ADMIN_TOKEN>`; without one configured they stay closed. `npm start` generates
   * one (src/embedded/admin-token.ts); on LocalStack/AWS it comes from SSM (ADMIN_TOKEN_PARAMETER).
   */
  ADMIN_TOKEN: z.string().min(ADMIN_TOKEN_MIN_LENGTH, `use at least ${ADMIN_TOKEN_MIN_LENGTH} characters`).optional(),
  TRAIN_WORKERS: z.coerce.number().int().nonnegative().optional(),
  /** Names of the SSM parameters of the secrets (SECRET_PARAMETERS); unset on the embedded runtime. */
  MYSQL_PASSWORD_PARAMETER: parameterName.optional(),
  ADMIN_TOKEN_PARAMETER: parameterName.optional(),
  S3_SECRET_ACCESS_KEY_PARAMETER: parameterName.optional(),
  /** SSM endpoint of an emulator; unset on AWS (and on LocalStack, whose Lambdas get AWS_ENDPOINT_URL). */
  SSM_ENDPOINT: z.string().url().optional(),
  /**
   * The state machine whose executions the console lists, starts and redrives through the Step
   * Functions API (the embedded stack sets it; deployed functions derive it from their own ARN when unset).
   */
  STATE_MACHINE_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]+$/, 'a state machine ARN')
    .optional(),
  /** Step Functions endpoint other than AWS's: the embedded stack's, or LocalStack's (its Lambdas also get AWS_ENDPOINT_URL). */
  SFN_ENDPOINT: z.string().url().optional(),
  /** Largest CSV the console's batch prediction accepts, in bytes. */
  CONSOLE_BATCH_MAX_BYTES: int(2_000_000),
  // ---- Monitoring (src/monitoring/): prediction log, live drift, feedback, triggers ----
  /** Share of /predict requests and batch rows written to the prediction log (predictions/<model>/date=…/). */
  PREDICTION_LOG_SAMPLE_RATE: z.coerce.number().min(0).max(1).default(1),
  /** Memory the log's buffer may hold; records arriving when it is full are dropped and counted. */
  PREDICTION_LOG_BUFFER_BYTES: int(8_000_000),
  /**
   * The buffer is written out when it holds this much… Each write has a fixed cost (the S3 client's request,
   * the flushes row, S3's own work: about as much as 1 MB of body on the local stack), so few large objects.
   */
  PREDICTION_LOG_FLUSH_BYTES: int(4_000_000),
  /** …or when its oldest record is this old (0: at the end of every invocation). */
  PREDICTION_LOG_FLUSH_MS: int(5000),
  /** The monitor step looks at the predictions of this many past hours. */
  MONITOR_WINDOW_HOURS: int(24),
  /**
   * Fewer logged rows than this in the window: no drift verdict. With no drift at all, PSI is still
   * about (bins − 1) · (1/live rows + 1/training rows): Covertype's 40 soil types need ~1000 rows to stay near 0.06.
   */
  MONITOR_MIN_ROWS: int(1000),
  /** Fewer feedback pairs than this: no live-metric verdict. */
  MONITOR_MIN_FEEDBACK: int(30),
  /** Live accuracy below this (classification) is a crossing; unset: not watched. */
  MONITOR_MIN_ACCURACY: z.coerce.number().min(0).max(1).optional(),
  /** Live RMSE above this (regression) is a crossing; unset: not watched. */
  MONITOR_MAX_RMSE: z.coerce.number().positive().optional(),
  /** Start a pipeline run (retraining on fresh data) when a monitor trigger fires. */
  MONITOR_RETRAIN: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** POST each fired trigger as JSON here (Slack-style webhooks, any HTTP receiver). */
  MONITOR_WEBHOOK_URL: z.string().url().optional(),
  /** AWS: publish each fired trigger to this SNS topic. */
  MONITOR_SNS_TOPIC_ARN: z
    .string()
    .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'an SNS topic ARN')
    .optional(),
  /**
   * The functions' log level (functions/lib/log.ts). Nothing on the per-request predict path logs at
   * INFO, so DEBUG there costs a line per request.
   */
  LOG_LEVEL: z
    .string()
    .transform((v) => v.toUpperCase())
    .pipe(z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']))
    .default('INFO'),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigKey = keyof Config;
/** The name of every setting, in the schema's order. */
export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as ConfigKey[];

/** Built-in sources of the data API's datasets besides the default one (paths relative to the repo root). */
export const DEFAULT_DATA_API_SOURCES: Readonly<Record<string, string>> = {
  bodyfat: '../shared/data/bodyfat/bodyfat.csv',
  diabetes: '../shared/data/diabetes/diabetic_data.csv.gz',
};

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty setting (`X=` in an env file) is an unset one.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${describeIssues(fieldIssues(parsed.error))}`);
  }
  return parsed.data;
}

/** What `npm start` runs: the S3 server on its fixed port with s3rver's own key pair (defaults for the CLI). */
export const LOCAL_STACK_S3: Readonly<Record<string, string>> = {
  S3_ENDPOINT: 'http://127.0.0.1:4569',
  S3_ACCESS_KEY_ID: 'S3RVER',
  S3_SECRET_ACCESS_KEY: 'S3RVER',
};

/** The MySQL connection a config describes (src/storage's MysqlSettings). */
export function mysqlSettings(c: Pick<Config, 'MYSQL_HOST' | 'MYSQL_PORT' | 'MYSQL_USER' | 'MYSQL_PASSWORD' | 'MYSQL_DATABASE'>) {
  return { host: c.MYSQL_HOST, port: c.MYSQL_PORT, user: c.MYSQL_USER, password: c.MYSQL_PASSWORD, database: c.MYSQL_DATABASE };
}

/** The S3 settings a config describes (an S3-compatible server with its own keys, or AWS). */
export function s3Settings(c: Config): { bucket: string; region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } } {
  return {
    bucket: c.S3_BUCKET,
    region: c.AWS_REGION,
    ...(c.S3_ENDPOINT ? { endpoint: c.S3_ENDPOINT } : {}),
    ...(c.S3_ACCESS_KEY_ID && c.S3_SECRET_ACCESS_KEY ? { credentials: { accessKeyId: c.S3_ACCESS_KEY_ID, secretAccessKey: c.S3_SECRET_ACCESS_KEY } } : {}),
  };
}

type S3Connection = ReturnType<typeof s3Settings>;

/** The settings that point a function at a MySQL server: what `mysqlSettings` reads back. */
export function mysqlEnvironment(m: ReturnType<typeof mysqlSettings>): Record<string, string> {
  return { MYSQL_HOST: m.host, MYSQL_PORT: String(m.port), MYSQL_USER: m.user, MYSQL_PASSWORD: m.password, MYSQL_DATABASE: m.database };
}

/** The settings that point a function at a bucket (and an S3-compatible server): what `s3Settings` reads back. */
export function s3Environment(s: S3Connection): Record<string, string> {
  return {
    S3_BUCKET: s.bucket,
    AWS_REGION: s.region,
    ...(s.endpoint ? { S3_ENDPOINT: s.endpoint } : {}),
    ...(s.credentials ? { S3_ACCESS_KEY_ID: s.credentials.accessKeyId, S3_SECRET_ACCESS_KEY: s.credentials.secretAccessKey } : {}),
  };
}

/** Resolves a configured path against the repo root unless it is absolute or a URL. */
export function resolveFromRepo(p: string): string {
  if (/^https?:\/\//.test(p) || path.isAbsolute(p)) return p;
  return path.resolve(repoRoot, p);
}
