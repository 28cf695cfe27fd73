import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { buildEncoder, type Encoder } from '../dataset/encode.ts';
import { parseDatasetSpec, type DatasetSpec } from '../dataset/spec.ts';
import type { TypedRow } from '../dataset/validate.ts';
import type { BoostingModel } from '../boosting/index.ts';
import type { ForestModel, Predictor } from '../forest/index.ts';
import type { LinearModel } from '../linear/index.ts';
import { ArtifactHashMismatch } from '../errors.ts';
import { compileFamily, FAMILIES, type Family, type FamilyModel } from './families.ts';

/** A forest artifact keeps the format it had before families existed (same bytes for the same lineage). */
export const ARTIFACT_FORMAT = 'mlops-forest/1';
/** Any other family: the same envelope with `family` and the model under the family's name. */
export const ARTIFACT_FORMAT_V2 = 'mlops-model/2';

/**
 * A trained model as stored in S3: the spec it was trained on (which rebuilds the exact encoder),
 * the snapshot it came from, the hyper-parameters and the forest. Nothing run-specific (ids, times)
 * goes in, so retraining from the same lineage yields the same bytes.
 */
export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT | typeof ARTIFACT_FORMAT_V2;
  /** Absent on a forest artifact. */
  family?: Exclude<Family, 'forest'>;
  dataset: string;
  datasetContentHash: string;
  spec: DatasetSpec;
  featureNames: string[];
  params: Record<string, unknown>;
  /** Exactly one of these, the family's model. */
  forest?: ForestModel;
  boosting?: BoostingModel;
  linear?: LinearModel;
  /**
   * Binary classification: a row is the positive (second) class when its probability is at least
   * this; chosen on the validation split (max F1) or given in the train input. Absent: argmax.
   */
  threshold?: number;
}

export const serializeArtifact = (artifact: ModelArtifact): Uint8Array => gzipSync(JSON.stringify(artifact), { level: 6 });

/** The family and model of an artifact. */
export function familyModel(artifact: ModelArtifact): FamilyModel {
  if (artifact.family === 'boosting' && artifact.boosting) return { family: 'boosting', boosting: artifact.boosting };
  if (artifact.family === 'linear' && artifact.linear) return { family: 'linear', linear: artifact.linear };
  if (artifact.family === undefined && artifact.forest) return { family: 'forest', forest: artifact.forest };
  throw new ArtifactHashMismatch(`Model artifact of ${artifact.dataset} has no ${artifact.family ?? 'forest'} model`);
}

/** The artifact envelope of a fitted model: a forest keeps the original format and layout. */
export function artifactOf(artifactBase: Omit<ModelArtifact, 'format' | 'family' | 'forest' | 'boosting' | 'linear' | 'threshold'>, model: FamilyModel, threshold?: number): ModelArtifact {
  const t = threshold !== undefined ? { threshold } : {};
  // What the model is, not how it was scored: the CV folds stay out, and a forest's params keep their
  // shape from before families (no `family`), so a forest retrained from its lineage has the same bytes.
  const { cv: _cv, family: _family, ...params } = artifactBase.params;
  const base = { ...artifactBase, params: model.family === 'forest' ? params : { family: model.family, ...params } };
  switch (model.family) {
    case 'forest': return { format: ARTIFACT_FORMAT, ...base, forest: model.forest, ...t };
    case 'boosting': return { format: ARTIFACT_FORMAT_V2, family: 'boosting', ...base, boosting: model.boosting, ...t };
    case 'linear': return { format: ARTIFACT_FORMAT_V2, family: 'linear', ...base, linear: model.linear, ...t };
  }
}

const FittedModel = z.object({ task: z.enum(['classification', 'regression']), nFeatures: z.number().int().positive() }).passthrough();
const Envelope = z.object({
  format: z.enum([ARTIFACT_FORMAT, ARTIFACT_FORMAT_V2]),
  family: z.enum(FAMILIES).exclude(['forest']).optional(),
  dataset: z.string(),
  datasetContentHash: z.string(),
  spec: z.unknown(),
  featureNames: z.array(z.string()),
  params: z.record(z.string(), z.unknown()),
  threshold: z.number().min(0).max(1).optional(),
  forest: FittedModel.optional(),
  boosting: FittedModel.optional(),
  linear: FittedModel.optional(),
});

