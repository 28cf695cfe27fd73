import type { Pool, PoolConnection, RowDataPacket } from '../storage/mysql.ts';
import { execute, inTransaction, queryRows } from '../storage/mysql.ts';
import { getDatasetVersionSummary, type DatasetVersionSummary } from './datasets.ts';
import { InvalidInput, ModelNotFound, NotFound } from '../errors.ts';

/** Aliases a registered model can hand out; each points at exactly one version at a time. */
export const ALIASES = ['champion', 'challenger'] as const;
export type Alias = (typeof ALIASES)[number];

/** Scalar metrics by name; classification adds `perClass` (precision, recall, F1 and support per class). */
export type Metrics = Record<string, number | null | readonly Record<string, unknown>[]>;

export interface RunRecord {
  runId: string;
  parentRunId: string | null;
  executionId: string | null;
  dataset: string;
  datasetVersion: number;
  params: Record<string, unknown>;
  metrics: Metrics | null;
  status: 'running' | 'finished' | 'failed';
  artifactKey: string | null;
  artifactSha256: string | null;
  trainSeconds: number | null;
  /** Step caching: the earlier run whose artifact this run reuses (read back; written by `recordRunCache`). */
  cachedFromRunId?: string | null;
}

export interface ModelVersion {
  modelName: string;
  version: number;
  runId: string;
  dataset: string;
  datasetVersion: number;
  artifactKey: string;
  artifactSha256: string;
  inputSchema: unknown;
  testMetrics: Metrics;
  createdAt: string;
  aliases: Alias[];
  /** The model family of the version's run (forest, boosting, linear). */
  family: string;
}

export interface Promotion {
  id: number;
  requestId: string;
  modelName: string;
  /** promoted/rejected: a pipeline's decision; rollback/manual: a person moved the champion. */
  action: 'promoted' | 'rejected' | 'rollback' | 'manual';
  candidateVersion: number;
  previousVersion: number | null;
  metric: string | null;
  candidateScore: number | null;
  championScore: number | null;
  minGain: number | null;
  reason: string;
  createdAt: string;
}

type Db = Pool | PoolConnection;

const json = (value: unknown): string => JSON.stringify(value);
/** MariaDB returns JSON columns as text, MySQL 8 as parsed values: accept both. */
const parsed = <T>(value: unknown): T => (typeof value === 'string' ? (JSON.parse(value) as T) : (value as T));
const iso = (value: unknown): string => (value instanceof Date ? value.toISOString() : String(value));

// ---------- runs ----------

export async function upsertRun(db: Db, run: RunRecord): Promise<void> {
  await execute(
    db,
    `INSERT INTO runs (run_id, parent_run_id, execution_id, dataset, dataset_version, params, metrics, status,
                       artifact_key, artifact_sha256, train_seconds, ended_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, IF(? = 'running', NULL, CURRENT_TIMESTAMP(3)))
     ON DUPLICATE KEY UPDATE params = VALUES(params), metrics = VALUES(metrics), status = VALUES(status),
       artifact_key = VALUES(artifact_key), artifact_sha256 = VALUES(artifact_sha256),
       train_seconds = VALUES(train_seconds), ended_at = VALUES(ended_at)`,
    [
      run.runId,
      run.parentRunId,
      run.executionId,
      run.dataset,
      run.datasetVersion,
      json(run.params),
      run.metrics === null ? null : json(run.metrics),
      run.status,
      run.artifactKey,
      run.artifactSha256,
      run.trainSeconds,
      run.status,
    ],
  );
}

interface RunRow extends RowDataPacket {
  run_id: string;
  parent_run_id: string | null;
  execution_id: string | null;
  dataset: string;
  dataset_version: number;
  params: unknown;
  metrics: unknown;
  status: RunRecord['status'];
  artifact_key: string | null;
  artifact_sha256: string | null;
  train_seconds: number | null;
  cached_from_run_id: string | null;
}

const toRun = (r: RunRow): RunRecord => ({
  runId: r.run_id,
  parentRunId: r.parent_run_id,
  executionId: r.execution_id,
  dataset: r.dataset,
  datasetVersion: r.dataset_version,
  params: parsed(r.params),
  metrics: r.metrics === null ? null : parsed(r.metrics),
  status: r.status,
  artifactKey: r.artifact_key,
  artifactSha256: r.artifact_sha256,
  trainSeconds: r.train_seconds,
  cachedFromRunId: r.cached_from_run_id,
});

/** Runs with their step-caching source. */
const RUNS = 'SELECT runs.*, run_cache.cached_from_run_id FROM runs LEFT JOIN run_cache ON run_cache.run_id = runs.run_id';

