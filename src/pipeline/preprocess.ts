import { createHash } from 'node:crypto';
import type { RowDataPacket } from 'mysql2/promise';
import { buildEncoder } from '../dataset/encode.ts';
import type { DatasetSpec } from '../dataset/spec.ts';
import { assignSplit, type SplitName } from '../dataset/split.ts';
import { validateRows, type TypedRow } from '../dataset/validate.ts';
import { InvalidRows } from '../errors.ts';
import { keys } from '../storage/keys.ts';
import type { Pool } from '../storage/mysql.ts';
import { asStorageError } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { formatSnapshotCsv, type DatasetManifest } from './snapshot.ts';

export interface PreprocessDeps {
  pool: Pool;
  store: ArtifactStore;
  spec: DatasetSpec;
  /** Fewer valid training rows than this fails the step with InvalidRows. */
  minTrainRows?: number;
}

export interface PreprocessResult {
  dataset: string;
  datasetVersion: number;
  manifestKey: string;
  contentHash: string;
  counts: DatasetManifest['counts'];
  /** False when the same content was already a version (a re-run, or no new rows). */
  created: boolean;
}

const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

interface RawRow extends RowDataPacket {
  row_key: string;
  row_values: unknown;
}

/**
 * Builds a dataset version from every stored row of the dataset: re-validates (the spec may be
 * stricter than when the rows were fetched), splits by row key, and writes a content-addressed
 * snapshot. The same rows give the same content hash, hence the same version: re-running is a no-op.
 */
export async function preprocess(deps: PreprocessDeps, executionId: string): Promise<PreprocessResult> {
  const { pool, store, spec } = deps;
  let raw: RawRow[];
  try {
    [raw] = await pool.query<RawRow[]>('SELECT row_key, row_values FROM raw_rows WHERE dataset = ? ORDER BY row_key', [spec.name]);
  } catch (error) {
    throw asStorageError(error);
  }
  const values = raw.map((r) => (typeof r.row_values === 'string' ? JSON.parse(r.row_values) : r.row_values) as unknown[]);
  const { valid, validIndex, rejected } = validateRows(spec, values);

  const bySplit: Record<SplitName, TypedRow[]> = { train: [], validation: [], test: [] };
  valid.forEach((row, i) => bySplit[assignSplit(raw[validIndex[i]].row_key, spec.split)].push(row));
  if (bySplit.train.length < (deps.minTrainRows ?? 10) || bySplit.test.length === 0) {
    throw new InvalidRows(
      `Dataset ${spec.name} has ${valid.length} valid rows (${bySplit.train.length} train, ${bySplit.test.length} test, ` +
        `${rejected.length} rejected): too few to train and evaluate. Fetch more batches first.`,
    );
  }

  const texts = Object.fromEntries(SPLITS.map((s) => [s, formatSnapshotCsv(spec, bySplit[s])])) as Record<SplitName, string>;
  const contentHash = createHash('sha256')
    .update(JSON.stringify(spec))
    .update(texts.train).update('\0').update(texts.validation).update('\0').update(texts.test)
    .digest('hex');

  const existing = await findVersionByHash(pool, spec.name, contentHash);
  if (existing) return { ...existing, created: false };

  const files = {} as DatasetManifest['files'];
  for (const split of SPLITS) {
    const key = keys.datasetSplit(spec.name, contentHash, split);
    const sha256 = await store.putGzip(key, texts[split], 'text/csv');
    files[split] = { key, sha256, rows: bySplit[split].length };
  }
  const counts = { total: valid.length + rejected.length, train: bySplit.train.length, validation: bySplit.validation.length, test: bySplit.test.length, rejected: rejected.length };
  const reasons = new Map<string, number>();
  for (const r of rejected) {
    // Group by the column part of the reason ("Elevation: not a number: ..." → "Elevation: not a number").
    const kind = r.reason.replace(/:\s[^:]*$/, '');
    reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
  }
  const manifestKey = keys.datasetManifest(spec.name, contentHash);
  const manifest: DatasetManifest = {
    dataset: spec.name,
    contentHash,
    createdAt: new Date().toISOString(),
    spec,
    featureNames: buildEncoder(spec).featureNames,
    counts,
    ...(spec.task === 'classification' ? { classCounts: classCounts(spec, bySplit) } : {}),
    rejectedReasons: [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([reason, rows]) => ({ reason, rows })),
    files,
  };
  // Files first, the version row last: a crash in between leaves no version pointing at missing files.
  await store.putJson(manifestKey, manifest);
  return insertVersion(pool, spec.name, contentHash, manifestKey, counts, executionId);
}

function classCounts(spec: DatasetSpec, bySplit: Record<SplitName, TypedRow[]>): Record<SplitName, Record<string, number>> {
  const out = {} as Record<SplitName, Record<string, number>>;
  for (const split of SPLITS) {
    const counts: Record<string, number> = {};
    for (const row of bySplit[split]) {
      const value = String(row[spec.target]);
      counts[value] = (counts[value] ?? 0) + 1;
    }
    out[split] = counts;
  }
  return out;
}

interface VersionRow extends RowDataPacket {
  version: number; manifest_key: string; rows_total: number; rows_train: number; rows_validation: number; rows_test: number; rows_rejected: number;
}

async function findVersionByHash(pool: Pool, dataset: string, contentHash: string): Promise<Omit<PreprocessResult, 'created'> | null> {
  const [rows] = await pool.query<VersionRow[]>('SELECT * FROM dataset_versions WHERE dataset = ? AND content_hash = ?', [dataset, contentHash]);
  if (rows.length === 0) return null;
  const r = rows[0];
  return {
    dataset, datasetVersion: r.version, manifestKey: r.manifest_key, contentHash,
    counts: { total: r.rows_total, train: r.rows_train, validation: r.rows_validation, test: r.rows_test, rejected: r.rows_rejected },
  };
}

/** Numbers the version; a concurrent insert of the same content wins and is returned instead. */
async function insertVersion(
  pool: Pool, dataset: string, contentHash: string, manifestKey: string, counts: DatasetManifest['counts'], executionId: string,
): Promise<Omit<PreprocessResult, 'created'> & { created: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await pool.query(
        `INSERT INTO dataset_versions (dataset, version, content_hash, manifest_key, rows_total, rows_train, rows_validation, rows_test, rows_rejected, execution_id)
         SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ? FROM dataset_versions WHERE dataset = ?`,
        [dataset, contentHash, manifestKey, counts.total, counts.train, counts.validation, counts.test, counts.rejected, executionId, dataset],
      );
      const inserted = await findVersionByHash(pool, dataset, contentHash);
      if (inserted) return { ...inserted, created: true };
    } catch (error) {
      if ((error as { code?: string }).code !== 'ER_DUP_ENTRY') throw asStorageError(error);
      const winner = await findVersionByHash(pool, dataset, contentHash);
      if (winner) return { ...winner, created: false };
      // Another version took our number: try the next one.
    }
  }
  throw new Error(`Could not number a new version of dataset ${dataset}`);
}
