/**
 * Settings of the container runtime, from the environment (and `.env`, the file compose.yaml reads too,
 * so the MySQL and MinIO credentials have one source: copy `.env.example` to `.env`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { repoRoot } from '../src/config.ts';

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

const SettingsSchema = z.object({
  LOCALSTACK_ENDPOINT: z.string().url().default('http://localhost:4566'),
  AWS_REGION: z.string().default('us-east-1'),
  STAGE: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default('dev'),
  /** auto: an HTTP API (API Gateway v2) where the LocalStack plan has it, else Lambda function URLs. */
  LOCALSTACK_HTTP: z.enum(['auto', 'http-api', 'function-url']).default('auto'),
  /** The Lambda containers' architecture: the host's, so no emulation is needed (AWS uses arm64). */
  LAMBDA_ARCH: z.enum(['x86_64', 'arm64']).default(process.arch === 'arm64' ? 'arm64' : 'x86_64'),
  MYSQL_USER: z.string().min(1).default('mlops'),
  MYSQL_PASSWORD: z.string().default(''),
  MYSQL_DATABASE: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,64}$/)
    .default('mlops'),
  /** Where this machine reaches the mysql service (for the schema); the Lambdas use mysql:3306. */
  MYSQL_HOST_PORT: port(3307),
  MINIO_ROOT_USER: z.string().min(1).default('mlops'),
  MINIO_ROOT_PASSWORD: z.string().min(1).default('change-me-minio'),
  MINIO_PORT: port(9000),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)
    .default('mlops-artifacts'),
  /** The source CSV the data API serves, uploaded to MinIO by the deploy. */
  DATA_API_DATASET_PATH: z.string().default('../shared/data/covertype/covertype.csv.gz'),
  DATA_API_BATCH_INTERVAL_SECONDS: z.string().optional(),
  DATA_API_SAMPLE_SIZE: z.string().optional(),
  CHAMPION_CACHE_MS: z.string().optional(),
  TRAIN_WORKERS: z.string().optional(),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** Service names on the compose network, as the Lambda containers see them. */
export const IN_NETWORK = { mysqlHost: 'mysql', mysqlPort: 3306, s3Endpoint: 'http://minio:9000' } as const;

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = SettingsSchema.safeParse(present);
  if (!parsed.success) {
    throw new Error(`Invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Loads `.env` from the repo root into process.env (values already set win), like compose does. */
export function loadDotEnv(file = path.join(repoRoot, '.env')): void {
  if (existsSync(file)) process.loadEnvFile(file);
}
