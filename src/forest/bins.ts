// Feature binning, done once per dataset: every feature is mapped to at most `maxBins` (<= 256)
// ordered bins so split search works on small integer histograms instead of sorted values.
// A bin boundary is a real-valued threshold t: a value x falls in bin #{edges <= x}, so the
// split "bin <= b" is exactly "x < edges[b]" and the model can predict on raw values.
// A missing value (NaN) gets its own bin after the value bins, `missingBin[f]`; a split sends it to
// the side it learned (LightGBM / XGBoost "default direction"). Features without missing values
// bin exactly as before, so models trained on complete data do not change.

import type { Matrix } from './types.ts';

export interface BinnedData {
  nRows: number;
  nFeatures: number;
  /** Column-major: bins[f * nRows + row]. */
  bins: Uint8Array;
  /** The same bins row-major: rowBins[row * nFeatures + f]. */
  rowBins: Uint8Array;
  /** Number of bins per feature (1..maxBins), the missing bin included when the feature has one. */
  nBins: Int32Array;
  /** Per feature, the ascending thresholds between its value bins (value bins = edges.length + 1). */
  edges: Float64Array[];
  /**
   * Per feature, the bin of a missing value: the bin after the value bins (edges.length + 1). It is
   * a histogram bin (counted in nBins) only when `hasMissing[f]`; otherwise no training row is in it.
   */
  missingBin: Int32Array;
  /** 1 if some row of feature f is missing (NaN). */
  hasMissing: Uint8Array;
  /** Rows in each bin: binCounts[f * 256 + bin]. */
  binCounts: Int32Array;
}

/** What the tree learners read from the binned data (the edges are only needed for thresholds). */
export type BinnedColumns = Pick<BinnedData, 'nRows' | 'nFeatures' | 'bins' | 'rowBins' | 'nBins' | 'missingBin' | 'hasMissing'>;

/** A missing feature value: NaN (infinities are not missing, they are rejected). */
export const isMissing = (v: number): boolean => Number.isNaN(v);

function midpoint(a: number, b: number): number {
  const m = a + (b - a) / 2;
  // Guarantees a < m <= b so both neighbours stay on their side.
  return m > a ? m : b;
}

/** Quantile-ish bin thresholds from one feature's values (sorted in place). */
export function computeEdges(sorted: Float64Array, maxBins: number): Float64Array {
  sorted.sort();
  const n = sorted.length;
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; ) {
    const v = sorted[i];
    let j = i + 1;
    while (j < n && sorted[j] === v) j++;
    values.push(v);
    counts.push(j - i);
    i = j;
  }
  return edgesFromDistinct(values, counts, n, maxBins);
}

/** Thresholds from ascending distinct values and their counts (n = total count). */
export function edgesFromDistinct(values: ArrayLike<number>, counts: ArrayLike<number>, n: number, maxBins: number): Float64Array {
  const d = values.length;
  if (d <= maxBins) {
    const edges = new Float64Array(Math.max(0, d - 1));
    for (let j = 0; j + 1 < d; j++) edges[j] = midpoint(values[j], values[j + 1]);
    return edges;
  }
  // Greedy equal-frequency cut; the target adapts so a heavy value does not starve later bins.
  const edges: number[] = [];
  let remaining = n;
  let inBin = 0;
  for (let j = 0; j + 1 < d; j++) {
    inBin += counts[j];
    const binsLeft = maxBins - edges.length;
    if (binsLeft <= 1) break;
    if (inBin >= remaining / binsLeft) {
      edges.push(midpoint(values[j], values[j + 1]));
      remaining -= inBin;
      inBin = 0;
    }
  }
  return Float64Array.from(edges);
}

