// Gradient histograms of a tree node: per feature and bin, the sums of the gradients, of the
// hessians and the row count (CHANNELS). A node's rows are cut into chunks by its size alone
// (histChunkCount); each chunk is summed in row order (two rows per step, the first row's update
// first) into a histogram of its own (the first chunk straight into the node's), and the chunks'
// histograms are then added to the node's in chunk order (addPartials). Threads take whole chunks,
// so no sum depends on which thread did it, nor on their number: the model does not depend on it.

import type { BinnedData } from '../forest/bins.ts';
import { histOffsets } from '../forest/histogram.ts';
import { histKernels, type WasmArena } from './wasm/arena.ts';

export const CHANNELS = 3;

/** A feature whose most frequent bin holds at least this fraction of the rows is sparse. */
export const SPARSE_MIN_MODE_FRACTION = 0.8;

/** Dense features with at most this many bins are bundled, up to BUNDLE_MAX_CELLS joint bins. */
export const BUNDLE_MAX_BINS = 16;
export const BUNDLE_MAX_CELLS = 256;

/** Where the histogram kernels read each feature's bins (built once per training set). */
export interface FeatureLayout {
  nRows: number;
  /**
   * Bins of each histogram region: the p features', then one per bundle (its joint bins): the
   * pool's layout (HistogramPool(histBins, CHANNELS)).
   */
  histBins: Int32Array;
  /** Per feature: its column in denseBins, or -1 for a sparse feature. */
  denseCol: Int32Array;
  /** Per column: its histogram region (a feature, or p + b for bundle b). */
  denseFeature: Int32Array;
  /** Row-major bins of the dense columns: denseBins[row * denseFeature.length + column]. */
  denseBins: Uint8Array;
  /**
   * Bundle b's features: bundleFeature[bundleStart[b] .. bundleStart[b + 1]); its joint bin is
   * their bins in mixed radix, the first feature the most significant digit.
   */
  bundleStart: Int32Array;
  bundleFeature: Int32Array;
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
  /**
   * The count channel of a histogram of all rows, per histogram bin (before spreadBundles): a
   * node of all rows (a tree's root) sums only the gradients and hessians, and takes its counts
   * from here (setAllRowCounts).
   */
  allRowCounts: Float64Array;
  /**
   * The arena's memory when denseBins, sparsePtr, sparseEntry and colOff are in it (featureLayout's
   * `arena`): the histograms are then summed by the WebAssembly kernels, which need the node's
   * rows, gradients and histograms in that memory too (the grower takes them from the same arena).
   */
  memory: WebAssembly.Memory | null;
  /** Per dense column: the byte offset of its histogram region in a histogram buffer (the kernels'). */
  colOff: Int32Array;
}

/** What a thread needs to build a node's histograms: the layout plus the tree's rows and gradients. */
export interface NodeRows extends FeatureLayout {
  idx: Int32Array;
  /** Gradient and hessian of each row of the current tree: ghRow[2 * row], ghRow[2 * row + 1]. */
  ghRow: Float32Array;
  /** The current tree's dense runs (see denseRuns): nRuns pairs (first column, count). */
  runs: Int32Array;
}

/** What featureLayout reads of the binned training set. */
export type LayoutInput = Pick<BinnedData, 'nRows' | 'rowBins' | 'nBins' | 'binCounts'>;

/**
 * Splits the features into sparse ones and dense columns, bundling dense features of few bins (as LightGBM bundles features, but into their
 * joint bins: a row adds to one joint bin instead of one bin per feature, and each feature's
 * histogram is then the sum over the other features' bins, see spreadBundles), and builds the
 * dense row-major copy and the sparse row lists.
 */
