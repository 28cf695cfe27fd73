import { createHash } from 'node:crypto';
import { buildEncoder, encodeMatrix, type Encoder } from '../dataset/encode.ts';
import { kFolds } from '../dataset/split.ts';
import type { TypedRow } from '../dataset/validate.ts';
import { ArtifactHashMismatch, InvalidRows, NotFound } from '../errors.ts';
import { CV_METRICS, type MetricName } from '../metrics/names.ts';
import { bestF1Threshold } from '../metrics/classification.ts';
import { artifactOf, LoadedModel, serializeArtifact, type ModelArtifact } from '../model/artifact.ts';
import { evaluate, type Metrics } from '../model/evaluate.ts';
import { fitFamily, TrainParamsSchema, type Family, type FitOptions, type TrainParams } from '../model/families.ts';
import { findTrainedRun, recordRunCache, upsertRun } from '../registry/registry.ts';
import { keys } from '../storage/keys.ts';
import type { Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { deterministicUuid } from '../registry/ids.ts';
import { readSnapshotSplit, type DatasetManifest } from '../registry/snapshots.ts';

/** Hyper-parameters of one training run, per model family (src/model/families.ts). */
export { TrainParamsSchema, type TrainParams };

/**
 * The version of what `fitArtifact` produces for the same snapshot and parameters. Bump it whenever
 * the trainer's output changes (the forest, the encoding, the artifact's content): step caching
 * reuses an earlier run's artifact only when its trainer version is this one.
 */
// 2: tree models stored in the compact binary format (model.bin) instead of gzip JSON.
export const TRAINER_VERSION = 2;

/** JSON with object keys sorted, so equal parameters give equal text whatever their order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What makes two train runs the same: the snapshot's content, the parameters (seed included), the trainer. */
export function trainCacheKey(snapshotContentHash: string, params: TrainParams, trainerVersion = TRAINER_VERSION): string {
  return createHash('sha256')
    .update(canonicalJson({ snapshot: snapshotContentHash, params, trainer: trainerVersion }))
    .digest('hex');
}

export interface TrainDeps {
  pool: Pool;
  store: ArtifactStore;
  workers?: number;
  log?: (message: string) => void;
}

export interface TrainRequest {
  executionId: string;
  datasetVersion: number;
  manifestKey: string;
  params: TrainParams;
  /** Position of the trial in a search; with the execution id it names the run. */
  trialIndex: number;
  parentRunId?: string | null;
  /** Reuse the artifact of an earlier run with the same inputs (default true). */
  cache?: boolean;
}

export interface TrainResult {
  runId: string;
  dataset: string;
  datasetVersion: number;
  params: TrainParams;
  family: Family;
  metrics: Metrics;
  artifactKey: string;
  artifactSha256: string;
  trainSeconds: number;
  /** The dataset spec's promotion metric (SelectBest uses it when the execution input names none); null without one. */
  defaultMetric: MetricName | null;
  /** True when the artifact is an earlier run's (`cachedFromRunId`) and nothing was trained. */
  cached: boolean;
  cachedFromRunId: string | null;
}

/** Seeded subsample without replacement (a partial Fisher–Yates with a small LCG). */
function subsample<T>(rows: readonly T[], size: number, seed: number): T[] {
  if (size >= rows.length) return rows.slice();
  const index = Array.from(rows.keys());
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = i + (state % (index.length - i));
    [index[i], index[j]] = [index[j], index[i]];
  }
  return index
    .slice(0, size)
    .sort((a, b) => a - b)
    .map((i) => rows[i]);
}

