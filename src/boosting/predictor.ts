// Compiles a BoostingModel for single-row prediction on raw feature values (NaN = missing).
import type { Predictor, Task } from '../forest/types.ts';
import { sigmoid, softmaxInto } from './objective.ts';
import type { BoostedTree, BoostingModel } from './types.ts';

/** Leaf value of `tree` for `row`, routing missing values by the learned default direction. */
export function treeOutput(tree: BoostedTree, row: ArrayLike<number>): number {
  const { feature, threshold, defaultLeft, left, right } = tree;
  let i = 0;
  while (feature[i] >= 0) {
    const x = row[feature[i]];
    i = Number.isNaN(x) ? (defaultLeft[i] === 1 ? left[i] : right[i]) : x < threshold[i] ? left[i] : right[i];
  }
  return tree.value[i];
}

class CompiledBoosting implements Predictor {
  readonly task: Task;
  readonly nFeatures: number;
  readonly classes: readonly number[];
  private readonly model: BoostingModel;
  private readonly K: number;

  constructor(model: BoostingModel) {
    this.model = model;
    this.task = model.task;
    this.nFeatures = model.nFeatures;
    this.classes = [...model.classes];
    this.K = model.nOutputs;
    model.trees.forEach((t, i) => {
      const n = t.feature.length;
      if ([t.threshold, t.defaultLeft, t.left, t.right, t.value].some((a) => a.length !== n)) {
        throw new RangeError(`tree ${i}: arrays of different lengths`);
      }
    });
  }

  /** Raw scores (log-odds, class logits or the regression value). */
  raw(row: ArrayLike<number>): Float64Array {
    const K = this.K;
    const s = Float64Array.from(this.model.baseScore);
    const trees = this.model.trees;
    for (let t = 0; t < trees.length; t++) s[t % K] += treeOutput(trees[t], row);
    return s;
  }

  predictProba(row: ArrayLike<number>): Float64Array {
    if (this.task !== 'classification') throw new Error('predictProba needs a classification model');
    const s = this.raw(row);
    if (this.model.objective === 'binary') {
      const p = sigmoid(s[0]);
      // A single-class training set has one class and one probability.
      return this.classes.length === 1 ? Float64Array.of(1) : Float64Array.of(1 - p, p);
    }
    const out = new Float64Array(this.K);
    softmaxInto(s, 0, this.K, out);
    return out;
  }

  predict(row: ArrayLike<number>): number {
    if (this.task === 'regression') return this.raw(row)[0];
    const p = this.predictProba(row);
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
    return this.classes[best];
  }

  predictVote(row: ArrayLike<number>): number {
    return this.predict(row);
  }
}

export function compileBoosting(model: BoostingModel): Predictor {
  return new CompiledBoosting(model);
}