export function featureLayout(
  data: LayoutInput,
  alloc: (bytes: number) => ArrayBufferLike,
  sparseMinModeFraction = SPARSE_MIN_MODE_FRACTION,
  bundleMaxCells = BUNDLE_MAX_CELLS,
  arena: WasmArena | null = null,
): FeatureLayout {
  const { nRows, rowBins, nBins, binCounts: counts } = data;
  const p = nBins.length;
  const derivedBin = new Int32Array(alloc(p * 4));
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
      dense.push(f);
    }
  }
  // Columns: features of many bins alone; the others, fewest bins first, bundled greedily.
  const columns: number[][] = dense.filter((f) => nBins[f] > BUNDLE_MAX_BINS).map((f) => [f]);
  let bundle: number[] = [];
  let cells = 1;
  for (const f of dense.filter((f) => nBins[f] <= BUNDLE_MAX_BINS).sort((a, b) => nBins[a] - nBins[b] || a - b)) {
    if (cells * nBins[f] > bundleMaxCells) {
      columns.push(bundle);
      bundle = [];
      cells = 1;
    }
    bundle.push(f);
    cells *= nBins[f];
  }
  if (bundle.length > 0) columns.push(bundle);
  columns.sort((a, b) => Math.min(...a) - Math.min(...b));
  const ints = (values: number[]): Int32Array => {
    const a = new Int32Array(alloc(Math.max(1, values.length) * 4));
    a.set(values);
    return a.subarray(0, values.length);
  };
  const histBins: number[] = Array.from(nBins);
  const denseFeature: number[] = [];
  const bundleStart: number[] = [0];
  const bundleFeature: number[] = [];
  const denseCol = new Int32Array(alloc(p * 4)).fill(-1);
  for (const [c, members] of columns.entries()) {
    for (const f of members) denseCol[f] = c;
    if (members.length === 1) {
      denseFeature.push(members[0]);
      continue;
    }
    denseFeature.push(histBins.length);
    histBins.push(members.reduce((n, f) => n * nBins[f], 1));
    bundleFeature.push(...members);
    bundleStart.push(bundleFeature.length);
  }
  const layoutBins = ints(histBins);
  const featOff = histOffsets(layoutBins, CHANNELS);
  const denseBins = arena ? arena.u8(Math.max(1, nRows * columns.length)) : new Uint8Array(alloc(Math.max(1, nRows * columns.length)));
  const sparseFeature = ints(sparse);
  const sparsePtr = arena ? arena.i32(nRows + 1) : new Int32Array(alloc((nRows + 1) * 4));
  const sparseEntry = arena ? arena.i32(Math.max(1, entries)) : new Int32Array(alloc(Math.max(1, entries) * 4));
  const colOff = arena ? arena.i32(Math.max(1, denseFeature.length)) : new Int32Array(alloc(Math.max(1, denseFeature.length) * 4));
  for (const [c, region] of denseFeature.entries()) colOff[c] = featOff[region] * 8;
  // Each column's features and the radix of each (1 for a single feature: its bin).
  const starts = [0];
  for (const members of columns) starts.push(starts[starts.length - 1] + members.length);
  const colStart = ints(starts);
  const colFeature = ints(columns.flat());
  const colRadix = ints(columns.flat().map((f) => nBins[f]));
  fillLayout(rowBins, nRows, p, colStart, colFeature, colRadix, denseBins, sparseFeature, derivedBin, featOff, sparsePtr, sparseEntry);
  const allRowCounts = new Float64Array(alloc(Math.max(1, featOff[featOff.length - 1] / CHANNELS) * 8));
  // What the counted scan sums: a feature's bins but a bundled feature's (spreadBundles fills them
  // from the joint bins) and a sparse feature's mode (deriveBins).
  for (let f = 0; f < p; f++) {
    const c = denseCol[f];
    if (c >= 0 && colStart[c + 1] - colStart[c] > 1) continue;
    for (let b = 0; b < nBins[f]; b++) if (c >= 0 || b !== derivedBin[f]) allRowCounts[featOff[f] / CHANNELS + b] = counts[f * 256 + b];
  }
  const jointBase = Int32Array.from(denseFeature, (region) => (region >= p ? featOff[region] / CHANNELS : -1));
  countJointBins(denseBins, nRows, jointBase, allRowCounts);
  return {
    nRows,
    histBins: layoutBins,
    denseCol,
    denseFeature: ints(denseFeature),
    denseBins,
    bundleStart: ints(bundleStart),
    bundleFeature: ints(bundleFeature),
    sparseFeature,
    derivedBin,
    sparsePtr,
    sparseEntry,
    allRowCounts,
    memory: arena?.memory ?? null,
    colOff: colOff.subarray(0, denseFeature.length),
  };
}

