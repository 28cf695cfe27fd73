// The scalar metrics a run or a version is scored by: one list, so the promotion policy, the spec's
// `promotionMetric`, search objectives and the console agree on the names.
import { z } from 'zod';

/** Every metric once: which way it improves, and which tasks it scores (`binary`: binary classification only). */
const METRICS = {
  accuracy: { higherIsBetter: true, scope: 'classification' },
  balanced_accuracy: { higherIsBetter: true, scope: 'classification' },
  macro_f1: { higherIsBetter: true, scope: 'classification' },
  weighted_f1: { higherIsBetter: true, scope: 'classification' },
  macro_precision: { higherIsBetter: true, scope: 'classification' },
  macro_recall: { higherIsBetter: true, scope: 'classification' },
  weighted_precision: { higherIsBetter: true, scope: 'classification' },
  weighted_recall: { higherIsBetter: true, scope: 'classification' },
  auroc_ovr: { higherIsBetter: true, scope: 'classification' },
  average_precision: { higherIsBetter: true, scope: 'binary' },
  f1: { higherIsBetter: true, scope: 'binary' },
  precision: { higherIsBetter: true, scope: 'binary' },
  recall: { higherIsBetter: true, scope: 'binary' },
  rmse: { higherIsBetter: false, scope: 'regression' },
  mae: { higherIsBetter: false, scope: 'regression' },
  r2: { higherIsBetter: true, scope: 'regression' },
} as const satisfies Record<string, { higherIsBetter: boolean; scope: 'classification' | 'binary' | 'regression' }>;

export type MetricName = keyof typeof METRICS;
const entries = Object.entries(METRICS) as [MetricName, (typeof METRICS)[MetricName]][];
const named = (keep: (m: (typeof METRICS)[MetricName]) => boolean): MetricName[] => entries.filter(([, m]) => keep(m)).map(([name]) => name);

export const METRIC_NAMES = Object.keys(METRICS) as [MetricName, ...MetricName[]];

export const PromotionMetricSchema = z.enum(METRIC_NAMES);

/** Which way each metric improves: promotion and selection compare in this direction. */
export const higherIsBetter = Object.fromEntries(entries.map(([name, m]) => [name, m.higherIsBetter])) as Record<MetricName, boolean>;

/** Binary-only metrics: average precision and the positive class's F1, precision and recall at the decision threshold. */
export const BINARY_METRICS: readonly MetricName[] = named((m) => m.scope === 'binary');

/** Metrics a task can be scored by (`binary` adds the positive-class ones). */
export function metricsFor(task: 'classification' | 'regression', binary = false): MetricName[] {
  if (task === 'regression') return named((m) => m.scope === 'regression');
  return named((m) => m.scope === 'classification' || (binary && m.scope === 'binary'));
}
