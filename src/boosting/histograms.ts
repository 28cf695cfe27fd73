// Gradient histograms of one node into a HistogramPool buffer: three channels per bin (sum of
// gradients, sum of hessians, row count). The node's rows are positions [start, end) of `idx`;
// their gradients were gathered beforehand into ghOrd at the same positions (ghOrd[2i] gradient,
// ghOrd[2i + 1] hessian), so they are read sequentially. They are float32 (as scikit-learn's),
// which halves the memory traffic of the hottest loop; the histogram sums are float64.
// Features are scanned several at a time, row by row over the row-major bins (as XGBoost and
// LightGBM): the row index and its gradients are loaded once for all of them, and consecutive
// updates go to different features' bins instead of chaining on one. Bin 0 is derived from the
// node totals. Sparse two-bin features (one-hot flags that are mostly 0) keep the list of their
// rows in bin 1: a large node then visits only those rows, checking that they belong to it
// (rowLeaf), instead of scanning all of its rows. Both paths add the same float32 values in
// ascending row order, so their sums are bit-identical. Each feature's histogram is summed by one
// thread in row order, which keeps the result bit-identical whatever the number of threads.

export const CHANNELS = 3;

export interface NodeRows {
  /** Row-major bins: rowBins[row * nFeatures + f]. */
  rowBins: Uint8Array;
  nFeatures: number;
  idx: Int32Array;
  ghOrd: Float32Array;
  /** Gradient and hessian by row (ghRow[2 * row], ghRow[2 * row + 1]) for the tree's rows. */
  ghRow: Float32Array;
  /** Node id of the leaf each row of the tree is in (-1: not in the tree). */
  rowLeaf: Int32Array;
  /** Rows in bin 1 of sparse feature f: sparseRows[sparseOff[f] .. sparseOff[f + 1]) (empty for other features). */
  sparseOff: Int32Array;
  sparseRows: Int32Array;
}

/** A two-bin feature with at most this fraction of rows in bin 1 keeps their list. */
export const SPARSE_MAX_FRACTION = 0.25;
/** The list is used when it is this many times shorter than the node (a list step costs more). */
const SPARSE_ADVANTAGE = 3;

/** Lists the rows in bin 1 of every sparse two-bin feature. */
export function sparseLists(
  bins: Uint8Array,
  nBins: Int32Array,
  nRows: number,
  alloc: (bytes: number) => ArrayBufferLike,
): { sparseOff: Int32Array; sparseRows: Int32Array } {
  const p = nBins.length;
  const sparseOff = new Int32Array(alloc((p + 1) * 4));
  const counts = new Int32Array(p);
  for (let f = 0; f < p; f++) {
    if (nBins[f] !== 2) continue;
    let c = 0;
    for (let r = 0, o = f * nRows; r < nRows; r++, o++) c += bins[o];
    if (c <= SPARSE_MAX_FRACTION * nRows) counts[f] = c;
  }
  for (let f = 0; f < p; f++) sparseOff[f + 1] = sparseOff[f] + counts[f];
  const sparseRows = new Int32Array(alloc(Math.max(1, sparseOff[p]) * 4));
  for (let f = 0; f < p; f++) {
    if (counts[f] === 0) continue;
    let k = sparseOff[f];
    for (let r = 0, o = f * nRows; r < nRows; r++, o++) if (bins[o] !== 0) sparseRows[k++] = r;
  }
  return { sparseOff, sparseRows };
}

/** A thread scans the node's rows once for all of a work item's features: at most this many. */
export const MAX_FEATURES_PER_ITEM = 32;

/**
 * Features per work item for `nFeat` features on `threads` threads: large items so the rows are
 * scanned few times, about two per thread so a thread that finishes early can take another.
 * Only the speed depends on it: every feature's sums are the same whatever the items.
 */
export function featuresPerItem(nFeat: number, threads: number): number {
  return Math.min(MAX_FEATURES_PER_ITEM, Math.max(8, Math.ceil(nFeat / (2 * threads))));
}

// Scratch of the row scan (one per thread: every worker has its own module instance).
const scanFeature = new Int32Array(MAX_FEATURES_PER_ITEM);
const scanOff = new Int32Array(MAX_FEATURES_PER_ITEM);

/**
 * Histograms of features[j0 .. j1) for rows [start, end) into hist[base + featOff[f] ..]: sparse
 * features whose row list is short enough for this node from the list, the others in one scan of
 * the rows that reads each row's bins from the row-major copy (one pass over the rows and their
 * gradients for all of them, instead of one per feature).
 */
