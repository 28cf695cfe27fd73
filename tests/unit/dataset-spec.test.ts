import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidDatasetSpec, featureColumns, parseDatasetSpec, readDatasetSpecFile, targetColumn } from '../../src/dataset/spec.ts';

const SPEC_PATH = new URL('../../datasets/covertype.spec.json', import.meta.url);
const covertypeJson = (): Record<string, unknown> & {
  columns: Record<string, unknown>[];
  split: Record<string, unknown>;
  classes?: Record<string, unknown>[];
} => JSON.parse(readFileSync(SPEC_PATH, 'utf8'));

function rejects(mutate: (s: ReturnType<typeof covertypeJson>) => void, path: string, message?: RegExp): void {
  const s = covertypeJson();
  mutate(s);
  assert.throws(
    () => parseDatasetSpec(s),
    (err: unknown) => {
      assert.ok(err instanceof InvalidDatasetSpec);
      assert.equal(err.name, 'InvalidDatasetSpec');
      const issue = err.issues.find((i) => i.path === path);
      assert.ok(issue, `expected an issue at ${path}, got ${err.message}`);
      if (message) assert.match(issue.message, message);
      assert.ok(err.message.includes(path));
      return true;
    },
  );
}

describe('covertype.spec.json', () => {
  it('parses and has the 13-column course layout', async () => {
    const spec = await readDatasetSpecFile(SPEC_PATH.pathname);
    assert.equal(spec.name, 'covertype');
    assert.equal(spec.task, 'classification');
    assert.equal(spec.columns.length, 13);
    assert.equal(featureColumns(spec).length, 12);
    assert.equal(targetColumn(spec).name, 'Cover_Type');
    assert.deepEqual(spec.split, { train: 0.7, validation: 0.15, test: 0.15, seed: 'covertype-v1' });
    assert.equal(spec.source?.layout, 'one-hot-covertype');
    const byName = new Map(spec.columns.map((c) => [c.name, c]));
    const area = byName.get('Wilderness_Area');
    assert.ok(area?.type === 'categorical');
    assert.deepEqual(area.values, ['Rawah', 'Neota', 'Commanche', 'Cache']);
    const soil = byName.get('Soil_Type');
    assert.ok(soil?.type === 'categorical');
    assert.equal(soil.values.length, 40);
    assert.equal(soil.values[0], 'C2702');
    assert.equal(soil.values[9], 'C4703');
    assert.equal(soil.values[39], 'C8776');
    assert.deepEqual(
      spec.classes?.map((c) => c.value),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(spec.classes?.[3].label, 'Cottonwood/Willow');
    const hill = byName.get('Hillshade_Noon');
    assert.ok(hill?.type === 'integer');
    assert.deepEqual([hill.min, hill.max], [0, 255]);
  });

  it('defaults source.layout to plain', () => {
    const s = covertypeJson();
    s.source = { format: 'csv' };
    assert.equal(parseDatasetSpec(s).source?.layout, 'plain');
  });
});

describe('parseDatasetSpec errors name the bad path', () => {
  it('unknown column type', () =>
    rejects((s) => {
      s.columns[3].type = 'float';
    }, 'columns[3].type'));
  it('categorical without values', () =>
    rejects((s) => {
      delete s.columns[10].values;
    }, 'columns[10].values'));
  it('min > max', () =>
    rejects(
      (s) => {
        s.columns[2].min = 100;
      },
      'columns[2].min',
      /greater than max/,
    ));
  it('target must exist', () =>
    rejects(
      (s) => {
        s.target = 'Nope';
      },
      'target',
      /no column named "Nope"/,
    ));
  it('fractions must sum to 1', () =>
    rejects(
      (s) => {
        s.split.test = 0.2;
      },
      'split',
      /must be 1/,
    ));
  it('fraction out of [0,1]', () =>
    rejects((s) => {
      s.split.train = 1.5;
    }, 'split.train'));
  it('name is a lowercase slug', () =>
    rejects((s) => {
      s.name = 'Cover Type';
    }, 'name'));
  it('unknown keys are rejected (typos)', () =>
    rejects(
      (s) => {
        s.columns[0].mni = 3;
      },
      'columns[0]',
      /mni/,
    ));
  it('duplicate column', () =>
    rejects(
      (s) => {
        s.columns[1].name = 'Elevation';
      },
      'columns[1].name',
      /duplicate/,
    ));
  it('duplicate categorical value', () =>
    rejects((s) => {
      (s.columns[11].values as string[]).push('C2702');
    }, 'columns[11].values[40]'));
  it('labels keyed by unknown value', () =>
    rejects((s) => {
      s.columns[10].labels = { Nowhere: 'x' };
    }, 'columns[10].labels.Nowhere'));
  it('integer target needs integer classes', () =>
    rejects((s) => {
      s.classes![0].value = 1.5;
    }, 'classes[0].value'));
  it('class outside target range', () =>
    rejects(
      (s) => {
        s.classes![0].value = 9;
      },
      'classes[0].value',
      /outside/,
    ));
  it('classification needs classes', () =>
    rejects((s) => {
      delete s.classes;
    }, 'classes'));
  it('classification target cannot be numeric', () =>
    rejects((s) => {
      s.columns[12].type = 'numeric';
    }, 'target'));
  it('regression forbids classes', () =>
    rejects((s) => {
      s.task = 'regression';
    }, 'classes'));
  it('column names are identifiers', () =>
    rejects((s) => {
      s.columns[0].name = 'Elevation (m)';
    }, 'columns[0].name'));
  it('not an object', () => assert.throws(() => parseDatasetSpec('nope'), InvalidDatasetSpec));

  it('accepts a regression spec with fractions that are inexact in binary', () => {
    const spec = parseDatasetSpec({
      name: 'body-fat',
      task: 'regression',
      columns: [
        { name: 'Age', type: 'integer', min: 0 },
        { name: 'BodyFat', type: 'numeric', min: 0, max: 100 },
      ],
      target: 'BodyFat',
      split: { train: 0.1 + 0.2, validation: 0.3, test: 0.4, seed: 's' },
    });
    assert.equal(spec.task, 'regression');
  });

  it('categorical target: every value needs a class and classes must be values', () => {
    const base = {
      name: 'x',
      task: 'classification',
      columns: [
        { name: 'a', type: 'numeric' },
        { name: 'y', type: 'categorical', values: ['yes', 'no'] },
      ],
      target: 'y',
      classes: [
        { value: 'yes', label: 'Yes' },
        { value: 'maybe', label: 'Maybe' },
      ],
      split: { train: 1, validation: 0, test: 0, seed: 's' },
    };
    assert.throws(
      () => parseDatasetSpec(base),
      (err: unknown) => {
        assert.ok(err instanceof InvalidDatasetSpec);
        assert.ok(err.issues.some((i) => i.path === 'classes[1].value'));
        assert.ok(err.issues.some((i) => i.path === 'classes' && /"no"/.test(i.message)));
        return true;
      },
    );
  });
});
