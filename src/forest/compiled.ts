// A predictor compiled from CompactTrees for speed: one row in microseconds, many rows in blocks.
//
// - Quantised thresholds: a row is first turned into threshold ranks, q[f] = how many of feature f's
//   thresholds are <= x[f] (a binary search per feature; NaN gets the count of all of them), so that
//   `x < threshold[bin]` becomes the integer test `q <= bin`: exact, and a node needs no float.
// - 4-byte nodes (when they fit: feature, bin and child offset packed in 32 bits; 12 bytes otherwise):
//   a full-depth 100-tree Covertype forest is ~30 MB instead of ~120 MB, so much more of it stays in cache.
// - Node order 'blocks' (the default): siblings side by side (left = i + off, right = i + off + 1), and
//   each tree cut into blocks of up to 32 nodes (a subtree's top, breadth-first, whole sibling pairs),
//   each block inside one aligned 128-byte pair of cache lines of a page-aligned array: a walk moves to
//   another block every four levels or more, not at nearly every right turn as in depth-first order.
//   On the full Covertype forest, 100-row blocks took 17-40 % less CPU than depth-first, and 32-node
//   blocks 5-11 % less than 16-node ones (one line each); 64-node blocks were no better than 16.
// - Several trees walked at once for one row, so their cache misses overlap instead of queueing.
// - Blocks of rows walk one tree after the other while it is in cache, adding its leaves straight into
//   the rows' prediction vectors (predictBlock); ranks are bytes when they fit; large batches
//   are split over worker threads (predictBatch in ./batch.ts) sharing the same arrays.
// - A model that learned where missing values go (some node's defaultLeft is 1, as every boosting
//   model) keeps that flag in one more bit of its 4-byte nodes, above the feature (in a flag table
//   with the 12-byte layout when they do not fit). NaN's rank is then a marker above every bin, which
//   goes right at the bin test, and the flag flips that (`^ isNaN & flag`, no branch), so each node
//   sends it where it learned to (as src/forest/predictor.ts and src/boosting/predictor.ts do).
//   Without learned directions NaN goes right everywhere.
// The sums run over the trees in order (from the base scores for boosting, as its reference
// predictor adds them), so every path gives the same numbers bit for bit.

import { leafMarker, treeCount, validateCompact, type CompactTrees } from './compact.ts';
import type { Task } from './types.ts';

/** How a tree's nodes are laid out (see the top of this file); every order gives the same predictions. */
export type NodeOrder = 'blocks' | 'dfs' | 'bfs';

