import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracy, aurocOvR, classificationReport, confusionMatrix, macroF1, perClassStats } from '../../src/metrics/classification.ts';

const close = (actual: number, expected: number, eps = 1e-12): void => assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

// Shared example, classes [1, 2, 3]:
//   yTrue = 1 1 1 2 2 3
//   yPred = 1 1 2 2 3 3
const Y_TRUE = [1, 1, 1, 2, 2, 3];
const Y_PRED = [1, 1, 2, 2, 3, 3];

describe('accuracy', () => {
  it('counts exact matches', () => {
    // matches at positions 0, 1, 3, 5 → 4/6
    close(accuracy(Y_TRUE, Y_PRED), 4 / 6);
    close(accuracy(new Float64Array([0, 1]), new Float64Array([0, 1])), 1);
  });
  it('NaN when empty, throws on length mismatch', () => {
    assert.ok(Number.isNaN(accuracy([], [])));
    assert.throws(() => accuracy([1], [1, 2]), RangeError);
  });
});

describe('confusionMatrix', () => {
  it('rows are true classes, columns predictions', () => {
    // true 1 → predicted 1, 1, 2 ; true 2 → 2, 3 ; true 3 → 3
    assert.deepEqual(confusionMatrix(Y_TRUE, Y_PRED, [1, 2, 3]), {
      classes: [1, 2, 3],
      matrix: [
        [2, 1, 0],
        [0, 1, 1],
        [0, 0, 1],
      ],
    });
  });
  it('throws on a label outside classes', () => {
    assert.throws(() => confusionMatrix([1, 4], [1, 1], [1, 2, 3]), /yTrue\[1\] = 4/);
    assert.throws(() => confusionMatrix([1, 1], [1, 0], [1, 2, 3]), /yPred\[1\] = 0/);
  });
});

describe('macroF1', () => {
  it('averages per-class F1', () => {
    // class 1: tp 2, fp 0, fn 1 → F1 = 2·2/(2·2+0+1) = 4/5
    // class 2: tp 1, fp 1, fn 1 → F1 = 2/(2+1+1) = 1/2
    // class 3: tp 1, fp 1, fn 0 → F1 = 2/(2+1+0) = 2/3
    // macro = (4/5 + 1/2 + 2/3) / 3 = 59/90
    close(macroF1(Y_TRUE, Y_PRED), 59 / 90);
    close(macroF1(Y_TRUE, Y_PRED, [1, 2, 3]), 59 / 90);
  });
  it('leaves out a listed class absent from both yTrue and yPred', () => {
    close(macroF1(Y_TRUE, Y_PRED, [1, 2, 3, 4]), 59 / 90);
  });
  it('counts a class that is only predicted as F1 = 0', () => {
    // class 1: tp 1, fn 1 → 2/3 ; class 2: tp 0, fp 1 → 0 ; macro = 1/3
    close(macroF1([1, 1], [1, 2]), 1 / 3);
  });
  it('per-class precision/recall', () => {
    const stats = perClassStats(confusionMatrix(Y_TRUE, Y_PRED, [1, 2, 3]));
    assert.deepEqual(
      stats.map((s) => [s.class, s.precision, s.recall, s.support, s.predicted]),
      [
        [1, 1, 2 / 3, 3, 2],
        [2, 1 / 2, 1 / 2, 2, 2],
        [3, 1 / 2, 1, 1, 2],
      ],
    );
  });
});

