// Hyper-parameters of the gradient-boosted trees learner, as a zod schema (the search space and
// the API validate against it) with every default stated here once.
import { z } from 'zod';

export const BOOSTING_OBJECTIVES = ['binary', 'multiclass', 'regression'] as const;
export type BoostingObjective = (typeof BOOSTING_OBJECTIVES)[number];

/** Per-class weights: 'balanced' (n / (K * n_k), as scikit-learn) or class value → weight. */
export const ClassWeightSchema = z.union([z.literal('balanced'), z.record(z.string(), z.number().positive())]);
export type ClassWeight = z.infer<typeof ClassWeightSchema>;

export const BoostingParamsSchema = z.object({
  task: z.enum(['classification', 'regression']),
  /** Default: 'binary' for two classes, 'multiclass' for more, 'regression' (L2) for regression. */
  objective: z.enum(BOOSTING_OBJECTIVES).optional(),
  /** Boosting iterations (one tree per iteration, one per class and iteration for multiclass). */
  nEstimators: z.number().int().min(1).default(100),
  learningRate: z.number().positive().max(10).default(0.1),
  /** Leaf-wise growth stops at this many leaves. */
  maxLeaves: z.number().int().min(2).max(4096).default(31),
  /** Unbounded when omitted. */
  maxDepth: z.number().int().min(1).optional(),
  /** Minimum number of (sampled) rows in a leaf. */
  minSamplesLeaf: z.number().int().min(1).default(20),
  /** Minimum sum of hessians in a leaf (XGBoost's min_child_weight). */
  minHessianLeaf: z.number().min(0).default(1e-3),
  /** L2 regularisation of the leaf values (lambda). */
  l2: z.number().min(0).default(0),
  /** A split must gain at least this much (in loss units). */
  minGain: z.number().min(0).default(0),
  /** Fraction of rows drawn (without replacement) for each iteration. */
  subsample: z.number().gt(0).max(1).default(1),
  /** Fraction of features drawn for each tree. */
  colsample: z.number().gt(0).max(1).default(1),
  classWeight: ClassWeightSchema.optional(),
  /** Value bins per feature, at most 255 (one more bin is kept for missing values). */
  maxBins: z.number().int().min(2).max(255).default(255),
  /** Stop when the validation loss has not improved for this many iterations (0: never stop early). */
  earlyStoppingRounds: z.number().int().min(0).default(10),
  seed: z.number().int().default(0),
});

/** Parameters as accepted (defaults optional). */
export type BoostingParams = z.input<typeof BoostingParamsSchema>;
/** Parameters with every default filled in. */
export type ResolvedBoostingParams = z.output<typeof BoostingParamsSchema> & { objective: BoostingObjective };

/** Per-class weights in class-index order. */
export function classWeights(spec: ClassWeight | undefined, classes: number[], yClass: ArrayLike<number>): Float64Array {
  const K = classes.length;
  const out = new Float64Array(K).fill(1);
  if (spec === undefined) return out;
  if (spec === 'balanced') {
    const counts = new Float64Array(K);
    for (let i = 0; i < yClass.length; i++) counts[yClass[i]]++;
    for (let k = 0; k < K; k++) out[k] = counts[k] > 0 ? yClass.length / (K * counts[k]) : 1;
    return out;
  }
  for (const key of Object.keys(spec)) {
    const k = classes.indexOf(Number(key));
    if (k < 0) throw new RangeError(`classWeight: class ${key} is not in the training data`);
    out[k] = spec[key];
  }
  return out;
}

/** Validates and fills defaults; the objective follows from the task and the number of classes. */
export function resolveBoostingParams(params: BoostingParams, nClasses: number): ResolvedBoostingParams {
  const parsed = BoostingParamsSchema.safeParse(params);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RangeError(`boosting params: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const p = parsed.data;
  const objective = p.objective ?? (p.task === 'regression' ? 'regression' : nClasses <= 2 ? 'binary' : 'multiclass');
  if (p.task === 'regression' && objective !== 'regression') throw new RangeError(`objective ${objective} needs task classification`);
  if (p.task === 'classification' && objective === 'regression') throw new RangeError('objective regression needs task regression');
  if (objective === 'binary' && nClasses > 2) throw new RangeError(`objective binary needs two classes, got ${nClasses}`);
  if (p.classWeight !== undefined && p.task === 'regression') throw new RangeError('classWeight applies to classification only');
  return { ...p, objective };
}
