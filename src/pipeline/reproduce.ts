import { parseArtifact, serializeArtifact } from '../model/artifact.ts';
import { isCompact } from '../model/compact.ts';
import { getLineage } from '../registry/registry.ts';
import type { Pool } from '../storage/mysql.ts';
import { sha256, type ArtifactStore } from '../storage/s3.ts';
import type { DatasetManifest } from '../registry/snapshots.ts';
import { fitArtifact, TrainParamsSchema } from './train.ts';

export interface ReproduceResult {
  modelName: string;
  version: number;
  datasetVersion: number;
  params: unknown;
  registeredSha256: string;
  reproducedSha256: string;
  identical: boolean;
  seconds: number;
}

/**
 * Retrains a registered version from its lineage alone (dataset snapshot, params, seed) and
 * compares the new artifact's hash with the registered one: the proof that the model can be rebuilt.
 */
export async function reproduceVersion(pool: Pool, store: ArtifactStore, modelName: string, version: number, workers?: number): Promise<ReproduceResult> {
  const lineage = await getLineage(pool, modelName, version);
  const manifest = await store.getJson<DatasetManifest>(lineage.dataset.manifestKey);
  const params = TrainParamsSchema.parse(lineage.run.params);
  const started = performance.now();
  const artifact = await fitArtifact(store, manifest, params, workers !== undefined ? { workers } : {});
  const reproducedSha256 = sha256(serializeArtifact(artifact));
  // A version stored in the first releases' gzip JSON is compared in today's format: same model, same bytes.
  let comparedSha256 = lineage.version.artifactSha256;
  const registered = await store.getVerifiedBytes(lineage.version.artifactKey, lineage.version.artifactSha256);
  if (!isCompact(registered)) comparedSha256 = sha256(serializeArtifact(parseArtifact(registered, lineage.version.artifactKey)));
  return {
    modelName,
    version,
    datasetVersion: lineage.dataset.version,
    params,
    registeredSha256: lineage.version.artifactSha256,
    reproducedSha256,
    identical: reproducedSha256 === comparedSha256,
    seconds: (performance.now() - started) / 1000,
  };
}
