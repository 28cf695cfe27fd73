import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { averagedStats, averagePrecision, balancedAccuracy, bestF1Threshold, confusionMatrix, perClassStats } from '../../src/metrics/classification.ts';
import { classificationMetrics } from '../../src/model/evaluate.ts';

const close = (actual: number | undefined, expected: number, what: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

describe('metrics for imbalanced classes, against hand-computed values', () => {
  // yTrue 0 0 0 1 1 2, yPred 0 0 1 1 2 2:
  //   class 0: TP 2, predicted 2, support 3 → P 1,   R 2/3, F1 4/5
  //   class 1: TP 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
  //   class 2: TP 1, predicted 2, support 1 → P 1/2, R 1,   F1 2/3
  const yTrue = Float64Array.from([0, 0, 0, 1, 1, 2]);
  const yPred = Float64Array.from([0, 0, 1, 1, 2, 2]);

  it('per class, macro and weighted precision/recall/F1, balanced accuracy', () => {
    const stats = perClassStats(confusionMatrix(yTrue, yPred, [0, 1, 2]));
    const avg = averagedStats(stats);
    close(avg.macro.precision, (1 + 1 / 2 + 1 / 2) / 3, 'macro precision');
    close(avg.macro.recall, (2 / 3 + 1 / 2 + 1) / 3, 'macro recall');
    close(avg.macro.f1, (4 / 5 + 1 / 2 + 2 / 3) / 3, 'macro F1');
    close(avg.weighted.precision, (3 * 1 + 2 * (1 / 2) + 1 * (1 / 2)) / 6, 'weighted precision');
    close(avg.weighted.recall, 4 / 6, 'weighted recall (= accuracy)');
    close(avg.weighted.f1, (3 * (4 / 5) + 2 * (1 / 2) + 1 * (2 / 3)) / 6, 'weighted F1');
    close(avg.balancedAccuracy, 13 / 18, 'balanced accuracy');
    close(balancedAccuracy(yTrue, yPred), 13 / 18, 'balancedAccuracy()');
  });

  it('balanced accuracy sees through "always the majority class"; accuracy does not', () => {
    const truth = Float64Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    const majority = new Float64Array(10);
    close(balancedAccuracy(truth, majority, [0, 1]), 0.5, 'balanced accuracy');
  });

  it('average precision: Σ (Rₙ − Rₙ₋₁)·Pₙ over thresholds, ties entering together', () => {
    // Scores 0.9+ 0.8- 0.7+ 0.6- 0.5+: recall steps 1/3 at P 1, 1/3 at P 2/3, 1/3 at P 3/5.
    const positive = [true, false, true, false, true];
    const scores = [0.9, 0.8, 0.7, 0.6, 0.5];
    close(averagePrecision(positive, scores), 1 / 3 + 2 / 9 + 1 / 5, 'AP');
    // Order of the samples does not matter.
    close(averagePrecision([true, true, false, false, true], [0.5, 0.9, 0.6, 0.8, 0.7]), 1 / 3 + 2 / 9 + 1 / 5, 'AP, shuffled');
    // A tie of one positive and one negative: one step to recall 1 at precision 1/2.
    close(averagePrecision([true, false], [0.5, 0.5]), 0.5, 'AP with a tie');
    assert.ok(Number.isNaN(averagePrecision([false, false], [0.1, 0.2])), 'no positives → NaN');
  });

  it('the F1-best threshold: F1 = 2TP / (predicted + positives) at each distinct score', () => {
    // ≥0.9: 2/4; ≥0.8: 2/5; ≥0.7: 4/6; ≥0.6: 4/7; ≥0.5: 6/8 (best).
    assert.deepEqual(bestF1Threshold([true, false, true, false, true], [0.9, 0.8, 0.7, 0.6, 0.5]), { threshold: 0.5, f1: 0.75 });
    // Ties keep the higher threshold: ≥0.8 and ≥0.2 both give F1 2/3.
    assert.deepEqual(bestF1Threshold([true, false, false], [0.8, 0.2, 0.2]), { threshold: 0.8, f1: 1 });
  });

  it('binary metrics report the positive (second) class, average precision and the threshold used', () => {
    const classes = [
      { value: 0, label: 'no' },
      { value: 1, label: 'yes' },
    ];
    const truth = Float64Array.from([1, 0, 1, 0, 1]);
    const p1 = [0.9, 0.8, 0.7, 0.6, 0.5];
    const proba = p1.map((p) => Float64Array.from([1 - p, p]));
    const decided = Float64Array.from(p1, (p) => (p >= 0.7 ? 1 : 0));
    const m = classificationMetrics(classes, truth, decided, proba, 0.7);
    // At ≥0.7: TP 2, FP 1, FN 1.
    close(m.precision, 2 / 3, 'precision');
    close(m.recall, 2 / 3, 'recall');
    close(m.f1, 2 / 3, 'f1');
    close(m.average_precision, 1 / 3 + 2 / 9 + 1 / 5, 'average precision');
    close(m.auroc_ovr, 3 / 6, 'AUROC: 3 of 6 positive-negative pairs ordered (0.9>0.8, 0.9>0.6, 0.7>0.6)');
    assert.equal(m.threshold, 0.7);
    assert.deepEqual(
      m.perClass?.map((c) => [c.label, c.support]),
      [
        ['no', 2],
        ['yes', 3],
      ],
    );
    // Multiclass has no binary-only metrics.
    const multi = classificationMetrics(
      [...classes, { value: 2, label: 'maybe' }],
      yTrue,
      yPred,
      Array.from(yTrue, () => Float64Array.from([0.2, 0.3, 0.5])),
    );
    assert.equal(multi.average_precision, undefined);
    assert.equal(multi.f1, undefined);
    close(multi.balanced_accuracy, 13 / 18, 'balanced accuracy');
  });
});