/** Bin index of x: the number of edges <= x. */
export function binOf(edges: Float64Array, x: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const MAX_DIRECT_RANGE = 1 << 20;

/** Split threshold "x < t goes left" of value bin `bin` (the last value bin has no upper edge). */
export function thresholdOf(edges: Float64Array, bin: number): number {
  return bin < edges.length ? edges[bin] : Number.MAX_VALUE;
}

/**
 * Bins a row-major matrix into column-major bins plus a row-major copy. With `shared`, both
 * live in SharedArrayBuffers so worker threads read them without a copy; `allocBins` gives them
 * another home (an array of n bytes). NaN is a missing value;
 * a feature with missing values keeps at most maxBins - 1 value bins, plus its missing bin.
 */
export function binMatrix(X: Matrix, maxBins: number, shared: boolean, allocBins?: (n: number) => Uint8Array): BinnedData {
  const { rows, cols, data } = X;
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > 256) {
    throw new RangeError(`maxBins must be an integer in [2, 256], got ${maxBins}`);
  }
  const alloc = (n: number): ArrayBufferLike => (shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  const bins = allocBins ? allocBins(rows * cols) : new Uint8Array(alloc(rows * cols));
  const rowBins = allocBins ? allocBins(rows * cols) : new Uint8Array(alloc(rows * cols));
  const nBins = new Int32Array(cols);
  const edges: Float64Array[] = new Array(cols);
  // Passes over the row-major input run row by row (sequential memory); only columns that
  // are not small-range integers are gathered and sorted.
  const min = new Float64Array(cols).fill(Infinity);
  const max = new Float64Array(cols).fill(-Infinity);
  const integral = new Uint8Array(cols).fill(1);
  const hasMissing = new Uint8Array(cols);
  const nMissing = new Float64Array(cols);
  columnStats(data, rows, cols, min, max, integral, nMissing);
  // Small-range integer columns ("direct") count their values in one array: column f's value v
  // at counts[countOff[f] + v - min[f]] (countOff -1 for the other columns).
  const countOff = new Int32Array(cols).fill(-1);
  const valueBins = new Int32Array(cols);
  let nCounts = 0;
  for (let f = 0; f < cols; f++) {
    if (nMissing[f] > 0) hasMissing[f] = 1;
    valueBins[f] = hasMissing[f] ? maxBins - 1 : maxBins;
    if (nMissing[f] === rows) {
      // Nothing but missing values: one empty value bin.
      min[f] = 0;
      max[f] = 0;
    }
    if (integral[f] === 1 && max[f] - min[f] < MAX_DIRECT_RANGE) {
      countOff[f] = nCounts;
      nCounts += max[f] - min[f] + 1;
    }
  }
  const counts = new Uint32Array(nCounts);
  countValues(data, rows, cols, min, countOff, counts);
  // The bin of a direct column's value v is lut[countOff[f] + v - min[f]].
  const lut = new Uint8Array(nCounts);
  const binCounts = new Int32Array(cols * 256);
  for (let f = 0; f < cols; f++) {
    const o = countOff[f];
    if (o < 0) {
      const column = new Float64Array(rows - nMissing[f]);
      gatherColumn(data, rows, cols, f, column);
      edges[f] = computeEdges(column, valueBins[f]);
      // computeEdges sorted the column.
      countSortedBins(column, edges[f], binCounts, f * 256);
      continue;
    }
    const range = max[f] - min[f] + 1;
    const values: number[] = [];
    const cnt: number[] = [];
    for (let v = 0; v < range; v++) {
      if (counts[o + v] > 0) {
        values.push(v + min[f]);
        cnt.push(counts[o + v]);
      }
    }
    const e = edgesFromDistinct(values, cnt, rows - nMissing[f], valueBins[f]);
    edges[f] = e;
    fillLookup(e, min[f], range, counts, lut, o, binCounts, f * 256);
  }
  const missingBin = new Int32Array(cols);
  for (let f = 0; f < cols; f++) {
    missingBin[f] = edges[f].length + 1;
    nBins[f] = missingBin[f] + hasMissing[f];
    if (hasMissing[f]) binCounts[f * 256 + missingBin[f]] = nMissing[f];
  }
  binValues(data, rows, cols, min, max, countOff, lut, edges, missingBin, rowBins, bins);
  return { nRows: rows, nFeatures: cols, bins, rowBins, nBins, edges, missingBin, hasMissing, binCounts };
}

// binMatrix's passes over the data, each a function of its own that ends with its loop: in one
// large function, V8 would compile all of it again on stack replacement for every loop.

/** Per column: min, max, whether every value is an integer, and the count of missing values. */
function columnStats(data: Float64Array, rows: number, cols: number, min: Float64Array, max: Float64Array, integral: Uint8Array, nMissing: Float64Array): void {
  for (let r = 0, k = 0; r < rows; r++) {
    for (let f = 0; f < cols; f++, k++) {
      const v = data[k];
      if (Number.isNaN(v)) {
        nMissing[f]++;
        continue;
      }
      if (!Number.isFinite(v)) throw new RangeError(`infinite feature value at row ${r}, column ${f}`);
      if (v < min[f]) min[f] = v;
      if (v > max[f]) max[f] = v;
      if (integral[f] === 1 && !Number.isInteger(v)) integral[f] = 0;
    }
  }
}

/** Counts the values of the direct columns (countOff >= 0). */
function countValues(data: Float64Array, rows: number, cols: number, min: Float64Array, countOff: Int32Array, counts: Uint32Array): void {
  for (let r = 0, k = 0; r < rows; r++) {
    for (let f = 0; f < cols; f++, k++) {
      const o = countOff[f];
      const v = data[k];
      // An int32 index (v - min is a small integer): a typed array read, not a keyed property lookup.
      if (o >= 0 && !Number.isNaN(v)) counts[(o + v - min[f]) | 0]++;
    }
  }
}

/** The rows of each bin (at binCounts[off + bin]) from a column's sorted values: they fall in ascending bins. */
function countSortedBins(sorted: Float64Array, edges: Float64Array, binCounts: Int32Array, off: number): void {
  for (let i = 0, b = 0; i < sorted.length; i++) {
    while (b < edges.length && edges[b] <= sorted[i]) b++;
    binCounts[off + b]++;
  }
}

/**
 * A direct column's bin of each value min + v (v < range) into lut[o + v], and the rows of each
 * bin (counts[o + v] the rows of value min + v) into binCounts[off + bin].
 */
function fillLookup(
  edges: Float64Array,
  min: number,
  range: number,
  counts: Uint32Array,
  lut: Uint8Array,
  o: number,
  binCounts: Int32Array,
  off: number,
): void {
  for (let v = 0, b = 0; v < range; v++) {
    while (b < edges.length && edges[b] <= v + min) b++;
    lut[o + v] = b;
    binCounts[off + b] += counts[o + v];
  }
}

/** The non-missing values of column f, in row order. */
function gatherColumn(data: Float64Array, rows: number, cols: number, f: number, out: Float64Array): void {
  for (let r = 0, k = f, i = 0; r < rows; r++, k += cols) if (!Number.isNaN(data[k])) out[i++] = data[k];
}

/** Cells of a column's value grid (GridBins). */
const GRID_CELLS = 4096;

/**
 * binOf over one column's edges without a binary search per value: the value range [min, max] cut
 * into GRID_CELLS equal cells, each holding the bin of its lower end; a value's bin is its cell's,
 * moved past the few edges inside the cell (and back, should rounding put the value below its
 * cell's lower end). The same bin as binOf.
 */
export class GridBins {
  private readonly edges: Float64Array;
  private readonly min: number;
  private readonly scale: number;
  private readonly start = new Uint8Array(GRID_CELLS);

  constructor(edges: Float64Array, min: number, max: number) {
    this.edges = edges;
    this.min = min;
    this.scale = max > min ? GRID_CELLS / (max - min) : 0;
    for (let c = 0; c < GRID_CELLS; c++) this.start[c] = binOf(edges, this.scale > 0 ? min + c / this.scale : min);
  }

  bin(x: number): number {
    const e = this.edges;
    const cell = Math.min(GRID_CELLS - 1, Math.max(0, Math.floor((x - this.min) * this.scale)));
    let b = this.start[cell];
    while (b > 0 && e[b - 1] > x) b--;
    while (b < e.length && e[b] <= x) b++;
    return b;
  }
}

/**
 * Row-major bins (missing values to their column's missing bin, direct columns by lookup, the
 * others by their edges through a GridBins), a block of rows at a time, each block then copied
 * into the column-major bins while it is in cache.
 */
function binValues(
  data: Float64Array,
  rows: number,
  cols: number,
  min: Float64Array,
  max: Float64Array,
  countOff: Int32Array,
  lut: Uint8Array,
  edges: Float64Array[],
  missingBin: Int32Array,
  rowBins: Uint8Array,
  bins: Uint8Array,
): void {
  const grids = Array.from(edges, (e, f) => (countOff[f] < 0 ? new GridBins(e, min[f], max[f]) : null));
  const BLOCK = 512;
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let r = r0, k = r0 * cols; r < r1; r++) {
      for (let f = 0; f < cols; f++, k++) {
        const v = data[k];
        const o = countOff[f];
        rowBins[k] = Number.isNaN(v) ? missingBin[f] : o >= 0 ? lut[(o + v - min[f]) | 0] : grids[f]!.bin(v);
      }
    }
    for (let f = 0; f < cols; f++) {
      const out = f * rows;
      for (let r = r0; r < r1; r++) bins[out + r] = rowBins[r * cols + f];
    }
  }
}

/**
 * Bins other rows (validation, test) with the edges learned by binMatrix; missing values go to
 * each feature's missing bin. Row-major output (out[row * cols + f]).
 */
export function binRows(X: Matrix, binned: Pick<BinnedData, 'edges' | 'missingBin'>): Uint8Array {
  const { rows, cols, data } = X;
  if (cols !== binned.edges.length) throw new RangeError(`expected ${binned.edges.length} columns, got ${cols}`);
  for (let f = 0; f < cols; f++) {
    if (binned.missingBin[f] > 255) throw new RangeError(`feature ${f} has no room for a missing bin (maxBins must be <= 255)`);
  }
  const out = new Uint8Array(rows * cols);
  for (let k = 0; k < rows * cols; k++) {
    const f = k % cols;
    const v = data[k];
    out[k] = Number.isNaN(v) ? binned.missingBin[f] : binOf(binned.edges[f], v);
  }
  return out;
}