/** counts[jointBase[c] + joint bin] += 1 for every row's bin of each bundle column c (jointBase[c] >= 0). */
function countJointBins(denseBins: Uint8Array, nRows: number, jointBase: Int32Array, counts: Float64Array): void {
  const nCols = jointBase.length;
  for (let r = 0, k = 0; r < nRows; r++) {
    for (let c = 0; c < nCols; c++, k++) if (jointBase[c] >= 0) counts[jointBase[c] + denseBins[k]]++;
  }
}

/** The count channel of the histogram at base: the counts of all rows (allRowCounts). */
export function setAllRowCounts(hist: Float64Array, base: number, layout: FeatureLayout): void {
  const counts = layout.allRowCounts;
  for (let j = 0, o = base + 2; j < counts.length; j++, o += CHANNELS) hist[o] = counts[j];
}

// featureLayout's pass over the rows, a function of its own (see scanRows).

/**
 * Per row: dense column c its features' bins colFeature[colStart[c] ..] in mixed radix colRadix;
 * the sparse features' bins that are not their mode, as histogram offsets.
 */
function fillLayout(
  rowBins: Uint8Array,
  nRows: number,
  p: number,
  colStart: Int32Array,
  colFeature: Int32Array,
  colRadix: Int32Array,
  denseBins: Uint8Array,
  sparseFeature: Int32Array,
  derivedBin: Int32Array,
  featOff: Int32Array,
  sparsePtr: Int32Array,
  sparseEntry: Int32Array,
): void {
  const nCols = colStart.length - 1;
  for (let r = 0, e = 0; r < nRows; r++) {
    const row = r * p;
    for (let c = 0; c < nCols; c++) {
      let v = 0;
      for (let j = colStart[c]; j < colStart[c + 1]; j++) v = v * colRadix[j] + rowBins[row + colFeature[j]];
      denseBins[r * nCols + c] = v;
    }
    for (let j = 0; j < sparseFeature.length; j++) {
      const f = sparseFeature[j];
      const b = rowBins[row + f];
      if (b !== derivedBin[f]) sparseEntry[e++] = featOff[f] + b * CHANNELS;
    }
    sparsePtr[r + 1] = e;
  }
}

/**
 * Each bundled feature's histogram (zero before) from its bundle's joint bins: the sum, in joint
 * bin order, of the joint bins holding each of its bins.
 */
export function spreadBundles(hist: Float64Array, base: number, featOff: Int32Array, nBins: Int32Array, layout: FeatureLayout): void {
  const p = nBins.length;
  const { bundleStart, bundleFeature } = layout;
  for (let b = 0; b + 1 < bundleStart.length; b++) {
    const joint = base + featOff[p + b];
    const cells = layout.histBins[p + b];
    for (let cell = 0; cell < cells; cell++) {
      const o = joint + cell * 3;
      if (hist[o + 2] === 0) continue;
      // The last feature is the least significant digit.
      let rest = cell;
      for (let j = bundleStart[b + 1] - 1; j >= bundleStart[b]; j--) {
        const f = bundleFeature[j];
        const bin = rest % nBins[f];
        rest = (rest - bin) / nBins[f];
        const t = base + featOff[f] + bin * 3;
        hist[t] += hist[o];
        hist[t + 1] += hist[o + 1];
        hist[t + 2] += hist[o + 2];
      }
    }
  }
}

