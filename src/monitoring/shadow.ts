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

/** The enrich step of the PredictionLog: a model's champion records scored by its challenger, if it has one. */
export function shadowScorer(server: Pick<ModelServer, 'resolveVersion' | 'load'>): {
  applies(model: string): Promise<boolean>;
  apply(records: PredictionRecord[]): Promise<void>;
} {
  const challengerOf = async (model: string): Promise<number | null> => {
    try {
      return await server.resolveVersion(model, 'challenger');
    } catch (error) {
      if (error instanceof ModelNotFound) return null; // no challenger: nothing to shadow
      throw error;
    }
  };
  return {
    applies: async (model) => (await challengerOf(model)) !== null,
    apply: async (records) => {
      for (const model of new Set(records.map((r) => r.model))) {
        const version = await challengerOf(model);
        if (version === null) continue;
        const { model: challenger } = await server.load(model, version);
        let done = 0;
        for (const r of records) {
          if (r.model !== model || r.alias !== 'champion' || r.model_version === version) continue;
          const checked = validateRecord(challenger.spec, r.features, { requireTarget: false });
          if (checked.ok) {
            const prediction = challenger.predictRow(checked.row).prediction;
            const score: ShadowScore = { version, prediction, agree: agrees(r.prediction, prediction) };
            r.challenger = score;
          }
          if (++done % CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      }
    },
  };
}
