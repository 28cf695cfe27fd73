// The model families a run can train, told apart by their `format` field, and one way to
// compile any of them into a Predictor.
import { compileBoosting, type BoostingModel } from '../boosting/index.ts';
import { compilePredictor, type ForestModel, type Predictor } from '../forest/index.ts';
import { compileLinear, type LinearModel } from '../linear/index.ts';

export const MODEL_FAMILIES = ['forest', 'boosting', 'linear'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];
export type TrainedModel = ForestModel | BoostingModel | LinearModel;

export function modelFamily(model: TrainedModel): ModelFamily {
  switch (model.format) {
    case 'mlops-random-forest':
      return 'forest';
    case 'mlops-boosting':
      return 'boosting';
    case 'mlops-linear':
      return 'linear';
  }
}

export function compileModel(model: TrainedModel): Predictor {
  switch (model.format) {
    case 'mlops-random-forest':
      return compilePredictor(model);
    case 'mlops-boosting':
      return compileBoosting(model);
    case 'mlops-linear':
      return compileLinear(model);
  }
}
