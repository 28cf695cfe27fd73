// Shadow first, then promote: with `promotion.live` in the execution input, a candidate that beats
// the champion on the test rows does not replace it at once. It becomes `challenger` (shadow-scored
// on live traffic, src/monitoring/shadow.ts) with the requirement recorded here; the monitor step
// makes it champion once its live numbers meet the requirement.
import type { RowDataPacket } from '../storage/mysql.ts';
import { z } from 'zod';
import { getAliasVersion, lockModel, recordPromotion, setAlias } from '../registry/registry.ts';
import { execute, inTransaction, queryRows, type Pool, type PoolConnection } from '../storage/mysql.ts';

export const LiveRequirementSchema = z
  .strictObject({
    /** Share of shadow-scored rows where the challenger predicts what the champion did. */
    minAgreement: z.number().min(0).max(1).optional(),
    /** Live accuracy of the challenger's shadow predictions, from feedback (classification). */
    minAccuracy: z.number().min(0).max(1).optional(),
    /** Live RMSE of the challenger's shadow predictions, from feedback (regression). */
    maxRmse: z.number().positive().optional(),
    /** Shadow-scored rows (and, for a metric, feedback rows) needed before deciding. */
    minRows: z.number().int().min(1).default(100),
  })
  .refine((r) => r.minAgreement !== undefined || r.minAccuracy !== undefined || r.maxRmse !== undefined, {
    message: 'give minAgreement, minAccuracy or maxRmse',
  });
export type LiveRequirement = z.infer<typeof LiveRequirementSchema>;

/** Records what the challenger must show live before the monitor promotes it (inside promote's transaction). */
export async function holdForLiveEvidence(tx: PoolConnection, model: string, version: number, requirement: LiveRequirement): Promise<void> {
  await execute(
    tx,
    `INSERT INTO challenger_requirements (model_name, version, requirement) VALUES (?, ?, ?)
    ON DUPLICATE KEY UPDATE version = VALUES(version), requirement = VALUES(requirement), created_at = CURRENT_TIMESTAMP(3)`,
    [model, version, JSON.stringify(requirement)],
  );
}

export interface ChallengerLive {
  version: number;
  rows: number;
  agreement: number | null;
  metric: 'accuracy' | 'rmse';
  value: number | null;
  feedbackRows: number;
  championValue: number | null;
}

/** Whether the live numbers meet the requirement, and why (or why not). */
export function meetsRequirement(r: LiveRequirement, live: ChallengerLive): { ok: boolean; reason: string } {
  const short: string[] = [];
  const met: string[] = [];
  if (live.rows < r.minRows) short.push(`${live.rows} shadow-scored rows of the ${r.minRows} needed`);
  if (r.minAgreement !== undefined) {
    if (live.agreement === null || live.agreement < r.minAgreement) short.push(`agreement ${live.agreement} < ${r.minAgreement}`);
    else met.push(`agreement ${live.agreement} ≥ ${r.minAgreement} over ${live.rows} rows`);
  }
  const bound = live.metric === 'accuracy' ? r.minAccuracy : r.maxRmse;
  if (bound !== undefined) {
    if (live.feedbackRows < r.minRows || live.value === null) short.push(`${live.feedbackRows} feedback rows of the ${r.minRows} needed`);
    else if (live.metric === 'accuracy' ? live.value < bound : live.value > bound) short.push(`live ${live.metric} ${live.value} misses ${bound}`);
    else met.push(`live ${live.metric} ${live.value} ${live.metric === 'accuracy' ? '≥' : '≤'} ${bound} over ${live.feedbackRows} feedback rows`);
  }
  return short.length > 0 ? { ok: false, reason: short.join('; ') } : { ok: true, reason: met.join('; ') };
}

/**
 * Makes the challenger champion when it was held for live evidence and now meets it: the alias
 * moves and the promotion is recorded in one transaction, once (the requirement is consumed).
 * Returns what happened, or null when the challenger is not held.
 */
export async function promoteOnLiveEvidence(pool: Pool, model: string, live: ChallengerLive): Promise<{ promoted: boolean; reason: string } | null> {
  const rows = await queryRows<RowDataPacket & { requirement: unknown }>(
    pool,
    'SELECT requirement FROM challenger_requirements WHERE model_name = ? AND version = ?',
    [model, live.version],
  );
  if (rows.length === 0) return null;
  const raw = rows[0].requirement;
  const requirement = LiveRequirementSchema.parse(typeof raw === 'string' ? JSON.parse(raw) : raw);
  const verdict = meetsRequirement(requirement, live);
  if (!verdict.ok) return { promoted: false, reason: `challenger v${live.version} not promoted yet: ${verdict.reason}` };
  return inTransaction(pool, async (tx) => {
    await lockModel(tx, model);
    const held = await queryRows<RowDataPacket & { version: number }>(
      tx,
      'SELECT version FROM challenger_requirements WHERE model_name = ? AND version = ? FOR UPDATE',
      [model, live.version],
    );
    if (held.length === 0 || (await getAliasVersion(tx, model, 'challenger')) !== live.version) {
      return { promoted: false, reason: `challenger v${live.version} was promoted or replaced meanwhile` };
    }
    const previous = await getAliasVersion(tx, model, 'champion');
    const reason = `live evidence as challenger: ${verdict.reason} (promotion.live ${JSON.stringify(requirement)})`;
    await setAlias(tx, model, 'champion', live.version);
    await recordPromotion(tx, {
      requestId: `live-v${live.version}-${Date.now()}`,
      modelName: model,
      action: 'promoted',
      candidateVersion: live.version,
      previousVersion: previous,
      metric: live.value !== null ? live.metric : 'agreement',
      candidateScore: live.value ?? live.agreement,
      championScore: live.championValue,
      minGain: null,
      reason,
    });
    await execute(tx, 'DELETE FROM challenger_requirements WHERE model_name = ?', [model]);
    return { promoted: true, reason: `challenger v${live.version} promoted to champion: ${reason}` };
  });
}
