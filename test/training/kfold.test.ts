import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { kFoldSplit } from '../../lib/training/kfold.ts';
import { createRng, shuffleInPlace } from '../../lib/training/random.ts';

const ids = Array.from({ length: 13 }, (_, i) => String(i));

describe('kFoldSplit', () => {
  it('partitions the cases: each validated in exactly one fold, never trained on in that fold', () => {
    const folds = kFoldSplit(ids, 5, 42);
    expect(folds).toHaveLength(5);
    const validated = folds.flatMap((f) => f.validation).sort();
    expect(validated).toEqual([...ids].sort());
    for (const f of folds) {
      expect(f.train.filter((id) => f.validation.includes(id))).toEqual([]);
      expect(f.train.length + f.validation.length).toBe(ids.length);
      expect(new Set([...f.train, ...f.validation]).size).toBe(ids.length);
      expect(f.overlap).toBe(false);
    }
    const sizes = folds.map((f) => f.validation.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('is deterministic in the seed and independent of the listing order', () => {
    const a = kFoldSplit(ids, 5, 7);
    const b = kFoldSplit([...ids].reverse(), 5, 7);
    expect(b).toEqual(a);
    const c = kFoldSplit(ids, 5, 8);
    expect(c.map((f) => f.validation)).not.toEqual(a.map((f) => f.validation));
  });

  it('holds out a fraction for validation with one fold', () => {
    const [f] = kFoldSplit(ids, 1, 3);
    expect(f.validation).toHaveLength(3); // round(13 * 0.2)
    expect(f.train).toHaveLength(10);
    expect(f.train.some((id) => f.validation.includes(id))).toBe(false);
    const [g] = kFoldSplit(['a', 'b'], 1, 3);
    expect(g.validation).toHaveLength(1);
    expect(g.train).toHaveLength(1);
    const [h] = kFoldSplit(['only'], 1, 3);
    expect(h.overlap).toBe(true);
  });

  it('refuses impossible splits with an InputError', () => {
    expect(() => kFoldSplit(['a', 'b'], 5, 1)).toThrow(InputError);
    expect(() => kFoldSplit(ids, 0, 1)).toThrow(/positive integer/);
    expect(() => kFoldSplit([], 1, 1)).toThrow(/no cases/);
    expect(() => kFoldSplit(['a', 'a'], 1, 1)).toThrow(/unique/);
  });
});

describe('seeded generator', () => {
  it('repeats for a seed and is roughly uniform', () => {
    const a = createRng(5);
    const b = createRng(5);
    const xs = Array.from({ length: 4000 }, () => a.next());
    expect(xs.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => b.next()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    const r = createRng(1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[r.int(2, 4) - 2]++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(shuffleInPlace([1, 2, 3, 4, 5], createRng(9)).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