/** Trains one forest on a snapshot's train split, scores it on validation, stores artifact and run. */
export async function train(deps: TrainDeps, request: TrainRequest): Promise<TrainResult> {
  const { pool, store } = deps;
  const manifest = await store.getJson<DatasetManifest>(request.manifestKey);
  const spec = manifest.spec;
  const params = request.params;
  const runId = deterministicUuid('run', request.executionId, request.trialIndex);
  const base = {
    runId,
    parentRunId: request.parentRunId ?? null,
    executionId: request.executionId,
    dataset: spec.name,
    datasetVersion: request.datasetVersion,
    params,
  };
  const result = (metrics: Metrics, artifactKey: string, artifactSha256: string, trainSeconds: number, cachedFromRunId: string | null): TrainResult => ({
    runId,
    dataset: spec.name,
    datasetVersion: request.datasetVersion,
    params,
    family: params.family,
    metrics: stepMetrics(metrics),
    artifactKey,
    artifactSha256,
    trainSeconds,
    defaultMetric: spec.promotionMetric ?? null,
    cached: cachedFromRunId !== null,
    cachedFromRunId,
  });
  const cacheKey = trainCacheKey(manifest.contentHash, params);
  if (request.cache !== false) {
    const source = await findTrainedRun(pool, cacheKey, runId);
    if (source?.artifactKey && source.artifactSha256 && (await artifactIntact(store, source.artifactKey, source.artifactSha256))) {
      const metrics = (source.metrics ?? { rows: 0 }) as Metrics;
      await upsertRun(pool, { ...base, metrics, status: 'finished', artifactKey: source.artifactKey, artifactSha256: source.artifactSha256, trainSeconds: 0 });
      await recordRunCache(pool, runId, cacheKey, source.runId);
      deps.log?.(`run ${runId}: cached, reusing the artifact of run ${source.runId}`);
      return result(metrics, source.artifactKey, source.artifactSha256, 0, source.runId);
    }
  }
  await upsertRun(pool, { ...base, metrics: null, status: 'running', artifactKey: null, artifactSha256: null, trainSeconds: null });

  try {
    const started = performance.now();
    const options: FitOptions = {
      ...(deps.workers !== undefined ? { workers: deps.workers } : {}),
      onProgress: (done, total) => {
        if (done === total || done % Math.max(1, Math.ceil(total / 5)) === 0) {
          deps.log?.(`run ${runId}: ${params.family} ${done}/${total} ${params.family === 'forest' ? 'trees' : 'iterations'}`);
        }
      },
    };
    const splits = await readTrainingSplits(store, manifest, params);
    const artifact = await fitFromSplits(manifest, params, splits, options);
    const trainSeconds = (performance.now() - started) / 1000;
    const validationRows = splits.validation;
    const metrics: Metrics = validationRows.length > 0 ? evaluate(new LoadedModel(artifact), validationRows) : { rows: 0 };
    if (params.cv !== undefined) Object.assign(metrics, await crossValidate(manifest, params, splits, { ...options, onProgress: () => undefined }));
    const artifactKey = keys.modelArtifact(spec.name, runId);
    const artifactSha256 = await store.putBytes(artifactKey, serializeArtifact(artifact), 'application/octet-stream');
    await upsertRun(pool, { ...base, metrics, status: 'finished', artifactKey, artifactSha256, trainSeconds });
    await recordRunCache(pool, runId, cacheKey, null);
    return result(metrics, artifactKey, artifactSha256, trainSeconds, null);
  } catch (error) {
    await upsertRun(pool, { ...base, metrics: null, status: 'failed', artifactKey: null, artifactSha256: null, trainSeconds: null }).catch(() => undefined);
    throw error;
  }
}

/** An earlier artifact is reused only if it is still there with the bytes the registry recorded. */
async function artifactIntact(store: ArtifactStore, key: string, sha256: string): Promise<boolean> {
  try {
    await store.getVerifiedBytes(key, sha256);
    return true;
  } catch (error) {
    if (error instanceof NotFound || error instanceof ArtifactHashMismatch) return false;
    throw error;
  }
}

/**
 * The run record keeps every figure; the step's output (200 trials share one Step Functions payload)
 * keeps the scalars SelectBest compares: no per-class stats, no CV spreads.
 */
const stepMetrics = (metrics: Metrics): Metrics =>
  Object.fromEntries(Object.entries(metrics).filter(([k, v]) => typeof v === 'number' && !k.endsWith('_cv_std'))) as Metrics;

type Splits = { train: TypedRow[]; validation: TypedRow[] };

