// Dataset spec: one JSON document describes a tabular dataset so that fetch, storage, validation,
// encoding, training and predict are all driven by it. The trained model stores its spec, which is
// enough to rebuild the exact feature encoding at predict time.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

// Column names become MySQL column names and JSON keys, so keep them plain identifiers
// (64 = MySQL identifier limit).
const columnName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier: letters, digits, _ (not starting with a digit)')
  .max(64);

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const rangeFields = {
  name: columnName,
  description: z.string().optional(),
  /** Inclusive bounds; rows outside are rejected by validation. */
  min: finite.optional(),
  max: finite.optional(),
};

const NumericColumnSchema = z.strictObject({ type: z.literal('numeric'), ...rangeFields });
const IntegerColumnSchema = z.strictObject({ type: z.literal('integer'), ...rangeFields });
const CategoricalColumnSchema = z.strictObject({
  type: z.literal('categorical'),
  name: columnName,
  description: z.string().optional(),
  /** Allowed values, in order; the order defines the one-hot layout of encoded features. */
  values: z.array(z.string().min(1)).min(1),
  /** Display names keyed by value (e.g. "Rawah" → "Rawah Wilderness Area"). */
  labels: z.record(z.string(), z.string()).optional(),
});

export const ColumnSchema = z.discriminatedUnion('type', [
  NumericColumnSchema,
  IntegerColumnSchema,
  CategoricalColumnSchema,
]);

export const ClassSchema = z.strictObject({
  /** Integer for an integer target, one of the column's values for a categorical target. */
  value: z.union([z.number(), z.string()]),
  label: z.string().min(1),
});

const fraction = z.number().min(0).max(1);

export const SplitSchema = z.strictObject({
  train: fraction,
  validation: fraction,
  test: fraction,
  /** Salt of the split hash: changing it reshuffles every row. */
  seed: z.string().min(1),
});

export const SourceSchema = z.strictObject({
  format: z.literal('csv'),
  /**
   * `plain`: header names equal the spec's column names (any order).
   * `one-hot-covertype`: each categorical column C arrives as 0/1 columns C1..Cn, where Ck means
   * values[k-1] (the UCI Covertype layout).
   */
  layout: z.enum(['one-hot-covertype', 'plain']).default('plain'),
});

const FRACTION_TOLERANCE = 1e-9;

