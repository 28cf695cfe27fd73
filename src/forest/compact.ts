// Compact trees: an ensemble of decision trees as a few flat typed arrays, the content of the binary
// model format (src/model/compact.ts, docs/MODEL-FORMAT.md). One layout serves a random forest (each
// tree's leaf holds a class distribution or a mean; the ensemble averages them) and gradient boosting
// (each tree's leaf holds a raw score added to one output, e.g. one tree per class per round).
//
// Thresholds are stored once per feature (`splitValues`, sorted) and nodes refer to them by index
// (`bin`): a tree ensemble uses few distinct thresholds per feature (at most 255 for histogram-trained
// trees), so a node is feature (1–2 bytes) + bin (1–2 bytes) + child (4 bytes), and the test
// `x < splitValues[f][bin]` is exact, not a float32 approximation.

import { leafOutputs } from './leaves.ts';
import type { ForestModel, Task, TreeModel } from './types.ts';

export interface CompactTrees {
  task: Task;
  /** 'mean': the prediction is the mean of the trees' leaf vectors (random forest); 'sum': base + their sum (boosting, raw scores). */
  combine: 'mean' | 'sum';
  nFeatures: number;
  /** Width of the prediction vector (classes for classification, 1 for regression). */
  nOutputs: number;
  /** Width of one leaf's value vector: nOutputs for a forest, 1 for per-class boosting trees. */
  leafWidth: number;
  /** Added to the combined leaf values ('sum'); zeros for a forest. Length nOutputs. */
  base: Float64Array;
  /** Per tree, where its leaf vector goes in the prediction vector (0 for a forest, the class for per-class boosting trees). */
  treeOutput: Uint32Array;
  /** Node range of tree t: [treeStart[t], treeStart[t + 1]); the root comes first. Length nTrees + 1. */
  treeStart: Uint32Array;
  /** Split feature of each node; LEAF (the type's maximum) marks a leaf. */
  feature: Uint8Array | Uint16Array;
  /** Split threshold of each node as an index into its feature's `splitValues` (0 for leaves). */
  bin: Uint8Array | Uint16Array | Uint32Array;
  /**
   * Nodes are in depth-first pre-order, so an internal node's left child is the next node. `child` is
   * its right child (relative to the tree's first node); for a leaf, its row in `leafValues`.
   */
  child: Uint32Array;
  /** Distinct thresholds of feature f, ascending: splitValues[splitStart[f] .. splitStart[f + 1]). */
  splitValues: Float64Array;
  splitStart: Uint32Array;
  /** Distinct leaf value vectors (leafWidth numbers each); leaves share equal rows. */
  leafValues: Float64Array;
  /**
   * Per node, 1 where a missing value (NaN) goes left, the direction learned in training; elsewhere
   * NaN goes right. Absent when no node sends it left (e.g. a forest trained without missing values).
   */
  defaultLeft?: Uint8Array;
}

/** The marker of a leaf in `feature`. */
export const leafMarker = (feature: CompactTrees['feature']): number => (feature instanceof Uint8Array ? 0xff : 0xffff);

export const treeCount = (c: CompactTrees): number => c.treeStart.length - 1;

/** One tree in the plain form (ForestModel's TreeModel): absolute thresholds, explicit children, leaves' feature < 0. */
export interface PlainTree {
  feature: ArrayLike<number>;
  threshold: ArrayLike<number>;
  left: ArrayLike<number>;
  right: ArrayLike<number>;
  /** Leaf value vectors (leafWidth each), in node order of the leaves. */
  value: ArrayLike<number>;
  /** Per node, 1 where a missing value goes left (absent: right everywhere). */
  defaultLeft?: ArrayLike<number>;
}

export interface CompactOptions {
  task: Task;
  combine: 'mean' | 'sum';
  nFeatures: number;
  nOutputs: number;
  leafWidth: number;
  base?: ArrayLike<number>;
  /** Per tree (default all 0). */
  treeOutput?: ArrayLike<number>;
}

