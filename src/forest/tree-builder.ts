// Grows one tree (depth-first, with an explicit stack) over the shared binned data.
// Rows of the current node are a contiguous range of `idx`, partitioned in place (stably, so
// each node reads its bin columns in ascending row order). Everything a tree needs comes from
// (data, config, tree index), so a tree is the same whichever thread grows it.

import type { BinnedColumns } from './bins.ts';
import { makeCriterion, type Criterion, type CriterionName } from './criterion.ts';
import { Rng, treeSeed } from './rng.ts';
import { SplitRecord, Splitter, type FeatureDraw, type NodeSamples, type SplitNode } from './splitter.ts';

/**
 * The binned data (bins usually backed by a SharedArrayBuffer; the row-major copy serves scattered
 * small-node access) plus what the trees need besides.
 */
export interface TreeData extends BinnedColumns {
  /** Bin thresholds of feature f: edges[edgeOff[f] .. edgeOff[f+1]). */
  edges: Float64Array;
  edgeOff: Int32Array;
  /** Number of classes; 0 for regression. */
  nClasses: number;
  /** Class index per row (classification). */
  yClass: Int32Array | null;
  /** Target per row (regression). */
  yValue: Float64Array | null;
}

export interface TreeConfig {
  criterion: CriterionName;
  maxDepth: number;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  mtry: number;
  bootstrap: boolean;
  oob: boolean;
  seed: number;
  /** Nodes with at least this many rows keep their histograms for the subtraction trick. */
  histMinRows: number;
}

export interface TreeResult {
  index: number;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** 1 where a missing value goes left (learned from training rows with missing values). */
  defaultLeft: Uint8Array;
  /** Leaf outputs in node-id order (nOutputs per leaf). */
  value: Float64Array;
  /** Unnormalized impurity decrease per feature. */
  importances: Float64Array;
  /** Out-of-bag rows and the leaf (rank among leaves) each one lands in. */
  oobRows: Uint32Array;
  oobLeaf: Int32Array;
}

const IMPURITY_EPS = 1e-12;

/** A longer copy of a typed array (the rest zero). */
function grown<A extends Int32Array<ArrayBuffer> | Float64Array<ArrayBuffer> | Uint8Array<ArrayBuffer>>(a: A, length: number, make: (n: number) => A): A {
  const b = make(length);
  b.set(a);
  return b;
}

/**
 * Grows trees one at a time (reusable across trees of one forest). Names: `node*` arrays are per
 * tree node (indexed by node id), `stack*` arrays per pending node on the depth-first stack;
 * `n*` are counts (nRows, nBins, nStats).
 */
export class TreeBuilder {
  private readonly data: TreeData;
  private readonly cfg: TreeConfig;
  private readonly criterion: Criterion;
  private readonly splitter: Splitter;
  private readonly classification: boolean;
  private readonly nStats: number;
  private readonly nOutputs: number;
  private readonly nFeatures: number;

  /** Bootstrap count per row (its sample weight); 0 for an out-of-bag row. */
  private readonly rowCounts: Uint32Array;
  /** The tree's rows, partitioned in place so each node's rows are one range; shared with the splitter. */
  private readonly samples: NodeSamples;
  /** Scratch of the stable partition (its right side). */
  private readonly spill: NodeSamples;

  // Pending nodes on the depth-first stack (parallel arrays, one slot per node).
  private stackCapacity = 0;
  private stackStart = new Int32Array(0);
  private stackEnd = new Int32Array(0);
  private stackDepth = new Int32Array(0);
  private stackNode = new Int32Array(0);
  /** Pooled histogram buffer of the node (-1: none yet). */
  private stackHistogram = new Int32Array(0);
  /** Candidate features: stackOrder[slot * nFeatures ..][0 .. stackDrawLength), the first stackDrawn drawn. */
  private stackDrawLength = new Int32Array(0);
  private stackDrawn = new Int32Array(0);
  private stackOrder = new Int32Array(0);
  private stackConstant = new Uint8Array(0);
  private stackStats = new Float64Array(0);

  // The node being split.
  private readonly node: SplitNode;
  private readonly draw: FeatureDraw;
  private readonly best: SplitRecord;
  private readonly rightStats: Float64Array;
  private readonly allFeatures: Int32Array;

  // The tree grown so far, per node id.
  private nodeCapacity = 0;
  private nodeCount = 0;
  private nodeFeature = new Int32Array(0);
  private nodeThreshold = new Float64Array(0);
  /** Last bin of the feature that goes left. */
  private nodeBin = new Int32Array(0);
  private nodeLeft = new Int32Array(0);
  private nodeRight = new Int32Array(0);
  private nodeDefaultLeft = new Uint8Array(0);
  /** nOutputs values per node (leaves only). */
  private nodeValue = new Float64Array(0);