describe('aurocOvR', () => {
  // classes [1, 2, 3]; class 3 never occurs in yTrue.
  const yTrue = [1, 1, 2, 2, 2];
  const proba = [
    [0.8, 0.2, 0.0],
    [0.4, 0.6, 0.0],
    [0.4, 0.5, 0.1],
    [0.3, 0.6, 0.1],
    [0.1, 0.7, 0.2],
  ];

  it('uses average ranks for ties and skips a class absent from yTrue', () => {
    // Class 1: scores 0.8+ 0.4+ 0.4- 0.3- 0.1- (+ = positive). Ascending ranks: 0.1→1, 0.3→2,
    //   the tied 0.4s → (3+4)/2 = 3.5 each, 0.8→5. R⁺ = 5 + 3.5 = 8.5, P = 2, N = 3:
    //   AUC = (8.5 − 2·3/2) / (2·3) = 5.5/6.  Pairwise check: 0.8 beats 3; 0.4 ties 1, beats 2 → 5.5.
    // Class 2: scores 0.2- 0.6- 0.5+ 0.6+ 0.7+. Ranks: 0.2→1, 0.5→2, the 0.6s → 3.5, 0.7→5.
    //   R⁺ = 2 + 3.5 + 5 = 10.5, P = 3, N = 2: AUC = (10.5 − 6) / 6 = 4.5/6 = 0.75.
    // Class 3: no positives → skipped. Macro = (5.5/6 + 4.5/6) / 2 = 10/12.
    const r = aurocOvR(yTrue, proba, [1, 2, 3]);
    assert.equal(r.perClass.length, 2);
    assert.equal(r.perClass[0].class, 1);
    close(r.perClass[0].auroc, 5.5 / 6);
    assert.equal(r.perClass[1].class, 2);
    close(r.perClass[1].auroc, 0.75);
    assert.deepEqual(r.skipped, [{ class: 3, reason: 'no positives' }]);
    close(r.macro, 10 / 12);
  });

  it('accepts Float64Array rows', () => {
    close(
      aurocOvR(
        yTrue,
        proba.map((p) => Float64Array.from(p)),
        [1, 2, 3],
      ).macro,
      10 / 12,
    );
  });

  it('perfect, reversed and all-tied scores give 1, 0 and 0.5', () => {
    const y = [0, 0, 1, 1];
    const perfect = [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.3, 0.7],
      [0.1, 0.9],
    ];
    close(aurocOvR(y, perfect, [0, 1]).macro, 1);
    close(
      aurocOvR(
        y,
        perfect.map((p) => [p[1], p[0]]),
        [0, 1],
      ).macro,
      0,
    );
    close(
      aurocOvR(
        y,
        y.map(() => [0.5, 0.5]),
        [0, 1],
      ).macro,
      0.5,
    );
  });

  it('single-class data: nothing to score', () => {
    const r = aurocOvR(
      [1, 1],
      [
        [1, 0],
        [1, 0],
      ],
      [1, 2],
    );
    assert.ok(Number.isNaN(r.macro));
    assert.deepEqual(r.skipped, [
      { class: 1, reason: 'no negatives' },
      { class: 2, reason: 'no positives' },
    ]);
  });

  it('checks shapes', () => {
    assert.throws(() => aurocOvR([1, 2], [[1, 0]], [1, 2]), RangeError);
    assert.throws(() => aurocOvR([1, 2], [[1, 0], [1]], [1, 2]), /proba\[1\] has 1 entries/);
  });

  it('handles 200k samples quickly', () => {
    const n = 200_000;
    const y = new Float64Array(n);
    const p: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      y[i] = i % 7;
      const row = new Float64Array(7);
      row[i % 7] = 0.5 + ((i * 7919) % 100) / 1000; // informative, with many ties
      p.push(row);
    }
    const t0 = performance.now();
    const r = aurocOvR(y, p, [0, 1, 2, 3, 4, 5, 6]);
    assert.ok(performance.now() - t0 < 5000);
    close(r.macro, 1);
  });
});

describe('classificationReport', () => {
  it('bundles every metric, with labels', () => {
    const proba = Y_PRED.map((p) => [1, 2, 3].map((c) => (c === p ? 0.8 : 0.1)));
    const r = classificationReport(Y_TRUE, Y_PRED, [1, 2, 3], { proba, labels: ['one', 'two', 'three'] });
    assert.equal(r.n, 6);
    close(r.accuracy, 4 / 6);
    close(r.macroF1, 59 / 90);
    assert.deepEqual(
      r.perClass.map((c) => c.label),
      ['one', 'two', 'three'],
    );
    close(r.perClass[0].f1, 4 / 5);
    assert.deepEqual(r.confusionMatrix.matrix[0], [2, 1, 0]);
    assert.ok(r.auroc !== undefined);
    assert.equal(r.auroc.perClass.length, 3);
  });
  it('omits auroc without probabilities', () => {
    assert.equal(classificationReport(Y_TRUE, Y_PRED, [1, 2, 3]).auroc, undefined);
  });
});
