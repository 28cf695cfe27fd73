import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binMatrix } from '../../src/forest/bins.ts';
import type { Matrix } from '../../src/forest/types.ts';
import { TreeGrower } from '../../src/boosting/grower.ts';
import {
  accumulateChunk,
  accumulateNode,
  accumulateRows,
  addPartials,
  CHUNK_ROWS,
  chunkCount,
  chunkStart,
  denseRuns,
  deriveBins,
  featureLayout,
  histChunkCount,
  MAX_HIST_CHUNKS,
  MAX_RUN,
  PARALLEL_HIST_ROWS,
  spreadBundles,
} from '../../src/boosting/histograms.ts';
import { HistogramPool } from '../../src/forest/histogram.ts';
import { exp } from '../../src/boosting/exp.ts';
import { binaryLogLoss, l2Regression, softmaxObjective } from '../../src/boosting/objective.ts';
import { compileBoosting, trainBoosting, treeOutput, type BoostingModel } from '../../src/boosting/index.ts';
import { lcg, missingData as missingRows } from '../helpers/synthetic.ts';

const close = (actual: number, expected: number, eps = 1e-12): void => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

const matrix = (rows: number[][]): Matrix => ({ rows: rows.length, cols: rows[0].length, data: Float64Array.from(rows.flat()) });

const row = (X: Matrix, r: number): Float64Array => X.data.subarray(r * X.cols, (r + 1) * X.cols);

/** The gradients (even positions) and hessians (odd positions) of interleaved pairs. */
const channels = (gh: Float32Array): [number[], number[]] => [Array.from(gh).filter((_, i) => i % 2 === 0), Array.from(gh).filter((_, i) => i % 2 === 1)];

describe('boosting: exp', () => {
  it('gives the bits of Math.exp (so the gradients and the models are the same as with it)', () => {
    const rand = lcg(71);
    // Every branch: |x| < 2^-28, below 0.5 ln2, between 0.5 and 1.5 ln2, reduced by k ln2 (softmax
    // arguments are <= 0), near the underflow and overflow ends, and the special values.
    const ranges = [1e-9, 0.3, 1.1, 3, 40, 700, 760];
    const xs = [0, -0, 1, -1, 0.5, Math.LN2 / 2, 1.5 * Math.LN2, 700, -700, 709.7, -745.2, -746, Infinity, -Infinity, Number.NaN];
    for (const range of ranges) for (let i = 0; i < 40_000; i++) xs.push((2 * rand() - 1) * range);
    let differ = 0;
    for (const x of xs) if (!Object.is(exp(x), Math.exp(x))) differ++;
    assert.equal(differ, 0, `${differ} of ${xs.length} values differ from Math.exp`);
  });
});