export function parseArtifact(bytes: Uint8Array, key: string): ModelArtifact {
  let json: unknown;
  try {
    json = JSON.parse(gunzipSync(bytes).toString('utf8'));
  } catch (error) {
    throw new ArtifactHashMismatch(`Model artifact ${key} is not readable gzip JSON: ${(error as Error).message}`);
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) throw new ArtifactHashMismatch(`Model artifact ${key} is not a ${ARTIFACT_FORMAT} or ${ARTIFACT_FORMAT_V2} artifact`);
  const spec = parseDatasetSpec(envelope.data.spec);
  const family = envelope.data.family ?? 'forest';
  const model = envelope.data[family];
  if (model === undefined) throw new ArtifactHashMismatch(`Model artifact ${key} has no ${family} model`);
  if (model.nFeatures !== envelope.data.featureNames.length) {
    throw new ArtifactHashMismatch(`Model artifact ${key}: ${family} expects ${model.nFeatures} features, has ${envelope.data.featureNames.length} names`);
  }
  return { ...(json as ModelArtifact), spec };
}

/** Index of the largest value (the first one on ties, as scikit-learn's predict does). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

export interface RowPrediction {
  /** Class value (classification) or predicted number (regression). */
  prediction: number | string;
  label?: string;
  /** Classification: class value → probability. */
  probabilities?: Record<string, number>;
}

/** A model ready to serve: encoder and compiled predictor built once. */
export class LoadedModel {
  readonly artifact: ModelArtifact;
  readonly encoder: Encoder;
  readonly predictor: Predictor;
  readonly family: Family;
  /** Gain- (trees) or weight-based (linear) importance per encoded feature. */
  readonly featureImportances: number[];
  /** The model knows only the classes it saw in training; position j of its output is class index classSlots[j]. */
  private readonly classSlots: number[];
  private readonly nClasses: number;

  constructor(artifact: ModelArtifact) {
    this.artifact = artifact;
    this.encoder = buildEncoder(artifact.spec);
    const model = familyModel(artifact);
    const compiled = compileFamily(model);
    this.family = model.family;
    this.predictor = compiled.predictor;
    this.featureImportances = compiled.featureImportances;
    this.nClasses = artifact.spec.classes?.length ?? 0;
    this.classSlots = compiled.classes;
  }

  get spec(): DatasetSpec {
    return this.artifact.spec;
  }

  /** The binary decision threshold, if the artifact has one. */
  get threshold(): number | undefined {
    return this.nClasses === 2 ? this.artifact.threshold : undefined;
  }

  /** The decided class index: the threshold on the positive class for a binary model with one, else argmax. */
  decide(proba: ArrayLike<number>): number {
    const t = this.threshold;
    return t !== undefined ? (proba[1] >= t ? 1 : 0) : argmax(proba);
  }

  /** Class probabilities in the spec's class order (classification only). */
  probabilities(row: Readonly<TypedRow>): Float64Array {
    const seen = this.predictor.predictProba(this.encoder.encode(row));
    const full = new Float64Array(this.nClasses);
    for (let j = 0; j < seen.length; j++) full[this.classSlots[j]] = seen[j];
    return full;
  }

  predictValue(row: Readonly<TypedRow>): number {
    return this.predictor.predict(this.encoder.encode(row));
  }

  predictRow(row: Readonly<TypedRow>): RowPrediction {
    if (this.spec.task === 'regression') return { prediction: this.predictValue(row) };
    const classes = this.spec.classes ?? [];
    const proba = this.probabilities(row);
    const best = this.decide(proba);
    const probabilities: Record<string, number> = {};
    classes.forEach((c, k) => { probabilities[String(c.value)] = proba[k] ?? 0; });
    return { prediction: classes[best].value, label: classes[best].label, probabilities };
  }
}
