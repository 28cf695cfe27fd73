// Feature encoding, derived from the spec alone: a model artifact that stores its spec can rebuild
// exactly the encoder it was trained with, so predict encodes requests the same way.
import { featureColumns, targetColumn, type ClassSpec, type DatasetSpec } from './spec.ts';
import { modelSpec } from './transforms.ts';
import type { TypedRow } from './validate.ts';

export type Encoder = {
  /**
   * Numeric/integer columns keep their name; a categorical C gives one feature per value, "C=value".
   * A missing value (null) is encoded as NaN: in its one feature, or in every feature of its category.
   */
  featureNames: string[];
  /** Encodes a validated row's features (the target is ignored). */
  encode(row: Readonly<TypedRow>): Float64Array;
  /** Same as `encode` but writes into `out` at `offset` (for filling one big matrix without churn). */
  encodeInto(row: Readonly<TypedRow>, out: Float64Array, offset?: number): void;
  /** Classification: index into `classes`. Regression: the target value. */
  encodeTarget(row: Readonly<TypedRow>): number;
  /** Classification only; position = encoded class index. */
  classes?: ClassSpec[];
};

type Slot = { name: string; offset: number; index: Map<string, number> | undefined };

/** The encoder of a spec's model rows (after its transforms: see `modelSpec`). */
export function buildEncoder(sourceSpec: DatasetSpec): Encoder {
  const spec = modelSpec(sourceSpec);
  const featureNames: string[] = [];
  const slots: Slot[] = [];
  for (const col of featureColumns(spec)) {
    if (col.type === 'text') throw new TypeError(`encode: text column ${col.name} cannot be a feature`);
    if (col.type === 'categorical') {
      slots.push({ name: col.name, offset: featureNames.length, index: new Map(col.values.map((v, k) => [v, k])) });
      for (const v of col.values) featureNames.push(`${col.name}=${v}`);
    } else {
      slots.push({ name: col.name, offset: featureNames.length, index: undefined });
      featureNames.push(col.name);
    }
  }
  const width = featureNames.length;

  const encodeInto = (row: Readonly<TypedRow>, out: Float64Array, offset = 0): void => {
    out.fill(0, offset, offset + width);
    for (let s = 0; s < slots.length; s++) {
      const slot = slots[s];
      const v = row[slot.name];
      if (v === null) {
        out.fill(Number.NaN, offset + slot.offset, offset + slot.offset + (slot.index?.size ?? 1));
        continue;
      }
      if (slot.index === undefined) {
        if (typeof v !== 'number') throw new TypeError(`encode: ${slot.name} must be a number, got ${JSON.stringify(v)}`);
        out[offset + slot.offset] = v;
      } else {
        const k = typeof v === 'string' ? slot.index.get(v) : undefined;
        if (k === undefined) throw new TypeError(`encode: unknown ${slot.name} value ${JSON.stringify(v)}`);
        out[offset + slot.offset + k] = 1;
      }
    }
  };

  const target = targetColumn(spec);
  let encodeTarget: (row: Readonly<TypedRow>) => number;
  let classes: ClassSpec[] | undefined;
  if (spec.task === 'classification') {
    classes = spec.classes ?? [];
    const index = new Map<number | string, number>(classes.map((c, i) => [c.value, i]));
    encodeTarget = (row) => {
      const v = row[target.name];
      const k = v === null ? undefined : index.get(v);
      if (k === undefined) throw new TypeError(`encodeTarget: ${JSON.stringify(row[target.name])} is not a class of ${target.name}`);
      return k;
    };
  } else {
    encodeTarget = (row) => {
      const v = row[target.name];
      if (typeof v !== 'number') throw new TypeError(`encodeTarget: ${target.name} must be a number, got ${JSON.stringify(v)}`);
      return v;
    };
  }

  return {
    featureNames,
    encode(row) {
      const out = new Float64Array(width);
      encodeInto(row, out, 0);
      return out;
    },
    encodeInto,
    encodeTarget,
    ...(classes !== undefined ? { classes } : {}),
  };
}

/** Encodes many rows into one row-major matrix `x` (rows × featureNames.length) and targets `y`. */
export function encodeMatrix(encoder: Encoder, rows: readonly Readonly<TypedRow>[]): { x: Float64Array; y: Float64Array; rows: number; width: number } {
  const width = encoder.featureNames.length;
  const x = new Float64Array(rows.length * width);
  const y = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    encoder.encodeInto(rows[i], x, i * width);
    y[i] = encoder.encodeTarget(rows[i]);
  }
  return { x, y, rows: rows.length, width };
}
