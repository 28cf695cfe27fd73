// Export to the JSON that ml-random-forest@2 (RandomForestClassifier.load /
// RandomForestRegression.load) and ml-cart understand. ml-cart sends a row left when
// row[splitColumn] < splitValue, the same rule as ours, so thresholds carry over unchanged.
// Its classifier predicts the argmax *index* of a leaf's `distribution`; when all class labels
// are small non-negative integers the distribution is indexed by label, so the loaded model
// predicts labels directly; otherwise it is indexed by class index (model.classes[i]).

import type { ForestModel, TreeModel } from './types.ts';

export type MlNode = { splitValue: number; splitColumn: number; gain: number; left: MlNode; right: MlNode } | { distribution: number[][] | number };

export interface MlRandomForestJSON {
  name: 'RFClassifier' | 'RFRegression';
  selectionMethod?: 'mean';
  baseModel: {
    indexes: number[][];
    n: number;
    replacement: boolean;
    maxFeatures: number;
    nEstimators: number;
    treeOptions: Record<string, unknown>;
    isClassifier: boolean;
    seed: number;
    estimators: { options: Record<string, unknown>; root: MlNode; name: 'DTClassifier' | 'DTRegression' }[];
    useSampleBagging: boolean;
  };
}

const MAX_LABEL_SLOTS = 1 << 16;

/** Whether exported leaf distributions are indexed by class label (else by class index). */
export function mlIndexedByLabel(model: ForestModel): boolean {
  return model.classes.every((c) => Number.isInteger(c) && c >= 0 && c < MAX_LABEL_SLOTS);
}

export function toMlRandomForestJSON(model: ForestModel): MlRandomForestJSON {
  const classification = model.task === 'classification';
  const nOut = model.nOutputs;
  const byLabel = classification && mlIndexedByLabel(model);
  const width = byLabel ? Math.max(...model.classes) + 1 : nOut;
  const slot = model.classes.map((c, i) => (byLabel ? c : i));

  const convert = (tree: TreeModel): MlNode => {
    let leafRank = 0;
    const ranks = new Int32Array(tree.feature.length);
    for (let i = 0; i < tree.feature.length; i++) if (tree.feature[i] < 0) ranks[i] = leafRank++;
    const visit = (i: number): MlNode => {
      if (tree.feature[i] < 0) {
        const base = ranks[i] * nOut;
        if (!classification) return { distribution: tree.value[base] };
        const dist = new Array<number>(width).fill(0);
        for (let k = 0; k < nOut; k++) dist[slot[k]] = tree.value[base + k];
        return { distribution: [dist] };
      }
      return {
        splitValue: tree.threshold[i],
        splitColumn: tree.feature[i],
        gain: 0,
        left: visit(tree.left[i]),
        right: visit(tree.right[i]),
      };
    };
    return visit(0);
  };

  const p = model.nFeatures;
  const identity = Array.from({ length: p }, (_, i) => i);
  const treeOptions = {
    gainFunction: classification ? 'gini' : 'regression',
    splitFunction: 'mean',
    minNumSamples: model.params.minSamplesSplit,
    maxDepth: model.params.maxDepth ?? Number.MAX_SAFE_INTEGER,
  };
  return {
    name: classification ? 'RFClassifier' : 'RFRegression',
    ...(classification ? {} : { selectionMethod: 'mean' as const }),
    baseModel: {
      // Features are sampled per split by us, so every tree sees every column.
      indexes: model.trees.map(() => identity),
      n: p,
      replacement: false,
      maxFeatures: 1,
      nEstimators: model.trees.length,
      treeOptions,
      isClassifier: classification,
      seed: model.params.seed,
      estimators: model.trees.map((tree) => ({
        options: { ...treeOptions, kind: classification ? 'classifier' : 'regression' },
        root: convert(tree),
        name: classification ? ('DTClassifier' as const) : ('DTRegression' as const),
      })),
      useSampleBagging: model.params.bootstrap,
    },
  };
}
