// Leaf-wise (best-first) growth of one regression tree on gradient histograms, as LightGBM:
// every leaf knows its best split; the leaf with the largest gain is split next until maxLeaves.
// A leaf's rows are the contiguous range [start, end) of `idx`, partitioned stably in place.
// The smaller child's histograms are built from its rows, the larger child's are the parent's
// minus the smaller one's (HistogramPool). Missing values have their own bin; each split tries
// them on both sides and keeps the better one (the default direction).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HistogramPool } from '../forest/histogram.ts';
import {
  accumulateNode,
  completeNode,
  CHANNELS,
  chunkCount,
  chunkStart,
  denseRuns,
  deriveBins,
  featureLayout,
  type FeatureLayout,
  histChunkCount,
  MAX_HIST_CHUNKS,
  spreadBundles,
} from './histograms.ts';
import {
  CTRL,
  type GradientArrays,
  type GrowerConfig,
  type GrowerData,
  type GrowOutput,
  partitionRows,
  runTask,
  searchLeafInto,
  type SharedWork,
  TASK,
  updateGradients,
} from './parallel.ts';
import { readSplit, SPLIT_FIELDS, type SplitRecord } from './splits.ts';
import type { Objective } from './objective.ts';
import { histKernels, WasmArena } from './wasm/arena.ts';

export type { GrowerConfig, GrowerData } from './parallel.ts';
export type { SplitRecord } from './splits.ts';

/** A grown tree over bins; node ids as the model (root 0, children adjacent: right = left + 1). */
export interface GrownTree {
  feature: Int32Array;
  bin: Int32Array;
  defaultLeft: Uint8Array;
  left: Int32Array;
  right: Int32Array;
  /** Leaf output -G / (H + l2) (not yet scaled by the learning rate); 0 for internal nodes. */
  value: Float64Array;
  /** Split gain of internal nodes. */
  gain: Float64Array;
  /** Leaves and the range of `idx` positions holding their rows (none in a tree read back from OutputTrees). */
  leafNodes: Int32Array;
  leafStart: Int32Array;
  leafEnd: Int32Array;
}

interface Leaf {
  node: number;
  start: number;
  end: number;
  depth: number;
  G: number;
  H: number;
  buf: number;
  split: SplitRecord | null;
}

/**
 * Tree grower worker threads. They are started before the data they work on exists, so that they
 * boot while the training set is binned, and get it from TreeGrower.attach.
 */
export class HistWorkers {
  readonly workers: Worker[] = [];
  private error: unknown = null;

