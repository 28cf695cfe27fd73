import { prepareRecord } from '../dataset/transforms.ts';
import type { TypedRow } from '../dataset/validate.ts';
import { InvalidInput, ModelNotFound, ModelUnavailable, PipelineError, StorageUnavailable } from '../errors.ts';
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
  /** Present when the answer is degraded, e.g. served by the last good champion because the new one cannot load. */
  warnings?: string[];
}

export interface ModelServerOptions {
  /** How long a failed load of a version is remembered before it is tried again (default: max(aliasTtlMs, 1000)). */
  retryFailedLoadMs?: number;
  /** Versions kept in memory besides the ones aliases currently fall back on (default 4). */
  maxModels?: number;
  /** Where problems are reported (a structured line each); the handler passes its logger. */
  warn?: (event: Record<string, unknown>) => void;
}

/** At most this many per-row issues go back to the client (the message says how many there were). */
const MAX_ISSUES = 100;

interface Loaded {
  model: LoadedModel;
  datasetVersion: number;
}

/**
 * Serves registered models. Versions are immutable, so a loaded version is kept (a few, least
 * recently used first out); which version an alias points at is re-read after `aliasTtlMs`, so a new
 * champion is picked up within that time without a redeploy.
 *
 * Degrades instead of failing: when an alias moves to a version whose artifact cannot be loaded
 * (missing, altered, unreadable, S3 down), the last version that alias served keeps serving and the
 * answer carries `warnings`; when MySQL cannot be read, the alias's last known version is used. A
 * failed load is retried at most every `retryFailedLoadMs`, so a broken artifact is not downloaded
 * again on every request. A version asked for by number gets a clear error instead (ModelUnavailable,
 * 503), never a misleading 404.
 */
export class ModelServer {
  private readonly pool: Pool;
  private readonly store: ArtifactStore;
  private readonly aliasTtlMs: number;
  private readonly retryFailedLoadMs: number;
  private readonly maxModels: number;
  private readonly warn: (event: Record<string, unknown>) => void;
  private readonly models = new Map<string, Promise<Loaded>>();
  private readonly failures = new Map<string, { error: Error; at: number }>();
  private readonly aliases = new Map<string, { version: number; readAt: number }>();
  /** alias key → the last version that alias served successfully. */
  private readonly lastGood = new Map<string, number>();

  constructor(pool: Pool, store: ArtifactStore, aliasTtlMs: number, options: ModelServerOptions = {}) {
    this.pool = pool;
    this.store = store;
    this.aliasTtlMs = aliasTtlMs;
    this.retryFailedLoadMs = options.retryFailedLoadMs ?? Math.max(aliasTtlMs, 1000);
    this.maxModels = Math.max(1, options.maxModels ?? 4);
    this.warn = options.warn ?? (() => undefined);
  }

  async resolveVersion(modelName: string, alias: Alias): Promise<number> {
    return (await this.resolveAlias(modelName, alias, [])).version;
  }

  private async resolveAlias(modelName: string, alias: Alias, warnings: string[]): Promise<{ version: number }> {
    const key = aliasKey(modelName, alias);
    const cached = this.aliases.get(key);
    if (cached && Date.now() - cached.readAt < this.aliasTtlMs) return cached;
    let version: number | null;
    try {
      version = await getAliasVersion(this.pool, modelName, alias);
    } catch (error) {
      // The registry cannot be read: the alias's last known version is better than no answer.
      if (!(error instanceof StorageUnavailable) || !cached) throw error;
      const age = Math.round((Date.now() - cached.readAt) / 1000);
      warnings.push(`the registry could not be read (${error.message}); serving ${alias} version ${cached.version} as read ${age}s ago`);
      this.warn({ event: 'registry_unavailable', model: modelName, alias, version: cached.version, error: error.name, message: error.message });
      return cached;
    }
    if (version === null) throw new ModelNotFound(`Model ${modelName} has no ${alias} yet: run the pipeline first`);
    const entry = { version, readAt: Date.now() };
    this.aliases.set(key, entry);
    return entry;
  }

