import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../src/config.ts';
import { ALLOWED, checkFile, importSpecifiers, layerTable, tableCycle, withLayerTable } from '../../scripts/check-layers.ts';

describe('check:layers', () => {
  it('finds static, type-only, side-effect, re-export and dynamic imports', () => {
    const code = `import a from './a.ts';\nimport type { B } from "../b.ts";\nimport './c.ts';\nexport { d } from './d.ts';\nconst e = await import('./e.ts');\nimport {\n  f,\n} from './f.ts';`;
    assert.deepEqual(importSpecifiers(code).sort(), ['../b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './f.ts']);
  });
  it('refuses an import against the layers', () => {
    assert.match(checkFile('src/registry/datasets.ts', "import type { X } from '../pipeline/snapshot.ts';").join(), /registry may not import pipeline/);
    assert.match(checkFile('src/forest/predictor.ts', "import { leafOutputs } from '../boosting/trainer.ts';").join(), /forest may not import boosting/);
    assert.match(checkFile('src/pipeline/train.ts', "import { x } from '../../functions/lib/context.ts';").join(), /nothing outside src/);
    assert.match(checkFile('src/pipeline/train.ts', "import { x } from '../embedded/stack.ts';").join(), /pipeline may not import embedded/);
    assert.match(checkFile('functions/train.ts', "import { x } from '../scripts/lib/progress.ts';").join(), /outside src/);
  });
  it('allows the imports the table allows, within a module and of errors', () => {
    assert.deepEqual(
      checkFile('src/pipeline/train.ts', "import { a } from '../registry/registry.ts';\nimport { b } from './search.ts';\nimport { E } from '../errors.ts';"),
      [],
    );
    assert.deepEqual(checkFile('functions/train.ts', "import { a } from '../src/pipeline/train.ts';\nimport { b } from './lib/context.ts';"), []);
    assert.deepEqual(checkFile('src/storage/keys.ts', "import { DATASET_NAME } from '../schemas.ts';"), []);
    assert.match(checkFile('src/schemas.ts', "import { keys } from './storage/keys.ts';").join(), /schemas may not import storage/);
  });
  it('refuses the storage clients outside src/storage', () => {
    assert.match(checkFile('src/pipeline/fetch.ts', "import type { RowDataPacket } from 'mysql2/promise';").join(), /go through src\/storage/);
    assert.match(checkFile('functions/x.ts', "import { S3Client } from '@aws-sdk/client-s3';").join(), /go through src\/storage/);
    assert.deepEqual(checkFile('src/storage/mysql.ts', "import mysql from 'mysql2/promise';"), []);
    assert.match(checkFile('src/pipeline/preprocess.ts', "const [rows] = await pool.query<Row[]>('SELECT 1');").join(), /calls a MySQL pool/);
    assert.match(checkFile('src/data-api/service.ts', 'const c = await pool.getConnection();').join(), /calls a MySQL pool/);
    assert.deepEqual(checkFile('src/pipeline/preprocess.ts', "const rows = await queryRows<Row>(pool, 'SELECT 1', []);"), []);
  });
  it('refuses process.env outside the config modules (comments do not count)', () => {
    assert.match(checkFile('src/pipeline/train.ts', 'const x = process.env.FOO;').join(), /reads process.env/);
    assert.deepEqual(checkFile('src/pipeline/train.ts', '// process.env is read by src/config.ts\nconst x = 1;'), []);
    assert.deepEqual(checkFile('src/config.ts', 'const x = process.env.FOO;'), []);
  });
  it('docs/ARCHITECTURE.md shows the table generated from ALLOWED, and a changed ALLOWED changes it', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'ARCHITECTURE.md'), 'utf8');
    assert.equal(withLayerTable(doc, layerTable()), doc);
    const changed = layerTable({ ...ALLOWED, pipeline: [...ALLOWED.pipeline, 'embedded'] });
    assert.notEqual(withLayerTable(doc, changed), doc);
    assert.match(changed, /\| `src\/pipeline` \| [^|]*embedded/);
    assert.equal(withLayerTable('no markers here', changed), null);
  });
  it('the layer table has no cycle, and a cycle is found', () => {
    assert.equal(tableCycle(ALLOWED), null);
    assert.deepEqual(tableCycle({ a: ['b'], b: ['c'], c: ['a'] }), ['a', 'b', 'c', 'a']);
  });
  it('the repository passes', () => {
    const run = spawnSync(process.execPath, ['scripts/check-layers.ts'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });
});
