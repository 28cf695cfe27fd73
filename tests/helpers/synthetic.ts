// Seeded synthetic data for the learners' unit tests.
import type { Matrix } from '../../src/forest/types.ts';

/** A seeded uniform generator on [0, 1) (32-bit LCG). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/**
 * Two features: x0 in [0, 10) decides the class (x0 >= 5 → 1), x1 is noise. 30 % of x0 is missing
 * (NaN) and then labelled like the high side (missingHigh) or the low side.
 */
export function missingData(missingHigh: boolean, n: number, seed: number): { X: Matrix; y: Float64Array } {
  const rand = lcg(seed);
  const data = new Float64Array(n * 2);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    data[i * 2] = u < 0.3 ? Number.NaN : rand() * 10;
    data[i * 2 + 1] = rand();
    y[i] = u < 0.3 ? (missingHigh ? 1 : 0) : data[i * 2] >= 5 ? 1 : 0;
  }
  return { X: { rows: n, cols: 2, data }, y };
}