describe('boosting: objectives', () => {
  it('binary log-loss: g = w (p - y), h = w p (1 - p)', () => {
    // scores 0 and ln 3: p = 1/2 and 3/4; targets 1 and 0; weights 1 and 2.
    const gh = new Float32Array(4);
    binaryLogLoss.gradients([1, 0], Float64Array.of(0, Math.log(3)), [1, 2], gh);
    const [g, h] = channels(gh);
    close(g[0], -0.5);
    close(g[1], 2 * 0.75);
    close(h[0], 0.25);
    close(h[1], 2 * 0.75 * 0.25);
    // loss = (1 * ln 2 + 2 * ln 4) / 3
    close(binaryLogLoss.loss([1, 0], Float64Array.of(0, Math.log(3)), [1, 2]), (Math.log(2) + 2 * Math.log(4)) / 3);
    close(binaryLogLoss.baseScore([1, 0, 0, 0], [1, 1, 1, 1])[0], Math.log(1 / 3));
  });

  it('softmax: g_k = p_k - [y = k], h_k = p_k (1 - p_k), output-major', () => {
    // One row, scores (0, ln 2, ln 5): p = (1/8, 2/8, 5/8), true class 2.
    const obj = softmaxObjective(3);
    const gh = new Float32Array(6);
    obj.gradients([2], Float64Array.of(0, Math.log(2), Math.log(5)), [1], gh);
    const [g, h] = channels(gh);
    for (const [k, v] of [1 / 8, 2 / 8, 5 / 8 - 1].entries()) close(g[k], v, 1e-7);
    for (const [k, v] of [7 / 64, 12 / 64, 15 / 64].entries()) close(h[k], v, 1e-7);
    close(obj.loss([2], Float64Array.of(0, Math.log(2), Math.log(5)), [1]), -Math.log(5 / 8));
    // Two rows: row 1's gradient of class 0 sits at pair 0 * nRows + 1, i.e. pair 1.
    const gh2 = new Float32Array(12);
    obj.gradients([0, 1], Float64Array.of(0, 0, 0, 0, 0, 0), [1, 1], gh2);
    assert.deepEqual(
      channels(gh2)[0].map((v) => Math.round(v * 3000) / 1000),
      [-2, 1, 1, -2, 1, 1],
    );
  });

  it('L2 regression: g = s - y, h = 1, base score = weighted mean', () => {
    const gh = new Float32Array(4);
    l2Regression.gradients([1, 4], Float64Array.of(3, 3), [1, 1], gh);
    assert.deepEqual(channels(gh), [
      [2, -1],
      [1, 1],
    ]);
    close(l2Regression.baseScore([1, 4], [3, 1])[0], 7 / 4);
  });

  it('a row range computes those rows only', () => {
    const gh = new Float32Array(8).fill(9);
    l2Regression.gradients([1, 4, 2, 0], Float64Array.of(3, 3, 3, 3), [1, 1, 1, 1], gh, 1, 3);
    assert.deepEqual(Array.from(gh), [9, 9, -1, 1, 1, 1, 9, 9]);
  });
});

describe('boosting: one split by hand', () => {
  // x0 = 1 2 3 4 separates the gradients, x1 = 1 2 1 2 does not.
  const X = matrix([
    [1, 1],
    [2, 2],
    [3, 1],
    [4, 2],
  ]);
  const grow = (g: number[], h: number[], l2: number) => {
    const binned = binMatrix(X, 255, false);
    const grower = new TreeGrower(binned, { maxLeaves: 2, maxDepth: Infinity, minSamplesLeaf: 1, minHessianLeaf: 0, l2, minGain: 0 }, false);
    for (let i = 0; i < 4; i++) grower.idx[i] = i;
    return grower.grow(4, [0, 1], Float32Array.from(g.flatMap((v, i) => [v, h[i]])));
  };

  it('regression gradients (1, 1, -1, -1): split x0 < 2.5, gain 1/2 (4/(2+l2) + 4/(2+l2))', () => {
    const t = grow([1, 1, -1, -1], [1, 1, 1, 1], 1);
    assert.equal(t.feature[0], 0);
    assert.equal(t.bin[0], 1);
    close(t.gain[0], 0.5 * (4 / 3 + 4 / 3));
    close(t.value[t.left[0]], -2 / 3);
    close(t.value[t.right[0]], 2 / 3);
  });

  it('log-loss at p = 1/2 for y = (0, 0, 1, 1): leaves -G/H = -2 and 2, gain 2', async () => {
    const t = grow([0.5, 0.5, -0.5, -0.5], [0.25, 0.25, 0.25, 0.25], 0);
    close(t.gain[0], 2);
    close(t.value[t.left[0]], -2);
    close(t.value[t.right[0]], 2);
    // The trainer gives the same tree, scaled by the learning rate, with threshold 2.5.
    const model = await trainBoosting(
      X,
      Float64Array.of(0, 0, 1, 1),
      {
        task: 'classification',
        nEstimators: 1,
        learningRate: 0.5,
        maxLeaves: 2,
        minSamplesLeaf: 1,
        minHessianLeaf: 0,
      },
      { workers: 1 },
    );
    const tree = model.trees[0];
    assert.deepEqual([tree.feature[0], tree.threshold[0]], [0, 2.5]);
    close(tree.value[tree.left[0]], -1);
    close(tree.value[tree.right[0]], 1);
    assert.deepEqual(model.featureImportances, [1, 0]);
    close(compileBoosting(model).predictProba([4, 0])[1], 1 / (1 + Math.exp(-1)));
  });
});