/** One pass over a node's rows sums at most this many dense features. */
export const MAX_RUN = 32;

/**
 * Cuts the tree's dense columns `cols` (ascending) into runs of at most MAX_RUN consecutive
 * columns (a pass reads a row's bins of a run contiguously), written as pairs (first column,
 * count) into runs; returns the number of runs.
 */
export function denseRuns(cols: ArrayLike<number>, runs: Int32Array): number {
  let n = 0;
  for (let j = 0; j < cols.length; ) {
    let k = j + 1;
    while (k < cols.length && k - j < MAX_RUN && cols[k] === cols[k - 1] + 1) k++;
    runs[2 * n] = cols[j];
    runs[2 * n + 1] = k - j;
    n++;
    j = k;
  }
  return n;
}

/** Nodes of fewer rows than this are summed in one chunk (by the calling thread: waking the others costs more). */
export const PARALLEL_HIST_ROWS = 1024;
/** Larger nodes' histograms are summed in chunks of about this many rows, at least two... */
export const HIST_CHUNK_ROWS = 4096;
/** ...and at most this many (each chunk after the first costs the zeroing and adding of a histogram). */
export const MAX_HIST_CHUNKS = 8;

/** Chunks of the histograms of a node of n rows: a function of n alone, so the sums do not depend on the threads. */
export function histChunkCount(n: number): number {
  return n < PARALLEL_HIST_ROWS ? 1 : Math.max(2, Math.min(MAX_HIST_CHUNKS, Math.ceil(n / HIST_CHUNK_ROWS)));
}

/** A node's partition (and the gradients' rows) are cut into chunks of about this many rows (fewer rows: one chunk)... */
export const CHUNK_ROWS = 2048;
/** ...and at most this many. */
export const MAX_CHUNKS = 64;

/** Chunks of a node of n rows: a function of n alone, so the sums do not depend on the threads. */
export function chunkCount(n: number): number {
  return Math.max(1, Math.min(MAX_CHUNKS, Math.ceil(n / CHUNK_ROWS)));
}

/** First position of chunk c of the node [start, end) cut into nChunks (c = nChunks: end). */
export function chunkStart(start: number, end: number, nChunks: number, c: number): number {
  return start + Math.floor((c * (end - start)) / nChunks);
}

// Scratch of the dense pass (one per thread: every worker has its own module instance).
const scanOff = new Int32Array(MAX_RUN);

/**
 * Sums rows [a, b) into the histogram hist[base .. base + size) (zeroed first), on this thread: a
 * pass over the rows per dense run, the sparse features in the first. The derived bins are left to
 * deriveBins. Without `counted`, the dense columns' counts are left at zero (a node of all rows:
 * see setAllRowCounts).
 */
export function accumulateRows(
  hist: Float64Array,
  base: number,
  size: number,
  featOff: Int32Array,
  rows: NodeRows,
  nRuns: number,
  sparse: boolean,
  a: number,
  b: number,
  counted = true,
): void {
  zeroHistogram(hist, base, size, rows.memory);
  addRows(hist, base, featOff, rows, nRuns, sparse, a, b, counted);
}

/**
 * hist[base .. base + size) = 0. In the arena by the kernels' memory.fill: TypedArray.fill over
 * shared memory takes V8's slow path (a histogram: ~5 µs against 0.6 µs unshared, thousands a fit).
 */
function zeroHistogram(hist: Float64Array, base: number, size: number, memory: WebAssembly.Memory | null): void {
  if (memory) histKernels(memory).zero(hist.byteOffset + base * 8, size * 8);
  else hist.fill(0, base, base + size);
}

