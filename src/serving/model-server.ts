import { validateRecord, type TypedRow } from '../dataset/validate.ts';
import { InvalidInput, ModelNotFound } from '../errors.ts';
import { LoadedModel, parseArtifact, type RowPrediction } from '../model/artifact.ts';
import { getAliasVersion, getModelVersion, type Alias } from '../registry/registry.ts';
import type { Pool } from '../storage/mysql.ts';
import type { ArtifactStore } from '../storage/s3.ts';

export interface ModelRef {
  modelName: string;
  version?: number;
  alias?: Alias;
}

export interface Prediction {
  model: { name: string; version: number; alias: Alias | null; dataset: string; datasetVersion: number };
  predictions: RowPrediction[];
}

/**
 * Serves registered models. Versions are immutable, so a loaded version is kept for the life of the
 * container; which version an alias points at is re-read after `aliasTtlMs`, so a new champion is
 * picked up within that time without a redeploy.
 */
export class ModelServer {
  private readonly pool: Pool;
  private readonly store: ArtifactStore;
  private readonly aliasTtlMs: number;
  private readonly models = new Map<string, Promise<{ model: LoadedModel; datasetVersion: number }>>();
  private readonly aliases = new Map<string, { version: number; readAt: number }>();

  constructor(pool: Pool, store: ArtifactStore, aliasTtlMs: number) {
    this.pool = pool;
    this.store = store;
    this.aliasTtlMs = aliasTtlMs;
  }

  async resolveVersion(modelName: string, alias: Alias): Promise<number> {
    const key = `${modelName}\u0000${alias}`;
    const cached = this.aliases.get(key);
    if (cached && Date.now() - cached.readAt < this.aliasTtlMs) return cached.version;
    const version = await getAliasVersion(this.pool, modelName, alias);
    if (version === null) throw new ModelNotFound(`Model ${modelName} has no ${alias} yet: run the pipeline first`);
    this.aliases.set(key, { version, readAt: Date.now() });
    return version;
  }

  load(modelName: string, version: number): Promise<{ model: LoadedModel; datasetVersion: number }> {
    const key = `${modelName}\u0000${version}`;
    let loading = this.models.get(key);
    if (!loading) {
      loading = (async () => {
        const entry = await getModelVersion(this.pool, modelName, version);
        const bytes = await this.store.getVerifiedBytes(entry.artifactKey, entry.artifactSha256);
        return { model: new LoadedModel(parseArtifact(bytes, entry.artifactKey)), datasetVersion: entry.datasetVersion };
      })();
      this.models.set(key, loading);
      // A failed load is not cached: the next request tries again.
      loading.catch(() => this.models.delete(key));
    }
    return loading;
  }

  async predict(ref: ModelRef, records: readonly unknown[]): Promise<Prediction> {
    const alias = ref.version === undefined ? (ref.alias ?? 'champion') : null;
    const version = ref.version ?? (await this.resolveVersion(ref.modelName, alias ?? 'champion'));
    const { model, datasetVersion } = await this.load(ref.modelName, version);
    const rows: TypedRow[] = [];
    const issues: { field: string; message: string }[] = [];
    records.forEach((record, i) => {
      const checked = validateRecord(model.spec, record, { requireTarget: false });
      if (checked.ok) rows.push(checked.row);
      else for (const e of checked.errors) issues.push({ field: records.length === 1 ? e.field : `rows[${i}].${e.field}`, message: e.message });
    });
    if (issues.length > 0) {
      throw new InvalidInput(`Invalid input: ${issues.slice(0, 5).map((e) => `${e.field || '(row)'}: ${e.message}`).join('; ')}`, issues);
    }
    return {
      model: { name: ref.modelName, version, alias, dataset: model.spec.name, datasetVersion },
      predictions: rows.map((row) => model.predictRow(row)),
    };
  }
}
