import type { Prediction } from '../serving/model-server.ts';
import type { PredictionLog, PredictionRecord, RequestRecords } from './prediction-log.ts';

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
 * What the log keeps of one answered request, one record per row (prediction-log.ts's requestRecords):
 * the row as sent (it validated, so it holds the features), the champion's (or asked-for version's)
 * prediction, and the request's latency.
 */
export function requestLog(
  requestId: string,
  rows: readonly unknown[],
  result: Prediction,
  latencyMs: number,
  source: PredictionRecord['source'] = 'api',
): RequestRecords {
  const { name, version, alias } = result.model;
  return {
    request_id: requestId,
    ts: isoNow(),
    model: name,
    model_version: version,
    alias,
    source,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
    features: rows,
    predictions: result.predictions,
  };
}

/** Logs a request's rows when the log samples it; never throws into the request. */
export function logPrediction(log: PredictionLog, requestId: string, rows: readonly unknown[], result: Prediction, latencyMs: number): void {
  if (!log.sampled()) return;
  try {
    log.addRequest(requestLog(requestId, rows, result, latencyMs));
  } catch {
    // logging must never fail a prediction
  }
}
