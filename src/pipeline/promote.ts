import { z } from 'zod';
import { PromotionMetricSchema } from '../metrics/names.ts';
import { ArtifactHashMismatch, InvalidInput, NotFound } from '../errors.ts';
import { LoadedModel, parseArtifact } from '../model/artifact.ts';
import { evaluate, higherIsBetter, metricsFor, type MetricName, type Metrics } from '../model/evaluate.ts';
import {
  ensureRegisteredModel,
  findPromotion,
  findVersionByRun,
  getAliasVersion,
  getModelVersion,
  getRun,
  lockModel,
  recordPromotion,
  registerVersion,
  setAlias,
} from '../registry/registry.ts';
import type { Pool } from '../storage/mysql.ts';
import { inTransaction } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';
import { buildEncoder } from '../dataset/encode.ts';
import { inputColumns } from '../dataset/transforms.ts';
import { readSnapshotSplit, type DatasetManifest } from '../registry/snapshots.ts';
import { holdForLiveEvidence, LiveRequirementSchema } from '../monitoring/live-gate.ts';

export const PromotionPolicySchema = z.strictObject({
  /** Defaults to accuracy (classification) or rmse (regression). */
  metric: PromotionMetricSchema.optional(),
  /** The candidate must beat the champion by more than this (in the metric's units). */
  minGain: z.number().min(0).default(0),
  /**
   * Shadow first: a candidate that beats a champion becomes challenger instead, and the monitor
   * makes it champion once its live agreement / live metric meet these (src/monitoring/live-gate.ts).
   */
  live: LiveRequirementSchema.optional(),
});
export type PromotionPolicy = z.infer<typeof PromotionPolicySchema>;

export interface PromoteDeps {
  pool: Pool;
  store: ArtifactStore;
}

export interface PromoteRequest {
  executionId: string;
  runId: string;
  manifestKey: string;
  policy: PromotionPolicy;
}

export interface PromoteResult {
  modelName: string;
  decision: 'promoted' | 'rejected';
  candidateVersion: number;
  championVersion: number;
  previousChampionVersion: number | null;
  metric: MetricName;
  candidateScore: number;
  championScore: number | null;
  testMetrics: Metrics;
  reason: string;
}

/** The input schema stored with each version: what predict will ask for. */
export function inputSchemaOf(manifest: DatasetManifest): unknown {
  const spec = manifest.spec;
  return {
    dataset: spec.name,
    task: spec.task,
    target: spec.target,
    // The columns a request carries, in the dataset's own layout (before the spec's transforms).
    features: inputColumns(spec).map((c) => ({
      name: c.name,
      type: c.type,
      ...(c.type === 'categorical' ? { values: c.values } : c.type === 'text' ? { pattern: c.pattern } : { min: c.min, max: c.max }),
      ...(c.missing === true ? { missing: true } : {}),
    })),
    encodedFeatures: buildEncoder(spec).featureNames,
    ...(spec.classes ? { classes: spec.classes } : {}),
  };
}

async function loadVerified(store: ArtifactStore, key: string, sha: string): Promise<LoadedModel> {
  return new LoadedModel(parseArtifact(await store.getVerifiedBytes(key, sha), key));
}

/**
 * Registers the run as a new version and moves `champion` to it only if it beats the current
 * champion on the same test rows by more than `minGain`. The decision and its numbers go to the
 * append-only promotion history. Re-running for the same execution returns the recorded decision.
 */
