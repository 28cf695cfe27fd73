import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePredictor, trainForest } from '../../src/forest/index.ts';
import { lcg, missingData as missingRows } from '../helpers/synthetic.ts';

const missingData = (missingHigh: boolean, n = 1000) => missingRows(missingHigh, n, missingHigh ? 1 : 2);

const one = { task: 'classification' as const, nEstimators: 1, bootstrap: false, maxFeatures: 'all' as const, seed: 1 };

describe('forest: missing values', () => {
  for (const missingHigh of [true, false]) {
    it(`a split learns where missing values go (missing ${missingHigh ? 'with the high' : 'with the low'} side)`, async () => {
      const { X, y } = missingData(missingHigh);
      const model = await trainForest(X, y, { ...one, maxDepth: 1 }, { workers: 0 });
      const t = model.trees[0];
      assert.equal(t.feature[0], 0);
      assert.ok(Math.abs(t.threshold[0] - 5) < 0.2, `threshold ${t.threshold[0]}`);
      assert.equal(t.defaultLeft?.[0], missingHigh ? 0 : 1);
      const pred = compilePredictor(model);
      assert.equal(pred.predict([Number.NaN, 0.5]), missingHigh ? 1 : 0);
      // No row was dropped: the one split classifies every training row.
      let correct = 0;
      for (let r = 0; r < X.rows; r++) if (pred.predict(X.data.subarray(r * 2, r * 2 + 2)) === y[r]) correct++;
      assert.equal(correct, X.rows);
    });
  }

  it('each leaf holds the class counts of the training rows the model routes to it', async () => {
    const { X, y } = missingData(false, 2000);
    // Noise on the label so the tree grows below the first split.
    const rand = lcg(9);
    for (let r = 0; r < X.rows; r++) if (rand() < 0.1) y[r] = 1 - y[r];
    const model = await trainForest(X, y, { ...one, maxDepth: 4 }, { workers: 0 });
    const t = model.trees[0];
    assert.ok(t.feature.filter((f) => f >= 0).length > 3);
    const counts = new Map<number, number[]>();
    for (let r = 0; r < X.rows; r++) {
      let i = 0;
      while (t.feature[i] >= 0) {
        const x = X.data[r * 2 + t.feature[i]];
        i = Number.isNaN(x) ? (t.defaultLeft?.[i] === 1 ? t.left[i] : t.right[i]) : x < t.threshold[i] ? t.left[i] : t.right[i];
      }
      const c = counts.get(i) ?? [0, 0];
      c[y[r]]++;
      counts.set(i, c);
    }
    const leaves = t.feature.flatMap((f, i) => (f < 0 ? [i] : []));
    for (const [rank, node] of leaves.entries()) assert.deepEqual(t.value.slice(rank * 2, rank * 2 + 2), counts.get(node) ?? [0, 0], `leaf ${node}`);
  });

  it('"missing or not" is a split of its own (threshold +max, missing right)', async () => {
    // y = 1 exactly when x0 is missing.
    const rand = lcg(3);
    const n = 400;
    const data = Float64Array.from({ length: n }, () => (rand() < 0.4 ? Number.NaN : rand()));
    const y = Float64Array.from(data, (v) => (Number.isNaN(v) ? 1 : 0));
    const model = await trainForest({ rows: n, cols: 1, data }, y, { ...one, maxDepth: 1 }, { workers: 0 });
    const t = model.trees[0];
    assert.equal(t.threshold[0], Number.MAX_VALUE);
    assert.equal(t.defaultLeft?.[0], 0);
    const pred = compilePredictor(model);
    assert.deepEqual([pred.predict([Number.NaN]), pred.predict([1e9])], [1, 0]);
  });

  it('a column that is all missing is never split on; OOB and workers still agree', async () => {
    const { X, y } = missingData(true, 3000);
    for (let r = 0; r < X.rows; r++) X.data[r * 2 + 1] = Number.NaN;
    const params = { task: 'classification' as const, nEstimators: 6, maxFeatures: 'all' as const, seed: 5 };
    const a = await trainForest(X, y, params, { workers: 1 });
    const b = await trainForest(X, y, params, { workers: 2 });
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.ok(a.trees.every((t) => !t.feature.includes(1)));
    assert.equal(a.featureImportances[1], 0);
    assert.ok(a.oobScore !== null && a.oobScore > 0.98, `oob ${a.oobScore}`);
  });

  it('regression trees route missing values too', async () => {
    const { X, y } = missingData(false);
    const model = await trainForest(X, y, { ...one, task: 'regression', maxDepth: 1 }, { workers: 0 });
    assert.equal(model.trees[0].defaultLeft?.[0], 1);
    assert.ok(compilePredictor(model).predict([Number.NaN, 0]) < 0.05);
  });

  it('a model trained on complete data has no defaultLeft and sends NaN right', async () => {
    const rand = lcg(4);
    const data = Float64Array.from({ length: 200 }, () => rand());
    const y = Float64Array.from(data, (v) => (v < 0.5 ? 0 : 1));
    const model = await trainForest({ rows: 200, cols: 1, data }, y, { ...one, maxDepth: 1 }, { workers: 0 });
    assert.equal(model.trees[0].defaultLeft, undefined);
    assert.equal(compilePredictor(model).predict([Number.NaN]), 1);
  });
});
