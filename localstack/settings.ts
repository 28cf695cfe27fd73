/**
 * Settings of the container runtime, from the environment (and `.env`, the file compose.yaml reads too,
 * so the MySQL and MinIO credentials have one source: copy `.env.example` to `.env`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type Config, loadConfig, repoRoot } from '../src/config.ts';

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);

/** What only the container runtime reads; the functions' settings are src/config.ts's. */
const LocalstackSchema = z.object({
  LOCALSTACK_ENDPOINT: z.string().url().default('http://localhost:4566'),
  STAGE: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default('dev'),
  /** auto: an HTTP API (API Gateway v2) where the LocalStack plan has it, else Lambda function URLs. */
  LOCALSTACK_HTTP: z.enum(['auto', 'http-api', 'function-url']).default('auto'),
  /** The Lambda containers' architecture: the host's, so no emulation is needed (AWS uses arm64). */
  LAMBDA_ARCH: z.enum(['x86_64', 'arm64']).default(process.arch === 'arm64' ? 'arm64' : 'x86_64'),
  /** Where this machine reaches the mysql service (for the schema); the Lambdas use mysql:3306. */
  MYSQL_HOST_PORT: port(3307),
  MINIO_ROOT_USER: z.string().min(1).default('mlops'),
  MINIO_ROOT_PASSWORD: z.string().min(1).default('change-me-minio'),
  MINIO_PORT: port(9000),
});

/** The container runtime's own settings, and the functions' (MYSQL_USER, S3_BUCKET, DATA_API_DATASET_PATH: the source CSV the deploy uploads…). */
export type Settings = z.infer<typeof LocalstackSchema> & Config;

/** Service names on the compose network, as the Lambda containers see them. */
export const IN_NETWORK = { mysqlHost: 'mysql', mysqlPort: 3306, s3Endpoint: 'http://minio:9000' } as const;

export function loadSettings(env: Record<string, string | undefined> = process.env): Settings {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = LocalstackSchema.safeParse(present);
  if (!parsed.success) {
    throw new Error(`Invalid settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return { ...loadConfig(env), ...parsed.data };
}

/** Loads `.env` from the repo root into process.env (values already set win), like compose does. */
export function loadDotEnv(file = path.join(repoRoot, '.env')): void {
  if (existsSync(file)) process.loadEnvFile(file);
}
