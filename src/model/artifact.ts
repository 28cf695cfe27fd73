import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { buildEncoder, type Encoder } from '../dataset/encode.ts';
import { parseDatasetSpec, type DatasetSpec } from '../dataset/spec.ts';
import type { TypedRow } from '../dataset/validate.ts';
import type { ForestModel } from '../forest/index.ts';
import { compactForest, type CompactTrees } from '../forest/compact.ts';
import { compileTrees, type CompiledTrees } from '../forest/compiled.ts';
import { ArtifactHashMismatch } from '../errors.ts';
import { decodeCompact, encodeCompact, inputSchemaSha256, isCompact } from './compact.ts';

export const ARTIFACT_FORMAT = 'mlops-forest/1';

/** The forest's description without its trees (those are `ModelArtifact.trees`). */
export type ForestInfo = Omit<ForestModel, 'trees'>;

/**
 * A trained model as stored in S3: the spec it was trained on (which rebuilds the exact encoder),
 * the snapshot it came from, the hyper-parameters, the forest's description and its trees in compact
 * form. Nothing run-specific (ids, times) goes in, so retraining from the same lineage yields the same bytes.
 */
export interface ModelArtifact {
  format: typeof ARTIFACT_FORMAT;
  dataset: string;
  datasetContentHash: string;
  spec: DatasetSpec;
  featureNames: string[];
  params: Record<string, unknown>;
  forest: ForestInfo;
  trees: CompactTrees;
}

/** A trained forest as an artifact (its trees made compact). */
export function forestArtifact(fields: Omit<ModelArtifact, 'format' | 'forest' | 'trees'>, forest: ForestModel): ModelArtifact {
  const { trees, ...info } = forest;
  return { format: ARTIFACT_FORMAT, ...fields, forest: info, trees: compactForest({ ...info, trees }) };
}

/** The binary model file (src/model/compact.ts, docs/MODEL-FORMAT.md). */
export function serializeArtifact(artifact: ModelArtifact): Uint8Array {
  const { trees, ...meta } = artifact;
  return encodeCompact(trees, meta, inputSchemaSha256(artifact.spec, artifact.featureNames));
}

const Envelope = z.object({
  format: z.literal(ARTIFACT_FORMAT),
  dataset: z.string(),
  datasetContentHash: z.string(),
  spec: z.unknown(),
  featureNames: z.array(z.string()),
  params: z.record(z.string(), z.unknown()),
  forest: z.object({ task: z.enum(['classification', 'regression']), nFeatures: z.number().int().positive() }).passthrough(),
});

/**
 * Reads a stored artifact: the binary format, or the gzip JSON of the first releases (still loaded,
 * its trees made compact on the way). Anything else fails with ArtifactHashMismatch naming the key.
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
  if (!envelope.success) throw new ArtifactHashMismatch(`Model artifact ${key} is not a ${ARTIFACT_FORMAT} artifact`);
  const spec = parseDatasetSpec(envelope.data.spec);
  if (envelope.data.forest.nFeatures !== envelope.data.featureNames.length) {
    throw new ArtifactHashMismatch(`Model artifact ${key}: forest expects ${envelope.data.forest.nFeatures} features, has ${envelope.data.featureNames.length} names`);
  }
  if (schemaHash !== undefined && schemaHash !== inputSchemaSha256(spec, envelope.data.featureNames)) {
    throw new ArtifactHashMismatch(`Model artifact ${key}: its input schema hash does not match its spec and feature names`);
  }
  if (trees === undefined) {
    // The first releases' gzip JSON: the forest with its trees as number arrays.
    const legacy = meta as Omit<ModelArtifact, 'trees' | 'forest'> & { forest: ForestModel };
    try {
      return forestArtifact({ ...legacy, spec }, legacy.forest);
    } catch (error) {
      throw new ArtifactHashMismatch(`Model artifact ${key}: its trees are malformed: ${(error as Error).message}`);
    }
  }
  if (trees.nFeatures !== envelope.data.featureNames.length) {
    throw new ArtifactHashMismatch(`Model artifact ${key}: trees expect ${trees.nFeatures} features, has ${envelope.data.featureNames.length} names`);
  }
  return { ...(meta as Omit<ModelArtifact, 'trees'>), spec, trees };
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

/** A model ready to serve: encoder and compiled trees built once. */
export class LoadedModel {
  readonly artifact: ModelArtifact;
  readonly encoder: Encoder;
  readonly predictor: CompiledTrees;
  /** The forest knows only the classes it saw in training; position j of its output is class index classSlots[j]. */
  private readonly classSlots: number[];
  private readonly nClasses: number;

  constructor(artifact: ModelArtifact) {
    this.artifact = artifact;
    this.encoder = buildEncoder(artifact.spec);
    // Broken trees fail here, before any walk (validateCompact).
    try {
      this.predictor = compileTrees(artifact.trees);
    } catch (error) {
      throw new ArtifactHashMismatch(`Model artifact of ${artifact.dataset}: its trees are malformed: ${(error as Error).message}`);
    }
    this.nClasses = artifact.spec.classes?.length ?? 0;
    this.classSlots = (artifact.forest.classes ?? []).map(Number);
  }

  get spec(): DatasetSpec {
    return this.artifact.spec;
  }

  /** Class probabilities in the spec's class order from the trees' output vector at out[at ..] (classification). */
  probabilitiesAt(out: Float64Array, at: number): Float64Array {
    const full = new Float64Array(this.nClasses);
    for (let j = 0; j < this.classSlots.length; j++) full[this.classSlots[j]] = out[at + j];
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
    rows.forEach((row, i) => this.encoder.encodeInto(row, x, i * width));
    return x;
  }

  /** The trees' output vectors of many rows (rows × predictor.nOutputs), walked block by block on this thread. */
  outputs(rows: readonly Readonly<TypedRow>[]): Float64Array {
    const out = new Float64Array(rows.length * this.predictor.nOutputs);
    this.predictor.predictBlock(this.encodeRows(rows), 0, rows.length, out);
    return out;
  }

  /** The answer for one row from the trees' output vector at out[at ..]. */
  rowPrediction(out: Float64Array, at: number): RowPrediction {
    if (this.spec.task === 'regression') return { prediction: out[at] };
    const classes = this.spec.classes ?? [];
    const proba = this.probabilitiesAt(out, at);
    const best = argmax(proba);
    const probabilities: Record<string, number> = {};
    classes.forEach((c, k) => { probabilities[String(c.value)] = proba[k] ?? 0; });
    return { prediction: classes[best].value, label: classes[best].label, probabilities };
  }

  predictRow(row: Readonly<TypedRow>): RowPrediction {
    return this.rowPrediction(this.predictor.predictRow(this.encoder.encode(row)), 0);
  }

  /** Many rows at once, walked block by block on this thread (see predictBatch for worker threads). */
  predictRows(rows: readonly Readonly<TypedRow>[]): RowPrediction[] {
    if (rows.length === 1) return [this.predictRow(rows[0])];
    const out = this.outputs(rows);
    return rows.map((_, i) => this.rowPrediction(out, i * this.predictor.nOutputs));
  }
}
