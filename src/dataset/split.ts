// Deterministic train/validation/test assignment: a row's split depends only on the seed and its
// row key, so it never moves between runs or dataset versions (no leakage when data is re-fetched).
import { hash } from 'node:crypto';
import type { SplitSpec } from './spec.ts';

export type SplitName = 'train' | 'validation' | 'test';

/** Uniform [0, 1) from sha256(seed + ":" + rowKey): its first 13 hex digits (52 bits, exact in a double). */
export function splitUniform(rowKey: string, seed: string): number {
  return Number.parseInt(hash('sha256', `${seed}:${rowKey}`, 'hex').slice(0, 13), 16) / 2 ** 52;
}

export function assignSplit(rowKey: string, split: Readonly<SplitSpec>): SplitName {
  const u = splitUniform(rowKey, split.seed);
  if (u < split.train) return 'train';
  if (u < split.train + split.validation) return 'validation';
  return 'test';
}

/**
 * Assigns rows to `k` folds, deterministically for a seed. With `group`, every row of a group goes
 * to the same fold (the group's hash decides). With `stratify` (the target column), each class is
 * dealt round-robin in a seeded order, so every fold gets its share of every class. Otherwise rows
 * are dealt round-robin in a seeded order.
 */
export function kFolds(
  rows: readonly Readonly<Record<string, unknown>>[],
  k: number,
  options: { seed: string; group?: string; stratify?: string },
): Int32Array {
  const folds = new Int32Array(rows.length);
  if (options.group !== undefined) {
    const g = options.group;
    rows.forEach((row, i) => {
      folds[i] = Math.min(k - 1, Math.floor(splitUniform(`group:${String(row[g])}`, options.seed) * k));
    });
    return folds;
  }
  const byClass = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const key = options.stratify !== undefined ? String(row[options.stratify]) : '';
    let list = byClass.get(key);
    if (list === undefined) {
      list = [];
      byClass.set(key, list);
    }
    list.push(i);
  });
  let offset = 0;
  for (const key of [...byClass.keys()].sort()) {
    const list = byClass.get(key) ?? [];
    const order = list.map((i) => ({ i, u: splitUniform(`row:${i}`, `${options.seed}:${key}`) })).sort((a, b) => a.u - b.u || a.i - b.i);
    // Each class starts where the previous one stopped, so small classes do not all land in fold 0.
    order.forEach(({ i }, j) => {
      folds[i] = (offset + j) % k;
    });
    offset = (offset + order.length) % k;
  }
  return folds;
}
