import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { RandomForestClassifier } from 'ml-random-forest';
import { buildEncoder } from '../../src/dataset/encode.ts';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { ArtifactHashMismatch } from '../../src/errors.ts';
import { type BatchJob, predictBatch, runBatchJob } from '../../src/forest/batch.ts';
import { compactForest, compactTrees, plainTrees } from '../../src/forest/compact.ts';
import { CompiledTrees, compileTrees } from '../../src/forest/compiled.ts';
import { compilePredictor, toMlRandomForestJSON, trainForest, type ForestModel, type Matrix } from '../../src/forest/index.ts';
import { compileBoosting, trainBoosting, type BoostingModel } from '../../src/boosting/index.ts';
import { compactBoosting } from '../../src/boosting/compact.ts';
import { parseDatasetSpec } from '../../src/dataset/spec.ts';
import { ARTIFACT_FORMAT, ARTIFACT_FORMAT_V2, artifactOf, forestArtifact, LoadedModel, parseArtifact, serializeArtifact } from '../../src/model/artifact.ts';
import { CompactFormatError, decodeCompact, encodeCompact } from '../../src/model/compact.ts';
import { covertypePath, loadCovertype, stratifiedSplit, takeRows, type Dataset } from '../../bench/covertype.ts';

const path = covertypePath();
const skip = existsSync(path) ? false : `Covertype not found at ${path} (set COVERTYPE_PATH)`;
const spec = await readDatasetSpecFile(new URL('../../datasets/covertype.spec.json', import.meta.url).pathname);

