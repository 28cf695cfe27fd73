import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bestByObjective, planTrials, resolveSearch, SearchSchema } from '../../src/pipeline/search.ts';
import type { TrainParams } from '../../src/pipeline/train.ts';

/** A trial's params, which must be a forest's. */
function forest(p: TrainParams): Extract<TrainParams, { family: 'forest' }> {
  assert.equal(p.family, 'forest');
  return p as Extract<TrainParams, { family: 'forest' }>;
}

describe('hyper-parameter search', () => {
  test('the same seed draws the same trials; another seed draws others', () => {
    const search = SearchSchema.parse({ trials: 6, seed: 11 });
    assert.deepEqual(planTrials(search), planTrials(search));
    assert.notDeepEqual(planTrials(search), planTrials(SearchSchema.parse({ trials: 6, seed: 12 })));
  });

  test('draws stay inside the declared space and are valid train params', () => {
    const search = SearchSchema.parse({
      trials: 50,
      seed: 3,
      space: { nEstimators: { min: 10, max: 200, log: true }, maxFeatures: { values: ['sqrt', 0.5] }, minSamplesLeaf: { min: 1, max: 5 } },
    });
    for (const p of planTrials(search).map(forest)) {
      assert.ok(p.nEstimators >= 10 && p.nEstimators <= 200 && Number.isInteger(p.nEstimators));
      assert.ok(p.maxFeatures === 'sqrt' || p.maxFeatures === 0.5);
      assert.ok(p.minSamplesLeaf >= 1 && p.minSamplesLeaf <= 5);
    }
  });

  test('parameters fixed by the execution input are not searched unless the space names them', () => {
    const fixed = resolveSearch({ nEstimators: 25, seed: 9 }, { trials: 5 });
    assert.ok(!('nEstimators' in fixed.space));
    for (const p of planTrials(fixed).map(forest)) assert.equal(p.nEstimators, 25);
    const explicit = resolveSearch({ nEstimators: 25 }, { trials: 5, space: { nEstimators: { values: [7] } } });
    for (const p of planTrials(explicit).map(forest)) assert.equal(p.nEstimators, 7);
  });

  test('a space that draws invalid parameters, or a bad search, is refused with the field named', () => {
    assert.throws(
      () => resolveSearch({}, { trials: 0 }),
      (e: Error) => e.name === 'InvalidInput' && /search\.trials/.test(e.message),
    );
    assert.throws(() => planTrials(SearchSchema.parse({ trials: 1, space: { minSamplesLeaf: { values: [0] } } })), /minSamplesLeaf/);
  });

  test('the best trial per objective follows each metric direction; ties keep the earlier trial', () => {
    const trials = [
      { runId: 'a', metrics: { rows: 10, accuracy: 0.8, auroc_ovr: 0.95, rmse: 3 } },
      { runId: 'b', metrics: { rows: 10, accuracy: 0.9, auroc_ovr: 0.93, rmse: 2 } },
      { runId: 'c', metrics: { rows: 10, accuracy: 0.9, auroc_ovr: 0.96, rmse: 4 } },
    ];
    const best = bestByObjective(trials, ['accuracy', 'auroc_ovr', 'rmse']);
    assert.equal(best.accuracy?.runId, 'b');
    assert.equal(best.auroc_ovr?.runId, 'c');
    assert.equal(best.rmse?.runId, 'b');
  });
});
