// Row validation against a dataset spec. Bad rows are reported, never thrown: one bad row out of
// 500k must not stop a fetch or a training run.
import { hash } from 'node:crypto';
import type { ColumnSpec, DatasetSpec } from './spec.ts';

/**
 * A validated row: column name → number (numeric/integer), string (categorical or text value), or
 * null for a missing value of a column that allows it.
 */
export type TypedRow = Record<string, number | string | null>;

export type RejectedRow = { index: number; reason: string };
export type ValidateRowsResult = {
  valid: TypedRow[];
  /** validIndex[i] is the input index of valid[i]. */
  validIndex: number[];
  rejected: RejectedRow[];
};

export type FieldError = { field: string; message: string };
export type ValidateRecordResult = { ok: true; row: TypedRow } | { ok: false; errors: FieldError[] };

// Checkers return the typed value, or a Failure; allocation happens only on the failure path.
class Failure {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}
type Check = (value: unknown) => number | string | null | Failure;

type Compiled = {
  names: string[];
  checks: Check[];
  targetIndex: number;
  known: Set<string>;
};

const compiledCache = new WeakMap<DatasetSpec, Compiled>();

function compile(spec: DatasetSpec): Compiled {
  let c = compiledCache.get(spec);
  if (c === undefined) {
    const targetIndex = spec.columns.findIndex((col) => col.name === spec.target);
    c = {
      names: spec.columns.map((col) => col.name),
      checks: spec.columns.map((col, i) => makeCheck(spec, col, i === targetIndex)),
      targetIndex,
      known: new Set(spec.columns.map((col) => col.name)),
    };
    compiledCache.set(spec, c);
  }
  return c;
}

/** Short, safe rendering of an offending value for messages. */
export function showValue(value: unknown, max = 40): string {
  let s: string;
  if (value === undefined) s = 'undefined';
  else if (typeof value === 'number' || typeof value === 'bigint') s = String(value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = Object.prototype.toString.call(value);
    }
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

// Plain decimal or exponent notation only: Number() would also accept "0x1f", "" and " ".
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a number given as a number or a decimal string; NaN when it is not one. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  // Fast path for short integer strings, the bulk of dataset values.
  const len = value.length;
  if (len > 0 && len < 16) {
    let i = value.charCodeAt(0) === 45 /* - */ ? 1 : 0;
    if (i < len) {
      let n = 0;
      for (; i < len; i++) {
        const d = value.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
      }
      if (i === len) return value.charCodeAt(0) === 45 ? -n : n;
    }
  }
  const t = value.trim();
  return DECIMAL.test(t) ? Number(t) : Number.NaN;
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function makeCheck(spec: DatasetSpec, col: ColumnSpec, isTarget: boolean): Check {
  const check = makeValueCheck(spec, col, isTarget);
  const markers = new Set(spec.missingValues ?? []);
  // A column that allows missing values takes null, blanks and the spec's markers (e.g. "?") as missing.
  if (col.missing === true) return (value) => (isMissing(value) || (typeof value === 'string' && markers.has(value)) ? null : check(value));
  if (markers.size === 0) return check;
  const refused = new Failure(isTarget ? 'missing target value' : 'missing value (the spec does not allow it for this column)');
  return (value) => (typeof value === 'string' && markers.has(value) ? refused : check(value));
}

function makeValueCheck(spec: DatasetSpec, col: ColumnSpec, isTarget: boolean): Check {
  const missing = new Failure(isTarget ? 'missing target value' : 'missing value');
  if (col.type === 'text') {
    const pattern = col.pattern !== undefined ? new RegExp(`^(?:${col.pattern})$`) : undefined;
    return (value) => {
      if (isMissing(value)) return missing;
      const s = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof s !== 'string') return new Failure(`expected a string, got ${showValue(value)}`);
      if (pattern !== undefined && !pattern.test(s)) return new Failure(`${showValue(value)} does not match /${col.pattern}/`);
      return s;
    };
  }
  if (col.type === 'categorical') {
    const allowed = new Set(col.values);
    const list = col.values.length <= 8 ? col.values.join(', ') : `${col.values.slice(0, 8).join(', ')}, … (${col.values.length} values)`;
    return (value) => {
      if (isMissing(value)) return missing;
      // A JSON client may send a numeric code as a number; compare it in its string form.
      const s = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      if (typeof s !== 'string') return new Failure(`expected a string, got ${showValue(value)}`);
      return allowed.has(s) ? s : new Failure(`unknown category ${showValue(value)} (allowed: ${list})`);
    };
  }
  const integer = col.type === 'integer';
  const min = col.min ?? Number.NEGATIVE_INFINITY;
  const max = col.max ?? Number.POSITIVE_INFINITY;
  // An integer classification target must also be one of the declared classes.
  const classes = isTarget && spec.task === 'classification' && spec.classes !== undefined ? new Set(spec.classes.map((c) => c.value)) : undefined;
  return (value) => {
    if (isMissing(value)) return missing;
    const n = toNumber(value);
    if (Number.isNaN(n)) return new Failure(`not a number: ${showValue(value)}`);
    if (!Number.isFinite(n)) return new Failure(`not finite: ${showValue(value)}`);
    if (integer && !Number.isInteger(n)) return new Failure(`not an integer: ${showValue(value)}`);
    if (n < min || n > max) return new Failure(`${showValue(value)} is out of range [${col.min ?? '-∞'}, ${col.max ?? '∞'}]`);
    if (classes !== undefined && !classes.has(n)) return new Failure(`${showValue(value)} is not one of the classes`);
    return n;
  };
}

