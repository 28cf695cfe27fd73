// The work a tree grower shares with its worker threads, a node at a time: a task is cut into
// chunks, and the calling thread and the workers take chunks off a shared counter until none is
// left. The kinds of task:
// - HIST (chunks of rows, histChunkCount: by the node's size alone): each chunk sums its rows'
//   histograms into a histogram of its own, which the calling thread then adds up in chunk order
//   (histograms.ts);
// - ROOT: HIST of a root over all rows (idx the identity) whose chunks first make their rows'
//   gradients, block by block (GRADIENTS' work, then summed while in cache);
// - PARTITION (chunks of rows, chunkCount: by the node's size alone): each chunk splits its rows stably into the rows that go left (moved to the front of
//   the chunk) and the others (to tmp, at the same positions); the calling thread then joins the
//   chunks' left parts and right parts in chunk order;
// - GRADIENTS: each chunk adds the last iteration's tree outputs to its rows' scores, then computes
//   the objective's gradients of its rows (of all rows of the training set, once per iteration);
// - FIND: two "chunks", the best splits of a split leaf's two children;
// - GROW: chunk k grows output k's tree of an iteration whole (softmax: one tree per class), on the
//   thread that took it, with that thread's own single-thread grower (grower.ts: growOutputTree).
// The result does not depend on which thread took which chunk, nor on their number.

import { accumulateChunk, chunkStart, type HistBuffers } from './histograms.ts';
import { makeObjective, type Objective } from './objective.ts';
import { searchSplits, SPLIT_FIELDS, type SplitBins, type SplitConstraints, type SplitRecord, writeSplit } from './splits.ts';
import type { BoostingObjective } from './params.ts';
import type { BinnedColumns, BinnedData } from '../forest/bins.ts';
import { histKernels } from './wasm/arena.ts';

/** The trainer's arrays the objective's gradients are computed from and into (see Objective.gradients). */
export interface GradientArrays {
  objective: BoostingObjective;
  nClasses: number;
  y: Float64Array;
  scores: Float64Array;
  w: Float64Array;
  gh: Float32Array;
  /**
   * The last grown trees' output for every row, output-major (rowValue[k nRows + row]; zeros before
   * the first): added to the scores by the next gradients' pass rather than a pass of its own (the
   * scores are only read there).
   */
  rowValue: Float64Array;
  /** The arena's memory when y, scores, w, gh and rowValue are in it: binary gradients by the kernel. */
  memory: WebAssembly.Memory | null;
}

/** The binned training set as the growers read it (SharedArrayBuffer-backed when workers are used). */
export type GrowerData = BinnedColumns & Pick<BinnedData, 'binCounts'>;

/** The grower's constraints. */
export interface GrowerConfig {
  maxLeaves: number;
  /** Infinity when unbounded. */
  maxDepth: number;
  minSamplesLeaf: number;
  minHessianLeaf: number;
  l2: number;
  minGain: number;
}

/**
 * GROW: the trees of an iteration's K outputs, grown a tree per thread. Rows: all
 * (shape[0] = nRows) or sample[0 .. shape[0]), ascending, marked in inSample; tree k's features are
 * cols[k p .. k p + shape[1]).
 */
export interface OutputTrees {
  /** [learning rate]: the grown trees' leaf values are scaled by it. */
  learningRate: Float64Array;
  /** [rows, features] of each tree. */
  shape: Int32Array;
  sample: Int32Array;
  inSample: Uint8Array;
  cols: Int32Array;
  /** Tree k's nodes at k * treeSlots(maxLeaves) (see writeTree in grower.ts); its outputs go to GradientArrays.rowValue. */
  trees: Float64Array;
}