describe('compact trees on real Covertype rows', { skip }, () => {
  let train: Dataset;
  let test: Dataset;
  let model: ForestModel;
  before(async () => {
    const head = loadCovertype(path, 12_000);
    // Classes as the pipeline encodes them: indices into the spec's classes.
    head.y = head.y.map((v) => v - 1);
    const split = stratifiedSplit(head.y, 0.25, 5);
    train = takeRows(head, split.train);
    test = takeRows(head, split.test);
    model = await trainForest(train.X, train.y, { task: 'classification', nEstimators: 12, seed: 9 }, { workers: 0 });
  });
  const row = (r: number): Float64Array => test.X.data.subarray(r * test.X.cols, (r + 1) * test.X.cols);

  it('every layout predicts exactly what the JSON forest predicts, row by row and in blocks', async () => {
    const reference = compilePredictor(model);
    const n = test.X.rows;
    const expected = new Float64Array(n * model.nOutputs);
    for (let r = 0; r < n; r++) expected.set(reference.predictProba(row(r)), r * model.nOutputs);
    const compact = compactForest(model);
    // Blocks of 99 rows: several blocks, the last one partial, and rows left over from the four-row lockstep.
    const layouts = [
      {},
      { interleave: 1 },
      { order: 'bfs' as const },
      { order: 'dfs' as const },
      { order: 'dfs' as const, interleave: 1 },
      { wide: true },
      { wide: true, order: 'bfs' as const },
      { wide: true, order: 'dfs' as const },
      { blockRows: 99 },
      { blockRows: 99, byteRanks: false },
      { blockRows: 99, order: 'dfs' as const },
    ];
    for (const options of layouts) {
      const compiled = compileTrees(compact, options);
      const single = new Float64Array(n * model.nOutputs);
      for (let r = 0; r < n; r++) compiled.predictRow(row(r), single, r * model.nOutputs);
      assert.deepEqual(single, expected, JSON.stringify(options));
      const block = new Float64Array(n * model.nOutputs);
      compiled.predictBlock(test.X.data, 0, n, block);
      assert.deepEqual(block, expected, JSON.stringify(options));
    }
    // Worker threads (two ranges besides this thread's) give the same numbers.
    const batch = await predictBatch(compileTrees(compact), test.X.data, n, { threads: 3, minRowsPerThread: 100 });
    assert.deepEqual(batch, expected);
    // A worker's loop, run on this thread: it takes every block of 50 rows and counts itself out of
    // ACTIVE (next[1]) after each, which the calling thread waits on.
    const job: BatchJob = {
      parts: compileTrees(compact).parts,
      x: test.X.data,
      out: new Float64Array(n * model.nOutputs),
      rows: n,
      chunk: 50,
      next: new Int32Array(3),
    };
    runBatchJob(job);
    assert.deepEqual(job.out, expected);
    assert.deepEqual([job.next[0] > n / 50, job.next[1], job.next[2]], [true, 0, 0]);
  });

  it('the blocks order: a walk enters a new 128-byte block at most every fourth node, fewer than depth-first', () => {
    const compact = compactForest(model);
    /** Per walk of each test row through each tree: nodes visited, and distinct 128-byte blocks (32 packed nodes) read. */
    const walks = (order: 'blocks' | 'dfs'): { nodes: number; blocks: number }[] => {
      const compiled = compileTrees(compact, { order });
      const { nodes, roots, binBits, featureBits, packed, nTrees } = compiled.parts;
      assert.ok(packed);
      const fMask = (1 << featureBits) - 1;
      const q = new Int32Array(test.X.cols);
      const out: { nodes: number; blocks: number }[] = [];
      for (let r = 0; r < test.X.rows; r++) {
        compiled.quantize(row(r), 0, q, 0);
        for (let t = 0; t < nTrees; t++) {
          const seen = new Set<number>();
          let visited = 0;
          for (let i = roots[t]; ; visited++) {
            seen.add(i >> 5);
            const node = nodes[i];
            const f = (node >>> binBits) & fMask;
            const off = node >>> (binBits + featureBits);
            if (f === fMask) break;
            const right = q[f] > (node & ((1 << binBits) - 1));
            i = order === 'dfs' ? (right ? i + off : i + 1) : i + off + (right ? 1 : 0);
          }
          out.push({ nodes: visited + 1, blocks: seen.size });
        }
      }
      return out;
    };
    // A tree's first block holds its top five levels, every later one at least four more.
    const blocked = walks('blocks');
    for (const w of blocked) assert.ok(w.blocks <= 1 + Math.ceil(Math.max(0, w.nodes - 5) / 4), JSON.stringify(w));
    const mean = (ws: { blocks: number }[]) => ws.reduce((a, w) => a + w.blocks, 0) / ws.length;
    assert.ok(mean(blocked) < mean(walks('dfs')));
  });

  it('a NaN goes right at every split, as `x < threshold` says', () => {
    const reference = compilePredictor(model);
    const compiled = compileTrees(compactForest(model));
    const x = Float64Array.from(row(0));
    x[0] = NaN;
    x[5] = NaN;
    assert.deepEqual(compiled.predictRow(x), reference.predictProba(x));
    const block = new Float64Array(model.nOutputs);
    compiled.predictBlock(x, 0, 1, block);
    assert.deepEqual(block, reference.predictProba(x));
  });

  it('the binary file round-trips and still exports to ml-random-forest', () => {
    const compact = compactForest(model);
    const bytes = encodeCompact(compact, { note: 'meta' }, 'a'.repeat(64));
    // Same inputs, same bytes (reproducible artifacts).
    assert.deepEqual(encodeCompact(compactForest(model), { note: 'meta' }, 'a'.repeat(64)), bytes);
    const decoded = decodeCompact(bytes);
    assert.deepEqual(decoded.meta, { note: 'meta' });
    assert.equal(decoded.inputSchemaSha256, 'a'.repeat(64));
    assert.deepEqual(compileTrees(decoded.trees, { shared: false }).predictRow(row(3)), compileTrees(compact).predictRow(row(3)));
    const exported = { ...model, trees: plainTrees(decoded.trees) };
    const ml = RandomForestClassifier.load(JSON.parse(JSON.stringify(toMlRandomForestJSON(exported))));
    const rows = Array.from({ length: 300 }, (_, r) => Array.from(row(r)));
    const reference = compilePredictor(model);
    assert.deepEqual(
      ml.predict(rows),
      rows.map((r) => reference.predictVote(r)),
    );
  });

  it('refuses altered, truncated and foreign bytes with a reason', () => {
    const bytes = encodeCompact(compactForest(model), {}, 'b'.repeat(64));
    const flipped = bytes.slice();
    flipped[flipped.length - 5] ^= 1;
    assert.throws(
      () => decodeCompact(flipped),
      (e: Error) => e instanceof CompactFormatError && /payload sha256/.test(e.message),
    );
    assert.throws(() => decodeCompact(bytes.subarray(0, bytes.length - 8)), CompactFormatError);
    const future = bytes.slice();
    new DataView(future.buffer).setUint32(8, 99, true);
    assert.throws(() => decodeCompact(future), /version 99/);
    assert.throws(() => decodeCompact(new TextEncoder().encode('{"not":"a model"}')), /magic/);
  });

  it('rejects trees whose indices leave the tree before any walk', () => {
    const compact = compactForest(model);
    const child = compact.child.slice();
    // The root's right child pointing back at the root would loop forever.
    child[0] = 0;
    assert.throws(() => compileTrees({ ...compact, child }), /children out of range/);
    const feature = compact.feature.slice();
    feature[0] = model.nFeatures;
    assert.throws(() => compileTrees({ ...compact, feature }), /feature .* out of range/);
  });

  it('artifacts: the binary file loads and predicts as before; gzip JSON of the first releases still loads', () => {
    // The encoder's 54 features are the UCI layout the file has.
    const featureNames = buildEncoder(spec).featureNames;
    const fields = { dataset: 'covertype', datasetContentHash: 'c'.repeat(64), spec, featureNames, params: { nEstimators: 12 } };
    const artifact = forestArtifact(fields, model);
    const bytes = serializeArtifact(artifact);
    const loaded = new LoadedModel(parseArtifact(bytes, 'k'));
    const legacy = gzipSync(JSON.stringify({ format: ARTIFACT_FORMAT, ...fields, forest: model }));
    const fromLegacy = new LoadedModel(parseArtifact(legacy, 'k'));
    assert.deepEqual(fromLegacy.artifact.forest?.featureImportances, model.featureImportances);
    const reference = compilePredictor(model);
    for (let r = 0; r < 50; r++) {
      const expected = reference.predictProba(row(r));
      assert.deepEqual(loaded.predictor.predictRow(row(r)), expected);
      assert.deepEqual(fromLegacy.predictor.predictRow(row(r)), expected);
    }
    // The legacy artifact in today's format is byte for byte today's artifact.
    assert.deepEqual(serializeArtifact(parseArtifact(legacy, 'k')), bytes);
    assert.throws(
      () => parseArtifact(Buffer.from('not a model'), 'models/x'),
      (e: Error) => e instanceof ArtifactHashMismatch && /models\/x/.test(e.message),
    );
    // A header whose schema hash does not match its spec is refused.
    const { trees, ...meta } = artifact;
    assert.ok(trees);
    const other = encodeCompact(trees, meta, 'd'.repeat(64));
    assert.throws(() => parseArtifact(other, 'k'), /input schema hash/);
  });
});

