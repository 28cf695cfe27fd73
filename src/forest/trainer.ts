// Forest training: bins the data once, grows trees (in-process or on worker threads sharing the
// bins through SharedArrayBuffers), then assembles the JSON model, OOB score and importances.
// Results are gathered by tree index, so the model does not depend on the number of workers.

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { binMatrix } from './bins.ts';
import { TreeBuilder, type TreeConfig, type TreeData, type TreeResult } from './tree-builder.ts';
import type { WorkerInit } from './tree-worker.ts';
import { leafOutputs } from './leaves.ts';
import type { ForestModel, ForestParams, Matrix, ResolvedParams, TrainOptions, TreeModel } from './types.ts';

const HIST_MIN_ROWS = 2048;

export function resolveParams(params: ForestParams): ResolvedParams {
  const task = params.task;
  if (task !== 'classification' && task !== 'regression') throw new RangeError(`unknown task ${String(task)}`);
  const criterion = params.criterion ?? (task === 'classification' ? 'gini' : 'mse');
  if (task === 'classification' && criterion !== 'gini' && criterion !== 'entropy') {
    throw new RangeError(`criterion ${criterion} is not valid for classification`);
  }
  if (task === 'regression' && criterion !== 'mse') throw new RangeError(`criterion ${criterion} is not valid for regression`);
  const posInt = (name: string, v: number, min: number): number => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const out: ResolvedParams = {
    task,
    nEstimators: posInt('nEstimators', params.nEstimators, 1),
    minSamplesSplit: posInt('minSamplesSplit', params.minSamplesSplit ?? 2, 2),
    minSamplesLeaf: posInt('minSamplesLeaf', params.minSamplesLeaf ?? 1, 1),
    maxFeatures: params.maxFeatures ?? (task === 'classification' ? 'sqrt' : 'all'),
    criterion,
    bootstrap: params.bootstrap ?? true,
    oob: params.oob ?? true,
    maxBins: posInt('maxBins', params.maxBins ?? 256, 2),
    seed: posInt('seed', params.seed, -(2 ** 31)),
  };
  if (out.maxBins > 256) throw new RangeError(`maxBins must be <= 256, got ${out.maxBins}`);
  if (params.maxDepth !== undefined && params.maxDepth !== Infinity) out.maxDepth = posInt('maxDepth', params.maxDepth, 1);
  return out;
}

export function resolveMtry(maxFeatures: ResolvedParams['maxFeatures'], p: number): number {
  if (maxFeatures === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(p)));
  if (maxFeatures === 'log2') return Math.max(1, Math.floor(Math.log2(p)));
  if (maxFeatures === 'all') return p;
  if (typeof maxFeatures === 'number' && maxFeatures > 0 && maxFeatures <= 1) {
    return Math.max(1, Math.floor(maxFeatures * p));
  }
  if (Number.isInteger(maxFeatures) && maxFeatures > 1 && maxFeatures <= p) return maxFeatures;
  throw new RangeError(`maxFeatures must be 'sqrt', 'log2', 'all', a fraction in (0, 1] or an integer in [2, ${p}]`);
}

function sharedCopy<T extends Int32Array | Float64Array>(src: T): T {
  const buf = new SharedArrayBuffer(src.byteLength);
  const dst = (src instanceof Int32Array ? new Int32Array(buf) : new Float64Array(buf)) as T;
  dst.set(src);
  return dst;
}

