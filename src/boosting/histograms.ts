// Gradient histograms of one node, built feature by feature into a HistogramPool buffer: three
// channels per bin (sum of gradients, sum of hessians, row count). The node's rows are
// positions [start, end) of `idx`; their gradients were gathered beforehand into gOrd/hOrd at the
// same positions (interleaved: ghOrd[2i] gradient, ghOrd[2i + 1] hessian), so the inner loop
// reads them sequentially. They are float32 (as scikit-learn's), which halves the memory traffic of
// the hottest loop; the histogram sums are float64. Rows in bin 0 are skipped and bin 0 is derived from the node totals:
// one-hot flags are mostly 0, and it also avoids a store-to-load chain on one bin (as the forest). Each feature's histogram is summed by
// one thread in row order, which keeps the result bit-identical whatever the number of threads.

export const CHANNELS = 3;

export interface NodeRows {
  /** Column-major bins: bins[f * nRows + row]. */
  bins: Uint8Array;
  nRows: number;
  idx: Int32Array;
  ghOrd: Float32Array;
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
): void {
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
  let g = 0;
  let h = 0;
  let n = 0;
  for (let b = 1, o = off + 3; b < nBins; b++, o += 3) {
    g += hist[o];
    h += hist[o + 1];
    n += hist[o + 2];
  }
  hist[off] = G - g;
  hist[off + 1] = H - h;
  hist[off + 2] = end - start - n;
}

/**
 * Control block shared with histogram workers (Int32Array over a SharedArrayBuffer):
 * generation (bumped per task), next feature slot, workers done, buffer id, start, end,
 * number of features, stop flag. The node's gradient and hessian totals travel in `totals`
 * (a Float64Array of 2 over a SharedArrayBuffer).
 */
export const CTRL = { GEN: 0, NEXT: 1, DONE: 2, BUF: 3, START: 4, END: 5, NFEAT: 6, STOP: 7, SIZE: 8 } as const;

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
    accumulateFeature(backing, off, nBins[f], f, rows, start, end, totals[0], totals[1]);
  }
}