/** Synthetic two-class data with a circular boundary; feature 2 is noise, feature 3 partly missing. */
function circles(n: number, seed: number, missingRate = 0): { X: Matrix; y: Float64Array } {
  const rand = lcg(seed);
  const p = 4;
  const data = new Float64Array(n * p);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = rand() * 2 - 1;
    const b = rand() * 2 - 1;
    data[i * p] = a;
    data[i * p + 1] = b;
    data[i * p + 2] = rand();
    data[i * p + 3] = rand() < missingRate ? Number.NaN : rand();
    y[i] = a * a + b * b < 0.5 ? 1 : 0;
  }
  return { X: { rows: n, cols: p, data }, y };
}

describe('boosting: learning', () => {
  it('learns a circular boundary (test accuracy > 0.95) that no linear rule gets', async () => {
    const train = circles(4000, 1);
    const test = circles(2000, 2);
    const model = await trainBoosting(train.X, train.y, { task: 'classification', nEstimators: 60, seed: 1 }, { workers: 1 });
    const pred = compileBoosting(model);
    let correct = 0;
    for (let r = 0; r < test.X.rows; r++) if (pred.predict(row(test.X, r)) === test.y[r]) correct++;
    assert.ok(correct / test.X.rows > 0.95, `accuracy ${correct / test.X.rows}`);
    assert.ok(model.featureImportances[0] + model.featureImportances[1] > 0.9, `importances ${model.featureImportances}`);
  });

  it('regression: fits sin(3x) with R^2 > 0.95', async () => {
    const rand = lcg(5);
    const n = 3000;
    const X: Matrix = { rows: n, cols: 1, data: Float64Array.from({ length: n }, () => rand() * 4 - 2) };
    const y = Float64Array.from(X.data, (x) => Math.sin(3 * x));
    const model = await trainBoosting(X, y, { task: 'regression', nEstimators: 100, seed: 2 }, { workers: 1 });
    const pred = compileBoosting(model);
    let ss = 0;
    let st = 0;
    for (let i = 0; i < n; i++) {
      ss += (pred.predict([X.data[i]]) - y[i]) ** 2;
      st += y[i] ** 2;
    }
    assert.ok(1 - ss / st > 0.95, `R^2 ${1 - ss / st}`);
  });

  it('multiclass: three classes, probabilities sum to 1', async () => {
    const rand = lcg(9);
    const n = 1500;
    const data = Float64Array.from({ length: n }, () => rand() * 3);
    const y = Float64Array.from(data, (x) => (x < 1 ? 10 : x < 2 ? 20 : 30));
    const model = await trainBoosting({ rows: n, cols: 1, data }, y, { task: 'classification', nEstimators: 20, seed: 3 }, { workers: 1 });
    assert.equal(model.objective, 'multiclass');
    assert.equal(model.trees.length, 20 * 3);
    assert.deepEqual(model.classes, [10, 20, 30]);
    // Other labels give the same trees: negative integers (marked), integers over a wide range and
    // fractions (sorted).
    for (const [a, b, c] of [
      [-7, -2, 3],
      [-7, 0, 65_600],
      [0.5, 1.25, 2],
    ]) {
      const relabelled = Float64Array.from(y, (v) => (v === 10 ? a : v === 20 ? b : c));
      const other = await trainBoosting({ rows: n, cols: 1, data }, relabelled, { task: 'classification', nEstimators: 20, seed: 3 }, { workers: 1 });
      assert.deepEqual(other.classes, [a, b, c]);
      assert.deepEqual(other.trees, model.trees);
    }
    const pred = compileBoosting(model);
    assert.deepEqual(
      [0.5, 1.5, 2.5].map((x) => pred.predict([x])),
      [10, 20, 30],
    );
    const p = pred.predictProba([1.5]);
    close(
      p.reduce((a, b) => a + b, 0),
      1,
      1e-12,
    );
  });

  it('early stopping keeps the best iteration on the validation set', async () => {
    // Pure-noise labels: the validation loss is best after very few iterations.
    const rand = lcg(11);
    const mk = (n: number) => ({
      X: { rows: n, cols: 3, data: Float64Array.from({ length: n * 3 }, rand) },
      y: Float64Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0)),
    });
    const train = mk(2000);
    const val = mk(1000);
    const model = await trainBoosting(
      train.X,
      train.y,
      { task: 'classification', nEstimators: 200, earlyStoppingRounds: 5, seed: 1 },
      { workers: 1, validation: val },
    );
    assert.ok(model.nIterations < 50, `kept ${model.nIterations} iterations`);
    assert.equal(model.trees.length, model.nIterations);
    const best = Math.min(...model.validationLoss);
    close(model.validationLoss[model.nIterations - 1], best, 0);
    assert.ok(model.validationLoss.length <= model.nIterations + 5);
  });

  it('balanced class weights raise the minority class probability', async () => {
    const rand = lcg(13);
    const n = 3000;
    const data = Float64Array.from({ length: n * 2 }, rand);
    const y = Float64Array.from({ length: n }, (_, i) => (data[i * 2] > 0.7 && rand() < 0.4 ? 1 : 0));
    const params = { task: 'classification' as const, nEstimators: 20, seed: 1 };
    const plain = compileBoosting(await trainBoosting({ rows: n, cols: 2, data }, y, params, { workers: 1 }));
    const weighted = compileBoosting(await trainBoosting({ rows: n, cols: 2, data }, y, { ...params, classWeight: 'balanced' }, { workers: 1 }));
    let a = 0;
    let b = 0;
    for (let r = 0; r < n; r++) {
      a += plain.predictProba(data.subarray(r * 2, r * 2 + 2))[1];
      b += weighted.predictProba(data.subarray(r * 2, r * 2 + 2))[1];
    }
    assert.ok(b > 1.5 * a, `mean minority probability ${a / n} -> ${b / n}`);
  });

  it('rejects bad parameters with the field name', async () => {
    const X = matrix([[1], [2]]);
    await assert.rejects(trainBoosting(X, Float64Array.of(0, 1), { task: 'classification', learningRate: -1 }), /learningRate/);
    await assert.rejects(trainBoosting(X, Float64Array.of(0, 1), { task: 'classification', maxBins: 256 }), /maxBins/);
    await assert.rejects(trainBoosting(X, Float64Array.of(0, 1), { task: 'regression', objective: 'binary' }), /objective/);
  });
});

