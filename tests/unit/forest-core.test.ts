import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RandomForestRegression } from 'ml-random-forest';
import { compilePredictor, toMlRandomForestJSON, trainForest, type ForestModel, type Matrix, type TreeModel } from '../../src/forest/index.ts';
import { binOf, computeEdges, binMatrix, GridBins } from '../../src/forest/bins.ts';
import { resolveMtry } from '../../src/forest/trainer.ts';

const matrix = (rows: number[][]): Matrix => ({
  rows: rows.length,
  cols: rows[0].length,
  data: Float64Array.from(rows.flat()),
});
const column = (values: number[]): Matrix => matrix(values.map((v) => [v]));

/** Deterministic pseudo-random data: feature 0 decides the class, the rest is noise. */
function synthetic(n: number, p: number, seed: number): { X: Matrix; y: Float64Array } {
  let s = seed;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const data = new Float64Array(n * p);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < p; f++) data[i * p + f] = Math.round(rand() * 1000) / 10;
    const a = data[i * p];
    const b = data[i * p + 1];
    y[i] = a < 30 ? 1 : a < 60 ? (b < 50 ? 2 : 3) : 4;
    if (rand() < 0.05) y[i] = 1 + Math.floor(rand() * 4);
  }
  return { X: { rows: n, cols: p, data }, y };
}

/** Reference traversal straight from the JSON model. */
function leafOf(tree: TreeModel, row: ArrayLike<number>): number {
  let i = 0;
  while (tree.feature[i] >= 0) i = row[tree.feature[i]] < tree.threshold[i] ? tree.left[i] : tree.right[i];
  let rank = 0;
  for (let j = 0; j < i; j++) if (tree.feature[j] < 0) rank++;
  return rank;
}

function depthOf(tree: TreeModel, i = 0): number {
  return tree.feature[i] < 0 ? 0 : 1 + Math.max(depthOf(tree, tree.left[i]), depthOf(tree, tree.right[i]));
}

const single = { nEstimators: 1, bootstrap: false, maxFeatures: 'all' as const, seed: 1 };

