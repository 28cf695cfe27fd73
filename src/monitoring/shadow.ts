// Shadow challenger: when a model has a `challenger` alias, the champion's logged rows are scored by
// the challenger too — at flush time, in the prediction log's background work, never while a
// request waits, so the champion's answer and latency cannot change. Each record gets
// `challenger: {version, prediction, agree}`; the index keeps it for agreement and live metrics.
import { validateRecord } from '../dataset/validate.ts';
import { ModelNotFound } from '../errors.ts';
import type { ModelServer } from '../serving/model-server.ts';
import type { PredictionRecord, ShadowScore } from './prediction-log.ts';

/** Regression predictions within this share of the champion's count as agreeing. */
export const REGRESSION_AGREEMENT_TOLERANCE = 0.05;

/** Rows scored between yields to the event loop, so a large flush never stalls requests. */
const CHUNK = 100;

export function agrees(champion: number | string, challenger: number | string): boolean {
  if (typeof champion === 'number' && typeof challenger === 'number') {
    return Math.abs(challenger - champion) <= REGRESSION_AGREEMENT_TOLERANCE * Math.max(Math.abs(champion), 1e-9);
  }
  return String(champion) === String(challenger);
}

/** The enrich step for PredictionLog: scores each model's champion rows with its challenger. */
export function shadowScorer(server: Pick<ModelServer, 'resolveVersion' | 'load'>): (records: PredictionRecord[]) => Promise<void> {
  return async (records) => {
    const byModel = new Map<string, PredictionRecord[]>();
    for (const r of records) {
      if (r.alias !== 'champion') continue;
      let list = byModel.get(r.model);
      if (!list) byModel.set(r.model, (list = []));
      list.push(r);
    }
    for (const [model, list] of byModel) {
      let version: number;
      try {
        version = await server.resolveVersion(model, 'challenger');
      } catch (error) {
        if (error instanceof ModelNotFound) continue; // no challenger: nothing to shadow
        throw error;
      }
      const { model: challenger } = await server.load(model, version);
      for (let i = 0; i < list.length; i++) {
        const r = list[i];
        if (r.model_version === version) continue;
        const checked = validateRecord(challenger.spec, r.features, { requireTarget: false });
        if (checked.ok) {
          const prediction = challenger.predictRow(checked.row).prediction;
          const score: ShadowScore = { version, prediction, agree: agrees(r.prediction, prediction) };
          r.challenger = score;
        }
        if ((i + 1) % CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
}