describe('boosting: missing values', () => {
  const missingData = (missingHigh: boolean) => missingRows(missingHigh, 2000, missingHigh ? 21 : 22);

  for (const missingHigh of [true, false]) {
    it(`each split learns where missing values go (missing ${missingHigh ? 'with the high' : 'with the low'} side)`, async () => {
      const { X, y } = missingData(missingHigh);
      const model = await trainBoosting(X, y, { task: 'classification', nEstimators: 10, maxLeaves: 2, seed: 1 }, { workers: 1 });
      const root = model.trees[0];
      assert.equal(root.feature[0], 0);
      // The root splits x0 near 5 and sends NaN to the side whose label it shares: no extra split needed.
      assert.ok(Math.abs(root.threshold[0] - 5) < 0.2, `threshold ${root.threshold[0]}`);
      assert.equal(root.defaultLeft[0], missingHigh ? 0 : 1);
      const pred = compileBoosting(model);
      assert.equal(pred.predict([Number.NaN, 0.5]), missingHigh ? 1 : 0);
      // Rows with missing values were trained on, not dropped: the training set is fitted.
      let correct = 0;
      for (let r = 0; r < X.rows; r++) if (pred.predict(row(X, r)) === y[r]) correct++;
      assert.ok(correct / X.rows > 0.99, `training accuracy ${correct / X.rows}`);
    });
  }

  it('every leaf value is -G/H of the training rows the predictor routes to it, missing ones included', async () => {
    const { X, y } = missingData(false);
    const model = await trainBoosting(
      X,
      y,
      { task: 'classification', nEstimators: 1, learningRate: 1, maxLeaves: 8, minSamplesLeaf: 5, seed: 1 },
      { workers: 1 },
    );
    const tree = model.trees[0];
    const p0 = 1 / (1 + Math.exp(-model.baseScore[0]));
    const G = new Map<number, number>();
    const H = new Map<number, number>();
    for (let r = 0; r < X.rows; r++) {
      const { feature, threshold, defaultLeft, left, right } = tree;
      let i = 0;
      while (feature[i] >= 0) {
        const x = X.data[r * 2 + feature[i]];
        i = Number.isNaN(x) ? (defaultLeft[i] ? left[i] : right[i]) : x < threshold[i] ? left[i] : right[i];
      }
      // Histograms sum float32 gradients and hessians.
      G.set(i, (G.get(i) ?? 0) + Math.fround(p0 - y[r]));
      H.set(i, (H.get(i) ?? 0) + Math.fround(p0 * (1 - p0)));
    }
    assert.ok(G.size > 2);
    for (const [leaf, g] of G) close(tree.value[leaf], -g / H.get(leaf)!, 1e-9);
  });

  it('a column that is all missing in the training split, or in the validation split', async () => {
    const train = circles(3000, 31);
    for (let r = 0; r < train.X.rows; r++) train.X.data[r * 4 + 2] = Number.NaN;
    const val = circles(1000, 32);
    for (let r = 0; r < val.X.rows; r++) val.X.data[r * 4 + 3] = Number.NaN;
    const model = await trainBoosting(train.X, train.y, { task: 'classification', nEstimators: 40, seed: 4 }, { workers: 1, validation: val });
    assert.equal(model.featureImportances[2], 0);
    assert.ok(model.trees.every((t) => !t.feature.includes(2)));
    const pred = compileBoosting(model);
    let correct = 0;
    for (let r = 0; r < val.X.rows; r++) if (pred.predict(row(val.X, r)) === val.y[r]) correct++;
    assert.ok(correct / val.X.rows > 0.93, `validation accuracy with feature 3 all missing: ${correct / val.X.rows}`);
    // The validation loss the trainer tracked (on binned rows) agrees with the raw-value predictor.
    let loss = 0;
    for (let r = 0; r < val.X.rows; r++) loss -= Math.log(pred.predictProba(row(val.X, r))[val.y[r]]);
    close(loss / val.X.rows, model.validationLoss[model.nIterations - 1], 1e-9);
  });

  it('a feature with no missing value in training sends NaN to the larger child', async () => {
    const { X, y } = circles(2000, 41);
    const model = await trainBoosting(X, y, { task: 'classification', nEstimators: 5, seed: 1 }, { workers: 1 });
    const t = model.trees[0];
    // Count training rows on each side of the root split.
    let nl = 0;
    for (let r = 0; r < X.rows; r++) if (X.data[r * 4 + t.feature[0]] < t.threshold[0]) nl++;
    assert.equal(t.defaultLeft[0], nl >= X.rows - nl ? 1 : 0);
    const probe = [0.1, 0.1, 0.5, 0.5];
    probe[t.feature[0]] = Number.NaN;
    const leaf = treeOutput(t, probe);
    assert.ok(Number.isFinite(leaf));
  });
});