/** Adds rows [a, b) to the histogram hist[base ..]: a pass over the rows per dense run, the sparse features in the first. */
function addRows(
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  rows: NodeRows,
  nRuns: number,
  sparse: boolean,
  a: number,
  b: number,
  counted: boolean,
): void {
  if (rows.memory) {
    addRowsWasm(hist, base, rows, nRuns, sparse, a, b, counted);
    return;
  }
  // No dense feature: one pass for the sparse ones.
  for (let k = 0; k < Math.max(1, nRuns); k++) {
    const c0 = k < nRuns ? rows.runs[2 * k] : 0;
    const m = k < nRuns ? rows.runs[2 * k + 1] : 0;
    for (let j = 0; j < m; j++) scanOff[j] = base + featOff[rows.denseFeature[c0 + j]];
    const { denseBins, sparsePtr, sparseEntry, idx, ghRow } = rows;
    const p = rows.denseFeature.length;
    if (counted) scanRows(hist, base, denseBins, p, c0, m, sparsePtr, sparseEntry, sparse && k === 0, idx, ghRow, a, b);
    else scanSums(hist, base, denseBins, p, c0, m, sparsePtr, sparseEntry, sparse && k === 0, idx, ghRow, a, b);
  }
}

/**
 * addRows by the WebAssembly kernels (the layout's memory holds hist, the rows' bins, idx and ghRow):
 * a pass per dense run, the sparse features in the first, as the JavaScript kernels do.
 */
function addRowsWasm(hist: Float64Array, base: number, rows: NodeRows, nRuns: number, sparse: boolean, a: number, b: number, counted: boolean): void {
  const kernels = histKernels(rows.memory!);
  const h = hist.byteOffset + base * 8;
  const { idx, ghRow, sparsePtr, sparseEntry } = rows;
  const p = rows.denseFeature.length;
  if (nRuns === 0) {
    if (sparse) kernels.sparse(h, sparsePtr.byteOffset, sparseEntry.byteOffset, idx.byteOffset, ghRow.byteOffset, a, b);
    return;
  }
  for (let k = 0; k < nRuns; k++) {
    const c0 = rows.runs[2 * k];
    const withSparse = sparse && k === 0 ? 1 : 0;
    kernels.dense(
      h,
      rows.denseBins.byteOffset,
      p,
      c0,
      rows.runs[2 * k + 1],
      rows.colOff.byteOffset + 4 * c0,
      idx.byteOffset,
      ghRow.byteOffset,
      a,
      b,
      counted ? 1 : 0,
      withSparse,
      sparsePtr.byteOffset,
      sparseEntry.byteOffset,
    );
  }
}

/** What the threads sum a node's histograms with (SharedWork is one: HIST, and FIND reads hist). */
export interface HistBuffers {
  /** The histogram buffers (HistogramPool.backing; a node's at some base). */
  hist: Float64Array;
  /** The histograms of chunks 1 .. MAX_HIST_CHUNKS - 1, each featOff's last entry long. */
  partials: Float64Array;
  featOff: Int32Array;
  rows: NodeRows;
}

/** Rows a chunk with `prepare` adds at a time, each block just after prepare(block) has made its gradients. */
export const PREPARED_BLOCK_ROWS = 512;

/** Makes what the sums of positions [a, b) of idx read (the root's pass: their gradients). */
export type PrepareRows = (a: number, b: number) => void;

/**
 * Sums chunk c of nChunks of the node's rows [start, end): chunk 0 into the node's histogram
 * b.hist[base ..], chunk c > 0 into partial c - 1 (see addPartials). With `prepare`, the chunk's
 * positions are taken in blocks, each first passed to prepare (the root's pass: it computes the
 * block's gradients, which the block's sums then read while they are in cache). Every bin still
 * gets its rows in row order: the same sums as without blocks.
 */
