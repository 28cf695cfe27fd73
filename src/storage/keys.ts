import type { SplitName } from '../dataset/split.ts';
import { BATCH_INPUT_KEY, DATASET_NAME, SHA256_HEX, UUID } from '../schemas.ts';

// The one S3 key scheme. Every part comes from validated identifiers (dataset names, integers,
// UUIDs), never from raw user input; their patterns are src/schemas.ts's.

/** A UTC day, the prediction log's partition. */
const isoDate = /^\d{4}-\d{2}-\d{2}$/;
/** One flush of the prediction log: a time stamp and a writer id, no path parts; JSON Lines, zstd or plain. */
const logFile = /^[0-9A-Za-z_-]{1,100}\.jsonl(\.zst)?$/;

function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`Refusing to build an S3 key from ${what} ${JSON.stringify(value)}`);
  return value;
}

export const keys = {
  /** Snapshots are content-addressed: concurrent runs can never overwrite each other's files. */
  datasetPrefix: (dataset: string, contentHash: string) =>
    `datasets/${checked(dataset, DATASET_NAME, 'dataset')}/${checked(contentHash, SHA256_HEX, 'content hash')}`,
  datasetManifest: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/manifest.json`,
  datasetSplit: (dataset: string, contentHash: string, split: SplitName) => `${keys.datasetPrefix(dataset, contentHash)}/${split}.csv.gz`,
  /** Per-column profile of the version's rows (src/dataset/profile.ts). */
  datasetProfile: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/profile.json`,
  /** PSI drift report against the previous version of the same dataset (src/dataset/drift.ts). */
  datasetDrift: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/drift.json`,
  /** Batch inputs live under batch/; the output sits beside its input. */
  batchOutput: (inputKey: string) => `${checked(inputKey, BATCH_INPUT_KEY, 'batch input key').replace(/\.csv$/, '')}.predictions.csv`,
  /** The prediction log (src/monitoring/prediction-log.ts): JSON Lines (zstd), one object per flush, by model and UTC day. */
  predictionLogPrefix: (model: string, date: string) => `predictions/${checked(model, DATASET_NAME, 'model')}/date=${checked(date, isoDate, 'date')}/`,
  predictionLog: (model: string, date: string, file: string) => `${keys.predictionLogPrefix(model, date)}${checked(file, logFile, 'log file')}`,
  modelArtifact: (dataset: string, runId: string) => `models/${checked(dataset, DATASET_NAME, 'dataset')}/runs/${checked(runId, UUID, 'run id')}/model.bin`,
};