describe('boosting: determinism', () => {
  it('the same seed gives a byte-identical model with 1, 2 or 3 threads; another seed differs', async () => {
    // Enough rows that large nodes go to the histogram workers.
    const base = circles(40000, 51, 0.2);
    const y = base.y;
    // Feature 2 becomes a sparse one-hot flag that flips the label; sixteen more columns: small
    // integer codes (dense) and sparse flags. The histograms of nodes of PARALLEL_HIST_ROWS rows or
    // more are shared by the threads (chunks of rows, each summed into a histogram of its own), and
    // partitions of more than CHUNK_ROWS rows by chunks.
    const p = 20;
    const X: Matrix = { rows: base.X.rows, cols: p, data: new Float64Array(base.X.rows * p) };
    const rand = lcg(52);
    for (let r = 0; r < X.rows; r++) {
      for (let f = 0; f < 4; f++) X.data[r * p + f] = base.X.data[r * 4 + f];
      X.data[r * p + 2] = rand() < 0.02 ? 1 : 0;
      if (X.data[r * p + 2] === 1) y[r] = 1 - y[r];
      for (let f = 4; f < 12; f++) X.data[r * p + f] = Math.floor(rand() * 5);
      for (let f = 12; f < p; f++) X.data[r * p + f] = rand() < 0.03 ? 1 : 0;
    }
    const binned = binMatrix(X, 255, false);
    const layout = featureLayout(binned, (b) => new ArrayBuffer(b));
    assert.deepEqual(Array.from(layout.sparseFeature), [2, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.ok(layout.bundleFeature.length > 0, 'bundled features');
    assert.ok(X.rows * 0.8 > 4 * PARALLEL_HIST_ROWS, 'large nodes are shared by the threads');
    const params = { task: 'classification' as const, nEstimators: 4, subsample: 0.8, colsample: 0.75, seed: 7 };
    // Row weights over 16 orders of magnitude: the float64 sums of the float32 gradients depend on
    // the order of the additions, so a sum order that changed with the threads would show.
    const sampleWeight = Float64Array.from({ length: X.rows }, () => 10 ** (16 * rand() - 8));
    const models: string[] = [];
    for (const workers of [1, 2, 3]) models.push(JSON.stringify(await trainBoosting(X, y, params, { workers, sampleWeight })));
    assert.equal(models[1], models[0]);
    assert.equal(models[2], models[0]);
    const other = JSON.stringify(await trainBoosting(X, y, { ...params, seed: 8 }, { workers: 1, sampleWeight }));
    assert.notEqual(other, models[0]);
    const parsed = JSON.parse(models[0]) as BoostingModel;
    assert.equal(parsed.format, 'mlops-boosting');
    assert.ok(parsed.featureImportances[2] > 0.001, `importances ${parsed.featureImportances}`);
  });
});

describe('boosting: the trees of an iteration, a tree per thread', () => {
  it('a 4-class model is the same with 1, 2 or 3 threads, with row and feature sampling', async () => {
    // With 2 or 3 threads each of an iteration's 4 trees is grown whole by one thread (its own
    // grower), its outputs added to the scores by rows: the next iteration's gradients, and so
    // its trees, would show any difference from one thread's trees.
    const base = circles(20000, 53, 0.2);
    const rand = lcg(54);
    const p = 8;
    const X: Matrix = { rows: base.X.rows, cols: p, data: new Float64Array(base.X.rows * p) };
    const y = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      for (let f = 0; f < 4; f++) X.data[r * p + f] = base.X.data[r * 4 + f];
      for (let f = 4; f < 6; f++) X.data[r * p + f] = Math.floor(rand() * 5);
      for (let f = 6; f < p; f++) X.data[r * p + f] = rand() < 0.05 ? 1 : 0;
      y[r] = base.y[r] + (X.data[r * p + 4] >= 3 ? 1 : 0) + (X.data[r * p + 6] === 1 ? 1 : 0);
    }
    const params = { task: 'classification' as const, nEstimators: 3, maxLeaves: 15, subsample: 0.8, colsample: 0.75, seed: 9 };
    const sampleWeight = Float64Array.from({ length: X.rows }, () => 10 ** (16 * rand() - 8));
    const models: string[] = [];
    for (const workers of [1, 2, 3]) models.push(JSON.stringify(await trainBoosting(X, y, params, { workers, sampleWeight })));
    assert.equal(models[1], models[0]);
    assert.equal(models[2], models[0]);
    const parsed = JSON.parse(models[0]) as BoostingModel;
    assert.deepEqual(parsed.classes, [0, 1, 2, 3]);
    assert.equal(parsed.trees.length, 3 * 4);
  });
});

describe('boosting: dense and sparse histograms', () => {
  it('sparse lists and bundles give each feature the histogram of the plain row scan', () => {
    const rand = lcg(61);
    const n = 5000;
    // Feature 0: mostly bin 2 of 4, some missing (bin 4); 1: a flag; 2: 1 bin only; 3 and 4: 3 and
    // 4 even bins (bundled); 5: 40 even bins (alone).
    const p = 6;
    const nBins = Int32Array.of(5, 2, 1, 3, 4, 40);
    const rowBins = new Uint8Array(n * p);
    for (let r = 0; r < n; r++) {
      const u = rand();
      rowBins[r * p] = u < 0.85 ? 2 : u < 0.9 ? 4 : Math.floor(rand() * 4);
      rowBins[r * p + 1] = rand() < 0.1 ? 1 : 0;
      for (const f of [3, 4, 5]) rowBins[r * p + f] = Math.floor(rand() * nBins[f]);
    }
    const alloc = (b: number): ArrayBuffer => new ArrayBuffer(b);
    const binCounts = new Int32Array(p * 256);
    for (let k = 0; k < n * p; k++) binCounts[(k % p) * 256 + rowBins[k]]++;
    // A node: every row with rand() < 0.6, in ascending order. Gradients in 1/1024 steps, so that
    // every sum is exact and the derived bins equal the summed ones.
    const idx = Int32Array.from(Array.from({ length: n }, (_, r) => r).filter(() => rand() < 0.6));
    const m = idx.length;
    const ghRow = Float32Array.from({ length: 2 * n }, (_, i) => Math.floor(rand() * 1024) / 1024 - (i % 2 === 0 ? 0.3 : 0));
    let G = 0;
    let H = 0;
    for (const r of idx) {
      G += ghRow[2 * r];
      H += ghRow[2 * r + 1];
    }
    const build = (sparseMinModeFraction: number, bundleMaxCells: number) => {
      const layout = featureLayout({ nRows: n, rowBins, nBins, binCounts }, alloc, sparseMinModeFraction, bundleMaxCells);
      const featOff = new HistogramPool(layout.histBins, 3).featOff;
      const size = featOff[featOff.length - 1];
      const rows = { ...layout, idx, ghRow, runs: new Int32Array(2 * p) };
      const hist = new Float64Array(size + 2).fill(Number.NaN);
      const nRuns = denseRuns(
        Int32Array.from(layout.denseFeature, (_, c) => c),
        rows.runs,
      );
      const sparse = layout.sparseFeature.length > 0;
      accumulateRows(hist, 2, size, featOff, rows, nRuns, sparse, 0, m);
      // By chunks (the sums are exact, so their order does not matter here): in turn, and in
      // reverse order as threads could take them, each chunk into a dirty histogram of its own.
      const nChunks = histChunkCount(m);
      assert.ok(nChunks > 1);
      const byNode = {
        hist: new Float64Array(size + 2).fill(Number.NaN),
        partials: new Float64Array((MAX_HIST_CHUNKS - 1) * size).fill(Number.NaN),
        featOff,
        rows,
      };
      accumulateNode(byNode, 2, nRuns, sparse, 0, m);
      assert.deepEqual(Array.from(byNode.hist.subarray(2)), Array.from(hist.subarray(2, 2 + size)));
      const byChunks = { ...byNode, hist: new Float64Array(size + 2).fill(Number.NaN), partials: byNode.partials.fill(Number.NaN) };
      for (let c = nChunks - 1; c >= 0; c--) accumulateChunk(byChunks, 2, nRuns, sparse, 0, m, nChunks, c);
      addPartials(byChunks, 2, nChunks);
      assert.deepEqual(Array.from(byChunks.hist.subarray(2)), Array.from(hist.subarray(2, 2 + size)));
      // With prepare (the root's pass): each block's gradients are made just before they are summed.
      const lazy = new Float32Array(2 * n).fill(Number.NaN);
      const byPrepared = { ...byNode, hist: new Float64Array(size + 2).fill(Number.NaN), rows: { ...rows, ghRow: lazy } };
      let prepared = 0;
      accumulateNode(byPrepared, 2, nRuns, sparse, 0, m, (a, b) => {
        prepared += b - a;
        for (const r of idx.subarray(a, b)) lazy.set(ghRow.subarray(2 * r, 2 * r + 2), 2 * r);
      });
      assert.equal(prepared, m);
      assert.deepEqual(Array.from(byPrepared.hist.subarray(2)), Array.from(hist.subarray(2, 2 + size)));
      // A node of all rows (a root) sums no counts of its dense columns and takes them from the layout.
      const allRows = { ...rows, idx: Int32Array.from({ length: n }, (_, r) => r) };
      const counted = new Float64Array(size + 2).fill(Number.NaN);
      accumulateRows(counted, 2, size, featOff, allRows, nRuns, sparse, 0, n);
      const byLayout = { ...byNode, hist: new Float64Array(size + 2).fill(Number.NaN), rows: allRows };
      accumulateNode(byLayout, 2, nRuns, sparse, 0, n);
      assert.deepEqual(Array.from(byLayout.hist.subarray(2)), Array.from(counted.subarray(2, 2 + size)));
      spreadBundles(hist, 2, featOff, nBins, layout);
      const all = Int32Array.from({ length: p }, (_, f) => f);
      deriveBins(hist, 2, featOff, nBins, layout.derivedBin, all, p, m, G, H);
      return { layout, hist: Array.from(hist.subarray(2, 2 + featOff[p])) };
    };
    const plain = build(2, 1);
    assert.deepEqual([plain.layout.sparseFeature.length, plain.layout.bundleFeature.length], [0, 0]);
    const lists = build(0.8, 1);
    assert.deepEqual(Array.from(lists.layout.sparseFeature), [0, 1, 2]);
    assert.deepEqual(lists.layout.derivedBin, Int32Array.of(2, 0, 0, 0, 0, 0));
    const bundled = build(0.8, 256);
    assert.deepEqual(Array.from(bundled.layout.bundleFeature), [3, 4]);
    // Columns: the bundle (histogram region p + 0: 12 joint bins), then feature 5.
    assert.deepEqual(Array.from(bundled.layout.denseFeature), [p, 5]);
    assert.equal(bundled.layout.histBins[p], 12);
    assert.deepEqual(lists.hist, plain.hist);
    assert.deepEqual(bundled.hist, plain.hist);
    // Bin 2 of feature 0 holds most rows, bin 1 of the flag about a tenth, the 1-bin feature all.
    assert.ok(plain.hist[2 * 3 + 2] > 0.8 * m && plain.hist[15 + 3 + 2] > 0.05 * m && plain.hist[21 + 2] === m, `bins ${plain.hist}`);
  });

  it('dense runs are consecutive columns, at most MAX_RUN long', () => {
    const runs = new Int32Array(2 * (MAX_RUN + 8));
    const n = denseRuns(Int32Array.of(0, 1, 2, 4, 6, 7, 9), runs);
    assert.deepEqual(Array.from(runs.subarray(0, 2 * n)), [0, 3, 4, 1, 6, 2, 9, 1]);
    const long = Int32Array.from({ length: MAX_RUN + 5 }, (_, j) => j);
    assert.deepEqual(Array.from(runs.subarray(0, 2 * denseRuns(long, runs))), [0, MAX_RUN, MAX_RUN, 5]);
  });

  it("a node's histograms are cut into chunks by its size alone: one below PARALLEL_HIST_ROWS, then 2 to MAX_HIST_CHUNKS", () => {
    assert.equal(histChunkCount(1), 1);
    assert.equal(histChunkCount(PARALLEL_HIST_ROWS - 1), 1);
    assert.equal(histChunkCount(PARALLEL_HIST_ROWS), 2);
    assert.equal(histChunkCount(1e7), MAX_HIST_CHUNKS);
    for (let n = 1, prev = 1; n < 1e6; n = Math.ceil(n * 1.3)) {
      const k = histChunkCount(n);
      assert.ok(k >= prev && k <= MAX_HIST_CHUNKS, `${n} rows: ${k} chunks`);
      prev = k;
    }
  });

  it('a node is cut into chunks by its size alone, covering it exactly', () => {
    assert.equal(chunkCount(CHUNK_ROWS), 1);
    assert.equal(chunkCount(CHUNK_ROWS + 1), 2);
    const n = 10 * CHUNK_ROWS + 7;
    const k = chunkCount(n);
    assert.equal(chunkStart(100, 100 + n, k, 0), 100);
    assert.equal(chunkStart(100, 100 + n, k, k), 100 + n);
    for (let c = 0; c < k; c++) assert.ok(chunkStart(100, 100 + n, k, c + 1) - chunkStart(100, 100 + n, k, c) <= CHUNK_ROWS);
  });
});