/**
 * Builds the compact form of any binary trees given with explicit children (e.g. the forest trainer's
 * and a boosting trainer's), renumbering their nodes depth-first. Leaf vectors are stored as given
 * (already normalised), equal ones once.
 */
export function compactTrees(trees: readonly PlainTree[], options: CompactOptions): CompactTrees {
  const { nFeatures, leafWidth } = options;
  if (trees.length === 0) throw new RangeError('no trees');
  if (nFeatures >= 0xffff) throw new RangeError(`at most ${0xffff - 1} features, got ${nFeatures}`);
  // Distinct thresholds per feature.
  const perFeature: Set<number>[] = Array.from({ length: nFeatures }, () => new Set<number>());
  let nNodes = 0;
  for (const [t, tree] of trees.entries()) {
    const n = tree.feature.length;
    for (let i = 0; i < n; i++) {
      const f = tree.feature[i];
      if (f < 0) continue;
      if (f >= nFeatures || !Number.isInteger(f)) throw new RangeError(`tree ${t}: node ${i} splits on feature ${f} of ${nFeatures}`);
      if (!(tree.left[i] > 0 && tree.left[i] < n && tree.right[i] > 0 && tree.right[i] < n))
        throw new RangeError(`tree ${t}: node ${i} has children outside the tree`);
      perFeature[f].add(tree.threshold[i]);
    }
    nNodes += n;
  }
  const splitStart = new Uint32Array(nFeatures + 1);
  const sorted = perFeature.map((s) => Float64Array.from(s).sort());
  sorted.forEach((s, f) => {
    splitStart[f + 1] = splitStart[f] + s.length;
  });
  const splitValues = new Float64Array(splitStart[nFeatures]);
  for (const [f, s] of sorted.entries()) splitValues.set(s, splitStart[f]);
  const binOf = sorted.map((s) => new Map(Array.from(s, (v, k) => [v, k])));
  const maxBins = Math.max(1, ...sorted.map((s) => s.length));

  const feature = nFeatures < 0xff ? new Uint8Array(nNodes) : new Uint16Array(nNodes);
  const leaf = leafMarker(feature);
  const bin = maxBins <= 0x100 ? new Uint8Array(nNodes) : maxBins <= 0x10000 ? new Uint16Array(nNodes) : new Uint32Array(nNodes);
  const child = new Uint32Array(nNodes);
  const defaultLeft = new Uint8Array(nNodes);
  let anyDefaultLeft = false;
  const treeStart = new Uint32Array(trees.length + 1);
  // Equal leaf vectors are stored once (a full-depth forest's leaves are mostly pure: a few distinct vectors).
  const distinct = new LeafTable(leafWidth);
  let g = 0;
  for (const [t, tree] of trees.entries()) {
    treeStart[t] = g;
    const n = tree.feature.length;
    // Leaf vectors are in node order of the leaves: rank them first.
    const leafRank = new Int32Array(n);
    let leaves = 0;
    for (let i = 0; i < n; i++) if (tree.feature[i] < 0) leafRank[i] = leaves++;
    if (leaves * leafWidth !== tree.value.length) throw new RangeError(`tree ${t}: value has the wrong length`);
    if (tree.defaultLeft && tree.defaultLeft.length !== n) throw new RangeError(`tree ${t}: defaultLeft has the wrong length`);
    // Depth-first pre-order; a right child, when reached, tells its parent where it went.
    const stack: number[] = [0, -1];
    let emitted = 0;
    while (stack.length > 0) {
      const parent = stack.pop() as number;
      const i = stack.pop() as number;
      if (++emitted > n) throw new RangeError(`tree ${t}: a node is reached twice`);
      if (parent >= 0) child[parent] = g - treeStart[t];
      const f = tree.feature[i];
      if (f >= 0) {
        feature[g] = f;
        bin[g] = binOf[f].get(tree.threshold[i]) as number;
        if (tree.defaultLeft?.[i] === 1) {
          defaultLeft[g] = 1;
          anyDefaultLeft = true;
        }
        stack.push(tree.right[i], g, tree.left[i], -1);
      } else {
        feature[g] = leaf;
        child[g] = distinct.add(tree.value, leafRank[i] * leafWidth);
      }
      g++;
    }
    if (emitted !== n) throw new RangeError(`tree ${t}: ${n - emitted} nodes are not reachable from the root`);
  }
  treeStart[trees.length] = g;
  const treeOutput = Uint32Array.from(options.treeOutput ?? new Array<number>(trees.length).fill(0));
  if (treeOutput.length !== trees.length || treeOutput.some((o) => o + leafWidth > options.nOutputs)) {
    throw new RangeError('treeOutput must give each tree an output slot that fits nOutputs');
  }
  return {
    task: options.task,
    combine: options.combine,
    nFeatures,
    nOutputs: options.nOutputs,
    leafWidth,
    base: Float64Array.from(options.base ?? new Array<number>(options.nOutputs).fill(0)),
    treeOutput,
    treeStart,
    feature,
    bin,
    child,
    splitValues,
    splitStart,
    leafValues: distinct.values(),
    ...(anyDefaultLeft ? { defaultLeft } : {}),
  };
}

