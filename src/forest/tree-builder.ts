// Grows one tree (depth-first, with an explicit stack) over the shared binned data.
// Rows of the current node are a contiguous range of `idx`, partitioned in place (stably, so
// each node reads its bin columns in ascending row order). Everything a tree needs comes from
// (data, config, tree index), so a tree is the same whichever thread grows it.

import type { BinnedColumns } from './bins.ts';
import { makeCriterion, type Criterion, type CriterionName } from './criterion.ts';
import { Rng, treeSeed } from './rng.ts';
import { Splitter } from './splitter.ts';

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

export class TreeBuilder {
  private readonly data: TreeData;
  private readonly cfg: TreeConfig;
  private readonly crit: Criterion;
  private readonly splitter: Splitter;
  private readonly classification: boolean;
  private readonly nStats: number;
  private readonly nOut: number;
  private readonly p: number;

  private readonly counts: Uint32Array;
  private readonly idx: Int32Array;
  private readonly cls: Int32Array;
  private readonly yv: Float64Array;
  private readonly wt: Float64Array;
  private readonly tIdx: Int32Array;
  private readonly tCls: Int32Array;
  private readonly tYv: Float64Array;
  private readonly tWt: Float64Array;

  // Stack of pending nodes (parallel arrays, one slot per node).
  private cap = 0;
  private sStart = new Int32Array(0);
  private sEnd = new Int32Array(0);
  private sDepth = new Int32Array(0);
  private sNode = new Int32Array(0);
  private sBuf = new Int32Array(0);
  private sPermLen = new Int32Array(0);
  private sPermPos = new Int32Array(0);
  private sStats = new Float64Array(0);
  private sPerm = new Int32Array(0);
  private sConst = new Uint8Array(0);

  private readonly curPerm: Int32Array;
  private readonly curConst: Uint8Array;
  private readonly curStats: Float64Array;
  private readonly rightStats: Float64Array;
  private readonly cand: Int32Array;

  // Growing node arrays.
  private nodeCap = 0;
  private nNodes = 0;
  private nFeat = new Int32Array(0);
  private nThr = new Float64Array(0);
  private nBin = new Int32Array(0);
  private nLeft = new Int32Array(0);
  private nRight = new Int32Array(0);
  private nDefLeft = new Uint8Array(0);
  private nVal = new Float64Array(0);

  constructor(data: TreeData, cfg: TreeConfig) {
    this.data = data;
    this.cfg = cfg;
    this.classification = data.nClasses > 0;
    this.crit = makeCriterion(cfg.criterion, data.nClasses);
    this.nStats = this.crit.nStats;
    this.nOut = this.classification ? data.nClasses : 1;
    this.p = data.nFeatures;
    this.splitter = new Splitter(data, this.crit, this.classification, cfg.minSamplesLeaf, cfg.mtry);
    const n = data.nRows;
    this.counts = new Uint32Array(n);
    this.idx = new Int32Array(n);
    this.tIdx = new Int32Array(n);
    this.wt = new Float64Array(n);
    this.tWt = new Float64Array(n);
    this.cls = new Int32Array(this.classification ? n : 0);
    this.tCls = new Int32Array(this.classification ? n : 0);
    this.yv = new Float64Array(this.classification ? 0 : n);
    this.tYv = new Float64Array(this.classification ? 0 : n);
    this.splitter.idx = this.idx;
    this.splitter.cls = this.cls;
    this.splitter.yv = this.yv;
    this.splitter.wt = this.wt;
    this.curPerm = new Int32Array(this.p);
    this.curConst = new Uint8Array(this.p);
    this.curStats = new Float64Array(this.nStats);
    this.rightStats = new Float64Array(this.nStats);
    this.cand = new Int32Array(this.p);
    this.growStack(64);
    this.growNodes(1024);
  }

  private growStack(cap: number): void {
    const p = this.p;
    const S = this.nStats;
    const grow32 = (a: Int32Array<ArrayBuffer>, per: number): Int32Array<ArrayBuffer> => {
      const b = new Int32Array(cap * per);
      b.set(a);
      return b;
    };
    this.sStart = grow32(this.sStart, 1);
    this.sEnd = grow32(this.sEnd, 1);
    this.sDepth = grow32(this.sDepth, 1);
    this.sNode = grow32(this.sNode, 1);
    this.sBuf = grow32(this.sBuf, 1);
    this.sPermLen = grow32(this.sPermLen, 1);
    this.sPermPos = grow32(this.sPermPos, 1);
    this.sPerm = grow32(this.sPerm, p);
    const st = new Float64Array(cap * S);
    st.set(this.sStats);
    this.sStats = st;
    const c = new Uint8Array(cap * p);
    c.set(this.sConst);
    this.sConst = c;
    this.cap = cap;
  }

