import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { buildEncoder, type Encoder } from '../dataset/encode.ts';
import { parseDatasetSpec, type DatasetSpec } from '../dataset/spec.ts';
import type { TypedRow } from '../dataset/validate.ts';
import { compactBoosting } from '../boosting/compact.ts';
import { sigmoid, softmaxInto } from '../boosting/objective.ts';
import type { BoostingModel } from '../boosting/index.ts';
import { predictBatch } from '../forest/batch.ts';
import { compactForest, type CompactTrees } from '../forest/compact.ts';
import { compileTrees, type BlockScorer } from '../forest/compiled.ts';
import type { ForestModel, Predictor } from '../forest/index.ts';
import type { LinearModel } from '../linear/index.ts';
import { ArtifactHashMismatch } from '../errors.ts';
import { decodeCompact, encodeCompact, inputSchemaSha256, isCompact } from './compact.ts';
import { compileFamily, FAMILIES, type Family, type FamilyModel } from './families.ts';

/** A forest artifact keeps the format it had before families existed. */
export const ARTIFACT_FORMAT = 'mlops-forest/1';
/** Any other family: the same envelope with `family` and the model under the family's name. */
export const ARTIFACT_FORMAT_V2 = 'mlops-model/2';

/** A tree model's description without its trees (those are `ModelArtifact.trees`). */
export type ForestInfo = Omit<ForestModel, 'trees'>;
export type BoostingInfo = Omit<BoostingModel, 'trees'>;

/**
 * A trained model as stored in S3: the spec it was trained on (which rebuilds the exact encoder),
 * the snapshot it came from, the hyper-parameters, the model's description and, for the tree
 * families, its trees in compact form. Nothing run-specific (ids, times) goes in, so retraining from
 * the same lineage yields the same bytes.
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
  /** Exactly one of these, the family's model (the tree families' without their trees). */
  forest?: ForestInfo;
  boosting?: BoostingInfo;
  linear?: LinearModel;
  /** Forest and boosting: the trees, compact (src/forest/compact.ts). */
  trees?: CompactTrees;
  /**
   * Binary classification: a row is the positive (second) class when its probability is at least
   * this; chosen on the validation split (max F1) or given in the train input. Absent: argmax.
   */
  threshold?: number;
}

/** The artifact envelope of a fitted model: a forest keeps the original format and fields. */
export function artifactOf(
  artifactBase: Omit<ModelArtifact, 'format' | 'family' | 'forest' | 'boosting' | 'linear' | 'trees' | 'threshold'>,
  model: FamilyModel,
  threshold?: number,
): ModelArtifact {
  const t = threshold !== undefined ? { threshold } : {};
  // What the model is, not how it was scored: the CV folds stay out, and a forest's params keep their
  // shape from before families (no `family`).
  const { cv: _cv, family: _family, ...params } = artifactBase.params;
  const base = { ...artifactBase, params: model.family === 'forest' ? params : { family: model.family, ...params } };
  switch (model.family) {
    case 'forest': {
      const { trees, ...info } = model.forest;
      return { format: ARTIFACT_FORMAT, ...base, forest: info, trees: compactForest(model.forest), ...t };
    }
    case 'boosting': {
      const { trees, ...info } = model.boosting;
      return { format: ARTIFACT_FORMAT_V2, family: 'boosting', ...base, boosting: info, trees: compactBoosting(model.boosting), ...t };
    }
    case 'linear':
      return { format: ARTIFACT_FORMAT_V2, family: 'linear', ...base, linear: model.linear, ...t };
  }
}

/** A trained forest as an artifact (its trees made compact). */
export const forestArtifact = (
  fields: Omit<ModelArtifact, 'format' | 'family' | 'forest' | 'boosting' | 'linear' | 'trees' | 'threshold'>,
  forest: ForestModel,
): ModelArtifact => artifactOf(fields, { family: 'forest', forest });

/**
 * The stored bytes: the binary model file for the tree families (src/model/compact.ts,
 * docs/MODEL-FORMAT.md), gzip JSON for a linear model (a few numbers per feature).
 */
