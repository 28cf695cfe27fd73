import { createHash } from 'node:crypto';
import { buildEncoder } from '../dataset/encode.ts';
import type { DatasetSpec } from '../dataset/spec.ts';
import { assignSplit, type SplitName } from '../dataset/split.ts';
import { modelSpec, transformRow } from '../dataset/transforms.ts';
import { validateRows, type TypedRow } from '../dataset/validate.ts';
import { profileDataset, type DatasetProfile } from '../dataset/profile.ts';
import { DEFAULT_PSI_THRESHOLD, driftReport, driftSummary, type DriftReport, type DriftSummary } from '../dataset/drift.ts';
import { InvalidRows, NotFound } from '../errors.ts';
import { keys } from '../storage/keys.ts';
import type { Pool, RowDataPacket } from '../storage/mysql.ts';
import { execute, queryRows } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { formatSnapshotCsv, readSnapshotSplit, type DatasetManifest } from '../registry/snapshots.ts';

export interface PreprocessDeps {
  pool: Pool;
  store: ArtifactStore;
  spec: DatasetSpec;
  /** Fewer valid training rows than this fails the step with InvalidRows. */
  minTrainRows?: number;
  /** A feature whose PSI against the previous version is above this is drifted (default 0.2). */
  driftThreshold?: number;
  /** Reports what the step works around (a lost drift baseline); silent when absent. */
  warn?: (message: string, details: Record<string, unknown>) => void;
}

export interface PreprocessResult {
  dataset: string;
  datasetVersion: number;
  manifestKey: string;
  contentHash: string;
  counts: DatasetManifest['counts'];
  /** False when the same content was already a version (a re-run, or no new rows). */
  created: boolean;
  /**
   * This version's drift against the previous version of the dataset, as recorded when the version
   * was created (so a re-run or an unchanged dataset reports the same). `drifted` is true when a
   * feature's PSI is above the threshold, and for a first version (nothing to compare with).
   */
  drift: DriftSummary;
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
  const raw = await queryRows<RawRow>(pool, 'SELECT row_key, row_values FROM raw_rows WHERE dataset = ? ORDER BY row_key', [spec.name]);
  const values = raw.map((r) => (typeof r.row_values === 'string' ? JSON.parse(r.row_values) : r.row_values) as unknown[]);
  const { valid: validSource, validIndex, rejected } = validateRows(spec, values);
  // The spec's transforms (the same function predict applies to a request row), then the split: by
  // the group column when the spec has one (all rows of a group in one split), else by row key.
  const valid = validSource.map((row) => transformRow(spec, row));
  const group = spec.split.group;

  const bySplit: Record<SplitName, TypedRow[]> = { train: [], validation: [], test: [] };
  for (const [i, row] of valid.entries())
    bySplit[assignSplit(group === undefined ? raw[validIndex[i]].row_key : `group:${String(row[group])}`, spec.split)].push(row);
  if (bySplit.train.length < (deps.minTrainRows ?? 10) || bySplit.test.length === 0) {
    throw new InvalidRows(
      `Dataset ${spec.name} has ${valid.length} valid rows (${bySplit.train.length} train, ${bySplit.test.length} test, ` +
        `${rejected.length} rejected): too few to train and evaluate. Fetch more batches first.`,
    );
  }

  const texts = Object.fromEntries(SPLITS.map((s) => [s, formatSnapshotCsv(spec, bySplit[s])])) as Record<SplitName, string>;
  const contentHash = createHash('sha256')
    .update(JSON.stringify(spec))
    .update(texts.train)
    .update('\0')
    .update(texts.validation)
    .update('\0')
    .update(texts.test)
    .digest('hex');

  const threshold = deps.driftThreshold ?? DEFAULT_PSI_THRESHOLD;
  const existing = await findVersionByHash(pool, spec.name, contentHash);
  if (existing) return { ...existing, created: false, drift: await recordedDrift(pool, store, existing, threshold) };

