// The monitor step: how the champion is doing in production, from the prediction log.
//
// - Live drift: each feature's PSI of the logged inputs of the window against the champion's
//   training profile (the profile.json of the dataset version it was trained on), on that
//   profile's bins (src/dataset/drift.ts).
// - The mix of predicted classes (regression: the predictions on the target's profile bins).
// - Live accuracy (classification) or RMSE (regression) where feedback joined its prediction; the
//   same for the challenger's shadow predictions, and the challenger's agreement with the champion.
//
// Each check is a row of monitor_results. A trigger (drift, metric) fires once when it crosses its
// threshold — the move from "not crossed" to "crossed" is one atomic UPDATE of monitor_triggers, so
// two checks at once still fire once — and again only after it has gone back under.
import type { RowDataPacket } from '../storage/mysql.ts';
import { featureDrift, type FeatureDrift } from '../dataset/drift.ts';
import { binCounts, type DatasetProfile } from '../dataset/profile.ts';
import { NotFound } from '../errors.ts';
import { rmse } from '../metrics/regression.ts';
import { getDatasetVersionSummary } from '../registry/datasets.ts';
import { getAliasVersion, getModelVersion, listModelNames } from '../registry/registry.ts';
import { keys } from '../storage/keys.ts';
import { execute, queryRows, type Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { promoteOnLiveEvidence } from './live-gate.ts';
import { sqlTime } from './log-writer.ts';
import { logObjectText, type PredictionRecord } from './prediction-log.ts';

export interface MonitorOptions {
  windowHours: number;
  psiThreshold: number;
  minRows: number;
  minFeedback: number;
  minAccuracy?: number;
  maxRmse?: number;
  /** At most this many logged rows are read from S3 per check (newest first). */
  maxRows?: number;
}

export type TriggerName = 'drift' | 'metric';
/** What a check can set off: a crossed trigger, or the promotion of a challenger held for live evidence. */
export type FiredName = TriggerName | 'live-promotion';

export interface FiredTrigger {
  trigger: FiredName;
  reason: string;
  /** What was done: a run started (its id), an alert sent, a challenger promoted, or why not. */
  actions: { action: 'retrain' | 'alert' | 'promote'; ok: boolean; detail: string }[];
}

export interface MonitorActions {
  /** Starts a pipeline run for the model (retraining). */
  startRun?: (input: Record<string, unknown>) => Promise<{ id: string }>;
  /** Sends an alert (webhook, SNS). */
  alert?: (payload: Record<string, unknown>) => Promise<string>;
}

export interface MonitorResult extends LiveStats {
  id: number;
  model: string;
  championVersion: number;
  challengerVersion: number | null;
  windowStart: string;
  windowEnd: string;
  rowsLogged: number;
  rowsDropped: number;
  maxPsi: number | null;
  /** null: fewer than minRows rows, no verdict. */
  drifted: boolean | null;
  features: Pick<FeatureDrift, 'name' | 'psi' | 'drifted'>[];
  predictionMix: Record<string, number>;
  liveMetric: 'accuracy' | 'rmse';
  fired: FiredTrigger[];
  createdAt: string;
}

interface InputSchema {
  task?: 'classification' | 'regression';
  classes?: { value: number | string; label?: string }[];
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

/** The logged records of a model in [since, until], newest objects first, at most maxRows. */
export async function readLoggedRecords(store: ArtifactStore, model: string, since: Date, until: Date, maxRows = 200_000): Promise<PredictionRecord[]> {
  const days: string[] = [];
  for (let t = Date.UTC(until.getUTCFullYear(), until.getUTCMonth(), until.getUTCDate()); t >= since.getTime() - 86_400_000; t -= 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  const out: PredictionRecord[] = [];
  const from = since.toISOString();
  const to = until.toISOString();
  for (const day of days) {
    const objects = (await store.listKeys(keys.predictionLogPrefix(model, day))).reverse();
    for (const key of objects) {
      const text = logObjectText(key, await store.getBytes(key));
      for (const line of text.split('\n')) {
        if (!line) continue;
        let record: PredictionRecord;
        try {
          record = JSON.parse(line) as PredictionRecord;
        } catch {
          continue; // a torn line never stops the check
        }
        if (record.ts >= from && record.ts <= to) out.push(record);
        if (out.length >= maxRows) return out;
      }
    }
  }
  return out;
}

/** The champion's training profile, or null when its dataset version has none. */
async function trainingProfile(pool: Pool, store: ArtifactStore, dataset: string, version: number): Promise<DatasetProfile | null> {
  const summary = await getDatasetVersionSummary(pool, dataset, version);
  try {
    return await store.getJson<DatasetProfile>(keys.datasetProfile(dataset, summary.contentHash));
  } catch (error) {
    if (error instanceof NotFound) return null;
    throw error;
  }
}

/** Per feature PSI of `records`' inputs against `profile` (features with no profile get psi null). */
export function liveDrift(profile: DatasetProfile, records: readonly Pick<PredictionRecord, 'features'>[], threshold: number): FeatureDrift[] {
  return profile.columns
    .filter((c) => c.role === 'feature')
    .map((c) =>
      featureDrift(
        c,
        c.type,
        c.name,
        records.map((r) => r.features[c.name] as number | string | null | undefined),
        threshold,
      ),
    );
}

/** Predicted classes → rows (regression: the predictions counted on the target's profile bins). */
export function predictionMix(
  records: readonly Pick<PredictionRecord, 'prediction'>[],
  schema: InputSchema,
  profile: DatasetProfile | null,
): Record<string, number> {
  const mix: Record<string, number> = {};
  if (schema.task === 'regression') {
    const target = profile?.columns.find((c) => c.role === 'target');
    if (!target || target.type === 'categorical' || target.histogram.edges.length < 2) return mix;
    const edges = target.histogram.edges;
    const counts = binCounts(edges, records.map((r) => Number(r.prediction)).filter(Number.isFinite));
    counts.forEach((n, i) => {
      mix[`${round(edges[i])}–${round(edges[i + 1])}`] = n;
    });
    return mix;
  }
  for (const c of schema.classes ?? []) mix[c.label ?? String(c.value)] = 0;
  const labelOf = new Map((schema.classes ?? []).map((c) => [String(c.value), c.label ?? String(c.value)]));
  for (const r of records) {
    const label = labelOf.get(String(r.prediction)) ?? String(r.prediction);
    mix[label] = (mix[label] ?? 0) + 1;
  }
  return mix;
}

interface FeedbackRow extends RowDataPacket {
  prediction: string;
  prediction_value: number | null;
  challenger_version: number | null;
  challenger_prediction: string | null;
  challenger_value: number | null;
  actual: string;
  actual_value: number | null;
}

interface LiveStats {
  liveValue: number | null;
  feedbackRows: number;
  challengerRows: number;
  challengerAgreement: number | null;
  challengerLiveValue: number | null;
  challengerFeedbackRows: number;
}

/**
 * Live metric of the champion and the challenger from the feedback joined to their predictions
 * (prediction_feedback), and the challenger's agreement from the logged records' shadow scores.
 */
async function liveStats(
  pool: Pool,
  model: string,
  champion: number,
  challenger: number | null,
  since: Date,
  until: Date,
  task: string | undefined,
  records: readonly PredictionRecord[],
): Promise<LiveStats> {
  const rows = await queryRows<FeedbackRow>(
    pool,
    `SELECT prediction, prediction_value, challenger_version, challenger_prediction, challenger_value, actual, actual_value
       FROM prediction_feedback WHERE model_name = ? AND model_version = ? AND predicted_at BETWEEN ? AND ?
      ORDER BY predicted_at DESC LIMIT 500000`,
    [model, champion, sqlTime(since), sqlTime(until)],
  );
  const regression = task === 'regression';
  const metric = (pairs: { p: string; pv: number | null; a: string; av: number | null }[]): number | null => {
    if (pairs.length === 0) return null;
    if (regression)
      return round(
        rmse(
          pairs.map((x) => x.av ?? Number.NaN),
          pairs.map((x) => x.pv ?? Number.NaN),
        ),
      );
    return round(pairs.filter((x) => x.p === x.a).length / pairs.length);
  };
  const shadowFeedback = challenger === null ? [] : rows.filter((r) => r.challenger_version === challenger);
  const shadowed = challenger === null ? [] : records.filter((r) => r.model_version === champion && r.challenger?.version === challenger);
  return {
    liveValue: metric(rows.map((r) => ({ p: r.prediction, pv: r.prediction_value, a: r.actual, av: r.actual_value }))),
    feedbackRows: rows.length,
    challengerRows: shadowed.length,
    challengerAgreement: shadowed.length === 0 ? null : round(shadowed.filter((r) => r.challenger?.agree).length / shadowed.length),
    challengerLiveValue: metric(shadowFeedback.map((r) => ({ p: r.challenger_prediction as string, pv: r.challenger_value, a: r.actual, av: r.actual_value }))),
    challengerFeedbackRows: shadowFeedback.length,
  };
}

/**
 * Records whether a trigger is past its threshold; true only for the check that moves it there.
 * `crossed` null (too little data to tell) leaves the state as it is.
 */
export async function crossing(pool: Pool, model: string, trigger: TriggerName, crossed: boolean | null): Promise<boolean> {
  if (crossed === null) return false;
  await execute(pool, 'INSERT IGNORE INTO monitor_triggers (model_name, trigger_name, active) VALUES (?, ?, 0)', [model, trigger]);
  const moved = await execute(
    pool,
    'UPDATE monitor_triggers SET active = ?, changed_at = CURRENT_TIMESTAMP(3) WHERE model_name = ? AND trigger_name = ? AND active = ?',
    [crossed ? 1 : 0, model, trigger, crossed ? 0 : 1],
  );
  return crossed && moved.affectedRows === 1;
}

/** One check of one model; null when it has no champion. */
export async function monitorModel(
  deps: { pool: Pool; store: ArtifactStore; now?: () => number },
  model: string,
  options: MonitorOptions,
  actions: MonitorActions = {},
): Promise<MonitorResult | null> {
  const { pool, store } = deps;
  const championVersion = await getAliasVersion(pool, model, 'champion');
  if (championVersion === null) return null;
  const challengerVersion = await getAliasVersion(pool, model, 'challenger');
  const champion = await getModelVersion(pool, model, championVersion);
  const schema = (champion.inputSchema ?? {}) as InputSchema;
  const until = new Date((deps.now ?? Date.now)());
  const since = new Date(until.getTime() - options.windowHours * 3_600_000);

  const profile = await trainingProfile(pool, store, champion.dataset, champion.datasetVersion);
  const records = await readLoggedRecords(store, model, since, until, options.maxRows);
  const features = profile ? liveDrift(profile, records, options.psiThreshold) : [];
  const psis = features.map((f) => f.psi).filter((p): p is number => p !== null);
  const maxPsi = psis.length > 0 ? Math.max(...psis) : null;
  const drifted = records.length < options.minRows || maxPsi === null ? null : maxPsi > options.psiThreshold;
  const mix = predictionMix(
    records.filter((r) => r.model_version === championVersion),
    schema,
    profile,
  );
  const live = await liveStats(pool, model, championVersion, challengerVersion, since, until, schema.task, records);
  const dropped = await queryRows<RowDataPacket & { n: number | null }>(
    pool,
    'SELECT SUM(dropped) AS n FROM prediction_log_flushes WHERE model_name = ? AND flushed_at BETWEEN ? AND ?',
    [model, sqlTime(since), sqlTime(until)],
  );

  const liveMetric = schema.task === 'regression' ? 'rmse' : 'accuracy';
  const enoughFeedback = live.feedbackRows >= options.minFeedback && live.liveValue !== null;
  const metricCrossed =
    liveMetric === 'accuracy'
      ? options.minAccuracy === undefined || !enoughFeedback
        ? null
        : (live.liveValue as number) < options.minAccuracy
      : options.maxRmse === undefined || !enoughFeedback
        ? null
        : (live.liveValue as number) > options.maxRmse;

  const fired: FiredTrigger[] = [];
  const checks: [TriggerName, boolean | null, string][] = [
    [
      'drift',
      drifted,
      `live drift: max PSI ${maxPsi} > ${options.psiThreshold} over ${records.length} logged rows (${features
        .filter((f) => f.drifted)
        .map((f) => `${f.name} ${f.psi}`)
        .join(', ')})`,
    ],
    [
      'metric',
      metricCrossed,
      `live ${liveMetric} ${live.liveValue} over ${live.feedbackRows} feedback rows is past ${liveMetric === 'accuracy' ? `the minimum ${options.minAccuracy}` : `the maximum ${options.maxRmse}`}`,
    ],
  ];
  for (const [trigger, crossed, reason] of checks) {
    if (!(await crossing(pool, model, trigger, crossed))) continue;
    const done: FiredTrigger = { trigger, reason, actions: [] };
    if (actions.startRun) {
      try {
        const run = await actions.startRun({ dataset: model });
        done.actions.push({ action: 'retrain', ok: true, detail: `started execution ${run.id}` });
      } catch (error) {
        done.actions.push({ action: 'retrain', ok: false, detail: (error as Error).message });
      }
    }
    if (actions.alert) {
      try {
        done.actions.push({ action: 'alert', ok: true, detail: await actions.alert({ model, trigger, reason, championVersion, at: until.toISOString() }) });
      } catch (error) {
        done.actions.push({ action: 'alert', ok: false, detail: (error as Error).message });
      }
    }
    fired.push(done);
  }

  if (challengerVersion !== null && challengerVersion !== championVersion) {
    const gate = await promoteOnLiveEvidence(pool, model, {
      version: challengerVersion,
      rows: live.challengerRows,
      agreement: live.challengerAgreement,
      metric: liveMetric,
      value: live.challengerLiveValue,
      feedbackRows: live.challengerFeedbackRows,
      championValue: live.liveValue,
    });
    if (gate?.promoted)
      fired.push({
        trigger: 'live-promotion',
        reason: gate.reason,
        actions: [{ action: 'promote', ok: true, detail: `challenger v${challengerVersion} is champion` }],
      });
  }

  const result: Omit<MonitorResult, 'id' | 'createdAt'> = {
    model,
    championVersion,
    challengerVersion,
    windowStart: since.toISOString(),
    windowEnd: until.toISOString(),
    rowsLogged: records.length,
    rowsDropped: Number(dropped[0]?.n ?? 0),
    maxPsi,
    drifted,
    features: features.map((f) => ({ name: f.name, psi: f.psi, drifted: f.drifted })),
    predictionMix: mix,
    liveMetric,
    ...live,
    fired,
  };
  const inserted = await execute(
    pool,
    `INSERT INTO monitor_results (model_name, champion_version, challenger_version, window_start, window_end, rows_logged, rows_dropped,
       max_psi, drifted, features, prediction_mix, live_metric, live_value, feedback_rows, challenger_rows, challenger_agreement,
       challenger_live_value, challenger_feedback_rows, fired, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      model,
      championVersion,
      challengerVersion,
      sqlTime(since),
      sqlTime(until),
      result.rowsLogged,
      result.rowsDropped,
      maxPsi,
      drifted === null ? null : drifted ? 1 : 0,
      JSON.stringify(result.features),
      JSON.stringify(mix),
      liveMetric,
      live.liveValue,
      live.feedbackRows,
      live.challengerRows,
      live.challengerAgreement,
      live.challengerLiveValue,
      live.challengerFeedbackRows,
      JSON.stringify(fired),
      sqlTime(until),
    ],
  );
  return { id: inserted.insertId, ...result, createdAt: until.toISOString() };
}

/** One check of every model that has a champion. */
export async function monitorAll(
  deps: { pool: Pool; store: ArtifactStore; now?: () => number },
  options: MonitorOptions,
  actions: MonitorActions = {},
): Promise<MonitorResult[]> {
  const out: MonitorResult[] = [];
  for (const model of await listModelNames(deps.pool)) {
    const result = await monitorModel(deps, model, options, actions);
    if (result) out.push(result);
  }
  return out;
}

interface ResultRow extends RowDataPacket {
  id: number;
  model_name: string;
  champion_version: number;
  challenger_version: number | null;
  window_start: Date;
  window_end: Date;
  rows_logged: number;
  rows_dropped: number;
  max_psi: number | null;
  drifted: number | null;
  features: unknown;
  prediction_mix: unknown;
  live_metric: 'accuracy' | 'rmse';
  live_value: number | null;
  feedback_rows: number;
  challenger_rows: number;
  challenger_agreement: number | null;
  challenger_live_value: number | null;
  challenger_feedback_rows: number;
  fired: unknown;
  created_at: Date;
}

const parsed = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/** The model's checks, oldest first (the last `limit`). */
export async function listMonitorResults(pool: Pool, model: string, limit = 200): Promise<MonitorResult[]> {
  const rows = await queryRows<ResultRow>(pool, 'SELECT * FROM (SELECT * FROM monitor_results WHERE model_name = ? ORDER BY id DESC LIMIT ?) r ORDER BY id', [
    model,
    limit,
  ]);
  return rows.map((r) => ({
    id: r.id,
    model: r.model_name,
    championVersion: r.champion_version,
    challengerVersion: r.challenger_version,
    windowStart: new Date(r.window_start).toISOString(),
    windowEnd: new Date(r.window_end).toISOString(),
    rowsLogged: r.rows_logged,
    rowsDropped: r.rows_dropped,
    maxPsi: r.max_psi,
    drifted: r.drifted === null ? null : r.drifted === 1,
    features: parsed(r.features),
    predictionMix: parsed(r.prediction_mix),
    liveMetric: r.live_metric,
    liveValue: r.live_value,
    feedbackRows: r.feedback_rows,
    challengerRows: r.challenger_rows,
    challengerAgreement: r.challenger_agreement,
    challengerLiveValue: r.challenger_live_value,
    challengerFeedbackRows: r.challenger_feedback_rows,
    fired: parsed(r.fired),
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

/** Which triggers are past their threshold right now. */
export async function triggerStates(pool: Pool, model: string): Promise<{ trigger: string; active: boolean; changedAt: string }[]> {
  const rows = await queryRows<RowDataPacket & { trigger_name: string; active: number; changed_at: Date }>(
    pool,
    'SELECT trigger_name, active, changed_at FROM monitor_triggers WHERE model_name = ? ORDER BY trigger_name',
    [model],
  );
  return rows.map((r) => ({ trigger: r.trigger_name, active: r.active === 1, changedAt: new Date(r.changed_at).toISOString() }));
}