/** Everything a worker reads or writes, shared once (SharedArrayBuffer-backed). */
export interface SharedWork extends HistBuffers {
  data: GrowerData;
  cfg: GrowerConfig;
  ctrl: Int32Array;
  size: number;
  /** PARTITION: column-major bins (bins[f * nRows + row]), the split's bins going left (1) or right (0). */
  bins: Uint8Array;
  goLeft: Uint8Array;
  /** PARTITION: rows going right, at the positions of idx they came from. */
  tmp: Int32Array;
  /** PARTITION: rows of each chunk that go left. */
  chunkLeft: Int32Array;
  /** PARTITION: the arena's memory when rows.idx, tmp, bins and goLeft are in it (partitioned by the kernel), else null. */
  partitionMemory: WebAssembly.Memory | null;
  /** GRADIENTS (when the trainer shares them). */
  gradients: GradientArrays | null;
  splits: SplitWork;
  /** GROW, when the grower grows an iteration's trees a tree per thread. */
  outputs: OutputTrees | null;
}

/** FIND: chunk c searches the best split of leaf c (buffer id, G, H, rows at leaves[4c ..]) into out[c * SPLIT_FIELDS ..]. */
export interface SplitWork {
  bins: SplitBins;
  cfg: SplitConstraints;
  /** The tree's features (features[0 .. NFEAT)). */
  features: Int32Array;
  leaves: Float64Array;
  out: Float64Array;
  /**
   * The kernel's searchSplits, when bins, features and out are in the arena's memory, as are the
   * histograms (hist) and this copy of featOff; null: splits.ts's searchSplits.
   */
  kernel: { memory: WebAssembly.Memory; featOff: Int32Array } | null;
}

/**
 * Control block (Int32Array over a SharedArrayBuffer): generation (bumped per task), next chunk to
 * take, threads inside a task (ACTIVE), stop flag, kind of task, the node's rows [START, END) and
 * number of chunks; HIST: where the node's histogram starts in hist (BASE), the tree's dense runs
 * (NRUNS, in rows.runs) and whether it has sparse features (SPARSE); PARTITION:
 * offset of the split feature's column in bins.
 *
 * The calling thread never waits for a worker that has not started: it writes the task, resets
 * NEXT (which publishes the task), wakes the workers, takes chunks itself, and then waits only
 * while ACTIVE > 0, i.e. for chunks a worker has claimed. A worker counts itself in ACTIVE before it
 * claims and reads the task after a claim succeeds, so a worker that wakes late either finds no
 * chunk left or takes one of the current task, never a mix of two tasks: once the calling thread
 * has no chunk left to take it sets NEXT to TASK_CLOSED, so that no late claim can succeed while it
 * writes the next task. On a busy machine a worker that is not scheduled costs nothing but its
 * share of the work.
 */
export const CTRL = {
  GEN: 0,
  NEXT: 1,
  ACTIVE: 2,
  STOP: 3,
  KIND: 4,
  START: 5,
  END: 6,
  NCHUNKS: 7,
  BASE: 8,
  COL: 9,
  NFEAT: 10,
  NRUNS: 11,
  SPARSE: 12,
  SIZE: 13,
} as const;

/** Most threads a tree grower uses (the calling one included). */
export const MAX_THREADS = 64;

export const TASK = { HIST: 0, PARTITION: 1, GRADIENTS: 2, FIND: 3, GROW: 4, ROOT: 5 } as const;

/** GROW, chunk k: grows output k's tree (a thread's own grower; see grower.ts). */
export type GrowOutput = (w: SharedWork, k: number) => void;

/** NEXT between tasks: larger than any chunk index, so every claim fails. */
export const TASK_CLOSED = 1 << 29;

/**
 * Polls before sleeping: the next task of a tree usually comes within microseconds (the time to
 * find the children's splits), sooner than a sleeping thread wakes up.
 */
const SPIN_POLLS = 20_000;
const WAIT_TIMEOUT_MS = 600_000;

