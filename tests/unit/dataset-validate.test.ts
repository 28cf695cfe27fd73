import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { canonicalFeatures, rowKey, toNumber, validateRecord, validateRows } from '../../src/dataset/validate.ts';

const spec = await readDatasetSpecFile(new URL('../../datasets/covertype.spec.json', import.meta.url).pathname);
const GOOD = ['2596', '51', '3', '258', '0', '510', '221', '232', '148', '6279', 'Rawah', 'C7745', '5'];
const NAMES = spec.columns.map((c) => c.name);
const record = (values: readonly unknown[]): Record<string, unknown> => Object.fromEntries(NAMES.map((n, i) => [n, values[i]]));
const withValue = (i: number, v: unknown): unknown[] => GOOD.map((g, j) => (j === i ? v : g));

describe('toNumber', () => {
  it('accepts numbers and decimal strings only', () => {
    assert.equal(toNumber('42'), 42);
    assert.equal(toNumber('-173'), -173);
    assert.equal(toNumber(' 1.5e2 '), 150);
    assert.equal(toNumber('.5'), 0.5);
    assert.equal(toNumber(7), 7);
    for (const bad of ['', ' ', '0x1f', '1,5', 'abc', 'NaN', 'Infinity', '1e', '--1', null, true]) {
      assert.ok(Number.isNaN(toNumber(bad)), `${String(bad)} should not parse`);
    }
  });
});

