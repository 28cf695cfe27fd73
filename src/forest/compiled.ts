// A predictor compiled from CompactTrees for speed: one row in microseconds, many rows in blocks.
//
// - Quantised thresholds: a row is first turned into threshold ranks, q[f] = how many of feature f's
//   thresholds are <= x[f] (a binary search per feature; NaN gets the count of all of them), so that
//   `x < threshold[bin]` becomes the integer test `q <= bin`: exact, and a node needs no float.
// - 4-byte nodes (when they fit: feature, bin and child offset packed in 32 bits; 12 bytes otherwise):
//   a full-depth 100-tree Covertype forest is ~30 MB instead of ~120 MB, so much more of it stays in cache.
// - Depth-first order: the left child follows its parent (often in the same cache line), the right one
//   is `off` nodes further.
// - Several trees walked at once for one row, so their cache misses overlap instead of queueing.
// - Blocks of rows walk one tree after the other while it is in cache, adding its leaves straight into
//   the rows' prediction vectors (predictBlock); ranks are bytes when they fit; large batches
//   are split over worker threads (predictBatch in ./batch.ts) sharing the same arrays.
// - A model that learned where missing values go (some node's defaultLeft is 1) uses the 12-byte
//   layout with a per-node flag: NaN's rank is -1, and such a node sends it left or right as learned
//   (as src/forest/predictor.ts and src/boosting/predictor.ts do). Elsewhere NaN goes right.
// The sums run over the trees in order (from the base scores for boosting, as its reference
// predictor adds them), so every path gives the same numbers bit for bit.

import { leafMarker, treeCount, validateCompact, type CompactTrees } from './compact.ts';
import type { Task } from './types.ts';

export interface CompileOptions {
  /** Trees walked together for one row (default 16; 1 walks one tree after the other). */
  interleave?: number;
  /** Rows per block in predictBlock (default BLOCK_ROWS). */
  blockRows?: number;
  /** Keep a block's ranks as bytes when every rank fits (default true; false: 4-byte ranks). */
  byteRanks?: boolean;
  /** Node order: 'dfs' (default; left child next to its parent) or 'bfs' (siblings adjacent, level by level). */
  order?: 'dfs' | 'bfs';
  /** Force the 12-byte node layout even when 4-byte nodes fit (to measure the difference). */
  wide?: boolean;
  /** Allocate the arrays in SharedArrayBuffers (default true), so worker threads can use them without a copy. */
  shared?: boolean;
}

/** Everything a CompiledTrees needs, in plain and typed-array fields (what is posted to worker threads). */
export interface CompiledParts {
  task: Task;
  combine: 'mean' | 'sum';
  nFeatures: number;
  nOutputs: number;
  leafWidth: number;
  nTrees: number;
  interleave: number;
  blockRows: number;
  /** A block's ranks fit in bytes (packed layout, at most 255 thresholds per feature). */
  byteRanks: boolean;
  order: 'dfs' | 'bfs';
  /** Packed: bits [0, binBits) bin, [binBits, binBits + featureBits) feature (all ones: leaf), the rest `off` (or the leaf's value row). */
  packed: boolean;
  binBits: number;
  featureBits: number;
  /** Packed: one word per node. Wide: three per node (feature or -1, bin, off or leaf row). */
  nodes: Int32Array;
  roots: Uint32Array;
  treeOutput: Uint32Array;
  base: Float64Array;
  leafValues: Float64Array;
  splitValues: Float64Array;
  splitStart: Uint32Array;
  /** Per node (wide layout only), 1 where a missing value goes left; null when none does. */
  defaultLeft: Uint8Array | null;
}

/** What scores rows: one row (predictRow) or a block of a row-major matrix (predictBlock). */
export interface BlockScorer {
  readonly nFeatures: number;
  readonly nOutputs: number;
  predictRow(x: ArrayLike<number>, out?: Float64Array, outOffset?: number): Float64Array;
  predictBlock(x: ArrayLike<number>, from: number, to: number, out: Float64Array, outFrom?: number): void;
}