  const files = {} as DatasetManifest['files'];
  for (const split of SPLITS) {
    const key = keys.datasetSplit(spec.name, contentHash, split);
    const sha256 = await store.putGzip(key, texts[split], 'text/csv');
    files[split] = { key, sha256, rows: bySplit[split].length };
  }
  const counts = {
    total: valid.length + rejected.length,
    train: bySplit.train.length,
    validation: bySplit.validation.length,
    test: bySplit.test.length,
    rejected: rejected.length,
  };
  const reasons = new Map<string, number>();
  for (const r of rejected) {
    // Group by the column part of the reason ("Elevation: not a number: ..." → "Elevation: not a number").
    const kind = r.reason.replace(/:\s[^:]*$/, '');
    reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
  }
  // Profile of every valid row, and drift against the latest version so far (the one this follows).
  const profileKey = keys.datasetProfile(spec.name, contentHash);
  const driftKey = keys.datasetDrift(spec.name, contentHash);
  const profile = profileDataset(modelSpec(spec), valid);
  await store.putJson(profileKey, profile);
  const drift = driftReport(modelSpec(spec), valid, await latestBaseline(deps, spec.name), { threshold });
  await store.putJson(driftKey, drift);

  const manifestKey = keys.datasetManifest(spec.name, contentHash);
  const manifest: DatasetManifest = {
    dataset: spec.name,
    contentHash,
    createdAt: new Date().toISOString(),
    spec,
    featureNames: buildEncoder(spec).featureNames,
    counts,
    ...(spec.task === 'classification' ? { classCounts: classCounts(spec, bySplit) } : {}),
    rejectedReasons: [...reasons]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([reason, rows]) => ({ reason, rows })),
    files,
    profileKey,
    driftKey,
  };
  // Files first, the version row last: a crash in between leaves no version pointing at missing files.
  await store.putJson(manifestKey, manifest);
  const version = await insertVersion(pool, spec.name, contentHash, manifestKey, counts, executionId);
  if (!version.created) {
    // Another execution created the same content first: report what it recorded.
    return { ...version, drift: await recordedDrift(pool, store, version, threshold) };
  }
  await recordDrift(pool, spec.name, version.datasetVersion, profileKey, driftKey, drift);
  return { ...version, drift: driftSummary(drift) };
}

interface BaselineRow extends RowDataPacket {
  version: number;
  content_hash: string;
  manifest_key: string;
}

/**
 * The latest version of the dataset with its profile: profile.json, or, for a version made before
 * profiles existed, a profile computed from its snapshot. Null for a dataset without versions.
 */
async function latestBaseline(
  { pool, store, warn }: Pick<PreprocessDeps, 'pool' | 'store' | 'warn'>,
  dataset: string,
): Promise<{ version: number; contentHash: string; profile: DatasetProfile } | null> {
  const rows = await queryRows<BaselineRow>(
    pool,
    'SELECT version, content_hash, manifest_key FROM dataset_versions WHERE dataset = ? ORDER BY version DESC LIMIT 1',
    [dataset],
  );
  if (rows.length === 0) return null;
  const { version, content_hash: contentHash, manifest_key: manifestKey } = rows[0];
  let profile: DatasetProfile;
  try {
    profile = await store.getJson<DatasetProfile>(keys.datasetProfile(dataset, contentHash));
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    try {
      const manifest = await store.getJson<DatasetManifest>(manifestKey);
      const all: TypedRow[] = [];
      for (const split of SPLITS) all.push(...(await readSnapshotSplit(store, manifest, split)));
      profile = profileDataset(modelSpec(manifest.spec), all);
    } catch (lost) {
      // The previous version's files are gone (its database outlived its bucket): nothing to compare
      // against, which must not stop a new version from being made.
      if (!(lost instanceof NotFound)) throw lost;
      warn?.('drift baseline missing', { dataset, version, manifestKey });
      return null;
    }
  }
  return { version, contentHash, profile };
}

