import type { DriftReport, DriftSummary } from '../dataset/drift.ts';
import type { DatasetProfile } from '../dataset/profile.ts';
import { NotFound } from '../errors.ts';
import type { DatasetManifest } from './snapshots.ts';
import { keys } from '../storage/keys.ts';
import { queryRows, type Pool, type RowDataPacket } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';

/**
 * The catalog of dataset versions (GET /datasets, model lineage): MySQL rows, with the profile and
 * drift report read from S3 for a single version.
 */

export interface DatasetVersionSummary {
  dataset: string;
  version: number;
  contentHash: string;
  manifestKey: string;
  createdAt: string;
  executionId: string | null;
  counts: DatasetManifest['counts'];
  /** null for a version made before drift reports existed. */
  drift: DriftSummary | null;
}

export interface DatasetVersionDetail extends DatasetVersionSummary {
  featureNames: string[];
  rejectedReasons: DatasetManifest['rejectedReasons'];
  profile: DatasetProfile | null;
  driftReport: DriftReport | null;
}

interface CatalogRow extends RowDataPacket {
  dataset: string;
  version: number;
  content_hash: string;
  manifest_key: string;
  created_at: Date;
  execution_id: string | null;
  rows_total: number;
  rows_train: number;
  rows_validation: number;
  rows_test: number;
  rows_rejected: number;
  baseline_version: number | null;
  drifted: number | null;
  max_psi: number | null;
  psi_threshold: number | null;
  flagged: unknown;
}

const CATALOG_SELECT = `SELECT v.dataset, v.version, v.content_hash, v.manifest_key, v.created_at, v.execution_id,
    v.rows_total, v.rows_train, v.rows_validation, v.rows_test, v.rows_rejected,
    d.baseline_version, d.drifted, d.max_psi, d.psi_threshold, d.flagged
  FROM dataset_versions v LEFT JOIN dataset_version_drift d ON d.dataset = v.dataset AND d.version = v.version`;

function toSummary(r: CatalogRow): DatasetVersionSummary {
  const flagged = r.flagged === null ? [] : ((typeof r.flagged === 'string' ? JSON.parse(r.flagged) : r.flagged) as string[]);
  return {
    dataset: r.dataset,
    version: r.version,
    contentHash: r.content_hash,
    manifestKey: r.manifest_key,
    createdAt: new Date(r.created_at).toISOString(),
    executionId: r.execution_id,
    counts: { total: r.rows_total, train: r.rows_train, validation: r.rows_validation, test: r.rows_test, rejected: r.rows_rejected },
    drift:
      r.drifted === null
        ? null
        : { drifted: Boolean(r.drifted), maxPsi: r.max_psi ?? 0, flagged, baselineVersion: r.baseline_version, threshold: r.psi_threshold ?? 0 },
  };
}

/** Versions of one dataset (or of all), newest first. */
export async function listDatasetVersions(pool: Pool, filter: { dataset?: string; limit?: number } = {}): Promise<DatasetVersionSummary[]> {
  const where = filter.dataset !== undefined ? 'WHERE v.dataset = ?' : '';
  const params: unknown[] = filter.dataset !== undefined ? [filter.dataset] : [];
  params.push(filter.limit ?? 1000);
  return (await queryRows<CatalogRow>(pool, `${CATALOG_SELECT} ${where} ORDER BY v.dataset, v.version DESC LIMIT ?`, params)).map(toSummary);
}

async function optionalJson<T>(store: ArtifactStore, key: string | undefined): Promise<T | null> {
  if (key === undefined) return null;
  try {
    return await store.getJson<T>(key);
  } catch (error) {
    if (error instanceof NotFound) return null;
    throw error;
  }
}

/** One version's row (counts, drift summary); NotFound if there is no such version. */
export async function getDatasetVersionSummary(pool: Pool, dataset: string, version: number): Promise<DatasetVersionSummary> {
  const rows = await queryRows<CatalogRow>(pool, `${CATALOG_SELECT} WHERE v.dataset = ? AND v.version = ?`, [dataset, version]);
  if (rows.length === 0) throw new NotFound(`Dataset ${dataset} has no version ${version}`);
  return toSummary(rows[0]);
}

/** One version with its profile and drift report from S3. */
export async function getDatasetVersion(pool: Pool, store: ArtifactStore, dataset: string, version: number): Promise<DatasetVersionDetail> {
  const summary = await getDatasetVersionSummary(pool, dataset, version);
  const manifest = await store.getJson<DatasetManifest>(summary.manifestKey);
  const [profile, driftReport] = await Promise.all([
    optionalJson<DatasetProfile>(store, manifest.profileKey ?? keys.datasetProfile(dataset, summary.contentHash)),
    optionalJson<DriftReport>(store, manifest.driftKey ?? keys.datasetDrift(dataset, summary.contentHash)),
  ]);
  return { ...summary, featureNames: manifest.featureNames, rejectedReasons: manifest.rejectedReasons, profile, driftReport };
}
