// The spec's declarative transforms at run time. `transformRow` is the one function that turns a
// validated row of the dataset's own columns into a model row: preprocess applies it before
// writing a snapshot, `/predict` and batch prediction apply it (through `prepareRecord`) to every
// request row, so training and serving cannot disagree. `modelSpec` describes the rows it makes:
// snapshots are validated, encoded and profiled against it.
import type { CategoricalColumnSpec, ColumnSpec, DatasetSpec, DeriveSpec } from './spec.ts';
import { validateRecord, type TypedRow, type ValidateRecordResult } from './validate.ts';

type Derivation = { name: string; from: string; compute: (value: number | string) => string };

type Compiled = {
  model: DatasetSpec;
  /** Source columns copied to the model row (features, the group column, the target). */
  kept: string[];
  derive: Derivation[];
  targetMap: Map<string, number | string> | undefined;
  /** Columns a prediction needs: kept features and the sources of derived ones. */
  inputs: Set<string>;
};

const cache = new WeakMap<DatasetSpec, Compiled>();

/** Labels of a bucket's intervals: `<e0`, `[e0,e1)`, …, `>=ek`, unless the spec names them. */
export function bucketLabels(edges: readonly number[], labels?: readonly string[]): string[] {
  if (labels !== undefined) return [...labels];
  const out = [`<${edges[0]}`];
  for (let i = 1; i < edges.length; i++) out.push(`[${edges[i - 1]},${edges[i]})`);
  out.push(`>=${edges[edges.length - 1]}`);
  return out;
}

const NUMERIC_CODE = /^\d+(?:\.\d+)?$/;

/** The group of a code: the first rule that matches (integer part in [min, max], or prefix), else the default. */
export function codeGroup(code: string, rules: Extract<DeriveSpec, { codeRanges: unknown }>): string {
  const numeric = NUMERIC_CODE.test(code) ? Math.floor(Number(code)) : undefined;
  for (const rule of rules.codeRanges) {
    if ('prefix' in rule) {
      if (code.startsWith(rule.prefix)) return rule.label;
    } else if (numeric !== undefined && numeric >= rule.min && numeric <= rule.max) return rule.label;
  }
  return rules.default;
}

function derivation(d: DeriveSpec): { column: CategoricalColumnSpec; compute: Derivation['compute'] } {
  if ('codeRanges' in d) {
    const values = [...new Set([...d.codeRanges.map((r) => r.label), d.default])];
    return {
      column: { type: 'categorical', name: d.name, values, ...(d.description !== undefined ? { description: d.description } : {}) },
      compute: (v) => codeGroup(String(v), d),
    };
  }
  const { edges } = d.bucket;
  const labels = bucketLabels(edges, d.bucket.labels);
  return {
    column: { type: 'categorical', name: d.name, values: [...new Set(labels)], ...(d.description !== undefined ? { description: d.description } : {}) },
    compute: (v) => {
      const x = typeof v === 'number' ? v : Number(v);
      let i = 0;
      while (i < edges.length && x >= edges[i]) i++;
      return labels[i];
    },
  };
}

function compile(spec: DatasetSpec): Compiled {
  let c = cache.get(spec);
  if (c !== undefined) return c;
  const t = spec.transforms;
  const dropped = new Set(t?.drop ?? []);
  const derived = (t?.derive ?? []).map((d) => ({ d, ...derivation(d) }));
  const targetMap = t?.target !== undefined ? new Map(Object.entries(t.target)) : undefined;
  const columns: ColumnSpec[] = [];
  const kept: string[] = [];
  for (const col of spec.columns) {
    if (dropped.has(col.name)) continue;
    kept.push(col.name);
    if (col.name === spec.target && targetMap !== undefined) {
      const values = [...new Set(targetMap.values())];
      columns.push(
        values.every((v) => typeof v === 'number')
          ? { type: 'integer', name: col.name, min: Math.min(...(values as number[])), max: Math.max(...(values as number[])) }
          : { type: 'categorical', name: col.name, values: values.map(String) },
      );
    } else columns.push(col);
  }
  for (const { d, column } of derived) {
    const from = spec.columns.find((col) => col.name === d.from);
    columns.push(from?.missing === true ? { ...column, missing: true } : column);
  }
  const identity = t === undefined;
  const { transforms: _t, missingValues: _m, ...rest } = spec;
  const model: DatasetSpec = identity ? spec : { ...rest, columns };
  const inputs = new Set<string>();
  for (const name of kept) if (name !== spec.target && name !== spec.split.group) inputs.add(name);
  for (const { d } of derived) inputs.add(d.from);
  c = { model, kept, derive: derived.map(({ d, compute }) => ({ name: d.name, from: d.from, compute })), targetMap, inputs };
  cache.set(spec, c);
  return c;
}

/**
 * The spec of the rows `transformRow` makes: dropped columns gone, derived ones added as categorical
 * columns, the target recoded. A spec without transforms is its own model spec.
 */
export function modelSpec(spec: DatasetSpec): DatasetSpec {
  return compile(spec).model;
}

/**
 * Applies the spec's transforms to a validated row (`validateRows` / `validateRecord` output). A
 * missing source value (null) gives a missing derived value; an absent target stays absent.
 */
export function transformRow(spec: DatasetSpec, row: Readonly<TypedRow>): TypedRow {
  const c = compile(spec);
  if (spec.transforms === undefined) return row as TypedRow;
  const out: TypedRow = {};
  for (const name of c.kept) {
    const v = row[name];
    if (v === undefined) continue;
    if (name === spec.target && c.targetMap !== undefined) {
      const mapped = c.targetMap.get(String(v));
      if (mapped === undefined) throw new TypeError(`transformRow: ${name} value ${JSON.stringify(v)} has no mapping`);
      out[name] = mapped;
    } else out[name] = v;
  }
  for (const d of c.derive) {
    const v = row[d.from];
    out[d.name] = v === undefined || v === null ? null : d.compute(v);
  }
  return out;
}

/** The columns a prediction request must carry (dropped ids and the group column may be left out). */
export function inputColumns(spec: DatasetSpec): ColumnSpec[] {
  const { inputs } = compile(spec);
  return spec.columns.filter((col) => inputs.has(col.name));
}

/**
 * One request row as `/predict` and batch prediction take it, in the dataset's own columns:
 * validated against the spec (the target and the columns no feature needs may be absent), then
 * transformed into a model row.
 */
export function prepareRecord(spec: DatasetSpec, record: unknown): ValidateRecordResult {
  const { inputs } = compile(spec);
  const checked = validateRecord(spec, record, { requireTarget: false, optional: (name) => !inputs.has(name) });
  return checked.ok ? { ok: true, row: transformRow(spec, checked.row) } : checked;
}
