import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { RandomForestClassifier } from 'ml-random-forest';
import { buildEncoder } from '../../src/dataset/encode.ts';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { ArtifactHashMismatch } from '../../src/errors.ts';
import { predictBatch } from '../../src/forest/batch.ts';
import { compactForest, compactTrees, plainTrees } from '../../src/forest/compact.ts';
import { compileTrees } from '../../src/forest/compiled.ts';
import { compilePredictor, toMlRandomForestJSON, trainForest, type ForestModel } from '../../src/forest/index.ts';
import { ARTIFACT_FORMAT, forestArtifact, LoadedModel, parseArtifact, serializeArtifact } from '../../src/model/artifact.ts';
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
    for (const options of [{}, { interleave: 1 }, { order: 'bfs' as const }, { wide: true }, { wide: true, order: 'bfs' as const }]) {
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
  });

  it('a NaN goes right at every split, as `x < threshold` says', () => {
    const reference = compilePredictor(model);
    const compiled = compileTrees(compactForest(model));
    const x = Float64Array.from(row(0));
    x[0] = NaN;
    x[5] = NaN;
    assert.deepEqual(compiled.predictRow(x), reference.predictProba(x));
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
    assert.deepEqual(ml.predict(rows), rows.map((r) => reference.predictVote(r)));
  });

  it('refuses altered, truncated and foreign bytes with a reason', () => {
    const bytes = encodeCompact(compactForest(model), {}, 'b'.repeat(64));
    const flipped = bytes.slice();
    flipped[flipped.length - 5] ^= 1;
    assert.throws(() => decodeCompact(flipped), (e: Error) => e instanceof CompactFormatError && /payload sha256/.test(e.message));
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
    assert.deepEqual(fromLegacy.artifact.forest.featureImportances, model.featureImportances);
    const reference = compilePredictor(model);
    for (let r = 0; r < 50; r++) {
      const expected = reference.predictProba(row(r));
      assert.deepEqual(loaded.predictor.predictRow(row(r)), expected);
      assert.deepEqual(fromLegacy.predictor.predictRow(row(r)), expected);
    }
    // The legacy artifact in today's format is byte for byte today's artifact.
    assert.deepEqual(serializeArtifact(parseArtifact(legacy, 'k')), bytes);
    assert.throws(() => parseArtifact(Buffer.from('not a model'), 'models/x'), (e: Error) => e instanceof ArtifactHashMismatch && /models\/x/.test(e.message));
    // A header whose schema hash does not match its spec is refused.
    const other = encodeCompact(artifact.trees, { ...artifact, trees: undefined }, 'd'.repeat(64));
    assert.throws(() => parseArtifact(other, 'k'), /input schema hash/);
  });
});

describe('compact trees for boosting (per-class trees, raw scores)', () => {
  it("adds each tree's leaf value to its class's score, after the base score", () => {
    // Two stumps on feature 0 (class 0) and one on feature 1 (class 1).
    const stump = (f: number, threshold: number, lo: number, hi: number) => ({ feature: [f, -1, -1], threshold: [threshold, 0, 0], left: [1, -1, -1], right: [2, -1, -1], value: [lo, hi] });
    const compact = compactTrees([stump(0, 0.5, -1, 1), stump(0, 1.5, 0.25, 0.5), stump(1, 10, 2, 3)], {
      task: 'classification', combine: 'sum', nFeatures: 2, nOutputs: 2, leafWidth: 1, base: [0.1, -0.1], treeOutput: [0, 0, 1],
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
