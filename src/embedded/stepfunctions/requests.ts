import { z } from 'zod';
import { SfnApiError } from './errors.ts';

/**
 * The requests the endpoint serves, as zod schemas derived from botocore's `stepfunctions` service
 * model (`<Operation>Input` shapes: required members, enums, page sizes). Members the embedded
 * runtime does not use (tags, logging, tracing, encryption) are accepted and ignored, as unknown
 * members are by AWS's JSON protocol.
 */
const arn = z.string().min(1).max(256);
const pageSize = z.number().int().min(0).max(1000);
const pageToken = z.string().min(1).max(3096);
const executionStatus = z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']);
const sensitiveError = z.string().max(256);
const sensitiveCause = z.string().max(32768);

export const requestSchemas = {
  ListStateMachines: z.object({ maxResults: pageSize.optional(), nextToken: pageToken.optional() }),
  DescribeStateMachine: z.object({ stateMachineArn: arn, includedData: z.enum(['ALL_DATA', 'METADATA_ONLY']).optional() }),
  DescribeStateMachineForExecution: z.object({ executionArn: arn, includedData: z.enum(['ALL_DATA', 'METADATA_ONLY']).optional() }),
  CreateStateMachine: z.object({
    name: z.string(),
    definition: z.string().min(1).max(1048576),
    roleArn: arn,
    type: z.enum(['STANDARD', 'EXPRESS']).optional(),
  }),
  UpdateStateMachine: z.object({ stateMachineArn: arn, definition: z.string().min(1).max(1048576).optional(), roleArn: arn.optional() }),
  DeleteStateMachine: z.object({ stateMachineArn: arn }),
  StartExecution: z.object({ stateMachineArn: arn, name: z.string().optional(), input: z.string().optional(), traceHeader: z.string().max(256).optional() }),
  DescribeExecution: z.object({ executionArn: arn, includedData: z.enum(['ALL_DATA', 'METADATA_ONLY']).optional() }),
  ListExecutions: z.object({
    stateMachineArn: arn.optional(),
    statusFilter: executionStatus.optional(),
    maxResults: pageSize.optional(),
    nextToken: pageToken.optional(),
    mapRunArn: z.string().optional(),
    redriveFilter: z.enum(['REDRIVEN', 'NOT_REDRIVEN']).optional(),
  }),
  GetExecutionHistory: z.object({
    executionArn: arn,
    maxResults: pageSize.optional(),
    reverseOrder: z.boolean().optional(),
    nextToken: pageToken.optional(),
    includeExecutionData: z.boolean().optional(),
  }),
  StopExecution: z.object({ executionArn: arn, error: sensitiveError.optional(), cause: sensitiveCause.optional() }),
  RedriveExecution: z.object({ executionArn: arn, clientToken: z.string().min(1).max(64).optional() }),
} as const;

export type Operation = keyof typeof requestSchemas;
export type RequestOf<O extends Operation> = z.infer<(typeof requestSchemas)[O]>;

export const isOperation = (name: string): name is Operation => Object.hasOwn(requestSchemas, name);

/** Parses a request body; a bad one is a ValidationException naming the member, as AWS answers. */
export function parseRequest<O extends Operation>(operation: O, body: unknown): RequestOf<O> {
  const result = requestSchemas[operation].safeParse(body ?? {});
  if (!result.success) {
    const issues = result.error.issues;
    const detail = issues.map((i) => `Value at '${i.path.join('.') || '(body)'}' failed to satisfy constraint: ${i.message}`).join('; ');
    throw new SfnApiError('ValidationException', `${issues.length} validation error${issues.length === 1 ? '' : 's'} detected: ${detail}`);
  }
  return result.data as RequestOf<O>;
}