export const DatasetSpecSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9]+(?:[-_][a-z0-9]+)*$/, 'must be a lowercase slug (a-z, 0-9, - or _)'),
    description: z.string().optional(),
    task: z.enum(['classification', 'regression']),
    columns: z.array(ColumnSchema).min(2),
    /** Name of the column to predict; every other column is a feature. */
    target: columnName,
    /** Required for classification; its order is the order of encoded class indices. */
    classes: z.array(ClassSchema).min(2).optional(),
    split: SplitSchema,
    source: SourceSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    const seen = new Set<string>();
    spec.columns.forEach((col, i) => {
      if (seen.has(col.name)) {
        ctx.addIssue({ code: 'custom', path: ['columns', i, 'name'], message: `duplicate column name "${col.name}"` });
      }
      seen.add(col.name);
      if (col.type === 'categorical') {
        const values = new Set<string>();
        col.values.forEach((v, j) => {
          if (values.has(v)) {
            ctx.addIssue({ code: 'custom', path: ['columns', i, 'values', j], message: `duplicate value "${v}"` });
          }
          values.add(v);
        });
        for (const key of Object.keys(col.labels ?? {})) {
          if (!values.has(key)) {
            ctx.addIssue({ code: 'custom', path: ['columns', i, 'labels', key], message: `"${key}" is not one of the column's values` });
          }
        }
      } else if (col.min !== undefined && col.max !== undefined && col.min > col.max) {
        ctx.addIssue({ code: 'custom', path: ['columns', i, 'min'], message: `min (${col.min}) is greater than max (${col.max})` });
      }
    });

    const { train, validation, test } = spec.split;
    const sum = train + validation + test;
    if (Math.abs(sum - 1) > FRACTION_TOLERANCE) {
      ctx.addIssue({ code: 'custom', path: ['split'], message: `train + validation + test must be 1, got ${sum}` });
    }

    const targetIndex = spec.columns.findIndex((c) => c.name === spec.target);
    const target = spec.columns[targetIndex];
    if (target === undefined) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: `no column named "${spec.target}"` });
      return;
    }
    if (spec.task === 'regression') {
      if (target.type === 'categorical') {
        ctx.addIssue({ code: 'custom', path: ['target'], message: 'a regression target must be a numeric or integer column' });
      }
      if (spec.classes !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['classes'], message: 'classes are only allowed for classification' });
      }
      return;
    }
    // Classification.
    if (target.type === 'numeric') {
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'a classification target must be an integer or categorical column' });
    }
    if (spec.classes === undefined) {
      ctx.addIssue({ code: 'custom', path: ['classes'], message: 'classification needs the list of classes' });
      return;
    }
    const classValues = new Set<number | string>();
    spec.classes.forEach((cls, i) => {
      const path = ['classes', i, 'value'];
      if (classValues.has(cls.value)) {
        ctx.addIssue({ code: 'custom', path, message: `duplicate class value ${JSON.stringify(cls.value)}` });
      }
      classValues.add(cls.value);
      if (target.type === 'integer') {
        if (typeof cls.value !== 'number' || !Number.isInteger(cls.value)) {
          ctx.addIssue({ code: 'custom', path, message: `must be an integer (target "${target.name}" is an integer column)` });
        } else if ((target.min !== undefined && cls.value < target.min) || (target.max !== undefined && cls.value > target.max)) {
          ctx.addIssue({ code: 'custom', path, message: `${cls.value} is outside the target column's [min, max]` });
        }
      } else if (target.type === 'categorical') {
        if (typeof cls.value !== 'string' || !target.values.includes(cls.value)) {
          ctx.addIssue({ code: 'custom', path, message: `must be one of the target column's values` });
        }
      }
    });
    if (target.type === 'categorical') {
      for (const v of target.values) {
        if (!classValues.has(v)) {
          ctx.addIssue({ code: 'custom', path: ['classes'], message: `target value "${v}" has no class entry` });
        }
      }
    }
  });

export type DatasetSpec = z.infer<typeof DatasetSpecSchema>;
export type ColumnSpec = z.infer<typeof ColumnSchema>;
export type CategoricalColumnSpec = z.infer<typeof CategoricalColumnSchema>;
export type ClassSpec = z.infer<typeof ClassSchema>;
export type SplitSpec = z.infer<typeof SplitSchema>;
/** What callers may write (e.g. `source.layout` omitted); `DatasetSpec` is the parsed form. */
export type DatasetSpecInput = z.input<typeof DatasetSpecSchema>;

export type SpecIssue = { path: string; message: string };

export class InvalidDatasetSpec extends Error {
  override name = 'InvalidDatasetSpec';
  readonly issues: SpecIssue[];
  constructor(issues: SpecIssue[]) {
    super(`invalid dataset spec: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.issues = issues;
  }
}

/** `["columns", 3, "values"]` → `columns[3].values` */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Parses and checks a spec (shape and cross-field rules); throws `InvalidDatasetSpec`. */
export function parseDatasetSpec(json: unknown): DatasetSpec {
  const result = DatasetSpecSchema.safeParse(json);
  if (!result.success) {
    throw new InvalidDatasetSpec(result.error.issues.map((i) => ({ path: formatIssuePath(i.path), message: i.message })));
  }
  return result.data;
}

/** Reads and parses a spec JSON file. */
export async function readDatasetSpecFile(path: string): Promise<DatasetSpec> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidDatasetSpec([{ path: '', message: `${path} is not valid JSON: ${(err as Error).message}` }]);
  }
  return parseDatasetSpec(json);
}

/** The target column (a parsed spec always has one). */
export function targetColumn(spec: DatasetSpec): ColumnSpec {
  const col = spec.columns.find((c) => c.name === spec.target);
  if (col === undefined) throw new Error(`spec "${spec.name}" has no target column "${spec.target}"`);
  return col;
}

/** All columns except the target, in spec order. */
export function featureColumns(spec: DatasetSpec): ColumnSpec[] {
  return spec.columns.filter((c) => c.name !== spec.target);
}
