import { InvalidRows } from '../errors.ts';
import { metricsFor, type MetricName, type Metrics } from '../model/evaluate.ts';
import { getRun } from '../registry/registry.ts';
import type { Pool } from '../storage/mysql.ts';
import { bestByObjective, finishSearch, objectiveScore } from './search.ts';

export interface SelectRequest {
  executionId: string;
  parentRunId: string;
  trials: (
    | { runId: string; metrics: Record<string, unknown>; defaultMetric?: MetricName | null | undefined }
    | { trialIndex: number; error: { Error: string } }
  )[];
  /** The objective the candidate is chosen by (the promotion metric); defaults to the task's first. */
  metric: MetricName | null;
}

export interface SelectResult {
  candidate: { runId: string; metric: MetricName; score: number };
  /** Best trial per objective, like a multi-objective study reports. */
  byObjective: Partial<Record<MetricName, { runId: string; score: number }>>;
  trials: number;
  failedTrials: number;
}

// Objectives a trial lacks (average precision of a multiclass task) are left out.
const OBJECTIVES: Record<'classification' | 'regression', MetricName[]> = {
  classification: ['accuracy', 'auroc_ovr', 'balanced_accuracy', 'average_precision'],
  regression: ['rmse', 'r2'],
};

/** Picks the best finished trial per objective and the candidate to promote; nothing is retrained. */
export async function selectBest(pool: Pool, request: SelectRequest): Promise<SelectResult> {
  const parent = await getRun(pool, request.parentRunId);
  const finished = request.trials.filter((t): t is { runId: string; metrics: Record<string, unknown>; defaultMetric?: MetricName | null } => 'runId' in t);
  const failedTrials = request.trials.length - finished.length;
  if (finished.length === 0) {
    throw new InvalidRows(`All ${request.trials.length} trials failed, e.g. ${JSON.stringify(request.trials[0]).slice(0, 300)}`);
  }
  const task = metricsFor('classification').some((m) => m in finished[0].metrics) ? 'classification' : 'regression';
  // The execution input's metric, else the dataset spec's (each trial reports it), else the task's first objective.
  const metric = request.metric ?? finished[0].defaultMetric ?? OBJECTIVES[task][0];
  const objectives = [...new Set([metric, ...OBJECTIVES[task]])];
  const outcomes = finished.map((t) => ({ runId: t.runId, metrics: t.metrics as unknown as Metrics }));
  const best = bestByObjective(outcomes, objectives);
  const chosen = best[metric];
  if (!chosen) throw new InvalidRows(`No trial has a ${metric} score`);
  await finishSearch(pool, parent, best, request.trials.length);
  const byObjective: SelectResult['byObjective'] = {};
  for (const [objective, trial] of Object.entries(best)) {
    if (trial) byObjective[objective as MetricName] = { runId: trial.runId, score: objectiveScore(trial.metrics, objective as MetricName) as number };
  }
  return {
    candidate: { runId: chosen.runId, metric, score: objectiveScore(chosen.metrics, metric) as number },
    byObjective,
    trials: request.trials.length,
    failedTrials,
  };
}
