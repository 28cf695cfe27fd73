import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { DatasetSpecSchema } from '../../src/dataset/spec.ts';
import { InvalidInput } from '../../src/errors.ts';
import { DATASET_NAME, ManifestKey, parseInput } from '../../src/schemas.ts';
import { keys } from '../../src/storage/keys.ts';

const HASH = 'a'.repeat(64);

describe('shared schemas', () => {
  it('one dataset-name rule: what a spec may be named is what an S3 key may hold', () => {
    const names = ['covertype', 'body_fat', 'diabetes-130', '9', 'a'.repeat(64), 'a-', '-a', 'a--b', 'a_-b', 'Cover', 'a b', 'a'.repeat(65), '', '../x'];
    for (const name of names) {
      const rule = DATASET_NAME.test(name);
      const spec = DatasetSpecSchema.shape.name.safeParse(name).success;
      let key = true;
      try {
        keys.datasetManifest(name, HASH);
      } catch {
        key = false;
      }
      assert.deepEqual({ name, spec, key }, { name, spec: rule, key: rule });
    }
    assert.equal(DATASET_NAME.test('a-'), false);
    assert.equal(DATASET_NAME.test('a'.repeat(65)), false);
  });

  it('the manifest key schema accepts exactly the keys src/storage builds', () => {
    assert.ok(ManifestKey.safeParse(keys.datasetManifest('covertype', HASH)).success);
    assert.ok(ManifestKey.safeParse(keys.datasetManifest('a_b-c', HASH)).success);
    assert.equal(ManifestKey.safeParse(`datasets/../${HASH}/manifest.json`).success, false);
    assert.equal(ManifestKey.safeParse(`datasets/covertype/${HASH}/manifest.json.bak`).success, false);
    assert.equal(ManifestKey.safeParse(keys.datasetSplit('covertype', HASH, 'train')).success, false);
  });

  it('a failed parse is an InvalidInput naming each field, under a prefix, or the whole', () => {
    const schema = z.object({ a: z.number(), b: z.object({ c: z.string() }) });
    const error = (() => {
      try {
        parseInput(schema, { a: 'x', b: { c: 1 } }, 'request');
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof InvalidInput);
    assert.deepEqual(
      error.issues.map((i) => i.field),
      ['a', 'b.c'],
    );
    assert.match(error.message, /^Invalid request: a: .+; b\.c: .+$/);
    assert.throws(
      () => parseInput(schema, {}, 'search', { prefix: ['search'] }),
      (e: InvalidInput) => e.issues[0].field === 'search.a',
    );
    assert.throws(
      () => parseInput(schema, 42, 'request', { whole: '(body)' }),
      (e: InvalidInput) => e.issues[0].field === '(body)' && /Invalid request: \(body\): /.test(e.message),
    );
    assert.equal(parseInput(schema, { a: 1, b: { c: 'x' } }, 'request').a, 1);
  });
});
