import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../config.ts';

/** serverless.yml's service and the stage the local runtimes use: functions are `<service>-<stage>-<key>`, the state machine `<service>-<stage>`. */
export const SERVICE = 'mlops-pipeline';
export const STAGE = 'dev';

/** The one state machine definition every runtime runs. */
export const DEFINITION_PATH = path.join(repoRoot, 'statemachine', 'pipeline.asl.json');

/** `${FetchFunctionArn}` names the serverless.yml function `fetch`; `${RecordFailureFunctionArn}`, `recordFailure`. */
const PLACEHOLDER = /\$\{([A-Z][A-Za-z0-9]*)FunctionArn\}/g;

export const functionKeyOf = (placeholderName: string): string => placeholderName[0].toLowerCase() + placeholderName.slice(1);

export async function readDefinitionText(): Promise<string> {
  return readFile(DEFINITION_PATH, 'utf8');
}

/** The serverless.yml function keys the definition refers to. */
export function referencedFunctions(definitionText: string): string[] {
  return [...new Set([...definitionText.matchAll(PLACEHOLDER)].map((m) => functionKeyOf(m[1])))].sort();
}

/** Replaces each `${XFunctionArn}` with what `resolve` gives for function key `x` (a name or an ARN). */
export function substituteFunctions(definitionText: string, resolve: (functionKey: string) => string): Record<string, unknown> {
  const text = definitionText.replace(PLACEHOLDER, (_, name: string) => resolve(functionKeyOf(name)));
  return JSON.parse(text) as Record<string, unknown>;
}