  constructor(data: TreeData, cfg: TreeConfig) {
    this.data = data;
    this.cfg = cfg;
    this.classification = data.nClasses > 0;
    this.criterion = makeCriterion(cfg.criterion, data.nClasses);
    this.nStats = this.criterion.nStats;
    this.nOutputs = this.classification ? data.nClasses : 1;
    this.nFeatures = data.nFeatures;
    const n = data.nRows;
    const samples = (): NodeSamples => ({
      index: new Int32Array(n),
      classIndex: new Int32Array(this.classification ? n : 0),
      target: new Float64Array(this.classification ? 0 : n),
      weight: new Float64Array(n),
    });
    this.rowCounts = new Uint32Array(n);
    this.samples = samples();
    this.spill = samples();
    this.splitter = new Splitter(data, this.samples, this.criterion, this.classification, cfg.minSamplesLeaf, cfg.mtry);
    this.node = { start: 0, end: 0, stats: new Float64Array(this.nStats), weight: 0, histogram: -1, keepHistograms: false };
    this.draw = { order: new Int32Array(this.nFeatures), length: 0, drawn: 0, constant: new Uint8Array(this.nFeatures) };
    this.best = new SplitRecord(this.nStats);
    this.rightStats = new Float64Array(this.nStats);
    this.allFeatures = Int32Array.from({ length: this.nFeatures }, (_, f) => f);
    this.growStack(64);
    this.growNodes(1024);
  }

  build(treeIndex: number): TreeResult {
    const rng = new Rng(treeSeed(this.cfg.seed, treeIndex));
    const importances = new Float64Array(this.nFeatures);
    this.pushRoot(this.drawSamples(rng), rng);
    for (let top = 1; top > 0; ) {
      top--;
      if (this.findNodeSplit(top, rng)) {
        this.splitNode(top, importances, rng);
        top += 2;
      } else {
        this.makeLeaf(this.stackNode[top], this.node.stats, this.node.weight);
        this.splitter.release(this.node.histogram);
      }
    }
    return this.finish(treeIndex, importances);
  }

  /**
   * Draws the bootstrap as per-row counts (sample weights, like scikit-learn), lays the drawn rows
   * out as the samples and sums the root's statistics into node.stats; returns the number of rows.
   */
  private drawSamples(rng: Rng): number {
    const N = this.data.nRows;
    const counts = this.rowCounts;
    if (this.cfg.bootstrap) {
      counts.fill(0);
      for (let i = 0; i < N; i++) counts[rng.int(N)]++;
    } else {
      counts.fill(1);
    }
    const { index, classIndex, target, weight } = this.samples;
    const root = this.node.stats;
    root.fill(0);
    let m = 0;
    for (let r = 0; r < N; r++) {
      const c = counts[r];
      if (c === 0) continue;
      index[m] = r;
      weight[m] = c;
      if (this.classification) {
        const k = this.data.yClass![r];
        classIndex[m] = k;
        root[k] += c;
      } else {
        const y = this.data.yValue![r];
        target[m] = y;
        root[0] += c;
        root[1] += c * y;
        root[2] += c * y * y;
      }
      m++;
    }
    return m;
  }

  /** Node 0 over rows [0, nSamples), with the statistics drawSamples left in node.stats. */
  private pushRoot(nSamples: number, rng: Rng): void {
    const crit = this.criterion;
    const root = this.node.stats;
    this.nodeCount = 1;
    this.draw.constant.fill(0);
    const impurity = crit.impurity(root, 0, crit.weight(root, 0));
    this.pushNode(0, 0, nSamples, 0, 0, root, this.canSplit(nSamples, 0, impurity), rng);
    // The root draws lazily like every other node.
    this.stackDrawn[0] = 0;
  }

  /** Pops stack slot `slot` into this.node and this.draw and looks for its best split (into this.best). */
  private findNodeSplit(slot: number, rng: Rng): boolean {
    const crit = this.criterion;
    const node = this.node;
    const p = this.nFeatures;
    node.start = this.stackStart[slot];
    node.end = this.stackEnd[slot];
    node.histogram = this.stackHistogram[slot];
    node.stats.set(this.stackStats.subarray(slot * this.nStats, (slot + 1) * this.nStats));
    node.weight = crit.weight(node.stats, 0);
    const n = node.end - node.start;
    const drawLength = this.stackDrawLength[slot];
    if (drawLength === 0 || !this.canSplit(n, this.stackDepth[slot], crit.impurity(node.stats, 0, node.weight))) return false;
    node.keepHistograms = n >= this.cfg.histMinRows;
    const draw = this.draw;
    draw.order.set(this.stackOrder.subarray(slot * p, slot * p + drawLength));
    draw.constant.set(this.stackConstant.subarray(slot * p, slot * p + p));
    draw.length = drawLength;
    draw.drawn = this.stackDrawn[slot];
    return this.splitter.findSplit(node, draw, rng, this.best);
  }

