// Data profile of a dataset version: per column, how many values, how many missing, and their
// distribution (summary statistics and an equal-width histogram for numbers, frequencies for
// categories). Stored next to each snapshot; drift.ts compares a version with its predecessor.
import type { ColumnSpec, DatasetSpec } from './spec.ts';
import type { TypedRow } from './validate.ts';

export const DEFAULT_HISTOGRAM_BINS = 10;

/** Equal-width bins: bin i is [edges[i], edges[i+1]), the last one closed on the right. */
export interface Histogram {
  edges: number[];
  counts: number[];
}

interface ColumnProfileBase {
  name: string;
  role: 'feature' | 'target';
  /** Non-missing values. */
  count: number;
  /** Missing values (absent, null or blank). */
  missing: number;
}

export interface NumericColumnProfile extends ColumnProfileBase {
  type: 'numeric' | 'integer';
  /** null when the column has no value at all. */
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Population standard deviation (divides by count). */
  std: number | null;
  histogram: Histogram;
}

export interface CategoricalColumnProfile extends ColumnProfileBase {
  type: 'categorical';
  /** Every value of the spec (0 included, in spec order), then any other value seen. */
  categories: Record<string, number>;
}

export type ColumnProfile = NumericColumnProfile | CategoricalColumnProfile;

export interface DatasetProfile {
  dataset: string;
  rows: number;
  columns: ColumnProfile[];
}

type Value = number | string | null | undefined;

const isMissing = (v: Value): v is null | undefined | '' => v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

/**
 * Equal-width histogram over [min, max] of `values` (NaN and non-numbers are ignored). A constant
 * column gets a single bin [v, v]; an empty one no bins at all.
 */
export function histogram(values: readonly number[], bins = DEFAULT_HISTOGRAM_BINS): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min > max) return { edges: [], counts: [] };
  if (min === max) return { edges: [min, max], counts: [values.length] };
  const width = (max - min) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? max : min + i * width));
  return { edges, counts: binCounts(edges, values) };
}

/**
 * Counts `values` into the bins of `edges` (bin i = [edges[i], edges[i+1]), last one closed), with
 * values below the first edge counted in the first bin and above the last edge in the last bin:
 * how a reference histogram's bins take the values of another version.
 */
export function binCounts(edges: readonly number[], values: readonly number[]): number[] {
  const n = edges.length - 1;
  if (n < 1) return [];
  const counts = new Array<number>(n).fill(0);
  for (const v of values) counts[binIndex(edges, v)]++;
  return counts;
}

function binIndex(edges: readonly number[], v: number): number {
  const n = edges.length - 1;
  // Binary search for the last edge <= v among edges[1..n-1] (the inner cut points).
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v >= edges[mid]) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The non-missing numeric values of a column and how many were missing. */
export function numericValues(values: readonly Value[]): { numbers: number[]; missing: number } {
  const numbers: number[] = [];
  let missing = 0;
  for (const v of values) {
    if (isMissing(v)) missing++;
    else {
      const n = typeof v === 'number' ? v : Number(v);
      if (Number.isFinite(n)) numbers.push(n);
      else missing++;
    }
  }
  return { numbers, missing };
}

export function profileColumn(col: ColumnSpec, role: 'feature' | 'target', values: readonly Value[], bins = DEFAULT_HISTOGRAM_BINS): ColumnProfile {
  // Text (codes) is profiled like a category whose values are the ones seen.
  if (col.type === 'categorical' || col.type === 'text') {
    const categories: Record<string, number> = {};
    for (const v of col.type === 'categorical' ? col.values : []) categories[v] = 0;
    let missing = 0;
    for (const v of values) {
      if (isMissing(v)) missing++;
      else {
        const key = String(v);
        categories[key] = (categories[key] ?? 0) + 1;
      }
    }
    return { name: col.name, type: 'categorical', role, count: values.length - missing, missing, categories };
  }
  const { numbers, missing } = numericValues(values);
  const count = numbers.length;
  if (count === 0) {
    return { name: col.name, type: col.type, role, count, missing, min: null, max: null, mean: null, std: null, histogram: histogram(numbers, bins) };
  }
  // Welford: one pass, no catastrophic cancellation for large values with a small spread.
  let mean = 0;
  let m2 = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < count; i++) {
    const x = numbers[i];
    const delta = x - mean;
    mean += delta / (i + 1);
    m2 += delta * (x - mean);
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { name: col.name, type: col.type, role, count, missing, min, max, mean, std: Math.sqrt(m2 / count), histogram: histogram(numbers, bins) };
}

/** The values of one column across rows. */
export function columnValues(rows: readonly Readonly<Record<string, Value>>[], name: string): Value[] {
  return rows.map((r) => r[name]);
}

/** Profiles every column of the spec (features and target) over `rows`. */
export function profileDataset(spec: DatasetSpec, rows: readonly Readonly<TypedRow>[], options: { bins?: number } = {}): DatasetProfile {
  const bins = options.bins ?? DEFAULT_HISTOGRAM_BINS;
  return {
    dataset: spec.name,
    rows: rows.length,
    columns: spec.columns.map((col) => profileColumn(col, col.name === spec.target ? 'target' : 'feature', columnValues(rows, col.name), bins)),
  };
}
