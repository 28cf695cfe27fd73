import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildEncoder } from '../../src/dataset/encode.ts';
import { InvalidDatasetSpec, parseDatasetSpec, type ColumnSpec } from '../../src/dataset/spec.ts';
import { kFolds } from '../../src/dataset/split.ts';
import { bucketLabels, inputColumns, modelSpec, prepareRecord, transformRow } from '../../src/dataset/transforms.ts';
import { validateRecord, validateRows } from '../../src/dataset/validate.ts';
import { parseCsv } from '../../src/dataset/csv.ts';
import { formatSnapshotCsv } from '../../src/registry/snapshots.ts';

fc.configureGlobal(process.env.FC_SEED === 'random' ? {} : { seed: Number(process.env.FC_SEED ?? 20261202) });

const SPEC_URL = new URL('../../datasets/diabetes.spec.json', import.meta.url);
const diabetesJson = (): Record<string, unknown> & {
  columns: Record<string, unknown>[];
  transforms: Record<string, unknown>;
  split: Record<string, unknown>;
} => JSON.parse(readFileSync(SPEC_URL, 'utf8'));
const spec = parseDatasetSpec(diabetesJson());

function rejects(mutate: (s: ReturnType<typeof diabetesJson>) => void, path: string, message: RegExp): void {
  const s = diabetesJson();
  mutate(s);
  assert.throws(
    () => parseDatasetSpec(s),
    (err: unknown) => {
      assert.ok(err instanceof InvalidDatasetSpec);
      const issue = err.issues.find((i) => i.path === path);
      assert.ok(issue, `expected an issue at ${path}, got ${err.message}`);
      assert.match(issue.message, message);
      return true;
    },
  );
}

/** A raw row of the dataset's own 50 columns, as the data API serves it (strings). */
function sourceRow(overrides: Record<string, string> = {}): string[] {
  const values: Record<string, string> = {};
  for (const c of spec.columns) {
    values[c.name] = c.type === 'categorical' ? c.values[0] : c.type === 'text' ? '250.01' : String(c.min ?? 0);
  }
  Object.assign(values, { encounter_id: '12522', patient_nbr: '48330783', readmitted: '<30' }, overrides);
  return spec.columns.map((c) => values[c.name]);
}