  /**
   * Applies this.best to the node popped from `slot`: partitions its rows, records the split and
   * its impurity decrease, pushes both children (left on top) into slots `slot` and `slot + 1`,
   * and hands the larger child the histograms it can get by subtraction.
   */
  private splitNode(slot: number, importances: Float64Array, rng: Rng): void {
    const data = this.data;
    const crit = this.criterion;
    const { start, end, stats, weight } = this.node;
    const best = this.best;
    const id = this.stackNode[slot];
    const depth = this.stackDepth[slot];
    const f = best.feature;
    const mb = data.missingBin[f];
    // "Every value left, missing right" has no edge to choose: the last value bin, threshold +max.
    const e = best.nextBin === mb ? mb - 1 : this.chooseEdge(f, best.bin, best.nextBin);
    const mid = this.partition(start, end, f, e, best.missingLeft ? mb : -1);
    const left = best.leftStats;
    const right = this.rightStats;
    for (let k = 0; k < this.nStats; k++) right[k] = stats[k] - left[k];
    const wl = crit.weight(left, 0);
    const wr = crit.weight(right, 0);
    const impL = crit.impurity(left, 0, wl);
    const impR = crit.impurity(right, 0, wr);
    importances[f] += weight * crit.impurity(stats, 0, weight) - wl * impL - wr * impR;

    const [leftId, rightId] = this.recordSplit(id, f, e, best.missingLeft);
    if (slot + 2 > this.stackCapacity) this.growStack(this.stackCapacity * 2);
    // Right below left on the stack: the left subtree is grown first. Children draw from all
    // features; the constants they inherit are skipped for free when drawn.
    this.pushNode(slot, mid, end, depth + 1, rightId, right, this.canSplit(end - mid, depth + 1, impR), rng);
    this.pushNode(slot + 1, start, mid, depth + 1, leftId, left, this.canSplit(mid - start, depth + 1, impL), rng);
    if (this.node.histogram >= 0) {
      const leftIsBigger = mid - start >= end - mid;
      this.subtractForLargerChild(leftIsBigger ? slot + 1 : slot, leftIsBigger ? slot : slot + 1, this.node.histogram, end - start);
      this.splitter.release(this.node.histogram);
    }
  }

  /** Makes node `id` an internal node on bin edge `e` of feature f; returns its children's ids. */
  private recordSplit(id: number, f: number, e: number, missingLeft: boolean): [number, number] {
    if (this.nodeCount + 2 > this.nodeCapacity) this.growNodes(this.nodeCapacity * 2);
    const leftId = this.nodeCount++;
    const rightId = this.nodeCount++;
    const nEdges = this.data.edgeOff[f + 1] - this.data.edgeOff[f];
    this.nodeFeature[id] = f;
    this.nodeBin[id] = e;
    this.nodeThreshold[id] = e < nEdges ? this.data.edges[this.data.edgeOff[f] + e] : Number.MAX_VALUE;
    this.nodeDefaultLeft[id] = missingLeft ? 1 : 0;
    this.nodeLeft[id] = leftId;
    this.nodeRight[id] = rightId;
    return [leftId, rightId];
  }

  /**
   * The subtraction trick: for the larger child's first drawn features that the parent has
   * histograms of, build the smaller child's histogram and get the larger one's as parent - smaller,
   * when that is cheaper than scanning the larger child's rows.
   */
  private subtractForLargerChild(big: number, small: number, parentHistogram: number, nParent: number): void {
    const splitter = this.splitter;
    const p = this.nFeatures;
    const S = this.nStats;
    const nBig = this.stackEnd[big] - this.stackStart[big];
    const nSmall = nParent - nBig;
    const C = splitter.channels;
    for (let j = 0, d = this.stackDrawn[big]; j < d; j++) {
      const g = this.stackOrder[big * p + j];
      if (!splitter.hasFeature(parentHistogram, g)) continue;
      const cost = (splitter.hasFeature(this.stackHistogram[small], g) ? 0 : nSmall) + this.data.nBins[g] * C;
      if (cost >= nBig) continue;
      if (this.stackHistogram[small] < 0) this.stackHistogram[small] = splitter.acquire();
      if (this.stackHistogram[big] < 0) this.stackHistogram[big] = splitter.acquire();
      if (!splitter.hasFeature(this.stackHistogram[small], g)) {
        splitter.buildInto(this.stackHistogram[small], g, this.stackStart[small], this.stackEnd[small], this.stackStats.subarray(small * S, small * S + S));
      }
      splitter.subtractInto(this.stackHistogram[big], parentHistogram, this.stackHistogram[small], g);
    }
  }

