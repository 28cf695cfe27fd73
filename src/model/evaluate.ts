import type { TypedRow } from '../dataset/validate.ts';
import { accuracy, averagedStats, averagePrecision, aurocOvR, confusionMatrix, mae, perClassStats, r2, rmse } from '../metrics/index.ts';
import type { MetricName } from '../metrics/names.ts';
import type { LoadedModel } from './artifact.ts';

export { higherIsBetter, metricsFor, type MetricName } from '../metrics/names.ts';

/** Precision, recall and F1 of one class (one-vs-rest), with its support in the scored rows. */
export type ClassMetrics = { class: number | string; label: string; precision: number; recall: number; f1: number; support: number };

export type Metrics = Partial<Record<MetricName, number>> & {
  rows: number;
  /** Binary classification: the decision threshold on the positive class's probability the scores were taken at. */
  threshold?: number;
  /** Classification: per class, in the spec's class order. */
  perClass?: ClassMetrics[];
};

const finite = (name: MetricName, value: number): Partial<Record<MetricName, number>> => (Number.isFinite(value) ? { [name]: value } : {});

/**
 * Classification metrics from true class indices, decided class indices and class probabilities
 * (spec class order). Binary tasks add average precision and the positive class's (the second
 * class's) F1, precision and recall.
 */
export function classificationMetrics(
  classes: readonly { value: number | string; label: string }[],
  yTrue: Float64Array,
  yPred: Float64Array,
  proba: readonly Float64Array[],
  threshold?: number,
): Metrics {
  const indices = classes.map((_, k) => k);
  const stats = perClassStats(confusionMatrix(yTrue, yPred, indices));
  const avg = averagedStats(stats);
  const auroc = aurocOvR(yTrue, proba, indices).macro;
  const metrics: Metrics = {
    rows: yTrue.length,
    ...finite('accuracy', accuracy(yTrue, yPred)),
    ...finite('balanced_accuracy', avg.balancedAccuracy),
    ...finite('macro_f1', avg.macro.f1),
    ...finite('weighted_f1', avg.weighted.f1),
    ...finite('macro_precision', avg.macro.precision),
    ...finite('macro_recall', avg.macro.recall),
    ...finite('weighted_precision', avg.weighted.precision),
    ...finite('weighted_recall', avg.weighted.recall),
    ...finite('auroc_ovr', auroc),
  };
  if (classes.length === 2) {
    const positive = Array.from(yTrue, (y) => y === 1);
    Object.assign(
      metrics,
      finite(
        'average_precision',
        averagePrecision(
          positive,
          proba.map((p) => p[1]),
        ),
      ),
      { f1: stats[1].f1, precision: stats[1].precision, recall: stats[1].recall },
    );
    if (threshold !== undefined) metrics.threshold = threshold;
  }
  metrics.perClass = stats.map((s, k) => ({
    class: classes[k].value,
    label: classes[k].label,
    precision: s.precision,
    recall: s.recall,
    f1: s.f1,
    support: s.support,
  }));
  return metrics;
}

/** Scores a model on typed model rows (which carry the target). */
export function evaluate(model: LoadedModel, rows: readonly TypedRow[]): Metrics {
  if (model.spec.task === 'regression') {
    const yTrue = new Float64Array(rows.length);
    const yPred = new Float64Array(rows.length);
    const out = model.outputs(rows);
    rows.forEach((row, i) => {
      yTrue[i] = model.encoder.encodeTarget(row);
      yPred[i] = out[i * model.predictor.nOutputs];
    });
    return { rows: rows.length, rmse: rmse(yTrue, yPred), mae: mae(yTrue, yPred), r2: r2(yTrue, yPred) };
  }
  const { yTrue, yPred, proba } = classifyRows(model, rows);
  return classificationMetrics(model.spec.classes ?? [], yTrue, yPred, proba, model.threshold);
}

/** Classification: true and decided class indices and class probabilities of labelled rows. */
export function classifyRows(model: LoadedModel, rows: readonly TypedRow[]): { yTrue: Float64Array; yPred: Float64Array; proba: Float64Array[] } {
  const yTrue = new Float64Array(rows.length);
  const yPred = new Float64Array(rows.length);
  const proba: Float64Array[] = new Array(rows.length);
  const out = model.outputs(rows);
  rows.forEach((row, i) => {
    yTrue[i] = model.encoder.encodeTarget(row);
    proba[i] = model.probabilitiesAt(out, i * model.predictor.nOutputs);
    yPred[i] = model.decide(proba[i]);
  });
  return { yTrue, yPred, proba };
}
