// Gradient histograms of one node into a HistogramPool buffer: three channels per bin (sum of
// gradients, sum of hessians, row count). The node's rows are positions [start, end) of `idx`;
// their gradients were gathered beforehand into ghOrd at the same positions (ghOrd[2i] gradient,
// ghOrd[2i + 1] hessian), so they are read sequentially. They are float32 (as scikit-learn's),
// which halves the memory traffic of the hottest loop; the histogram sums are float64.
//
// Features are laid out once per training set (featureLayout), as LightGBM's dense and sparse bins:
// - dense features: a row-major copy of their bins alone. A work item scans the node's rows once
//   for several of them (as XGBoost and LightGBM): the row index and its gradients are loaded once
//   for all of them, and consecutive updates go to different features' bins instead of chaining
//   on one. Bin 0 is then derived from the node totals.
// - sparse features (most rows in one bin, their "mode": one-hot flags, rare categories, mostly
//   missing columns): each row lists only its bins that are not the mode, as histogram offsets
//   (CSR). One work item visits those entries for all sparse features, so a node costs its rows
//   plus their few entries instead of rows × features; the mode bin is derived from the totals.
// Every feature's bins (the derived one excepted) add the same float32 values in ascending row
// order whatever the items or threads, so the histograms are bit-identical for any worker count.

export const CHANNELS = 3;

/** A feature whose most frequent bin holds at least this fraction of the rows is sparse. */
export const SPARSE_MIN_MODE_FRACTION = 0.8;

/** Where the histogram kernels read each feature's bins (built once per training set). */
export interface FeatureLayout {
  nRows: number;
  /** Per feature: its column in denseBins, or -1 for a sparse feature. */
  denseCol: Int32Array;
  /** Dense features in column order. */
  denseFeature: Int32Array;
  /** Row-major bins of the dense features: denseBins[row * denseFeature.length + column]. */
  denseBins: Uint8Array;
  /** Sparse features, ascending. */
  sparseFeature: Int32Array;
  /** Per feature: the bin derived from the node totals (bin 0 for dense features, the mode for sparse ones). */
  derivedBin: Int32Array;
  /**
   * Row r's bins that are not their feature's mode, over the sparse features:
   * sparseEntry[sparsePtr[r] .. sparsePtr[r + 1]), each the histogram offset featOff[f] + bin * CHANNELS.
   */
  sparsePtr: Int32Array;
  sparseEntry: Int32Array;
}

/** What a thread needs to build a node's histograms: the layout plus the tree's rows and gradients. */
export interface NodeRows extends FeatureLayout {
  idx: Int32Array;
  ghOrd: Float32Array;
  /** The dense work items of the current tree for the histogram workers (see denseItems and CTRL). */
  items: Int32Array;
}

/**
 * Splits the features into dense and sparse ones (by the row-major bins `rowBins` of `nFeatures`
 * features and their per-feature counts `nBins`) and builds both copies; featOff are the pool's
 * offsets of each feature's histogram.
 */
export function featureLayout(
  rowBins: Uint8Array,
  nRows: number,
  nBins: Int32Array,
  featOff: Int32Array,
  alloc: (bytes: number) => ArrayBufferLike,
  sparseMinModeFraction = SPARSE_MIN_MODE_FRACTION,
): FeatureLayout {
  const p = nBins.length;
  const counts = new Float64Array(p * 256);
  for (let r = 0, k = 0; r < nRows; r++) for (let f = 0; f < p; f++, k++) counts[f * 256 + rowBins[k]]++;
  const derivedBin = new Int32Array(alloc(p * 4));
  const denseCol = new Int32Array(alloc(p * 4)).fill(-1);
  const dense: number[] = [];
  const sparse: number[] = [];
  let entries = 0;
  for (let f = 0; f < p; f++) {
    let mode = 0;
    for (let b = 1; b < nBins[f]; b++) if (counts[f * 256 + b] > counts[f * 256 + mode]) mode = b;
    if (counts[f * 256 + mode] >= sparseMinModeFraction * nRows) {
      derivedBin[f] = mode;
      sparse.push(f);
      entries += nRows - counts[f * 256 + mode];
    } else {
      denseCol[f] = dense.length;
      dense.push(f);
    }
  }
  const nDense = dense.length;
  const denseBins = new Uint8Array(alloc(Math.max(1, nRows * nDense)));
  const sparsePtr = new Int32Array(alloc((nRows + 1) * 4));
  const sparseEntry = new Int32Array(alloc(Math.max(1, entries) * 4));
  for (let r = 0, e = 0; r < nRows; r++) {
    const row = r * p;
    for (let j = 0; j < nDense; j++) denseBins[r * nDense + j] = rowBins[row + dense[j]];
    for (const f of sparse) {
      const b = rowBins[row + f];
      if (b !== derivedBin[f]) sparseEntry[e++] = featOff[f] + b * CHANNELS;
    }
    sparsePtr[r + 1] = e;
  }
  const ints = (values: number[]): Int32Array => {
    const a = new Int32Array(alloc(Math.max(1, values.length) * 4));
    a.set(values);
    return a.subarray(0, values.length);
  };
  return { nRows, denseCol, denseFeature: ints(dense), denseBins, sparseFeature: ints(sparse), derivedBin, sparsePtr, sparseEntry };
}