  /**
   * Writes a pending node into stack slot `slot`; if it may split, it gets all features as
   * candidates (with the constants known so far, this.draw.constant) and draws its first mtry.
   */
  private pushNode(slot: number, start: number, end: number, depth: number, id: number, stats: Float64Array, splittable: boolean, rng: Rng): void {
    const p = this.nFeatures;
    this.stackStart[slot] = start;
    this.stackEnd[slot] = end;
    this.stackDepth[slot] = depth;
    this.stackNode[slot] = id;
    this.stackHistogram[slot] = -1;
    this.stackStats.set(stats, slot * this.nStats);
    if (!splittable) {
      this.stackDrawLength[slot] = 0;
      this.stackDrawn[slot] = 0;
      return;
    }
    const order = this.stackOrder;
    const off = slot * p;
    order.set(this.allFeatures, off);
    this.stackConstant.set(this.draw.constant, off);
    const d = Math.min(this.cfg.mtry, p);
    for (let j = 0; j < d; j++) {
      const r = j + rng.int(p - j);
      const tmp = order[off + j];
      order[off + j] = order[off + r];
      order[off + r] = tmp;
    }
    this.stackDrawLength[slot] = p;
    this.stackDrawn[slot] = d;
  }

  private growStack(capacity: number): void {
    const p = this.nFeatures;
    const i32 = (n: number) => new Int32Array(n);
    this.stackStart = grown(this.stackStart, capacity, i32);
    this.stackEnd = grown(this.stackEnd, capacity, i32);
    this.stackDepth = grown(this.stackDepth, capacity, i32);
    this.stackNode = grown(this.stackNode, capacity, i32);
    this.stackHistogram = grown(this.stackHistogram, capacity, i32);
    this.stackDrawLength = grown(this.stackDrawLength, capacity, i32);
    this.stackDrawn = grown(this.stackDrawn, capacity, i32);
    this.stackOrder = grown(this.stackOrder, capacity * p, i32);
    this.stackStats = grown(this.stackStats, capacity * this.nStats, (n) => new Float64Array(n));
    this.stackConstant = grown(this.stackConstant, capacity * p, (n) => new Uint8Array(n));
    this.stackCapacity = capacity;
  }

  private growNodes(capacity: number): void {
    const i32 = (n: number) => new Int32Array(n);
    const f64 = (n: number) => new Float64Array(n);
    this.nodeFeature = grown(this.nodeFeature, capacity, i32);
    this.nodeThreshold = grown(this.nodeThreshold, capacity, f64);
    this.nodeBin = grown(this.nodeBin, capacity, i32);
    this.nodeLeft = grown(this.nodeLeft, capacity, i32);
    this.nodeRight = grown(this.nodeRight, capacity, i32);
    this.nodeDefaultLeft = grown(this.nodeDefaultLeft, capacity, (n) => new Uint8Array(n));
    this.nodeValue = grown(this.nodeValue, capacity * this.nOutputs, f64);
    this.nodeCapacity = capacity;
  }

  private canSplit(n: number, depth: number, impurity: number): boolean {
    const c = this.cfg;
    return n >= c.minSamplesSplit && n >= 2 * c.minSamplesLeaf && depth < c.maxDepth && impurity > IMPURITY_EPS;
  }