  private growNodes(cap: number): void {
    const f = new Int32Array(cap);
    f.set(this.nFeat);
    this.nFeat = f;
    const t = new Float64Array(cap);
    t.set(this.nThr);
    this.nThr = t;
    const b = new Int32Array(cap);
    b.set(this.nBin);
    this.nBin = b;
    const l = new Int32Array(cap);
    l.set(this.nLeft);
    this.nLeft = l;
    const r = new Int32Array(cap);
    r.set(this.nRight);
    this.nRight = r;
    const d = new Uint8Array(cap);
    d.set(this.nDefLeft);
    this.nDefLeft = d;
    const v = new Float64Array(cap * this.nOut);
    v.set(this.nVal);
    this.nVal = v;
    this.nodeCap = cap;
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
    const stride = byColumn ? 1 : this.p;
    const col = byColumn ? f * this.data.nRows : f;
    const idx = this.idx;
    const wt = this.wt;
    const tIdx = this.tIdx;
    const tWt = this.tWt;
    let l = start;
    let r = 0;
    if (this.classification) {
      const cls = this.cls;
      const tCls = this.tCls;
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
      const yv = this.yv;
      const tYv = this.tYv;
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

  private makeLeaf(node: number, stats: Float64Array, w: number): void {
    this.nFeat[node] = -1;
    this.nLeft[node] = -1;
    this.nRight[node] = -1;
    this.nThr[node] = 0;
    this.nDefLeft[node] = 0;
    if (this.classification) {
      this.nVal.set(stats, node * this.nOut);
    } else {
      this.nVal[node] = w > 0 ? stats[1] / w : 0;
    }
  }

  /** Writes a child into stack slot s; draws its first candidate features if it may split. */
  private setSlot(
    s: number,
    start: number,
    end: number,
    depth: number,
    node: number,
    stats: Float64Array,
    splittable: boolean,
    nCand: number,
    rng: Rng,
  ): void {
    const p = this.p;
    this.sStart[s] = start;
    this.sEnd[s] = end;
    this.sDepth[s] = depth;
    this.sNode[s] = node;
    this.sBuf[s] = -1;
    this.sStats.set(stats, s * this.nStats);
    if (!splittable) {
      this.sPermLen[s] = 0;
      this.sPermPos[s] = 0;
      return;
    }
    const perm = this.sPerm;
    const off = s * p;
    perm.set(this.cand.subarray(0, nCand), off);
    this.sConst.set(this.curConst, off);
    const d = Math.min(this.cfg.mtry, nCand);
    for (let j = 0; j < d; j++) {
      const r = j + rng.int(nCand - j);
      const tmp = perm[off + j];
      perm[off + j] = perm[off + r];
      perm[off + r] = tmp;
    }
    this.sPermLen[s] = nCand;
    this.sPermPos[s] = d;
  }

  build(treeIndex: number): TreeResult {
    const data = this.data;
    const cfg = this.cfg;
    const crit = this.crit;
    const splitter = this.splitter;
    const p = this.p;
    const S = this.nStats;
    const N = data.nRows;
    const rng = new Rng(treeSeed(cfg.seed, treeIndex));

    // Bootstrap as per-row counts (sample weights), like scikit-learn.
    const counts = this.counts;
    if (cfg.bootstrap) {
      counts.fill(0);
      for (let i = 0; i < N; i++) counts[rng.int(N)]++;
    } else {
      counts.fill(1);
    }
    const root = this.curStats;
    root.fill(0);
    let m = 0;
    for (let r = 0; r < N; r++) {
      const c = counts[r];
      if (c === 0) continue;
      this.idx[m] = r;
      this.wt[m] = c;
      if (this.classification) {
        const k = data.yClass![r];
        this.cls[m] = k;
        root[k] += c;
      } else {
        const y = data.yValue![r];
        this.yv[m] = y;
        root[0] += c;
        root[1] += c * y;
        root[2] += c * y * y;
      }
      m++;
    }

    const importances = new Float64Array(p);
    this.nNodes = 1;
    for (let f = 0; f < p; f++) this.cand[f] = f;
    this.curConst.fill(0);
    const rootW = crit.weight(root, 0);
    this.setSlot(0, 0, m, 0, 0, root, this.canSplit(m, 0, crit.impurity(root, 0, rootW)), p, rng);
    // Root draws lazily like every other node.
    this.sPermPos[0] = 0;
    let sp = 1;

    const cur = this.curStats;
    const right = this.rightStats;
    while (sp > 0) {
      sp--;
      const start = this.sStart[sp];
      const end = this.sEnd[sp];
      const depth = this.sDepth[sp];
      const node = this.sNode[sp];
      let buf = this.sBuf[sp];
      const permLen = this.sPermLen[sp];
      cur.set(this.sStats.subarray(sp * S, sp * S + S));
      const n = end - start;
      const w = crit.weight(cur, 0);
      const impurity = crit.impurity(cur, 0, w);

      let found = false;
      if (permLen > 0 && this.canSplit(n, depth, impurity)) {
        this.curPerm.set(this.sPerm.subarray(sp * p, sp * p + permLen));
        this.curConst.set(this.sConst.subarray(sp * p, sp * p + p));
        found = splitter.findSplit(
          start, end, cur, w, buf, n >= cfg.histMinRows,
          this.curPerm, permLen, this.sPermPos[sp], this.curConst, rng,
        );
        buf = splitter.nodeBuf;
      }
      if (!found) {
        this.makeLeaf(node, cur, w);
        splitter.release(buf);
        continue;
      }

      const f = splitter.bestF;
      const mb = data.missingBin[f];
      const nEdges = data.edgeOff[f + 1] - data.edgeOff[f];
      // "Every value left, missing right" has no edge to choose: the last value bin, threshold +max.
      const e = splitter.bestNextBin === mb ? mb - 1 : this.chooseEdge(f, splitter.bestBin, splitter.bestNextBin);
      const missingLeft = splitter.bestMissingLeft;
      const mid = this.partition(start, end, f, e, missingLeft ? mb : -1);
      const leftStats = splitter.bestLeft;
      for (let k = 0; k < S; k++) right[k] = cur[k] - leftStats[k];
      const wl = crit.weight(leftStats, 0);
      const wr = crit.weight(right, 0);
      const impL = crit.impurity(leftStats, 0, wl);
      const impR = crit.impurity(right, 0, wr);
      importances[f] += w * impurity - wl * impL - wr * impR;

      if (this.nNodes + 2 > this.nodeCap) this.growNodes(this.nodeCap * 2);
      const lId = this.nNodes++;
      const rId = this.nNodes++;
      this.nFeat[node] = f;
      this.nBin[node] = e;
      this.nThr[node] = e < nEdges ? data.edges[data.edgeOff[f] + e] : Number.MAX_VALUE;
      this.nDefLeft[node] = missingLeft ? 1 : 0;
      this.nLeft[node] = lId;
      this.nRight[node] = rId;

      // Children draw from all features; inherited constants are skipped for free when drawn.
      const nCand = p;
      const nl = mid - start;
      const nr = end - mid;
      if (sp + 2 > this.cap) this.growStack(this.cap * 2);
      // Right below left on the stack: the left subtree is grown first.
      const rs = sp;
      const ls = sp + 1;
      this.setSlot(rs, mid, end, depth + 1, rId, right, this.canSplit(nr, depth + 1, impR), nCand, rng);
      this.setSlot(ls, start, mid, depth + 1, lId, leftStats, this.canSplit(nl, depth + 1, impL), nCand, rng);

      if (buf >= 0) {
        // Subtraction trick for the larger child's first candidates the parent has histograms of.
        const big = nl >= nr ? ls : rs;
        const small = big === ls ? rs : ls;
        const nBig = big === ls ? nl : nr;
        const nSmall = n - nBig;
        const C = splitter.channels;
        for (let j = 0, d = this.sPermPos[big]; j < d; j++) {
          const g = this.sPerm[big * p + j];
          if (!splitter.hasFeature(buf, g)) continue;
          const cost = (splitter.hasFeature(this.sBuf[small], g) ? 0 : nSmall) + data.nBins[g] * C;
          if (cost >= nBig) continue;
          if (this.sBuf[small] < 0) this.sBuf[small] = splitter.acquire();
          if (this.sBuf[big] < 0) this.sBuf[big] = splitter.acquire();
          if (!splitter.hasFeature(this.sBuf[small], g)) {
            splitter.buildInto(this.sBuf[small], g, this.sStart[small], this.sEnd[small], this.sStats.subarray(small * S, small * S + S));
          }
          splitter.subtractInto(this.sBuf[big], buf, this.sBuf[small], g);
        }
        splitter.release(buf);
      }
      sp += 2;
    }

    return this.finish(treeIndex, importances);
  }

  private finish(treeIndex: number, importances: Float64Array): TreeResult {
    const nNodes = this.nNodes;
    const nOut = this.nOut;
    const leafRank = new Int32Array(nNodes);
    let nLeaves = 0;
    for (let i = 0; i < nNodes; i++) if (this.nFeat[i] < 0) leafRank[i] = nLeaves++;
    const value = new Float64Array(nLeaves * nOut);
    for (let i = 0; i < nNodes; i++) {
      if (this.nFeat[i] >= 0) continue;
      const r = leafRank[i];
      for (let k = 0; k < nOut; k++) value[r * nOut + k] = this.nVal[i * nOut + k];
    }

    let oobRows = new Uint32Array(0);
    let oobLeaf = new Int32Array(0);
    if (this.cfg.oob && this.cfg.bootstrap) {
      const N = this.data.nRows;
      const bins = this.data.rowBins;
      const p = this.p;
      const counts = this.counts;
      let nOob = 0;
      for (let r = 0; r < N; r++) if (counts[r] === 0) nOob++;
      oobRows = new Uint32Array(nOob);
      oobLeaf = new Int32Array(nOob);
      const feat = this.nFeat;
      const bin = this.nBin;
      const left = this.nLeft;
      const right = this.nRight;
      const defLeft = this.nDefLeft;
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
      feature: this.nFeat.slice(0, nNodes),
      threshold: this.nThr.slice(0, nNodes),
      left: this.nLeft.slice(0, nNodes),
      right: this.nRight.slice(0, nNodes),
      defaultLeft: this.nDefLeft.slice(0, nNodes),
      value,
      importances,
      oobRows,
      oobLeaf,
    };
  }
}
