// Linear baseline family: multinomial logistic regression (classification) and ridge regression,
// both on standardised features with an L2 penalty. Missing values (NaN) are imputed with the
// training mean, i.e. 0 after standardisation. The model is plain JSON.
import { z } from 'zod';
import type { Matrix, Predictor, Task } from '../forest/types.ts';
import { classWeights, ClassWeightSchema } from '../boosting/params.ts';
import { softmaxInto } from '../boosting/objective.ts';

export const LinearParamsSchema = z.object({
  task: z.enum(['classification', 'regression']),
  /** Penalty (l2 / 2) * ||W||^2 added to the mean (weighted) loss; the intercepts are not penalised. */
  l2: z.number().min(0).default(1e-4),
  /** L-BFGS iterations (classification). */
  maxIter: z.number().int().min(1).default(200),
  /** Stop when the gradient's max-norm falls below this. */
  tol: z.number().positive().default(1e-5),
  classWeight: ClassWeightSchema.optional(),
});
export type LinearParams = z.input<typeof LinearParamsSchema>;
export type ResolvedLinearParams = z.output<typeof LinearParamsSchema>;

export interface LinearModel {
  format: 'mlops-linear';
  version: 1;
  task: Task;
  /** Class labels in index order (ascending); empty for regression. */
  classes: number[];
  nFeatures: number;
  featureNames?: string[];
  /** Standardisation: z = (x - mean) / scale (scale 1 for constant features). */
  mean: number[];
  scale: number[];
  /** Row-major weights on standardised features: coef[k * nFeatures + f], one row per class (one for regression). */
  coef: number[];
  intercept: number[];
  params: ResolvedLinearParams;
  /** Optimiser iterations and whether the tolerance was reached. */
  iterations: number;
  converged: boolean;
}

export interface LinearTrainOptions {
  featureNames?: string[];
  sampleWeight?: Float64Array;
}