describe('compact trees for boosting (per-class trees, raw scores)', () => {
  it("adds each tree's leaf value to its class's score, after the base score", () => {
    // Two stumps on feature 0 (class 0) and one on feature 1 (class 1).
    const stump = (f: number, threshold: number, lo: number, hi: number) => ({
      feature: [f, -1, -1],
      threshold: [threshold, 0, 0],
      left: [1, -1, -1],
      right: [2, -1, -1],
      value: [lo, hi],
    });
    const compact = compactTrees([stump(0, 0.5, -1, 1), stump(0, 1.5, 0.25, 0.5), stump(1, 10, 2, 3)], {
      task: 'classification',
      combine: 'sum',
      nFeatures: 2,
      nOutputs: 2,
      leafWidth: 1,
      base: [0.1, -0.1],
      treeOutput: [0, 0, 1],
    });
    const compiled = compileTrees(compact);
    const at = (x0: number, x1: number) => Array.from(compiled.predictRow([x0, x1]));
    assert.deepEqual(at(0, 0), [0.1 - 1 + 0.25, -0.1 + 2]);
    assert.deepEqual(at(1, 20), [0.1 + 1 + 0.25, -0.1 + 3]);
    assert.deepEqual(at(2, 10), [0.1 + 1 + 0.5, -0.1 + 3]);
    const decoded = decodeCompact(encodeCompact(compact, {}, '0'.repeat(64))).trees;
    assert.deepEqual(Array.from(compileTrees(decoded).predictRow([2, 10])), at(2, 10));
  });
});