export function serializeArtifact(artifact: ModelArtifact): Uint8Array {
  const { trees, ...meta } = artifact;
  if (trees === undefined) return gzipSync(JSON.stringify(meta), { level: 6 });
  return encodeCompact(trees, meta, inputSchemaSha256(artifact.spec, artifact.featureNames));
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

/**
 * Reads a stored artifact: the binary model file, or gzip JSON (a linear model; and the earlier
 * releases' mlops-forest/1 and mlops-model/2 artifacts, whose trees are made compact on the way).
 * Anything else fails with ArtifactHashMismatch naming the key.
 */
export function parseArtifact(bytes: Uint8Array, key: string): ModelArtifact {
  let meta: unknown;
  let trees: CompactTrees | undefined;
  let schemaHash: string | undefined;
  if (isCompact(bytes)) {
    try {
      ({ meta, trees, inputSchemaSha256: schemaHash } = decodeCompact(bytes));
    } catch (error) {
      throw new ArtifactHashMismatch(`Model artifact ${key} is not a readable model file: ${(error as Error).message}`);
    }
  } else {
    try {
      meta = JSON.parse(gunzipSync(bytes).toString('utf8'));
    } catch (error) {
      throw new ArtifactHashMismatch(`Model artifact ${key} is neither a model file nor readable gzip JSON: ${(error as Error).message}`);
    }
  }
  const envelope = Envelope.safeParse(meta);
  if (!envelope.success) throw new ArtifactHashMismatch(`Model artifact ${key} is not a ${ARTIFACT_FORMAT} or ${ARTIFACT_FORMAT_V2} artifact`);
  const spec = parseDatasetSpec(envelope.data.spec);
  const family = envelope.data.family ?? 'forest';
  const model = envelope.data[family];
  if (model === undefined) throw new ArtifactHashMismatch(`Model artifact ${key} has no ${family} model`);
  const nNames = envelope.data.featureNames.length;
  if (model.nFeatures !== nNames) throw new ArtifactHashMismatch(`Model artifact ${key}: ${family} expects ${model.nFeatures} features, has ${nNames} names`);
  if (schemaHash !== undefined && schemaHash !== inputSchemaSha256(spec, envelope.data.featureNames)) {
    throw new ArtifactHashMismatch(`Model artifact ${key}: its input schema hash does not match its spec and feature names`);
  }
  const artifact = { ...(meta as ModelArtifact), spec };
  if (family === 'linear') {
    if (trees !== undefined) throw new ArtifactHashMismatch(`Model artifact ${key}: a linear model has no trees`);
    return artifact;
  }
  if (trees === undefined) {
    // Earlier releases' gzip JSON: the model with its trees as number arrays.
    try {
      const { threshold, ...rest } = artifact;
      const fitted: FamilyModel = family === 'forest' ? { family, forest: rest.forest as ForestModel } : { family, boosting: rest.boosting as BoostingModel };
      return artifactOf(rest, fitted, threshold);
    } catch (error) {
      throw new ArtifactHashMismatch(`Model artifact ${key}: its trees are malformed: ${(error as Error).message}`);
    }
  }
  if (trees.nFeatures !== nNames) throw new ArtifactHashMismatch(`Model artifact ${key}: trees expect ${trees.nFeatures} features, has ${nNames} names`);
  return { ...artifact, trees };
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

/** A linear model as a BlockScorer: its class probabilities (classification) or its value, row by row. */
class LinearScorer implements BlockScorer {
  readonly nFeatures: number;
  readonly nOutputs: number;
  private readonly predictor: Predictor;

  constructor(predictor: Predictor, nOutputs: number) {
    this.predictor = predictor;
    this.nFeatures = predictor.nFeatures;
    this.nOutputs = nOutputs;
  }

  predictRow(x: ArrayLike<number>, out: Float64Array = new Float64Array(this.nOutputs), outOffset = 0): Float64Array {
    if (this.predictor.task === 'regression') out[outOffset] = this.predictor.predict(x);
    else out.set(this.predictor.predictProba(x), outOffset);
    return out;
  }

  predictBlock(x: Float64Array, from: number, to: number, out: Float64Array, outFrom = from): void {
    const w = this.nFeatures;
    for (let r = from; r < to; r++) this.predictRow(x.subarray(r * w, (r + 1) * w), out, (r - outFrom) * this.nOutputs);
  }
}

/**
 * A model ready to serve: encoder and scorer built once. The scorer's output vector per row is the
 * trees' compiled output (a forest's class probabilities or mean; boosting's raw scores, turned into
 * probabilities here as its reference predictor does) or a linear model's probabilities or value.
 */
export class LoadedModel {
  readonly artifact: ModelArtifact;
  readonly encoder: Encoder;
  readonly predictor: BlockScorer;
  readonly family: Family;
  /** Gain- (trees) or weight-based (linear) importance per encoded feature. */
  readonly featureImportances: number[];
  /** The model knows only the classes it saw in training; position j of its output is class index classSlots[j]. */
  private readonly classSlots: number[];
  private readonly nClasses: number;
  /** Boosting classification: the raw scores' link ('binary': sigmoid, 'softmax'). */
  private readonly link: 'none' | 'binary' | 'softmax';
  private readonly seen: Float64Array;

  constructor(artifact: ModelArtifact) {
    this.artifact = artifact;
    this.encoder = buildEncoder(artifact.spec);
    this.nClasses = artifact.spec.classes?.length ?? 0;
    this.family = artifact.family ?? 'forest';
    this.link = 'none';
    if (this.family === 'linear') {
      if (!artifact.linear) throw new ArtifactHashMismatch(`Model artifact of ${artifact.dataset} has no linear model`);
      const compiled = compileFamily({ family: 'linear', linear: artifact.linear });
      this.classSlots = compiled.classes;
      this.featureImportances = compiled.featureImportances;
      this.predictor = new LinearScorer(compiled.predictor, artifact.linear.task === 'regression' ? 1 : compiled.classes.length);
    } else {
      const info = this.family === 'forest' ? artifact.forest : artifact.boosting;
      if (!info || !artifact.trees) throw new ArtifactHashMismatch(`Model artifact of ${artifact.dataset} has no ${this.family} model`);
      this.classSlots = (info.classes ?? []).map(Number);
      this.featureImportances = info.featureImportances ?? [];
      if (artifact.boosting?.task === 'classification') this.link = artifact.boosting.objective === 'binary' ? 'binary' : 'softmax';
      // Broken trees fail here, before any walk (validateCompact).
      try {
        this.predictor = compileTrees(artifact.trees);
      } catch (error) {
        throw new ArtifactHashMismatch(`Model artifact of ${artifact.dataset}: its trees are malformed: ${(error as Error).message}`);
      }
    }
    this.seen = new Float64Array(this.classSlots.length);
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

  /** Class probabilities in the spec's class order from the scorer's output vector at out[at ..] (classification). */
  probabilitiesAt(out: Float64Array, at: number): Float64Array {
    const seen = this.seen;
    if (this.link === 'binary') {
      const p = sigmoid(out[at]);
      // A single-class training set has one class and one probability.
      if (seen.length === 1) seen[0] = 1;
      else {
        seen[0] = 1 - p;
        seen[1] = p;
      }
    } else if (this.link === 'softmax') softmaxInto(out, at, seen.length, seen);
    else for (let j = 0; j < seen.length; j++) seen[j] = out[at + j];
    const full = new Float64Array(this.nClasses);
    for (let j = 0; j < seen.length; j++) full[this.classSlots[j]] = seen[j];
    return full;
  }

  /** Class probabilities in the spec's class order (classification only). */
  probabilities(row: Readonly<TypedRow>): Float64Array {
    return this.probabilitiesAt(this.predictor.predictRow(this.encoder.encode(row)), 0);
  }

  predictValue(row: Readonly<TypedRow>): number {
    return this.predictor.predictRow(this.encoder.encode(row))[0];
  }

  /** The encoded rows as one row-major matrix (what predictBlock and predictBatch take). */
  encodeRows(rows: readonly Readonly<TypedRow>[], shared = false): Float64Array {
    const width = this.encoder.featureNames.length;
    const bytes = rows.length * width * 8;
    const x = new Float64Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
    for (const [i, row] of rows.entries()) this.encoder.encodeInto(row, x, i * width);
    return x;
  }

  /** The scorer's output vectors of many rows (rows × predictor.nOutputs), block by block on this thread. */
  outputs(rows: readonly Readonly<TypedRow>[]): Float64Array {
    const out = new Float64Array(rows.length * this.predictor.nOutputs);
    this.predictor.predictBlock(this.encodeRows(rows), 0, rows.length, out);
    return out;
  }

  /** The same as `outputs`, with large batches split over worker threads (src/forest/batch.ts). */
  outputsInThreads(rows: readonly Readonly<TypedRow>[]): Promise<Float64Array> {
    return predictBatch(this.predictor, this.encodeRows(rows, true), rows.length);
  }

  /** The answer for one row from the scorer's output vector at out[at ..]. */
  rowPrediction(out: Float64Array, at: number): RowPrediction {
    if (this.spec.task === 'regression') return { prediction: out[at] };
    const classes = this.spec.classes ?? [];
    const proba = this.probabilitiesAt(out, at);
    const best = this.decide(proba);
    const probabilities: Record<string, number> = {};
    classes.forEach((c, k) => {
      probabilities[String(c.value)] = proba[k] ?? 0;
    });
    return { prediction: classes[best].value, label: classes[best].label, probabilities };
  }

  predictRow(row: Readonly<TypedRow>): RowPrediction {
    return this.rowPrediction(this.predictor.predictRow(this.encoder.encode(row)), 0);
  }

  /** Many rows at once, block by block on this thread (see predictBatch for worker threads). */
  predictRows(rows: readonly Readonly<TypedRow>[]): RowPrediction[] {
    if (rows.length === 1) return [this.predictRow(rows[0])];
    const out = this.outputs(rows);
    return rows.map((_, i) => this.rowPrediction(out, i * this.predictor.nOutputs));
  }
}