/**
 * Validates rows given either as arrays in spec column order (target included) or as records keyed
 * by column name (extra keys such as database ids are ignored). Never throws on bad rows: each one
 * is rejected with a reason naming the column and the offending value.
 */
export function validateRows(spec: DatasetSpec, rows: readonly (readonly unknown[] | Readonly<Record<string, unknown>>)[]): ValidateRowsResult {
  const { names, checks } = compile(spec);
  const width = names.length;
  const valid: TypedRow[] = [];
  const validIndex: number[] = [];
  const rejected: RejectedRow[] = [];

  rowLoop: for (let r = 0; r < rows.length; r++) {
    const raw: unknown = rows[r];
    let arr: readonly unknown[] | undefined;
    let rec: Readonly<Record<string, unknown>> | undefined;
    if (Array.isArray(raw)) {
      if (raw.length !== width) {
        rejected.push({ index: r, reason: `expected ${width} values, got ${raw.length}` });
        continue;
      }
      arr = raw;
    } else if (raw !== null && typeof raw === 'object') {
      rec = raw as Readonly<Record<string, unknown>>;
    } else {
      rejected.push({ index: r, reason: `expected an array or an object, got ${showValue(raw)}` });
      continue;
    }
    const row: TypedRow = {};
    for (let c = 0; c < width; c++) {
      const v = checks[c](arr !== undefined ? arr[c] : rec?.[names[c]]);
      if (v instanceof Failure) {
        rejected.push({ index: r, reason: `${names[c]}: ${v.message}` });
        continue rowLoop;
      }
      row[names[c]] = v;
    }
    valid.push(row);
    validIndex.push(r);
  }
  return { valid, validIndex, rejected };
}

/**
 * Validates one record (e.g. a predict request). Reports every problem: unknown fields, missing
 * fields and bad values. With `requireTarget: false` the target may be absent; if present it is
 * still validated and kept.
 */
export function validateRecord(
  spec: DatasetSpec,
  record: unknown,
  /** `optional(name)`: a column that may be absent (e.g. one no feature needs); if present it is still validated. */
  options: { requireTarget?: boolean; optional?: (name: string) => boolean } = {},
): ValidateRecordResult {
  const requireTarget = options.requireTarget ?? true;
  const optional = options.optional ?? (() => false);
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return { ok: false, errors: [{ field: '', message: `expected an object, got ${showValue(record)}` }] };
  }
  const rec = record as Record<string, unknown>;
  const { names, checks, targetIndex, known } = compile(spec);
  const errors: FieldError[] = [];
  for (const key of Object.keys(rec)) {
    if (!known.has(key)) errors.push({ field: key, message: 'unknown field' });
  }
  const row: TypedRow = {};
  for (let c = 0; c < names.length; c++) {
    const name = names[c];
    const value = rec[name];
    if (c === targetIndex && !requireTarget && isMissing(value)) continue;
    if (c !== targetIndex && !Object.hasOwn(rec, name) && optional(name)) continue;
    if (!Object.hasOwn(rec, name)) {
      // A column that allows missing values may be left out, like sending null.
      if (spec.columns[c].missing === true && c !== targetIndex) {
        row[name] = null;
        continue;
      }
      errors.push({ field: name, message: c === targetIndex ? 'missing target field' : 'missing field' });
      continue;
    }
    const v = checks[c](value);
    if (v instanceof Failure) errors.push({ field: name, message: v.message });
    else row[name] = v;
  }
  return errors.length === 0 ? { ok: true, row } : { ok: false, errors };
}

type KeyPlan = { names: string[]; prefixes: string[] };
const keyPlanCache = new WeakMap<DatasetSpec, KeyPlan>();

function keyPlan(spec: DatasetSpec): KeyPlan {
  let p = keyPlanCache.get(spec);
  if (p === undefined) {
    // Sorted by name so the key survives a reordering of the spec's columns.
    const names = spec.columns
      .filter((c) => c.name !== spec.target)
      .map((c) => c.name)
      .sort();
    p = { names, prefixes: names.map((n, i) => `${i === 0 ? '{' : ','}${JSON.stringify(n)}:`) };
    keyPlanCache.set(spec, p);
  }
  return p;
}

/**
 * The canonical form hashed by `rowKey`: a JSON object of the feature values (target excluded)
 * with keys sorted, numbers in ECMAScript shortest form (so "2596", "2596.0" and 2596 agree) and
 * -0 written as 0.
 */
export function canonicalFeatures(spec: DatasetSpec, row: Readonly<TypedRow>): string {
  const { names, prefixes } = keyPlan(spec);
  let s = '';
  for (let i = 0; i < names.length; i++) {
    const v = row[names[i]];
    if (v === undefined) throw new Error(`rowKey: row has no value for "${names[i]}"`);
    s += prefixes[i] + (typeof v === 'number' ? (v === 0 ? '0' : String(v)) : JSON.stringify(v));
  }
  return `${s}}`;
}

/** sha256 hex of `canonicalFeatures`: the de-duplication key of a row (same features → same key). */
export function rowKey(spec: DatasetSpec, row: Readonly<TypedRow>): string {
  // One-shot hash(): about twice as fast as createHash() for short inputs.
  return hash('sha256', canonicalFeatures(spec, row), 'hex');
}
