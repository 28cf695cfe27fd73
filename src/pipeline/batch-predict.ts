import { performance } from 'node:perf_hooks';
import { parseCsv } from '../dataset/csv.ts';
import { inputColumns, prepareRecord } from '../dataset/transforms.ts';
import type { TypedRow } from '../dataset/validate.ts';
import { InvalidInput } from '../errors.ts';
import type { PredictionLog, PredictionRecord } from '../monitoring/prediction-log.ts';
import type { Alias } from '../registry/registry.ts';
import type { ModelServer } from '../serving/model-server.ts';
import { keys } from '../storage/keys.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { formatCsvLine } from '../dataset/csv.ts';

export interface BatchPredictRequest {
  modelName: string;
  version?: number;
  alias?: Alias;
  inputKey: string;
}

export interface BatchPredictResult {
  modelName: string;
  modelVersion: number;
  inputKey: string;
  outputKey: string;
  rows: number;
  predicted: number;
  rejected: number;
  /** The first few bad rows, with their line numbers and reasons. */
  rejectedSample: { line: number; reason: string }[];
}

/**
 * Predicts every row of a CSV in S3 and writes the result next to it: the input columns, then
 * prediction, label, probability, model_version and error. A bad row gets its error in that column
 * instead of failing the file; the model version used is on every line.
 */
export async function batchPredict(
  server: ModelServer,
  store: ArtifactStore,
  request: BatchPredictRequest,
  /** The prediction log: each predicted row it samples is logged (source "batch", the job's id as request id). */
  log?: Pick<PredictionLog, 'requestId' | 'sampled' | 'add' | 'due' | 'flush'>,
): Promise<BatchPredictResult> {
  const started = performance.now();
  const outputKey = keys.batchOutput(request.inputKey);
  const version = request.version ?? (await server.resolveVersion(request.modelName, request.alias ?? 'champion'));
  const { model } = await server.load(request.modelName, version);
  const records = parseCsv(new TextDecoder().decode(await store.getBytes(request.inputKey)));
  const header = records.shift();
  if (!header || header.length === 0) throw new InvalidInput(`${request.inputKey} is empty: expected a header row of feature names`);
  // The columns a request row needs (a column no feature reads, or the target, may be left out).
  const features = new Set(model.spec.columns.filter((c) => c.name !== model.spec.target).map((c) => c.name));
  const missing = inputColumns(model.spec)
    .map((c) => c.name)
    .filter((f) => !header.includes(f));
  if (missing.length > 0) throw new InvalidInput(`${request.inputKey} lacks the columns ${missing.join(', ')}`);

  const out = [formatCsvLine([...header, 'prediction', 'label', 'probability', 'model_version', 'error'])];
  const rejectedSample: BatchPredictResult['rejectedSample'] = [];
  // Validate every line first, then score the good ones in one batch (blocks of rows, worker threads).
  const valid: TypedRow[] = [];
  const checkedLines = records.map((record) => {
    const fields = Object.fromEntries(header.map((h, k) => [h, record[k]]).filter(([h]) => features.has(h as string)));
    const checked =
      record.length === header.length
        ? prepareRecord(model.spec, fields)
        : { ok: false as const, errors: [{ field: '', message: `expected ${header.length} fields, got ${record.length}` }] };
    if (checked.ok) valid.push(checked.row);
    return { checked, fields };
  });
  const width = model.predictor.nOutputs;
  const scores = await model.outputsInThreads(valid);
  let predicted = 0;
  const logged: PredictionRecord[] = [];
  const jobId = log?.requestId() ?? '';
  const ts = new Date().toISOString();
  checkedLines.forEach(({ checked, fields }, i) => {
    const record = records[i];
    const line = i + 2;
    if (!checked.ok) {
      const reason = checked.errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
      if (rejectedSample.length < 10) rejectedSample.push({ line, reason });
      out.push(formatCsvLine([...header.map((_, k) => record[k] ?? ''), '', '', '', String(version), reason]));
      return;
    }
    const p = model.rowPrediction(scores, predicted * width);
    const probability = p.probabilities ? Math.max(...Object.values(p.probabilities)) : undefined;
    out.push(formatCsvLine([...record, String(p.prediction), p.label ?? '', probability === undefined ? '' : probability.toFixed(6), String(version), '']));
    predicted++;
    if (log?.sampled()) {
      logged.push({
        request_id: jobId,
        row: line,
        ts,
        model: request.modelName,
        model_version: version,
        alias: request.version === undefined ? (request.alias ?? 'champion') : null,
        source: 'batch',
        features: fields,
        prediction: p.prediction,
        ...(p.label !== undefined ? { label: p.label } : {}),
        ...(p.probabilities ? { probabilities: p.probabilities } : {}),
        latency_ms: 0,
      });
    }
  });
  // A batch job may wait for the log: added in chunks, flushed whenever the buffer is due, so a
  // large file is not dropped by the buffer's memory bound.
  const perRow = Math.round(((performance.now() - started) / Math.max(1, records.length)) * 1000) / 1000;
  for (let i = 0; log && i < logged.length; i += 1000) {
    const chunk = logged.slice(i, i + 1000);
    for (const r of chunk) r.latency_ms = perRow;
    log.add(chunk);
    if (log.due()) await log.flush();
  }
  await store.putBytes(outputKey, Buffer.from(`${out.join('\n')}\n`), 'text/csv');
  return {
    modelName: request.modelName,
    modelVersion: version,
    inputKey: request.inputKey,
    outputKey,
    rows: records.length,
    predicted,
    rejected: records.length - predicted,
    rejectedSample,
  };
}
