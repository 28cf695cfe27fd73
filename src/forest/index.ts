// Public API of the project's random-forest trainer.
export type {
  ForestModel,
  ForestParams,
  Matrix,
  MaxFeatures,
  Predictor,
  ResolvedParams,
  Task,
  TrainOptions,
  TrainProgress,
  TreeModel,
} from './types.ts';
export { trainForest } from './trainer.ts';
export { compilePredictor } from './predictor.ts';
export { toMlRandomForestJSON, mlIndexedByLabel, type MlRandomForestJSON, type MlNode } from './ml-export.ts';
