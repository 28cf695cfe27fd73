// Model families: the random forest, gradient-boosted trees and the linear baseline. Each has its
// own hyper-parameters (one zod schema per family, discriminated by `family`), its own learner and
// its own model JSON; they share the encoded matrix, the Predictor interface and the artifact.
import { z } from 'zod';
import { BoostingParamsSchema, trainBoosting, type BoostingModel } from '../boosting/index.ts';
import { trainForest, type ForestModel, type Matrix, type Predictor, type TrainProgress } from '../forest/index.ts';
import { LinearParamsSchema, trainLinear, type LinearModel } from '../linear/index.ts';
import { compileModel, MODEL_FAMILIES, type ModelFamily } from './family.ts';

export const FAMILIES = MODEL_FAMILIES;
export type Family = ModelFamily;

/** Parameters of every family: the seed, a row cap, a binary decision threshold and the CV folds. */
const common = {
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .default(42),
  /** Train on at most this many rows (a seeded sample), e.g. to keep a trial quick. */
  maxTrainRows: z.number().int().positive().nullable().default(null),
  /** Binary classification: the decision threshold; without it, the one with the best validation F1. */
  threshold: z.number().min(0).max(1).optional(),
  /** Also score the parameters by k-fold cross-validation on the train split (set by the search's `cv`). */
  cv: z.number().int().min(2).max(10).optional(),
};

export const ForestTrainParamsSchema = z.strictObject({
  family: z.literal('forest'),
  nEstimators: z.number().int().min(1).max(1000).default(50),
  maxDepth: z.number().int().min(1).max(100).nullable().default(null),
  minSamplesSplit: z.number().int().min(2).default(2),
  minSamplesLeaf: z.number().int().min(1).default(1),
  maxFeatures: z.union([z.enum(['sqrt', 'log2', 'all']), z.number().positive()]).default('sqrt'),
  criterion: z.enum(['gini', 'entropy', 'mse']).optional(),
  bootstrap: z.boolean().default(true),
  ...common,
});

const boostingShape = BoostingParamsSchema.omit({ task: true, objective: true, seed: true }).shape;
export const BoostingTrainParamsSchema = z.strictObject({
  family: z.literal('boosting'),
  ...boostingShape,
  nEstimators: boostingShape.nEstimators.pipe(z.number().max(5000)),
  ...common,
});

export const LinearTrainParamsSchema = z.strictObject({
  family: z.literal('linear'),
  ...LinearParamsSchema.omit({ task: true }).shape,
  ...common,
});

/** Hyper-parameters of one training run; a run without `family` is a forest (as before families existed). */
export const TrainParamsSchema = z.preprocess(
  (input) => (input !== null && typeof input === 'object' && !Array.isArray(input) && !('family' in input) ? { family: 'forest', ...input } : input),
  z.discriminatedUnion('family', [ForestTrainParamsSchema, BoostingTrainParamsSchema, LinearTrainParamsSchema]),
);
export type TrainParams = z.infer<typeof TrainParamsSchema>;

/** The parameter names a family takes (to keep a shared `train` input to the ones that apply). */
export const familyParamNames: Record<Family, ReadonlySet<string>> = {
  forest: new Set(Object.keys(ForestTrainParamsSchema.shape)),
  boosting: new Set(Object.keys(BoostingTrainParamsSchema.shape)),
  linear: new Set(Object.keys(LinearTrainParamsSchema.shape)),
};

/** A fitted model of one family, as stored in the artifact. */
export type FamilyModel =
  | { family: 'forest'; forest: ForestModel }
  | { family: 'boosting'; boosting: BoostingModel }
  | { family: 'linear'; linear: LinearModel };

export interface FitOptions {
  workers?: number;
  featureNames?: string[];
  /** Held-out rows (boosting stops early on them). */
  validation?: { X: Matrix; y: Float64Array };
  onProgress?: (done: number, total: number) => void;
}

/** Fits one model of `params.family` on an encoded matrix (y: class indices or the regression target). */
export async function fitFamily(
  task: 'classification' | 'regression',
  params: TrainParams,
  X: Matrix,
  y: Float64Array,
  options: FitOptions = {},
): Promise<FamilyModel> {
  const featureNames = options.featureNames ? { featureNames: options.featureNames } : {};
  switch (params.family) {
    case 'forest': {
      const forest = await trainForest(
        X,
        y,
        {
          task,
          nEstimators: params.nEstimators,
          ...(params.maxDepth !== null ? { maxDepth: params.maxDepth } : {}),
          minSamplesSplit: params.minSamplesSplit,
          minSamplesLeaf: params.minSamplesLeaf,
          maxFeatures: params.maxFeatures,
          ...(params.criterion ? { criterion: params.criterion } : {}),
          bootstrap: params.bootstrap,
          seed: params.seed,
        },
        {
          ...(options.workers !== undefined ? { workers: options.workers } : {}),
          ...(options.onProgress ? { onProgress: (p: TrainProgress) => options.onProgress?.(p.treesDone, p.treesTotal) } : {}),
        },
      );
      return { family: 'forest', forest };
    }
    case 'boosting': {
      const { family: _f, maxTrainRows: _m, threshold: _t, cv: _c, ...rest } = params;
      const boosting = await trainBoosting(
        X,
        y,
        { ...rest, task },
        {
          ...featureNames,
          ...(options.workers !== undefined ? { workers: options.workers } : {}),
          ...(options.validation ? { validation: options.validation } : {}),
          ...(options.onProgress ? { onProgress: (p) => options.onProgress?.(p.iteration, p.iterations) } : {}),
        },
      );
      return { family: 'boosting', boosting };
    }
    case 'linear': {
      const { family: _f, maxTrainRows: _m, threshold: _t, cv: _c, seed: _s, ...rest } = params;
      const linear = await trainLinear(X, y, { ...rest, task }, featureNames);
      return { family: 'linear', linear };
    }
  }
}

/** The fitted model's predictor, and the class indices its probability outputs stand for. */
export function compileFamily(model: FamilyModel): { predictor: Predictor; classes: number[]; nFeatures: number; featureImportances: number[] } {
  switch (model.family) {
    case 'forest':
      return {
        predictor: compileModel(model.forest),
        classes: (model.forest.classes ?? []).map(Number),
        nFeatures: model.forest.nFeatures,
        featureImportances: model.forest.featureImportances ?? [],
      };
    case 'boosting':
      return {
        predictor: compileModel(model.boosting),
        classes: model.boosting.classes,
        nFeatures: model.boosting.nFeatures,
        featureImportances: model.boosting.featureImportances,
      };
    case 'linear': {
      // A linear model's importance: the mean absolute standardised weight of each feature.
      const { coef, nFeatures } = model.linear;
      const rows = coef.length / nFeatures;
      const importance = Array.from({ length: nFeatures }, (_, f) => {
        let s = 0;
        for (let k = 0; k < rows; k++) s += Math.abs(coef[k * nFeatures + f]);
        return s / rows;
      });
      const total = importance.reduce((a, b) => a + b, 0);
      return {
        predictor: compileModel(model.linear),
        classes: model.linear.classes,
        nFeatures,
        featureImportances: total > 0 ? importance.map((v) => v / total) : importance,
      };
    }
  }
}
