import { createHash } from 'node:crypto';
import { z } from 'zod';
import { buildEncoder, encodeMatrix } from '../dataset/encode.ts';
import { trainForest, type TrainOptions } from '../forest/index.ts';
import { InvalidRows } from '../errors.ts';
import { forestArtifact, LoadedModel, serializeArtifact, type ModelArtifact } from '../model/artifact.ts';
import { evaluate, type Metrics } from '../model/evaluate.ts';
import { upsertRun } from '../registry/registry.ts';
import { keys } from '../storage/keys.ts';
import type { Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { readSnapshotSplit, type DatasetManifest } from './snapshot.ts';

/** Hyper-parameters of one training run; defaults are what a user gets without asking. */
export const TrainParamsSchema = z.strictObject({
  nEstimators: z.number().int().min(1).max(1000).default(50),
  maxDepth: z.number().int().min(1).max(100).nullable().default(null),
  minSamplesSplit: z.number().int().min(2).default(2),
  minSamplesLeaf: z.number().int().min(1).default(1),
  maxFeatures: z.union([z.enum(['sqrt', 'log2', 'all']), z.number().positive()]).default('sqrt'),
  criterion: z.enum(['gini', 'entropy', 'mse']).optional(),
  bootstrap: z.boolean().default(true),
  seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
  /** Train on at most this many rows (a seeded sample), e.g. to keep a trial quick. */
  maxTrainRows: z.number().int().positive().nullable().default(null),
});
export type TrainParams = z.infer<typeof TrainParamsSchema>;

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
}

export interface TrainResult {
  runId: string;
  dataset: string;
  datasetVersion: number;
  params: TrainParams;
  metrics: Metrics;
  artifactKey: string;
  artifactSha256: string;
  trainSeconds: number;
}

/** A UUID derived from names, so re-running a step addresses the same run instead of adding one. */
export function deterministicUuid(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('\u001f')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
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
  return index.slice(0, size).sort((a, b) => a - b).map((i) => rows[i]);
}

/** Trains one forest on a snapshot's train split, scores it on validation, stores artifact and run. */
export async function train(deps: TrainDeps, request: TrainRequest): Promise<TrainResult> {
  const { pool, store } = deps;
  const manifest = await store.getJson<DatasetManifest>(request.manifestKey);
  const spec = manifest.spec;
  const params = request.params;
  const runId = deterministicUuid('run', request.executionId, request.trialIndex);
  const base = {
    runId, parentRunId: request.parentRunId ?? null, executionId: request.executionId, dataset: spec.name,
    datasetVersion: request.datasetVersion, params,
  };
  await upsertRun(pool, { ...base, metrics: null, status: 'running', artifactKey: null, artifactSha256: null, trainSeconds: null });

  try {
    const started = performance.now();
    const artifact = await fitArtifact(store, manifest, params, {
      ...(deps.workers !== undefined ? { workers: deps.workers } : {}),
      onProgress: ({ treesDone, treesTotal }) => {
        if (treesDone === treesTotal || treesDone % Math.max(1, Math.ceil(treesTotal / 5)) === 0) {
          deps.log?.(`run ${runId}: ${treesDone}/${treesTotal} trees`);
        }
      },
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const validationRows = await readSnapshotSplit(store, manifest, 'validation');
    const metrics = validationRows.length > 0 ? evaluate(new LoadedModel(artifact), validationRows) : { rows: 0 };
    const artifactKey = keys.modelArtifact(spec.name, runId);
    const artifactSha256 = await store.putBytes(artifactKey, serializeArtifact(artifact), 'application/octet-stream');
    await upsertRun(pool, { ...base, metrics, status: 'finished', artifactKey, artifactSha256, trainSeconds });
    return { runId, dataset: spec.name, datasetVersion: request.datasetVersion, params, metrics, artifactKey, artifactSha256, trainSeconds };
  } catch (error) {
    await upsertRun(pool, { ...base, metrics: null, status: 'failed', artifactKey: null, artifactSha256: null, trainSeconds: null }).catch(() => undefined);
    throw error;
  }
}

/**
 * Fits a model artifact from a snapshot's train split: a pure function of (snapshot, params), so
 * the same lineage gives the same bytes (the forest is seeded per tree, whatever the workers).
 */
export async function fitArtifact(
  store: ArtifactStore, manifest: DatasetManifest, params: TrainParams, options: TrainOptions = {},
): Promise<ModelArtifact> {
  const spec = manifest.spec;
  let trainRows = await readSnapshotSplit(store, manifest, 'train');
  if (params.maxTrainRows !== null) trainRows = subsample(trainRows, params.maxTrainRows, params.seed);
  if (trainRows.length < 2) throw new InvalidRows(`Snapshot of ${spec.name} has ${trainRows.length} training rows`);
  const encoder = buildEncoder(spec);
  const { x, y, rows, width } = encodeMatrix(encoder, trainRows);
  const forest = await trainForest({ rows, cols: width, data: x }, y, {
    task: spec.task,
    nEstimators: params.nEstimators,
    ...(params.maxDepth !== null ? { maxDepth: params.maxDepth } : {}),
    minSamplesSplit: params.minSamplesSplit,
    minSamplesLeaf: params.minSamplesLeaf,
    maxFeatures: params.maxFeatures,
    ...(params.criterion ? { criterion: params.criterion } : {}),
    bootstrap: params.bootstrap,
    seed: params.seed,
  }, options);
  return forestArtifact({ dataset: spec.name, datasetContentHash: manifest.contentHash, spec, featureNames: encoder.featureNames, params }, forest);
}