function workerUrl(): URL {
  // Same folder, same extension as this module: .ts under type stripping, .js in dist.
  return new URL(`./tree-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
}

async function growTrees(data: TreeData, config: TreeConfig, nTrees: number, workers: number, onTree: (r: TreeResult) => void): Promise<void> {
  if (workers <= 1) {
    const builder = new TreeBuilder(data, config);
    for (let t = 0; t < nTrees; t++) {
      onTree(builder.build(t));
      // Let timers and I/O run between trees.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return;
  }
  const init: WorkerInit = { data, config };
  const pool: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      let failed = false;
      const dispatch = (w: Worker): void => {
        if (next < nTrees) w.postMessage({ tree: next++ });
      };
      for (let i = 0; i < workers; i++) {
        const w = new Worker(workerUrl(), { workerData: init });
        pool.push(w);
        w.on('message', (r: TreeResult) => {
          if (failed) return;
          try {
            onTree(r);
          } catch (err) {
            failed = true;
            reject(err);
            return;
          }
          done++;
          if (done === nTrees) resolve();
          else dispatch(w);
        });
        w.on('error', (err) => {
          failed = true;
          reject(err);
        });
        w.on('exit', (code) => {
          if (!failed && done < nTrees && code !== 0) {
            failed = true;
            reject(new Error(`tree worker exited with code ${code}`));
          }
        });
        dispatch(w);
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

export async function trainForest(X: Matrix, y: Float64Array, params: ForestParams, options: TrainOptions = {}): Promise<ForestModel> {
  const resolved = resolveParams(params);
  const { rows, cols } = X;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError('X must have at least one row and one column');
  }
  if (X.data.length !== rows * cols) throw new RangeError(`X.data has ${X.data.length} values, expected ${rows * cols}`);
  if (y.length !== rows) throw new RangeError(`y has ${y.length} values, expected ${rows}`);
  if (options.featureNames && options.featureNames.length !== cols) {
    throw new RangeError(`featureNames has ${options.featureNames.length} names, expected ${cols}`);
  }
  const classification = resolved.task === 'classification';
  const mtry = resolveMtry(resolved.maxFeatures, cols);
  const nTrees = resolved.nEstimators;
  const workers = Math.max(0, Math.min(options.workers ?? availableParallelism(), nTrees));
  const shared = workers > 1;

  let classes: number[] = [];
  let yClass: Int32Array | null = null;
  let yValue: Float64Array | null = null;
  for (let i = 0; i < rows; i++) if (!Number.isFinite(y[i])) throw new RangeError(`non-finite target at row ${i}`);
  if (classification) {
    classes = Array.from(new Set(y)).sort((a, b) => a - b);
    const index = new Map(classes.map((c, i) => [c, i]));
    yClass = new Int32Array(shared ? new SharedArrayBuffer(rows * 4) : new ArrayBuffer(rows * 4));
    for (let i = 0; i < rows; i++) yClass[i] = index.get(y[i])!;
  } else {
    yValue = shared ? sharedCopy(y) : y;
  }
  const nOut = classification ? classes.length : 1;

  const binned = binMatrix(X, resolved.maxBins, shared);
  const edgeOff = new Int32Array(cols + 1);
  for (let f = 0; f < cols; f++) edgeOff[f + 1] = edgeOff[f] + binned.edges[f].length;
  const edges = new Float64Array(edgeOff[cols]);
  for (let f = 0; f < cols; f++) edges.set(binned.edges[f], edgeOff[f]);

  const data: TreeData = {
    nRows: rows,
    nFeatures: cols,
    bins: binned.bins,
    rowBins: binned.rowBins,
    nBins: binned.nBins,
    missingBin: binned.missingBin,
    hasMissing: binned.hasMissing,
    edges,
    edgeOff,
    nClasses: classification ? classes.length : 0,
    yClass,
    yValue,
  };
  const config: TreeConfig = {
    criterion: resolved.criterion,
    maxDepth: resolved.maxDepth ?? Infinity,
    minSamplesSplit: resolved.minSamplesSplit,
    minSamplesLeaf: resolved.minSamplesLeaf,
    mtry,
    bootstrap: resolved.bootstrap,
    oob: resolved.oob && resolved.bootstrap,
    seed: resolved.seed,
    histMinRows: HIST_MIN_ROWS,
  };

  // Models of complete data keep their exact JSON; defaultLeft appears once some value is missing.
  const anyMissing = binned.hasMissing.includes(1);
  const trees: TreeModel[] = new Array(nTrees);
  const importances: Float64Array[] = new Array(nTrees);
  // OOB sums are folded in tree order (buffering early finishers) so the score is bit-stable.
  const pendingOob: (TreeResult | undefined)[] = new Array(nTrees);
  const oobSum = config.oob ? new Float64Array(rows * nOut) : null;
  const oobN = config.oob ? new Uint32Array(rows) : null;
  let nextOob = 0;
  let treesDone = 0;

  const foldOob = (r: TreeResult): void => {
    if (!oobSum || !oobN) return;
    const leafOut = leafOutputs(r.value, nOut, classification);
    for (let o = 0; o < r.oobRows.length; o++) {
      const row = r.oobRows[o];
      const leaf = r.oobLeaf[o];
      for (let k = 0; k < nOut; k++) oobSum[row * nOut + k] += leafOut[leaf * nOut + k];
      oobN[row]++;
    }
  };

  const onTree = (r: TreeResult): void => {
    const t = r.index;
    trees[t] = {
      feature: Array.from(r.feature),
      threshold: Array.from(r.threshold),
      left: Array.from(r.left),
      right: Array.from(r.right),
      ...(anyMissing ? { defaultLeft: Array.from(r.defaultLeft) } : {}),
      value: Array.from(r.value),
    };
    importances[t] = r.importances;
    pendingOob[t] = r;
    while (nextOob < nTrees && pendingOob[nextOob]) {
      foldOob(pendingOob[nextOob]!);
      pendingOob[nextOob] = undefined;
      nextOob++;
    }
    treesDone++;
    options.onProgress?.({ treesDone, treesTotal: nTrees });
  };

  await growTrees(data, config, nTrees, workers, onTree);

  return {
    format: 'mlops-random-forest',
    version: 1,
    task: resolved.task,
    classes,
    nFeatures: cols,
    ...(options.featureNames ? { featureNames: [...options.featureNames] } : {}),
    nOutputs: nOut,
    params: resolved,
    trees,
    featureImportances: combineImportances(importances, trees, cols),
    oobScore: oobSum && oobN ? oobScore(oobSum, oobN, nOut, classification, yClass, y) : null,
  };
}

function combineImportances(perTree: Float64Array[], trees: TreeModel[], p: number): number[] {
  // As scikit-learn: normalize each tree that split at least once, average, renormalize.
  const sum = new Float64Array(p);
  let used = 0;
  for (let t = 0; t < perTree.length; t++) {
    if (trees[t].feature.length <= 1) continue;
    const imp = perTree[t];
    let s = 0;
    for (let f = 0; f < p; f++) s += imp[f];
    if (!(s > 0)) continue;
    for (let f = 0; f < p; f++) sum[f] += imp[f] / s;
    used++;
  }
  let total = 0;
  for (let f = 0; f < p; f++) total += sum[f];
  const out = new Array<number>(p).fill(0);
  if (used > 0 && total > 0) for (let f = 0; f < p; f++) out[f] = sum[f] / total;
  return out;
}

function oobScore(sum: Float64Array, n: Uint32Array, nOut: number, classification: boolean, yClass: Int32Array | null, y: Float64Array): number | null {
  let rowsSeen = 0;
  if (classification) {
    let correct = 0;
    for (let r = 0; r < n.length; r++) {
      if (n[r] === 0) continue; // never out of bag: skipped
      rowsSeen++;
      let best = 0;
      for (let k = 1; k < nOut; k++) if (sum[r * nOut + k] > sum[r * nOut + best]) best = k;
      if (best === yClass![r]) correct++;
    }
    return rowsSeen > 0 ? correct / rowsSeen : null;
  }
  let mean = 0;
  for (let r = 0; r < n.length; r++) {
    if (n[r] === 0) continue;
    rowsSeen++;
    mean += y[r];
  }
  if (rowsSeen === 0) return null;
  mean /= rowsSeen;
  let ssRes = 0;
  let ssTot = 0;
  for (let r = 0; r < n.length; r++) {
    if (n[r] === 0) continue;
    const d = y[r] - sum[r] / n[r];
    ssRes += d * d;
    ssTot += (y[r] - mean) * (y[r] - mean);
  }
  return ssTot > 0 ? 1 - ssRes / ssTot : null;
}