/** Distinct leaf vectors: an open-addressing hash set over their bits, giving each its row. */
class LeafTable {
  private readonly width: number;
  private data = new Float64Array(1024);
  private slots = new Int32Array(1024).fill(-1);
  private size = 0;
  private readonly probe = new Float64Array(1);
  private readonly probeBits = new Uint32Array(this.probe.buffer);

  constructor(width: number) {
    this.width = width;
  }

  /** The row of the vector source[at .. at + width), added if new. */
  add(source: ArrayLike<number>, at: number): number {
    const w = this.width;
    let h = 0x811c9dc5;
    for (let k = 0; k < w; k++) {
      // -0 and 0 are equal leaf values: hash them alike.
      this.probe[0] = source[at + k] + 0;
      h = Math.imul(h ^ this.probeBits[0], 0x01000193);
      h = Math.imul(h ^ this.probeBits[1], 0x01000193);
    }
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const row = this.slots[s];
      if (row < 0) {
        if ((this.size + 1) * w > this.data.length) this.grow(this.data.length * 2);
        for (let k = 0; k < w; k++) this.data[this.size * w + k] = source[at + k];
        this.slots[s] = this.size;
        if (++this.size * 2 > this.slots.length) this.rehash();
        return this.size - 1;
      }
      let same = true;
      for (let k = 0; k < w && same; k++) same = this.data[row * w + k] === source[at + k];
      if (same) return row;
    }
  }

  values(): Float64Array {
    return this.data.slice(0, this.size * this.width);
  }

  private grow(length: number): void {
    const data = new Float64Array(length);
    data.set(this.data);
    this.data = data;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    const w = this.width;
    for (let row = 0; row < this.size; row++) {
      let h = 0x811c9dc5;
      for (let k = 0; k < w; k++) {
        this.probe[0] = this.data[row * w + k] + 0;
        h = Math.imul(h ^ this.probeBits[0], 0x01000193);
        h = Math.imul(h ^ this.probeBits[1], 0x01000193);
      }
      let s = h & mask;
      while (slots[s] >= 0) s = (s + 1) & mask;
      slots[s] = row;
    }
    this.slots = slots;
  }
}

/** A trained random forest in compact form; leaf class counts become the probabilities predict uses. */
export function compactForest(model: ForestModel): CompactTrees {
  const classification = model.task === 'classification';
  const nOut = model.nOutputs;
  return compactTrees(
    model.trees.map((t) => ({ ...t, value: leafOutputs(t.value, nOut, classification) })),
    { task: model.task, combine: 'mean', nFeatures: model.nFeatures, nOutputs: nOut, leafWidth: nOut },
  );
}