export function accumulateFeatures(
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  nBins: Int32Array,
  features: Int32Array,
  j0: number,
  j1: number,
  rows: NodeRows,
  start: number,
  end: number,
  G: number,
  H: number,
  node: number,
): void {
  let m = 0;
  for (let j = j0; j < j1; j++) {
    const f = features[j];
    const off = base + featOff[f];
    hist.fill(0, off, base + featOff[f + 1]);
    const s0 = rows.sparseOff[f];
    const s1 = rows.sparseOff[f + 1];
    if (s1 > s0 && (s1 - s0) * SPARSE_ADVANTAGE < end - start) {
      accumulateList(hist, off, s0, s1, rows, node);
      deriveBinZero(hist, off, nBins[f], end - start, G, H);
    } else {
      scanFeature[m] = f;
      scanOff[m++] = off;
    }
  }
  if (m === 0) return;
  // Bin 0 is summed too (no branch in the inner loop), then overwritten by deriveBinZero: the
  // other bins get the same float32 values in the same row order as the list path.
  const rowBins = rows.rowBins;
  const p = rows.nFeatures;
  const idx = rows.idx;
  const gh = rows.ghOrd;
  for (let i = start; i < end; i++) {
    const rb = idx[i] * p;
    const g = gh[2 * i];
    const h = gh[2 * i + 1];
    for (let k = 0; k < m; k++) {
      const o = scanOff[k] + rowBins[rb + scanFeature[k]] * 3;
      hist[o] += g;
      hist[o + 1] += h;
      hist[o + 2] += 1;
    }
  }
  for (let k = 0; k < m; k++) deriveBinZero(hist, scanOff[k], nBins[scanFeature[k]], end - start, G, H);
}

/** Bin 1 of a sparse feature from its row list (the rows of other leaves skipped). */
function accumulateList(hist: Float64Array, off: number, s0: number, s1: number, rows: NodeRows, node: number): void {
  const list = rows.sparseRows;
  const leafOf = rows.rowLeaf;
  const ghRow = rows.ghRow;
  let g1 = 0;
  let h1 = 0;
  let n1 = 0;
  for (let k = s0; k < s1; k++) {
    const r = list[k];
    if (leafOf[r] === node) {
      g1 += ghRow[2 * r];
      h1 += ghRow[2 * r + 1];
      n1++;
    }
  }
  hist[off + 3] = g1;
  hist[off + 4] = h1;
  hist[off + 5] = n1;
}

/** Sets bin 0 of a feature to the node totals minus its other bins. */
function deriveBinZero(hist: Float64Array, off: number, nBins: number, n: number, G: number, H: number): void {
  let g = 0;
  let h = 0;
  let c = 0;
  for (let b = 1, o = off + 3; b < nBins; b++, o += 3) {
    g += hist[o];
    h += hist[o + 1];
    c += hist[o + 2];
  }
  hist[off] = G - g;
  hist[off + 1] = H - h;
  hist[off + 2] = n - c;
}

/**
 * Control block shared with histogram workers (Int32Array over a SharedArrayBuffer):
 * generation (bumped per task), next work item, threads inside a task (ACTIVE), buffer id, start,
 * end, number of features, stop flag, node id, features per work item. The node's gradient and hessian totals travel in
 * `totals` (a Float64Array of 2 over a SharedArrayBuffer).
 *
 * The calling thread never waits for a worker that has not started: it writes the task, resets
 * NEXT (which publishes the task), wakes the workers, takes work items itself, and then waits only
 * while ACTIVE > 0, i.e. for items a worker has claimed. A worker counts itself in ACTIVE before it
 * claims and reads the task after a claim succeeds, so a worker that wakes late either finds no
 * item left or takes one of the current task, never a mix of two tasks: once the calling thread has
 * no item left to take it sets NEXT to TASK_CLOSED, so that no late claim can succeed while it
 * writes the next task. On a busy machine a worker
 * that is not scheduled costs nothing but its share of the work.
 */
export const CTRL = { GEN: 0, NEXT: 1, ACTIVE: 2, BUF: 3, START: 4, END: 5, NFEAT: 6, STOP: 7, NODE: 8, PER_ITEM: 9, SIZE: 10 } as const;

/** NEXT between tasks: larger than any item index, so every claim fails. */
export const TASK_CLOSED = 1 << 29;

/** Takes work items (PER_ITEM features each) off the shared counter until none is left (main thread and workers). */
export function drainFeatures(
  ctrl: Int32Array,
  totals: Float64Array,
  features: Int32Array,
  backing: Float64Array,
  size: number,
  featOff: Int32Array,
  nBins: Int32Array,
  rows: NodeRows,
): void {
  for (;;) {
    const item = Atomics.add(ctrl, CTRL.NEXT, 1);
    const perItem = ctrl[CTRL.PER_ITEM];
    const nFeat = ctrl[CTRL.NFEAT];
    const j0 = item * perItem;
    if (item >= TASK_CLOSED || j0 >= nFeat) return;
    const j1 = Math.min(nFeat, j0 + perItem);
    const base = ctrl[CTRL.BUF] * size;
    accumulateFeatures(backing, base, featOff, nBins, features, j0, j1, rows, ctrl[CTRL.START], ctrl[CTRL.END], totals[0], totals[1], ctrl[CTRL.NODE]);
  }
}