/** Takes chunks off the shared counter until none is left (calling thread and workers). */
export function drainChunks(w: SharedWork, growOutput: GrowOutput): void {
  const ctrl = w.ctrl;
  for (;;) {
    const c = Atomics.add(ctrl, CTRL.NEXT, 1);
    const nChunks = ctrl[CTRL.NCHUNKS];
    if (c >= TASK_CLOSED || c >= nChunks) return;
    const kind = ctrl[CTRL.KIND];
    if (kind === TASK.FIND) {
      findSplit(w, c, ctrl[CTRL.NFEAT]);
      continue;
    }
    if (kind === TASK.GROW) {
      growOutput(w, c);
      continue;
    }
    const start = ctrl[CTRL.START];
    const end = ctrl[CTRL.END];
    if (kind === TASK.HIST || kind === TASK.ROOT) {
      const gr = w.gradients;
      const prepare = kind === TASK.ROOT && gr ? (a: number, b: number) => updateGradients(gr, objectiveOf(gr), a, b) : undefined;
      accumulateChunk(w, ctrl[CTRL.BASE], ctrl[CTRL.NRUNS], ctrl[CTRL.SPARSE] === 1, start, end, nChunks, c, prepare);
      continue;
    }
    const a = chunkStart(start, end, nChunks, c);
    const b = chunkStart(start, end, nChunks, c + 1);
    if (kind === TASK.PARTITION) {
      w.chunkLeft[c] = partitionRows(w.rows.idx, w.tmp, w.bins, ctrl[CTRL.COL], w.goLeft, a, b, w.partitionMemory) - a;
    } else {
      updateGradients(w.gradients!, objectiveOf(w.gradients!), a, b);
    }
  }
}

// This thread's record of the best split found (see searchLeafInto).
const found: SplitRecord = { feature: -1, bin: 0, defaultLeft: false, gain: 0, leftG: 0, leftH: 0, leftN: 0 };

function findSplit(w: SharedWork, c: number, nFeat: number): void {
  const leaf = w.splits.leaves;
  searchLeafInto(w, leaf[4 * c] * w.size, nFeat, leaf[4 * c + 1], leaf[4 * c + 2], leaf[4 * c + 3], w.splits.out, c * SPLIT_FIELDS);
}

/**
 * The best split of the leaf whose histograms are at hist[base ..] (G, H, N: its totals) over the
 * tree's first nFeat features, written at out[at ..] (splits.ts: writeSplit), by the kernel when the
 * split arrays are in the arena (SplitWork.kernel).
 */
export function searchLeafInto(
  w: Pick<SharedWork, 'hist' | 'featOff' | 'splits'>,
  base: number,
  nFeat: number,
  G: number,
  H: number,
  N: number,
  out: Float64Array,
  at: number,
): void {
  const s = w.splits;
  if (s.kernel) {
    const { bins, cfg } = s;
    histKernels(s.kernel.memory).searchSplits(
      w.hist.byteOffset + base * 8,
      s.kernel.featOff.byteOffset,
      s.features.byteOffset,
      nFeat,
      bins.nBins.byteOffset,
      bins.missingBin.byteOffset,
      bins.hasMissing.byteOffset,
      G,
      H,
      N,
      cfg.minSamplesLeaf,
      cfg.minHessianLeaf,
      cfg.l2,
      cfg.minGain,
      out.byteOffset + at * 8,
    );
    return;
  }
  searchSplits(w.hist, base, w.featOff, s.features, nFeat, s.bins, G, H, N, s.cfg, found);
  writeSplit(found, out, at);
}

// Each thread's own objective for a training run (an objective keeps scratch).
const objectives = new WeakMap<GradientArrays, Objective>();

function objectiveOf(gr: GradientArrays): Objective {
  let o = objectives.get(gr);
  if (!o) {
    o = makeObjective(gr.objective, gr.nClasses);
    objectives.set(gr, o);
  }
  return o;
}

/**
 * Runs the task written into ctrl (KIND, START, END, NCHUNKS and the kind's fields) on the calling
 * thread and the workers; returns once every chunk is done.
 */
