// The scalar metrics a run or a version is scored by: one list, so the promotion policy, the spec's
// `promotionMetric`, search objectives and the console agree on the names.
import { z } from 'zod';

/**
 * Every metric once: which way it improves, which tasks it scores (`binary`: binary classification
 * only), and whether cross-validation reports it (`cv`: its mean and spread over the folds).
 */
const METRICS = {
  accuracy: { higherIsBetter: true, scope: 'classification', cv: true },
  balanced_accuracy: { higherIsBetter: true, scope: 'classification', cv: true },
  macro_f1: { higherIsBetter: true, scope: 'classification', cv: true },
  weighted_f1: { higherIsBetter: true, scope: 'classification' },
  macro_precision: { higherIsBetter: true, scope: 'classification' },
  macro_recall: { higherIsBetter: true, scope: 'classification' },
  weighted_precision: { higherIsBetter: true, scope: 'classification' },
  weighted_recall: { higherIsBetter: true, scope: 'classification' },
  auroc_ovr: { higherIsBetter: true, scope: 'classification', cv: true },
  average_precision: { higherIsBetter: true, scope: 'binary', cv: true },
  f1: { higherIsBetter: true, scope: 'binary', cv: true },
  precision: { higherIsBetter: true, scope: 'binary' },
  recall: { higherIsBetter: true, scope: 'binary' },
  rmse: { higherIsBetter: false, scope: 'regression', cv: true },
  mae: { higherIsBetter: false, scope: 'regression', cv: true },
  r2: { higherIsBetter: true, scope: 'regression', cv: true },
} as const satisfies Record<string, { higherIsBetter: boolean; scope: 'classification' | 'binary' | 'regression'; cv?: true }>;

export type MetricName = keyof typeof METRICS;
const entries = Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][];
const named = (keep: (m: (typeof METRICS)[MetricName]) => boolean): MetricName[] => entries.filter(([, m]) => keep(m)).map(([name]) => name);

export const METRIC_NAMES = Object.keys(METRICS) as [MetricName, ...MetricName[]];

export const PromotionMetricSchema = z.enum(METRIC_NAMES);

/** Which way each metric improves: promotion and selection compare in this direction. */
export const higherIsBetter = Object.fromEntries(entries.map(([name, m]) => [name, m.higherIsBetter])) as Record<MetricName, boolean>;

/** Binary-only metrics: average precision and the positive class's F1, precision and recall at the decision threshold. */
export const BINARY_METRICS: readonly MetricName[] = named((m) => m.scope === 'binary');

/** The metrics cross-validation reports (`<metric>_cv_mean`, `<metric>_cv_std`), in table order. */
export const CV_METRICS: readonly MetricName[] = named((m) => 'cv' in m);

/** Metrics a task can be scored by (`binary` adds the positive-class ones). */
export function metricsFor(task: 'classification' | 'regression', binary = false): MetricName[] {
  if (task === 'regression') return named((m) => m.scope === 'regression');
  return named((m) => m.scope === 'classification' || (binary && m.scope === 'binary'));
}
