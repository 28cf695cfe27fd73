// Dataset spec: one JSON document describes a tabular dataset so that fetch, storage, validation,
// encoding, training and predict are all driven by it. The trained model stores its spec, which is
// enough to rebuild the exact feature encoding at predict time.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { metricsFor, PromotionMetricSchema } from '../metrics/names.ts';
import { datasetName } from '../schemas.ts';

// Column names become MySQL column names and JSON keys, so keep them plain identifiers
// (64 = MySQL identifier limit).
// Inner hyphens are allowed: source layouts keep their own names (Diabetes' `glyburide-metformin`).
const columnName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*$/, 'must be an identifier: letters, digits, _ and inner - (not starting with a digit)')
  .max(64);

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/**
 * The column may be missing: an absent field, `null`, a blank string or one of the spec's
 * `missingValues` markers is accepted and flows to the learner as missing (NaN).
 */
const allowMissing = z.boolean().optional();

const rangeFields = {
  name: columnName,
  description: z.string().optional(),
  missing: allowMissing,
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
  missing: allowMissing,
});
/**
 * Free text such as a code (ICD-9 `250.01`, `V45`): never a feature itself, only the source of a
 * derived column, so the spec must drop it (see transforms.ts).
 */
const TextColumnSchema = z.strictObject({
  type: z.literal('text'),
  name: columnName,
  description: z.string().optional(),
  /** A regular expression every value must match (anchored). */
  pattern: z
    .string()
    .min(1)
    .refine((p) => {
      try {
        new RegExp(p);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional(),
  missing: allowMissing,
});

export const ColumnSchema = z.discriminatedUnion('type', [NumericColumnSchema, IntegerColumnSchema, CategoricalColumnSchema, TextColumnSchema]);

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
  /**
   * Split by this column instead of by row: every row with the same value (e.g. all encounters of
   * one patient) lands in the same split, so nothing leaks. Never a feature.
   */
  group: columnName.optional(),
});

export const SourceSchema = z.strictObject({
  format: z.literal('csv'),
  /**
   * `plain`: header names equal the spec's column names (any order).
   * `one-hot-covertype`: each categorical column C arrives as 0/1 columns C1..Cn, where Ck means
   * values[k-1] (the UCI Covertype layout).
   */
  layout: z.enum(['one-hot-covertype', 'plain']).default('plain'),
  /** Rows per batch the data API serves (e.g. 15000); without it, the data API's own batching. */
  batchSize: z.number().int().positive().optional(),
});

const label = z.string().min(1);

/**
 * One rule of a code grouping: numeric codes whose integer part is in [min, max] (ICD-9 `250.01`
 * → 250), or codes starting with `prefix` (`V45`, `E878`).
 */
const CodeRangeSchema = z.union([z.strictObject({ label, min: finite, max: finite }), z.strictObject({ label, prefix: z.string().min(1) })]);

const derivedFields = {
  /** Name of the new categorical column. */
  name: columnName,
  /** The column it is computed from. */
  from: columnName,
  description: z.string().optional(),
};

/** A categorical column grouping codes into ranges; the first matching rule wins, else `default`. */
const DeriveCodesSchema = z.strictObject({
  ...derivedFields,
  codeRanges: z.array(CodeRangeSchema).min(1),
  default: label,
});

/**
 * A categorical column bucketing a number: with edges e0 < e1 < … a value v falls in bucket i, the
 * number of edges ≤ v. Labels default to `<e0`, `[e0,e1)`, …, `>=ek`.
 */
const DeriveBucketSchema = z.strictObject({
  ...derivedFields,
  bucket: z.strictObject({ edges: z.array(finite).min(1), labels: z.array(label).optional() }),
});

export const DeriveSchema = z.union([DeriveCodesSchema, DeriveBucketSchema]);

export const TransformsSchema = z.strictObject({
  /** Columns that are read and validated but never become features (ids, free text once derived). */
  drop: z.array(columnName).optional(),
  /** Target recoding, every value of the target → a class value (e.g. {"<30": 1, ">30": 0, "NO": 0}). */
  target: z.record(z.string(), z.union([z.number().int(), z.string().min(1)])).optional(),
  /** New categorical columns computed from one column each. */
  derive: z.array(DeriveSchema).optional(),
});

const FRACTION_TOLERANCE = 1e-9;

export const DatasetSpecSchema = z
  .strictObject({
    name: datasetName('must be a lowercase slug (a-z, 0-9, inner - or _; at most 64 characters)'),
    description: z.string().optional(),
    task: z.enum(['classification', 'regression']),
    columns: z.array(ColumnSchema).min(2),
    /** Name of the column to predict; every other column is a feature. */
    target: columnName,
    /** Required for classification; its order is the order of encoded class indices. */
    classes: z.array(ClassSchema).min(2).optional(),
    split: SplitSchema,
    source: SourceSchema.optional(),
    /** Strings that mean "missing" in the data (e.g. "?"), for the columns that allow missing. */
    missingValues: z.array(z.string().min(1)).min(1).optional(),
    /** Declarative feature transforms applied identically in preprocess, predict and batch predict. */
    transforms: TransformsSchema.optional(),
    /** The metric a new version is promoted by, unless the execution input names one. */
    promotionMetric: PromotionMetricSchema.optional(),
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
      } else if (col.type !== 'text' && col.min !== undefined && col.max !== undefined && col.min > col.max) {
        ctx.addIssue({ code: 'custom', path: ['columns', i, 'min'], message: `min (${col.min}) is greater than max (${col.max})` });
      }
    });

    const { train, validation, test } = spec.split;
    if (spec.split.group !== undefined) {
      const group = spec.columns.find((c) => c.name === spec.split.group);
      if (group === undefined) ctx.addIssue({ code: 'custom', path: ['split', 'group'], message: `no column named "${spec.split.group}"` });
      else if (group.missing === true) ctx.addIssue({ code: 'custom', path: ['split', 'group'], message: 'the group column must not allow missing values' });
      else if (group.name === spec.target) ctx.addIssue({ code: 'custom', path: ['split', 'group'], message: 'the group column cannot be the target' });
    }
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
    if (target.missing === true) ctx.addIssue({ code: 'custom', path: ['columns', targetIndex, 'missing'], message: 'the target cannot allow missing values' });
    checkTransforms(spec, ctx);
    const binary = spec.task === 'classification' && spec.classes?.length === 2;
    if (spec.promotionMetric !== undefined && !metricsFor(spec.task, binary).includes(spec.promotionMetric)) {
      ctx.addIssue({
        code: 'custom',
        path: ['promotionMetric'],
        message: `${spec.promotionMetric} does not apply to a ${binary ? 'binary ' : ''}${spec.task} task`,
      });
    }
    if (spec.task === 'regression') {
      if (target.type === 'categorical' || target.type === 'text') {
        ctx.addIssue({ code: 'custom', path: ['target'], message: 'a regression target must be a numeric or integer column' });
      }
      if (spec.classes !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['classes'], message: 'classes are only allowed for classification' });
      }
      return;
    }
    // Classification.
    if (spec.transforms?.target !== undefined) return; // checkTransforms matched the classes against the mapping.
    if (target.type === 'numeric' || target.type === 'text') {
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

type SpecShape = {
  columns: ColumnSpec[];
  target: string;
  task: 'classification' | 'regression';
  classes?: ClassSpec[] | undefined;
  split: SplitSpec;
  transforms?: Transforms | undefined;
};

/** Cross-field rules of `transforms` (the shape is checked by zod). */
function checkTransforms(spec: SpecShape, ctx: z.RefinementCtx): void {
  const t = spec.transforms;
  const byName = new Map(spec.columns.map((c) => [c.name, c]));
  const dropped = new Set(t?.drop ?? []);
  (t?.drop ?? []).forEach((name, i) => {
    const path = ['transforms', 'drop', i];
    if (!byName.has(name)) ctx.addIssue({ code: 'custom', path, message: `no column named "${name}"` });
    else if (name === spec.target) ctx.addIssue({ code: 'custom', path, message: 'the target cannot be dropped' });
    else if (name === spec.split.group)
      ctx.addIssue({ code: 'custom', path, message: 'the group column is kept for splitting and is never a feature: do not drop it' });
  });
  spec.columns.forEach((col, i) => {
    if (col.type === 'text' && col.name !== spec.target && !dropped.has(col.name) && col.name !== spec.split.group) {
      ctx.addIssue({
        code: 'custom',
        path: ['columns', i, 'type'],
        message: `text column "${col.name}" cannot be a feature: list it in transforms.drop (derive a column from it)`,
      });
    }
  });
  const names = new Set(spec.columns.map((c) => c.name));
  (t?.derive ?? []).forEach((d, i) => {
    const path = ['transforms', 'derive', i];
    if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `a column named "${d.name}" already exists` });
    names.add(d.name);
    const from = byName.get(d.from);
    if (from === undefined) {
      ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: `no column named "${d.from}"` });
      return;
    }
    if (d.from === spec.target) ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: 'a feature cannot be derived from the target' });
    if ('codeRanges' in d) {
      if (from.type !== 'text' && from.type !== 'categorical') {
        ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: 'code ranges need a text or categorical column' });
      }
      d.codeRanges.forEach((r, j) => {
        if ('min' in r && r.min > r.max)
          ctx.addIssue({ code: 'custom', path: [...path, 'codeRanges', j, 'min'], message: `min (${r.min}) is greater than max (${r.max})` });
      });
    } else {
      if (from.type !== 'numeric' && from.type !== 'integer') {
        ctx.addIssue({ code: 'custom', path: [...path, 'from'], message: 'a bucket needs a numeric or integer column' });
      }
      const { edges, labels } = d.bucket;
      for (let j = 1; j < edges.length; j++) {
        if (!(edges[j] > edges[j - 1])) ctx.addIssue({ code: 'custom', path: [...path, 'bucket', 'edges', j], message: 'edges must increase strictly' });
      }
      if (labels !== undefined && labels.length !== edges.length + 1) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'bucket', 'labels'],
          message: `needs ${edges.length + 1} labels (one more than the edges), got ${labels.length}`,
        });
      }
    }
  });
  const map = t?.target;
  if (map === undefined) return;
  const target = byName.get(spec.target);
  if (spec.task !== 'classification') {
    ctx.addIssue({ code: 'custom', path: ['transforms', 'target'], message: 'a target mapping is only for classification' });
    return;
  }
  if (target?.type !== 'categorical') {
    ctx.addIssue({ code: 'custom', path: ['transforms', 'target'], message: 'a target mapping needs a categorical target column' });
    return;
  }
  for (const key of Object.keys(map)) {
    if (!target.values.includes(key))
      ctx.addIssue({ code: 'custom', path: ['transforms', 'target', key], message: `"${key}" is not one of the target's values` });
  }
  for (const v of target.values) {
    if (!Object.hasOwn(map, v)) ctx.addIssue({ code: 'custom', path: ['transforms', 'target'], message: `target value "${v}" has no mapping` });
  }
  const mapped = new Set(Object.values(map));
  if ([...mapped].some((v) => typeof v === 'number') && [...mapped].some((v) => typeof v === 'string')) {
    ctx.addIssue({ code: 'custom', path: ['transforms', 'target'], message: 'mapped values must be all integers or all strings' });
  }
  const classValues = new Set((spec.classes ?? []).map((c) => c.value));
  (spec.classes ?? []).forEach((c, i) => {
    if (!mapped.has(c.value))
      ctx.addIssue({ code: 'custom', path: ['classes', i, 'value'], message: `${JSON.stringify(c.value)} is not a value of transforms.target` });
  });
  for (const v of mapped) {
    if (!classValues.has(v)) ctx.addIssue({ code: 'custom', path: ['classes'], message: `mapped target value ${JSON.stringify(v)} has no class entry` });
  }
}

export type DatasetSpec = z.infer<typeof DatasetSpecSchema>;
export type Transforms = z.infer<typeof TransformsSchema>;
export type DeriveSpec = z.infer<typeof DeriveSchema>;
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

/**
 * The columns a model reads, in spec order: all but the target and the split's group column. For a
 * spec with transforms, ask the model spec (`modelSpec` in transforms.ts).
 */
export function featureColumns(spec: DatasetSpec): ColumnSpec[] {
  return spec.columns.filter((c) => c.name !== spec.target && c.name !== spec.split.group);
}