function parseParams(params: LinearParams): ResolvedLinearParams {
  const parsed = LinearParamsSchema.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`linear params: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Column means and standard deviations over non-missing values. */
function standardisation(X: Matrix): { mean: Float64Array; scale: Float64Array } {
  const { rows, cols, data } = X;
  const mean = new Float64Array(cols);
  const m2 = new Float64Array(cols);
  const cnt = new Float64Array(cols);
  for (let r = 0, k = 0; r < rows; r++) {
    for (let f = 0; f < cols; f++, k++) {
      const v = data[k];
      if (Number.isNaN(v)) continue;
      if (!Number.isFinite(v)) throw new RangeError(`infinite feature value at row ${r}, column ${f}`);
      cnt[f]++;
      const d = v - mean[f];
      mean[f] += d / cnt[f];
      m2[f] += d * (v - mean[f]);
    }
  }
  const scale = new Float64Array(cols);
  for (let f = 0; f < cols; f++) {
    const sd = cnt[f] > 0 ? Math.sqrt(m2[f] / cnt[f]) : 0;
    scale[f] = sd > 1e-12 ? sd : 1;
  }
  return { mean, scale };
}

function standardise(X: Matrix, mean: Float64Array, scale: Float64Array): Float64Array {
  const { rows, cols, data } = X;
  const Z = new Float64Array(rows * cols);
  for (let r = 0, k = 0; r < rows; r++) {
    for (let f = 0; f < cols; f++, k++) {
      const v = data[k];
      Z[k] = Number.isNaN(v) ? 0 : (v - mean[f]) / scale[f];
    }
  }
  return Z;
}

/** Solves the symmetric positive definite system A x = b in place (Cholesky); A is n x n row-major. */
export function solveSpd(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new RangeError('ridge system is not positive definite (use l2 > 0)');
        L[i * n + i] = Math.sqrt(s);
      } else {
        L[i * n + j] = s / L[j * n + j];
      }
    }
  }
  const x = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    let s = x[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * x[k];
    x[i] = s / L[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/**
 * Multinomial logistic loss and gradient over parameters theta = [W (K x p) row-major, b (K)]:
 * f = sum_i w_i CE_i / sum_i w_i + (l2 / 2) ||W||^2.
 */
export function softmaxLossGrad(
  Z: Float64Array,
  n: number,
  p: number,
  K: number,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  l2: number,
  theta: Float64Array,
  grad: Float64Array,
): number {
  grad.fill(0);
  const prob = new Float64Array(K);
  const s = new Float64Array(K);
  let loss = 0;
  let sw = 0;
  const bOff = K * p;
  for (let i = 0; i < n; i++) {
    const zo = i * p;
    for (let k = 0; k < K; k++) {
      let v = theta[bOff + k];
      const wo = k * p;
      for (let f = 0; f < p; f++) v += theta[wo + f] * Z[zo + f];
      s[k] = v;
    }
    softmaxInto(s, 0, K, prob);
    const wi = w[i];
    sw += wi;
    loss -= wi * Math.log(Math.max(prob[y[i]], 1e-300));
    for (let k = 0; k < K; k++) {
      const d = wi * (prob[k] - (y[i] === k ? 1 : 0));
      if (d === 0) continue;
      const wo = k * p;
      for (let f = 0; f < p; f++) grad[wo + f] += d * Z[zo + f];
      grad[bOff + k] += d;
    }
  }
  const inv = sw > 0 ? 1 / sw : 0;
  loss *= inv;
  for (let j = 0; j < grad.length; j++) grad[j] *= inv;
  for (let j = 0; j < bOff; j++) {
    loss += 0.5 * l2 * theta[j] * theta[j];
    grad[j] += l2 * theta[j];
  }
  return loss;
}

/** Minimises f with L-BFGS (memory 10) and a backtracking Armijo line search. */
export function lbfgs(
  f: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  maxIter: number,
  tol: number,
): { x: Float64Array; iterations: number; converged: boolean } {
  const n = x0.length;
  const M = 10;
  const x = Float64Array.from(x0);
  const g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(n);
  const xn = new Float64Array(n);
  const gn = new Float64Array(n);
  const alpha = new Float64Array(M);
  const maxAbs = (v: Float64Array): number => v.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
  let it = 0;
  for (; it < maxIter; it++) {
    if (maxAbs(g) < tol) return { x, iterations: it, converged: true };
    d.set(g);
    for (let j = S.length - 1; j >= 0; j--) {
      let a = 0;
      for (let i = 0; i < n; i++) a += S[j][i] * d[i];
      a *= rho[j];
      alpha[j] = a;
      for (let i = 0; i < n; i++) d[i] -= a * Y[j][i];
    }
    if (S.length > 0) {
      const last = S.length - 1;
      let yy = 0;
      for (let i = 0; i < n; i++) yy += Y[last][i] * Y[last][i];
      const gamma = 1 / (rho[last] * yy);
      for (let i = 0; i < n; i++) d[i] *= gamma;
    }
    for (let j = 0; j < S.length; j++) {
      let b = 0;
      for (let i = 0; i < n; i++) b += Y[j][i] * d[i];
      b *= rho[j];
      for (let i = 0; i < n; i++) d[i] += S[j][i] * (alpha[j] - b);
    }
    // d is now H g; step along -d.
    let slope = 0;
    for (let i = 0; i < n; i++) slope -= g[i] * d[i];
    if (!(slope < 0)) {
      // Not a descent direction: restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      d.set(g);
      slope = 0;
      for (let i = 0; i < n; i++) slope -= g[i] * g[i];
    }
    let step = S.length === 0 ? Math.min(1, 1 / Math.max(maxAbs(g), 1e-12)) : 1;
    let fn = Infinity;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < n; i++) xn[i] = x[i] - step * d[i];
      fn = f(xn, gn);
      if (fn <= fx + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(fn <= fx)) return { x, iterations: it, converged: false };
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    let sy = 0;
    for (let i = 0; i < n; i++) {
      s[i] = xn[i] - x[i];
      yv[i] = gn[i] - g[i];
      sy += s[i] * yv[i];
    }
    x.set(xn);
    g.set(gn);
    const improved = fx - fn;
    fx = fn;
    if (sy > 1e-12) {
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
      if (S.length > M) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    if (improved <= 1e-15 * Math.max(1, Math.abs(fx)) && maxAbs(g) < Math.sqrt(tol)) return { x, iterations: it + 1, converged: true };
  }
  return { x, iterations: it, converged: maxAbs(g) < tol };
}

export async function trainLinear(X: Matrix, y: Float64Array, params: LinearParams, options: LinearTrainOptions = {}): Promise<LinearModel> {
  const resolved = parseParams(params);
  const { rows: n, cols: p } = X;
  if (!Number.isInteger(n) || !Number.isInteger(p) || n < 1 || p < 1) throw new RangeError('X must have at least one row and one column');
  if (X.data.length !== n * p) throw new RangeError(`X.data has ${X.data.length} values, expected ${n * p}`);
  if (y.length !== n) throw new RangeError(`y has ${y.length} values, expected ${n}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(y[i])) throw new RangeError(`non-finite target at row ${i}`);
  if (options.featureNames && options.featureNames.length !== p) throw new RangeError(`featureNames has ${options.featureNames.length} names, expected ${p}`);
  if (options.sampleWeight && options.sampleWeight.length !== n) throw new RangeError(`sampleWeight has ${options.sampleWeight.length} values, expected ${n}`);
  if (resolved.task === 'regression' && resolved.classWeight !== undefined) throw new RangeError('classWeight applies to classification only');
  const { mean, scale } = standardisation(X);
  const Z = standardise(X, mean, scale);
  const sw = options.sampleWeight ?? new Float64Array(n).fill(1);
  const common = {
    format: 'mlops-linear' as const,
    version: 1 as const,
    task: resolved.task,
    nFeatures: p,
    ...(options.featureNames ? { featureNames: [...options.featureNames] } : {}),
    mean: Array.from(mean),
    scale: Array.from(scale),
    params: resolved,
  };

  if (resolved.task === 'regression') {
    // Ridge on centred data: (Z_c' W Z_c / sum w + l2 I) beta = Z_c' W (y - ybar) / sum w.
    let sumW = 0;
    let ybar = 0;
    const zbar = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      sumW += sw[i];
      ybar += sw[i] * y[i];
      for (let f = 0; f < p; f++) zbar[f] += sw[i] * Z[i * p + f];
    }
    ybar /= sumW;
    for (let f = 0; f < p; f++) zbar[f] /= sumW;
    const A = new Float64Array(p * p);
    const b = new Float64Array(p);
    const zc = new Float64Array(p);
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < p; f++) zc[f] = Z[i * p + f] - zbar[f];
      const wi = sw[i] / sumW;
      const yc = y[i] - ybar;
      for (let a = 0; a < p; a++) {
        const va = wi * zc[a];
        if (va === 0) continue;
        b[a] += va * yc;
        for (let c = 0; c <= a; c++) A[a * p + c] += va * zc[c];
      }
    }
    for (let a = 0; a < p; a++) {
      for (let c = 0; c < a; c++) A[c * p + a] = A[a * p + c];
      // Constant columns have zero variance: a tiny ridge keeps the system definite.
      A[a * p + a] += resolved.l2 > 0 ? resolved.l2 : A[a * p + a] > 0 ? 0 : 1;
    }
    const beta = solveSpd(A, b, p);
    let intercept = ybar;
    for (let f = 0; f < p; f++) intercept -= beta[f] * zbar[f];
    return { ...common, classes: [], coef: Array.from(beta), intercept: [intercept], iterations: 1, converged: true };
  }

  const classes = Array.from(new Set(y)).sort((a, b) => a - b);
  const index = new Map(classes.map((c, i) => [c, i]));
  const yc = Float64Array.from(y, (v) => index.get(v)!);
  const cw = classWeights(resolved.classWeight, classes, yc);
  const w = Float64Array.from(yc, (k, i) => cw[k] * sw[i]);
  const K = classes.length;
  if (K < 2) {
    return { ...common, classes, coef: new Array<number>(p).fill(0), intercept: [0], iterations: 0, converged: true };
  }
  const theta0 = new Float64Array(K * p + K);
  const fit = lbfgs((th, grad) => softmaxLossGrad(Z, n, p, K, yc, w, resolved.l2, th, grad), theta0, resolved.maxIter, resolved.tol);
  return {
    ...common,
    classes,
    coef: Array.from(fit.x.subarray(0, K * p)),
    intercept: Array.from(fit.x.subarray(K * p)),
    iterations: fit.iterations,
    converged: fit.converged,
  };
}