export function runTask(ctrl: Int32Array, w: SharedWork, workers: number, growOutput: GrowOutput): void {
  // Publishes the task (see CTRL): no worker is inside the previous one any more.
  Atomics.store(ctrl, CTRL.NEXT, 0);
  if (workers > 0) {
    Atomics.add(ctrl, CTRL.GEN, 1);
    Atomics.notify(ctrl, CTRL.GEN);
  }
  drainChunks(w, growOutput);
  Atomics.store(ctrl, CTRL.NEXT, TASK_CLOSED);
  for (let spin = 0; Atomics.load(ctrl, CTRL.ACTIVE) > 0 && spin < SPIN_POLLS; spin++);
  for (let a = Atomics.load(ctrl, CTRL.ACTIVE); a > 0; a = Atomics.load(ctrl, CTRL.ACTIVE)) {
    if (Atomics.wait(ctrl, CTRL.ACTIVE, a, WAIT_TIMEOUT_MS) === 'timed-out') throw new Error('tree grower workers stopped responding');
  }
}

/** A worker's loop: waits for the next task (polling first), takes its chunks, until STOP. */
export function workLoop(w: SharedWork, growOutput: GrowOutput): void {
  const ctrl = w.ctrl;
  let seen = Atomics.load(ctrl, CTRL.GEN);
  if (Atomics.load(ctrl, CTRL.STOP) === 1) return;
  for (;;) {
    for (let spin = 0; Atomics.load(ctrl, CTRL.GEN) === seen && spin < SPIN_POLLS; spin++);
    Atomics.wait(ctrl, CTRL.GEN, seen);
    seen = Atomics.load(ctrl, CTRL.GEN);
    if (Atomics.load(ctrl, CTRL.STOP) === 1) return;
    Atomics.add(ctrl, CTRL.ACTIVE, 1);
    drainChunks(w, growOutput);
    if (Atomics.sub(ctrl, CTRL.ACTIVE, 1) === 1) Atomics.notify(ctrl, CTRL.ACTIVE);
  }
}

/**
 * Moves the rows idx[start .. end) whose bin (bins[col + row]) goes left to the front of the
 * range, in order, and the others in order into tmp from position start; returns the end of the
 * left rows. With `memory` (the arrays are all in it), by the WebAssembly kernel.
 */
export function partitionRows(
  idx: Int32Array,
  tmp: Int32Array,
  bins: Uint8Array,
  col: number,
  goLeft: Uint8Array,
  start: number,
  end: number,
  memory: WebAssembly.Memory | null = null,
): number {
  if (memory) return histKernels(memory).partition(idx.byteOffset, tmp.byteOffset, bins.byteOffset + col, goLeft.byteOffset, start, end);
  return partitionRowsJs(idx, tmp, bins, col, goLeft, start, end);
}

/** partitionRows in JavaScript. Without a branch on the side: a row is written to both places and only one position advances. */
function partitionRowsJs(idx: Int32Array, tmp: Int32Array, bins: Uint8Array, col: number, goLeft: Uint8Array, start: number, end: number): number {
  let l = start;
  let r = start;
  for (let i = start; i < end; i++) {
    const row = idx[i];
    const left = goLeft[bins[col + row]];
    idx[l] = row;
    tmp[r] = row;
    l += left;
    r += 1 - left;
  }
  return l;
}

/** Rows [a, b): the last trees' outputs into the scores, then the objective's gradients. */
export function updateGradients(gr: GradientArrays, objective: Objective, a: number, b: number): void {
  if (gr.memory && gr.objective === 'binary') {
    histKernels(gr.memory).binaryGradients(gr.y.byteOffset, gr.scores.byteOffset, gr.w.byteOffset, gr.gh.byteOffset, gr.rowValue.byteOffset, a, b);
    return;
  }
  addOutputs(gr.scores, gr.rowValue, gr.y.length, a, b);
  objective.gradients(gr.y, gr.scores, gr.w, gr.gh, a, b);
}

/** scores[row K + k] += rowValue[k n + row] for rows [a, b) and each of the K outputs. */
function addOutputs(scores: Float64Array, rowValue: Float64Array, n: number, a: number, b: number): void {
  const K = rowValue.length / n;
  for (let r = a; r < b; r++) for (let k = 0; k < K; k++) scores[r * K + k] += rowValue[k * n + r];
}
