// Which datasets the data API serves, and from where. Settings come from the caller (the handler
// reads the config); nothing here reads the environment.
import { loadDatasetRows } from '../dataset/layouts.ts';
import { readDatasetSpecFile, type DatasetSpec } from '../dataset/spec.ts';
import { DatasetSourceUnavailable, NotFound } from '../errors.ts';
import { DATASET_NAME } from '../schemas.ts';

export interface DataSourceSettings {
  /** Spec file of the default dataset, served when a request names none. */
  defaultSpecPath: string;
  /** Its CSV (path or URL). */
  defaultSourcePath: string;
  /** Folder of `<name>.spec.json` files for the other datasets. */
  specsDir: string;
  /** Dataset name → CSV path or URL, for the other datasets (and to override the default's). */
  sources: Readonly<Record<string, string>>;
  /** Turns a configured path into a readable one (repo-relative paths → absolute). */
  resolve: (path: string) => string;
  /** The names of the settings that give the default dataset's source and the others' (for error messages). */
  settingNames: { defaultSource: string; sources: string };
}

export interface ServedDataset {
  spec: DatasetSpec;
  /** The rows in spec column order, as strings (what `GET /data` samples). */
  rows: string[][];
  source: string;
}

/**
 * Loads each served dataset once (per container) and keeps it. A failed load is forgotten, so the
 * next request tries again.
 */
export class DataSources {
  private readonly settings: DataSourceSettings;
  private defaultSpec: Promise<DatasetSpec> | undefined;
  private readonly loaded = new Map<string, Promise<ServedDataset>>();

  constructor(settings: DataSourceSettings) {
    this.settings = settings;
  }

  /** Name of the dataset served when a request names none. */
  async defaultName(): Promise<string> {
    return (await this.readDefaultSpec()).name;
  }

  /** Every dataset name that has a configured source (the default one first). */
  async names(): Promise<string[]> {
    return [...new Set([await this.defaultName(), ...Object.keys(this.settings.sources)])];
  }

  /** The dataset `name` (the default one when undefined); NotFound if it is not served. */
  dataset(name?: string): Promise<ServedDataset> {
    const key = name ?? '';
    let entry = this.loaded.get(key);
    if (!entry) {
      entry = this.load(name);
      this.loaded.set(key, entry);
      entry.catch(() => this.loaded.delete(key));
    }
    return entry;
  }

  private readDefaultSpec(): Promise<DatasetSpec> {
    this.defaultSpec ??= readDatasetSpecFile(this.settings.resolve(this.settings.defaultSpecPath)).catch((error: unknown) => {
      this.defaultSpec = undefined;
      throw error;
    });
    return this.defaultSpec;
  }

  private async load(name: string | undefined): Promise<ServedDataset> {
    const { settings } = this;
    const defaultSpec = await this.readDefaultSpec();
    const wanted = name ?? defaultSpec.name;
    if (!DATASET_NAME.test(wanted)) throw new NotFound(`No dataset named ${JSON.stringify(wanted)}`);
    const configured = settings.sources[wanted] ?? (wanted === defaultSpec.name ? settings.defaultSourcePath : undefined);
    if (configured === undefined) {
      throw new NotFound(`The data API serves no dataset named ${wanted} (it serves: ${(await this.names()).join(', ')})`);
    }
    let spec = defaultSpec;
    if (wanted !== defaultSpec.name) {
      spec = await readDatasetSpecFile(settings.resolve(`${settings.specsDir}/${wanted}.spec.json`)).catch((error: unknown) => {
        if ((error as { code?: string }).code === 'ENOENT')
          throw new NotFound(`Dataset ${wanted} has a source but no spec ${settings.specsDir}/${wanted}.spec.json`);
        throw error;
      });
    }
    const source = settings.resolve(configured);
    const rows = await loadDatasetRows(spec, source).catch((error: unknown) => {
      const setting = settings.sources[wanted] !== undefined ? settings.settingNames.sources : settings.settingNames.defaultSource;
      const code = (error as { code?: unknown }).code;
      const reason = code === 'ENOENT' ? 'no such file' : (error as Error).message;
      throw new DatasetSourceUnavailable(
        `The data API cannot read dataset ${wanted} from ${source}: ${reason} (the ${setting} setting gives its path or URL)`,
        {
          cause: error,
        },
      );
    });
    return { spec, rows: shareValues(rows), source };
  }
}

/**
 * Equal values share one string. A served dataset is millions of short strings kept for the life of
 * the container; with the functions of the embedded stack in one process, every full GC walks them
 * (Covertype: ~6 M strings, pauses of several hundred ms under the predict route's load). Shared,
 * they are a few thousand.
 */
function shareValues(rows: string[][]): string[][] {
  const seen = new Map<string, string>();
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const shared = seen.get(row[i]);
      if (shared === undefined) seen.set(row[i], row[i]);
      else row[i] = shared;
    }
  }
  return rows;
}
