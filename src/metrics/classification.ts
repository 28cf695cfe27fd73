// Classification metrics over numeric class labels (class values or encoded indices; any numbers
// work as long as yTrue, yPred and `classes` use the same ones).

export type Labels = ArrayLike<number>;
/** proba[i][k] = predicted probability (or any score) that sample i is classes[k]. */
export type Probabilities = readonly ArrayLike<number>[];

function checkSameLength(a: Labels, b: ArrayLike<unknown>, what: string): void {
  if (a.length !== b.length) throw new RangeError(`${what}: yTrue has ${a.length} entries, the other ${b.length}`);
}

/** Fraction of exact matches; NaN for empty input. */
export function accuracy(yTrue: Labels, yPred: Labels): number {
  checkSameLength(yTrue, yPred, 'accuracy');
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return yTrue.length === 0 ? Number.NaN : hit / yTrue.length;
}

export type ConfusionMatrix = {
  classes: number[];
  /** matrix[t][p] = number of samples of true class classes[t] predicted as classes[p]. */
  matrix: number[][];
};

function classIndex(classes: readonly number[]): Map<number, number> {
  const index = new Map<number, number>();
  classes.forEach((c, i) => {
    if (index.has(c)) throw new RangeError(`duplicate class ${c}`);
    index.set(c, i);
  });
  return index;
}

/** Throws on a label that is not in `classes` (that is a caller bug, not a metric value). */
export function confusionMatrix(yTrue: Labels, yPred: Labels, classes: readonly number[]): ConfusionMatrix {
  checkSameLength(yTrue, yPred, 'confusionMatrix');
  const index = classIndex(classes);
  const k = classes.length;
  const flat = new Float64Array(k * k);
  for (let i = 0; i < yTrue.length; i++) {
    const t = index.get(yTrue[i]);
    const p = index.get(yPred[i]);
    if (t === undefined) throw new RangeError(`confusionMatrix: yTrue[${i}] = ${yTrue[i]} is not one of the classes`);
    if (p === undefined) throw new RangeError(`confusionMatrix: yPred[${i}] = ${yPred[i]} is not one of the classes`);
    flat[t * k + p]++;
  }
  const matrix: number[][] = [];
  for (let t = 0; t < k; t++) matrix.push(Array.from(flat.subarray(t * k, (t + 1) * k)));
  return { classes: [...classes], matrix };
}

export type ClassStats = {
  class: number;
  precision: number;
  recall: number;
  f1: number;
  /** Samples of this class in yTrue. */
  support: number;
  /** Samples predicted as this class. */
  predicted: number;
};

/** Per-class precision/recall/F1; an undefined ratio (0/0) is reported as 0, like sklearn. */
export function perClassStats(cm: ConfusionMatrix): ClassStats[] {
  const k = cm.classes.length;
  return cm.classes.map((c, j) => {
    const tp = cm.matrix[j][j];
    let support = 0;
    let predicted = 0;
    for (let i = 0; i < k; i++) {
      support += cm.matrix[j][i];
      predicted += cm.matrix[i][j];
    }
    const fp = predicted - tp;
    const fn = support - tp;
    return {
      class: c,
      precision: predicted === 0 ? 0 : tp / predicted,
      recall: support === 0 ? 0 : tp / support,
      f1: tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn),
      support,
      predicted,
    };
  });
}

function sortedUnion(a: Labels, b: Labels): number[] {
  const s = new Set<number>();
  for (let i = 0; i < a.length; i++) s.add(a[i]);
  for (let i = 0; i < b.length; i++) s.add(b[i]);
  return [...s].sort((x, y) => x - y);
}

