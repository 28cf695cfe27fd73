import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, test } from 'node:test';
import yaml from 'js-yaml';
import { repoRoot } from '../../src/config.ts';
import { loadSettings } from '../../localstack/settings.ts';

const require = createRequire(import.meta.url);
interface AjvLike {
  addFormat(name: string, format: boolean): void;
  validate(schema: unknown, data: unknown): boolean;
  errorsText(errors?: unknown): string;
  errors?: unknown;
}
// ajv (a dev dependency) validates against the Compose schema, which is draft 2019-09.
const Ajv2019 = (require('ajv/dist/2019') as { default: new (options: Record<string, unknown>) => AjvLike }).default;

const composeText = await readFile(path.join(repoRoot, 'compose.yaml'), 'utf8');
const compose = yaml.load(composeText) as {
  services: Record<
    string,
    {
      image: string;
      healthcheck?: unknown;
      environment?: Record<string, string>;
      volumes?: string[];
      ports?: string[];
      depends_on?: Record<string, { condition: string }>;
      networks?: string[];
    }
  >;
  volumes: Record<string, unknown>;
  networks: Record<string, { name: string }>;
};
const envExample = parseEnv(await readFile(path.join(repoRoot, '.env.example'), 'utf8'));

describe('compose.yaml', () => {
  test('is valid against the Compose Specification JSON schema', async () => {
    // Its "$schema" is the 2019-09 meta-schema with a trailing "#", which Ajv does not know by that spelling,
    // and it labels parts with draft-04 string "id"s; both are metadata, not constraints, so they are dropped.
    const schema = JSON.parse(await readFile(path.join(repoRoot, 'tests/fixtures/compose-spec.json'), 'utf8'), (key, value: unknown) =>
      (key === 'id' && typeof value === 'string') || key === '$schema' ? undefined : value,
    ) as Record<string, unknown>;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    for (const format of new Set([...JSON.stringify(schema).matchAll(/"format":\s*"([^"]+)"/g)].map((m) => m[1]))) ajv.addFormat(format, true);
    const valid = ajv.validate(schema, compose);
    assert.equal(valid, true, ajv.errorsText(ajv.errors));
    // And the schema does bite: a misspelt service key fails.
    const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.mysql.helthcheck = {};
    assert.equal(ajv.validate(schema, broken), false);
  });

  test('has LocalStack, MinIO with its bucket init, MySQL 8; each long-running service has a healthcheck', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['localstack', 'minio', 'minio-init', 'mysql']);
    for (const name of ['localstack', 'minio', 'mysql']) assert.ok(compose.services[name].healthcheck, `${name} has no healthcheck`);
    assert.equal(compose.services['minio-init'].depends_on?.minio.condition, 'service_healthy');
    assert.match(compose.services.mysql.image, /mysql:8/);
  });

  test('LocalStack: either image, token from the env, Docker socket, Lambdas on the compose network', () => {
    const ls = compose.services.localstack;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's own ${VAR:-default} syntax, compared as written
    assert.equal(ls.image, '${LOCALSTACK_IMAGE:-localstack/localstack:community-archive}');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's own ${VAR:-default} syntax, compared as written
    assert.equal(ls.environment?.LOCALSTACK_AUTH_TOKEN, '${LOCALSTACK_AUTH_TOKEN:-}');
    assert.ok(ls.volumes?.includes('/var/run/docker.sock:/var/run/docker.sock'));
    assert.equal(ls.environment?.LAMBDA_DOCKER_NETWORK, compose.networks.pipeline.name);
    for (const service of Object.values(compose.services)) assert.deepEqual(service.networks, ['pipeline']);
  });

  test('data lives in named volumes', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('/')) continue; // the Docker socket
        assert.ok(source in compose.volumes, `${name}: ${source} is not a named volume`);
      }
    }
  });

  test('credentials come from .env: no literal passwords, every variable is in .env.example', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (/PASSWORD|TOKEN|ROOT_USER|^MYSQL_USER$/.test(key)) assert.match(String(value), /^\$\{[A-Z_]+(:[-?][^}]*)?\}$/, `${name}.${key} is hard-coded`);
      }
    }
    const used = new Set([...composeText.matchAll(/(?<!\$)\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]));
    for (const name of used) assert.ok(name in envExample, `${name} is used in compose.yaml but not in .env.example`);
  });

  test('.env.example is what localstack/*.ts accept', () => {
    const settings = loadSettings(envExample);
    assert.equal(settings.MYSQL_HOST_PORT, 3307);
    assert.equal(settings.LOCALSTACK_ENDPOINT, 'http://localhost:4566');
  });
});