  /** The model of one version, loaded once and verified against the registry's hash. */
  load(modelName: string, version: number): Promise<Loaded> {
    const key = versionKey(modelName, version);
    const loading = this.models.get(key);
    if (loading) {
      // Least recently used goes first: move this one to the end.
      this.models.delete(key);
      this.models.set(key, loading);
      return loading;
    }
    const failed = this.failures.get(key);
    if (failed && Date.now() - failed.at < this.retryFailedLoadMs) return Promise.reject(failed.error);
    const started = (async (): Promise<Loaded> => {
      const entry = await getModelVersion(this.pool, modelName, version);
      try {
        const bytes = await this.store.getVerifiedBytes(entry.artifactKey, entry.artifactSha256);
        return { model: new LoadedModel(parseArtifact(bytes, entry.artifactKey)), datasetVersion: entry.datasetVersion };
      } catch (error) {
        // S3 being down is worth a retry by the client; anything else is a broken artifact.
        if (error instanceof StorageUnavailable) throw error;
        const name = error instanceof Error ? error.name : 'Error';
        const message = error instanceof Error ? error.message : String(error);
        throw new ModelUnavailable(`Model ${modelName} version ${version} cannot be served: ${name}: ${message}`, { cause: error });
      }
    })();
    this.models.set(key, started);
    started.then(
      () => {
        this.failures.delete(key);
        this.evict();
      },
      (error: unknown) => {
        // A failed load is not kept: the next request after `retryFailedLoadMs` tries again.
        this.models.delete(key);
        const err = error instanceof Error ? error : new Error(String(error));
        // A version that does not exist (yet) is the client's mistake, not remembered: it may be registered any moment.
        if (err instanceof ModelNotFound) return;
        this.failures.set(key, { error: err, at: Date.now() });
        this.warn({ event: 'model_load_failed', model: modelName, version, error: err.name, message: err.message });
      },
    );
    return started;
  }

  /** Drops least recently used versions beyond `maxModels`, never one an alias falls back on. */
  private evict(): void {
    const pinned = new Set([...this.lastGood].map(([alias, version]) => versionKey(alias.split('\u0000')[0], version)));
    let excess = this.models.size - this.maxModels - pinned.size;
    for (const key of this.models.keys()) {
      if (excess <= 0) break;
      if (pinned.has(key)) continue;
      this.models.delete(key);
      excess--;
    }
  }

  async predict(ref: ModelRef, records: readonly unknown[]): Promise<Prediction> {
    const warnings: string[] = [];
    let alias: Alias | null = null;
    let version: number;
    let loaded: Loaded;
    if (ref.version !== undefined) {
      version = ref.version;
      loaded = await this.load(ref.modelName, version);
    } else {
      alias = ref.alias ?? 'champion';
      version = (await this.resolveAlias(ref.modelName, alias, warnings)).version;
      const key = aliasKey(ref.modelName, alias);
      try {
        loaded = await this.load(ref.modelName, version);
        this.lastGood.set(key, version);
      } catch (error) {
        const good = this.lastGood.get(key);
        if (good === undefined || good === version || error instanceof InvalidInput) throw error;
        loaded = await this.load(ref.modelName, good);
        const reason = error instanceof PipelineError ? error.message : String(error);
        warnings.push(
          `${alias} of ${ref.modelName} is version ${version}, which cannot be served (${reason}); serving version ${good}, the last ${alias} that loaded`,
        );
        version = good;
      }
    }
    const { model, datasetVersion } = loaded;
    const rows: TypedRow[] = [];
    const issues: { field: string; message: string }[] = [];
    let issueCount = 0;
    for (let i = 0; i < records.length; i++) {
      const checked = prepareRecord(model.spec, records[i]);
      if (checked.ok) {
        rows.push(checked.row);
        continue;
      }
      for (const e of checked.errors) {
        issueCount++;
        if (issues.length < MAX_ISSUES) {
          const field = records.length === 1 ? e.field : e.field ? `rows[${i}].${e.field}` : `rows[${i}]`;
          issues.push({ field, message: e.message });
        }
      }
    }
    if (issueCount > 0) {
      const more = issueCount > 5 ? ` (and ${issueCount - 5} more)` : '';
      throw new InvalidInput(
        `Invalid input: ${issues
          .slice(0, 5)
          .map((e) => `${e.field || '(row)'}: ${e.message}`)
          .join('; ')}${more}`,
        issues,
      );
    }
    return {
      model: { name: ref.modelName, version, alias, dataset: model.spec.name, datasetVersion },
      predictions: model.predictRows(rows),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }
}

const aliasKey = (modelName: string, alias: Alias) => `${modelName}\u0000${alias}`;
const versionKey = (modelName: string, version: number) => `${modelName}\u0000${version}`;
