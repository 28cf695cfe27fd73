// Compiles a ForestModel into one flat node table for fast single-row prediction.
// A node is 16 bytes (threshold f64, feature i32, left-child i32) and siblings are adjacent
// (right = left + 1, as the trainer numbers them), so each level costs about one cache line.
// Leaves have feature -1 and keep their output offset in the `left` slot.

import { leafOutputs } from './leaves.ts';
import type { ForestModel, Predictor, Task } from './types.ts';

class CompiledForest implements Predictor {
  readonly task: Task;
  readonly nFeatures: number;
  readonly classes: readonly number[];
  private readonly nOut: number;
  private readonly nTrees: number;
  private readonly roots: Int32Array;
  /** thr[2 * node] is the threshold; ints[4 * node + 2] the feature, ints[4 * node + 3] the left child. */
  private readonly thr: Float64Array;
  private readonly ints: Int32Array;
  /** 1 where a missing value goes left (per global node). */
  private readonly defLeft: Uint8Array;
  private readonly leafVal: Float64Array;
  private readonly leafArg: Int32Array;
  private readonly votes: Int32Array;

  constructor(model: ForestModel) {
    const classification = model.task === 'classification';
    this.task = model.task;
    this.nFeatures = model.nFeatures;
    this.classes = [...model.classes];
    const nOut = model.nOutputs;
    this.nOut = nOut;
    this.nTrees = model.trees.length;
    if (this.nTrees === 0) throw new RangeError('model has no trees');
    let nNodes = 0;
    let nLeaves = 0;
    for (const t of model.trees) {
      nNodes += t.feature.length;
      for (const f of t.feature) if (f < 0) nLeaves++;
    }
    const buffer = new ArrayBuffer(nNodes * 16);
    this.thr = new Float64Array(buffer);
    this.ints = new Int32Array(buffer);
    this.roots = new Int32Array(this.nTrees);
    this.defLeft = new Uint8Array(nNodes);
    this.leafVal = new Float64Array(nLeaves * nOut);
    this.leafArg = new Int32Array(nLeaves);
    this.votes = new Int32Array(classification ? nOut : 0);

    let nodeBase = 0;
    let leafBase = 0;
    model.trees.forEach((tree, t) => {
      const n = tree.feature.length;
      let leaf = leafBase;
      for (let i = 0; i < n; i++) {
        const g = nodeBase + i;
        const f = tree.feature[i];
        if (f >= 0) {
          if (tree.right[i] !== tree.left[i] + 1) throw new RangeError(`tree ${t}: children of node ${i} are not adjacent`);
          this.thr[2 * g] = tree.threshold[i];
          this.ints[4 * g + 2] = f;
          this.ints[4 * g + 3] = nodeBase + tree.left[i];
          if (tree.defaultLeft?.[i] === 1) this.defLeft[g] = 1;
        } else {
          this.ints[4 * g + 2] = -1;
          this.ints[4 * g + 3] = leaf++;
        }
      }
      if (tree.defaultLeft && tree.defaultLeft.length !== n) throw new RangeError(`tree ${t}: defaultLeft has the wrong length`);
      if (tree.value.length !== (leaf - leafBase) * nOut) throw new RangeError(`tree ${t}: value has the wrong length`);
      this.roots[t] = nodeBase;
      this.leafVal.set(leafOutputs(tree.value, nOut, classification), leafBase * nOut);
      if (classification) {
        // Argmax of the raw counts (first maximum), as ml-cart's maxRowIndex.
        for (let l = 0; l < leaf - leafBase; l++) {
          let best = 0;
          for (let k = 1; k < nOut; k++) if (tree.value[l * nOut + k] > tree.value[l * nOut + best]) best = k;
          this.leafArg[leafBase + l] = best;
        }
      }
      nodeBase += n;
      leafBase = leaf;
    });
  }

  /** Leaf (global leaf index) reached by `row` in tree t. */
  private leaf(t: number, row: ArrayLike<number>): number {
    const thr = this.thr;
    const ints = this.ints;
    let i = this.roots[t];
    let f = ints[4 * i + 2];
    while (f >= 0) {
      const x = row[f];
      // NaN fails x < thr: it goes right unless the node learned to send it left.
      i = ints[4 * i + 3] + (x < thr[2 * i] ? 0 : Number.isNaN(x) ? 1 - this.defLeft[i] : 1);
      f = ints[4 * i + 2];
    }
    return ints[4 * i + 3];
  }

  predictProba(row: ArrayLike<number>): Float64Array {
    if (this.task !== 'classification') throw new Error('predictProba needs a classification model');
    const nOut = this.nOut;
    const acc = new Float64Array(nOut);
    const val = this.leafVal;
    for (let t = 0; t < this.nTrees; t++) {
      const base = this.leaf(t, row) * nOut;
      for (let k = 0; k < nOut; k++) acc[k] += val[base + k];
    }
    for (let k = 0; k < nOut; k++) acc[k] /= this.nTrees;
    return acc;
  }

  predict(row: ArrayLike<number>): number {
    if (this.task === 'regression') {
      let s = 0;
      for (let t = 0; t < this.nTrees; t++) s += this.leafVal[this.leaf(t, row)];
      return s / this.nTrees;
    }
    const p = this.predictProba(row);
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k] > p[best]) best = k;
    return this.classes[best];
  }

  predictVote(row: ArrayLike<number>): number {
    if (this.task === 'regression') return this.predict(row);
    // ml-array-mode: the first value whose count exceeds the running maximum wins.
    const votes = this.votes;
    votes.fill(0);
    let maxCount = 0;
    let winner = 0;
    for (let t = 0; t < this.nTrees; t++) {
      const k = this.leafArg[this.leaf(t, row)];
      const c = ++votes[k];
      if (c > maxCount) {
        maxCount = c;
        winner = k;
      }
    }
    return this.classes[winner];
  }
}

export function compilePredictor(model: ForestModel): Predictor {
  return new CompiledForest(model);
}