describe('forest: binning', () => {
  it('few distinct values get one bin each, thresholds at midpoints', () => {
    assert.deepEqual(Array.from(computeEdges(Float64Array.from([3, 1, 2, 2, 5]), 256)), [1.5, 2.5, 4]);
    const b = binMatrix(column([3, 1, 2, 2, 5]), 256, false);
    assert.deepEqual(Array.from(b.bins), [2, 0, 1, 1, 3]);
    assert.deepEqual(Array.from(b.nBins), [4]);
  });
  it('many distinct values are cut into at most maxBins quantile bins', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i * 0.37);
    const b = binMatrix(column(values), 16, false);
    assert.equal(b.nBins[0], 16);
    const sizes = new Array<number>(16).fill(0);
    for (const v of b.bins) sizes[v]++;
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 2, `uneven bins ${sizes}`);
    // Row-major copy matches.
    assert.deepEqual(Array.from(b.rowBins), Array.from(b.bins));
  });
  it('rejects infinite values; NaN (missing) gets its own bin after the value bins', () => {
    assert.throws(() => binMatrix(column([1, Number.POSITIVE_INFINITY]), 256, false), RangeError);
    const b = binMatrix(column([1, Number.NaN, 2]), 256, false);
    assert.deepEqual(Array.from(b.bins), [0, 2, 1]);
    assert.deepEqual([b.nBins[0], b.missingBin[0], b.hasMissing[0]], [3, 2, 1]);
    // Without missing values the missing bin lies past the histogram.
    const c = binMatrix(column([1, 2]), 256, false);
    assert.deepEqual([c.nBins[0], c.missingBin[0], c.hasMissing[0]], [2, 2, 0]);
    // A column with nothing but missing values: one empty value bin and the missing bin.
    const d = binMatrix(column([Number.NaN, Number.NaN]), 256, false);
    assert.deepEqual([Array.from(d.bins), d.nBins[0]], [[1, 1], 2]);
    // With missing values, at most maxBins - 1 value bins.
    const values = Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? Number.NaN : i));
    const e = binMatrix(column(values), 16, false);
    assert.equal(e.nBins[0], 16);
    assert.equal(e.edges[0].length, 14);
  });
  it('counts the rows of every bin, missing bin included, for looked-up and sorted columns', () => {
    // Column 0: small integers (binned by lookup); column 1: fractions (sorted, cut by edges); both with NaNs.
    const rows = 500;
    const data = new Float64Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      data[2 * r] = r % 7 === 0 ? Number.NaN : r % 5;
      data[2 * r + 1] = r % 11 === 0 ? Number.NaN : Math.sin(r) * 100.5;
    }
    const b = binMatrix({ rows, cols: 2, data }, 16, false);
    for (let f = 0; f < 2; f++) {
      const expected = new Array<number>(256).fill(0);
      for (let r = 0; r < rows; r++) expected[b.bins[f * rows + r]]++;
      assert.deepEqual(Array.from(b.binCounts.subarray(f * 256, (f + 1) * 256)), expected, `feature ${f}`);
    }
    assert.ok(b.nBins[1] === 16 && b.binCounts[256 + b.missingBin[1]] === 46);
  });

  it('a column of real values gets the bins of its edges (binOf), at the edges and across any range', () => {
    // Columns that are not small integers are binned through a grid over their range: values on
    // and next to the edges, ranges from 1e-300 (and a few ulps) wide to 1e300, a few huge outliers among small values.
    let s = 12345;
    const rand = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    const columns: number[][] = [
      Array.from({ length: 3000 }, () => (rand() - 0.5) * 1e6 + 0.5),
      Array.from({ length: 3000 }, () => 1 + rand() * 1e-12),
      Array.from({ length: 3000 }, () => rand() * 1e-300),
      Array.from({ length: 3000 }, () => (rand() < 0.01 ? (rand() - 0.5) * 1e300 : rand() * 3.3)),
      Array.from({ length: 3000 }, () => Math.round(rand() * 700) / 7 - 50),
    ];
    for (const values of columns) {
      const rows = values.length;
      const first = binMatrix({ rows, cols: 1, data: Float64Array.from(values) }, 255, false);
      // The edges themselves and their neighbouring doubles, binned with those edges.
      const probe = [...values];
      for (const e of first.edges[0]) probe.push(e, e * (1 + 2 ** -52), e * (1 - 2 ** -52), e + Number.MIN_VALUE);
      const data = Float64Array.from(probe);
      const b = binMatrix({ rows: probe.length, cols: 1, data }, 255, false);
      assert.ok(b.edges[0].length > 20, 'many edges');
      for (let r = 0; r < probe.length; r++) assert.equal(b.bins[r], binOf(b.edges[0], data[r]), `value ${data[r]}`);
    }
    // Edges on the grid's own cell boundaries, and values a double either side of them: rounding
    // can put such a value in the cell above or below its own.
    const next = (x: number, up: boolean): number => {
      const v = new DataView(new ArrayBuffer(8));
      v.setFloat64(0, x);
      v.setBigInt64(0, v.getBigInt64(0) + (up === x >= 0 ? 1n : -1n));
      return v.getFloat64(0);
    };
    for (const [min, max] of [
      [0.1, 1234.567],
      [-3.3e-7, 9.1e-7],
      [17, 17.000001],
    ]) {
      const scale = 4096 / (max - min);
      const edges = Float64Array.from({ length: 255 }, (_, i) => min + (i * 16 + 3) / scale);
      const grid = new GridBins(edges, min, max);
      for (const e of edges)
        for (const x of [e, next(e, false), next(e, true), next(next(e, false), false)]) assert.equal(grid.bin(x), binOf(edges, x), `${x} in [${min}, ${max}]`);
    }
  });
});