export async function getRun(db: Db, runId: string): Promise<RunRecord> {
  const rows = await queryRows<RunRow>(db, `${RUNS} WHERE runs.run_id = ?`, [runId]);
  if (rows.length === 0) throw new NotFound(`No run ${runId}`);
  return toRun(rows[0]);
}

export async function listRuns(db: Db, filter: { dataset?: string; executionId?: string; parentRunId?: string; limit?: number } = {}): Promise<RunRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.dataset) {
    where.push('runs.dataset = ?');
    params.push(filter.dataset);
  }
  if (filter.executionId) {
    where.push('runs.execution_id = ?');
    params.push(filter.executionId);
  }
  if (filter.parentRunId) {
    where.push('runs.parent_run_id = ?');
    params.push(filter.parentRunId);
  }
  params.push(filter.limit ?? 100);
  const rows = await queryRows<RunRow>(
    db,
    `${RUNS} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY runs.started_at DESC, runs.run_id LIMIT ?`,
    params,
  );
  return rows.map(toRun);
}

/** Keeps a run's cache key, and the run it reuses the artifact of (null: it trained). */
export async function recordRunCache(db: Db, runId: string, cacheKey: string, cachedFromRunId: string | null): Promise<void> {
  await execute(
    db,
    `INSERT INTO run_cache (run_id, cache_key, cached_from_run_id) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE cache_key = VALUES(cache_key), cached_from_run_id = VALUES(cached_from_run_id)`,
    [runId, cacheKey, cachedFromRunId],
  );
}

/** The earliest finished run that trained (was not itself cached) with this cache key, other than `exceptRunId`. */
export async function findTrainedRun(db: Db, cacheKey: string, exceptRunId: string): Promise<RunRecord | null> {
  const rows = await queryRows<RunRow>(
    db,
    `${RUNS} WHERE run_cache.cache_key = ? AND run_cache.cached_from_run_id IS NULL AND runs.run_id <> ?
       AND runs.status = 'finished' AND runs.artifact_key IS NOT NULL ORDER BY runs.started_at, runs.run_id LIMIT 1`,
    [cacheKey, exceptRunId],
  );
  return rows.length === 0 ? null : toRun(rows[0]);
}

// ---------- model versions and aliases ----------

interface VersionRow extends RowDataPacket {
  model_name: string;
  version: number;
  run_id: string;
  dataset: string;
  dataset_version: number;
  artifact_key: string;
  artifact_sha256: string;
  input_schema: unknown;
  test_metrics: unknown;
  created_at: unknown;
  family: string | null;
}

/** A version with its run's family (runs from before families have none: forests). */
const VERSION_SELECT = `SELECT mv.*, JSON_UNQUOTE(JSON_EXTRACT(r.params, '$.family')) AS family
  FROM model_versions mv LEFT JOIN runs r ON r.run_id = mv.run_id`;

async function aliasesOf(db: Db, modelName: string): Promise<Map<number, Alias[]>> {
  const rows = await queryRows<RowDataPacket & { alias: Alias; version: number }>(
    db,
    'SELECT alias, version FROM model_aliases WHERE model_name = ? ORDER BY alias',
    [modelName],
  );
  const byVersion = new Map<number, Alias[]>();
  for (const row of rows) byVersion.set(row.version, [...(byVersion.get(row.version) ?? []), row.alias]);
  return byVersion;
}

const toVersion = (r: VersionRow, aliases: Map<number, Alias[]>): ModelVersion => ({
  modelName: r.model_name,
  version: r.version,
  runId: r.run_id,
  dataset: r.dataset,
  datasetVersion: r.dataset_version,
  artifactKey: r.artifact_key,
  artifactSha256: r.artifact_sha256,
  inputSchema: parsed(r.input_schema),
  testMetrics: parsed(r.test_metrics),
  createdAt: iso(r.created_at),
  aliases: aliases.get(r.version) ?? [],
  family: r.family ?? 'forest',
});

export async function getModelVersion(db: Db, modelName: string, version: number): Promise<ModelVersion> {
  const rows = await queryRows<VersionRow>(db, `${VERSION_SELECT} WHERE mv.model_name = ? AND mv.version = ?`, [modelName, version]);
  if (rows.length === 0) throw new ModelNotFound(`Model ${modelName} has no version ${version}`);
  return toVersion(rows[0], await aliasesOf(db, modelName));
}

