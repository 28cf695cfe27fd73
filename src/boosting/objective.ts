// Loss functions of gradient boosting: per-row gradients and hessians of the loss with respect to
// the raw scores, the initial score, the loss itself (early stopping) and the link to outputs.
//   binary log-loss:  p = sigmoid(s);          g = p - y;           h = p (1 - p)
//   softmax (K):      p = softmax(s);          g_k = p_k - [y = k]; h_k = p_k (1 - p_k)
//   L2 regression:    loss = (s - y)^2 / 2;    g = s - y;           h = 1
import { exp } from './exp.ts';
import type { BoostingObjective } from './params.ts';

const HESS_FLOOR = 1e-16;

export const sigmoid = (s: number): number => 1 / (1 + exp(-s));

/**
 * The softmax's terms e^(s_j - max s) of scores[off .. off+k) into out; returns their sum (the
 * probabilities are out[j] / sum).
 */
function softmaxTerms(scores: ArrayLike<number>, off: number, k: number, out: Float64Array): number {
  let m = -Infinity;
  for (let j = 0; j < k; j++) if (scores[off + j] > m) m = scores[off + j];
  let s = 0;
  for (let j = 0; j < k; j++) {
    out[j] = exp(scores[off + j] - m);
    s += out[j];
  }
  return s;
}

/** In-place softmax of scores[off .. off+k). */
export function softmaxInto(scores: ArrayLike<number>, off: number, k: number, out: Float64Array): void {
  const s = softmaxTerms(scores, off, k, out);
  for (let j = 0; j < k; j++) out[j] /= s;
}

export interface Objective {
  readonly name: BoostingObjective;
  /** Raw scores per row (1, or K for softmax). */
  readonly nOutputs: number;
  /** Initial raw scores from the (weighted) targets. */
  baseScore(y: ArrayLike<number>, w: ArrayLike<number>): number[];
  /**
   * Weighted gradients and hessians of every output for rows [start, end) (default: all), as
   * float32 pairs output-major: gh[2 (k nRows + row)] the gradient, gh[2 (k nRows + row) + 1] the
   * hessian (nRows = y.length; the trees' histograms sum float32 values). y holds class indices
   * (classification) or targets; `scores` is row-major [row * nOutputs + k]; w the row weights.
   */
  gradients(y: ArrayLike<number>, scores: Float64Array, w: ArrayLike<number>, gh: Float32Array, start?: number, end?: number): void;
  /** Weighted mean loss. */
  loss(y: ArrayLike<number>, scores: Float64Array, w: ArrayLike<number>): number;
}

function weightedMean(y: ArrayLike<number>, w: ArrayLike<number>, pred: (v: number) => number): number {
  let s = 0;
  let sw = 0;
  for (let i = 0; i < y.length; i++) {
    s += w[i] * pred(y[i]);
    sw += w[i];
  }
  return sw > 0 ? s / sw : 0;
}

const EPS = 1e-15;

export const binaryLogLoss: Objective = {
  name: 'binary',
  nOutputs: 1,
  baseScore(y, w) {
    const p = Math.min(
      1 - EPS,
      Math.max(
        EPS,
        weightedMean(y, w, (v) => v),
      ),
    );
    return [Math.log(p / (1 - p))];
  },
  gradients(y, scores, w, gh, start = 0, end = y.length) {
    for (let i = start; i < end; i++) {
      const p = sigmoid(scores[i]);
      gh[2 * i] = w[i] * (p - y[i]);
      gh[2 * i + 1] = w[i] * Math.max(p * (1 - p), HESS_FLOOR);
    }
  },
  loss(y, scores, w) {
    let s = 0;
    let sw = 0;
    for (let i = 0; i < y.length; i++) {
      // log(1 + e^s) - y s, computed stably.
      const z = scores[i];
      const l = (z > 0 ? z + Math.log1p(exp(-z)) : Math.log1p(exp(z))) - y[i] * z;
      s += w[i] * l;
      sw += w[i];
    }
    return sw > 0 ? s / sw : 0;
  },
};

export function softmaxObjective(nClasses: number): Objective {
  const K = nClasses;
  const p = new Float64Array(K);
  return {
    name: 'multiclass',
    nOutputs: K,
    baseScore(y, w) {
      const prior = new Float64Array(K);
      let sw = 0;
      for (let i = 0; i < y.length; i++) {
        prior[y[i]] += w[i];
        sw += w[i];
      }
      const logs = Array.from(prior, (c) => Math.log(Math.max(EPS, c / sw)));
      const mean = logs.reduce((a, b) => a + b, 0) / K;
      return logs.map((l) => l - mean);
    },
    gradients(y, scores, w, gh, start = 0, end = y.length) {
      const n = y.length;
      for (let i = start; i < end; i++) {
        const s = softmaxTerms(scores, i * K, K, p);
        const wi = w[i];
        const yi = y[i];
        for (let k = 0; k < K; k++) {
          const pk = p[k] / s;
          const o = 2 * (k * n + i);
          gh[o] = wi * (pk - (yi === k ? 1 : 0));
          gh[o + 1] = wi * Math.max(pk * (1 - pk), HESS_FLOOR);
        }
      }
    },
    loss(y, scores, w) {
      let s = 0;
      let sw = 0;
      for (let i = 0; i < y.length; i++) {
        softmaxInto(scores, i * K, K, p);
        s -= w[i] * Math.log(Math.max(EPS, p[y[i]]));
        sw += w[i];
      }
      return sw > 0 ? s / sw : 0;
    },
  };
}

export const l2Regression: Objective = {
  name: 'regression',
  nOutputs: 1,
  baseScore(y, w) {
    return [weightedMean(y, w, (v) => v)];
  },
  gradients(y, scores, w, gh, start = 0, end = y.length) {
    for (let i = start; i < end; i++) {
      gh[2 * i] = w[i] * (scores[i] - y[i]);
      gh[2 * i + 1] = w[i];
    }
  },
  loss(y, scores, w) {
    let s = 0;
    let sw = 0;
    for (let i = 0; i < y.length; i++) {
      const d = scores[i] - y[i];
      s += (w[i] * d * d) / 2;
      sw += w[i];
    }
    return sw > 0 ? s / sw : 0;
  },
};

export function makeObjective(name: BoostingObjective, nClasses: number): Objective {
  switch (name) {
    case 'binary':
      return binaryLogLoss;
    case 'multiclass':
      return softmaxObjective(nClasses);
    case 'regression':
      return l2Regression;
  }
}
