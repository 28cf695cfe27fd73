import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { repoRoot } from '../../config.ts';

/** One `httpApi` route of a function: `GET /models/{name}` (the route key API Gateway reports). */
export interface HttpRoute {
  method: string;
  path: string;
  functionKey: string;
}

/** A function as the local gateway runs it: its handler module and export, timeout and environment. */
export interface LocalFunction {
  key: string;
  /** `mlops-pipeline-dev-predict`: the name Lambda gives it. */
  name: string;
  /** The module (absolute path) and its export: `dist/functions/predict.handler`. */
  modulePath: string;
  exportName: string;
  timeoutSeconds: number;
  memorySize: number;
  /** provider.environment and the function's own, with serverless' variables resolved. */
  environment: Record<string, string>;
}

export interface LocalService {
  service: string;
  stage: string;
  region: string;
  functions: Map<string, LocalFunction>;
  routes: HttpRoute[];
}

interface ServerlessYml {
  service: string;
  provider: { region?: string; stage?: string; timeout?: number; memorySize?: number; environment?: Record<string, unknown> };
  custom?: Record<string, unknown>;
  functions: Record<string, { handler: string; timeout?: number; memorySize?: number; environment?: Record<string, unknown>; events?: unknown[] }>;
}

/**
 * Resolves serverless' variables the way `serverless print` does, for the forms serverless.yml uses:
 * `${env:NAME, 'default'}` (a set variable wins, even when empty), `${opt:stage, 'dev'}` (no CLI options
 * here: the fallback), `${self:a.b}`, `${sls:stage}`, sources tried left to right, inner variables first.
 */
export function resolveVariables(value: string, doc: unknown, env: Readonly<Record<string, string | undefined>>, stage: string): string {
  const source = (ref: string): string | undefined => {
    const literal = /^'(.*)'$|^"(.*)"$/.exec(ref);
    if (literal) return literal[1] ?? literal[2];
    const [kind, ...rest] = ref.split(':');
    const name = rest.join(':');
    if (kind === 'env') return env[name];
    if (kind === 'opt') return undefined;
    if (kind === 'sls' && name === 'stage') return stage;
    if (kind === 'self') {
      let node: unknown = doc;
      for (const part of name.split('.')) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
      return node === undefined || node === null || typeof node === 'object' ? undefined : String(node);
    }
    throw new Error(`Unsupported serverless variable source "${ref}" in "${value}"`);
  };
  let text = value;
  for (let depth = 0; depth < 10 && text.includes('${'); depth++) {
    // Innermost first: a variable with no `${` inside it.
    text = text.replace(/\$\{([^${}]*)\}/g, (whole, body: string) => {
      for (const ref of body.split(',').map((s) => s.trim())) {
        const found = source(ref);
        if (found !== undefined) return found;
      }
      throw new Error(`serverless variable ${whole} has no value`);
    });
  }
  return text;
}

/**
 * The functions and HTTP routes of serverless.yml, as the local gateway serves them. The one place that
 * reads the route table (until the service manifest lists it): swap its source here.
 */
export function readLocalService(serverlessYml: string, env: Readonly<Record<string, string | undefined>>, root = repoRoot): LocalService {
  const doc = yaml.load(serverlessYml) as ServerlessYml;
  const stage = resolveVariables(String(doc.provider.stage ?? 'dev'), doc, env, 'dev');
  const resolve = (v: unknown) => resolveVariables(String(v), doc, env, stage);
  const region = resolve(doc.provider.region ?? 'us-east-1');
  const resolveAll = (vars: Record<string, unknown> | undefined) => Object.fromEntries(Object.entries(vars ?? {}).map(([k, v]) => [k, resolve(v)]));
  const providerEnv = resolveAll(doc.provider.environment);
  const functions = new Map<string, LocalFunction>();
  const routes: HttpRoute[] = [];
  for (const [key, f] of Object.entries(doc.functions)) {
    const dot = f.handler.lastIndexOf('.');
    functions.set(key, {
      key,
      name: `${doc.service}-${stage}-${key}`,
      modulePath: path.resolve(root, `${f.handler.slice(0, dot)}.js`),
      exportName: f.handler.slice(dot + 1),
      timeoutSeconds: f.timeout ?? doc.provider.timeout ?? 6,
      memorySize: f.memorySize ?? doc.provider.memorySize ?? 1024,
      environment: { ...providerEnv, ...resolveAll(f.environment) },
    });
    for (const event of f.events ?? []) {
      const httpApi = (event as { httpApi?: { path: string; method: string } }).httpApi;
      if (httpApi) routes.push({ method: httpApi.method.toUpperCase(), path: httpApi.path, functionKey: key });
    }
  }
  return { service: doc.service, stage, region, functions, routes };
}

/** serverless.yml of the repository, read with the given environment. */
export async function loadLocalService(env: Readonly<Record<string, string | undefined>>): Promise<LocalService> {
  return readLocalService(await readFile(path.join(repoRoot, 'serverless.yml'), 'utf8'), env);
}