export async function listModelVersions(db: Db, modelName?: string): Promise<ModelVersion[]> {
  const rows = await queryRows<VersionRow>(
    db,
    `${VERSION_SELECT} ${modelName ? 'WHERE mv.model_name = ?' : ''} ORDER BY mv.model_name, mv.version DESC`,
    modelName ? [modelName] : [],
  );
  const aliasCache = new Map<string, Map<number, Alias[]>>();
  const result: ModelVersion[] = [];
  for (const row of rows) {
    if (!aliasCache.has(row.model_name)) aliasCache.set(row.model_name, await aliasesOf(db, row.model_name));
    result.push(toVersion(row, aliasCache.get(row.model_name) ?? new Map()));
  }
  return result;
}

export async function getAliasVersion(db: Db, modelName: string, alias: Alias): Promise<number | null> {
  const rows = await queryRows<RowDataPacket & { version: number }>(db, 'SELECT version FROM model_aliases WHERE model_name = ? AND alias = ?', [
    modelName,
    alias,
  ]);
  return rows.length === 0 ? null : rows[0].version;
}

export async function findVersionByRun(db: Db, modelName: string, runId: string): Promise<number | null> {
  const rows = await queryRows<RowDataPacket & { version: number }>(db, 'SELECT version FROM model_versions WHERE model_name = ? AND run_id = ?', [
    modelName,
    runId,
  ]);
  return rows.length === 0 ? null : rows[0].version;
}

/** What registering a version takes: a version without what the registry assigns or derives. */
export type NewModelVersion = Omit<ModelVersion, 'version' | 'createdAt' | 'aliases' | 'family'>;

/** Registers a run as the next version (or returns the version it already has). Call inside a transaction. */
export async function registerVersion(db: PoolConnection, v: NewModelVersion): Promise<number> {
  const existing = await findVersionByRun(db, v.modelName, v.runId);
  if (existing !== null) return existing;
  // The lock on the model's versions serializes numbering between concurrent registrations.
  const rows = await queryRows<RowDataPacket & { next: number }>(
    db,
    'SELECT COALESCE(MAX(version), 0) + 1 AS next FROM model_versions WHERE model_name = ? FOR UPDATE',
    [v.modelName],
  );
  const version = Number(rows[0].next);
  await execute(
    db,
    `INSERT INTO model_versions (model_name, version, run_id, dataset, dataset_version, artifact_key, artifact_sha256,
                                 input_schema, test_metrics) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [v.modelName, version, v.runId, v.dataset, v.datasetVersion, v.artifactKey, v.artifactSha256, json(v.inputSchema), json(v.testMetrics)],
  );
  return version;
}

export async function setAlias(db: PoolConnection, modelName: string, alias: Alias, version: number): Promise<void> {
  await execute(
    db,
    `INSERT INTO model_aliases (model_name, alias, version) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at = CURRENT_TIMESTAMP(3)`,
    [modelName, alias, version],
  );
}

/** Creates the registered model's row (outside any transaction, so concurrent creators cannot deadlock). */
export async function ensureRegisteredModel(pool: Pool, modelName: string): Promise<void> {
  await execute(pool, 'INSERT IGNORE INTO registered_models (name) VALUES (?)', [modelName]);
}

/** Takes the per-model lock for the rest of the transaction: every alias change of one model is serialized by it. */
export async function lockModel(db: PoolConnection, modelName: string): Promise<void> {
  const rows = await queryRows(db, 'SELECT name FROM registered_models WHERE name = ? FOR UPDATE', [modelName]);
  if (rows.length === 0) throw new ModelNotFound(`No registered model ${modelName}`);
}

// ---------- promotion history ----------

interface PromotionRow extends RowDataPacket {
  id: number;
  request_id: string;
  model_name: string;
  action: Promotion['action'];
  candidate_version: number;
  previous_version: number | null;
  metric: string | null;
  candidate_score: number | null;
  champion_score: number | null;
  min_gain: number | null;
  reason: string;
  created_at: unknown;
}

const toPromotion = (r: PromotionRow): Promotion => ({
  id: Number(r.id),
  requestId: r.request_id,
  modelName: r.model_name,
  action: r.action,
  candidateVersion: r.candidate_version,
  previousVersion: r.previous_version,
  metric: r.metric,
  candidateScore: r.candidate_score,
  championScore: r.champion_score,
  minGain: r.min_gain,
  reason: r.reason,
  createdAt: iso(r.created_at),
});

export async function findPromotion(db: Db, modelName: string, requestId: string): Promise<Promotion | null> {
  const rows = await queryRows<PromotionRow>(db, 'SELECT * FROM promotions WHERE model_name = ? AND request_id = ?', [modelName, requestId]);
  return rows.length === 0 ? null : toPromotion(rows[0]);
}

export async function recordPromotion(db: PoolConnection, p: Omit<Promotion, 'id' | 'createdAt'>): Promise<void> {
  await execute(
    db,
    `INSERT INTO promotions (request_id, model_name, action, candidate_version, previous_version, metric,
                             candidate_score, champion_score, min_gain, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      p.requestId,
      p.modelName,
      p.action,
      p.candidateVersion,
      p.previousVersion,
      p.metric,
      p.candidateScore,
      p.championScore,
      p.minGain,
      p.reason.slice(0, 1000),
    ],
  );
}

