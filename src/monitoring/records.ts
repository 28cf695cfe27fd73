import type { Prediction } from '../serving/model-server.ts';
import type { PredictionLog, PredictionRecord } from './prediction-log.ts';

/**
 * The log records of one answered request, one per row: the row as sent (it validated, so it holds
 * the features), the champion's (or asked-for version's) prediction, and the request's latency.
 */
export function predictionRecords(
  requestId: string,
  rows: readonly unknown[],
  result: Prediction,
  latencyMs: number,
  source: PredictionRecord['source'] = 'api',
): PredictionRecord[] {
  const ts = new Date().toISOString();
  const latency = Math.round(latencyMs * 1000) / 1000;
  return result.predictions.map((p, row) => ({
    request_id: requestId,
    row,
    ts,
    model: result.model.name,
    model_version: result.model.version,
    alias: result.model.alias,
    source,
    features: rows[row] as Record<string, unknown>,
    prediction: p.prediction,
    ...(p.label !== undefined ? { label: p.label } : {}),
    ...(p.probabilities ? { probabilities: p.probabilities } : {}),
    latency_ms: latency,
  }));
}

/** Logs a request's rows when the log samples it; never throws into the request. */
export function logPrediction(log: PredictionLog, requestId: string, rows: readonly unknown[], result: Prediction, latencyMs: number): void {
  if (!log.sampled()) return;
  try {
    log.add(predictionRecords(requestId, rows, result, latencyMs));
  } catch {
    // logging must never fail a prediction
  }
}