export interface CompileOptions {
  /** Trees walked together for one row (default 16; 1 walks one tree after the other). */
  interleave?: number;
  /** Rows per block in predictBlock (default BLOCK_ROWS). */
  blockRows?: number;
  /** Keep a block's ranks as bytes when every rank fits (default true; false: 4-byte ranks). */
  byteRanks?: boolean;
  /** Node order: 'blocks' (default: siblings adjacent, 128-byte blocks), 'dfs' (left child next to its parent) or 'bfs' (siblings adjacent, level by level). */
  order?: NodeOrder;
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
  order: NodeOrder;
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
  /** Per node (wide layout only), 1 where a missing value goes left; null when none does or the layout is packed. */
  defaultLeft: Uint8Array | null;
  /** Packed layout: 1 when each node has a missing-value flag at bit binBits + featureBits (the offset starts after it), else 0. */
  leftBit: number;
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

/**
 * The node table, in memory that starts a page (a WebAssembly memory's does; a large ArrayBuffer's is
 * malloc's, 16 bytes into a page), so that the 'blocks' order's 128-byte blocks are pairs of cache lines.
 */
function allocateNodes(length: number, shared: boolean): Int32Array {
  const pages = Math.max(1, Math.ceil((length * Int32Array.BYTES_PER_ELEMENT) / 65_536));
  const { WebAssembly: wasm } = globalThis as unknown as WasmGlobal;
  return new Int32Array(new wasm.Memory({ initial: pages, maximum: pages, shared }).buffer, 0, length);
}

/** The one piece of the WebAssembly API used here (the ES lib the project compiles against has none). */
interface WasmGlobal {
  WebAssembly: { Memory: new (size: { initial: number; maximum: number; shared: boolean }) => { buffer: ArrayBuffer | SharedArrayBuffer } };
}

/** Nodes per block of the 'blocks' order: 128 bytes of 4-byte nodes. */
const BLOCK_NODES = 32;

/**
 * Lays out one tree (nodes [start, start + n) of the compact trees) in a sibling order: position[i] is
 * the tree-local slot of node i; returns the slots the tree takes. 'bfs': level by level. 'blocks':
 * the root, or a sibling pair, and as many whole sibling pairs below it, breadth-first, as fit in a
 * block's slots make a block; pairs that do not fit start blocks of their own; a block that would
 * straddle a boundary of BLOCK_NODES slots starts after it (a gap of fewer slots than it has nodes, so a
 * tree takes under 2n + BLOCK_NODES).
 */
function layOutTree(
  order: 'bfs' | 'blocks',
  feature: CompactTrees['feature'],
  child: Uint32Array,
  start: number,
  leaf: number,
  position: Int32Array,
  sequence: Int32Array,
  pending: Int32Array,
): number {
  if (order === 'bfs') {
    let count = 1;
    sequence[0] = 0;
    for (let k = 0; k < count; k++) {
      const i = sequence[k];
      position[i] = k;
      if (feature[start + i] !== leaf) {
        sequence[count++] = i + 1;
        sequence[count++] = child[start + i];
      }
    }
    return count;
  }
  let slots = 0;
  let nPending = 1;
  pending[0] = 0;
  for (let b = 0; b < nPending; b++) {
    // A block starts at the root, or at a left child (its parent's next node) and its sibling.
    const first = pending[b];
    let count = 0;
    sequence[count++] = first;
    if (first !== 0) sequence[count++] = child[start + first - 1];
    for (let k = 0; k < count; k++) {
      const i = sequence[k];
      if (feature[start + i] === leaf) continue;
      if (count + 2 <= BLOCK_NODES) {
        sequence[count++] = i + 1;
        sequence[count++] = child[start + i];
      } else pending[nPending++] = i + 1;
    }
    if ((slots % BLOCK_NODES) + count > BLOCK_NODES) slots = Math.ceil(slots / BLOCK_NODES) * BLOCK_NODES;
    for (let k = 0; k < count; k++) position[sequence[k]] = slots + k;
    slots += count;
  }
  return slots;
}

/** Compiles compact trees (validated first: a walk can never leave its tree). */
export function compileTrees(c: CompactTrees, options: CompileOptions = {}): CompiledTrees {
  validateCompact(c);
  const shared = options.shared ?? true;
  const order = options.order ?? 'blocks';
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
  // The most slots a tree (so an offset within it) and all trees can take: blocks leave gaps.
  const treeSpan = order === 'blocks' ? 2 * maxTree + BLOCK_NODES : maxTree;
  const maxSlots = order === 'blocks' ? 2 * nNodes + BLOCK_NODES * nTrees : nNodes;
  // A learned missing-value direction needs a flag per node: a bit of a packed node, or a table.
  const missing = c.defaultLeft !== undefined;
  const leftBit = missing ? 1 : 0;
  const offBits = 32 - binBits - featureBits - leftBit;
  const packed = !options.wide && offBits > 0 && Math.max(treeSpan, c.leafValues.length / c.leafWidth) < 2 ** offBits;
  const words = packed ? 1 : 3;
  // Room for the most slots; the pages past the ones used are never touched, so they take no memory.
  const table = allocateNodes(words * maxSlots, shared);
  const roots = allocate(Uint32Array, nTrees, shared);
  const leftTable = missing && !packed ? allocate(Uint8Array, maxSlots, shared) : null;
  const fLeaf = (1 << featureBits) - 1;

  // Locals, not c's fields, in the loops: a full-depth forest has millions of nodes (a cold start waits for them).
  const { feature, bin, child, treeStart } = c;
  const sourceLeft = c.defaultLeft;
  const flagShift = binBits + featureBits;
  const shift = flagShift + leftBit;
  const dfs = order === 'dfs';
  // Tree-local work arrays: dfs keeps the compact trees' own (depth-first) order and needs none.
  const position = new Int32Array(dfs ? 0 : maxTree);
  const sequence = new Int32Array(dfs ? 0 : maxTree);
  const pending = new Int32Array(dfs ? 0 : maxTree);
  let base = 0;
  for (let t = 0; t < nTrees; t++) {
    const start = treeStart[t];
    const n = treeStart[t + 1] - start;
    // A tree starts a block; the gaps between its blocks hold leaves (no node points at them).
    if (order === 'blocks') base = Math.ceil(base / BLOCK_NODES) * BLOCK_NODES;
    const slots = dfs ? n : layOutTree(order, feature, child, start, leaf, position, sequence, pending);
    if (order === 'blocks') {
      if (packed) table.fill(fLeaf << binBits, base, base + slots);
      else for (let g = base; g < base + slots; g++) table[3 * g] = -1;
    }
    // The root comes first in every order.
    roots[t] = base;
    for (let i = 0; i < n; i++) {
      const source = start + i;
      const g = base + (dfs ? i : position[i]);
      const f = feature[source];
      const isLeaf = f === leaf;
      // dfs: left = g + 1, right = g + off. Sibling orders: left = g + off, right = g + off + 1.
      const off = isLeaf ? child[source] : dfs ? child[source] - i : base + position[i + 1] - g;
      const b = isLeaf ? 0 : bin[source];
      if (packed) table[g] = (off << shift) | ((sourceLeft?.[source] ?? 0) << flagShift) | ((isLeaf ? fLeaf : f) << binBits) | b | 0;
      else {
        table[3 * g] = isLeaf ? -1 : f;
        table[3 * g + 1] = b;
        table[3 * g + 2] = off;
        if (leftTable) leftTable[g] = sourceLeft?.[source] ?? 0;
      }
    }
    base += slots;
  }
  const nodes = table.subarray(0, words * base);
  const defaultLeft = leftTable ? leftTable.subarray(0, base) : null;
  return new CompiledTrees({
    task: c.task,
    combine: c.combine,
    nFeatures: c.nFeatures,
    nOutputs: c.nOutputs,
    leafWidth: c.leafWidth,
    nTrees,
    interleave: Math.max(1, Math.min(options.interleave ?? 16, 64)),
    blockRows: Math.max(1, options.blockRows ?? BLOCK_ROWS),
    // A byte rank of 255 is the NaN marker when nodes carry the missing-value flag.
    byteRanks: packed && maxBins <= 255 - leftBit && (options.byteRanks ?? true),
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
    leftBit: packed ? leftBit : 0,
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

/** Blocks of fewer rows than this walk eight rows at a time, larger ones four (see walkBlock). */
const EIGHT_LANES_BELOW = 2048;

/** NaN's rank is 2^nanShift - 1 when nodes carry the missing-value flag: above every rank a byte or an int holds here. */
const nanShift = (q: Int32Array | Uint8Array): number => (q instanceof Uint8Array ? 8 : 30);

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
   * (right at every split), or when the model has learned missing-value directions a marker (nanRank).
   */
  quantize(x: ArrayLike<number>, xOffset: number, q: Int32Array | Uint8Array, qOffset: number): void {
    const { splitValues, splitStart, nFeatures } = this.parts;
    const nanRank = this.nanRank(q);
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

  /**
   * The rank quantize gives NaN in q, when the model has learned missing-value directions: -1 (wide
   * layout), else a marker above every bin, 2^nanShift(q) - 1 (255 for byte ranks, 2^30 - 1 for int
   * ranks); undefined without learned directions.
   */
  private nanRank(q: Int32Array | Uint8Array): number | undefined {
    if (this.parts.defaultLeft) return -1;
    if (this.parts.leftBit === 0) return undefined;
    return 2 ** nanShift(q) - 1;
  }

  /** Leaf value row reached in tree t by the row whose ranks are q[qOffset ..]. */
  private walk(t: number, q: Int32Array | Uint8Array, qOffset: number): number {
    const { nodes, binBits, featureBits, roots, leftBit } = this.parts;
    let i = roots[t];
    if (this.parts.packed) {
      const fMask = (1 << featureBits) - 1;
      const bMask = (1 << binBits) - 1;
      const flagShift = binBits + featureBits;
      const shift = flagShift + leftBit;
      const nan = leftBit === 1 ? 2 ** nanShift(q) - 1 : -1;
      const dfs = this.parts.order === 'dfs';
      for (;;) {
        const node = nodes[i];
        const f = (node >>> binBits) & fMask;
        const off = node >>> shift;
        if (f === fMask) return off;
        const rank = q[qOffset + f];
        const right = rank === nan ? ((node >>> flagShift) & 1) === 0 : rank > (node & bMask);
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
   * Adds every tree's leaf vector of each of the first n rows of the block's ranks q to that row's
   * prediction vector in out[outOffset + r * nOutputs ..]. Trees are added one after the other, so
   * every row's sum runs in tree order, as in predictRow.
   */
  private walkBlock(q: Int32Array | Uint8Array, n: number, out: Float64Array, outOffset: number): void {
    const { nodes, binBits, featureBits, roots, nFeatures, nOutputs, nTrees, treeOutput, packed, order, leafWidth, leafValues } = this.parts;
    const add = (at: number, leaf: number): void => {
      const v = leaf * leafWidth;
      for (let k = 0; k < leafWidth; k++) out[at + k] += leafValues[v + k];
    };
    const fMask = (1 << featureBits) - 1;
    const bMask = (1 << binBits) - 1;
    const shift = binBits + featureBits;
    const lockstep = packed && order !== 'dfs';
    if (lockstep && this.parts.leftBit === 1) {
      this.walkBlockMissing(q, n, out, outOffset);
      return;
    }
    for (let t = 0; t < nTrees; t++) {
      const o = outOffset + treeOutput[t];
      const root = roots[t];
      let r = 0;
      if (lockstep) {
        // Rows in lockstep: their loads are independent, so their cache misses overlap. Branch-free:
        // (bin - rank) >>> 31 is 1 when the row goes right (which way is data, not something to predict).
        // Eight at once in a small block, whose trees are mostly not in cache; four in a large one, whose
        // trees are, where eight would wait longer for the deepest of them (full Covertype forest, CPU:
        // 100-row blocks 7 % less with eight, 16,384-row blocks 17 % more).
        for (; n < EIGHT_LANES_BELOW && r + 8 <= n; r += 8) {
          const q0 = r * nFeatures;
          const q1 = q0 + nFeatures;
          const q2 = q1 + nFeatures;
          const q3 = q2 + nFeatures;
          const q4 = q3 + nFeatures;
          const q5 = q4 + nFeatures;
          const q6 = q5 + nFeatures;
          const q7 = q6 + nFeatures;
          let i0 = root;
          let i1 = root;
          let i2 = root;
          let i3 = root;
          let i4 = root;
          let i5 = root;
          let i6 = root;
          let i7 = root;
          for (;;) {
            const n0 = nodes[i0];
            const n1 = nodes[i1];
            const n2 = nodes[i2];
            const n3 = nodes[i3];
            const n4 = nodes[i4];
            const n5 = nodes[i5];
            const n6 = nodes[i6];
            const n7 = nodes[i7];
            const f0 = (n0 >>> binBits) & fMask;
            const f1 = (n1 >>> binBits) & fMask;
            const f2 = (n2 >>> binBits) & fMask;
            const f3 = (n3 >>> binBits) & fMask;
            const f4 = (n4 >>> binBits) & fMask;
            const f5 = (n5 >>> binBits) & fMask;
            const f6 = (n6 >>> binBits) & fMask;
            const f7 = (n7 >>> binBits) & fMask;
            const moving =
              (f0 !== fMask ? 1 : 0) |
              (f1 !== fMask ? 2 : 0) |
              (f2 !== fMask ? 4 : 0) |
              (f3 !== fMask ? 8 : 0) |
              (f4 !== fMask ? 16 : 0) |
              (f5 !== fMask ? 32 : 0) |
              (f6 !== fMask ? 64 : 0) |
              (f7 !== fMask ? 128 : 0);
            if (moving === 0) break;
            if (moving & 1) i0 += (n0 >>> shift) + (((n0 & bMask) - q[q0 + f0]) >>> 31);
            if (moving & 2) i1 += (n1 >>> shift) + (((n1 & bMask) - q[q1 + f1]) >>> 31);
            if (moving & 4) i2 += (n2 >>> shift) + (((n2 & bMask) - q[q2 + f2]) >>> 31);
            if (moving & 8) i3 += (n3 >>> shift) + (((n3 & bMask) - q[q3 + f3]) >>> 31);
            if (moving & 16) i4 += (n4 >>> shift) + (((n4 & bMask) - q[q4 + f4]) >>> 31);
            if (moving & 32) i5 += (n5 >>> shift) + (((n5 & bMask) - q[q5 + f5]) >>> 31);
            if (moving & 64) i6 += (n6 >>> shift) + (((n6 & bMask) - q[q6 + f6]) >>> 31);
            if (moving & 128) i7 += (n7 >>> shift) + (((n7 & bMask) - q[q7 + f7]) >>> 31);
          }
          add(o + r * nOutputs, nodes[i0] >>> shift);
          add(o + (r + 1) * nOutputs, nodes[i1] >>> shift);
          add(o + (r + 2) * nOutputs, nodes[i2] >>> shift);
          add(o + (r + 3) * nOutputs, nodes[i3] >>> shift);
          add(o + (r + 4) * nOutputs, nodes[i4] >>> shift);
          add(o + (r + 5) * nOutputs, nodes[i5] >>> shift);
          add(o + (r + 6) * nOutputs, nodes[i6] >>> shift);
          add(o + (r + 7) * nOutputs, nodes[i7] >>> shift);
        }
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
            if (moving & 1) i0 += (n0 >>> shift) + (((n0 & bMask) - q[q0 + f0]) >>> 31);
            if (moving & 2) i1 += (n1 >>> shift) + (((n1 & bMask) - q[q1 + f1]) >>> 31);
            if (moving & 4) i2 += (n2 >>> shift) + (((n2 & bMask) - q[q2 + f2]) >>> 31);
            if (moving & 8) i3 += (n3 >>> shift) + (((n3 & bMask) - q[q3 + f3]) >>> 31);
          }
          add(o + r * nOutputs, nodes[i0] >>> shift);
          add(o + (r + 1) * nOutputs, nodes[i1] >>> shift);
          add(o + (r + 2) * nOutputs, nodes[i2] >>> shift);
          add(o + (r + 3) * nOutputs, nodes[i3] >>> shift);
        }
        for (; r < n; r++) {
          const qr = r * nFeatures;
          let i = root;
          for (;;) {
            const node = nodes[i];
            const f = (node >>> binBits) & fMask;
            if (f === fMask) break;
            i += (node >>> shift) + (((node & bMask) - q[qr + f]) >>> 31);
          }
          add(o + r * nOutputs, nodes[i] >>> shift);
        }
      }
      // Every row of the dfs and wide layouts one at a time.
      for (; r < n; r++) add(o + r * nOutputs, this.walk(t, q, r * nFeatures));
    }
  }

  /**
   * walkBlock for packed sibling-order nodes that carry the missing-value flag: four rows in lockstep,
   * each step going right when rank > bin, flipped for a NaN rank (the marker 2^sh - 1, the only rank
   * with (rank + 1) >>> sh = 1) at a node whose flag sends it left.
   */
  private walkBlockMissing(q: Int32Array | Uint8Array, n: number, out: Float64Array, outOffset: number): void {
    const { nodes, binBits, featureBits, roots, nFeatures, nOutputs, nTrees, treeOutput, leafWidth, leafValues } = this.parts;
    const add = (at: number, leaf: number): void => {
      const v = leaf * leafWidth;
      for (let k = 0; k < leafWidth; k++) out[at + k] += leafValues[v + k];
    };
    const fMask = (1 << featureBits) - 1;
    const bMask = (1 << binBits) - 1;
    const flagShift = binBits + featureBits;
    const shift = flagShift + 1;
    const sh = nanShift(q);
    for (let t = 0; t < nTrees; t++) {
      const o = outOffset + treeOutput[t];
      const root = roots[t];
      let r = 0;
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
          // -1 at an internal node, 0 at a leaf (whose lane stays put: no branch per lane). A leaf's
          // "feature" fMask reads a rank past the row's, or in the padding after the block's ranks.
          const m0 = (f0 - fMask) >> 31;
          const m1 = (f1 - fMask) >> 31;
          const m2 = (f2 - fMask) >> 31;
          const m3 = (f3 - fMask) >> 31;
          if ((m0 | m1 | m2 | m3) === 0) break;
          const k0 = q[q0 + f0];
          const k1 = q[q1 + f1];
          const k2 = q[q2 + f2];
          const k3 = q[q3 + f3];
          i0 += m0 & ((n0 >>> shift) + ((((n0 & bMask) - k0) >>> 31) ^ (((k0 + 1) >>> sh) & (n0 >>> flagShift))));
          i1 += m1 & ((n1 >>> shift) + ((((n1 & bMask) - k1) >>> 31) ^ (((k1 + 1) >>> sh) & (n1 >>> flagShift))));
          i2 += m2 & ((n2 >>> shift) + ((((n2 & bMask) - k2) >>> 31) ^ (((k2 + 1) >>> sh) & (n2 >>> flagShift))));
          i3 += m3 & ((n3 >>> shift) + ((((n3 & bMask) - k3) >>> 31) ^ (((k3 + 1) >>> sh) & (n3 >>> flagShift))));
        }
        add(o + r * nOutputs, nodes[i0] >>> shift);
        add(o + (r + 1) * nOutputs, nodes[i1] >>> shift);
        add(o + (r + 2) * nOutputs, nodes[i2] >>> shift);
        add(o + (r + 3) * nOutputs, nodes[i3] >>> shift);
      }
      for (; r < n; r++) add(o + r * nOutputs, this.walk(t, q, r * nFeatures));
    }
  }

  /** leafRows[t] for every tree, walking `interleave` trees at a time (packed layout) so their memory loads overlap. */
  private walkAll(q: Int32Array, qOffset: number, leafRows: Int32Array): void {
    const { nodes, binBits, featureBits, roots, nTrees, interleave, packed, order } = this.parts;
    if (!packed || interleave === 1 || this.parts.leftBit === 1) {
      for (let t = 0; t < nTrees; t++) leafRows[t] = this.walk(t, q, qOffset);
      return;
    }
    const cur = this.cur;
    const fMask = (1 << featureBits) - 1;
    const bMask = (1 << binBits) - 1;
    const shift = binBits + featureBits;
    const dfs = order === 'dfs';
    for (let t0 = 0; t0 < nTrees; t0 += interleave) {
      const g = Math.min(interleave, nTrees - t0);
      for (let j = 0; j < g; j++) cur[j] = roots[t0 + j];
      // The sibling orders step off or off + 1, dfs 1 or off: a loop each, so a step tests nothing else.
      if (!dfs) {
        for (let active = g; active > 0; ) {
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
            const right = (q[qOffset + f] > (node & bMask)) as unknown as number;
            cur[j] = i + off + right;
            active++;
          }
        }
        continue;
      }
      for (let active = g; active > 0; ) {
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
          const right = (q[qOffset + f] > (node & bMask)) as unknown as number;
          cur[j] = i + 1 + (off - 1) * right;
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
    // Padding after the ranks: walkBlockMissing's lanes at a leaf read the rank of "feature" 2^featureBits - 1.
    const padded = need + (1 << this.parts.featureBits);
    if (!this.blockQ || this.blockQ.length < padded) this.blockQ = byteRanks ? new Uint8Array(padded) : new Int32Array(padded);
    const q = this.blockQ;
    for (let b = from; b < to; b += blockRows) {
      const n = Math.min(blockRows, to - b);
      for (let r = 0; r < n; r++) this.quantize(x, (b + r) * nFeatures, q, r * nFeatures);
      const o = (b - outFrom) * nOutputs;
      // Boosting's reference predictor starts from the base scores: so does this sum (same rounding).
      for (let r = 0; r < n; r++) for (let k = 0; k < nOutputs; k++) out[o + r * nOutputs + k] = combine === 'sum' ? base[k] : 0;
      this.walkBlock(q, n, out, o);
      if (combine === 'mean') for (let i = o; i < o + n * nOutputs; i++) out[i] /= nTrees;
    }
  }

  /** Bytes of the node table. */
  get nodeBytes(): number {
    return this.parts.nodes.byteLength;
  }
}