export function accumulateChunk(
  b: HistBuffers,
  base: number,
  nRuns: number,
  sparse: boolean,
  start: number,
  end: number,
  nChunks: number,
  c: number,
  prepare?: PrepareRows,
): void {
  const size = b.featOff[b.featOff.length - 1];
  const r0 = chunkStart(start, end, nChunks, c);
  const r1 = chunkStart(start, end, nChunks, c + 1);
  const hist = c === 0 ? b.hist : b.partials;
  const at = c === 0 ? base : (c - 1) * size;
  // A node of all rows takes its counts from the layout (completeNode).
  const counted = end - start < b.rows.nRows;
  if (!prepare) {
    accumulateRows(hist, at, size, b.featOff, b.rows, nRuns, sparse, r0, r1, counted);
    return;
  }
  zeroHistogram(hist, at, size, b.rows.memory);
  for (let s = r0; s < r1; s += PREPARED_BLOCK_ROWS) {
    const e = Math.min(r1, s + PREPARED_BLOCK_ROWS);
    prepare(s, e);
    addRows(hist, at, b.featOff, b.rows, nRuns, sparse, s, e, counted);
  }
}

/** Adds the histograms of chunks 1 .. nChunks - 1 to the node's (b.hist at base), in chunk order. */
export function addPartials(b: HistBuffers, base: number, nChunks: number): void {
  const size = b.featOff[b.featOff.length - 1];
  const kernels = b.rows.memory ? histKernels(b.rows.memory) : null;
  const at = b.hist.byteOffset + base * 8;
  for (let c = 1; c < nChunks; c++) {
    if (kernels) kernels.combine(at, at, b.partials.byteOffset + (c - 1) * size * 8, size, 0);
    else addRange(b.hist, base, b.partials, (c - 1) * size, size);
  }
}

function addRange(h: Float64Array, d: number, src: Float64Array, s: number, n: number): void {
  for (let j = 0; j < n; j++) h[d + j] += src[s + j];
}

/** Once the chunks of the node [start, end) are summed: addPartials, and a node of all rows gets its counts (setAllRowCounts). */
export function completeNode(b: HistBuffers, base: number, start: number, end: number): void {
  addPartials(b, base, histChunkCount(end - start));
  if (end - start === b.rows.nRows) setAllRowCounts(b.hist, base, b.rows);
}

/**
 * The histograms of the node's rows [start, end) into b.hist at base, on this thread: its chunks one
 * after the other (`prepare`: see accumulateChunk), then completeNode.
 */
export function accumulateNode(b: HistBuffers, base: number, nRuns: number, sparse: boolean, start: number, end: number, prepare?: PrepareRows): void {
  const nChunks = histChunkCount(end - start);
  for (let c = 0; c < nChunks; c++) accumulateChunk(b, base, nRuns, sparse, start, end, nChunks, c, prepare);
  completeNode(b, base, start, end);
}

// The row loop below is a function of its own that ends with the loop: V8 compiles a long
// running loop on stack replacement before it has seen the code after it, and such code would
// leave its compiled loop for the interpreter at that code on every call.

/**
 * Adds rows idx[start .. end) to their bins of the dense features in denseBins columns
 * [c0, c0 + m) (hist offsets in scanOff) and, with `sparse`, to their listed sparse bins (offsets
 * from base). Two rows per step: their updates are independent, which hides the latency of a
 * chain of updates of one bin.
 */
