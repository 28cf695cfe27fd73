// The identifiers every boundary checks (events, HTTP requests, config, S3 keys, spec files), each
// stated once, and the one way a failed parse becomes a named InvalidInput.
import { z } from 'zod';
import { InvalidInput } from './errors.ts';

/**
 * A dataset's name, which is also its model's name, a folder of S3 keys and a spec file's name:
 * lowercase letters and digits, single inner `-` or `_`, at most 64 characters.
 */
export const DATASET_NAME = /^[a-z0-9](?:[a-z0-9]|[-_](?=[a-z0-9])){0,63}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** batch/…/name.csv with plain path segments: no `..`, no empty segment, nothing outside batch/. */
export const BATCH_INPUT_KEY = /^batch\/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\.csv$/;
/** A Lambda function's ARN, with or without a version or alias: partition, region, account, function name. */
export const LAMBDA_FUNCTION_ARN = /^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::[A-Za-z0-9_$-]+)?$/;
/** A dataset version's snapshot manifest, `datasets/<name>/<content hash>/manifest.json` (src/storage/keys.ts builds it). */
export const MANIFEST_KEY = new RegExp(`^datasets/${inner(DATASET_NAME)}/${inner(SHA256_HEX)}/manifest\\.json$`);

/** A whole-string pattern's body, to compose it into a larger one. */
function inner(pattern: RegExp): string {
  return pattern.source.replace(/^\^/, '').replace(/\$$/, '');
}

/** MySQL's INT, the column type of version numbers. */
const INT_MAX = 2_147_483_647;

/** A dataset name; `message` says, in a 400, what the field wanted. */
/** The dataset (and model) a request or a run means when it names none: the classic course API's only one. */
export const DEFAULT_DATASET = 'covertype';

export const datasetName = (message = 'a dataset name such as "covertype"') => z.string().regex(DATASET_NAME, message);
/** A registered model's name (a model is named after its dataset). */
export const modelName = (message = 'a model name such as "covertype"') => datasetName(message);
/** A model or dataset version number in a JSON body or event. */
export const VersionNumber = z.number().int().positive().max(INT_MAX);
/** The same from a URL (path or query string), where it arrives as text. */
export const VersionParam = z.coerce
  .number({ error: 'a version number (1, 2, …)' })
  .int('a version number (1, 2, …)')
  .positive('a version number (1, 2, …)')
  .max(INT_MAX, 'a version number (1, 2, …)');
/** The Step Functions execution a step runs for (`$$.Execution.Id`). */
export const ExecutionId = z.string().min(1).max(200);
/** A training run (registry.training_runs.id). */
export const RunId = z.string().uuid('a run id (UUID)');
export const ManifestKey = z.string().regex(MANIFEST_KEY, 'a manifest key like datasets/<name>/<sha256>/manifest.json');
export const BatchInputKey = z.string().max(500).regex(BATCH_INPUT_KEY, 'an S3 key like batch/inputs/rows.csv');
/** What a Step Functions Catch hands on: the error's name and cause. */
export const CaughtError = z.object({ Error: z.string().default('Unknown'), Cause: z.string().nullable().default(null) }).passthrough();

export type FieldIssue = { field: string; message: string };

/**
 * The field-by-field issues of a failed parse: `field` is the dotted path (under `prefix`), or
 * `whole` for an issue about the value as a whole.
 */
export function fieldIssues(error: z.ZodError, options: { prefix?: readonly string[]; whole?: string } = {}): FieldIssue[] {
  return error.issues.map((i) => ({ field: [...(options.prefix ?? []), ...i.path.map(String)].join('.') || (options.whole ?? '(input)'), message: i.message }));
}

/** `field: message; field: message`, for an error message. */
export function describeIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}

/** A failed parse as the 400 that names each field: `Invalid <what>: field: message; …`. */
export function invalidInput(what: string, error: z.ZodError, options: { prefix?: readonly string[]; whole?: string } = {}): InvalidInput {
  const issues = fieldIssues(error, options);
  return new InvalidInput(`Invalid ${what}: ${describeIssues(issues)}`, issues);
}

/** Parses `value` with `schema`, or throws `invalidInput(what, …)`. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  options: { prefix?: readonly string[]; whole?: string } = {},
): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(what, result.error, options);
  return result.data;
}
