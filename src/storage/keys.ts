import type { SplitName } from '../dataset/split.ts';

/**
 * The one S3 key scheme. Every part comes from validated identifiers (dataset slugs, integers,
 * UUIDs), never from raw user input.
 */
const slug = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** batch/…/name.csv with plain path segments: no `..`, no empty segment, nothing outside batch/. */
export const batchInput = /^batch\/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\.csv$/;
const sha256Hex = /^[0-9a-f]{64}$/;
/** A UTC day, the prediction log's partition. */
const isoDate = /^\d{4}-\d{2}-\d{2}$/;
/** One flush of the prediction log: a time stamp and a writer id, no path parts. */
const logFile = /^[0-9A-Za-z_-]{1,100}\.jsonl$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`Refusing to build an S3 key from ${what} ${JSON.stringify(value)}`);
  return value;
}

export const keys = {
  /** Snapshots are content-addressed: concurrent runs can never overwrite each other's files. */
  datasetPrefix: (dataset: string, contentHash: string) => `datasets/${checked(dataset, slug, 'dataset')}/${checked(contentHash, sha256Hex, 'content hash')}`,
  datasetManifest: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/manifest.json`,
  datasetSplit: (dataset: string, contentHash: string, split: SplitName) => `${keys.datasetPrefix(dataset, contentHash)}/${split}.csv.gz`,
  /** Per-column profile of the version's rows (src/dataset/profile.ts). */
  datasetProfile: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/profile.json`,
  /** PSI drift report against the previous version of the same dataset (src/dataset/drift.ts). */
  datasetDrift: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/drift.json`,
  /** Batch inputs live under batch/; the output sits beside its input. */
  batchOutput: (inputKey: string) => `${checked(inputKey, batchInput, 'batch input key').replace(/\.csv$/, '')}.predictions.csv`,
  /** The prediction log (src/monitoring/prediction-log.ts): JSON Lines, one object per flush, by model and UTC day. */
  predictionLogPrefix: (model: string, date: string) => `predictions/${checked(model, slug, 'model')}/date=${checked(date, isoDate, 'date')}/`,
  predictionLog: (model: string, date: string, file: string) => `${keys.predictionLogPrefix(model, date)}${checked(file, logFile, 'log file')}`,
  modelArtifact: (dataset: string, runId: string) => `models/${checked(dataset, slug, 'dataset')}/runs/${checked(runId, uuid, 'run id')}/model.bin`,
};
