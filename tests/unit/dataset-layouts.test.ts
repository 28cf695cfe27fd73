import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetLayoutError, buildRowConverter, convertText, loadDatasetRows } from '../../src/dataset/layouts.ts';
import { parseDatasetSpec, readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { validateRows } from '../../src/dataset/validate.ts';

const SPEC = new URL('../../datasets/covertype.spec.json', import.meta.url).pathname;
const SHARED = new URL('../../../shared/data/covertype/covertype.csv.gz', import.meta.url).pathname;

const NUMERIC = [
  'Elevation',
  'Aspect',
  'Slope',
  'Horizontal_Distance_To_Hydrology',
  'Vertical_Distance_To_Hydrology',
  'Horizontal_Distance_To_Roadways',
  'Hillshade_9am',
  'Hillshade_Noon',
  'Hillshade_3pm',
  'Horizontal_Distance_To_Fire_Points',
];
const HEADER = [
  ...NUMERIC,
  ...Array.from({ length: 4 }, (_, i) => `Wilderness_Area${i + 1}`),
  ...Array.from({ length: 40 }, (_, i) => `Soil_Type${i + 1}`),
  'Cover_Type',
];
/** A UCI 55-column line with the given 1-based area and soil numbers. */
function uciLine(numeric: number[], area: number, soil: number, cover: number): string {
  const areas = Array.from({ length: 4 }, (_, i) => (i + 1 === area ? 1 : 0));
  const soils = Array.from({ length: 40 }, (_, i) => (i + 1 === soil ? 1 : 0));
  return [...numeric, ...areas, ...soils, cover].join(',');
}
// The first UCI row: Rawah, Soil_Type29 (ELU 7745), Aspen.
const FIRST_UCI = [2596, 51, 3, 258, 0, 510, 221, 232, 148, 6279];

describe('one-hot-covertype layout', async () => {
  const spec = await readDatasetSpecFile(SPEC);

  it('maps Wilderness_AreaK → values[K-1] and Soil_TypeK → C + ELU code, in spec column order', () => {
    const text = `${HEADER.join(',')}\n${uciLine(FIRST_UCI, 1, 29, 5)}\r\n${uciLine(FIRST_UCI, 3, 1, 2)}\n${uciLine(FIRST_UCI, 4, 40, 4)}`;
    const rows = convertText(spec, text);
    assert.deepEqual(rows, [
      [...FIRST_UCI.map(String), 'Rawah', 'C7745', '5'],
      [...FIRST_UCI.map(String), 'Commanche', 'C2702', '2'],
      [...FIRST_UCI.map(String), 'Cache', 'C8776', '4'],
    ]);
    assert.equal(validateRows(spec, rows).valid.length, 3);
  });

  it('gives the same result on the quoted-CSV path', () => {
    const line = uciLine(FIRST_UCI, 2, 10, 1)
      .split(',')
      .map((v) => `"${v}"`)
      .join(',');
    assert.deepEqual(convertText(spec, `${HEADER.join(',')}\n${line}\n`), [[...FIRST_UCI.map(String), 'Neota', 'C4703', '1']]);
  });

  it('accepts a source that already has the categorical column', () => {
    const header = [...NUMERIC, 'Wilderness_Area', 'Soil_Type', 'Cover_Type'];
    assert.deepEqual(convertText(spec, `${header.join(',')}\n${FIRST_UCI.join(',')},Neota,C7756,2\n`), [[...FIRST_UCI.map(String), 'Neota', 'C7756', '2']]);
  });

  it('throws on a row whose one-hot group does not have exactly one flag', () => {
    const none = uciLine(FIRST_UCI, 0, 29, 5);
    assert.throws(
      () => convertText(spec, `${HEADER.join(',')}\n${none}\n`),
      (err: unknown) => {
        assert.ok(err instanceof DatasetLayoutError);
        assert.match(err.message, /line 2: one-hot group Wilderness_Area1\.\.4 has 0 flags set, expected exactly 1/);
        return true;
      },
    );
    const two = uciLine(FIRST_UCI, 1, 29, 5).split(',');
    two[10 + 4 + 2] = '1';
    assert.throws(() => convertText(spec, `${HEADER.join(',')}\n${two.join(',')}\n`), /Soil_Type1\.\.40 has 2 flags/);
  });

  it('throws on a flag that is not 0/1 and on a wrong field count', () => {
    const bad = uciLine(FIRST_UCI, 1, 29, 5).split(',');
    bad[11] = 'yes';
    assert.throws(() => convertText(spec, `${HEADER.join(',')}\n${bad.join(',')}\n`), /Wilderness_Area2 must be 0 or 1, got "yes"/);
    assert.throws(() => convertText(spec, `${HEADER.join(',')}\n1,2,3\n`), /line 2: expected 55 fields, got 3/);
  });

  it('throws on a header missing a column', () => {
    assert.throws(
      () =>
        buildRowConverter(
          spec,
          HEADER.filter((h) => h !== 'Soil_Type7'),
        ),
      /neither "Soil_Type" nor one-hot column "Soil_Type7"/,
    );
    assert.throws(
      () =>
        buildRowConverter(
          spec,
          HEADER.filter((h) => h !== 'Slope'),
        ),
      /no column "Slope"/,
    );
  });

  it('buildRowConverter works on parsed records', () => {
    const convert = buildRowConverter(spec, HEADER);
    assert.deepEqual(convert(uciLine(FIRST_UCI, 2, 3, 7).split(','), 2), [...FIRST_UCI.map(String), 'Neota', 'C2704', '7']);
  });

  it('loadDatasetRows reads a gzip file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dataset-layouts-'));
    const file = join(dir, 'cov.csv.gz');
    writeFileSync(file, gzipSync(`${HEADER.join(',')}\n${uciLine(FIRST_UCI, 1, 29, 5)}\n`));
    assert.deepEqual(await loadDatasetRows(spec, file), [[...FIRST_UCI.map(String), 'Rawah', 'C7745', '5']]);
  });

  it('reads and validates the whole shared Covertype file', { skip: !existsSync(SHARED) && 'shared data not present' }, async () => {
    const t0 = performance.now();
    const rows = await loadDatasetRows(spec, SHARED);
    const { valid, rejected } = validateRows(spec, rows);
    const ms = performance.now() - t0;
    assert.equal(rows.length, 457_035);
    assert.equal(valid.length, 457_035);
    assert.equal(rejected.length, 0);
    assert.equal(rows[0].length, 13);
    // Every area and soil type occurs (README of the shared data).
    assert.equal(new Set(rows.map((r) => r[10])).size, 4);
    assert.equal(new Set(rows.map((r) => r[11])).size, 40);
    const cover2 = rows.reduce((n, r) => n + (r[12] === '2' ? 1 : 0), 0);
    assert.equal(cover2, 217_174);
    console.log(`# loaded + validated 457,035 rows in ${Math.round(ms)} ms`);
  });
});

describe('plain layout', () => {
  const spec = parseDatasetSpec({
    name: 'tiny',
    task: 'regression',
    columns: [
      { name: 'a', type: 'numeric' },
      { name: 'c', type: 'categorical', values: ['x', 'y'] },
      { name: 'y', type: 'numeric' },
    ],
    target: 'y',
    split: { train: 0.8, validation: 0.1, test: 0.1, seed: 's' },
  });
  it('reorders columns by header name and ignores extra columns', () => {
    assert.deepEqual(convertText(spec, 'y,extra,c,a\n1.5,zz,x,2\n'), [['2', 'x', '1.5']]);
  });
  it('does not expand one-hot groups', () => {
    assert.throws(() => convertText(spec, 'a,c1,c2,y\n1,1,0,2\n'), /no column "c" \(layout plain\)/);
  });
});