/** A thread scans the node's rows once for all of a work item's dense features: at most this many. */
export const MAX_FEATURES_PER_ITEM = 32;

/**
 * Dense features per work item for `nFeat` features on `threads` threads: large items so the rows
 * are scanned few times, about two per thread so a thread that finishes early can take another.
 * Only the speed depends on it: every feature's sums are the same whatever the items.
 */
export function featuresPerItem(nFeat: number, threads: number): number {
  return Math.min(MAX_FEATURES_PER_ITEM, Math.max(8, Math.ceil(nFeat / (2 * threads))));
}

/**
 * Work items over the tree's dense columns `cols` (ascending): runs of at most perItem consecutive
 * columns (the kernel reads a row's bins for an item contiguously), written as pairs (first
 * column, count) into items; returns the number of items.
 */
export function denseItems(cols: ArrayLike<number>, perItem: number, items: Int32Array): number {
  let n = 0;
  for (let j = 0; j < cols.length; ) {
    let k = j + 1;
    while (k < cols.length && k - j < perItem && cols[k] === cols[k - 1] + 1) k++;
    items[2 * n] = cols[j];
    items[2 * n + 1] = k - j;
    n++;
    j = k;
  }
  return n;
}

// Scratch of the row scan (one per thread: every worker has its own module instance).
const scanOff = new Int32Array(MAX_FEATURES_PER_ITEM);

/**
 * Histograms of the dense features in denseBins columns [c0, c0 + m) for rows [start, end) into
 * hist[base + featOff[f] ..], in one scan of the rows: each row's bins of the item are adjacent.
 * Two rows per step: their updates are independent, which hides the latency of one bin's chain.
 */
export function accumulateDense(
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  nBins: Int32Array,
  rows: NodeRows,
  c0: number,
  m: number,
  start: number,
  end: number,
  G: number,
  H: number,
): void {
  for (let k = 0; k < m; k++) {
    const f = rows.denseFeature[c0 + k];
    scanOff[k] = base + featOff[f];
    hist.fill(0, base + featOff[f], base + featOff[f + 1]);
  }
  // Bin 0 is summed too (no branch in the inner loop), then overwritten by deriveBin.
  scanDense(hist, rows.denseBins, rows.denseFeature.length, c0, m, rows.idx, rows.ghOrd, start, end);
  for (let k = 0; k < m; k++) deriveBin(hist, scanOff[k], nBins[rows.denseFeature[c0 + k]], 0, end - start, G, H);
}

// The row loops below are functions of their own that end with the loop: V8 compiles a long
// running loop on stack replacement before it has seen the code after it, and such code would
// leave its compiled loop for the interpreter at that code on every call.

/** The row scan of accumulateDense (hist offsets of the item's features in scanOff). */
function scanDense(
  hist: Float64Array,
  bins: Uint8Array,
  p: number,
  c0: number,
  m: number,
  idx: Int32Array,
  gh: Float32Array,
  start: number,
  end: number,
): void {
  let i = start;
  if ((end - start) % 2 === 1) {
    // An odd row first, so that the loop takes pairs up to the end.
    const ra = idx[i] * p + c0;
    for (let k = 0; k < m; k++) {
      const a = scanOff[k] + bins[ra + k] * 3;
      hist[a] += gh[2 * i];
      hist[a + 1] += gh[2 * i + 1];
      hist[a + 2] += 1;
    }
    i++;
  }
  for (; i < end; i += 2) {
    const ra = idx[i] * p + c0;
    const rb = idx[i + 1] * p + c0;
    const ga = gh[2 * i];
    const ha = gh[2 * i + 1];
    const gb = gh[2 * i + 2];
    const hb = gh[2 * i + 3];
    for (let k = 0; k < m; k++) {
      const off = scanOff[k];
      const a = off + bins[ra + k] * 3;
      hist[a] += ga;
      hist[a + 1] += ha;
      hist[a + 2] += 1;
      const b = off + bins[rb + k] * 3;
      hist[b] += gb;
      hist[b + 1] += hb;
      hist[b + 2] += 1;
    }
  }
}

/**
 * Histograms of every sparse feature for rows [start, end) into hist[base ..]: each row adds to
 * its listed (non-mode) bins, then every mode bin is derived from the totals. Sparse features
 * outside the tree (colsample) are filled too, unread.
 */