// Rows with missing values (NaN) in every feature, so that trees learn where to send them.
function withMissing(n: number, seed: number, classes: number): { X: Matrix; y: Float64Array } {
  let s = seed;
  const rand = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const cols = 4;
  const data = new Float64Array(n * cols);
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < cols; f++) data[r * cols + f] = rand() < 0.2 ? Number.NaN : Math.round(rand() * 100) / 10;
    // Missing feature 0 means the high classes: a learned direction that is not "right".
    const a = data[r * cols];
    const score = (Number.isNaN(a) ? 9 : a) + (rand() - 0.5) * 2;
    y[r] = Math.max(0, Math.min(classes - 1, Math.floor((score / 10) * classes)));
  }
  return { X: { rows: n, cols, data }, y };
}

const missingSpec = (classes: number) =>
  parseDatasetSpec({
    name: 'gaps',
    task: 'classification',
    columns: [...['a', 'b', 'c', 'd'].map((name) => ({ name, type: 'numeric', missing: true })), { name: 'y', type: 'integer', min: 0, max: classes - 1 }],
    target: 'y',
    classes: Array.from({ length: classes }, (_, k) => ({ value: k, label: `class ${k}` })),
    split: { train: 0.8, validation: 0.1, test: 0.1, seed: 's' },
  });

