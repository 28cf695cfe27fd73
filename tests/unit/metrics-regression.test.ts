import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mae, r2, regressionReport, rmse } from '../../src/metrics/regression.ts';

const close = (actual: number, expected: number, eps = 1e-12): void => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

// yTrue = 3, −0.5, 2, 7 ; yPred = 2.5, 0, 2, 8 ; errors = 0.5, −0.5, 0, −1
const Y_TRUE = [3, -0.5, 2, 7];
const Y_PRED = [2.5, 0, 2, 8];

describe('regression metrics', () => {
  it('mae = (0.5 + 0.5 + 0 + 1) / 4 = 0.5', () => close(mae(Y_TRUE, Y_PRED), 0.5));
  it('rmse = √((0.25 + 0.25 + 0 + 1) / 4) = √0.375', () => close(rmse(Y_TRUE, Y_PRED), Math.sqrt(0.375)));
  it('r2 = 1 − 1.5 / 29.1875', () => {
    // mean = 11.5/4 = 2.875; SS_tot = 0.125² + 3.375² + 0.875² + 4.125² = 29.1875; SS_res = 1.5
    close(r2(Y_TRUE, Y_PRED), 1 - 1.5 / 29.1875);
  });
  it('r2 of predicting the mean is 0; perfect is 1; constant yTrue is 1 or 0', () => {
    close(
      r2(
        Y_TRUE,
        Y_TRUE.map(() => 2.875),
      ),
      0,
    );
    close(r2(Y_TRUE, Y_TRUE), 1);
    assert.equal(r2([2, 2], [2, 2]), 1);
    assert.equal(r2([2, 2], [2, 3]), 0);
  });
  it('typed arrays, empty input, length mismatch', () => {
    close(mae(Float64Array.from(Y_TRUE), Float64Array.from(Y_PRED)), 0.5);
    assert.ok(Number.isNaN(rmse([], [])));
    assert.ok(Number.isNaN(r2([], [])));
    assert.throws(() => mae([1], []), RangeError);
  });
  it('regressionReport', () => {
    const r = regressionReport(Y_TRUE, Y_PRED);
    assert.equal(r.n, 4);
    close(r.mae, 0.5);
    close(r.rmse, Math.sqrt(0.375));
  });
});
