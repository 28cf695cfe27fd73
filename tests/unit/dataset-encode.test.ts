import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildEncoder, encodeMatrix } from '../../src/dataset/encode.ts';
import { parseDatasetSpec, readDatasetSpecFile } from '../../src/dataset/spec.ts';
import { validateRows } from '../../src/dataset/validate.ts';

const spec = await readDatasetSpecFile(new URL('../../datasets/covertype.spec.json', import.meta.url).pathname);
const GOOD = ['2596', '51', '3', '258', '0', '510', '221', '232', '148', '6279', 'Rawah', 'C7745', '5'];

describe('buildEncoder (covertype)', () => {
  const enc = buildEncoder(spec);
  const [row] = validateRows(spec, [GOOD]).valid;

  it('has the 54 UCI-style features', () => {
    assert.equal(enc.featureNames.length, 54);
    assert.equal(enc.featureNames[0], 'Elevation');
    assert.equal(enc.featureNames[10], 'Wilderness_Area=Rawah');
    assert.equal(enc.featureNames[13], 'Wilderness_Area=Cache');
    assert.equal(enc.featureNames[14], 'Soil_Type=C2702');
    assert.equal(enc.featureNames[53], 'Soil_Type=C8776');
    assert.ok(!enc.featureNames.includes('Cover_Type'));
  });

  it('passes numbers through and one-hot encodes categoricals like the UCI layout', () => {
    const x = enc.encode(row);
    assert.ok(x instanceof Float64Array);
    // The UCI line of this row: 10 numbers, Wilderness_Area1, Soil_Type29.
    const uci = new Float64Array(54);
    uci.set([2596, 51, 3, 258, 0, 510, 221, 232, 148, 6279]);
    uci[10] = 1;
    uci[14 + 28] = 1;
    assert.deepEqual(x, uci);
  });

  it('encodes the target as the index into classes', () => {
    assert.equal(enc.encodeTarget(row), 4);
    assert.deepEqual(enc.classes?.[4], { value: 5, label: 'Aspen' });
  });

  it('encodeMatrix fills a row-major matrix; encodeInto overwrites stale values', () => {
    const rows = validateRows(spec, [GOOD, GOOD.map((v, i) => (i === 10 ? 'Neota' : i === 12 ? '1' : v))]).valid;
    const m = encodeMatrix(enc, rows);
    assert.equal(m.rows, 2);
    assert.equal(m.width, 54);
    assert.deepEqual(m.x.subarray(0, 54), enc.encode(rows[0]));
    assert.deepEqual(m.x.subarray(54), enc.encode(rows[1]));
    assert.deepEqual(m.y, new Float64Array([4, 0]));
    const out = new Float64Array(54).fill(9);
    enc.encodeInto(rows[1], out);
    assert.deepEqual(out, enc.encode(rows[1]));
  });

  it('is rebuilt identically from a JSON round-trip of the spec (what a model artifact stores)', () => {
    const again = buildEncoder(structuredClone(JSON.parse(JSON.stringify(spec))));
    assert.deepEqual(again.featureNames, enc.featureNames);
    assert.deepEqual(again.encode(row), enc.encode(row));
  });

  it('throws on rows that were not validated', () => {
    assert.throws(() => enc.encode({ ...row, Soil_Type: 'C1' }), /unknown Soil_Type value "C1"/);
    assert.throws(() => enc.encode({ ...row, Elevation: '2596' }), /Elevation must be a number/);
    assert.throws(() => enc.encodeTarget({ ...row, Cover_Type: 9 }), /not a class/);
  });
});

describe('buildEncoder (regression, categorical target classes)', () => {
  it('regression: target passes through, no classes', () => {
    const spec = parseDatasetSpec({
      name: 'body-fat',
      task: 'regression',
      columns: [
        { name: 'Age', type: 'integer' },
        { name: 'Sex', type: 'categorical', values: ['F', 'M'] },
        { name: 'BodyFat', type: 'numeric' },
      ],
      target: 'BodyFat',
      split: { train: 0.8, validation: 0.1, test: 0.1, seed: 's' },
    });
    const enc = buildEncoder(spec);
    assert.deepEqual(enc.featureNames, ['Age', 'Sex=F', 'Sex=M']);
    assert.equal(enc.classes, undefined);
    const row = { Age: 40, Sex: 'M', BodyFat: 21.5 };
    assert.deepEqual(enc.encode(row), new Float64Array([40, 0, 1]));
    assert.equal(enc.encodeTarget(row), 21.5);
  });

  it('categorical target: index follows the order of spec.classes', () => {
    const spec = parseDatasetSpec({
      name: 'yn',
      task: 'classification',
      columns: [
        { name: 'a', type: 'numeric' },
        { name: 'y', type: 'categorical', values: ['yes', 'no'] },
      ],
      target: 'y',
      classes: [
        { value: 'no', label: 'No' },
        { value: 'yes', label: 'Yes' },
      ],
      split: { train: 1, validation: 0, test: 0, seed: 's' },
    });
    const enc = buildEncoder(spec);
    assert.deepEqual(enc.featureNames, ['a']);
    assert.equal(enc.encodeTarget({ a: 1, y: 'yes' }), 1);
    assert.equal(enc.encodeTarget({ a: 1, y: 'no' }), 0);
  });
});
