import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { assignSplit, splitUniform } from '../../src/dataset/split.ts';

const key = (i: number): string => createHash('sha256').update(`row-${i}`).digest('hex');
const SPLIT = { train: 0.7, validation: 0.15, test: 0.15, seed: 'covertype-v1' };

describe('assignSplit', () => {
  it('is a pure function of (seed, rowKey)', () => {
    for (let i = 0; i < 200; i++) {
      assert.equal(assignSplit(key(i), SPLIT), assignSplit(key(i), { ...SPLIT }));
    }
    // Pinned values: a change of hash or mapping would move rows between splits.
    assert.equal(
      splitUniform('abc', 'covertype-v1'),
      Number.parseInt(createHash('sha256').update('covertype-v1:abc').digest('hex').slice(0, 13), 16) / 2 ** 52,
    );
  });

  it('uniform values are in [0, 1)', () => {
    for (let i = 0; i < 1000; i++) {
      const u = splitUniform(key(i), 's');
      assert.ok(u >= 0 && u < 1);
    }
  });

  it('keeps proportions on 10k keys within 1.5 points', () => {
    const counts = { train: 0, validation: 0, test: 0 };
    for (let i = 0; i < 10_000; i++) counts[assignSplit(key(i), SPLIT)]++;
    // sd of a 0.15 share over 10k ≈ 0.36 points, so 1.5 points is > 4 sd.
    assert.ok(Math.abs(counts.train / 10_000 - 0.7) < 0.015, JSON.stringify(counts));
    assert.ok(Math.abs(counts.validation / 10_000 - 0.15) < 0.015, JSON.stringify(counts));
    assert.ok(Math.abs(counts.test / 10_000 - 0.15) < 0.015, JSON.stringify(counts));
  });

  it('a different seed reshuffles; degenerate fractions put everything in one split', () => {
    let moved = 0;
    for (let i = 0; i < 1000; i++) if (assignSplit(key(i), SPLIT) !== assignSplit(key(i), { ...SPLIT, seed: 'other' })) moved++;
    assert.ok(moved > 300, `only ${moved} moved`);
    for (let i = 0; i < 100; i++) {
      assert.equal(assignSplit(key(i), { train: 1, validation: 0, test: 0, seed: 's' }), 'train');
      assert.equal(assignSplit(key(i), { train: 0, validation: 0, test: 1, seed: 's' }), 'test');
    }
  });

  it('a row keeps its split when other rows are added (no dependence on the batch)', () => {
    const before = Array.from({ length: 100 }, (_, i) => assignSplit(key(i), SPLIT));
    const after = Array.from({ length: 200 }, (_, i) => assignSplit(key(199 - i), SPLIT)).reverse();
    assert.deepEqual(after.slice(0, 100), before);
  });
});
