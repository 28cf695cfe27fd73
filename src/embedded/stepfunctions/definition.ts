import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { LAMBDA_FUNCTION_ARN } from '../../schemas.ts';
import { SfnApiError } from './errors.ts';

/** The part of an ASL state this runtime looks at. */
export interface AslState {
  Type?: string;
  Resource?: string;
  TimeoutSeconds?: number;
  ItemsPath?: string;
  States?: AslStates;
  ItemProcessor?: { StartAt: string; States: AslStates };
  Iterator?: { StartAt: string; States: AslStates };
  Branches?: { StartAt: string; States: AslStates }[];
  [field: string]: unknown;
}
export type AslStates = Record<string, AslState>;
export interface AslDefinition {
  StartAt: string;
  States: AslStates;
  [field: string]: unknown;
}

/** The optimized Lambda integration: Parameters `{FunctionName, Payload}`. */
export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,140}$/;

/** What a Task's Resource calls: a function named by ARN (or bare name), or the `lambda:invoke` integration. */
export type TaskTarget = { kind: 'function'; resource: string; functionName: string } | { kind: 'invoke'; resource: string };

export function taskTarget(resource: string): TaskTarget | null {
  if (resource === LAMBDA_INVOKE) return { kind: 'invoke', resource };
  const arn = LAMBDA_FUNCTION_ARN.exec(resource);
  if (arn) return { kind: 'function', resource, functionName: arn[4] };
  if (FUNCTION_NAME.test(resource)) return { kind: 'function', resource, functionName: resource };
  return null;
}

/** The function name of `lambda:invoke`'s FunctionName parameter (a name or an ARN). */
export function functionNameOf(nameOrArn: string): string {
  return LAMBDA_FUNCTION_ARN.exec(nameOrArn)?.[4] ?? nameOrArn;
}

/** Every state, nested ones included, by name (names must not repeat with different Resources). */
export function everyState(states: AslStates, into = new Map<string, AslState>()): Map<string, AslState> {
  for (const [name, state] of Object.entries(states)) {
    const known = into.get(name);
    if (known && known.Type === 'Task' && state.Type === 'Task' && known.Resource !== state.Resource) {
      throw new SfnApiError('InvalidDefinition', `Invalid State Machine Definition: two Task states named '${name}' call different resources`);
    }
    into.set(name, state);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) everyState(nested.States, into);
    for (const branch of state.Branches ?? []) everyState(branch.States, into);
  }
  return into;
}

/** Every Task state, nested ones included, by name → its Resource. */
export function taskResources(states: AslStates): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, state] of everyState(states)) if (state.Type === 'Task' && state.Resource) out.set(name, state.Resource);
  return out;
}

/**
 * Parses and validates a definition the way CreateStateMachine does (InvalidDefinition otherwise):
 * valid ASL (asl-validator, through aws-local-stepfunctions), and every Task calls something this
 * runtime can run — a Lambda function of the project, by ARN or name, or `lambda:invoke`.
 */
export function parseDefinition(text: string): AslDefinition {
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch (error) {
    throw new SfnApiError('InvalidDefinition', `Invalid State Machine Definition: '${(error as Error).message}'`);
  }
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new SfnApiError('InvalidDefinition', 'Invalid State Machine Definition: the definition is not a JSON object');
  }
  try {
    new StateMachine(definition as StateMachineDefinition, { validationOptions: { checkArn: false } });
  } catch (error) {
    throw new SfnApiError('InvalidDefinition', `Invalid State Machine Definition: ${(error as Error).message.replace(/\s+/g, ' ').trim()}`);
  }
  const asl = definition as AslDefinition;
  for (const [name, resource] of taskResources(asl.States)) {
    if (!taskTarget(resource)) {
      throw new SfnApiError(
        'InvalidDefinition',
        `Invalid State Machine Definition: the Task state '${name}' calls '${resource}'; this runtime runs Lambda functions (a function ARN or name, or ${LAMBDA_INVOKE})`,
      );
    }
  }
  return asl;
}
