import type { Prediction } from '../serving/model-server.ts';
import type { PredictionLog, PredictionRecord, RequestRecords } from './prediction-log.ts';

/**
 * A time in ISO form (`Date.prototype.toISOString`'s text), for times that come in order: the date and
 * time up to the second made once per second, the milliseconds added. At a few requests per millisecond
 * the whole ISO formatting (~0.5 µs) was a fifth of what logging a one-row request cost its thread.
 */
let lastMs = Number.NaN;
let lastIso = '';
let lastSecond = Number.NaN;
/** "YYYY-MM-DDTHH:MM:SS." of lastSecond; empty when its ISO form is not that shape (years past 9999). */
let secondPrefix = '';
export function isoTime(ms: number): string {
  if (ms === lastMs) return lastIso;
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    const iso = Number.isFinite(second) ? new Date(second * 1000).toISOString() : '';
    secondPrefix = iso.length === 24 ? iso.slice(0, 20) : '';
  }
  const milli = ms - second * 1000;
  lastMs = ms;
  lastIso =
    secondPrefix !== '' && Number.isInteger(milli) ? `${secondPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z` : new Date(ms).toISOString();
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
  predictionJson?: readonly string[],
): RequestRecords {
  const { name, version, alias } = result.model;
  return {
    request_id: requestId,
    ts: isoTime(Date.now()),
    model: name,
    model_version: version,
    alias,
    source,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
    features: rows,
    predictions: result.predictions,
    ...(predictionJson ? { predictionJson } : {}),
  };
}

/**
 * A predict answer as JSON — the text `JSON.stringify({ request_id, ...result })` gives — made from each
 * row's prediction JSON, which the log then reuses (`predictionJson`): the numbers are written once.
 */
export function answerJson(requestId: string, result: Prediction): { text: string; predictionJson: string[] } {
  const predictionJson = result.predictions.map((p) => JSON.stringify(p));
  const { model, predictions: _, ...rest } = result;
  const more = JSON.stringify(rest);
  const text = `{"request_id":${JSON.stringify(requestId)},"model":${JSON.stringify(model)},"predictions":[${predictionJson.join(',')}]${more.length > 2 ? `,${more.slice(1, -1)}` : ''}}`;
  return { text, predictionJson };
}

/** Logs a request's rows when the log samples it; never throws into the request. */
export function logPrediction(
  log: PredictionLog,
  requestId: string,
  rows: readonly unknown[],
  result: Prediction,
  latencyMs: number,
  predictionJson?: readonly string[],
): void {
  if (!log.sampled()) return;
  try {
    log.addRequest(requestLog(requestId, rows, result, latencyMs, 'api', predictionJson));
  } catch {
    // logging must never fail a prediction
  }
}