function allocate<T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(
  Type: { new (buffer: ArrayBufferLike): T; BYTES_PER_ELEMENT: number },
  length: number,
  shared: boolean,
): T {
  const bytes = length * Type.BYTES_PER_ELEMENT;
  return new Type(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

function copyOf<T extends Int32Array | Uint32Array | Float64Array>(
  Type: { new (buffer: ArrayBufferLike): T; BYTES_PER_ELEMENT: number },
  source: ArrayLike<number>,
  shared: boolean,
): T {
  const out = allocate(Type, source.length, shared);
  out.set(source);
  return out;
}

const bitsFor = (n: number): number => Math.max(1, Math.ceil(Math.log2(n + 1)));

/** Compiles compact trees (validated first: a walk can never leave its tree). */
export function compileTrees(c: CompactTrees, options: CompileOptions = {}): CompiledTrees {
  validateCompact(c);
  const shared = options.shared ?? true;
  const order = options.order ?? 'dfs';
  const nTrees = treeCount(c);
  const nNodes = c.feature.length;
  const leaf = leafMarker(c.feature);
  let maxBins = 1;
  for (let f = 0; f < c.nFeatures; f++) maxBins = Math.max(maxBins, c.splitStart[f + 1] - c.splitStart[f]);
  const binBits = bitsFor(maxBins - 1);
  // All ones in the feature field marks a leaf.
  const featureBits = bitsFor(c.nFeatures);
  let maxTree = 0;
  for (let t = 0; t < nTrees; t++) maxTree = Math.max(maxTree, c.treeStart[t + 1] - c.treeStart[t]);
  const offBits = 32 - binBits - featureBits;
  // A learned missing-value direction needs a flag per node: the 12-byte layout carries it.
  const missing = c.defaultLeft !== undefined;
  const packed = !options.wide && !missing && offBits > 0 && Math.max(maxTree, c.leafValues.length / c.leafWidth) < 2 ** offBits;
  const nodes = allocate(Int32Array, packed ? nNodes : 3 * nNodes, shared);
  const roots = allocate(Uint32Array, nTrees, shared);
  const defaultLeft = missing ? allocate(Uint8Array, nNodes, shared) : null;
  const fLeaf = (1 << featureBits) - 1;

  // Locals, not c's fields, in the loops: a full-depth forest has millions of nodes (a cold start waits for them).
  const { feature, bin, child, treeStart } = c;
  const sourceLeft = c.defaultLeft;
  const shift = binBits + featureBits;
  const put = (g: number, source: number, f: number, off: number): void => {
    const isLeaf = f === leaf;
    const b = isLeaf ? 0 : bin[source];
    if (packed) nodes[g] = (off << shift) | ((isLeaf ? fLeaf : f) << binBits) | b | 0;
    else {
      nodes[3 * g] = isLeaf ? -1 : f;
      nodes[3 * g + 1] = b;
      nodes[3 * g + 2] = off;
      if (defaultLeft) defaultLeft[g] = sourceLeft?.[source] ?? 0;
    }
  };
  // The compact form is depth-first already ('dfs': left = k + 1, right = k + off); 'bfs' renumbers each
  // tree level by level, siblings adjacent (left = k + off, right = k + off + 1).
  const position = new Int32Array(order === 'dfs' ? 0 : Math.max(1, maxTree));
  const sequence = new Int32Array(order === 'dfs' ? 0 : Math.max(1, maxTree));
  for (let t = 0; t < nTrees; t++) {
    const start = treeStart[t];
    const n = treeStart[t + 1] - start;
    roots[t] = start;
    if (order === 'dfs') {
      for (let i = 0; i < n; i++) {
        const g = start + i;
        const f = feature[g];
        put(g, g, f, f === leaf ? child[g] : child[g] - i);
      }
      continue;
    }
    let count = 1;
    sequence[0] = 0;
    for (let k = 0; k < count; k++) {
      const i = sequence[k];
      if (feature[start + i] !== leaf) {
        sequence[count++] = i + 1;
        sequence[count++] = child[start + i];
      }
    }
    for (let k = 0; k < n; k++) position[sequence[k]] = k;
    for (let k = 0; k < n; k++) {
      const i = sequence[k];
      const f = feature[start + i];
      put(start + k, start + i, f, f === leaf ? child[start + i] : position[i + 1] - k);
    }
  }
  return new CompiledTrees({
    task: c.task,
    combine: c.combine,
    nFeatures: c.nFeatures,
    nOutputs: c.nOutputs,
    leafWidth: c.leafWidth,
    nTrees,
    interleave: Math.max(1, Math.min(options.interleave ?? 16, 64)),
    blockRows: Math.max(1, options.blockRows ?? BLOCK_ROWS),
    byteRanks: packed && maxBins <= 255 && (options.byteRanks ?? true),
    order,
    packed,
    binBits,
    featureBits,
    nodes,
    roots,
    treeOutput: copyOf(Uint32Array, c.treeOutput, shared),
    base: copyOf(Float64Array, c.base, shared),
    leafValues: copyOf(Float64Array, c.leafValues, shared),
    splitValues: copyOf(Float64Array, c.splitValues, shared),
    splitStart: copyOf(Uint32Array, c.splitStart, shared),
    defaultLeft,
  });
}

/**
 * Rows per block in predictBlock. A block walks one tree after the other, so each tree is read from
 * memory once per block: a full-depth Covertype tree is ~300 KB and rows share little of it below
 * the top levels, so large blocks pay off (bench/README-train.md: the test set on one thread took
 * 2.5 s with 1,024-row blocks, 1.6 s with 8,192 and 1.45 s with 16,384). A block's ranks and
 * outputs are read in order, so they need not stay in cache.
 */
export const BLOCK_ROWS = 16_384;

/** Most bytes a CompiledTrees keeps for a block's threshold ranks. */
const MAX_RANK_BYTES = 8 << 20;

export class CompiledTrees implements BlockScorer {
  readonly parts: CompiledParts;
  readonly task: Task;
  readonly nFeatures: number;
  readonly nOutputs: number;
  private readonly q: Int32Array;
  private readonly leafRows: Int32Array;
  private readonly cur: Int32Array;
  private blockQ: Int32Array | Uint8Array | undefined;

  constructor(parts: CompiledParts) {
    this.parts = parts;
    this.task = parts.task;
    this.nFeatures = parts.nFeatures;
    this.nOutputs = parts.nOutputs;
    this.q = new Int32Array(parts.nFeatures);
    this.leafRows = new Int32Array(parts.nTrees);
    this.cur = new Int32Array(parts.interleave);
  }

  /**
   * Threshold ranks of a row: q[f] = number of feature f's thresholds <= x[f]; for NaN all of them
   * (right at every split), or -1 when the model has learned missing-value directions.
   */
  quantize(x: ArrayLike<number>, xOffset: number, q: Int32Array | Uint8Array, qOffset: number): void {
    const { splitValues, splitStart, nFeatures } = this.parts;
    const nanRank = this.parts.defaultLeft ? -1 : undefined;
    for (let f = 0; f < nFeatures; f++) {
      const v = x[xOffset + f];
      let lo = splitStart[f];
      let hi = splitStart[f + 1];
      const first = lo;
      if (Number.isNaN(v)) {
        if (nanRank !== undefined) {
          q[qOffset + f] = nanRank;
          continue;
        }
        lo = hi;
      } else {
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (splitValues[mid] <= v) lo = mid + 1;
          else hi = mid;
        }
      }
      q[qOffset + f] = lo - first;
    }
  }

  /** Leaf value row reached in tree t by the row whose ranks are q[qOffset ..]. */
  private walk(t: number, q: Int32Array, qOffset: number): number {
    const { nodes, binBits, featureBits, roots } = this.parts;
    let i = roots[t];
    if (this.parts.packed) {
      const fMask = (1 << featureBits) - 1;
      const bMask = (1 << binBits) - 1;
      const shift = binBits + featureBits;
      const dfs = this.parts.order === 'dfs';
      for (;;) {
        const node = nodes[i];
        const f = (node >>> binBits) & fMask;
        const off = node >>> shift;
        if (f === fMask) return off;
        const right = q[qOffset + f] > (node & bMask);
        i = dfs ? (right ? i + off : i + 1) : i + off + (right ? 1 : 0);
      }
    }
    const defaultLeft = this.parts.defaultLeft;
    for (;;) {
      const f = nodes[3 * i];
      const off = nodes[3 * i + 2];
      if (f < 0) return off;
      const rank = q[qOffset + f];
      // rank -1: a missing value, sent where this node learned to send it.
      const right = rank < 0 ? defaultLeft?.[i] !== 1 : rank > nodes[3 * i + 1];
      i = this.parts.order === 'dfs' ? (right ? i + off : i + 1) : i + off + (right ? 1 : 0);
    }
  }

  /**
   * Adds tree t's leaf vector of each of the first n rows of the block's ranks q to that row's
   * prediction vector in out[outOffset + r * nOutputs ..]. Trees are added one after the other, so
   * every row's sum runs in tree order, as in predictRow.
   */
  private walkBlock(t: number, q: Int32Array | Uint8Array, n: number, out: Float64Array, outOffset: number): void {
    const { nodes, binBits, featureBits, roots, nFeatures, nOutputs, packed, order, leafWidth, leafValues } = this.parts;
    const o = outOffset + this.parts.treeOutput[t];
    if (!packed || order !== 'dfs') {
      for (let r = 0; r < n; r++) {
        const v = this.walk(t, q as Int32Array, r * nFeatures) * leafWidth;
        const at = o + r * nOutputs;
        for (let k = 0; k < leafWidth; k++) out[at + k] += leafValues[v + k];
      }
      return;
    }
    const fMask = (1 << featureBits) - 1;
    const bMask = (1 << binBits) - 1;
    const shift = binBits + featureBits;
    const root = roots[t];
    let r = 0;
    const add = (row: number, leaf: number): void => {
      const v = leaf * leafWidth;
      const a = o + row * nOutputs;
      for (let k = 0; k < leafWidth; k++) out[a + k] += leafValues[v + k];
    };
    // Four rows in lockstep: their loads are independent, so their cache misses overlap. Branch-free:
    // (bin - rank) >> 31 is all ones when the row goes right (which way is data, not something to predict).
    for (; r + 4 <= n; r += 4) {
      const q0 = r * nFeatures;
      const q1 = q0 + nFeatures;
      const q2 = q1 + nFeatures;
      const q3 = q2 + nFeatures;
      let i0 = root;
      let i1 = root;
      let i2 = root;
      let i3 = root;
      for (;;) {
        const n0 = nodes[i0];
        const n1 = nodes[i1];
        const n2 = nodes[i2];
        const n3 = nodes[i3];
        const f0 = (n0 >>> binBits) & fMask;
        const f1 = (n1 >>> binBits) & fMask;
        const f2 = (n2 >>> binBits) & fMask;
        const f3 = (n3 >>> binBits) & fMask;
        const moving = (f0 !== fMask ? 1 : 0) | (f1 !== fMask ? 2 : 0) | (f2 !== fMask ? 4 : 0) | (f3 !== fMask ? 8 : 0);
        if (moving === 0) break;
        if (moving & 1) i0 += 1 + (((n0 >>> shift) - 1) & (((n0 & bMask) - q[q0 + f0]) >> 31));
        if (moving & 2) i1 += 1 + (((n1 >>> shift) - 1) & (((n1 & bMask) - q[q1 + f1]) >> 31));
        if (moving & 4) i2 += 1 + (((n2 >>> shift) - 1) & (((n2 & bMask) - q[q2 + f2]) >> 31));
        if (moving & 8) i3 += 1 + (((n3 >>> shift) - 1) & (((n3 & bMask) - q[q3 + f3]) >> 31));
      }
      add(r, nodes[i0] >>> shift);
      add(r + 1, nodes[i1] >>> shift);
      add(r + 2, nodes[i2] >>> shift);
      add(r + 3, nodes[i3] >>> shift);
    }
    for (; r < n; r++) {
      const qOffset = r * nFeatures;
      let i = root;
      for (;;) {
        const node = nodes[i];
        const f = (node >>> binBits) & fMask;
        const off = node >>> shift;
        if (f === fMask) {
          add(r, off);
          break;
        }
        i += 1 + ((off - 1) & (((node & bMask) - q[qOffset + f]) >> 31));
      }
    }
  }

  /** leafRows[t] for every tree, walking `interleave` trees at a time (packed dfs layout) so their memory loads overlap. */
  private walkAll(q: Int32Array, qOffset: number, leafRows: Int32Array): void {
    const { nodes, binBits, featureBits, roots, nTrees, interleave, packed, order } = this.parts;
    if (!packed || order !== 'dfs' || interleave === 1) {
      for (let t = 0; t < nTrees; t++) leafRows[t] = this.walk(t, q, qOffset);
      return;
    }
    const cur = this.cur;
    const fMask = (1 << featureBits) - 1;
    const bMask = (1 << binBits) - 1;
    const shift = binBits + featureBits;
    for (let t0 = 0; t0 < nTrees; t0 += interleave) {
      const g = Math.min(interleave, nTrees - t0);
      for (let j = 0; j < g; j++) cur[j] = roots[t0 + j];
      let active = g;
      while (active > 0) {
        active = 0;
        for (let j = 0; j < g; j++) {
          const i = cur[j];
          if (i < 0) continue;
          const node = nodes[i];
          const f = (node >>> binBits) & fMask;
          const off = node >>> shift;
          if (f === fMask) {
            leafRows[t0 + j] = off;
            cur[j] = -1;
            continue;
          }
          cur[j] = i + 1 + (off - 1) * ((q[qOffset + f] > (node & bMask)) as unknown as number);
          active++;
        }
      }
    }
  }

  /** Adds the trees' leaf vectors (in tree order) and finishes: mean, or base + sum. */
  private combine(leafRows: Int32Array, stride: number, r: number, out: Float64Array, outOffset: number): void {
    const { nTrees, nOutputs, leafWidth, leafValues, treeOutput, combine, base } = this.parts;
    // Boosting's reference predictor starts from the base scores: so does this sum (same rounding).
    for (let k = 0; k < nOutputs; k++) out[outOffset + k] = combine === 'sum' ? base[k] : 0;
    for (let t = 0; t < nTrees; t++) {
      const v = leafRows[t * stride + r] * leafWidth;
      const o = outOffset + treeOutput[t];
      for (let k = 0; k < leafWidth; k++) out[o + k] += leafValues[v + k];
    }
    if (combine === 'mean') for (let k = 0; k < nOutputs; k++) out[outOffset + k] /= nTrees;
  }

  /** The prediction vector of one row: class probabilities (forest), the mean (regression forest) or raw scores (boosting). */
  predictRow(x: ArrayLike<number>, out: Float64Array = new Float64Array(this.nOutputs), outOffset = 0): Float64Array {
    this.quantize(x, 0, this.q, 0);
    this.walkAll(this.q, 0, this.leafRows);
    this.combine(this.leafRows, 1, 0, out, outOffset);
    return out;
  }

  /**
   * Prediction vectors of rows [from, to) of the row-major matrix x (nFeatures columns), written to
   * out[(r - outFrom) * nOutputs ..]: block by block, each block walking one tree after the other
   * and adding its leaves straight into the block's prediction vectors.
   */
  predictBlock(x: ArrayLike<number>, from: number, to: number, out: Float64Array, outFrom = from): void {
    const { nFeatures, nTrees, nOutputs, combine, base, byteRanks } = this.parts;
    // The ranks buffer grows to the largest block seen, at most MAX_RANK_BYTES (many features: fewer rows).
    const rankBytes = byteRanks ? 1 : 4;
    const blockRows = Math.max(1, Math.min(this.parts.blockRows, Math.floor(MAX_RANK_BYTES / (rankBytes * nFeatures))));
    const need = Math.min(blockRows, to - from) * nFeatures;
    if (!this.blockQ || this.blockQ.length < need) this.blockQ = byteRanks ? new Uint8Array(need) : new Int32Array(need);
    const q = this.blockQ;
    for (let b = from; b < to; b += blockRows) {
      const n = Math.min(blockRows, to - b);
      for (let r = 0; r < n; r++) this.quantize(x, (b + r) * nFeatures, q, r * nFeatures);
      const o = (b - outFrom) * nOutputs;
      // Boosting's reference predictor starts from the base scores: so does this sum (same rounding).
      for (let r = 0; r < n; r++) for (let k = 0; k < nOutputs; k++) out[o + r * nOutputs + k] = combine === 'sum' ? base[k] : 0;
      for (let t = 0; t < nTrees; t++) this.walkBlock(t, q, n, out, o);
      if (combine === 'mean') for (let i = o; i < o + n * nOutputs; i++) out[i] /= nTrees;
    }
  }

  /** Bytes of the node table. */
  get nodeBytes(): number {
    return this.parts.nodes.byteLength;
  }
}