  /** Picks the bin edge between two occupied bins that lies closest to their middle. */
  private chooseEdge(f: number, bin: number, nextBin: number): number {
    const E = this.data.edges;
    const base = this.data.edgeOff[f];
    let lo = bin;
    let hi = nextBin - 1;
    if (lo >= hi) return lo;
    const target = (E[base + lo] + E[base + hi]) / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (E[base + mid] < target) lo = mid + 1;
      else hi = mid;
    }
    if (lo > bin && target - E[base + lo - 1] <= E[base + lo] - target) return lo - 1;
    return lo;
  }

  /**
   * Stable in-place partition of [start, end) on bin <= e (or bin = missingLeft, the missing bin
   * when missing values go left, else -1); returns the first right position.
   */
  private partition(start: number, end: number, f: number, e: number, missingLeft: number): number {
    // Large nodes stream the split column; small ones use the row-major copy they just read.
    const byColumn = end - start >= this.cfg.histMinRows;
    const bins = byColumn ? this.data.bins : this.data.rowBins;
    const stride = byColumn ? 1 : this.nFeatures;
    const col = byColumn ? f * this.data.nRows : f;
    const { index: idx, weight: wt } = this.samples;
    const { index: tIdx, weight: tWt } = this.spill;
    let l = start;
    let r = 0;
    if (this.classification) {
      const cls = this.samples.classIndex;
      const tCls = this.spill.classIndex;
      for (let i = start; i < end; i++) {
        const row = idx[i];
        const b = bins[row * stride + col];
        if (b <= e || b === missingLeft) {
          idx[l] = row;
          cls[l] = cls[i];
          wt[l] = wt[i];
          l++;
        } else {
          tIdx[r] = row;
          tCls[r] = cls[i];
          tWt[r] = wt[i];
          r++;
        }
      }
      cls.set(tCls.subarray(0, r), l);
    } else {
      const yv = this.samples.target;
      const tYv = this.spill.target;
      for (let i = start; i < end; i++) {
        const row = idx[i];
        const b = bins[row * stride + col];
        if (b <= e || b === missingLeft) {
          idx[l] = row;
          yv[l] = yv[i];
          wt[l] = wt[i];
          l++;
        } else {
          tIdx[r] = row;
          tYv[r] = yv[i];
          tWt[r] = wt[i];
          r++;
        }
      }
      yv.set(tYv.subarray(0, r), l);
    }
    idx.set(tIdx.subarray(0, r), l);
    wt.set(tWt.subarray(0, r), l);
    return l;
  }

  private makeLeaf(id: number, stats: Float64Array, w: number): void {
    this.nodeFeature[id] = -1;
    this.nodeLeft[id] = -1;
    this.nodeRight[id] = -1;
    this.nodeThreshold[id] = 0;
    this.nodeDefaultLeft[id] = 0;
    if (this.classification) {
      this.nodeValue.set(stats, id * this.nOutputs);
    } else {
      this.nodeValue[id] = w > 0 ? stats[1] / w : 0;
    }
  }

  private finish(treeIndex: number, importances: Float64Array): TreeResult {
    const nNodes = this.nodeCount;
    const nOut = this.nOutputs;
    const leafRank = new Int32Array(nNodes);
    let nLeaves = 0;
    for (let i = 0; i < nNodes; i++) if (this.nodeFeature[i] < 0) leafRank[i] = nLeaves++;
    const value = new Float64Array(nLeaves * nOut);
    for (let i = 0; i < nNodes; i++) {
      if (this.nodeFeature[i] >= 0) continue;
      const r = leafRank[i];
      for (let k = 0; k < nOut; k++) value[r * nOut + k] = this.nodeValue[i * nOut + k];
    }

    let oobRows = new Uint32Array(0);
    let oobLeaf = new Int32Array(0);
    if (this.cfg.oob && this.cfg.bootstrap) {
      const N = this.data.nRows;
      const bins = this.data.rowBins;
      const p = this.nFeatures;
      const counts = this.rowCounts;
      let nOob = 0;
      for (let r = 0; r < N; r++) if (counts[r] === 0) nOob++;
      oobRows = new Uint32Array(nOob);
      oobLeaf = new Int32Array(nOob);
      const feat = this.nodeFeature;
      const bin = this.nodeBin;
      const left = this.nodeLeft;
      const right = this.nodeRight;
      const defLeft = this.nodeDefaultLeft;
      const missingBin = this.data.missingBin;
      for (let r = 0, o = 0; r < N; r++) {
        if (counts[r] !== 0) continue;
        let i = 0;
        while (feat[i] >= 0) {
          const b = bins[r * p + feat[i]];
          i = b <= bin[i] || (b === missingBin[feat[i]] && defLeft[i] === 1) ? left[i] : right[i];
        }
        oobRows[o] = r;
        oobLeaf[o++] = leafRank[i];
      }
    }

    return {
      index: treeIndex,
      feature: this.nodeFeature.slice(0, nNodes),
      threshold: this.nodeThreshold.slice(0, nNodes),
      left: this.nodeLeft.slice(0, nNodes),
      right: this.nodeRight.slice(0, nNodes),
      defaultLeft: this.nodeDefaultLeft.slice(0, nNodes),
      value,
      importances,
      oobRows,
      oobLeaf,
    };
  }
}
