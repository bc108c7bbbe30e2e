/**
 * BraTS normalisation (min-max over the brain with percentile clipping, z-score) and target regions,
 * against values worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import {
  bratsBrainMask,
  interleaveChannels,
  normaliseBratsSubject,
  percentileBySelection,
  percentileOfSorted,
} from '../../lib/brats/normalise.ts';
import { bratsTargetMask, subjectTarget, targetLabels } from '../../lib/brats/targets.ts';
import type { BratsModality, BratsSubject } from '../../lib/brats/types.ts';
import { InputError } from '../../lib/errors.ts';
import { scalingAffine } from '../../lib/volume/volume.ts';

/** A 1-row subject of `n` voxels with the given sequences. */
function subject(channels: Record<BratsModality, number[]>, labels?: number[]): BratsSubject {
  const n = channels.t1.length;
  return {
    id: 'hand',
    dir: '/nowhere/hand',
    grid: { dims: [n, 1, 1], spacing: [1, 1, 1], affine: scalingAffine([1, 1, 1]) },
    channels: {
      t1: Float32Array.from(channels.t1),
      t1ce: Float32Array.from(channels.t1ce),
      t2: Float32Array.from(channels.t2),
      flair: Float32Array.from(channels.flair),
    },
    ...(labels ? { labels: Uint8Array.from(labels), labelConvention: 'brats-4' as const } : {}),
  };
}

const close = (got: ArrayLike<number>, want: number[]) => {
  expect(got.length).toBe(want.length);
  for (const [i, w] of want.entries()) expect(got[i]).toBeCloseTo(w, 6);
};

describe('brain mask and percentiles', () => {
  it('the brain is where all four sequences are > 0', () => {
    const s = subject({ t1: [0, 5, 5, 5], t1ce: [5, 0, 5, 5], t2: [5, 5, 5, 5], flair: [5, 5, -1, 5] });
    expect([...bratsBrainMask(s.channels)]).toEqual([0, 0, 0, 1]);
  });

  it('interpolates between order statistics at rank p/100 (n-1)', () => {
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // rank 0.005 * 9 = 0.045: 1 + 0.045 * (2 - 1)
    expect(percentileOfSorted(ten, 0.5)).toBeCloseTo(1.045, 10);
    // rank 0.995 * 9 = 8.955: 9 + 0.955 * (10 - 9)
    expect(percentileOfSorted(ten, 99.5)).toBeCloseTo(9.955, 10);
    expect(percentileOfSorted(ten, 0)).toBe(1);
    expect(percentileOfSorted(ten, 100)).toBe(10);
    expect(percentileOfSorted([7], 30)).toBe(7);
  });

  it('selection gives the same percentiles as sorting, on random, tied and sorted values', () => {
    let seed = 12345;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const sets = [
      Float32Array.from({ length: 1001 }, () => Math.round(next() * 1000) / 7),
      Float32Array.from({ length: 1000 }, () => next() * 1000), // fractional ranks: interpolation matters
      Float32Array.from({ length: 500 }, () => Math.floor(next() * 4)), // many ties
      Float32Array.from({ length: 300 }, (_, i) => i), // already sorted
      Float32Array.from({ length: 300 }, (_, i) => 300 - i),
      Float32Array.of(5, 5, 5),
      Float32Array.of(2),
    ];
    for (const values of sets) {
      const sorted = values.slice().sort();
      for (const p of [0, 0.5, 1, 25, 37.3, 50, 99.5, 100]) {
        expect(percentileBySelection(values.slice(), p)).toBeCloseTo(percentileOfSorted(sorted, p), 4);
      }
    }
  });
});

