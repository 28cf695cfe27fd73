// Gradient histograms of one node, built feature by feature into a HistogramPool buffer: three
// channels per bin (sum of gradients, sum of hessians, row count). The node's rows are
// positions [start, end) of `idx`; their gradients were gathered beforehand into gOrd/hOrd at the
// same positions (interleaved: ghOrd[2i] gradient, ghOrd[2i + 1] hessian), so the inner loop
// reads them sequentially. They are float32 (as scikit-learn's), which halves the memory traffic of
// the hottest loop; the histogram sums are float64. Rows in bin 0 are skipped and bin 0 is derived from the node totals:
// one-hot flags are mostly 0, and it also avoids a store-to-load chain on one bin (as the forest).
// Sparse two-bin features (one-hot flags that are mostly 0) keep the list of their rows in bin 1:
// a large node then visits only those rows, checking that they belong to it (rowLeaf), instead of
// scanning all of its rows. Both paths add the same float32 values in ascending row order, so
// their sums are bit-identical. Each feature's histogram is summed by
// one thread in row order, which keeps the result bit-identical whatever the number of threads.

export const CHANNELS = 3;

export interface NodeRows {
  /** Column-major bins: bins[f * nRows + row]. */
  bins: Uint8Array;
  nRows: number;
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

/** Node totals (gradient, hessian, rows) for deriving bin 0; ctrl carries them as well for workers. */
export interface NodeTotals {
  G: number;
  H: number;
  N: number;
}

/** Accumulates feature f of rows [start, end) into hist[off ..] (which must be zeroed). */
export function accumulateFeature(
  hist: Float64Array,
  off: number,
  nBins: number,
  f: number,
  rows: NodeRows,
  start: number,
  end: number,
  G: number,
  H: number,
  node: number,
): void {
  const s0 = rows.sparseOff[f];
  const s1 = rows.sparseOff[f + 1];
  if (s1 > s0 && (s1 - s0) * SPARSE_ADVANTAGE < end - start) {
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
    deriveBinZero(hist, off, nBins, end - start, G, H);
    return;
  }
  const bins = rows.bins;
  const col = f * rows.nRows;
  const idx = rows.idx;
  const gh = rows.ghOrd;
  for (let i = start; i < end; i++) {
    const b = bins[col + idx[i]];
    if (b !== 0) {
      const o = off + b * 3;
      hist[o] += gh[2 * i];
      hist[o + 1] += gh[2 * i + 1];
      hist[o + 2] += 1;
    }
  }
  deriveBinZero(hist, off, nBins, end - start, G, H);
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
 * generation (bumped per task), next feature slot, workers done, buffer id, start, end,
 * number of features, stop flag, node id. The node's gradient and hessian totals travel in `totals`
 * (a Float64Array of 2 over a SharedArrayBuffer).
 */
export const CTRL = { GEN: 0, NEXT: 1, DONE: 2, BUF: 3, START: 4, END: 5, NFEAT: 6, STOP: 7, NODE: 8, SIZE: 9 } as const;

/** Takes feature slots off the shared counter until none is left (used by the main thread and workers). */
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
  const nFeat = ctrl[CTRL.NFEAT];
  const base = ctrl[CTRL.BUF] * size;
  const start = ctrl[CTRL.START];
  const end = ctrl[CTRL.END];
  for (;;) {
    const j = Atomics.add(ctrl, CTRL.NEXT, 1);
    if (j >= nFeat) return;
    const f = features[j];
    const off = base + featOff[f];
    backing.fill(0, off, base + featOff[f + 1]);
    accumulateFeature(backing, off, nBins[f], f, rows, start, end, totals[0], totals[1], ctrl[CTRL.NODE]);
  }
}