export function accumulateSparse(
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  nBins: Int32Array,
  rows: NodeRows,
  start: number,
  end: number,
  G: number,
  H: number,
): void {
  const features = rows.sparseFeature;
  for (let j = 0; j < features.length; j++) {
    const f = features[j];
    hist.fill(0, base + featOff[f], base + featOff[f + 1]);
  }
  scanSparse(hist, base, rows.sparsePtr, rows.sparseEntry, rows.idx, rows.ghOrd, start, end);
  for (let j = 0; j < features.length; j++) {
    const f = features[j];
    deriveBin(hist, base + featOff[f], nBins[f], rows.derivedBin[f], end - start, G, H);
  }
}

/** The row loop of accumulateSparse. */
function scanSparse(
  hist: Float64Array,
  base: number,
  sparsePtr: Int32Array,
  sparseEntry: Int32Array,
  idx: Int32Array,
  gh: Float32Array,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const r = idx[i];
    const e1 = sparsePtr[r + 1];
    let e = sparsePtr[r];
    if (e === e1) continue;
    const g = gh[2 * i];
    const h = gh[2 * i + 1];
    for (; e < e1; e++) {
      const o = base + sparseEntry[e];
      hist[o] += g;
      hist[o + 1] += h;
      hist[o + 2] += 1;
    }
  }
}

/** Sets bin `d` of a feature to the node totals minus its other bins. */
function deriveBin(hist: Float64Array, off: number, nBins: number, d: number, n: number, G: number, H: number): void {
  let g = 0;
  let h = 0;
  let c = 0;
  for (let b = 0, o = off; b < nBins; b++, o += 3) {
    if (b === d) continue;
    g += hist[o];
    h += hist[o + 1];
    c += hist[o + 2];
  }
  const o = off + d * 3;
  hist[o] = G - g;
  hist[o + 1] = H - h;
  hist[o + 2] = n - c;
}

/**
 * Control block shared with histogram workers (Int32Array over a SharedArrayBuffer):
 * generation (bumped per task), next work item, threads inside a task (ACTIVE), buffer id, start,
 * end, number of dense items (NITEMS, listed in rows.items), stop flag, whether the task has the
 * sparse item (SPARSE, the one after the dense items). The node's gradient and hessian totals
 * travel in `totals` (a Float64Array of 2 over a SharedArrayBuffer).
 *
 * The calling thread never waits for a worker that has not started: it writes the task, resets
 * NEXT (which publishes the task), wakes the workers, takes work items itself, and then waits only
 * while ACTIVE > 0, i.e. for items a worker has claimed. A worker counts itself in ACTIVE before it
 * claims and reads the task after a claim succeeds, so a worker that wakes late either finds no
 * item left or takes one of the current task, never a mix of two tasks: once the calling thread has
 * no item left to take it sets NEXT to TASK_CLOSED, so that no late claim can succeed while it
 * writes the next task. On a busy machine a worker that is not scheduled costs nothing but its
 * share of the work.
 */
export const CTRL = { GEN: 0, NEXT: 1, ACTIVE: 2, BUF: 3, START: 4, END: 5, NITEMS: 6, STOP: 7, SPARSE: 8, SIZE: 9 } as const;

/** NEXT between tasks: larger than any item index, so every claim fails. */
export const TASK_CLOSED = 1 << 29;

/** Builds work item `item` of a node (dense items listed in `items`, then the sparse one); false when there is no such item. */
export function buildItem(
  item: number,
  items: Int32Array,
  nItems: number,
  sparse: boolean,
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  nBins: Int32Array,
  rows: NodeRows,
  start: number,
  end: number,
  G: number,
  H: number,
): boolean {
  if (item < nItems) {
    accumulateDense(hist, base, featOff, nBins, rows, items[2 * item], items[2 * item + 1], start, end, G, H);
    return true;
  }
  if (item === nItems && sparse) {
    accumulateSparse(hist, base, featOff, nBins, rows, start, end, G, H);
    return true;
  }
  return false;
}

/** Takes work items off the shared counter until none is left (main thread and workers). */
export function drainItems(
  ctrl: Int32Array,
  totals: Float64Array,
  backing: Float64Array,
  size: number,
  featOff: Int32Array,
  nBins: Int32Array,
  rows: NodeRows,
): void {
  for (;;) {
    const item = Atomics.add(ctrl, CTRL.NEXT, 1);
    if (item >= TASK_CLOSED) return;
    const base = ctrl[CTRL.BUF] * size;
    const sparse = ctrl[CTRL.SPARSE] === 1;
    if (!buildItem(item, rows.items, ctrl[CTRL.NITEMS], sparse, backing, base, featOff, nBins, rows, ctrl[CTRL.START], ctrl[CTRL.END], totals[0], totals[1]))
      return;
  }
}