  constructor(n: number) {
    const url = new URL(`./hist-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
    for (let i = 0; i < n; i++) {
      const w = new Worker(url);
      w.on('error', (e) => {
        this.error ??= e;
      });
      this.workers.push(w);
    }
  }

  /** Terminates the workers; rethrows the first error a worker raised. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    if (this.error !== null) throw this.error;
  }
}

export class TreeGrower {
  readonly data: GrowerData;
  readonly cfg: GrowerConfig;
  readonly pool: HistogramPool;
  /** Row positions; callers fill idx[0 .. m) with the (ascending) rows of the tree. */
  readonly idx: Int32Array;
  /** The arrays shared with the workers (the rows and their layout, the chunks' partial histograms, partition's). */
  private readonly work: SharedWork;
  /** Features of the current tree (colsample): features[0 .. nTreeFeatures). */
  private readonly features: Int32Array;
  private nTreeFeatures = 0;
  /** The current tree's dense columns (scratch of grow). */
  private readonly treeDense: Int32Array;
  /** The current tree's dense runs (rows.runs) and whether it has sparse features. */
  private nRuns = 0;
  private treeSparse = false;
  private workers: Worker[] = [];
  /** findBestSplit's record (splits.ts: writeSplit). */
  private readonly splitOut: Float64Array;
  /** GROW chunks taken by this (the calling) thread. */
  private readonly growOutput = threadGrowOutput();
  /** Where the histogram kernels' arrays live (null: the JavaScript kernels, see FeatureLayout.memory). */
  private readonly arena: WasmArena | null;
  /** The gradient pairs of a tree whose own are not in the arena, copied (see rootLeaf). */
  private arenaGh: Float32Array | null = null;

  /**
   * With `shared`, the arrays the workers read are SharedArrayBuffer-backed (the data's too, and
   * the gradient arrays' when given: computeGradients then shares that work as well). `layout`: the
   * data's, when already made; `outputs` (> 1, with gradients): the number of trees an iteration
   * grows, to be grown a tree per thread (growOutputs). `arena`: the histograms are summed by the
   * WebAssembly kernels over arrays of this arena (the layout's and the grower's; the gradient
   * arrays' gh must be in it too); a layout given in an arena's memory brings its arena.
   */
  constructor(
    data: GrowerData,
    cfg: GrowerConfig,
    shared: boolean,
    gradients: GradientArrays | null = null,
    options: { layout?: FeatureLayout; outputs?: number; arena?: WasmArena } = {},
  ) {
    this.data = data;
    this.cfg = cfg;
    const n = data.nRows;
    const p = data.nFeatures;
    const alloc = (bytes: number): ArrayBufferLike => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    const given = options.layout;
    const arena = given ? (given.memory ? new WasmArena(given.memory) : null) : (options.arena ?? null);
    this.arena = arena;
    const layout = given ?? featureLayout(data, alloc, undefined, undefined, arena);
    const K = options.outputs ?? 0;
    this.pool = new HistogramPool(layout.histBins, CHANNELS, {
      sharedCapacity: cfg.maxLeaves + 2,
      ...(arena ? { allocate: (k: number) => arena.f64(k) } : {}),
    });
    this.idx = arena ? arena.i32(n) : new Int32Array(alloc(n * 4));
    const nChunks = chunkCount(n);
    this.work = {
      data,
      cfg,
      ctrl: new Int32Array(new SharedArrayBuffer(CTRL.SIZE * 4)),
      size: this.pool.size,
      featOff: this.pool.featOff,
      rows: {
        ...layout,
        idx: this.idx,
        // One output: its gradient pairs are the tree's (no copy per tree, see rootLeaf).
        ghRow: gradients && gradients.gh.length === 2 * n ? gradients.gh : arena ? arena.f32(2 * n) : new Float32Array(alloc(n * 8)),
        runs: new Int32Array(alloc(data.nFeatures * 8)),
      },
      bins: data.bins,
      goLeft: arena ? arena.u8(256) : new Uint8Array(alloc(256)),
      tmp: arena ? arena.i32(n) : new Int32Array(alloc(n * 4)),
      chunkLeft: arena ? arena.i32(nChunks) : new Int32Array(alloc(nChunks * 4)),
      // The kernels partition (and join the chunks) when the data's bins are in the arena too (the trainer bins into it).
      partitionMemory: arena?.owns(data.bins) ? arena.memory : null,
      gradients,
      hist: this.pool.backing!,
      partials: arena ? arena.f64((MAX_HIST_CHUNKS - 1) * this.pool.size) : new Float64Array(alloc((MAX_HIST_CHUNKS - 1) * this.pool.size * 8)),
      splits: {
        bins: arena
          ? { nBins: arena.copyOf(data.nBins), missingBin: arena.copyOf(data.missingBin), hasMissing: arena.copyOf(data.hasMissing) }
          : { nBins: data.nBins, missingBin: data.missingBin, hasMissing: data.hasMissing },
        cfg: { minSamplesLeaf: cfg.minSamplesLeaf, minHessianLeaf: cfg.minHessianLeaf, l2: cfg.l2, minGain: cfg.minGain },
        features: arena ? arena.i32(p) : new Int32Array(alloc(p * 4)),
        leaves: new Float64Array(alloc(2 * 4 * 8)),
        out: arena ? arena.f64(2 * SPLIT_FIELDS) : new Float64Array(alloc(2 * SPLIT_FIELDS * 8)),
        kernel: arena ? { memory: arena.memory, featOff: arena.copyOf(this.pool.featOff) } : null,
      },
      outputs:
        K > 1
          ? {
              learningRate: new Float64Array(alloc(8)),
              shape: new Int32Array(alloc(8)),
              sample: new Int32Array(alloc(n * 4)),
              inSample: new Uint8Array(alloc(n)),
              cols: new Int32Array(alloc(K * p * 4)),
              trees: new Float64Array(alloc(K * treeSlots(cfg.maxLeaves) * 8)),
            }
          : null,
    };
    this.features = this.work.splits.features;
    this.treeDense = new Int32Array(data.nFeatures);
    this.splitOut = arena ? arena.f64(SPLIT_FIELDS) : new Float64Array(SPLIT_FIELDS);
  }

  /**
   * Hands the shared data to started workers without waiting for them: a worker still booting joins
   * the tasks when it is up, and until then the calling thread takes every chunk (the results do
   * not depend on who takes which).
   */
  attach(threads: HistWorkers): void {
    for (const w of threads.workers) w.postMessage(this.work);
    this.workers = threads.workers;
  }

  /** Stops the attached workers' task loop (the caller terminates them). */
  close(): void {
    if (this.workers.length === 0) return;
    const ctrl = this.work.ctrl;
    Atomics.store(ctrl, CTRL.STOP, 1);
    Atomics.add(ctrl, CTRL.GEN, 1);
    Atomics.notify(ctrl, CTRL.GEN);
    this.workers = [];
  }

  /**
   * The last grown trees' outputs (GradientArrays.rowValue) into the scores, then the objective's
   * gradients of every row, in the gradient arrays given at construction.
   */
  computeGradients(objective: Objective): void {
    const gr = this.work.gradients!;
    const n = gr.y.length;
    const nChunks = chunkCount(n);
    if (this.workers.length === 0 || nChunks === 1) {
      updateGradients(gr, objective, 0, n);
      return;
    }
    const ctrl = this.work.ctrl;
    ctrl[CTRL.KIND] = TASK.GRADIENTS;
    ctrl[CTRL.START] = 0;
    ctrl[CTRL.END] = n;
    ctrl[CTRL.NCHUNKS] = nChunks;
    runTask(ctrl, this.work, this.workers.length, this.growOutput);
  }

  /**
   * Grows the trees of an iteration's outputs (see `outputs`) a tree per thread: tree k on rows
   * `sample` (null: all rows), over features cols[k], with the gradients of output k; writes their
   * outputs (leaf values times the learning rate) to GradientArrays.rowValue and returns the trees
   * (leaf values scaled). A tree is grown by one thread's own single-thread grower or by this grower with
   * its workers: the same trees either way, as a grower without workers grows them.
   */
  growOutputs(sample: Int32Array | null, cols: readonly ArrayLike<number>[], learningRate: number): GrownTree[] {
    const { ctrl, outputs } = this.work;
    const o = outputs!;
    const n = this.data.nRows;
    const p = this.data.nFeatures;
    o.learningRate[0] = learningRate;
    if (sample) {
      o.sample.set(sample);
      markRows(o.inSample, sample);
    }
    for (const [k, c] of cols.entries()) o.cols.set(c, k * p);
    // Whole rounds of trees a tree per thread; the trees left over (fewer than the threads) each
    // by all threads, node by node, rather than by some threads while the others wait.
    const threads = this.workers.length + 1;
    const apart = cols.length - (cols.length % threads);
    o.shape[0] = sample ? sample.length : n;
    o.shape[1] = cols[0].length;
    ctrl[CTRL.KIND] = TASK.GROW;
    ctrl[CTRL.NCHUNKS] = apart;
    runTask(ctrl, this.work, this.workers.length, this.growOutput);
    for (let k = apart; k < cols.length; k++) growOutputTree(this, this.work, k);
    const slots = treeSlots(this.cfg.maxLeaves);
    return cols.map((_, k) => readTree(o.trees, k * slots, 2 * this.cfg.maxLeaves - 1));
  }

  /**
   * Histograms of the tree's features for leaf rows [start, end) into buffer `buf`; G and H are the
   * rows' gradient and hessian sums (NaN: taken from the histograms, see rootLeaf). Returns [G, H].
   * With `objective`, the root's pass (rows: all, idx the identity) computes the gradients too (see
   * TASK.ROOT).
   */
  private buildHistograms(buf: number, start: number, end: number, G: number, H: number, objective: Objective | null = null): [number, number] {
    const pool = this.pool;
    const size = pool.size;
    const hist = pool.backing!;
    const base = buf * size;
    const work = this.work;
    const nChunks = histChunkCount(end - start);
    if (this.workers.length === 0 || nChunks === 1) {
      const gr = work.gradients;
      const prepare = objective && gr ? (a: number, b: number) => updateGradients(gr, objective, a, b) : undefined;
      accumulateNode(work, base, this.nRuns, this.treeSparse, start, end, prepare);
    } else {
      const ctrl = work.ctrl;
      ctrl[CTRL.KIND] = objective ? TASK.ROOT : TASK.HIST;
      ctrl[CTRL.START] = start;
      ctrl[CTRL.END] = end;
      ctrl[CTRL.NCHUNKS] = nChunks;
      ctrl[CTRL.BASE] = base;
      ctrl[CTRL.NRUNS] = this.nRuns;
      ctrl[CTRL.SPARSE] = this.treeSparse ? 1 : 0;
      runTask(ctrl, work, this.workers.length, this.growOutput);
      completeNode(work, base, start, end);
    }
    spreadBundles(hist, base, pool.featOff, this.data.nBins, work.rows);
    if (Number.isNaN(G)) {
      // Every row is in one bin of each dense column: the first one's bins sum to the leaf's totals.
      const column = work.rows.denseFeature[work.rows.runs[0]];
      [G, H] = binTotals(hist, base + pool.featOff[column], pool.featOff[column + 1] - pool.featOff[column]);
    }
    deriveBins(hist, base, pool.featOff, this.data.nBins, work.rows.derivedBin, this.features, this.nTreeFeatures, end - start, G, H);
    return [G, H];
  }

  /** Buffer dst = parent - small over the tree's features (the subtraction trick). */
  private subtract(dst: number, parent: number, small: number): void {
    const { featOff, size } = this.pool;
    const hist = this.pool.backing!;
    const p = this.data.nFeatures;
    const kernels = this.arena ? histKernels(this.arena.memory) : null;
    const sub = (d: number, a: number, b: number, n: number): void => {
      if (kernels) kernels.combine(hist.byteOffset + d * 8, hist.byteOffset + a * 8, hist.byteOffset + b * 8, n, 1);
      else subtractRange(hist, d, a, b, n);
    };
    if (this.nTreeFeatures === p) {
      sub(dst * size, parent * size, small * size, featOff[p]);
      return;
    }
    for (let j = 0; j < this.nTreeFeatures; j++) {
      const f = this.features[j];
      sub(dst * size + featOff[f], parent * size + featOff[f], small * size + featOff[f], featOff[f + 1] - featOff[f]);
    }
  }

  /** Best split of a leaf from its histograms, or null (no split satisfies the constraints). */
  findBestSplit(buf: number, G: number, H: number, N: number): SplitRecord | null {
    searchLeafInto(this.work, buf * this.pool.size, this.nTreeFeatures, G, H, N, this.splitOut, 0);
    return readSplit(this.splitOut, 0);
  }

  /** The best splits of two leaves, searched by two threads when there are workers. */
  private findBestSplits(a: Leaf, b: Leaf): void {
    if (this.workers.length === 0) {
      a.split = this.findBestSplit(a.buf, a.G, a.H, a.end - a.start);
      b.split = this.findBestSplit(b.buf, b.G, b.H, b.end - b.start);
      return;
    }
    const { ctrl, splits } = this.work;
    for (const [c, leaf] of [a, b].entries()) {
      splits.leaves.set([leaf.buf, leaf.G, leaf.H, leaf.end - leaf.start], 4 * c);
    }
    ctrl[CTRL.KIND] = TASK.FIND;
    ctrl[CTRL.NCHUNKS] = 2;
    ctrl[CTRL.NFEAT] = this.nTreeFeatures;
    runTask(ctrl, this.work, this.workers.length, this.growOutput);
    a.split = readSplit(splits.out, 0);
    b.split = readSplit(splits.out, SPLIT_FIELDS);
  }

  /** Stable partition of [start, end) by the split; returns the first position of the right child. */
  private partition(start: number, end: number, s: SplitRecord): number {
    const { tmp, goLeft, ctrl, chunkLeft } = this.work;
    const idx = this.idx;
    for (let b = 0; b < 256; b++) goLeft[b] = b <= s.bin ? 1 : 0;
    goLeft[this.data.missingBin[s.feature]] = s.defaultLeft ? 1 : 0;
    const col = s.feature * this.data.nRows;
    const nChunks = chunkCount(end - start);
    if (this.workers.length === 0 || nChunks === 1) {
      const l = partitionRows(idx, tmp, this.data.bins, col, goLeft, start, end, this.work.partitionMemory);
      idx.set(tmp.subarray(start, start + end - l), l);
      return l;
    }
    ctrl[CTRL.KIND] = TASK.PARTITION;
    ctrl[CTRL.START] = start;
    ctrl[CTRL.END] = end;
    ctrl[CTRL.NCHUNKS] = nChunks;
    ctrl[CTRL.COL] = col;
    runTask(ctrl, this.work, this.workers.length, this.growOutput);
    // The chunks' left rows, then their right rows, each in chunk order: the stable partition.
    const memory = this.work.partitionMemory;
    if (memory) return histKernels(memory).joinChunks(idx.byteOffset, tmp.byteOffset, chunkLeft.byteOffset, start, end, nChunks);
    let at = start;
    for (let c = 0; c < nChunks; c++) {
      const a = chunkStart(start, end, nChunks, c);
      idx.copyWithin(at, a, a + chunkLeft[c]);
      at += chunkLeft[c];
    }
    const mid = at;
    for (let c = 0; c < nChunks; c++) {
      const a = chunkStart(start, end, nChunks, c);
      const right = chunkStart(start, end, nChunks, c + 1) - a - chunkLeft[c];
      idx.set(tmp.subarray(a, a + right), at);
      at += right;
    }
    return mid;
  }

  /**
   * Grows one tree on rows idx[0 .. m) with the gradients and hessians gh (float32 pairs by row:
   * gh[2 * row], gh[2 * row + 1]), over the
   * given ascending features: the root, then, while there are fewer than maxLeaves leaves, the
   * leaf with the largest split gain is split. With `objective` the gradients are not made yet: the
   * grower makes them (computeGradients), in the root's pass over the rows when it can (one output,
   * gh the gradient arrays' own, all rows, the tree has a dense column).
   */
  grow(m: number, features: ArrayLike<number>, gh: Float32Array, objective: Objective | null = null): GrownTree {
    const cfg = this.cfg;
    this.nTreeFeatures = features.length;
    this.treeSparse = false;
    const rows = this.work.rows;
    const inTree = this.treeDense.fill(0);
    for (let j = 0; j < features.length; j++) {
      const f = features[j];
      this.features[j] = f;
      const col = rows.denseCol[f];
      if (col >= 0) inTree[col] = 1;
      else this.treeSparse = true;
    }
    // The dense columns holding some feature of the tree, ascending (written over the flags).
    let nDense = 0;
    for (let c = 0; c < rows.denseFeature.length; c++) if (inTree[c] === 1) inTree[nDense++] = c;
    this.nRuns = denseRuns(inTree.subarray(0, nDense), rows.runs);
    const tree = new TreeNodes(2 * cfg.maxLeaves - 1);
    const leaves: Leaf[] = [this.rootLeaf(m, gh, objective)];
    while (leaves.length < cfg.maxLeaves) {
      const pick = bestLeaf(leaves);
      if (pick < 0) break;
      const leaf = leaves[pick];
      const [leftId, rightId] = tree.split(leaf.node, leaf.split!);
      const lastSplit = leaves.length + 1 >= cfg.maxLeaves;
      const [L, R] = this.splitLeaf(leaf, leftId, rightId, lastSplit);
      leaves[pick] = L;
      leaves.push(R);
    }
    for (const leaf of leaves) this.pool.release(leaf.buf);
    return tree.finish(leaves, cfg.l2);
  }

  /** idx[0 .. n) = 0 .. n - 1 (by the kernels in the arena: V8 stores an int a step, the kernel four). */
  fillIdentity(n: number): void {
    if (this.arena) histKernels(this.arena.memory).identity(this.idx.byteOffset, n);
    else fillIdentity(this.idx, n);
  }

  /** rowValue[row] = the value of the leaf holding the row, for the rows of the tree's leaves (by the kernels when rowValue is in the arena). */
  spreadLeafValues(rowValue: Float64Array, t: GrownTree): void {
    if (!this.arena?.owns(rowValue)) {
      spreadLeafValues(rowValue, this.idx, t);
      return;
    }
    const kernels = histKernels(this.arena.memory);
    for (let l = 0; l < t.leafNodes.length; l++)
      kernels.spreadLeaf(rowValue.byteOffset, this.idx.byteOffset, t.leafStart[l], t.leafEnd[l], t.value[t.leafNodes[l]]);
  }

  private splittable(n: number, depth: number): boolean {
    return n >= 2 * this.cfg.minSamplesLeaf && depth < this.cfg.maxDepth;
  }

  /** The root leaf over rows idx[0 .. m), with its histograms and best split when it may split (objective: see grow). */
  private rootLeaf(m: number, gh: Float32Array, objective: Objective | null): Leaf {
    const rows = this.work.rows;
    const histograms = this.splittable(m, 0) && this.nTreeFeatures > 0;
    const gr = this.work.gradients;
    const fused =
      objective !== null && histograms && this.nRuns > 0 && m === this.data.nRows && gr !== null && gh.length === gr.gh.length && gh.buffer === gr.gh.buffer;
    if (objective && !fused) this.computeGradients(objective);
    // Workers read their copy of rows: the gradients go into the shared ghRow. Alone, the grower reads gh
    // itself, unless the kernels cannot (gh not in the arena: copied into it).
    if (this.workers.length === 0) {
      if (this.arena && !this.arena.owns(gh)) {
        this.arenaGh ??= this.arena.f32(2 * this.data.nRows);
        this.arenaGh.set(gh);
        rows.ghRow = this.arenaGh;
      } else rows.ghRow = gh;
    } else if (gh.buffer !== rows.ghRow.buffer || gh.byteOffset !== rows.ghRow.byteOffset) rows.ghRow.set(gh);
    const root: Leaf = { node: 0, start: 0, end: m, depth: 0, G: 0, H: 0, buf: -1, split: null };
    // With a dense column in the tree the totals come with the histograms, without a pass over the rows.
    if (!histograms || this.nRuns === 0) [root.G, root.H] = sumPairs(this.idx, rows.ghRow, m);
    if (histograms) {
      root.buf = this.pool.acquire();
      [root.G, root.H] = this.buildHistograms(root.buf, 0, m, this.nRuns === 0 ? root.G : NaN, root.H, fused ? objective : null);
      root.split = this.findBestSplit(root.buf, root.G, root.H, m);
    }
    return root;
  }

  /**
   * Splits `leaf` by its best split into children `leftId` and `rightId`: partitions its rows,
   * builds the smaller child's histograms and gets the larger one's by subtraction (none after
   * the last split: its children stay leaves), finds the children's best splits, and releases
   * the parent's histograms.
   */
  private splitLeaf(leaf: Leaf, leftId: number, rightId: number, lastSplit: boolean): [Leaf, Leaf] {
    const pool = this.pool;
    const s = leaf.split!;
    const mid = this.partition(leaf.start, leaf.end, s);
    const depth = leaf.depth + 1;
    const L: Leaf = { node: leftId, start: leaf.start, end: mid, depth, G: s.leftG, H: s.leftH, buf: -1, split: null };
    const R: Leaf = { node: rightId, start: mid, end: leaf.end, depth, G: leaf.G - s.leftG, H: leaf.H - s.leftH, buf: -1, split: null };
    const nL = mid - leaf.start;
    const nR = leaf.end - mid;
    const canL = !lastSplit && this.splittable(nL, depth);
    const canR = !lastSplit && this.splittable(nR, depth);
    if (canL || canR) {
      const [small, big] = nL <= nR ? [L, R] : [R, L];
      small.buf = pool.acquire();
      this.buildHistograms(small.buf, small.start, small.end, small.G, small.H);
      if (big === L ? canL : canR) {
        big.buf = pool.acquire();
        this.subtract(big.buf, leaf.buf, small.buf);
      }
    }
    pool.release(leaf.buf);
    if (canL && canR) this.findBestSplits(L, R);
    else if (canL || canR) {
      const c = canL ? L : R;
      c.split = this.findBestSplit(c.buf, c.G, c.H, c.end - c.start);
    }
    for (const c of [L, R]) {
      if (c.buf < 0) continue;
      if (!c.split) {
        pool.release(c.buf);
        c.buf = -1;
      }
    }
    return [L, R];
  }
}

/**
 * A thread's GROW chunks: each grown by growOutputTree with the thread's own single-thread grower
 * over the shared data and layout, made at its first chunk.
 */
export function threadGrowOutput(): GrowOutput {
  let own: TreeGrower | null = null;
  return (w, k) => {
    own ??= new TreeGrower(w.data, w.cfg, false, null, { layout: w.rows });
    growOutputTree(own, w, k);
  };
}

/**
 * GROW, chunk k (see TreeGrower.growOutputs): output k's tree grown by `own` (this thread's
 * single-thread grower, or the calling thread's grower with its workers) into OutputTrees.trees,
 * its output for every row into GradientArrays.rowValue.
 */
export function growOutputTree(own: TreeGrower, w: SharedWork, k: number): void {
  const o = w.outputs!;
  const n = w.data.nRows;
  const p = w.data.nFeatures;
  const m = o.shape[0];
  const t = growTreeOutput(
    own,
    m < n ? o.sample.subarray(0, m) : null,
    o.inSample,
    o.cols.subarray(k * p, k * p + o.shape[1]),
    w.gradients!.gh.subarray(2 * k * n, 2 * (k + 1) * n),
    o.learningRate[0],
    w.gradients!.rowValue.subarray(k * n, (k + 1) * n),
  );
  writeTree(t, o.trees, k * treeSlots(w.cfg.maxLeaves), 2 * w.cfg.maxLeaves - 1);
}

/**
 * One tree of an iteration: grown by `grower` on the rows `sample` (ascending, marked in inSample;
 * null: all rows) over the features `cols` with the gradient pairs gh, its leaf values scaled by the
 * learning rate, and its output for every row written to rowValue (the sampled rows' by leaf, the
 * others' by walking the tree). `objective`: the gradients are still to be made (see grow).
 */
export function growTreeOutput(
  grower: TreeGrower,
  sample: Int32Array | null,
  inSample: Uint8Array,
  cols: ArrayLike<number>,
  gh: Float32Array,
  learningRate: number,
  rowValue: Float64Array,
  objective: Objective | null = null,
): GrownTree {
  const { nRows: n, nFeatures: p, rowBins, missingBin } = grower.data;
  const idx = grower.idx;
  if (sample) idx.set(sample);
  else grower.fillIdentity(n);
  const t = grower.grow(sample ? sample.length : n, cols, gh, objective);
  for (let i = 0; i < t.value.length; i++) t.value[i] *= learningRate;
  grower.spreadLeafValues(rowValue, t);
  if (sample) walkOutputs(rowValue, t, rowBins, p, missingBin, inSample);
  return t;
}

/** inSample[row] = 1 for the rows of `sample`, 0 for the others. */
export function markRows(inSample: Uint8Array, sample: Int32Array): void {
  inSample.fill(0);
  for (let i = 0; i < sample.length; i++) inSample[sample[i]] = 1;
}

/** Doubles a tree of at most maxLeaves leaves takes in OutputTrees.trees: its node count, then 7 arrays of 2 maxLeaves - 1 nodes. */
export const treeSlots = (maxLeaves: number): number => 1 + 7 * (2 * maxLeaves - 1);

const TREE_ARRAYS = ['feature', 'bin', 'defaultLeft', 'left', 'right', 'value', 'gain'] as const;

function writeTree(t: GrownTree, out: Float64Array, at: number, capacity: number): void {
  out[at] = t.feature.length;
  for (const [j, name] of TREE_ARRAYS.entries()) out.set(t[name], at + 1 + j * capacity);
}

function readTree(from: Float64Array, at: number, capacity: number): GrownTree {
  const n = from[at];
  const part = (j: number): Float64Array => from.subarray(at + 1 + j * capacity, at + 1 + j * capacity + n);
  return {
    feature: Int32Array.from(part(0)),
    bin: Int32Array.from(part(1)),
    defaultLeft: Uint8Array.from(part(2)),
    left: Int32Array.from(part(3)),
    right: Int32Array.from(part(4)),
    value: part(5).slice(),
    gain: part(6).slice(),
    leafNodes: new Int32Array(0),
    leafStart: new Int32Array(0),
    leafEnd: new Int32Array(0),
  };
}

/** Raw-score contribution of a grown tree for a row of bins (row-major, at base). */
export function binnedOutput(t: GrownTree, bins: Uint8Array, base: number, missingBin: Int32Array): number {
  let i = 0;
  while (t.feature[i] >= 0) {
    const f = t.feature[i];
    const b = bins[base + f];
    i = (b === missingBin[f] ? t.defaultLeft[i] === 1 : b <= t.bin[i]) ? t.left[i] : t.right[i];
  }
  return t.value[i];
}

// Loops in functions that end with the loop (see histograms.ts: scanRows).

function fillIdentity(idx: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) idx[i] = i;
}

/** rowValue[row] = the value of the leaf holding the row, for the rows of the tree's leaves. */
function spreadLeafValues(rowValue: Float64Array, idx: Int32Array, t: GrownTree): void {
  for (let l = 0; l < t.leafNodes.length; l++) {
    const v = t.value[t.leafNodes[l]];
    for (let q = t.leafStart[l]; q < t.leafEnd[l]; q++) rowValue[idx[q]] = v;
  }
}

/** rowValue[row] = the tree's output for the rows of `bins` (row-major, p per row) not marked in `skip`. */
function walkOutputs(rowValue: Float64Array, t: GrownTree, bins: Uint8Array, p: number, missingBin: Int32Array, skip: Uint8Array): void {
  for (let r = 0; r < rowValue.length; r++) if (skip[r] === 0) rowValue[r] = binnedOutput(t, bins, r * p, missingBin);
}

/** h[d + j] = h[p + j] - h[s + j] for j in [0, n). */
function subtractRange(h: Float64Array, d: number, p: number, s: number, n: number): void {
  for (let j = 0; j < n; j++) h[d + j] = h[p + j] - h[s + j];
}

/** The sums of the gradient and hessian channels of n bins at `off` (CHANNELS per bin). */
function binTotals(h: Float64Array, off: number, n: number): [number, number] {
  let g = 0;
  let s = 0;
  for (let j = off; j < off + n; j += CHANNELS) {
    g += h[j];
    s += h[j + 1];
  }
  return [g, s];
}

/** The sums of the gradients and of the hessians of rows idx[0 .. m) (pairs gh[2 * row], gh[2 * row + 1]). */
function sumPairs(idx: Int32Array, gh: Float32Array, m: number): [number, number] {
  let g = 0;
  let h = 0;
  for (let i = 0; i < m; i++) {
    g += gh[2 * idx[i]];
    h += gh[2 * idx[i] + 1];
  }
  return [g, h];
}

/** The leaf whose split has the largest gain (the first of equals), -1 when no leaf can split. */
function bestLeaf(leaves: readonly Leaf[]): number {
  let pick = -1;
  for (let i = 0; i < leaves.length; i++) {
    const s = leaves[i].split;
    if (s && (pick < 0 || s.gain > leaves[pick].split!.gain)) pick = i;
  }
  return pick;
}

/** The node arrays of a tree being grown (per node id; leaves have feature -1). */
class TreeNodes {
  private readonly feature: Int32Array;
  private readonly bin: Int32Array;
  private readonly defaultLeft: Uint8Array;
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Float64Array;
  private readonly gain: Float64Array;
  private nodeCount = 1;

  constructor(capacity: number) {
    this.feature = new Int32Array(capacity).fill(-1);
    this.bin = new Int32Array(capacity);
    this.defaultLeft = new Uint8Array(capacity);
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity).fill(-1);
    this.value = new Float64Array(capacity);
    this.gain = new Float64Array(capacity);
  }

  /** Makes `node` an internal node with split `s`; returns the ids of its children. */
  split(node: number, s: SplitRecord): [number, number] {
    const leftId = this.nodeCount++;
    const rightId = this.nodeCount++;
    this.feature[node] = s.feature;
    this.bin[node] = s.bin;
    this.defaultLeft[node] = s.defaultLeft ? 1 : 0;
    this.left[node] = leftId;
    this.right[node] = rightId;
    this.gain[node] = s.gain;
    return [leftId, rightId];
  }

  /** The grown tree, with the leaves' outputs -G / (H + l2) and their row ranges. */
  finish(leaves: Leaf[], l2: number): GrownTree {
    const n = this.nodeCount;
    leaves.sort((a, b) => a.node - b.node);
    const leafNodes = new Int32Array(leaves.length);
    const leafStart = new Int32Array(leaves.length);
    const leafEnd = new Int32Array(leaves.length);
    leaves.forEach((leaf, i) => {
      this.value[leaf.node] = -leaf.G / (leaf.H + l2);
      leafNodes[i] = leaf.node;
      leafStart[i] = leaf.start;
      leafEnd[i] = leaf.end;
    });
    return {
      feature: this.feature.slice(0, n),
      bin: this.bin.slice(0, n),
      defaultLeft: this.defaultLeft.slice(0, n),
      left: this.left.slice(0, n),
      right: this.right.slice(0, n),
      value: this.value.slice(0, n),
      gain: this.gain.slice(0, n),
      leafNodes,
      leafStart,
      leafEnd,
    };
  }
}

/** Default worker count for training: the cores, minus the calling thread's own. */
export const defaultHistWorkers = (): number => Math.max(0, availableParallelism() - 1);