describe('forest: hand-checkable trees', () => {
  it('a pure feature gives a depth-1 perfect split at the midpoint', async () => {
    const model = await trainForest(column([1, 2, 3, 4, 5, 6]), Float64Array.from([7, 7, 7, 9, 9, 9]), {
      task: 'classification',
      ...single,
    });
    assert.deepEqual(model.classes, [7, 9]);
    const t = model.trees[0];
    assert.deepEqual(t.feature, [0, -1, -1]);
    assert.deepEqual(t.threshold, [3.5, 0, 0]);
    assert.deepEqual(t.left, [1, -1, -1]);
    assert.deepEqual(t.right, [2, -1, -1]);
    assert.deepEqual(t.value, [3, 0, 0, 3]);
    assert.deepEqual(model.featureImportances, [1]);
    const pred = compilePredictor(model);
    assert.equal(pred.predict([3.4]), 7);
    assert.equal(pred.predict([3.5]), 9);
    assert.deepEqual(Array.from(pred.predictProba([10])), [0, 1]);
  });

  it('gini picks the split with the lowest weighted impurity', async () => {
    // y = 0 0 1 0 1 1 1 over x = 1..7. Weighted gini: x<2.5 -> 5/7*0.32 = 0.229,
    // x<3.5 -> 3/7*4/9 + 4/7*3/8 = 0.405, x<4.5 -> 4/7*3/8 = 0.214 (best), x<5.5 -> 0.343.
    const model = await trainForest(column([1, 2, 3, 4, 5, 6, 7]), Float64Array.from([0, 0, 1, 0, 1, 1, 1]), {
      task: 'classification',
      ...single,
      maxDepth: 1,
    });
    const t = model.trees[0];
    assert.deepEqual(t.feature, [0, -1, -1]);
    assert.equal(t.threshold[0], 4.5);
    assert.deepEqual(t.value, [3, 1, 0, 3]);
  });

  it('the informative feature is chosen among noise and gets the importance', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => [(i * 7919) % 13, i % 2, (i * 31) % 17]);
    const y = Float64Array.from(rows.map((r) => r[1] * 2 + 1));
    const model = await trainForest(matrix(rows), y, { task: 'classification', ...single });
    assert.deepEqual(model.trees[0].feature, [1, -1, -1]);
    assert.equal(model.trees[0].threshold[0], 0.5);
    assert.deepEqual(model.featureImportances, [0, 1, 0]);
  });

  it('entropy criterion splits the same pure feature', async () => {
    const model = await trainForest(column([1, 2, 3, 4]), Float64Array.from([0, 0, 1, 1]), {
      task: 'classification',
      ...single,
      criterion: 'entropy',
    });
    assert.deepEqual(model.trees[0].feature, [0, -1, -1]);
    assert.equal(model.trees[0].threshold[0], 2.5);
  });

  it('regression leaves hold means; the forest predicts their average', async () => {
    const X = column([1, 2, 3, 4, 5, 6]);
    const y = Float64Array.from([1, 2, 3, 10, 11, 12]);
    const model = await trainForest(X, y, { task: 'regression', ...single, maxDepth: 1 });
    const t = model.trees[0];
    assert.deepEqual(t.feature, [0, -1, -1]);
    assert.equal(t.threshold[0], 3.5);
    assert.deepEqual(t.value, [2, 11]);
    const pred = compilePredictor(model);
    assert.equal(pred.predict([0]), 2);
    assert.equal(pred.predict([100]), 11);
    const deep = await trainForest(X, y, { task: 'regression', ...single });
    assert.deepEqual(
      Array.from({ length: 6 }, (_, i) => compilePredictor(deep).predict([i + 1])),
      [1, 2, 3, 10, 11, 12],
    );
  });

  it('maxDepth, minSamplesLeaf and minSamplesSplit are respected', async () => {
    const { X, y } = synthetic(600, 5, 3);
    const shallow = await trainForest(X, y, { task: 'classification', nEstimators: 3, maxDepth: 3, seed: 2 }, { workers: 0 });
    for (const t of shallow.trees) assert.ok(depthOf(t) <= 3);
    const leafy = await trainForest(X, y, { task: 'classification', ...single, minSamplesLeaf: 25 });
    const t = leafy.trees[0];
    const k = leafy.nOutputs;
    for (let l = 0; l < t.value.length / k; l++) {
      const rows = t.value.slice(l * k, l * k + k).reduce((a, b) => a + b, 0);
      assert.ok(rows >= 25, `leaf with ${rows} rows`);
    }
    const split = await trainForest(X, y, { task: 'classification', ...single, minSamplesSplit: 200 });
    assert.ok(split.trees[0].feature.length < t.feature.length * 4);
  });

  it('maxFeatures resolves like scikit-learn', () => {
    assert.equal(resolveMtry('sqrt', 54), 7);
    assert.equal(resolveMtry('log2', 54), 5);
    assert.equal(resolveMtry('all', 54), 54);
    assert.equal(resolveMtry(0.5, 54), 27);
    assert.equal(resolveMtry(1, 54), 54);
    assert.equal(resolveMtry(10, 54), 10);
    assert.throws(() => resolveMtry(60, 54), RangeError);
    assert.throws(() => resolveMtry(0, 54), RangeError);
    assert.throws(() => resolveMtry(1.5, 54), RangeError);
  });

  it('rejects bad input', async () => {
    const X = column([1, 2]);
    await assert.rejects(trainForest(X, Float64Array.from([1]), { task: 'classification', nEstimators: 1, seed: 1 }), RangeError);
    await assert.rejects(trainForest(X, Float64Array.from([1, 2]), { task: 'classification', nEstimators: 0, seed: 1 }), RangeError);
    await assert.rejects(trainForest(X, Float64Array.from([1, 2]), { task: 'regression', nEstimators: 1, seed: 1, criterion: 'gini' }), RangeError);
  });
});

