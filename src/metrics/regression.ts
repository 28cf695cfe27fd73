// Regression metrics. All return NaN for empty input and throw on a length mismatch.

type Values = ArrayLike<number>;

function check(yTrue: Values, yPred: Values, what: string): void {
  if (yTrue.length !== yPred.length) throw new RangeError(`${what}: yTrue has ${yTrue.length} entries, yPred ${yPred.length}`);
}

export function rmse(yTrue: Values, yPred: Values): number {
  check(yTrue, yPred, 'rmse');
  let ss = 0;
  for (let i = 0; i < yTrue.length; i++) ss += (yTrue[i] - yPred[i]) ** 2;
  return yTrue.length === 0 ? Number.NaN : Math.sqrt(ss / yTrue.length);
}

export function mae(yTrue: Values, yPred: Values): number {
  check(yTrue, yPred, 'mae');
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += Math.abs(yTrue[i] - yPred[i]);
  return yTrue.length === 0 ? Number.NaN : s / yTrue.length;
}

/**
 * Coefficient of determination 1 − SS_res/SS_tot. For a constant yTrue (SS_tot = 0) it returns 1
 * for a perfect prediction and 0 otherwise, as sklearn does, rather than ±Infinity/NaN.
 */
export function r2(yTrue: Values, yPred: Values): number {
  check(yTrue, yPred, 'r2');
  const n = yTrue.length;
  if (n === 0) return Number.NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i];
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < n; i++) {
    ssRes += (yTrue[i] - yPred[i]) ** 2;
    ssTot += (yTrue[i] - mean) ** 2;
  }
  if (ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}

export type RegressionReport = { n: number; rmse: number; mae: number; r2: number };

export function regressionReport(yTrue: Values, yPred: Values): RegressionReport {
  return { n: yTrue.length, rmse: rmse(yTrue, yPred), mae: mae(yTrue, yPred), r2: r2(yTrue, yPred) };
}
