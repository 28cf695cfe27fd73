// Public types of the gradient-boosted trees learner. The model is plain JSON of flat arrays.
import type { Matrix, Task } from '../forest/types.ts';
import type { BoostingObjective, ResolvedBoostingParams } from './params.ts';

/**
 * One regression tree as flat arrays indexed by node id (root 0; children adjacent, right =
 * left + 1). Internal node i sends a row to left[i] when row[feature[i]] < threshold[i], to
 * right[i] otherwise, and a missing value (NaN) to left[i] when defaultLeft[i] is 1. Leaves have
 * feature -1, left = right = -1, threshold 0, defaultLeft 0, and value[i] is their output (already
 * scaled by the learning rate); value is 0 on internal nodes.
 */
export interface BoostedTree {
  feature: number[];
  threshold: number[];
  defaultLeft: number[];
  left: number[];
  right: number[];
  value: number[];
}

export interface BoostingModel {
  format: 'mlops-boosting';
  version: 1;
  task: Task;
  objective: BoostingObjective;
  /** Class labels in index order (ascending); empty for regression. */
  classes: number[];
  nFeatures: number;
  featureNames?: string[];
  /** Raw scores per row: the number of classes for multiclass, else 1. */
  nOutputs: number;
  /** Initial raw score of each output. */
  baseScore: number[];
  params: ResolvedBoostingParams;
  /** Iteration-major: tree t adds to output t % nOutputs. */
  trees: BoostedTree[];
  /** Iterations kept (after early stopping). */
  nIterations: number;
  /** Total split gain per feature, normalized to sum to 1 (all zeros if no tree split). */
  featureImportances: number[];
  /** Validation loss after each iteration (empty without a validation set). */
  validationLoss: number[];
}

export interface BoostingProgress {
  iteration: number;
  iterations: number;
  validationLoss?: number;
}

export interface BoostingTrainOptions {
  /**
   * Threads building histograms, the calling one included; default os.availableParallelism().
   * 0 or 1 trains in-process. The model does not depend on it.
   */
  workers?: number;
  featureNames?: string[];
  /** Held-out rows for early stopping (params.earlyStoppingRounds) and the validation loss. */
  validation?: { X: Matrix; y: Float64Array };
  /** Per-row weights, multiplied with the class weights. */
  sampleWeight?: Float64Array;
  onProgress?: (p: BoostingProgress) => void;
}
