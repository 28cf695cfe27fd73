// Gradient-boosted trees training: bins the data once (the forest's binning, missing bin
// included), then each iteration computes gradients and grows one tree per output on them.
// Histograms may be built on worker threads; every random draw comes from (seed, iteration)
// and every sum has a fixed order, so the model does not depend on the number of workers.

import { availableParallelism } from 'node:os';
import { binMatrix, binRows, thresholdOf, type BinnedData } from '../forest/bins.ts';
import { Rng, treeSeed } from '../forest/rng.ts';
import type { Matrix } from '../forest/types.ts';
import { binnedOutput, growTreeOutput, HistWorkers, markRows, TreeGrower, type GrownTree } from './grower.ts';
import { makeObjective } from './objective.ts';
import { MAX_THREADS } from './parallel.ts';
import { classWeights, resolveBoostingParams, type BoostingParams, type ResolvedBoostingParams } from './params.ts';
import type { BoostedTree, BoostingModel, BoostingTrainOptions } from './types.ts';
import { WasmArena } from './wasm/arena.ts';

function checkMatrix(X: Matrix, y: Float64Array, what: string): void {
  const { rows, cols } = X;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`${what}: X must have at least one row and one column`);
  }
  if (X.data.length !== rows * cols) throw new RangeError(`${what}: X.data has ${X.data.length} values, expected ${rows * cols}`);
  if (y.length !== rows) throw new RangeError(`${what}: y has ${y.length} values, expected ${rows}`);
  for (let i = 0; i < rows; i++) if (!Number.isFinite(y[i])) throw new RangeError(`${what}: non-finite target at row ${i}`);
}

function toModelTree(t: GrownTree, binned: BinnedData): BoostedTree {
  const n = t.feature.length;
  const threshold = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) if (t.feature[i] >= 0) threshold[i] = thresholdOf(binned.edges[t.feature[i]], t.bin[i]);
  return {
    feature: Array.from(t.feature),
    threshold,
    defaultLeft: Array.from(t.defaultLeft),
    left: Array.from(t.left),
    right: Array.from(t.right),
    value: Array.from(t.value),
  };
}

/** `k` distinct ascending integers drawn from [0, n) (partial Fisher-Yates). */
function drawSorted(rng: Rng, n: number, k: number, scratch: Int32Array): Int32Array {
  for (let i = 0; i < n; i++) scratch[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
  }
  return scratch.slice(0, k).sort();
}

// Row loops in functions of their own (see histograms.ts: gatherRows): in trainBoosting they
// would have V8 compile that whole function on stack replacement, once per loop.

/** Class labels over a range of at most this many integers are found by marking them, not by sorting y. */
const MAX_MARKED_RANGE = 1 << 16;

/** The distinct values of y, ascending. */
function distinctSorted(y: Float64Array): number[] {
  let min = Infinity;
  let max = -Infinity;
  let integral = true;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && !Number.isInteger(v)) integral = false;
  }
  return integral && max - min < MAX_MARKED_RANGE ? markedIntegers(y, min, max) : sortedDistinct(y);
}

/** The distinct integers of y (all in [min, max]), ascending: one pass marking them. */
function markedIntegers(y: Float64Array, min: number, max: number): number[] {
  const seen = new Uint8Array(max - min + 1);
  for (let i = 0; i < y.length; i++) seen[y[i] - min] = 1;
  const out: number[] = [];
  for (let v = 0; v < seen.length; v++) if (seen[v] === 1) out.push(v + min);
  return out;
}

function sortedDistinct(y: Float64Array): number[] {
  const sorted = y.slice().sort();
  const out: number[] = [];
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) out.push(sorted[i]);
  return out;
}

/** The index of each y in the ascending `classes` (which hold every value of y). */
function classIndices(y: Float64Array, classes: number[]): Float64Array {
  const c = Float64Array.from(classes);
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) {
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid] < y[i]) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
}

/** Each row's class weight (classification) times its sample weight. */
function rowWeights(target: Float64Array, cw: Float64Array | null, sampleWeight: Float64Array | undefined): Float64Array {
  const w = new Float64Array(target.length).fill(1);
  for (let i = 0; i < w.length; i++) {
    if (cw) w[i] = cw[target[i]];
    if (sampleWeight) w[i] *= sampleWeight[i];
  }
  return w;
}

