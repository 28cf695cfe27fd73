import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Matrix } from '../../src/forest/types.ts';
import { compileLinear, softmaxLossGrad, trainLinear } from '../../src/linear/index.ts';
import { lcg } from '../helpers/synthetic.ts';

const close = (actual: number, expected: number, eps: number): void => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

/** Reference: Gaussian elimination with partial pivoting on a small dense system. */
function gauss(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((r, i) => r[n] / r[i]);
}

describe('linear: ridge regression', () => {
  it('with l2 = 0 equals ordinary least squares solved from the normal equations', async () => {
    const rand = lcg(3);
    const n = 200;
    const rows: number[][] = [];
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const a = rand() * 10;
      const b = rand() * 100 - 50;
      rows.push([a, b]);
      y[i] = 3 + 2 * a - 0.5 * b + (rand() - 0.5);
    }
    // Normal equations on [1, a, b], raw (unstandardised) features.
    const D = rows.map((r) => [1, ...r]);
    const A = [0, 1, 2].map((i) => [0, 1, 2].map((j) => D.reduce((s, r) => s + r[i] * r[j], 0)));
    const bv = [0, 1, 2].map((i) => D.reduce((s, r, k) => s + r[i] * y[k], 0));
    const beta = gauss(A, bv);
    const X: Matrix = { rows: n, cols: 2, data: Float64Array.from(rows.flat()) };
    const model = await trainLinear(X, y, { task: 'regression', l2: 0 });
    const pred = compileLinear(model);
    for (const probe of [
      [0, 0],
      [5, 10],
      [9, -40],
    ])
      close(pred.predict(probe), beta[0] + beta[1] * probe[0] + beta[2] * probe[1], 1e-8);
    // A penalty shrinks the standardised weights.
    const ridge = await trainLinear(X, y, { task: 'regression', l2: 1 });
    assert.ok(Math.abs(ridge.coef[0]) < Math.abs(model.coef[0]));
  });
});

describe('linear: logistic regression', () => {
  it('without penalty, one binary feature: probabilities are the empirical class frequencies', async () => {
    // x = 0: 30 of 100 positive; x = 1: 80 of 100 positive. The MLE matches these exactly.
    const data: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < 100; i++) {
      data.push(0);
      y.push(i < 30 ? 1 : 0);
    }
    for (let i = 0; i < 100; i++) {
      data.push(1);
      y.push(i < 80 ? 1 : 0);
    }
    const model = await trainLinear({ rows: 200, cols: 1, data: Float64Array.from(data) }, Float64Array.from(y), {
      task: 'classification',
      l2: 0,
      tol: 1e-9,
      maxIter: 500,
    });
    assert.ok(model.converged);
    const pred = compileLinear(model);
    close(pred.predictProba([0])[1], 0.3, 1e-6);
    close(pred.predictProba([1])[1], 0.8, 1e-6);
  });

  it('multinomial with L2: the gradient of the penalised loss vanishes at the solution', async () => {
    const rand = lcg(7);
    const n = 300;
    const p = 3;
    const data = Float64Array.from({ length: n * p }, () => rand() * 4);
    const y = Float64Array.from({ length: n }, (_, i) => (data[i * p] + rand() < 2 ? 0 : data[i * p + 1] < 2 ? 1 : 2));
    const model = await trainLinear({ rows: n, cols: p, data }, y, { task: 'classification', l2: 0.01, tol: 1e-8, maxIter: 1000 });
    assert.ok(model.converged);
    // Recompute the loss gradient independently of the optimiser's state.
    const Z = new Float64Array(n * p);
    for (let i = 0; i < n; i++) for (let f = 0; f < p; f++) Z[i * p + f] = (data[i * p + f] - model.mean[f]) / model.scale[f];
    const theta = Float64Array.from([...model.coef, ...model.intercept]);
    const grad = new Float64Array(theta.length);
    softmaxLossGrad(Z, n, p, 3, y, new Float64Array(n).fill(1), 0.01, theta, grad);
    for (const g of grad) close(g, 0, 1e-7);
    // Standardisation: the stored scale is the population standard deviation.
    const mean0 = data.filter((_, k) => k % p === 0).reduce((a, b) => a + b, 0) / n;
    close(model.mean[0], mean0, 1e-12);
  });

  it('a missing value is imputed with the training mean', async () => {
    const rand = lcg(9);
    const n = 200;
    const data = Float64Array.from({ length: n * 2 }, () => rand());
    const y = Float64Array.from({ length: n }, (_, i) => (data[i * 2] > 0.5 ? 1 : 0));
    const model = await trainLinear({ rows: n, cols: 2, data }, y, { task: 'classification' });
    const pred = compileLinear(model);
    assert.deepEqual(Array.from(pred.predictProba([Number.NaN, 0.3])), Array.from(pred.predictProba([model.mean[0], 0.3])));
  });
});