function macroF1FromStats(stats: readonly ClassStats[]): number {
  let sum = 0;
  let n = 0;
  for (const s of stats) {
    if (s.support === 0 && s.predicted === 0) continue;
    sum += s.f1;
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}

/**
 * Unweighted mean of per-class F1. `classes` defaults to the labels seen in yTrue ∪ yPred. A class
 * listed in `classes` that appears in neither yTrue nor yPred is left out of the mean (sklearn
 * would count it as 0), so a split that happens to miss a rare class is not penalised for it.
 */
export function macroF1(yTrue: Labels, yPred: Labels, classes?: readonly number[]): number {
  return macroF1FromStats(perClassStats(confusionMatrix(yTrue, yPred, classes ?? sortedUnion(yTrue, yPred))));
}

export type AurocResult = {
  /** Mean of `perClass` AUROCs; NaN when no class could be scored. */
  macro: number;
  perClass: { class: number; auroc: number }[];
  /** Classes without an AUROC: absent from yTrue, or (single-class data) with no negatives. */
  skipped: { class: number; reason: 'no positives' | 'no negatives' }[];
};

/**
 * One-vs-rest AUROC per class, macro-averaged over the classes that can be scored. Each class's AUC
 * is the Mann–Whitney statistic from rank sums, tied scores getting the average of their ranks:
 *   AUC = (R⁺ − P(P+1)/2) / (P·N), R⁺ = sum of the positives' ranks, P positives, N negatives.
 * Classes absent from yTrue have no defined AUROC; they are listed in `skipped`, not averaged as 0.
 */
export function aurocOvR(yTrue: Labels, proba: Probabilities, classes: readonly number[]): AurocResult {
  checkSameLength(yTrue, proba, 'aurocOvR');
  classIndex(classes);
  const n = yTrue.length;
  const perClass: AurocResult['perClass'] = [];
  const skipped: AurocResult['skipped'] = [];
  const all = new Float64Array(n);
  for (let k = 0; k < classes.length; k++) {
    const cls = classes[k];
    let positives = 0;
    for (let i = 0; i < n; i++) if (yTrue[i] === cls) positives++;
    if (positives === 0) {
      skipped.push({ class: cls, reason: 'no positives' });
      continue;
    }
    if (positives === n) {
      skipped.push({ class: cls, reason: 'no negatives' });
      continue;
    }
    const pos = new Float64Array(positives);
    for (let i = 0, p = 0; i < n; i++) {
      const row = proba[i];
      if (row.length !== classes.length) throw new RangeError(`aurocOvR: proba[${i}] has ${row.length} entries, expected ${classes.length}`);
      const s = row[k];
      if (Number.isNaN(s)) throw new RangeError(`aurocOvR: proba[${i}][${k}] is NaN`);
      all[i] = s;
      if (yTrue[i] === cls) pos[p++] = s;
    }
    perClass.push({ class: cls, auroc: rankAuc(all.slice().sort(), pos.sort()) });
  }
  let sum = 0;
  for (const c of perClass) sum += c.auroc;
  return { macro: perClass.length === 0 ? Number.NaN : sum / perClass.length, perClass, skipped };
}

/** AUC from all scores and the positives' scores, both sorted ascending (native typed-array sort). */
function rankAuc(all: Float64Array, pos: Float64Array): number {
  const n = all.length;
  const p = pos.length;
  let rankSum = 0;
  let j = 0;
  for (let i = 0; i < n; ) {
    let end = i + 1;
    while (end < n && all[end] === all[i]) end++;
    // Positions i..end-1 tie: 1-based ranks i+1..end, average (i + 1 + end) / 2.
    const avgRank = (i + 1 + end) / 2;
    while (j < p && pos[j] < all[i]) j++;
    let inGroup = 0;
    while (j < p && pos[j] === all[i]) {
      inGroup++;
      j++;
    }
    rankSum += inGroup * avgRank;
    i = end;
  }
  return (rankSum - (p * (p + 1)) / 2) / (p * (n - p));
}

export type ClassificationReport = {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: (ClassStats & { label?: string })[];
  confusionMatrix: ConfusionMatrix;
  /** Present when probabilities were given. */
  auroc?: AurocResult;
};

/** All classification metrics at once. `labels[k]` names `classes[k]` in `perClass`. */
export function classificationReport(
  yTrue: Labels,
  yPred: Labels,
  classes: readonly number[],
  options: { proba?: Probabilities; labels?: readonly string[] } = {},
): ClassificationReport {
  const cm = confusionMatrix(yTrue, yPred, classes);
  const stats = perClassStats(cm);
  const labels = options.labels;
  const report: ClassificationReport = {
    n: yTrue.length,
    accuracy: accuracy(yTrue, yPred),
    macroF1: macroF1FromStats(stats),
    perClass: labels === undefined ? stats : stats.map((s, k) => ({ ...s, label: labels[k] })),
    confusionMatrix: cm,
  };
  if (options.proba !== undefined) report.auroc = aurocOvR(yTrue, options.proba, classes);
  return report;
}

export type AveragedStats = {
  /** Unweighted means over the classes present in yTrue or yPred (as `macroF1`). */
  macro: { precision: number; recall: number; f1: number };
  /** Means weighted by each class's support in yTrue. */
  weighted: { precision: number; recall: number; f1: number };
  /** Mean recall over the classes present in yTrue. */
  balancedAccuracy: number;
};

/** Macro and support-weighted precision/recall/F1, and balanced accuracy, from per-class stats. */
export function averagedStats(stats: readonly ClassStats[]): AveragedStats {
  const macro = { precision: 0, recall: 0, f1: 0 };
  const weighted = { precision: 0, recall: 0, f1: 0 };
  let present = 0;
  let support = 0;
  let recallSum = 0;
  let withSupport = 0;
  for (const s of stats) {
    if (s.support > 0) {
      recallSum += s.recall;
      withSupport++;
    }
    support += s.support;
    weighted.precision += s.support * s.precision;
    weighted.recall += s.support * s.recall;
    weighted.f1 += s.support * s.f1;
    if (s.support === 0 && s.predicted === 0) continue;
    macro.precision += s.precision;
    macro.recall += s.recall;
    macro.f1 += s.f1;
    present++;
  }
  const div = (o: { precision: number; recall: number; f1: number }, n: number) => ({
    precision: n === 0 ? Number.NaN : o.precision / n,
    recall: n === 0 ? Number.NaN : o.recall / n,
    f1: n === 0 ? Number.NaN : o.f1 / n,
  });
  return { macro: div(macro, present), weighted: div(weighted, support), balancedAccuracy: withSupport === 0 ? Number.NaN : recallSum / withSupport };
}

/** Balanced accuracy: the mean recall of the classes present in yTrue. */
export function balancedAccuracy(yTrue: Labels, yPred: Labels, classes?: readonly number[]): number {
  return averagedStats(perClassStats(confusionMatrix(yTrue, yPred, classes ?? sortedUnion(yTrue, yPred)))).balancedAccuracy;
}

/**
 * Walks the distinct scores from the highest down, calling `step(score, tp, predicted, positives)`
 * with the true positives and the predicted positives when every sample scoring at least `score` is
 * predicted positive (tied samples enter together).
 */
function sweepThresholds(
  isPositive: ArrayLike<boolean>,
  scores: ArrayLike<number>,
  step: (score: number, tp: number, predicted: number, positives: number) => void,
): number {
  if (isPositive.length !== scores.length) throw new RangeError(`isPositive has ${isPositive.length} entries, scores ${scores.length}`);
  let positives = 0;
  for (let i = 0; i < isPositive.length; i++) if (isPositive[i]) positives++;
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  let tp = 0;
  let predicted = 0;
  for (let k = 0; k < order.length; ) {
    const s = scores[order[k]];
    while (k < order.length && scores[order[k]] === s) {
      if (isPositive[order[k]]) tp++;
      predicted++;
      k++;
    }
    step(s, tp, predicted, positives);
  }
  return positives;
}

/**
 * Average precision (area under the precision-recall curve, step-wise as scikit-learn computes it):
 * AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct score thresholds, highest first, where a sample is
 * predicted positive when its score is at least the threshold. NaN without positives.
 */
export function averagePrecision(isPositive: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  let ap = 0;
  let prevRecall = 0;
  const positives = sweepThresholds(isPositive, scores, (_, tp, predicted, p) => {
    const recall = tp / p;
    ap += (recall - prevRecall) * (tp / predicted);
    prevRecall = recall;
  });
  return positives === 0 ? Number.NaN : ap;
}

/**
 * The decision threshold with the highest F1 of the positive class: a sample is positive when its
 * score is ≥ the threshold; candidates are the distinct scores. On ties the higher threshold wins.
 * Without positives (F1 is 0 everywhere) the threshold is 0.5.
 */
export function bestF1Threshold(isPositive: ArrayLike<boolean>, scores: ArrayLike<number>): { threshold: number; f1: number } {
  let best = { threshold: 0.5, f1: 0 };
  sweepThresholds(isPositive, scores, (score, tp, predicted, positives) => {
    // F1 = 2TP / (2TP + FP + FN) = 2TP / (predicted + positives).
    const f1 = (2 * tp) / (predicted + positives);
    if (f1 > best.f1) best = { threshold: score, f1 };
  });
  return best;
}
