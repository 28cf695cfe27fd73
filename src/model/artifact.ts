import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { buildEncoder, type Encoder } from '../dataset/encode.ts';
import { parseDatasetSpec, type DatasetSpec } from '../dataset/spec.ts';
import type { TypedRow } from '../dataset/validate.ts';
import { compilePredictor, type ForestModel, type Predictor } from '../forest/index.ts';
import { ArtifactHashMismatch } from '../errors.ts';

export const ARTIFACT_FORMAT = 'mlops-forest/1';

/**
 * A trained model as stored in S3: the spec it was trained on (which rebuilds the exact encoder),
 * the snapshot it came from, the hyper-parameters and the forest. Nothing run-specific (ids, times)
 * goes in, so retraining from the same lineage yields the same bytes.
 */
export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT;
  dataset: string;
  datasetContentHash: string;
  spec: DatasetSpec;
  featureNames: string[];
  params: Record<string, unknown>;
  forest: ForestModel;
  /**
   * Binary classification: a row is the positive (second) class when its probability is at least
   * this; chosen on the validation split (max F1) or given in the train input. Absent: argmax.
   */
  threshold?: number;
}

export const serializeArtifact = (artifact: ModelArtifact): Uint8Array => gzipSync(JSON.stringify(artifact), { level: 6 });

const Envelope = z.object({
  format: z.literal(ARTIFACT_FORMAT),
  dataset: z.string(),
  datasetContentHash: z.string(),
  spec: z.unknown(),
  featureNames: z.array(z.string()),
  params: z.record(z.string(), z.unknown()),
  threshold: z.number().min(0).max(1).optional(),
  forest: z.object({ task: z.enum(['classification', 'regression']), nFeatures: z.number().int().positive() }).passthrough(),
});

export function parseArtifact(bytes: Uint8Array, key: string): ModelArtifact {
  let json: unknown;
  try {
    json = JSON.parse(gunzipSync(bytes).toString('utf8'));
  } catch (error) {
    throw new ArtifactHashMismatch(`Model artifact ${key} is not readable gzip JSON: ${(error as Error).message}`);
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) throw new ArtifactHashMismatch(`Model artifact ${key} is not a ${ARTIFACT_FORMAT} artifact`);
  const spec = parseDatasetSpec(envelope.data.spec);
  if (envelope.data.forest.nFeatures !== envelope.data.featureNames.length) {
    throw new ArtifactHashMismatch(`Model artifact ${key}: forest expects ${envelope.data.forest.nFeatures} features, has ${envelope.data.featureNames.length} names`);
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
  /** The forest knows only the classes it saw in training; position j of its output is class index classSlots[j]. */
  private readonly classSlots: number[];
  private readonly nClasses: number;

  constructor(artifact: ModelArtifact) {
    this.artifact = artifact;
    this.encoder = buildEncoder(artifact.spec);
    this.predictor = compilePredictor(artifact.forest);
    this.nClasses = artifact.spec.classes?.length ?? 0;
    this.classSlots = (artifact.forest.classes ?? []).map(Number);
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
