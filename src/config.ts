import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The repository root (src/ or dist/src/ sits under it). */
export const repoRoot = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.basename(path.dirname(here)) === 'dist' ? '../..' : '..';
  return path.resolve(here, up);
})();

const int = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

/** Every setting the project reads from the environment, validated once. */
const ConfigSchema = z.object({
  MYSQL_HOST: z.string().default('127.0.0.1'),
  MYSQL_PORT: int(3306),
  MYSQL_USER: z.string().default('root'),
  MYSQL_PASSWORD: z.string().default(''),
  MYSQL_DATABASE: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, 'letters, digits and _ only').default('mlops'),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'a valid S3 bucket name').default('mlops-artifacts'),
  /** Set for S3-compatible servers (s3rver, MinIO, LocalStack); unset on AWS. */
  S3_ENDPOINT: z.string().url().optional(),
  AWS_REGION: z.string().default('us-east-1'),
  /** Base URL of the data API the fetch step calls. */
  DATA_API_URL: z.string().url().default('http://127.0.0.1:3000'),
  DATA_API_TIMEOUT_MS: int(10_000),
  /** Dataset the data API serves: a CSV path (relative to the repo root) or an http(s) URL. */
  DATA_API_DATASET_PATH: z.string().default('../shared/data/covertype/covertype.csv.gz'),
  DATA_API_SPEC: z.string().default('datasets/covertype.spec.json'),
  DATA_API_BATCHES: int(10),
  DATA_API_BATCH_INTERVAL_SECONDS: int(300),
  /** Rows per call: a random sample of the current batch. */
  DATA_API_SAMPLE_SIZE: int(5000),
  /** Folder of dataset specs the pipeline steps read. */
  DATASET_SPECS_DIR: z.string().default('datasets'),
  /** How long predict trusts its cached view of which version is champion. */
  CHAMPION_CACHE_MS: int(2000),
  TRAIN_WORKERS: z.coerce.number().int().nonnegative().optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // serverless.yml passes unset settings as empty strings: treat them as unset.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(present);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${details}`);
  }
  return parsed.data;
}

/** Resolves a configured path against the repo root unless it is absolute or a URL. */
export function resolveFromRepo(p: string): string {
  if (/^https?:\/\//.test(p) || path.isAbsolute(p)) return p;
  return path.resolve(repoRoot, p);
}
