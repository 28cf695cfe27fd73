// Pins the exact bytes of small seeded forests and boosted models, so a refactor of the trainer
// (criterion, splitter, histograms, tree builder) provably leaves the trained models unchanged.
// The hashes were taken before the trainer's refactor; a change in them means a change in
// behaviour, which must be a deliberate decision (and then these hashes are updated with it).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BoostingParamsSchema, trainBoosting } from '../../src/boosting/index.ts';
import { trainForest, type Matrix } from '../../src/forest/index.ts';

/** Deterministic data: feature 0 and 1 decide the target, the rest is noise; some NaNs. */
function synthetic(n: number, p: number, seed: number, missing: boolean): { X: Matrix; cls: Float64Array; reg: Float64Array } {
  let s = seed;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  const data = new Float64Array(n * p);
  const cls = new Float64Array(n);
  const reg = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < p; f++) data[i * p + f] = Math.round(rand() * 1000) / 10;
    const a = data[i * p];
    const b = data[i * p + 1];
    cls[i] = a < 30 ? 1 : a < 60 ? (b < 50 ? 2 : 3) : 4;
    if (rand() < 0.05) cls[i] = 1 + Math.floor(rand() * 4);
    reg[i] = a * 0.5 + (b > 40 ? 10 : 0) + rand() * 3;
    if (missing && rand() < 0.08) data[i * p + 2] = Number.NaN;
  }
  return { X: { rows: n, cols: p, data }, cls, reg };
}

const sha = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex');

describe('trained models are byte-identical to the pinned ones', () => {
  const { X, cls, reg } = synthetic(600, 6, 7, true);

  it('forest, classification (gini, bootstrap, oob, depth-limited)', async () => {
    const model = await trainForest(X, cls, { task: 'classification', nEstimators: 8, maxDepth: 8, seed: 3 }, { workers: 0 });
    assert.equal(sha(model), 'cee80fa2957da88f680b062754849e041bb41563374942e98b92077925a09f62');
  });
  it('forest, classification (entropy, all features, min leaf 3)', async () => {
    const model = await trainForest(
      X,
      cls,
      { task: 'classification', nEstimators: 4, criterion: 'entropy', maxFeatures: 'all', minSamplesLeaf: 3, bootstrap: false, seed: 11 },
      { workers: 0 },
    );
    assert.equal(sha(model), '9c49c5b361033195a9596be7eb3b930bc51beb2ecb0e6e2da0004101ab586f9a');
  });
  it('forest, regression (mse, 32 bins)', async () => {
    const model = await trainForest(X, reg, { task: 'regression', nEstimators: 6, maxBins: 32, seed: 5 }, { workers: 0 });
    assert.equal(sha(model), '82585ace9f33caefc916c7cac6281db1e532adcfb5996bd4571db2923ade8130');
  });
  it('forest, the same model from worker threads', async () => {
    const inProcess = await trainForest(X, cls, { task: 'classification', nEstimators: 4, seed: 9 }, { workers: 0 });
    const threaded = await trainForest(X, cls, { task: 'classification', nEstimators: 4, seed: 9 }, { workers: 2 });
    assert.equal(sha(threaded), sha(inProcess));
  });
  it('boosting, multiclass and regression', async () => {
    const multi = await trainBoosting(X, cls, BoostingParamsSchema.parse({ task: 'classification', nEstimators: 10, maxLeaves: 8, seed: 2 }), {});
    const regression = await trainBoosting(
      X,
      reg,
      BoostingParamsSchema.parse({ task: 'regression', nEstimators: 10, maxLeaves: 8, subsample: 0.8, seed: 2 }),
      {},
    );
    assert.equal(sha(multi), 'd2215f97c49019c3e3eca39decdc519b9b29bd8a8743064d550da6269f85f75b');
    assert.equal(sha(regression), '9e6894557c7629ed6b58e50a442d8987b5fedc61cea1aa16dfc32f970608430b');
  });
});