export async function listPromotions(db: Db, modelName: string): Promise<Promotion[]> {
  const rows = await queryRows<PromotionRow>(db, 'SELECT * FROM promotions WHERE model_name = ? ORDER BY id', [modelName]);
  return rows.map(toPromotion);
}

/**
 * Points `champion` at `toVersion` on a person's request (a rollback to an earlier version, or a
 * manual promotion), recorded in the history, in one transaction. A retried request is a no-op.
 */
export async function setChampion(
  pool: Pool,
  modelName: string,
  toVersion: number,
  requestId: string,
  action: 'rollback' | 'manual',
  reason: string,
  /** Checks the target can serve (e.g. its artifact still matches its hash) before the alias moves. */
  verify?: (version: ModelVersion) => Promise<void>,
): Promise<Promotion> {
  await ensureRegisteredModel(pool, modelName);
  if (verify && !(await findPromotion(pool, modelName, requestId))) await verify(await getModelVersion(pool, modelName, toVersion));
  return inTransaction(pool, async (tx) => {
    await lockModel(tx, modelName);
    const done = await findPromotion(tx, modelName, requestId);
    if (done) return done;
    await getModelVersion(tx, modelName, toVersion);
    const current = await getAliasVersion(tx, modelName, 'champion');
    await setAlias(tx, modelName, 'champion', toVersion);
    await recordPromotion(tx, {
      requestId,
      modelName,
      action,
      candidateVersion: toVersion,
      previousVersion: current,
      metric: null,
      candidateScore: null,
      championScore: null,
      minGain: null,
      reason,
    });
    const recorded = await findPromotion(tx, modelName, requestId);
    if (!recorded) throw new Error(`${action} was not recorded`);
    return recorded;
  });
}

/** Moves `champion` back: to `toVersion`, or by default to the champion before the current one. */
export async function rollbackChampion(
  pool: Pool,
  modelName: string,
  toVersion: number | null,
  requestId: string,
  reason: string,
  verify?: (version: ModelVersion) => Promise<void>,
): Promise<Promotion> {
  let target = toVersion;
  if (target === null) {
    const current = await getAliasVersion(pool, modelName, 'champion');
    const history = await listPromotions(pool, modelName);
    // The latest alias move that came from another version names the champion before this one.
    const move = [...history].reverse().find((p) => p.action !== 'rejected' && p.previousVersion !== null && p.previousVersion !== current);
    if (!move || move.previousVersion === null) throw new InvalidInput(`Model ${modelName} has no earlier champion to roll back to`);
    target = move.previousVersion;
  }
  return setChampion(pool, modelName, target, requestId, 'rollback', reason, verify);
}

// ---------- lineage ----------

export interface Lineage {
  version: ModelVersion;
  run: RunRecord;
  /** The search (parent run) the trial belonged to, if any. */
  search: RunRecord | null;
  dataset: DatasetVersionSummary;
  promotions: Promotion[];
}

/** Which data trained which model, under which search, and every alias move that involved it. */
export async function getLineage(pool: Pool, modelName: string, version: number): Promise<Lineage> {
  const v = await getModelVersion(pool, modelName, version);
  const run = await getRun(pool, v.runId);
  const search = run.parentRunId ? await getRun(pool, run.parentRunId).catch(() => null) : null;
  const dataset = await getDatasetVersionSummary(pool, v.dataset, v.datasetVersion);
  const promotions = (await listPromotions(pool, modelName)).filter((p) => p.candidateVersion === version || p.previousVersion === version);
  return { version: v, run, search, dataset, promotions };
}

/** Hours since the model's champion was last set; a very large number when it has none. */
export async function championAgeHours(db: Db, modelName: string): Promise<number> {
  const rows = await queryRows<RowDataPacket & { hours: number | null }>(
    db,
    'SELECT TIMESTAMPDIFF(SECOND, updated_at, CURRENT_TIMESTAMP(3)) / 3600 AS hours FROM model_aliases WHERE model_name = ? AND alias = ?',
    [modelName, 'champion'],
  );
  return rows.length === 0 || rows[0].hours === null ? 1e9 : Number(rows[0].hours);
}

export async function listModelNames(db: Db): Promise<string[]> {
  const rows = await queryRows<RowDataPacket & { model_name: string }>(db, 'SELECT DISTINCT model_name FROM model_versions ORDER BY model_name', []);
  return rows.map((r) => r.model_name);
}
