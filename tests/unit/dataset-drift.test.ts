import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driftReport, featureDrift, psi, PSI_EPSILON } from '../../src/dataset/drift.ts';
import { profileDataset } from '../../src/dataset/profile.ts';
import { parseDatasetSpec } from '../../src/dataset/spec.ts';

const close = (actual: number | null, expected: number, tol = 1e-9) =>
  assert.ok(actual !== null && Math.abs(actual - expected) < tol, `${actual} ≉ ${expected}`);

const spec = parseDatasetSpec({
  name: 'toy',
  task: 'regression',
  columns: [
    { name: 'x', type: 'numeric' },
    { name: 'c', type: 'categorical', values: ['a', 'b'] },
    { name: 'y', type: 'numeric' },
  ],
  target: 'y',
  split: { train: 0.7, validation: 0.15, test: 0.15, seed: 's' },
});

describe('psi', () => {
  it('is 0 for the same distribution, whatever the sample sizes', () => {
    assert.equal(psi([10, 20, 30], [1, 2, 3]), 0);
  });
  it('matches the hand-computed value', () => {
    // e = (.5, .5), a = (.25, .75): (.25-.5)·ln(.5) + (.75-.5)·ln(1.5) = .25·ln 3 ≈ 0.274653
    close(psi([50, 50], [25, 75]), 0.25 * Math.log(3));
    close(psi([50, 50], [25, 75]), 0.2746530722);
    // Symmetric in its two arguments.
    close(psi([25, 75], [50, 50]), 0.25 * Math.log(3));
  });
  it('replaces an empty share by epsilon, giving a large finite value', () => {
    // e = (1, 1e-4), a = (.5, .5): (.5-1)·ln(.5) + (.5-1e-4)·ln(.5/1e-4)
    const expected = -0.5 * Math.log(0.5) + (0.5 - PSI_EPSILON) * Math.log(0.5 / PSI_EPSILON);
    close(psi([10, 0], [5, 5]), expected);
    close(psi([10, 0], [5, 5]), 4.6043186, 1e-6);
  });
  it('is null when a side has no values, and refuses different bin counts', () => {
    assert.equal(psi([0, 0], [1, 2]), null);
    assert.throws(() => psi([1], [1, 2]), RangeError);
  });
});

describe('driftReport', () => {
  const baselineRows = [
    { x: 0, c: 'a', y: 1 },
    { x: 0, c: 'b', y: 2 },
    { x: 10, c: 'a', y: 3 },
    { x: 10, c: 'b', y: 4 },
  ];
  const baseline = { version: 3, contentHash: 'f'.repeat(64), profile: profileDataset(spec, baselineRows, { bins: 2 }) };

  it('a first version has no baseline and counts as drifted', () => {
    const r = driftReport(spec, baselineRows, null);
    assert.equal(r.baselineVersion, null);
    assert.equal(r.drifted, true);
    assert.equal(r.maxPsi, 0);
    assert.deepEqual(r.flagged, []);
    assert.equal(r.threshold, 0.2);
    assert.match(r.reason, /first version/);
  });

  it('flags a feature whose PSI is above the threshold; the target is not a feature', () => {
    // x: reference bins [0,5) and [5,10] hold 2 and 2; current rows 1 and 3 → .25·ln 3 ≈ 0.2747 > 0.2.
    // c: a/b 2/2 before and after → 0. y changes completely but is the target.
    const current = [
      { x: 0, c: 'a', y: 100 },
      { x: 10, c: 'b', y: 100 },
      { x: 10, c: 'a', y: 100 },
      { x: 12, c: 'b', y: 100 },
    ];
    const r = driftReport(spec, current, baseline);
    assert.equal(r.baselineVersion, 3);
    assert.deepEqual(
      r.features.map((f) => f.name),
      ['x', 'c'],
    );
    close(r.features[0].psi, 0.274653, 1e-6);
    assert.equal(r.features[1].psi, 0);
    assert.equal(r.drifted, true);
    assert.deepEqual(r.flagged, ['x']);
    close(r.maxPsi, 0.274653, 1e-6);
    assert.deepEqual(r.features[0].bins, [
      { bin: '(-∞, 5)', expected: 0.5, actual: 0.25 },
      { bin: '[5, ∞)', expected: 0.5, actual: 0.75 },
    ]);
    assert.match(r.reason, /1 of 2 features have PSI above 0\.2 against version 3: x 0\.274653/);
  });

  it('uses the configured threshold', () => {
    const current = [
      { x: 0, c: 'a', y: 1 },
      { x: 10, c: 'b', y: 1 },
      { x: 10, c: 'a', y: 1 },
      { x: 10, c: 'b', y: 1 },
    ];
    const r = driftReport(spec, current, baseline, { threshold: 0.3 });
    assert.equal(r.drifted, false);
    assert.deepEqual(r.flagged, []);
    assert.equal(r.threshold, 0.3);
    assert.match(r.reason, /no feature has PSI above 0\.3/);
  });

  it('categorical PSI over the categories, a new category counted against epsilon', () => {
    const ref = profileDataset(spec, baselineRows).columns[1];
    // reference a/b = .5/.5 (no "z"); current a/b/z = .5/.25/.25
    const f = featureDrift(ref, 'categorical', 'c', ['a', 'a', 'b', 'z'], 0.2);
    const expected = 0 + (0.25 - 0.5) * Math.log(0.25 / 0.5) + (0.25 - PSI_EPSILON) * Math.log(0.25 / PSI_EPSILON);
    close(f.psi, Math.round(expected * 1e6) / 1e6);
    assert.equal(f.drifted, true);
  });

  it('a column missing from the reference or of another kind has no PSI and is not flagged', () => {
    const ref = profileDataset(spec, baselineRows).columns[0];
    assert.equal(featureDrift(undefined, 'numeric', 'new', [1, 2], 0.2).psi, null);
    assert.equal(featureDrift(ref, 'categorical', 'x', ['a'], 0.2).psi, null);
  });
});
