// Gradient-boosted trees in the compact form shared with the forest (src/forest/compact.ts): one leaf
// value per tree (leafWidth 1), tree t adding to output t % nOutputs on top of the base scores, and
// each split's learned direction for a missing value kept in `defaultLeft`.
import { compactTrees, type CompactTrees } from '../forest/compact.ts';
import type { BoostingModel } from './types.ts';

export function compactBoosting(model: BoostingModel): CompactTrees {
  const K = model.nOutputs;
  return compactTrees(
    model.trees.map((t) => ({ ...t, value: t.value.filter((_, i) => t.feature[i] < 0) })),
    {
      task: model.task,
      combine: 'sum',
      nFeatures: model.nFeatures,
      nOutputs: K,
      leafWidth: 1,
      base: model.baseScore,
      treeOutput: model.trees.map((_, t) => t % K),
    },
  );
}