describe('diabetes.spec.json', () => {
  it('parses; its model spec drops ids and codes, adds the derived columns and recodes the target', () => {
    assert.equal(spec.columns.length, 50);
    const model = modelSpec(spec);
    // The model spec is itself a valid spec (snapshots are validated against it).
    parseDatasetSpec(JSON.parse(JSON.stringify(model)));
    const names = model.columns.map((c) => c.name);
    for (const dropped of ['encounter_id', 'weight', 'diag_1', 'diag_2', 'diag_3', 'examide', 'citoglipton']) assert.ok(!names.includes(dropped), dropped);
    for (const derived of ['diag_1_group', 'diag_2_group', 'diag_3_group', 'prior_inpatient']) assert.ok(names.includes(derived), derived);
    assert.deepEqual(
      model.columns.find((c) => c.name === 'readmitted'),
      { type: 'integer', name: 'readmitted', min: 0, max: 1 },
    );
    // The group column is kept for splitting but is not a feature.
    assert.ok(names.includes('patient_nbr'));
    assert.ok(!buildEncoder(spec).featureNames.some((f) => f.startsWith('patient_nbr')));
    assert.ok(!inputColumns(spec).some((c) => c.name === 'patient_nbr' || c.name === 'encounter_id' || c.name === 'weight'));
    assert.ok(
      inputColumns(spec).some((c) => c.name === 'diag_1'),
      'the source of a derived column is an input',
    );
  });

  it('"None" is a real value, "?" is missing only where the spec allows it', () => {
    const ok = validateRows(spec, [sourceRow({ max_glu_serum: 'None', race: '?', diag_2: '?' })]);
    assert.equal(ok.rejected.length, 0);
    assert.equal(ok.valid[0].max_glu_serum, 'None');
    assert.equal(ok.valid[0].race, null);
    const row = transformRow(spec, ok.valid[0]);
    assert.equal(row.diag_2_group, null);
    assert.equal(row.readmitted, 1);
    const bad = validateRows(spec, [sourceRow({ gender: '?' })]);
    assert.match(bad.rejected[0]?.reason ?? '', /^gender: missing value/);
  });

  it('groups ICD-9 codes into chapters: 250.xx diabetes before endocrine, V and E codes, unknown → other', () => {
    const cases: [string, string][] = [
      ['8', 'infectious'],
      ['139', 'infectious'],
      ['250.01', 'diabetes'],
      ['250', 'diabetes'],
      ['251', 'endocrine'],
      ['428', 'circulatory'],
      ['V45', 'supplementary_V'],
      ['E878', 'external_E'],
      ['999', 'injury'],
    ];
    for (const [code, chapter] of cases) {
      const checked = validateRows(spec, [sourceRow({ diag_1: code })]);
      assert.equal(checked.rejected.length, 0, code);
      assert.equal(transformRow(spec, checked.valid[0]).diag_1_group, chapter, code);
    }
    // Codes are text: a malformed one is refused, not parsed as a number.
    assert.match(validateRows(spec, [sourceRow({ diag_1: '25O.01' })]).rejected[0]?.reason ?? '', /^diag_1: .* does not match/);
  });

  it('buckets numbers at the edges', () => {
    assert.deepEqual(bucketLabels([1, 2, 5]), ['<1', '[1,2)', '[2,5)', '>=5']);
    const got = ['0', '1', '2', '4', '5', '21'].map(
      (n) => transformRow(spec, validateRows(spec, [sourceRow({ number_inpatient: n })]).valid[0]).prior_inpatient,
    );
    assert.deepEqual(got, ['none', 'one', '2-4', '2-4', '5+', '5+']);
  });

  it('refuses transforms that do not fit the columns, naming the field', () => {
    rejects(
      (s) => {
        (s.transforms.drop as string[]).splice((s.transforms.drop as string[]).indexOf('diag_3'), 1);
      },
      'columns[20].type',
      /text column "diag_3" cannot be a feature/,
    );
    rejects(
      (s) => {
        (s.transforms.drop as string[]).push('nope');
      },
      'transforms.drop[7]',
      /no column named "nope"/,
    );
    rejects(
      (s) => {
        (s.transforms.drop as string[]).push('readmitted');
      },
      'transforms.drop[7]',
      /target cannot be dropped/,
    );
    rejects(
      (s) => {
        s.transforms.target = { '<30': 1, '>30': 0 };
      },
      'transforms.target',
      /"NO" has no mapping/,
    );
    rejects(
      (s) => {
        s.transforms.target = { '<30': 2, '>30': 0, NO: 0 };
      },
      'classes[1].value',
      /not a value of transforms.target/,
    );
    rejects(
      (s) => {
        (s.transforms.derive as Record<string, unknown>[])[3] = { name: 'x', from: 'race', bucket: { edges: [1] } };
      },
      'transforms.derive[3].from',
      /numeric or integer/,
    );
    rejects(
      (s) => {
        (s.transforms.derive as Record<string, unknown>[])[3] = { name: 'x', from: 'number_inpatient', bucket: { edges: [2, 1] } };
      },
      'transforms.derive[3].bucket.edges[1]',
      /increase strictly/,
    );
    rejects(
      (s) => {
        (s.transforms.derive as Record<string, unknown>[])[0].name = 'race';
      },
      'transforms.derive[0].name',
      /already exists/,
    );
    rejects(
      (s) => {
        s.split.group = 'race';
      },
      'split.group',
      /must not allow missing/,
    );
    rejects(
      (s) => {
        s.promotionMetric = 'rmse';
      },
      'promotionMetric',
      /does not apply to a binary classification task/,
    );
  });

  it('at /predict a column that allows missing may be absent or null; ids no feature reads may be left out', () => {
    const record = Object.fromEntries(spec.columns.filter((c) => c.name !== 'readmitted').map((c, i) => [c.name, sourceRow()[i]]));
    delete record.race;
    delete record.encounter_id;
    delete record.weight;
    delete record.patient_nbr;
    record.payer_code = null as unknown as string;
    const checked = prepareRecord(spec, record);
    assert.ok(checked.ok, JSON.stringify(checked));
    assert.equal(checked.row.race, null);
    assert.equal(checked.row.payer_code, null);
    assert.equal(checked.row.diag_1_group, 'diabetes');
    // A column that does not allow missing is still required.
    delete record.gender;
    const refused = prepareRecord(spec, record);
    assert.ok(!refused.ok);
    assert.deepEqual(refused.errors, [{ field: 'gender', message: 'missing field' }]);
    // Covertype/Body Fat behaviour is unchanged: validateRecord without options requires every column.
    assert.ok(!validateRecord(spec, record).ok);
  });
});

// ---------- preprocess and predict agree ----------

