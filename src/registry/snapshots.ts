// A dataset version's snapshot: the manifest preprocess writes and the split CSV files it points
// to, written by `formatSnapshotCsv` and read back by `readSnapshotSplit`.
import type { DatasetSpec } from '../dataset/spec.ts';
import { formatCsvLine, parseCsv } from '../dataset/csv.ts';
import { modelSpec } from '../dataset/transforms.ts';
import { validateRows, type TypedRow } from '../dataset/validate.ts';
import { InvalidRows } from '../errors.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { gunzipText } from '../storage/s3.ts';
import type { SplitName } from '../dataset/split.ts';

/** What preprocess writes next to a snapshot; train, promote and the registry read it. */
export interface DatasetManifest {
  dataset: string;
  contentHash: string;
  createdAt: string;
  spec: DatasetSpec;
  featureNames: string[];
  counts: { total: number; train: number; validation: number; test: number; rejected: number };
  /** Classification only: class value → rows, per split. */
  classCounts?: Record<SplitName, Record<string, number>>;
  rejectedReasons: { reason: string; rows: number }[];
  files: Record<SplitName, { key: string; sha256: string; rows: number }>;
  /** S3 key of the version's data profile (absent in manifests written before profiles existed). */
  profileKey?: string;
  /** S3 key of its drift report against the previous version. */
  driftKey?: string;
}

/**
 * Model rows (after the transforms) as CSV text in the model spec's column order (numbers in their
 * shortest exact form, a missing value as an empty field).
 */
export function formatSnapshotCsv(spec: DatasetSpec, rows: readonly TypedRow[]): string {
  const names = modelSpec(spec).columns.map((c) => c.name);
  const lines = [formatCsvLine(names)];
  for (const row of rows)
    lines.push(
      formatCsvLine(
        names.map((n) => {
          const v = row[n];
          return v === null || v === undefined ? '' : String(v);
        }),
      ),
    );
  return `${lines.join('\n')}\n`;
}

/** Reads one split of a snapshot back as typed model rows; a row that no longer validates is a corrupt snapshot. */
export async function readSnapshotSplit(store: ArtifactStore, manifest: DatasetManifest, split: SplitName): Promise<TypedRow[]> {
  const file = manifest.files[split];
  const records = parseCsv(gunzipText(await store.getVerifiedBytes(file.key, file.sha256)));
  records.shift();
  const { valid, rejected } = validateRows(modelSpec(manifest.spec), records);
  if (rejected.length > 0) {
    throw new InvalidRows(`Snapshot ${file.key} has ${rejected.length} invalid rows, e.g. ${rejected[0].reason}`);
  }
  return valid;
}
