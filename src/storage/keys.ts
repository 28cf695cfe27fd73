import type { SplitName } from '../dataset/split.ts';

/**
 * The one S3 key scheme. Every part comes from validated identifiers (dataset slugs, integers,
 * UUIDs), never from raw user input.
 */
const slug = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const sha256Hex = /^[0-9a-f]{64}$/;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checked(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`Refusing to build an S3 key from ${what} ${JSON.stringify(value)}`);
  return value;
}

export const keys = {
  /** Snapshots are content-addressed: concurrent runs can never overwrite each other's files. */
  datasetPrefix: (dataset: string, contentHash: string) =>
    `datasets/${checked(dataset, slug, 'dataset')}/${checked(contentHash, sha256Hex, 'content hash')}`,
  datasetManifest: (dataset: string, contentHash: string) => `${keys.datasetPrefix(dataset, contentHash)}/manifest.json`,
  datasetSplit: (dataset: string, contentHash: string, split: SplitName) =>
    `${keys.datasetPrefix(dataset, contentHash)}/${split}.csv.gz`,
  modelArtifact: (dataset: string, runId: string) =>
    `models/${checked(dataset, slug, 'dataset')}/runs/${checked(runId, uuid, 'run id')}/model.json.gz`,
};
