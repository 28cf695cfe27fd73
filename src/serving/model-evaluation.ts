import { confusionMatrix } from '../metrics/classification.ts';
import { classifyRows, evaluate, type Metrics } from '../model/evaluate.ts';
import { getDatasetVersionSummary } from '../registry/datasets.ts';
import { getModelVersion } from '../registry/registry.ts';
import type { ModelServer } from './model-server.ts';
import { readSnapshotSplit, type DatasetManifest } from '../registry/snapshots.ts';
import type { Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';

/** What the console draws for one model version: its confusion matrix on its own test split and its feature importances. */
export interface ModelEvaluation {
  modelName: string;
  version: number;
  dataset: string;
  datasetVersion: number;
  split: 'test';
  rows: number;
  metrics: Metrics;
  /** Classification only: matrix[t][p] = test rows of class classes[t] predicted as classes[p]. */
  confusion: { classes: { value: string; label: string }[]; matrix: number[][] } | null;
  /** Mean decrease in impurity per encoded feature, highest first. */
  featureImportances: { feature: string; importance: number }[];
}

/**
 * Scores a registered version on the test split of the dataset version it was trained on (the
 * rows promotion compared it on), through the same loader predict uses (hash-verified artifact).
 */
export async function evaluateModelVersion(
  pool: Pool,
  store: ArtifactStore,
  server: ModelServer,
  modelName: string,
  version: number,
): Promise<ModelEvaluation> {
  const entry = await getModelVersion(pool, modelName, version);
  const manifest = await store.getJson<DatasetManifest>((await getDatasetVersionSummary(pool, entry.dataset, entry.datasetVersion)).manifestKey);
  const rows = await readSnapshotSplit(store, manifest, 'test');
  const { model } = await server.load(modelName, version);
  const metrics = evaluate(model, rows);
  let confusion: ModelEvaluation['confusion'] = null;
  if (model.spec.task === 'classification') {
    const classes = model.spec.classes ?? [];
    const { yTrue, yPred } = classifyRows(model, rows);
    const cm = confusionMatrix(
      yTrue,
      yPred,
      classes.map((_, k) => k),
    );
    confusion = { classes: classes.map((c) => ({ value: String(c.value), label: c.label ?? String(c.value) })), matrix: cm.matrix };
  }
  const names = model.artifact.featureNames;
  const importances = model.featureImportances;
  const featureImportances = names.map((feature, i) => ({ feature, importance: importances[i] ?? 0 })).sort((a, b) => b.importance - a.importance);
  return {
    modelName,
    version,
    dataset: entry.dataset,
    datasetVersion: entry.datasetVersion,
    split: 'test',
    rows: rows.length,
    metrics,
    confusion,
    featureImportances,
  };
}
