import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDatasetSpec } from '../../src/dataset/spec.ts';
import { buildEncoder, encodeMatrix } from '../../src/dataset/encode.ts';
import { artifactOf, LoadedModel, parseArtifact, serializeArtifact } from '../../src/model/artifact.ts';
import { fitFamily, TrainParamsSchema, type TrainParams } from '../../src/model/families.ts';
import { bestByObjective, planTrials, resolveSearch } from '../../src/pipeline/search.ts';

const spec = parseDatasetSpec({
  name: 'toy',
  task: 'classification',
  columns: [
    { name: 'x', type: 'numeric', missing: true },
    { name: 'c', type: 'categorical', values: ['a', 'b'] },
    { name: 'y', type: 'integer', min: 0, max: 1 },
  ],
  target: 'y',
  classes: [
    { value: 0, label: 'no' },
    { value: 1, label: 'yes' },
  ],
  split: { train: 1, validation: 0, test: 0, seed: 't' },
});
// y = 1 exactly when x > 5; every fifth x is missing (and those rows are all y = 1).
const rows = Array.from({ length: 200 }, (_, i) => ({ x: i % 5 === 0 ? null : i % 10, c: i % 2 ? 'a' : 'b', y: i % 5 === 0 || i % 10 > 5 ? 1 : 0 }));

async function fitted(params: TrainParams) {
  const encoder = buildEncoder(spec);
  const { x, y, rows: n, width } = encodeMatrix(encoder, rows);
  const model = await fitFamily('classification', params, { rows: n, cols: width, data: x }, y, { workers: 1, featureNames: encoder.featureNames });
  return artifactOf({ dataset: 'toy', datasetContentHash: 'h', spec, featureNames: encoder.featureNames, params }, model, 0.5);
}

describe('model families', () => {
  it('train params: a run without a family is a forest; each family takes only its own parameters', () => {
    assert.equal(TrainParamsSchema.parse({}).family, 'forest');
    assert.equal(TrainParamsSchema.parse({ family: 'linear', l2: 0.1 }).family, 'linear');
    assert.ok(!TrainParamsSchema.safeParse({ family: 'boosting', maxFeatures: 'sqrt' }).success);
    assert.ok(!TrainParamsSchema.safeParse({ family: 'svm' }).success);
  });

  for (const family of ['forest', 'boosting', 'linear'] as const) {
    it(`${family}: fits, round-trips through its artifact, predicts a row with a missing value`, async () => {
      const params = TrainParamsSchema.parse({
        family,
        ...(family === 'boosting' ? { nEstimators: 30, minSamplesLeaf: 2, earlyStoppingRounds: 0 } : family === 'forest' ? { nEstimators: 10 } : {}),
      });
      const artifact = await fitted(params);
      assert.equal(artifact.format, family === 'forest' ? 'mlops-forest/1' : 'mlops-model/2');
      assert.equal(artifact.family, family === 'forest' ? undefined : family);
      const bytes = serializeArtifact(artifact);
      // Same lineage, same bytes.
      assert.deepEqual(serializeArtifact(await fitted(params)), bytes);
      const model = new LoadedModel(parseArtifact(bytes, 'k'));
      assert.equal(model.family, family);
      assert.equal(model.threshold, 0.5);
      const missing = model.predictRow({ x: null, c: 'a' });
      assert.ok(missing.prediction === 0 || missing.prediction === 1);
      if (family !== 'linear') {
        // Trees learn where missing values go (they are all positives here) and the x > 5 rule.
        assert.equal(missing.prediction, 1);
        assert.equal(model.predictRow({ x: 9, c: 'b' }).prediction, 1);
        assert.equal(model.predictRow({ x: 1, c: 'b' }).prediction, 0);
      }
      assert.equal(model.featureImportances.length, artifact.featureNames.length);
    });
  }

  it("the search draws the family, then parameters from that family's space; fixed parameters go where they apply", () => {
    const search = resolveSearch(
      { nEstimators: 40, seed: 3 },
      {
        trials: 30,
        seed: 5,
        cv: 3,
        space: { family: { values: ['forest', 'boosting', 'linear'] } },
        spaces: { boosting: { learningRate: { values: [0.05] } }, linear: { l2: { values: [0.01, 0.1] } } },
      },
    );
    const trials = planTrials(search);
    assert.deepEqual(new Set(trials.map((t) => t.family)), new Set(['forest', 'boosting', 'linear']));
    for (const t of trials) {
      assert.equal(t.cv, 3);
      assert.equal(t.seed, 3);
      if (t.family === 'forest') assert.equal(t.nEstimators, 40);
      if (t.family === 'boosting') assert.deepEqual([t.nEstimators, t.learningRate], [40, 0.05]);
      if (t.family === 'linear') assert.ok(t.l2 === 0.01 || t.l2 === 0.1);
    }
    assert.throws(() => resolveSearch({}, { space: { family: { values: ['svm'] } } }), /search\.space\.family/);
    assert.throws(() => resolveSearch({}, { space: { nEstimatorz: { values: [1] } } }), /not a parameter of any model family/);
  });

  it('with cross-validation, a trial is chosen by its CV mean', () => {
    const best = bestByObjective(
      [
        { runId: 'a', metrics: { rows: 1, accuracy: 0.9, accuracy_cv_mean: 0.7 } as never },
        { runId: 'b', metrics: { rows: 1, accuracy: 0.8, accuracy_cv_mean: 0.75 } as never },
      ],
      ['accuracy'],
    );
    assert.equal(best.accuracy?.runId, 'b');
  });
});