describe('normaliseBratsSubject', () => {
  // Voxel 0 is background (t1 = 0); the brain is voxels 1..4.
  const s = subject({
    t1: [0, 10, 20, 30, 40],
    t1ce: [9, 1, 2, 3, 100],
    t2: [9, 5, 5, 5, 5],
    flair: [9, 2, 4, 6, 8],
  });

  it('min-max over the brain, plain (percentile 0): background 0, brain min 0 and max 1', () => {
    const n = normaliseBratsSubject(s, { percentile: 0 });
    expect(n.brainVoxels).toBe(4);
    // t1 brain 10..40: (v - 10) / 30
    close(n.channels.t1, [0, 0, 1 / 3, 2 / 3, 1]);
    // t1ce brain 1..100: the bright voxel squeezes the others near 0
    close(n.channels.t1ce, [0, 0, 1 / 99, 2 / 99, 1]);
    // t2 constant over the brain: 0
    close(n.channels.t2, [0, 0, 0, 0, 0]);
    expect(n.scaling.t1).toEqual({ offset: 10, scale: 30 });
  });

  it('min-max with percentile clipping clamps the extremes into [0, 1]', () => {
    // t1ce brain values sorted 1, 2, 3, 100; p = 25: rank 0.75 -> 1.75; p = 75: rank 2.25 -> 3 + 0.25 * 97 = 27.25
    const n = normaliseBratsSubject(s, { percentile: 25 });
    const lo = 1.75;
    const hi = 27.25;
    close(n.channels.t1ce, [0, 0, (2 - lo) / (hi - lo), (3 - lo) / (hi - lo), 1]);
    expect(n.scaling.t1ce.offset).toBeCloseTo(lo, 5);
    expect(n.scaling.t1ce.scale).toBeCloseTo(hi - lo, 5);
    // Default 0.5 %: t1 rank 0.015 -> 10.15, rank 2.985 -> 39.85
    const d = normaliseBratsSubject(s);
    close(d.channels.t1, [0, 0, (20 - 10.15) / 29.7, (30 - 10.15) / 29.7, 1]);
  });

  it('z-score over the brain: mean 0, population standard deviation 1, background 0', () => {
    // flair brain 2, 4, 6, 8: mean 5, population std sqrt((9 + 1 + 1 + 9) / 4) = sqrt(5)
    const n = normaliseBratsSubject(s, { mode: 'zscore' });
    const r5 = Math.sqrt(5);
    close(n.channels.flair, [0, -3 / r5, -1 / r5, 1 / r5, 3 / r5]);
    close(n.channels.t2, [0, 0, 0, 0, 0]);
  });

  it('refuses a subject with no brain voxel, and a bad percentile', () => {
    const empty = subject({ t1: [0, 0], t1ce: [1, 1], t2: [1, 1], flair: [1, 1] });
    expect(() => normaliseBratsSubject(empty)).toThrow(InputError);
    expect(() => normaliseBratsSubject(empty)).toThrow(/\/nowhere\/hand: no brain voxels/);
    expect(() => normaliseBratsSubject(s, { percentile: 50 })).toThrow(/percentile/);
  });

  it('interleaves the channels in BRATS_MODALITIES order, channel fastest', () => {
    const x = interleaveChannels(s.channels);
    expect([...x.slice(4, 8)]).toEqual([10, 1, 5, 2]); // voxel 1: t1, t1ce, t2, flair
    expect(x.length).toBe(20);
  });
});

describe('targets', () => {
  const raw = [0, 1, 2, 4, 0, 2, 1, 4];
  it('whole = 1+2+4, core = 1+4, enhancing = 4 (BraTS <= 2020)', () => {
    expect([...bratsTargetMask(raw, 'brats-4', 'whole')]).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
    expect([...bratsTargetMask(raw, 'brats-4', 'core')]).toEqual([0, 1, 0, 1, 0, 0, 1, 1]);
    expect([...bratsTargetMask(raw, 'brats-4', 'enhancing')]).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it('enhancing is 3 in the BraTS 2021+ convention', () => {
    const raw3 = raw.map((v) => (v === 4 ? 3 : v));
    expect([...bratsTargetMask(raw3, 'brats-3', 'whole')]).toEqual([0, 1, 1, 1, 0, 1, 1, 1]);
    expect([...bratsTargetMask(raw3, 'brats-3', 'enhancing')]).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
    expect(targetLabels('core', 'brats-3')).toEqual([1, 3]);
    // A 4 read in the 3 convention is not tumour (such a map is refused when read).
    expect([...bratsTargetMask([4], 'brats-3', 'whole')]).toEqual([0]);
  });

  it('subjectTarget uses the subject convention and refuses unlabelled subjects', () => {
    const labelled = subject({ t1: [1, 1, 1], t1ce: [1, 1, 1], t2: [1, 1, 1], flair: [1, 1, 1] }, [0, 2, 4]);
    expect([...subjectTarget(labelled)]).toEqual([0, 1, 1]);
    expect([...subjectTarget(labelled, 'enhancing')]).toEqual([0, 0, 1]);
    const bare = subject({ t1: [1], t1ce: [1], t2: [1], flair: [1] });
    expect(() => subjectTarget(bare)).toThrow(/no label file/);
  });
});