/** The rows a run trains on (its seeded sample when `maxTrainRows` is set) and the validation rows. */
async function readTrainingSplits(store: ArtifactStore, manifest: DatasetManifest, params: TrainParams): Promise<Splits> {
  let train = await readSnapshotSplit(store, manifest, 'train');
  if (params.maxTrainRows !== null) train = subsample(train, params.maxTrainRows, params.seed);
  if (train.length < 2) throw new InvalidRows(`Snapshot of ${manifest.spec.name} has ${train.length} training rows`);
  return { train, validation: await readSnapshotSplit(store, manifest, 'validation') };
}

const matrixOf = (encoder: Encoder, rows: readonly TypedRow[]) => {
  const { x, y, rows: n, width } = encodeMatrix(encoder, rows);
  return { X: { rows: n, cols: width, data: x }, y };
};

/**
 * Fits a model artifact from a snapshot's train split: a pure function of (snapshot, params), so
 * the same lineage gives the same bytes (every family is seeded, whatever the workers). A binary
 * classifier also gets its decision threshold: the given one, or the best F1 on validation.
 */
export async function fitArtifact(store: ArtifactStore, manifest: DatasetManifest, params: TrainParams, options: FitOptions = {}): Promise<ModelArtifact> {
  return fitFromSplits(manifest, params, await readTrainingSplits(store, manifest, params), options);
}

async function fitFromSplits(manifest: DatasetManifest, params: TrainParams, splits: Splits, options: FitOptions): Promise<ModelArtifact> {
  const spec = manifest.spec;
  const encoder = buildEncoder(spec);
  const { X, y } = matrixOf(encoder, splits.train);
  const validation = splits.validation.length > 0 ? matrixOf(encoder, splits.validation) : undefined;
  const model = await fitFamily(spec.task, params, X, y, { ...options, featureNames: encoder.featureNames, ...(validation ? { validation } : {}) });
  const base = { dataset: spec.name, datasetContentHash: manifest.contentHash, spec, featureNames: encoder.featureNames, params };
  const artifact = artifactOf(base, model);
  if (spec.task !== 'classification' || (spec.classes ?? []).length !== 2) return artifact;
  let threshold = params.threshold;
  if (threshold === undefined && splits.validation.length > 0) {
    const loaded = new LoadedModel(artifact);
    const out = loaded.outputs(splits.validation);
    const scores = splits.validation.map((_, i) => loaded.probabilitiesAt(out, i * loaded.predictor.nOutputs)[1]);
    threshold = bestF1Threshold(
      splits.validation.map((row) => encoder.encodeTarget(row) === 1),
      scores,
    ).threshold;
  }
  return threshold === undefined ? artifact : { ...artifact, threshold };
}

/**
 * k-fold cross-validation on the train split: folds stratified by class, or grouped by the split's
 * group column (all rows of a group in one fold). Each fold's model is fitted on the other folds
 * (with the validation split for early stopping) and scored on its fold; returns
 * `<metric>_cv_mean` and `<metric>_cv_std` (population standard deviation) per metric.
 */
export async function crossValidate(manifest: DatasetManifest, params: TrainParams, splits: Splits, options: FitOptions): Promise<Record<string, number>> {
  const spec = manifest.spec;
  const k = params.cv ?? 3;
  const group = spec.split.group;
  const folds = kFolds(splits.train, k, {
    seed: `${spec.split.seed}:cv:${params.seed}`,
    ...(group !== undefined ? { group } : spec.task === 'classification' ? { stratify: spec.target } : {}),
  });
  const scores = new Map<MetricName, number[]>();
  for (let f = 0; f < k; f++) {
    const fit = splits.train.filter((_, i) => folds[i] !== f);
    const held = splits.train.filter((_, i) => folds[i] === f);
    if (held.length === 0 || fit.length < 2) continue;
    const artifact = await fitFromSplits(manifest, { ...params, cv: undefined }, { train: fit, validation: splits.validation }, options);
    const metrics = evaluate(new LoadedModel(artifact), held);
    for (const name of CV_METRICS) {
      const v = metrics[name];
      if (v !== undefined && Number.isFinite(v)) scores.set(name, [...(scores.get(name) ?? []), v]);
    }
  }
  const out: Record<string, number> = { cv_folds: k };
  for (const [name, values] of scores) {
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    out[`${name}_cv_mean`] = mean;
    out[`${name}_cv_std`] = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  }
  return out;
}
