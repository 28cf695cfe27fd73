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
