// Public API of the project's gradient-boosted trees learner.
export type { BoostedTree, BoostingModel, BoostingProgress, BoostingTrainOptions } from './types.ts';
export {
  BOOSTING_OBJECTIVES,
  BoostingParamsSchema,
  classWeights,
  ClassWeightSchema,
  resolveBoostingParams,
  type BoostingObjective,
  type BoostingParams,
  type ClassWeight,
  type ResolvedBoostingParams,
} from './params.ts';
export { trainBoosting } from './trainer.ts';
export { compileBoosting, treeOutput } from './predictor.ts';