export async function promote(deps: PromoteDeps, request: PromoteRequest): Promise<PromoteResult> {
  const { pool, store } = deps;
  const run = await getRun(pool, request.runId);
  if (run.status !== 'finished' || !run.artifactKey || !run.artifactSha256) {
    throw new InvalidInput(`Run ${request.runId} has no finished model to promote (status ${run.status})`);
  }
  const modelName = run.dataset;
  const manifest = await store.getJson<DatasetManifest>(request.manifestKey);
  const spec = manifest.spec;
  const metric: MetricName = request.policy.metric ?? spec.promotionMetric ?? (spec.task === 'classification' ? 'accuracy' : 'rmse');
  if (!metricsFor(spec.task, spec.classes?.length === 2).includes(metric)) {
    throw new InvalidInput(`Metric ${metric} does not apply to a ${spec.classes?.length === 2 ? 'binary ' : ''}${spec.task} model`);
  }
  const better = higherIsBetter[metric];
  const testRows = await readSnapshotSplit(store, manifest, 'test');
  const candidate = await loadVerified(store, run.artifactKey, run.artifactSha256);
  const testMetrics = evaluate(candidate, testRows);
  const candidateScore = testMetrics[metric];
  if (candidateScore === undefined) throw new InvalidInput(`Metric ${metric} could not be computed on ${testRows.length} test rows`);

  await ensureRegisteredModel(pool, modelName);
  // The champion may change while we score it; score again until the one we scored is still champion.
  for (let attempt = 0; attempt < 5; attempt++) {
    const championVersion = await getAliasVersion(pool, modelName, 'champion');
    let championScore: number | null = null;
    // A champion whose artifact is gone or altered cannot serve: any verified candidate replaces it.
    let championUnusable: string | null = null;
    if (championVersion !== null) {
      const champion = await getModelVersion(pool, modelName, championVersion);
      // The same artifact (this run, or the run a cached run took it from) scores the same.
      if (champion.runId === run.runId || champion.runId === run.cachedFromRunId) championScore = candidateScore;
      else {
        try {
          championScore = evaluate(await loadVerified(store, champion.artifactKey, champion.artifactSha256), testRows)[metric] ?? null;
        } catch (error) {
          if (!(error instanceof NotFound || error instanceof ArtifactHashMismatch)) throw error;
          championUnusable = (error as Error).message;
        }
      }
    }
    const outcome = await inTransaction(pool, async (tx) => {
      await lockModel(tx, modelName);
      const recorded = await findPromotion(tx, modelName, request.executionId);
      if (recorded) return { recorded };
      if ((await getAliasVersion(tx, modelName, 'champion')) !== championVersion) return null;
      // A cached run whose source is already a version is that version, not a new one.
      const sourceVersion = run.cachedFromRunId ? await findVersionByRun(tx, modelName, run.cachedFromRunId) : null;
      const candidateVersion =
        sourceVersion ??
        (await registerVersion(tx, {
          modelName,
          runId: run.runId,
          dataset: run.dataset,
          datasetVersion: run.datasetVersion,
          artifactKey: run.artifactKey as string,
          artifactSha256: run.artifactSha256 as string,
          inputSchema: inputSchemaOf(manifest),
          testMetrics,
        }));
      const gain = championScore === null ? null : better ? candidateScore - championScore : championScore - candidateScore;
      const wins = championScore === null || (gain as number) > request.policy.minGain;
      const fmt = (n: number) => n.toFixed(4);
      const isChampion = candidateVersion === championVersion;
      const reason = isChampion
        ? `run ${run.runId} reuses the artifact of run ${run.cachedFromRunId ?? run.runId}, which is version ${candidateVersion}, the champion already: nothing new to promote`
        : championUnusable !== null
          ? `champion v${championVersion} cannot be loaded (${championUnusable}): version ${candidateVersion} replaces it with test ${metric} ${fmt(candidateScore)}`
          : championScore === null
            ? `no champion yet: version ${candidateVersion} becomes champion with test ${metric} ${fmt(candidateScore)}`
            : wins
              ? `test ${metric} ${fmt(candidateScore)} beats champion v${championVersion}'s ${fmt(championScore)} by ${fmt(gain as number)} (> min gain ${request.policy.minGain}) on the same ${testRows.length} test rows`
              : `test ${metric} ${fmt(candidateScore)} does not beat champion v${championVersion}'s ${fmt(championScore)} by more than ${request.policy.minGain} on the same ${testRows.length} test rows`;
      // promotion.live: a winner over a serving champion must first prove itself live, as challenger.
      const held = wins && championScore !== null && championUnusable === null && request.policy.live !== undefined;
      if (held) await holdForLiveEvidence(tx, modelName, candidateVersion, request.policy.live as NonNullable<PromotionPolicy['live']>);
      // A candidate that does not win stays addressable as `challenger` (e.g. for a shadow comparison).
      if (!isChampion) await setAlias(tx, modelName, wins && !held ? 'champion' : 'challenger', candidateVersion);
      await recordPromotion(tx, {
        requestId: request.executionId,
        modelName,
        action: wins && !held ? 'promoted' : 'rejected',
        candidateVersion,
        previousVersion: championVersion,
        metric,
        candidateScore,
        championScore,
        minGain: request.policy.minGain,
        reason: held ? `${reason}; held as challenger until its live numbers meet promotion.live ${JSON.stringify(request.policy.live)}` : reason,
      });
      return { recorded: null };
    });
    if (outcome === null) continue;
    const entry = outcome.recorded ?? (await findPromotion(pool, modelName, request.executionId));
    if (!entry) throw new Error('promotion was not recorded');
    return {
      modelName,
      decision: entry.action === 'promoted' ? 'promoted' : 'rejected',
      candidateVersion: entry.candidateVersion,
      championVersion: (await getAliasVersion(pool, modelName, 'champion')) ?? entry.candidateVersion,
      previousChampionVersion: entry.previousVersion,
      metric,
      candidateScore: entry.candidateScore ?? candidateScore,
      championScore: entry.championScore,
      testMetrics,
      reason: entry.reason,
    };
  }
  throw new Error(`The champion of ${modelName} kept changing while promoting run ${request.runId}`);
}