describe('missing values take the learned direction in the compact format', () => {
  const train = withMissing(1500, 1, 3);
  const test = withMissing(600, 2, 3);
  const row = (r: number): Float64Array => test.X.data.subarray(r * test.X.cols, (r + 1) * test.X.cols);
  const nanRows = Array.from({ length: test.X.rows }, (_, r) => r).filter((r) => row(r).some((v) => Number.isNaN(v)));

  it('a forest trained with missing values predicts as its reference predictor, in every layout, through the file and in worker threads', async () => {
    const model = await trainForest(train.X, train.y, { task: 'classification', nEstimators: 15, seed: 4 }, { workers: 0 });
    assert.ok(
      model.trees.some((t) => t.defaultLeft?.some((d) => d === 1)),
      'some split learned to send missing values left',
    );
    assert.ok(nanRows.length > 100);
    const reference = compilePredictor(model);
    const n = test.X.rows;
    const expected = new Float64Array(n * model.nOutputs);
    for (let r = 0; r < n; r++) expected.set(reference.predictProba(row(r)), r * model.nOutputs);
    const compact = compactForest(model);
    assert.ok(compact.defaultLeft);
    const decoded = decodeCompact(encodeCompact(compact, {}, '0'.repeat(64))).trees;
    assert.deepEqual(decoded.defaultLeft, compact.defaultLeft);
    // The directions ride in a bit of the 4-byte nodes (12-byte nodes with a flag table when asked).
    assert.deepEqual([compileTrees(compact).parts.packed, compileTrees(compact).parts.leftBit], [true, 1]);
    for (const [trees, options] of [
      [compact, {}],
      [compact, { order: 'bfs' as const }],
      [compact, { order: 'dfs' as const }],
      [compact, { interleave: 1 }],
      [compact, { byteRanks: false }],
      [compact, { wide: true }],
      [compact, { blockRows: 7 }],
      [decoded, { shared: false }],
    ] as const) {
      const compiled = compileTrees(trees, options);
      const single = new Float64Array(n * model.nOutputs);
      for (let r = 0; r < n; r++) compiled.predictRow(row(r), single, r * model.nOutputs);
      assert.deepEqual(single, expected, JSON.stringify(options));
      const block = new Float64Array(n * model.nOutputs);
      compiled.predictBlock(test.X.data, 0, n, block);
      assert.deepEqual(block, expected, JSON.stringify(options));
    }
    assert.deepEqual(await predictBatch(compileTrees(compact), test.X.data, n, { threads: 3, minRowsPerThread: 100 }), expected);
    // Without the flags every NaN would go right: some rows would change (this test can fail).
    const { defaultLeft: _dl, ...allRight } = compact;
    const naive = new Float64Array(n * model.nOutputs);
    compileTrees(allRight).predictBlock(test.X.data, 0, n, naive);
    assert.notDeepEqual(naive, expected);
    // Back to plain trees (renumbered depth-first), the directions come along.
    const lefts = (d: readonly number[] | undefined): number => (d ?? []).reduce((a, b) => a + b, 0);
    assert.deepEqual(
      plainTrees(compact).map((t) => lefts(t.defaultLeft)),
      model.trees.map((t) => lefts(t.defaultLeft)),
    );
  });

  for (const classes of [2, 3]) {
    it(`a boosting model (${classes} classes) predicts as its reference predictor through the artifact, NaN rows included`, async () => {
      const trainK = withMissing(1500, 3, classes);
      const model: BoostingModel = await trainBoosting(trainK.X, trainK.y, { task: 'classification', nEstimators: 25, seed: 5 }, { workers: 1 });
      assert.equal(model.objective, classes === 2 ? 'binary' : 'multiclass');
      assert.ok(model.trees.some((t) => t.defaultLeft.some((d, i) => d === 1 && t.feature[i] >= 0)));
      const reference = compileBoosting(model);
      const spec = missingSpec(classes);
      const fields = { dataset: 'gaps', datasetContentHash: 'e'.repeat(64), spec, featureNames: ['a', 'b', 'c', 'd'], params: { family: 'boosting' } };
      const artifact = artifactOf(fields, { family: 'boosting', boosting: model });
      const bytes = serializeArtifact(artifact);
      assert.deepEqual(serializeArtifact(artifactOf(fields, { family: 'boosting', boosting: model })), bytes, 'same model, same bytes');
      const loaded = new LoadedModel(parseArtifact(bytes, 'k'));
      assert.ok(loaded.predictor instanceof CompiledTrees && loaded.predictor.parts.packed && loaded.predictor.parts.leftBit === 1, '4-byte nodes');
      // The gzip JSON of the previous release (mlops-model/2 with the trees inside) still loads.
      const legacy = gzipSync(JSON.stringify({ format: ARTIFACT_FORMAT_V2, family: 'boosting', ...fields, boosting: model }));
      const fromLegacy = new LoadedModel(parseArtifact(legacy, 'k'));
      assert.deepEqual(serializeArtifact(fromLegacy.artifact), bytes);
      const n = test.X.rows;
      const testK = withMissing(n, 2, classes);
      const block = new Float64Array(n * loaded.predictor.nOutputs);
      loaded.predictor.predictBlock(testK.X.data, 0, n, block);
      const batch = await predictBatch(loaded.predictor, testK.X.data, n, { threads: 2, minRowsPerThread: 100 });
      assert.deepEqual(batch, block);
      let withNaN = 0;
      for (let r = 0; r < n; r++) {
        const x = testK.X.data.subarray(r * 4, (r + 1) * 4);
        if (x.some((v) => Number.isNaN(v))) withNaN++;
        const expected = reference.predictProba(x);
        assert.deepEqual(loaded.probabilitiesAt(loaded.predictor.predictRow(x), 0), expected, `row ${r}`);
        assert.deepEqual(loaded.probabilitiesAt(block, r * loaded.predictor.nOutputs), expected, `row ${r} in a block`);
        assert.deepEqual(fromLegacy.probabilitiesAt(fromLegacy.predictor.predictRow(x), 0), expected);
      }
      assert.ok(withNaN > 100);
      // Without the directions the scores differ.
      const { defaultLeft: _dl, ...allRight } = compactBoosting(model);
      const naive = new Float64Array(n * loaded.predictor.nOutputs);
      compileTrees(allRight).predictBlock(testK.X.data, 0, n, naive);
      assert.notDeepEqual(naive, block);
    });
  }

  it('a boosting regression model sums from the base score as its reference does', async () => {
    const model = await trainBoosting(train.X, train.y, { task: 'regression', nEstimators: 30, seed: 6 }, { workers: 1 });
    const reference = compileBoosting(model);
    const compiled = compileTrees(compactBoosting(model));
    for (let r = 0; r < test.X.rows; r++) assert.equal(compiled.predictRow(row(r))[0], reference.predict(row(r)));
  });
});
