import type { TypedRow } from '../dataset/validate.ts';
import { accuracy, aurocOvR, macroF1, mae, r2, rmse } from '../metrics/index.ts';
import { argmax, type LoadedModel } from './artifact.ts';

export type MetricName = 'accuracy' | 'macro_f1' | 'auroc_ovr' | 'rmse' | 'mae' | 'r2';
export type Metrics = Partial<Record<MetricName, number>> & { rows: number };

/** Which way each metric improves: promotion compares in this direction. */
export const higherIsBetter: Record<MetricName, boolean> = {
  accuracy: true, macro_f1: true, auroc_ovr: true, r2: true, rmse: false, mae: false,
};

export const metricsFor = (task: 'classification' | 'regression'): MetricName[] =>
  task === 'classification' ? ['accuracy', 'macro_f1', 'auroc_ovr'] : ['rmse', 'mae', 'r2'];

/** Scores a model on typed rows (which carry the target). */
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
  const classes = (model.spec.classes ?? []).map((_, k) => k);
  const { yTrue, yPred, proba } = classifyRows(model, rows);
  const auroc = aurocOvR(yTrue, proba, classes).macro;
  return {
    rows: rows.length,
    accuracy: accuracy(yTrue, yPred),
    macro_f1: macroF1(yTrue, yPred, classes),
    ...(Number.isFinite(auroc) ? { auroc_ovr: auroc } : {}),
  };
}

/** Classification: true and predicted class indices and class probabilities of labelled rows. */
export function classifyRows(model: LoadedModel, rows: readonly TypedRow[]): { yTrue: Float64Array; yPred: Float64Array; proba: Float64Array[] } {
  const yTrue = new Float64Array(rows.length);
  const yPred = new Float64Array(rows.length);
  const proba: Float64Array[] = new Array(rows.length);
  const out = model.outputs(rows);
  rows.forEach((row, i) => {
    yTrue[i] = model.encoder.encodeTarget(row);
    proba[i] = model.probabilitiesAt(out, i * model.predictor.nOutputs);
    yPred[i] = argmax(proba[i]);
  });
  return { yTrue, yPred, proba };
}