/** Back to plain trees (absolute thresholds, explicit children, leaf vectors): for exports such as ml-random-forest's JSON. */
export function plainTrees(c: CompactTrees): TreeModel[] {
  const leaf = leafMarker(c.feature);
  const out: TreeModel[] = [];
  for (let t = 0; t < treeCount(c); t++) {
    const start = c.treeStart[t];
    const n = c.treeStart[t + 1] - start;
    const tree: TreeModel = {
      feature: new Array<number>(n),
      threshold: new Array<number>(n),
      left: new Array<number>(n),
      right: new Array<number>(n),
      value: [] as number[],
    };
    if (c.defaultLeft) tree.defaultLeft = Array.from(c.defaultLeft.subarray(start, start + n));
    for (let i = 0; i < n; i++) {
      const g = start + i;
      const f = c.feature[g];
      if (f === leaf) {
        tree.feature[i] = -1;
        tree.threshold[i] = 0;
        tree.left[i] = -1;
        tree.right[i] = -1;
        const row = c.child[g] * c.leafWidth;
        for (let k = 0; k < c.leafWidth; k++) tree.value.push(c.leafValues[row + k]);
      } else {
        tree.feature[i] = f;
        tree.threshold[i] = c.splitValues[c.splitStart[f] + c.bin[g]];
        tree.left[i] = i + 1;
        tree.right[i] = c.child[g];
      }
    }
    out.push(tree);
  }
  return out;
}

/**
 * Checks that every index in the arrays stays in range, so a predictor can walk the trees without
 * bounds checks (a corrupt or hand-made file must fail here, not loop or read garbage). Throws RangeError.
 */
export function validateCompact(c: CompactTrees): void {
  const nTrees = c.treeStart.length - 1;
  const nNodes = c.feature.length;
  const fail = (what: string): never => {
    throw new RangeError(`compact trees: ${what}`);
  };
  if (nTrees < 1) fail('no trees');
  if (c.bin.length !== nNodes || c.child.length !== nNodes) fail('feature, bin and child differ in length');
  if (c.defaultLeft && (c.defaultLeft.length !== nNodes || c.defaultLeft.some((d) => d > 1))) fail('defaultLeft needs one 0 or 1 per node');
  if (c.treeStart[0] !== 0 || c.treeStart[nTrees] !== nNodes) fail('treeStart does not cover the nodes');
  if (c.treeOutput.length !== nTrees) fail('treeOutput needs one entry per tree');
  if (c.base.length !== c.nOutputs) fail('base needs nOutputs entries');
  if (c.splitStart.length !== c.nFeatures + 1 || c.splitStart[0] !== 0 || c.splitStart[c.nFeatures] !== c.splitValues.length)
    fail('splitStart does not cover splitValues');
  if (c.leafWidth < 1 || c.leafValues.length % c.leafWidth !== 0) fail('leafValues is not a whole number of leaf vectors');
  const nLeafRows = c.leafValues.length / c.leafWidth;
  const leaf = leafMarker(c.feature);
  // Locals, not c's fields, in the node loop: it runs over millions of nodes at every model load.
  const { feature, bin, child, treeStart, splitStart, nFeatures } = c;
  for (let t = 0; t < nTrees; t++) {
    const start = treeStart[t];
    const n = treeStart[t + 1] - start;
    if (!(treeStart[t + 1] > start)) fail(`tree ${t} is empty`);
    if (c.treeOutput[t] + c.leafWidth > c.nOutputs) fail(`tree ${t} writes past the outputs`);
    for (let i = 0; i < n; i++) {
      const g = start + i;
      const f = feature[g];
      if (f === leaf) {
        if (child[g] >= nLeafRows) fail(`tree ${t} node ${i}: leaf value ${child[g]} out of range`);
        continue;
      }
      if (f >= nFeatures) fail(`tree ${t} node ${i}: feature ${f} out of range`);
      if (bin[g] >= splitStart[f + 1] - splitStart[f]) fail(`tree ${t} node ${i}: threshold index out of range`);
      // Children after their parent (left = i + 1): every walk moves forward and ends at a leaf of its tree.
      if (!(i + 1 < n && child[g] > i + 1 && child[g] < n)) fail(`tree ${t} node ${i}: children out of range`);
    }
  }
  for (let f = 0; f < c.nFeatures; f++) {
    for (let k = c.splitStart[f] + 1; k < c.splitStart[f + 1]; k++)
      if (!(c.splitValues[k] > c.splitValues[k - 1])) fail(`feature ${f}: thresholds not ascending`);
  }
}
