import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binCounts, histogram, profileColumn, profileDataset } from '../../src/dataset/profile.ts';
import { parseDatasetSpec } from '../../src/dataset/spec.ts';

const spec = parseDatasetSpec({
  name: 'toy',
  task: 'regression',
  columns: [
    { name: 'x', type: 'numeric' },
    { name: 'n', type: 'integer', min: 0, max: 100 },
    { name: 'c', type: 'categorical', values: ['a', 'b', 'c'] },
    { name: 'y', type: 'numeric' },
  ],
  target: 'y',
  split: { train: 0.7, validation: 0.15, test: 0.15, seed: 's' },
});
const col = (name: string) => {
  const c = spec.columns.find((x) => x.name === name);
  assert.ok(c);
  return c;
};

describe('histogram', () => {
  it('cuts [min, max] into equal-width bins, the last one closed', () => {
    // width 3: [1,4) holds 1,2,3; [4,7) holds 4,5,6; [7,10] holds 7,8,9,10.
    assert.deepEqual(histogram([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3), { edges: [1, 4, 7, 10], counts: [3, 3, 4] });
  });
  it('gives a constant column one bin and an empty one none', () => {
    assert.deepEqual(histogram([5, 5, 5]), { edges: [5, 5], counts: [3] });
    assert.deepEqual(histogram([]), { edges: [], counts: [] });
  });
  it('counts values outside the edges into the outer bins', () => {
    assert.deepEqual(binCounts([0, 10, 20], [-5, 0, 9.99, 10, 20, 25]), [3, 3]);
    assert.deepEqual(binCounts([0, 1, 2, 3], [0.5, 1, 1.5, 2, 2.5, 3]), [1, 2, 3]);
  });
  it('refuses a bin count that is not a positive integer', () => {
    assert.throws(() => histogram([1, 2], 0), RangeError);
  });
});

describe('profileColumn / profileDataset', () => {
  it('numeric: count, missing, min/max, mean and population std', () => {
    // The classic example: mean 5, population variance 32/8 = 4, std 2.
    const p = profileColumn(col('x'), 'feature', [2, 4, 4, 4, 5, 5, 7, 9, null, ''], 7);
    assert.ok(p.type === 'numeric');
    assert.equal(p.count, 8);
    assert.equal(p.missing, 2);
    assert.equal(p.min, 2);
    assert.equal(p.max, 9);
    assert.equal(p.mean, 5);
    assert.ok(Math.abs((p.std ?? 0) - 2) < 1e-12);
    // width 1: 2 | 3 | 4,4,4 | 5,5 | 6 | 7 | 8,9
    assert.deepEqual(p.histogram.counts, [1, 0, 3, 2, 0, 1, 1]);
  });
  it('a column without values has null statistics', () => {
    const p = profileColumn(col('n'), 'feature', [null, undefined]);
    assert.deepEqual(
      { ...p },
      { name: 'n', type: 'integer', role: 'feature', count: 0, missing: 2, min: null, max: null, mean: null, std: null, histogram: { edges: [], counts: [] } },
    );
  });
  it('categorical: frequencies of every spec value, zero included', () => {
    const p = profileColumn(col('c'), 'feature', ['a', 'a', 'b', null]);
    assert.deepEqual(p, { name: 'c', type: 'categorical', role: 'feature', count: 3, missing: 1, categories: { a: 2, b: 1, c: 0 } });
  });
  it('profiles every column of the spec and marks the target', () => {
    const rows = [
      { x: 1, n: 10, c: 'a', y: 0.5 },
      { x: 3, n: 20, c: 'c', y: 1.5 },
    ];
    const p = profileDataset(spec, rows, { bins: 2 });
    assert.equal(p.dataset, 'toy');
    assert.equal(p.rows, 2);
    assert.deepEqual(
      p.columns.map((c) => [c.name, c.role]),
      [
        ['x', 'feature'],
        ['n', 'feature'],
        ['c', 'feature'],
        ['y', 'target'],
      ],
    );
    const x = p.columns[0];
    assert.ok(x.type === 'numeric');
    assert.deepEqual([x.mean, x.std, x.histogram.edges, x.histogram.counts], [2, 1, [1, 2, 3], [1, 1]]);
  });
});