/** Row-major scores (K = base.length per row) all set to the base scores. */
function fillScores(scores: Float64Array, base: number[]): void {
  const K = base.length;
  if (K === 1) scores.fill(base[0]);
  else for (let i = 0; i < scores.length; i++) scores[i] = base[i % K];
}

/** Adds the tree's output to output k of every row of `bins` (row-major, p per row). */
function addTreeOutputs(scores: Float64Array, K: number, k: number, t: GrownTree, bins: Uint8Array, p: number, missingBin: Int32Array): void {
  for (let r = 0, m = bins.length / p; r < m; r++) scores[r * K + k] += binnedOutput(t, bins, r * p, missingBin);
}

export async function trainBoosting(X: Matrix, y: Float64Array, params: BoostingParams, options: BoostingTrainOptions = {}): Promise<BoostingModel> {
  checkMatrix(X, y, 'training set');
  const { rows: n, cols: p } = X;
  if (options.featureNames && options.featureNames.length !== p) {
    throw new RangeError(`featureNames has ${options.featureNames.length} names, expected ${p}`);
  }
  if (options.sampleWeight && options.sampleWeight.length !== n) throw new RangeError(`sampleWeight has ${options.sampleWeight.length} values, expected ${n}`);
  const classification = params.task === 'classification';
  const classes = classification ? distinctSorted(y) : [];
  const resolved: ResolvedBoostingParams = resolveBoostingParams(params, classes.length);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const target = classification ? classIndices(y, classes) : y;
  const cw = classification ? classWeights(resolved.classWeight, classes, target) : null;
  const weights = rowWeights(target, cw, options.sampleWeight);

  // One class seen: a binary model whose base score says so.
  const nClasses = Math.max(classes.length, 2);
  const objective = makeObjective(resolved.objective, nClasses);
  const K = objective.nOutputs;
  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), MAX_THREADS));
  // An iteration's K trees (softmax) are grown a tree per thread when there are at least as many
  // trees as threads: each thread then works alone on a whole tree, with none of the waits of
  // sharing a node's work (on 2 threads, sharing a node's histograms by features paid each row's
  // memory access twice: a Covertype tree took 0.72 of its one-thread time instead of 0.5).
  const treePerThread = workers > 1 && K >= workers;
  // The histogram workers boot while the data is binned.
  const threads = workers > 1 ? new HistWorkers(workers - 1) : null;
  try {
    // The histogram and partition kernels (WebAssembly) read their arrays in their arena: the bins,
    // the gradients, the rows and histograms of the grower.
    const arena = new WasmArena();
    const binned = binMatrix(X, resolved.maxBins, workers > 1, (k) => arena.u8(k));

    let val: { bins: Uint8Array; y: Float64Array; w: Float64Array; scores: Float64Array } | null = null;
    if (options.validation) {
      const v = options.validation;
      checkMatrix(v.X, v.y, 'validation set');
      if (v.X.cols !== p) throw new RangeError(`validation set has ${v.X.cols} columns, expected ${p}`);
      const vy = classification
        ? Float64Array.from(v.y, (c, i) => {
            const k = classIndex.get(c);
            if (k === undefined) throw new RangeError(`validation set: class ${c} at row ${i} is not in the training data`);
            return k;
          })
        : v.y;
      val = {
        bins: binRows(v.X, binned),
        y: vy,
        w: Float64Array.from(vy, (k) => (cw ? cw[k] : 1)),
        scores: new Float64Array(v.X.rows * K),
      };
    }

    const base = objective.baseScore(target, weights);
    // The arrays of the gradients: in the arena, shared with the workers and read by the kernels.
    const scores = arena.f64(n * K);
    fillScores(scores, base);
    if (val) fillScores(val.scores, base);

    const gh = arena.f32(2 * n * K);
    const gradientArrays = {
      objective: resolved.objective,
      nClasses,
      y: arena.copyOf(target),
      scores,
      w: arena.copyOf(weights),
      gh,
      rowValue: arena.f64(n * K),
      memory: arena.memory,
    };
    const grower = new TreeGrower(
      binned,
      {
        maxLeaves: resolved.maxLeaves,
        maxDepth: resolved.maxDepth ?? Infinity,
        minSamplesLeaf: resolved.minSamplesLeaf,
        minHessianLeaf: resolved.minHessianLeaf,
        l2: resolved.l2,
        minGain: resolved.minGain,
      },
      workers > 1,
      gradientArrays,
      { outputs: treePerThread ? K : 0, arena },
    );
    const lr = resolved.learningRate;
    const nSample = Math.max(1, Math.round(resolved.subsample * n));
    const nCols = Math.max(1, Math.round(resolved.colsample * p));
    const rowScratch = new Int32Array(n);
    const colScratch = new Int32Array(p);
    const inSample = new Uint8Array(n);
    const allCols = Int32Array.from({ length: p }, (_, f) => f);
    const trees: BoostedTree[] = [];
    const gains = new Float64Array(p);
    const gainsPerIter: Float64Array[] = [];
    const validationLoss: number[] = [];
    let bestLoss = Infinity;
    let bestIter = -1;

    try {
      if (threads) grower.attach(threads);
      for (let it = 0; it < resolved.nEstimators; it++) {
        const rng = new Rng(treeSeed(resolved.seed, it));
        const sample = nSample < n ? drawSorted(rng, n, nSample, rowScratch) : null;
        // One tree on all rows: its root's pass over the rows makes the gradients (see TreeGrower.grow).
        const gradientsInRoot = K === 1 && !sample;
        if (!gradientsInRoot) grower.computeGradients(objective);
        const iterGains = new Float64Array(p);
        // A grown tree (leaf values scaled, its outputs in the training scores) into the model.
        const keep = (t: GrownTree, k: number): void => {
          for (let i = 0; i < t.feature.length; i++) if (t.feature[i] >= 0) iterGains[t.feature[i]] += t.gain[i];
          if (val) addTreeOutputs(val.scores, K, k, t, val.bins, p, binned.missingBin);
          trees.push(toModelTree(t, binned));
        };
        if (treePerThread) {
          // The features of each tree drawn in the order the loop below draws them.
          const cols = Array.from({ length: K }, () => (nCols < p ? drawSorted(rng, p, nCols, colScratch) : allCols));
          grower.growOutputs(sample, cols, lr).forEach(keep);
        } else {
          if (sample) markRows(inSample, sample);
          for (let k = 0; k < K; k++) {
            const cols = nCols < p ? drawSorted(rng, p, nCols, colScratch) : allCols;
            // The tree's output for every row, added to the scores by the next computeGradients.
            const rowValue = gradientArrays.rowValue.subarray(k * n, (k + 1) * n);
            const t = growTreeOutput(grower, sample, inSample, cols, gh.subarray(2 * k * n, 2 * (k + 1) * n), lr, rowValue, gradientsInRoot ? objective : null);
            keep(t, k);
          }
        }
        gainsPerIter.push(iterGains);
        let vLoss: number | undefined;
        if (val) {
          vLoss = objective.loss(val.y, val.scores, val.w);
          validationLoss.push(vLoss);
          if (bestIter < 0 || vLoss < bestLoss - 1e-12 * Math.abs(bestLoss)) {
            bestLoss = vLoss;
            bestIter = it;
          }
        }
        options.onProgress?.({ iteration: it + 1, iterations: resolved.nEstimators, ...(vLoss !== undefined ? { validationLoss: vLoss } : {}) });
        if (val && resolved.earlyStoppingRounds > 0 && it - bestIter >= resolved.earlyStoppingRounds) break;
      }
    } finally {
      grower.close();
    }

    let nIterations = trees.length / K;
    if (val && resolved.earlyStoppingRounds > 0 && bestIter >= 0) nIterations = bestIter + 1;
    trees.length = nIterations * K;
    for (let it = 0; it < nIterations; it++) for (let f = 0; f < p; f++) gains[f] += gainsPerIter[it][f];
    let total = 0;
    for (let f = 0; f < p; f++) total += gains[f];

    return {
      format: 'mlops-boosting',
      version: 1,
      task: resolved.task,
      objective: resolved.objective,
      classes,
      nFeatures: p,
      ...(options.featureNames ? { featureNames: [...options.featureNames] } : {}),
      nOutputs: K,
      baseScore: base,
      params: resolved,
      trees,
      nIterations,
      featureImportances: Array.from(gains, (v) => (total > 0 ? v / total : 0)),
      validationLoss,
    };
  } finally {
    await threads?.close();
  }
}
