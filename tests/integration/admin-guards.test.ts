// The guards of the routes that change the registry or start runs, through the real HTTP routes on
// serverless-offline (the embedded stack): the admin token (401 without, 403 wrong, never touching the
// registry), and the artifact check of rollback and manual promotion (409 with the reason, champion unchanged).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../src/config.ts';
import { ensureRegisteredModel, getAliasVersion, listPromotions, lockModel, recordPromotion, registerVersion, setAlias } from '../../src/registry/registry.ts';
import { EmbeddedStack } from '../../src/embedded/stack.ts';
import { dropDatabase, inTransaction } from '../../src/storage/mysql.ts';
import { sha256 } from '../../src/storage/s3.ts';
import { testBucket, testMysql } from '../helpers/env.ts';

const mysql = testMysql('guards');
const bucket = testBucket('guards');
const TOKEN = 'guards-test-admin-token-5f2c9e1a7b';
const MODEL = 'covertype';
let stack: EmbeddedStack;
let tmp: string;

const call = async (method: string, route: string, body?: unknown, token?: string) => {
  const response = await fetch(`${stack.baseUrl}${route}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** What the registry looks like: the champion and the promotion history, which a refused request must leave as they were. */
const registryState = async () => ({
  champion: await getAliasVersion(stack.pool!, MODEL, 'champion'),
  promotions: (await listPromotions(stack.pool!, MODEL)).length,
});
const executionCount = async () => ((await call('GET', '/executions')).body.executions as unknown[]).length;

/** Registers a version whose artifact in S3 is `stored` (none when null), recorded with the hash of `recorded`. */
async function registerWithArtifact(n: number, stored: string | null, recorded: string): Promise<number> {
  const artifactKey = `models/${MODEL}/runs/guard-${n}/model.json.gz`;
  if (stored !== null) await stack.store!.putBytes(artifactKey, Buffer.from(stored));
  await ensureRegisteredModel(stack.pool!, MODEL);
  return inTransaction(stack.pool!, (tx) =>
    registerVersion(tx, {
      modelName: MODEL,
      runId: `00000000-0000-4000-8000-00000000000${n}`,
      dataset: MODEL,
      datasetVersion: 1,
      artifactKey,
      artifactSha256: sha256(Buffer.from(recorded)),
      inputSchema: { features: [] },
      testMetrics: { accuracy: 0.5 + n / 100 },
    }),
  );
}

async function promote(version: number, requestId: string): Promise<void> {
  await inTransaction(stack.pool!, async (tx) => {
    await lockModel(tx, MODEL);
    const previous = await getAliasVersion(tx, MODEL, 'champion');
    await setAlias(tx, MODEL, 'champion', version);
    await recordPromotion(tx, {
      requestId,
      modelName: MODEL,
      action: 'promoted',
      candidateVersion: version,
      previousVersion: previous,
      metric: 'accuracy',
      candidateScore: 0.9,
      championScore: null,
      minGain: 0,
      reason: 'test setup',
    });
  });
}

/** Runs the CLI as a user would, against the test stack, with the given environment on top of this one's. */
function cli(env: Record<string, string | undefined>, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'scripts/cli.ts'), ...args, '--api', stack.baseUrl], {
      cwd: tmp,
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

let intact: number;
let champion: number;
let altered: number;
let missing: number;

describe('admin guards on the real HTTP routes (serverless-offline)', { timeout: 300_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-guards-'));
    stack = new EmbeddedStack({ mysql, bucket, s3Directory: path.join(tmp, 's3'), adminToken: TOKEN });
    await stack.start();
    intact = await registerWithArtifact(1, 'model one', 'model one');
    champion = await registerWithArtifact(2, 'model two', 'model two');
    altered = await registerWithArtifact(3, 'model three, altered after registration', 'model three');
    missing = await registerWithArtifact(4, null, 'model four');
    await promote(intact, 'setup-1');
    await promote(champion, 'setup-2');
  });

  after(async () => {
    await stack?.stop();
    await dropDatabase(mysql).catch(() => undefined);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const guarded: [string, string, unknown][] = [
    ['POST', `/models/${MODEL}/rollback`, { reason: 'guard test' }],
    ['POST', `/models/${MODEL}/champion`, { version: 1, reason: 'guard test' }],
    ['POST', '/executions', { batches: 1 }],
  ];

  test('without a token every guarded route is 401, with a wrong one 403, and neither touches the registry or starts a run', async () => {
    const state = await registryState();
    const executions = await executionCount();
    for (const [method, route, body] of guarded) {
      const none = await call(method, route, body);
      assert.equal(none.status, 401, `${route} without a token: ${JSON.stringify(none.body)}`);
      assert.equal(none.body.error, 'Unauthorized');
      assert.match(String(none.body.message), /needs the admin token/);
      const wrong = await call(method, route, body, `${TOKEN.slice(0, -1)}x`);
      assert.equal(wrong.status, 403, `${route} with a wrong token: ${JSON.stringify(wrong.body)}`);
      assert.equal(wrong.body.error, 'Forbidden');
    }
    assert.deepEqual(await registryState(), state, 'champion and history unchanged');
    assert.equal(await executionCount(), executions, 'no execution started');
    // Reads stay open.
    assert.equal((await call('GET', `/models/${MODEL}`)).status, 200);
  });

  test('rollback and manual promotion refuse an altered or missing artifact with 409 and the reason; the champion stays', async () => {
    const state = await registryState();
    const refusals: [string, unknown, RegExp][] = [
      [`/models/${MODEL}/rollback`, { version: altered, reason: 'to the altered one' }, /sha256 [0-9a-f]{64}, the registry recorded/],
      [`/models/${MODEL}/rollback`, { version: missing, reason: 'to the missing one' }, /not found/i],
      [`/models/${MODEL}/champion`, { version: altered, reason: 'the altered one' }, /sha256 [0-9a-f]{64}, the registry recorded/],
      [`/models/${MODEL}/champion`, { version: missing, reason: 'the missing one' }, /not found/i],
    ];
    for (const [route, body, reason] of refusals) {
      const r = await call('POST', route, body, TOKEN);
      assert.equal(r.status, 409, `${route} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'Conflict');
      assert.match(String(r.body.message), /cannot serve/);
      assert.match(String(r.body.message), reason);
      assert.deepEqual(await registryState(), state, `${route} ${JSON.stringify(body)} changed the registry`);
    }
  });

  test('with the token and an intact artifact, rollback and manual promotion go through', async () => {
    const back = await call('POST', `/models/${MODEL}/rollback`, { reason: 'back to v1' }, TOKEN);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.candidateVersion, intact);
    assert.equal(await getAliasVersion(stack.pool!, MODEL, 'champion'), intact);
    const forward = await call('POST', `/models/${MODEL}/champion`, { version: champion, reason: 'v2 again' }, TOKEN);
    assert.equal(forward.status, 200, JSON.stringify(forward.body));
    assert.equal(await getAliasVersion(stack.pool!, MODEL, 'champion'), champion);
  });

  test('the CLI sends ADMIN_TOKEN; with a wrong one it is refused and says where the token is', async () => {
    const refused = await cli({ ADMIN_TOKEN: 'not-the-admin-token-at-all' }, 'rollback', MODEL, '--reason', 'cli, wrong token');
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /403 Forbidden/);
    assert.match(refused.out, /ADMIN_TOKEN.*\.local\/admin-token/s);
    assert.equal(await getAliasVersion(stack.pool!, MODEL, 'champion'), champion);
    const rolled = await cli({ ADMIN_TOKEN: TOKEN }, 'rollback', MODEL, '--reason', 'cli rollback');
    assert.equal(rolled.code, 0, rolled.out);
    assert.equal(await getAliasVersion(stack.pool!, MODEL, 'champion'), intact);
  });
});