async function recordDrift(pool: Pool, dataset: string, version: number, profileKey: string, driftKey: string, drift: DriftReport): Promise<void> {
  await execute(
    pool,
    `INSERT INTO dataset_version_drift (dataset, version, profile_key, drift_key, baseline_version, drifted, max_psi, psi_threshold, flagged)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE profile_key = VALUES(profile_key), drift_key = VALUES(drift_key), baseline_version = VALUES(baseline_version),
       drifted = VALUES(drifted), max_psi = VALUES(max_psi), psi_threshold = VALUES(psi_threshold), flagged = VALUES(flagged)`,
    [dataset, version, profileKey, driftKey, drift.baselineVersion, drift.drifted, drift.maxPsi, drift.threshold, JSON.stringify(drift.flagged)],
  );
}

interface DriftRow extends RowDataPacket {
  baseline_version: number | null;
  drifted: number;
  max_psi: number;
  psi_threshold: number;
  flagged: unknown;
}

/**
 * The drift recorded for an existing version. A crash between the version row and its drift row
 * is repaired from drift.json; a version made before drift reports existed counts as drifted.
 */
async function recordedDrift(pool: Pool, store: ArtifactStore, version: Omit<PreprocessResult, 'created' | 'drift'>, threshold: number): Promise<DriftSummary> {
  const rows = await queryRows<DriftRow>(
    pool,
    'SELECT baseline_version, drifted, max_psi, psi_threshold, flagged FROM dataset_version_drift WHERE dataset = ? AND version = ?',
    [version.dataset, version.datasetVersion],
  );
  if (rows.length > 0) {
    const r = rows[0];
    const flagged = (typeof r.flagged === 'string' ? JSON.parse(r.flagged) : r.flagged) as string[];
    return { drifted: Boolean(r.drifted), maxPsi: r.max_psi, flagged, baselineVersion: r.baseline_version, threshold: r.psi_threshold };
  }
  const profileKey = keys.datasetProfile(version.dataset, version.contentHash);
  const driftKey = keys.datasetDrift(version.dataset, version.contentHash);
  try {
    const report = await store.getJson<DriftReport>(driftKey);
    await recordDrift(pool, version.dataset, version.datasetVersion, profileKey, driftKey, report);
    return driftSummary(report);
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    return { drifted: true, maxPsi: 0, flagged: [], baselineVersion: null, threshold };
  }
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
  version: number;
  manifest_key: string;
  rows_total: number;
  rows_train: number;
  rows_validation: number;
  rows_test: number;
  rows_rejected: number;
}

async function findVersionByHash(pool: Pool, dataset: string, contentHash: string): Promise<Omit<PreprocessResult, 'created' | 'drift'> | null> {
  const rows = await queryRows<VersionRow>(pool, 'SELECT * FROM dataset_versions WHERE dataset = ? AND content_hash = ?', [dataset, contentHash]);
  if (rows.length === 0) return null;
  const r = rows[0];
  return {
    dataset,
    datasetVersion: r.version,
    manifestKey: r.manifest_key,
    contentHash,
    counts: { total: r.rows_total, train: r.rows_train, validation: r.rows_validation, test: r.rows_test, rejected: r.rows_rejected },
  };
}

/** Numbers the version; a concurrent insert of the same content wins and is returned instead. */
async function insertVersion(
  pool: Pool,
  dataset: string,
  contentHash: string,
  manifestKey: string,
  counts: DatasetManifest['counts'],
  executionId: string,
): Promise<Omit<PreprocessResult, 'drift'>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await execute(
        pool,
        `INSERT INTO dataset_versions (dataset, version, content_hash, manifest_key, rows_total, rows_train, rows_validation, rows_test, rows_rejected, execution_id)
         SELECT ?, COALESCE(MAX(version), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ? FROM dataset_versions WHERE dataset = ?`,
        [dataset, contentHash, manifestKey, counts.total, counts.train, counts.validation, counts.test, counts.rejected, executionId, dataset],
      );
      const inserted = await findVersionByHash(pool, dataset, contentHash);
      if (inserted) return { ...inserted, created: true };
    } catch (error) {
      if ((error as { code?: string }).code !== 'ER_DUP_ENTRY') throw error;
      const winner = await findVersionByHash(pool, dataset, contentHash);
      if (winner) return { ...winner, created: false };
      // Another version took our number: try the next one.
    }
  }
  throw new Error(`Could not number a new version of dataset ${dataset}`);
}