describe('forest: ensemble behaviour', () => {
  const { X, y } = synthetic(1500, 8, 11);
  const params = { task: 'classification' as const, nEstimators: 6, seed: 42 };

  it('same seed gives a byte-identical model with 1 or 2 workers; another seed differs', async () => {
    const a = JSON.stringify(await trainForest(X, y, params, { workers: 1 }));
    const b = JSON.stringify(await trainForest(X, y, params, { workers: 2 }));
    const c = JSON.stringify(await trainForest(X, y, { ...params, seed: 43 }, { workers: 1 }));
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it('reports progress, OOB score, normalized importances', async () => {
    const seen: number[] = [];
    const model = await trainForest(X, y, params, {
      workers: 0,
      onProgress: ({ treesDone, treesTotal }) => {
        assert.equal(treesTotal, 6);
        seen.push(treesDone);
      },
    });
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
    assert.ok(model.oobScore !== null && model.oobScore > 0.8, `oob ${model.oobScore}`);
    const sum = model.featureImportances.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(sum - 1) < 1e-12);
    const top = model.featureImportances.indexOf(Math.max(...model.featureImportances));
    assert.equal(top, 0);
  });

  it('OOB survives a single tree (rows never out of bag are skipped) and is null without bootstrap', async () => {
    const one = await trainForest(X, y, { ...params, nEstimators: 1 }, { workers: 0 });
    assert.equal(typeof one.oobScore, 'number');
    const noBoot = await trainForest(X, y, { ...params, nEstimators: 1, bootstrap: false }, { workers: 0 });
    assert.equal(noBoot.oobScore, null);
    const off = await trainForest(X, y, { ...params, nEstimators: 1, oob: false }, { workers: 0 });
    assert.equal(off.oobScore, null);
  });

  it('the compiled predictor equals a direct traversal of the JSON model, bit for bit', async () => {
    const model: ForestModel = JSON.parse(JSON.stringify(await trainForest(X, y, params, { workers: 0 })));
    const pred = compilePredictor(model);
    const k = model.nOutputs;
    for (let r = 0; r < 300; r++) {
      const row = X.data.subarray(r * X.cols, (r + 1) * X.cols);
      const expected = new Float64Array(k);
      for (const t of model.trees) {
        const base = leafOf(t, row) * k;
        let s = 0;
        for (let j = 0; j < k; j++) s += t.value[base + j];
        for (let j = 0; j < k; j++) expected[j] += t.value[base + j] / s;
      }
      for (let j = 0; j < k; j++) expected[j] /= model.trees.length;
      assert.deepEqual(pred.predictProba(row), expected);
      let best = 0;
      for (let j = 1; j < k; j++) if (expected[j] > expected[best]) best = j;
      assert.equal(pred.predict(row), model.classes[best]);
    }
  });

  it('regression export loads in ml-random-forest and predicts identically', async () => {
    const yr = Float64Array.from({ length: X.rows }, (_, i) => X.data[i * X.cols] * 2 + X.data[i * X.cols + 1] / 10);
    const model = await trainForest(X, yr, { task: 'regression', nEstimators: 4, seed: 5, maxFeatures: 0.5 }, { workers: 0 });
    assert.ok(model.oobScore !== null && model.oobScore > 0.9, `oob r2 ${model.oobScore}`);
    const json = JSON.parse(JSON.stringify(toMlRandomForestJSON(model)));
    const ml = RandomForestRegression.load(json);
    const rows = Array.from({ length: 200 }, (_, r) => Array.from(X.data.subarray(r * X.cols, (r + 1) * X.cols)));
    const pred = compilePredictor(model);
    assert.deepEqual(
      ml.predict(rows),
      rows.map((row) => pred.predict(row)),
    );
  });
});