/** Any value a column accepts, missing included where allowed, as the data API would send it (a string). */
function sourceValue(col: ColumnSpec): fc.Arbitrary<string> {
  const missing = col.missing === true ? [fc.constant('?')] : [];
  if (col.type === 'categorical') return fc.oneof(fc.constantFrom(...col.values), ...missing);
  if (col.type === 'text') {
    const codes = fc.oneof(
      fc.integer({ min: 1, max: 999 }).map(String),
      fc.tuple(fc.integer({ min: 1, max: 999 }), fc.integer({ min: 0, max: 99 })).map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`),
      fc.integer({ min: 1, max: 99 }).map((n) => `V${String(n).padStart(2, '0')}`),
      fc.integer({ min: 800, max: 999 }).map((n) => `E${n}`),
    );
    return fc.oneof(codes, ...missing);
  }
  return fc.oneof(fc.integer({ min: col.min ?? 0, max: Math.min(col.max ?? 1000, 1000) }).map(String), ...missing);
}

const sourceRows = fc.array(fc.tuple(...spec.columns.map(sourceValue)), { minLength: 1, maxLength: 20 });

/** Float64Array equality that counts NaN = NaN (a missing value is NaN in both paths). */
function sameEncoding(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe('transforms: training and serving cannot disagree', () => {
  it('a row encodes the same through preprocess (validate, transform, snapshot CSV, read back) and through /predict', () => {
    const encoder = buildEncoder(spec);
    const names = spec.columns.map((c) => c.name);
    fc.assert(
      fc.property(sourceRows, (rows) => {
        // Preprocess: the data API's strings → validated → transformed → snapshot CSV → model rows.
        const { valid, rejected } = validateRows(spec, rows);
        assert.equal(rejected.length, 0, JSON.stringify(rejected[0]));
        const snapshot = parseCsv(
          formatSnapshotCsv(
            spec,
            valid.map((r) => transformRow(spec, r)),
          ),
        );
        snapshot.shift();
        const readBack = validateRows(modelSpec(spec), snapshot);
        assert.equal(readBack.rejected.length, 0, JSON.stringify(readBack.rejected[0]));
        rows.forEach((row, i) => {
          // Predict: the same row as a JSON record in the dataset's own columns (no target).
          const record: Record<string, unknown> = {};
          names.forEach((n, k) => {
            if (n !== spec.target) record[n] = row[k];
          });
          const served = prepareRecord(spec, record);
          assert.ok(served.ok, JSON.stringify(served));
          assert.ok(sameEncoding(encoder.encode(readBack.valid[i]), encoder.encode(served.row)), `row ${i} encodes differently`);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('a missing value is NaN in every feature of its column, a present one never is', () => {
    const encoder = buildEncoder(spec);
    const served = prepareRecord(
      spec,
      Object.fromEntries(spec.columns.filter((c) => c.name !== spec.target).map((c, i) => [c.name, sourceRow({ race: '?' })[i]])),
    );
    assert.ok(served.ok);
    const x = encoder.encode(served.row);
    for (const [f, name] of encoder.featureNames.entries()) assert.equal(Number.isNaN(x[f]), name.startsWith('race='), name);
  });
});

// ---------- folds ----------

describe('k folds', () => {
  const rows = Array.from({ length: 300 }, (_, i) => ({ patient: `p${i % 97}`, y: i % 10 === 0 ? 1 : 0 }));

  it('grouped: every group lands in one fold, and every fold gets some', () => {
    const folds = kFolds(rows, 3, { seed: 's', group: 'patient' });
    const foldOf = new Map<string, number>();
    rows.forEach((r, i) => {
      const seen = foldOf.get(r.patient);
      if (seen !== undefined) assert.equal(folds[i], seen, `${r.patient} is in two folds`);
      foldOf.set(r.patient, folds[i]);
    });
    assert.deepEqual(new Set(folds), new Set([0, 1, 2]));
  });

  it('stratified: each fold gets its share of the rare class, and the same seed gives the same folds', () => {
    const folds = kFolds(rows, 3, { seed: 's', stratify: 'y' });
    for (let f = 0; f < 3; f++) {
      const positives = rows.filter((r, i) => folds[i] === f && r.y === 1).length;
      assert.ok(positives === 10, `fold ${f} has ${positives} of 30 positives`);
    }
    assert.deepEqual(kFolds(rows, 3, { seed: 's', stratify: 'y' }), folds);
    assert.notDeepEqual(kFolds(rows, 3, { seed: 't', stratify: 'y' }), folds);
  });
});
