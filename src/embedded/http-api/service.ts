import path from 'node:path';
import { repoRoot } from '../../config.ts';
import { functionSpecs, httpRoutes, RUNTIME } from '../../service/manifest.ts';
import { sharedEnvironment } from '../../service/serverless.ts';
import { SERVICE, STAGE } from '../../statemachine/definition.ts';
import { REGION } from '../stepfunctions/arns.ts';

/** One HTTP route of a function: `GET /models/{name}` (the route key API Gateway reports). */
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
  /** The settings the deployed function would get (shared and its own), from the given environment. */
  environment: Record<string, string>;
}

export interface LocalService {
  service: string;
  stage: string;
  region: string;
  functions: Map<string, LocalFunction>;
  routes: HttpRoute[];
}

/**
 * The functions and HTTP routes of the service manifest (src/service/manifest.ts), as the local gateway
 * serves them: the same table serverless.yml's functions and the router are made from.
 */
export function localService(env: Readonly<Record<string, string | undefined>>, root = repoRoot): LocalService {
  const functions = new Map<string, LocalFunction>();
  for (const [key, spec] of functionSpecs()) {
    const dot = spec.handler.lastIndexOf('.');
    const own = Object.fromEntries((spec.ownSettings ?? []).flatMap((setting) => (env[setting] ? [[setting, env[setting]]] : [])));
    functions.set(key, {
      key,
      name: `${SERVICE}-${STAGE}-${key}`,
      modulePath: path.resolve(root, `dist/${spec.handler.slice(0, dot)}.js`),
      exportName: spec.handler.slice(dot + 1),
      timeoutSeconds: spec.timeout,
      memorySize: spec.memorySize ?? RUNTIME.memorySize,
      environment: { ...sharedEnvironment(env), ...own },
    });
  }
  const routes = httpRoutes().map((route) => ({ method: route.method, path: route.path, functionKey: route.function }));
  return { service: SERVICE, stage: STAGE, region: env.AWS_REGION || REGION, functions, routes };
}
