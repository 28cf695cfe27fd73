// Public types of the forest trainer. The model is plain JSON (no typed arrays, no classes).

export interface Matrix {
  rows: number;
  cols: number;
  /** Row-major: data[row * cols + col]. */
  data: Float64Array;
}

export type Task = 'classification' | 'regression';
export type MaxFeatures = 'sqrt' | 'log2' | 'all' | number;

export interface ForestParams {
  task: Task;
  nEstimators: number;
  /** Unbounded when omitted (trees grow until leaves are pure or too small). */
  maxDepth?: number;
  /** Default 2. Counts distinct rows, not bootstrap weight (as scikit-learn). */
  minSamplesSplit?: number;
  /** Default 1. */
  minSamplesLeaf?: number;
  /**
   * Features drawn at every split: 'sqrt' (classification default), 'log2', 'all' (regression
   * default), a fraction in (0, 1] (1 means all), or an integer count > 1.
   */
  maxFeatures?: MaxFeatures;
  /** 'gini' (default) or 'entropy' for classification; 'mse' for regression. */
  criterion?: 'gini' | 'entropy' | 'mse';
  /** Default true: each tree sees a bootstrap sample of the rows. */
  bootstrap?: boolean;
  /** Default true: compute the out-of-bag score (needs bootstrap). */
  oob?: boolean;
  /** Default 256, at most 256. */
  maxBins?: number;
  seed: number;
}

/** ForestParams with every default filled in (maxDepth stays absent when unbounded). */
export interface ResolvedParams {
  task: Task;
  nEstimators: number;
  maxDepth?: number;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  maxFeatures: MaxFeatures;
  criterion: 'gini' | 'entropy' | 'mse';
  bootstrap: boolean;
  oob: boolean;
  maxBins: number;
  seed: number;
}

/**
 * One tree as flat arrays indexed by node id (root = 0). Internal node i sends a row to
 * left[i] when row[feature[i]] < threshold[i], else to right[i]; a missing value (NaN) goes to
 * left[i] when defaultLeft[i] is 1, else right (defaultLeft is present only when the training
 * data had missing values; without it missing values go right). Leaves have feature = -1,
 * left = right = -1, threshold = 0. `value` holds the leaves' outputs in node-id order:
 * classification, the bootstrap-weighted count of each class (nOutputs = classes.length);
 * regression, the leaf mean (nOutputs = 1).
 */
export interface TreeModel {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  defaultLeft?: number[];
  value: number[];
}

export interface ForestModel {
  format: 'mlops-random-forest';
  version: 1;
  task: Task;
  /** Class labels in index order (ascending); empty for regression. */
  classes: number[];
  nFeatures: number;
  featureNames?: string[];
  nOutputs: number;
  params: ResolvedParams;
  trees: TreeModel[];
  /** Mean decrease in impurity, normalized to sum to 1 (all zeros if no tree split). */
  featureImportances: number[];
  /** OOB accuracy (classification) or R^2 (regression); null if not computed / no OOB rows. */
  oobScore: number | null;
}

export interface TrainProgress {
  treesDone: number;
  treesTotal: number;
}

export interface TrainOptions {
  /** Worker threads; default os.availableParallelism(). 0 or 1 trains in-process. */
  workers?: number;
  onProgress?: (p: TrainProgress) => void;
  featureNames?: string[];
}

export interface Predictor {
  readonly task: Task;
  readonly nFeatures: number;
  readonly classes: readonly number[];
  /** Mean of the trees' leaf class distributions (classification only). */
  predictProba(row: ArrayLike<number>): Float64Array;
  /** Classification: the label with the highest mean probability. Regression: the mean of the trees. */
  predict(row: ArrayLike<number>): number;
  /**
   * Majority vote of the trees' own argmax, ties resolved as ml-random-forest does; equals
   * what `RandomForestClassifier.load(toMlRandomForestJSON(model)).predict` returns.
   * For regression, same as predict.
   */
  predictVote(row: ArrayLike<number>): number;
}
