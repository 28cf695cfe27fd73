// Best-split search for one node over binned features (LightGBM-style histograms).
//
// Per feature a histogram holds, for every bin, the criterion statistics (class weights, or
// w / wy / wy^2) plus the number of distinct rows (for minSamplesLeaf). Large nodes build their
// histograms into pooled buffers that outlive the node, so a child can get a feature's histogram
// as parent - sibling (the subtraction trick) instead of rescanning its rows. Small nodes build
// into one scratch histogram and visit only the bins they touched, so the cost stays O(rows).

import type { BinnedColumns } from './bins.ts';
import type { Criterion } from './criterion.ts';
import { HistogramPool } from './histogram.ts';
import type { Rng } from './rng.ts';

export type SplitterData = BinnedColumns;

/**
 * The rows of the node being split, aligned by position (position i: row index[i], its class
 * index or target, its bootstrap weight). The tree builder owns them and partitions them in place.
 */
export interface NodeSamples {
  index: Int32Array;
  /** Class index per position (classification; empty for regression). */
  classIndex: Int32Array;
  /** Target per position (regression; empty for classification). */
  target: Float64Array;
  weight: Float64Array;
}

/** The node to split: rows [start, end) of the samples, with their criterion statistics. */
export interface SplitNode {
  start: number;
  end: number;
  stats: Float64Array;
  /** Total sample weight of the node. */
  weight: number;
  /** The node's pooled histogram buffer, -1 for none; findSplit may acquire one (the node owns it). */
  histogram: number;
  /** Build histograms into a pooled buffer (kept for the children's subtraction) rather than into scratch. */
  keepHistograms: boolean;
}

/**
 * The features a node draws from, without replacement: order[0 .. drawn) are already drawn,
 * order[drawn .. length) are still to shuffle (Fisher-Yates continued lazily). `constant` flags
 * the features known to be constant in the node (inherited from its ancestors, and found here).
 */
export interface FeatureDraw {
  order: Int32Array;
  length: number;
  drawn: number;
  constant: Uint8Array;
}

/** The best split found for a node (as scikit-learn's SplitRecord). */
export class SplitRecord {
  feature = -1;
  /** Last bin on the left, and the next occupied bin (the threshold lies between them). */
  bin = -1;
  nextBin = -1;
  /** The criterion's proxy improvement: larger is better. */
  proxy = Number.NEGATIVE_INFINITY;
  /** Distinct rows sent left. */
  nLeft = 0;
  /** Missing values go left (their bin is on the left side); else they go right. */
  missingLeft = false;
  /** Criterion statistics of the left child (right = node - left). */
  readonly leftStats: Float64Array;

  constructor(nStats: number) {
    this.leftStats = new Float64Array(nStats);
  }

  reset(): void {
    this.feature = -1;
    this.proxy = Number.NEGATIVE_INFINITY;
  }
}

export class Splitter {
  readonly criterion: Criterion;
  readonly classification: boolean;
  readonly nStats: number;
  /** Channels per bin: the criterion statistics, then the row count. */
  readonly channels: number;
  readonly minLeaf: number;
  readonly mtry: number;
  readonly nRows: number;
  readonly nFeatures: number;
  readonly bins: Uint8Array;
  readonly rowBins: Uint8Array;
  readonly nBins: Int32Array;
  readonly missingBin: Int32Array;
  readonly hasMissing: Uint8Array;
  /** Offset of feature f's histogram inside a pooled buffer. */
  readonly featureOffset: Int32Array;
  readonly pool: HistogramPool;
  private readonly samples: NodeSamples;

  private readonly scratch: Float64Array;
  /** The occupied bins of the histogram being scanned, ascending. */
  private readonly touched: Int32Array;
  private readonly left: Float64Array;

  constructor(data: SplitterData, samples: NodeSamples, criterion: Criterion, classification: boolean, minLeaf: number, mtry: number) {
    this.criterion = criterion;
    this.samples = samples;
    this.classification = classification;
    this.nStats = criterion.nStats;
    this.channels = criterion.nStats + 1;
    this.minLeaf = minLeaf;
    this.mtry = mtry;
    this.nRows = data.nRows;
    this.nFeatures = data.nFeatures;
    this.bins = data.bins;
    this.rowBins = data.rowBins;
    this.nBins = data.nBins;
    this.missingBin = data.missingBin;
    this.hasMissing = data.hasMissing;
    this.pool = new HistogramPool(data.nBins, this.channels);
    this.featureOffset = this.pool.featOff;
    let maxBins = 1;
    for (let f = 0; f < data.nFeatures; f++) if (data.nBins[f] > maxBins) maxBins = data.nBins[f];
    this.scratch = new Float64Array(maxBins * this.channels);
    this.touched = new Int32Array(maxBins);
    this.left = new Float64Array(this.nStats);
  }

  acquire(): number {
    return this.pool.acquire();
  }

  release(buf: number): void {
    this.pool.release(buf);
  }

