// Clients of the Step Functions API for tests: @aws-sdk/client-sfn and the AWS CLI, and the checks
// every history must pass (AWS's event type names, ids, the previousEventId chain).
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, HistoryEventType, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';

export const sfnClient = (endpoint: string): SFNClient =>
  new SFNClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });

/** Debian's AWS CLI (`apt-get install awscli`) when present, else the first `aws` on PATH. */
export const awsCli = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

/** `aws --endpoint-url <endpoint> stepfunctions <args…> --output json`, parsed. */
export async function aws(endpoint: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(awsCli, ['--endpoint-url', endpoint, '--output', 'json', 'stepfunctions', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_DEFAULT_REGION: 'us-east-1', AWS_PAGER: '' },
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

/** The AWS CLI's error for a failed command: its stderr (`An error occurred (<Type>) when calling …`). */
export async function awsError(endpoint: string, ...args: string[]): Promise<string> {
  try {
    await aws(endpoint, ...args);
  } catch (error) {
    return String((error as { stderr?: unknown }).stderr ?? error);
  }
  throw new Error(`aws stepfunctions ${args.join(' ')} succeeded`);
}

/** One call of the JSON 1.0 protocol, answered as raw JSON (what the clients parse). */
export async function rawCall(endpoint: string, operation: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `AWSStepFunctions.${operation}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The whole history as the endpoint sends it (raw JSON events). */
export async function rawHistory(endpoint: string, executionArn: string): Promise<Record<string, unknown>[]> {
  const { status, body } = await rawCall(endpoint, 'GetExecutionHistory', { executionArn, maxResults: 1000 });
  assert.equal(status, 200, JSON.stringify(body));
  assert.equal(body.nextToken, undefined);
  return body.events as Record<string, unknown>[];
}

/** Polls DescribeExecution until the execution is no longer RUNNING. */
export async function waitForExecution(client: SFNClient, executionArn: string, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await client.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    if (Date.now() > deadline) throw new Error(`${executionArn} still RUNNING after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function history(client: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

type ServiceModel = { shapes: Record<string, { enum?: string[]; members?: Record<string, unknown>; required?: string[] }> };

/**
 * botocore's stepfunctions service model: the AWS CLI's (Debian's awscli package) or the one of the
 * machine's python3 botocore, whichever is newest (the most HistoryEventType values; Debian 12's
 * awscli 2.9 predates redrive).
 */
export function botocoreModel(): ServiceModel | null {
  const roots = ['/usr/lib/python3/dist-packages/awscli/botocore/data/stepfunctions', '/usr/lib/python3/dist-packages/botocore/data/stepfunctions'];
  try {
    const dir = execFileSync('python3', ['-c', 'import botocore, os; print(os.path.dirname(botocore.__file__))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dir) roots.push(path.join(dir, 'data', 'stepfunctions'));
  } catch {
    // no python3 botocore
  }
  let best: ServiceModel | null = null;
  for (const root of roots) {
    if (!existsSync(root)) continue;
    for (const version of readdirSync(root)) {
      for (const file of ['service-2.json', 'service-2.json.gz']) {
        const p = path.join(root, version, file);
        if (!existsSync(p)) continue;
        const raw = readFileSync(p);
        const model = JSON.parse((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as ServiceModel;
        const size = (m: ServiceModel | null) => m?.shapes.HistoryEventType?.enum?.length ?? 0;
        if (size(model) > size(best)) best = model;
      }
    }
  }
  return best;
}

/**
 * What AWS documents for every history: the types are HistoryEventType values (botocore's model and
 * the SDK's enum), ids run 1, 2, 3 … (in the order returned), every previousEventId points at an
 * earlier event (0 for the first), and the details member of each event is the one its type names.
 */
export function assertHistoryShape(events: readonly Record<string, unknown>[]): void {
  // A model older than redrive (Debian 12's awscli 2.9) cannot judge the newer types: the SDK's enum does.
  const found = botocoreModel();
  const model = found?.shapes.HistoryEventType?.enum?.includes('ExecutionRedriven') ? found : null;
  const modelTypes = new Set(model?.shapes.HistoryEventType?.enum ?? []);
  const sdkTypes = new Set<string>(Object.values(HistoryEventType));
  const eventMembers = new Set(Object.keys(model?.shapes.HistoryEvent?.members ?? {}));
  assert.ok(events.length > 0, 'a history has events');
  events.forEach((e, i) => {
    assert.equal(e.id, i + 1, `event ${i} has id ${i + 1}`);
    assert.ok(sdkTypes.has(String(e.type)), `${e.type} is a HistoryEventType of @aws-sdk/client-sfn`);
    if (model) assert.ok(modelTypes.has(String(e.type)), `${e.type} is in botocore's HistoryEventType enum`);
    assert.ok(typeof e.timestamp === 'number' && e.timestamp > 1.6e9 && e.timestamp < 1e11, `timestamp ${e.timestamp} is in epoch seconds`);
    assert.ok(
      typeof e.previousEventId === 'number' && e.previousEventId >= 0 && e.previousEventId < Number(e.id),
      `previousEventId of ${e.id} (${e.previousEventId}) points back`,
    );
    if (i === 0) assert.equal(e.previousEventId, 0);
    for (const key of Object.keys(e)) {
      if (['id', 'previousEventId', 'type', 'timestamp'].includes(key)) continue;
      if (model) assert.ok(eventMembers.has(key), `${key} is a HistoryEvent member in botocore's model`);
      const type = String(e.type);
      const expected = type.endsWith('StateEntered')
        ? 'stateEnteredEventDetails'
        : type.endsWith('StateExited')
          ? 'stateExitedEventDetails'
          : `${type[0].toLowerCase()}${type.slice(1)}EventDetails`;
      assert.equal(key, expected, `${type} carries ${expected}`);
    }
  });
  assert.equal(events[0].type, 'ExecutionStarted');
}
