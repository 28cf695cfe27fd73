import type { Prediction } from '../serving/model-server.ts';
import { predictionJson, type PredictionLog, type PredictionRecord, type RequestRecords } from './prediction-log.ts';

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
  json: Pick<RequestRecords, 'predictionJson' | 'featuresJson'> = {},
  /** When it was answered (epoch ms). */
  at = Date.now(),
): RequestRecords {
  const { name, version, alias } = result.model;
  return {
    request_id: requestId,
    ts: isoTime(at),
    model: name,
    model_version: version,
    alias,
    source,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
    features: rows,
    predictions: result.predictions,
    // Set even when undefined: one object shape, no spread (spreads cost ~2 µs a request in a serving thread).
    predictionJson: json.predictionJson,
    featuresJson: json.featuresJson,
  };
}

/**
 * The row of a one-row request as the client sent it, from the body's text, when the body is
 * `{"rows": [{...}]}` on one line, spaces allowed (what clients send most; anything else gives
 * undefined, and the log serializes the parsed row). The log writes that text instead of
 * JSON.stringify of the parsed row: for a 54-feature Covertype row the serialization was most of
 * what logging a request cost. `body` must be text that parsed as JSON, into a body with `rows` of
 * length `rowCount`.
 */
export function sentRowsJson(body: string | undefined, rowCount: number): readonly string[] | undefined {
  // A log line is one line.
  if (body === undefined || rowCount !== 1 || body.includes('\n') || body.includes('\r')) return undefined;
  let i = skipSpaces(body, 0);
  if (body.charCodeAt(i) !== 0x7b) return undefined;
  i = skipSpaces(body, i + 1);
  if (!body.startsWith('"rows"', i)) return undefined;
  i = skipSpaces(body, i + 6);
  if (body.charCodeAt(i) !== 0x3a) return undefined;
  i = skipSpaces(body, i + 1);
  if (body.charCodeAt(i) !== 0x5b) return undefined;
  const from = skipSpaces(body, i + 1);
  let j = spacesBefore(body, body.length);
  if (body.charCodeAt(j - 1) !== 0x7d) return undefined;
  j = spacesBefore(body, j - 1);
  if (body.charCodeAt(j - 1) !== 0x5d) return undefined;
  const to = spacesBefore(body, j - 1);
  // The text between must be one object, not `{..}],"rows":[{..}` (a repeated key, which JSON.parse allows).
  // With no "]" in it at all the "rows" array closes at its end, so it holds just the one row: the
  // character by character scan (~0.7 µs for a Covertype row) is left for rows that hold one.
  if (from >= to || body.charCodeAt(from) !== 0x7b || body.charCodeAt(to - 1) !== 0x7d) return undefined;
  const closes = body.indexOf(']', from);
  return closes >= to || closesAtEnd(body, from, to) ? [body.slice(from, to)] : undefined;
}

/** The first position from i that is not a space or a tab. */
function skipSpaces(text: string, i: number): number {
  while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09) i++;
  return i;
}

/** The start of the spaces and tabs that end text[0, end). */
function spacesBefore(text: string, end: number): number {
  while (end > 0 && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return end;
}

/**
 * Whether text[from, to), part of a valid JSON text that opens with `{` and ends with `}` there, is one
 * object: the brace it opens closes at its end.
 */
function closesAtEnd(text: string, from: number, to: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // an escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0 && i !== to - 1) return false;
  }
  return depth === 0;
}

/**
 * A predict answer as JSON — the text `JSON.stringify({ request_id, ...result })` gives — made from each
 * row's prediction JSON, which the log then reuses (`predictionJson`): the numbers are written once.
 */
export function answerJson(requestId: string, result: Prediction): { text: string; predictionJson: string[] } {
  const rows = result.predictions.map(predictionJson);
  const { model, predictions: _, ...rest } = result;
  const more = JSON.stringify(rest);
  const text = `{"request_id":${JSON.stringify(requestId)},"model":${JSON.stringify(model)},"predictions":[${rows.join(',')}]${more.length > 2 ? `,${more.slice(1, -1)}` : ''}}`;
  return { text, predictionJson: rows };
}

/** What the log can reuse of a predict request's text: its body as sent, its answer's predictions (answerJson). */
export interface SentRequest {
  body?: string;
  predictions?: readonly string[];
}

/**
 * Logs a request's rows when the log samples it (nothing else done when not), soon (`addRequestSoon`): the
 * request's objects and texts are kept until then, never changed. Never throws into the request.
 */
export function logPrediction(
  log: PredictionLog,
  requestId: string,
  rows: readonly unknown[],
  result: Prediction,
  latencyMs: number,
  sent: SentRequest = {},
): void {
  if (!log.sampled()) return;
  const at = Date.now();
  log.addRequestSoon(rows.length, () => {
    const featuresJson = sentRowsJson(sent.body, rows.length);
    log.addRequest(requestLog(requestId, rows, result, latencyMs, 'api', { predictionJson: sent.predictions, featuresJson }, at));
  });
}
