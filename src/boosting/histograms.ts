// Gradient histograms of one node, built feature by feature into a HistogramPool buffer: three
// channels per bin (sum of gradients, sum of hessians, row count). The node's rows are
// positions [start, end) of `idx`; their gradients were gathered beforehand into gOrd/hOrd at the
// same positions, so the inner loop reads them sequentially. Each feature's histogram is summed by
// one thread in row order, which keeps the result bit-identical whatever the number of threads.

export const CHANNELS = 3;

export interface NodeRows {
  /** Column-major bins: bins[f * nRows + row]. */
  bins: Uint8Array;
  nRows: number;
  idx: Int32Array;
  gOrd: Float64Array;
  hOrd: Float64Array;
}

/** Accumulates feature f of rows [start, end) into hist[off ..] (which must be zeroed). */
export function accumulateFeature(hist: Float64Array, off: number, f: number, rows: NodeRows, start: number, end: number): void {
  const bins = rows.bins;
  const col = f * rows.nRows;
  const idx = rows.idx;
  const g = rows.gOrd;
  const h = rows.hOrd;
  for (let i = start; i < end; i++) {
    const o = off + bins[col + idx[i]] * 3;
    hist[o] += g[i];
    hist[o + 1] += h[i];
    hist[o + 2] += 1;
  }
}

/**
 * Control block shared with histogram workers (Int32Array over a SharedArrayBuffer):
 * generation (bumped per task), next feature slot, workers done, buffer id, start, end,
 * number of features, stop flag.
 */
export const CTRL = { GEN: 0, NEXT: 1, DONE: 2, BUF: 3, START: 4, END: 5, NFEAT: 6, STOP: 7, SIZE: 8 } as const;

/** Takes feature slots off the shared counter until none is left (used by the main thread and workers). */
export function drainFeatures(
  ctrl: Int32Array,
  features: Int32Array,
  backing: Float64Array,
  size: number,
  featOff: Int32Array,
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
    accumulateFeature(backing, off, f, rows, start, end);
  }
}