  hasFeature(buf: number, f: number): boolean {
    return this.pool.hasFeature(buf, f);
  }

  /** Builds feature f's histogram of rows [start, end) into pooled buffer `buf`. */
  buildInto(buf: number, f: number, start: number, end: number, total: Float64Array): void {
    this.pool.clearFeature(buf, f);
    this.accumulate(this.pool.buffer(buf), this.featureOffset[f], f, start, end, total);
    this.pool.markFeature(buf, f);
  }

  /** dst[f] = parent[f] - small[f]: the sibling's histogram without touching its rows. */
  subtractInto(dst: number, parent: number, small: number, f: number): void {
    this.pool.subtract(dst, parent, small, f);
  }

  /**
   * Rows in bin 0 are skipped and bin 0 is derived as node total - other bins: one-hot flags
   * are mostly 0, and skipping them also avoids the store-to-load chain of hammering one bin.
   */
  private accumulate(h: Float64Array, off: number, f: number, start: number, end: number, total: Float64Array): void {
    // Large nodes: one bin column (it fits in L2) read in ascending row order.
    const bins = this.bins;
    const col = f * this.nRows;
    const idx = this.samples.index;
    const wt = this.samples.weight;
    const C = this.channels;
    const cnt = this.nStats;
    if (this.classification) {
      const cls = this.samples.classIndex;
      for (let i = start; i < end; i++) {
        const b = bins[col + idx[i]];
        if (b !== 0) {
          const base = off + b * C;
          h[base + cls[i]] += wt[i];
          h[base + cnt] += 1;
        }
      }
    } else {
      const yv = this.samples.target;
      for (let i = start; i < end; i++) {
        const b = bins[col + idx[i]];
        if (b !== 0) {
          const base = off + b * C;
          const w = wt[i];
          const wy = w * yv[i];
          h[base] += w;
          h[base + 1] += wy;
          h[base + 2] += wy * yv[i];
          h[base + 3] += 1;
        }
      }
    }
    const nb = this.nBins[f];
    for (let c = 0; c < C; c++) {
      let rest = 0;
      for (let b = 1; b < nb; b++) rest += h[off + b * C + c];
      h[off + c] = (c === cnt ? end - start : total[c]) - rest;
    }
  }

  /** True if all rows of [start, end) share one bin of feature f (read-only early-exit scan). */
  private isConstant(f: number, start: number, end: number): boolean {
    const bins = this.rowBins;
    const p = this.nFeatures;
    const idx = this.samples.index;
    const first = bins[idx[start] * p + f];
    for (let i = start + 1; i < end; i++) if (bins[idx[i] * p + f] !== first) return false;
    return true;
  }

  /** Scratch histogram for small nodes; returns the number of touched bins (sorted in `touched`). */
  private accumulateScratch(f: number, start: number, end: number, total: Float64Array): number {
    // Small nodes have scattered rows: the row-major copy keeps a row's bins in one cache line,
    // so the node's later features hit the cache. Bin 0 is derived as in accumulate().
    const h = this.scratch;
    const bins = this.rowBins;
    const p = this.nFeatures;
    const idx = this.samples.index;
    const wt = this.samples.weight;
    const C = this.channels;
    const cnt = this.nStats;
    const touched = this.touched;
    let t = 0;
    if (this.classification) {
      const cls = this.samples.classIndex;
      for (let i = start; i < end; i++) {
        const b = bins[idx[i] * p + f];
        if (b === 0) continue;
        const base = b * C;
        if (h[base + cnt] === 0) touched[t++] = b;
        h[base + cls[i]] += wt[i];
        h[base + cnt] += 1;
      }
    } else {
      const yv = this.samples.target;
      for (let i = start; i < end; i++) {
        const b = bins[idx[i] * p + f];
        if (b === 0) continue;
        const base = b * C;
        if (h[base + 3] === 0) touched[t++] = b;
        const w = wt[i];
        const wy = w * yv[i];
        h[base] += w;
        h[base + 1] += wy;
        h[base + 2] += wy * yv[i];
        h[base + 3] += 1;
      }
    }
    if (t <= 24) {
      for (let i = 1; i < t; i++) {
        const v = touched[i];
        let j = i - 1;
        while (j >= 0 && touched[j] > v) {
          touched[j + 1] = touched[j];
          j--;
        }
        touched[j + 1] = v;
      }
    } else {
      touched.subarray(0, t).sort();
    }
    let rows = 0;
    for (let q = 0; q < t; q++) rows += h[touched[q] * C + cnt];
    const n0 = end - start - rows;
    if (n0 > 0) {
      for (let c = 0; c < cnt; c++) {
        let rest = 0;
        for (let q = 0; q < t; q++) rest += h[touched[q] * C + c];
        h[c] = total[c] - rest;
      }
      h[cnt] = n0;
      touched.copyWithin(1, 0, t);
      touched[0] = 0;
      t++;
    }
    return t;
  }

