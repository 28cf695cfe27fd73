// The scalar metrics a run or a version is scored by: one list, so the promotion policy, the spec's
// `promotionMetric`, search objectives and the console agree on the names.
import { z } from 'zod';

export const METRIC_NAMES = [
  'accuracy',
  'balanced_accuracy',
  'macro_f1',
  'weighted_f1',
  'macro_precision',
  'macro_recall',
  'weighted_precision',
  'weighted_recall',
  'auroc_ovr',
  'average_precision',
  'f1',
  'precision',
  'recall',
  'rmse',
  'mae',
  'r2',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export const PromotionMetricSchema = z.enum(METRIC_NAMES);

/** Which way each metric improves: promotion and selection compare in this direction. */
export const higherIsBetter: Record<MetricName, boolean> = {
  accuracy: true,
  balanced_accuracy: true,
  macro_f1: true,
  weighted_f1: true,
  macro_precision: true,
  macro_recall: true,
  weighted_precision: true,
  weighted_recall: true,
  auroc_ovr: true,
  average_precision: true,
  f1: true,
  precision: true,
  recall: true,
  r2: true,
  rmse: false,
  mae: false,
};

/** Binary-only metrics: average precision and the positive class's F1, precision and recall at the decision threshold. */
export const BINARY_METRICS: readonly MetricName[] = ['average_precision', 'f1', 'precision', 'recall'];

/** Metrics a task can be scored by (`binary` adds the positive-class ones). */
export function metricsFor(task: 'classification' | 'regression', binary = false): MetricName[] {
  if (task === 'regression') return ['rmse', 'mae', 'r2'];
  const all: MetricName[] = [
    'accuracy',
    'balanced_accuracy',
    'macro_f1',
    'weighted_f1',
    'macro_precision',
    'macro_recall',
    'weighted_precision',
    'weighted_recall',
    'auroc_ovr',
  ];
  return binary ? [...all, ...BINARY_METRICS] : all;
}