class CompiledLinear implements Predictor {
  readonly task: Task;
  readonly nFeatures: number;
  readonly classes: readonly number[];
  private readonly m: LinearModel;
  private readonly K: number;

  constructor(model: LinearModel) {
    this.m = model;
    this.task = model.task;
    this.nFeatures = model.nFeatures;
    this.classes = [...model.classes];
    this.K = model.intercept.length;
    if (model.coef.length !== this.K * model.nFeatures) throw new RangeError('linear model: coef has the wrong length');
  }

  /** Linear scores (one per class, or the regression value). */
  raw(row: ArrayLike<number>): Float64Array {
    const { mean, scale, coef, intercept, nFeatures: p } = this.m;
    const s = Float64Array.from(intercept);
    for (let f = 0; f < p; f++) {
      const v = row[f];
      if (Number.isNaN(v)) continue;
      const z = (v - mean[f]) / scale[f];
      for (let k = 0; k < this.K; k++) s[k] += coef[k * p + f] * z;
    }
    return s;
  }

  predictProba(row: ArrayLike<number>): Float64Array {
    if (this.task !== 'classification') throw new Error('predictProba needs a classification model');
    const out = new Float64Array(this.K);
    softmaxInto(this.raw(row), 0, this.K, out);
    return out;
  }

  predict(row: ArrayLike<number>): number {
    if (this.task === 'regression') return this.raw(row)[0];
    const pr = this.predictProba(row);
    let best = 0;
    for (let k = 1; k < pr.length; k++) if (pr[k] > pr[best]) best = k;
    return this.classes[best];
  }

  predictVote(row: ArrayLike<number>): number {
    return this.predict(row);
  }
}

export function compileLinear(model: LinearModel): Predictor {
  return new CompiledLinear(model);
}