function scanRows(
  hist: Float64Array,
  base: number,
  bins: Uint8Array,
  p: number,
  c0: number,
  m: number,
  sparsePtr: Int32Array,
  sparseEntry: Int32Array,
  sparse: boolean,
  idx: Int32Array,
  gh: Float32Array,
  start: number,
  end: number,
): void {
  let i = start;
  if ((end - start) % 2 === 1) {
    // An odd row first, so that the loop takes pairs up to the end.
    const r = idx[i];
    const g = gh[2 * r];
    const h = gh[2 * r + 1];
    for (let k = 0, rb = r * p + c0; k < m; k++) {
      const o = scanOff[k] + bins[rb + k] * 3;
      hist[o] += g;
      hist[o + 1] += h;
      hist[o + 2] += 1;
    }
    if (sparse) addSparse(hist, base, sparsePtr, sparseEntry, r, g, h);
    i++;
  }
  for (; i < end; i += 2) {
    const r = idx[i];
    const q = idx[i + 1];
    const gr = gh[2 * r];
    const hr = gh[2 * r + 1];
    const gq = gh[2 * q];
    const hq = gh[2 * q + 1];
    const br = r * p + c0;
    const bq = q * p + c0;
    for (let k = 0; k < m; k++) {
      const off = scanOff[k];
      const or = off + bins[br + k] * 3;
      hist[or] += gr;
      hist[or + 1] += hr;
      hist[or + 2] += 1;
      const oq = off + bins[bq + k] * 3;
      hist[oq] += gq;
      hist[oq + 1] += hq;
      hist[oq + 2] += 1;
    }
    if (sparse) {
      addSparse(hist, base, sparsePtr, sparseEntry, r, gr, hr);
      addSparse(hist, base, sparsePtr, sparseEntry, q, gq, hq);
    }
  }
}

/**
 * scanRows without the dense columns' counts (a node of all rows: see setAllRowCounts); the sparse
 * features' counts are summed, as setAllRowCounts sets them anyway.
 */
function scanSums(
  hist: Float64Array,
  base: number,
  bins: Uint8Array,
  p: number,
  c0: number,
  m: number,
  sparsePtr: Int32Array,
  sparseEntry: Int32Array,
  sparse: boolean,
  idx: Int32Array,
  gh: Float32Array,
  start: number,
  end: number,
): void {
  let i = start;
  if ((end - start) % 2 === 1) {
    // An odd row first, so that the loop takes pairs up to the end.
    const r = idx[i];
    const g = gh[2 * r];
    const h = gh[2 * r + 1];
    for (let k = 0, rb = r * p + c0; k < m; k++) {
      const o = scanOff[k] + bins[rb + k] * 3;
      hist[o] += g;
      hist[o + 1] += h;
    }
    if (sparse) addSparse(hist, base, sparsePtr, sparseEntry, r, g, h);
    i++;
  }
  for (; i < end; i += 2) {
    const r = idx[i];
    const q = idx[i + 1];
    const gr = gh[2 * r];
    const hr = gh[2 * r + 1];
    const gq = gh[2 * q];
    const hq = gh[2 * q + 1];
    const br = r * p + c0;
    const bq = q * p + c0;
    for (let k = 0; k < m; k++) {
      const off = scanOff[k];
      const or = off + bins[br + k] * 3;
      hist[or] += gr;
      hist[or + 1] += hr;
      const oq = off + bins[bq + k] * 3;
      hist[oq] += gq;
      hist[oq + 1] += hq;
    }
    if (sparse) {
      addSparse(hist, base, sparsePtr, sparseEntry, r, gr, hr);
      addSparse(hist, base, sparsePtr, sparseEntry, q, gq, hq);
    }
  }
}

/** Adds (g, h) to row r's listed sparse bins (offsets from base). */
function addSparse(hist: Float64Array, base: number, sparsePtr: Int32Array, sparseEntry: Int32Array, r: number, g: number, h: number): void {
  for (let e = sparsePtr[r], e1 = sparsePtr[r + 1]; e < e1; e++) {
    const o = base + sparseEntry[e];
    hist[o] += g;
    hist[o + 1] += h;
    hist[o + 2] += 1;
  }
}

/** Sets the derived bin of each of features[0 .. nFeat) from the node totals (n rows, G, H). */
export function deriveBins(
  hist: Float64Array,
  base: number,
  featOff: Int32Array,
  nBins: Int32Array,
  derivedBin: Int32Array,
  features: Int32Array,
  nFeat: number,
  n: number,
  G: number,
  H: number,
): void {
  for (let j = 0; j < nFeat; j++) {
    const f = features[j];
    deriveBin(hist, base + featOff[f], nBins[f], derivedBin[f], n, G, H);
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
