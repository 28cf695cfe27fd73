import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { RandomForestClassifier } from 'ml-random-forest';
import { compilePredictor, toMlRandomForestJSON, trainForest } from '../../src/forest/index.ts';
import { covertypePath, loadCovertype, stratifiedSplit, takeRows, type Dataset } from '../../bench/covertype.ts';

const path = covertypePath();
const skip = existsSync(path) ? false : `Covertype not found at ${path} (set COVERTYPE_PATH)`;

describe('forest on real Covertype rows', { skip }, () => {
  let train: Dataset;
  let test: Dataset;
  before(() => {
    // The file is in SHA-1 row order, so its head is a random sample.
    const head = loadCovertype(path, 25_000);
    const split = stratifiedSplit(head.y, 0.2, 7);
    train = takeRows(head, split.train);
    test = takeRows(head, split.test);
  });

  const row = (ds: Dataset, r: number): Float64Array => ds.X.data.subarray(r * ds.X.cols, (r + 1) * ds.X.cols);

  it('exported model loads in ml-random-forest and predicts the same classes', async () => {
    const small = takeRows(
      train,
      Array.from({ length: 3000 }, (_, i) => i),
    );
    const model = await trainForest(small.X, small.y, { task: 'classification', nEstimators: 5, seed: 3 }, { workers: 0 });
    assert.deepEqual(model.classes, [1, 2, 3, 4, 5, 6, 7]);
    const ml = RandomForestClassifier.load(JSON.parse(JSON.stringify(toMlRandomForestJSON(model))));
    const rows = Array.from({ length: 1000 }, (_, r) => Array.from(row(test, r)));
    const theirs = ml.predict(rows);
    const pred = compilePredictor(model);
    // ml-random-forest aggregates by majority vote: identical to our predictVote...
    assert.deepEqual(
      theirs,
      rows.map((r) => pred.predictVote(r)),
    );
    // ...and almost always equal to the probability-averaged prediction.
    const agree = rows.filter((r, i) => pred.predict(r) === theirs[i]).length / rows.length;
    assert.ok(agree > 0.95, `agreement ${agree}`);
  });

  it('accuracy on 20k rows is far above the majority class (0.475)', async () => {
    const model = await trainForest(train.X, train.y, { task: 'classification', nEstimators: 16, seed: 1 });
    const pred = compilePredictor(model);
    let correct = 0;
    for (let r = 0; r < test.X.rows; r++) if (pred.predict(row(test, r)) === test.y[r]) correct++;
    const accuracy = correct / test.X.rows;
    assert.ok(accuracy > 0.8, `test accuracy ${accuracy}`);
    assert.ok(model.oobScore !== null && model.oobScore > 0.75, `oob ${model.oobScore}`);
    // Elevation (column 0) is by far the most informative Covertype feature.
    const top = model.featureImportances.indexOf(Math.max(...model.featureImportances));
    assert.equal(top, 0);
  });
});
