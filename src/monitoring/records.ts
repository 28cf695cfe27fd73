import type { Prediction } from '../serving/model-server.ts';
import type { PredictionLog, PredictionRecord } from './prediction-log.ts';

/** The current time in ISO form, made once per millisecond (requests arrive many to a millisecond). */
let lastMs = Number.NaN;
let lastIso = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

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
  const ts = isoNow();
  const latency = Math.round(latencyMs * 1000) / 1000;
  const { name, version, alias } = result.model;
  return result.predictions.map((p, row) => {
    const record: PredictionRecord = {
      request_id: requestId,
      row,
      ts,
      model: name,
      model_version: version,
      alias,
      source,
      features: rows[row] as Record<string, unknown>,
      prediction: p.prediction,
      latency_ms: latency,
    };
    if (p.label !== undefined) record.label = p.label;
    if (p.probabilities) record.probabilities = p.probabilities;
    return record;
  });
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
