// Split criteria. Node statistics are a small Float64Array:
//   classification: the weighted count of each class (length K);
//   regression: [sum w, sum w*y, sum w*y^2].
// `proxy` ranks the candidate splits of one node (larger is better) without the constant
// parent term, as scikit-learn's proxy_impurity_improvement does.

export type CriterionName = 'gini' | 'entropy' | 'mse';

export interface Criterion {
  readonly name: CriterionName;
  /** Statistics per node / per histogram bin. */
  readonly nStats: number;
  /** Total sample weight held by stats[off .. off+nStats). */
  weight(stats: Float64Array, off: number): number;
  /** Impurity of a node with these statistics and total weight w. */
  impurity(stats: Float64Array, off: number, w: number): number;
  /** Split quality for left stats `left` (right = total - left). */
  proxy(left: Float64Array, total: Float64Array, wl: number, wr: number): number;
}

class ClassWeightSum {
  readonly nStats: number;
  constructor(nClasses: number) {
    this.nStats = nClasses;
  }
  weight(stats: Float64Array, off: number): number {
    let w = 0;
    for (let k = 0; k < this.nStats; k++) w += stats[off + k];
    return w;
  }
}

export class Gini extends ClassWeightSum implements Criterion {
  readonly name = 'gini' as const;
  impurity(stats: Float64Array, off: number, w: number): number {
    if (w <= 0) return 0;
    let s = 0;
    for (let k = 0; k < this.nStats; k++) {
      const p = stats[off + k] / w;
      s += p * p;
    }
    return 1 - s;
  }
  proxy(left: Float64Array, total: Float64Array, wl: number, wr: number): number {
    let sl = 0;
    let sr = 0;
    for (let k = 0; k < this.nStats; k++) {
      const l = left[k];
      const r = total[k] - l;
      sl += l * l;
      sr += r * r;
    }
    return sl / wl + sr / wr;
  }
}

function xlogx(x: number): number {
  return x > 0 ? x * Math.log(x) : 0;
}

export class Entropy extends ClassWeightSum implements Criterion {
  readonly name = 'entropy' as const;
  impurity(stats: Float64Array, off: number, w: number): number {
    if (w <= 0) return 0;
    let h = 0;
    for (let k = 0; k < this.nStats; k++) {
      const p = stats[off + k] / w;
      if (p > 0) h -= p * Math.log2(p);
    }
    return h;
  }
  proxy(left: Float64Array, total: Float64Array, wl: number, wr: number): number {
    // -(wl*H(left) + wr*H(right)) in nats.
    let s = -xlogx(wl) - xlogx(wr);
    for (let k = 0; k < this.nStats; k++) {
      const l = left[k];
      s += xlogx(l) + xlogx(total[k] - l);
    }
    return s;
  }
}

export class Mse implements Criterion {
  readonly name = 'mse' as const;
  readonly nStats = 3;
  weight(stats: Float64Array, off: number): number {
    return stats[off];
  }
  impurity(stats: Float64Array, off: number, w: number): number {
    if (w <= 0) return 0;
    const mean = stats[off + 1] / w;
    return Math.max(0, stats[off + 2] / w - mean * mean);
  }
  proxy(left: Float64Array, total: Float64Array, wl: number, wr: number): number {
    const l = left[1];
    const r = total[1] - l;
    return (l * l) / wl + (r * r) / wr;
  }
}

export function makeCriterion(name: CriterionName, nClasses: number): Criterion {
  switch (name) {
    case 'gini':
      return new Gini(nClasses);
    case 'entropy':
      return new Entropy(nClasses);
    case 'mse':
      return new Mse();
  }
}