  private clearScratch(t: number): void {
    const h = this.scratch;
    const C = this.channels;
    for (let q = 0; q < t; q++) h.fill(0, this.touched[q] * C, this.touched[q] * C + C);
  }

  /** Lists the non-empty bins of a dense histogram into `touched`. */
  private listDense(h: Float64Array, off: number, nb: number): number {
    const C = this.channels;
    const cnt = off + this.nStats;
    const touched = this.touched;
    let t = 0;
    for (let b = 0; b < nb; b++) if (h[cnt + b * C] > 0) touched[t++] = b;
    return t;
  }

  /**
   * Scans the split points of one feature's histogram, updating the best split. The missing bin,
   * when the feature has one, is the last bin: the plain scan sends missing values right (and
   * tries "every value left, missing right"); a second scan starts with the missing bin on the
   * left. Features without missing values get exactly the plain scan.
   */
  private sweep(h: Float64Array, off: number, t: number, f: number, n: number, total: Float64Array, w: number, best: SplitRecord): void {
    this.scan(h, off, t, f, n, total, w, -1, best);
    const mb = this.missingBin[f];
    if (this.hasMissing[f] === 1 && t >= 3 && this.touched[t - 1] === mb) this.scan(h, off, t - 1, f, n, total, w, mb, best);
  }

  /** One left-to-right scan over touched[0 .. t); `first` >= 0 is a bin put on the left up front. */
  private scan(h: Float64Array, off: number, t: number, f: number, n: number, total: Float64Array, w: number, first: number, best: SplitRecord): void {
    const L = this.left;
    L.fill(0);
    const C = this.channels;
    const S = this.nStats;
    const minLeaf = this.minLeaf;
    const touched = this.touched;
    const crit = this.criterion;
    let wl = 0;
    let nl = 0;
    // Position -1 is the missing bin of the second scan: added to the left, never a split point.
    for (let q = first >= 0 ? -1 : 0; q < t - 1; q++) {
      const base = off + (q < 0 ? first : touched[q]) * C;
      if (this.classification) {
        for (let k = 0; k < S; k++) {
          const v = h[base + k];
          L[k] += v;
          wl += v;
        }
      } else {
        L[0] += h[base];
        L[1] += h[base + 1];
        L[2] += h[base + 2];
        wl = L[0];
      }
      nl += h[base + S];
      if (q < 0) continue;
      if (nl < minLeaf) continue;
      if (n - nl < minLeaf) break;
      const p = crit.proxy(L, total, wl, w - wl);
      if (p > best.proxy) {
        best.proxy = p;
        best.feature = f;
        best.bin = touched[q];
        best.nextBin = touched[q + 1];
        best.nLeft = nl;
        best.leftStats.set(L);
        best.missingLeft = first >= 0;
      }
    }
  }

  /**
   * Finds the best split of the node into `best`; false if it has no valid split. Features are
   * drawn without replacement (see FeatureDraw). As in scikit-learn, every draw counts towards
   * `mtry`, known-constant features are drawn but cost nothing, and drawing goes on past `mtry`
   * only while no non-constant feature was found. Newly found constant features are flagged in
   * `draw.constant`. Features whose histogram the node already has are scanned from it; with
   * `node.keepHistograms` the others are built into the node's pooled buffer, else into scratch.
   */
  findSplit(node: SplitNode, draw: FeatureDraw, rng: Rng, best: SplitRecord): boolean {
    best.reset();
    const { start, end, stats: total, weight: w, keepHistograms } = node;
    const { order, length, constant } = draw;
    let buf = node.histogram;
    const n = end - start;
    let visited = 0;
    let nonConstant = 0;
    for (let j = 0; j < length && (visited < this.mtry || nonConstant === 0); j++) {
      if (j >= draw.drawn) {
        const r = j + rng.int(length - j);
        const tmp = order[j];
        order[j] = order[r];
        order[r] = tmp;
        draw.drawn = j + 1;
      }
      const f = order[j];
      visited++;
      if (constant[f] === 1) continue;
      let h: Float64Array;
      let off: number;
      let t: number;
      let scratch = false;
      if (this.hasFeature(buf, f) || keepHistograms) {
        if (!this.hasFeature(buf, f)) {
          if (buf < 0) buf = this.acquire();
          this.buildInto(buf, f, start, end, total);
        }
        h = this.pool.buffer(buf);
        off = this.featureOffset[f];
        t = this.listDense(h, off, this.nBins[f]);
      } else if (this.isConstant(f, start, end)) {
        constant[f] = 1;
        continue;
      } else {
        h = this.scratch;
        off = 0;
        t = this.accumulateScratch(f, start, end, total);
        scratch = true;
      }
      if (t <= 1) {
        constant[f] = 1;
      } else {
        nonConstant++;
        this.sweep(h, off, t, f, n, total, w, best);
      }
      if (scratch) this.clearScratch(t);
    }
    node.histogram = buf;
    return best.feature >= 0;
  }
}