describe('validateRows', () => {
  it('types a good row (arrays of strings or numbers, or records)', () => {
    const asNumbers = GOOD.map((v, i) => (i < 10 || i === 12 ? Number(v) : v));
    const { valid, validIndex, rejected } = validateRows(spec, [GOOD, asNumbers, record(GOOD)]);
    assert.equal(rejected.length, 0);
    assert.deepEqual(validIndex, [0, 1, 2]);
    const expected = { ...record(asNumbers) };
    for (const row of valid) assert.deepEqual(row, expected);
    assert.equal(valid[0].Elevation, 2596);
    assert.equal(valid[0].Soil_Type, 'C7745');
  });

  it('rejects each kind of bad row with a reason naming column and value, without throwing', () => {
    const cases: [unknown, RegExp][] = [
      [GOOD.slice(0, 12), /^expected 13 values, got 12$/],
      [[...GOOD, 'x'], /^expected 13 values, got 14$/],
      [withValue(0, 'abc'), /^Elevation: not a number: "abc"$/],
      [withValue(0, Number.NaN), /^Elevation: not a number: NaN$/],
      [withValue(0, Number.POSITIVE_INFINITY), /^Elevation: not finite: Infinity$/],
      [withValue(0, '1e999'), /^Elevation: not finite: "1e999"$/],
      [withValue(2, '3.5'), /^Slope: not an integer: "3.5"$/],
      [withValue(2, '67'), /^Slope: "67" is out of range \[0, 66\]$/],
      [withValue(4, -174), /^Vertical_Distance_To_Hydrology: -174 is out of range \[-173, 601\]$/],
      [withValue(10, 'Comanche'), /^Wilderness_Area: unknown category "Comanche" \(allowed: Rawah, Neota, Commanche, Cache\)$/],
      [withValue(11, 'C9999'), /^Soil_Type: unknown category "C9999" \(allowed: C2702, .*\(40 values\)\)$/],
      [withValue(11, { x: 1 }), /^Soil_Type: expected a string, got \{"x":1\}$/],
      [withValue(12, ''), /^Cover_Type: missing target value$/],
      [withValue(12, null), /^Cover_Type: missing target value$/],
      [withValue(12, '8'), /^Cover_Type: "8" is out of range \[1, 7\]$/],
      [withValue(3, undefined), /^Horizontal_Distance_To_Hydrology: missing value$/],
      [withValue(0, 'x'.repeat(500)), /^Elevation: not a number: "x{39}…$/],
      [42, /^expected an array or an object, got 42$/],
      [null, /^expected an array or an object, got null$/],
      [{ ...record(GOOD), Cover_Type: undefined }, /^Cover_Type: missing target value$/],
    ];
    const rows = cases.map(([row]) => row) as unknown[][];
    const { valid, rejected } = validateRows(spec, [GOOD, ...rows]);
    assert.equal(valid.length, 1);
    assert.equal(rejected.length, cases.length);
    rejected.forEach((r, i) => {
      assert.equal(r.index, i + 1);
      assert.match(r.reason, cases[i][1]);
    });
  });

  it('ignores extra keys on records (e.g. database ids)', () => {
    const { valid } = validateRows(spec, [{ id: 7, row_key: 'abc', ...record(GOOD) }]);
    assert.equal(valid.length, 1);
    assert.equal('id' in valid[0], false);
  });

  it('checks a classification target against the classes', () => {
    // A spec whose integer target range is wider than its classes.
    const wide = { ...spec, columns: spec.columns.map((c) => (c.name === 'Cover_Type' ? { ...c, max: 9 } : c)) };
    assert.match(validateRows(wide, [withValue(12, '9')]).rejected[0].reason, /^Cover_Type: "9" is not one of the classes$/);
  });
});

describe('validateRecord', () => {
  const features = (): Record<string, unknown> => {
    const r = record(GOOD.map((v, i) => (i < 10 ? Number(v) : v)));
    delete r.Cover_Type;
    return r;
  };

  it('accepts a feature-only record when the target is not required', () => {
    const res = validateRecord(spec, features(), { requireTarget: false });
    assert.ok(res.ok);
    assert.equal(res.row.Elevation, 2596);
    assert.equal('Cover_Type' in res.row, false);
  });

  it('requires the target by default', () => {
    const res = validateRecord(spec, features());
    assert.deepEqual(res, { ok: false, errors: [{ field: 'Cover_Type', message: 'missing target field' }] });
  });

  it('still validates a target that is present', () => {
    const res = validateRecord(spec, { ...features(), Cover_Type: 0 }, { requireTarget: false });
    assert.ok(!res.ok);
    assert.deepEqual(
      res.errors.map((e) => e.field),
      ['Cover_Type'],
    );
  });

  it('reports every problem: unknown fields, missing fields, bad values', () => {
    const r = features();
    delete r.Slope;
    r.Elevation = 'high';
    r.Soil_Type = 'C1';
    r.Elevaton = 3000;
    const res = validateRecord(spec, r, { requireTarget: false });
    assert.ok(!res.ok);
    assert.deepEqual(res.errors, [
      { field: 'Elevaton', message: 'unknown field' },
      { field: 'Elevation', message: 'not a number: "high"' },
      { field: 'Slope', message: 'missing field' },
      { field: 'Soil_Type', message: 'unknown category "C1" (allowed: C2702, C2703, C2704, C2705, C2706, C2717, C3501, C3502, … (40 values))' },
    ]);
  });

  it('rejects non-objects', () => {
    for (const bad of [null, [], 'x', 3]) {
      const res = validateRecord(spec, bad);
      assert.ok(!res.ok);
      assert.equal(res.errors[0].field, '');
    }
  });
});

describe('rowKey', () => {
  const [row] = validateRows(spec, [GOOD]).valid;

  it('is sha256 hex of canonical JSON of the features, sorted by name, target excluded', async () => {
    const canon = canonicalFeatures(spec, row);
    assert.equal(
      canon,
      '{"Aspect":51,"Elevation":2596,"Hillshade_3pm":148,"Hillshade_9am":221,"Hillshade_Noon":232,' +
        '"Horizontal_Distance_To_Fire_Points":6279,"Horizontal_Distance_To_Hydrology":258,' +
        '"Horizontal_Distance_To_Roadways":510,"Slope":3,"Soil_Type":"C7745","Vertical_Distance_To_Hydrology":0,' +
        '"Wilderness_Area":"Rawah"}',
    );
    const { createHash } = await import('node:crypto');
    assert.equal(rowKey(spec, row), createHash('sha256').update(canon).digest('hex'));
    assert.match(rowKey(spec, row), /^[0-9a-f]{64}$/);
  });

  it('ignores the target, value spelling and -0; changes with any feature', () => {
    const [sameFeatures, spelled, changed] = validateRows(spec, [
      withValue(12, '2'),
      withValue(0, '2596.0').map((v, i) => (i === 4 ? '-0' : v)),
      withValue(1, '52'),
    ]).valid;
    assert.equal(rowKey(spec, sameFeatures), rowKey(spec, row));
    assert.equal(rowKey(spec, spelled), rowKey(spec, row));
    assert.notEqual(rowKey(spec, changed), rowKey(spec, row));
  });

  it('does not depend on the order of columns in the spec', () => {
    const reordered = { ...spec, columns: [...spec.columns].reverse() };
    assert.equal(rowKey(reordered, row), rowKey(spec, row));
  });
});
