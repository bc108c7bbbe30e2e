import { describe, expect, it } from 'vitest';
import { localizeLiver, segmentLiver, segmentTumor } from '../../lib/pipeline/stages.ts';
import { expandBox } from '../../lib/preprocess/crop.ts';
import { windowAndNormalize } from '../../lib/preprocess/window.ts';
import type { Vec3 } from '../../lib/volume/volume.ts';
import { pointwiseEngine } from './engines.ts';
import {
  DIMS,
  dice,
  inLiver,
  LIVER_CUT,
  normalizedHu,
  obliqueAffine,
  scene,
  TUMOR_CUT,
  truthBox,
} from './scene.ts';

const liverEngine = () => pointwiseEngine((v) => (v > LIVER_CUT ? 1 : 0));
const tumorEngine = () => pointwiseEngine((v) => (v > TUMOR_CUT ? 1 : 0));
const liverTruth = (t: Uint8Array) => Uint8Array.from(t, (v) => (v > 0 ? 1 : 0));
const tumorTruth = (t: Uint8Array) => Uint8Array.from(t, (v) => (v === 2 ? 1 : 0));
describe('scene', () => {
  it('normalises as the test engines assume', () => {
    const { ct } = scene();
    const n = windowAndNormalize(ct).data;
    expect(n[0]).toBeCloseTo(normalizedHu(-1000), 6);
    expect(n[30 + 64 * (22 + 48 * 21)]).toBeCloseTo(normalizedHu(100), 5);
  });
});

describe('stage 1: localizeLiver', () => {
  it('finds the liver box exactly, plus the margin clamped, when slices need no resizing', async () => {
    const { ct, truth } = scene();
    const eng = liverEngine();
    const { box, coarse } = await localizeLiver(ct, [eng], { slice: [64, 48], batchSize: 16 });
    const tb = truthBox(truth.data, (v) => v > 0);
    // liver ellipsoid 19..41 x 14..30 x 12..30 (inclusive); the distractor blob is the smaller component
    expect(tb).toEqual({ start: [19, 14, 12], end: [42, 31, 31] });
    expect(box).toEqual({ start: [9, 4, 2], end: [52, 41, 40] });
    expect(Array.from(coarse)).toEqual(Array.from(liverTruth(truth.data)));
    // 40 slices in batches of 16: 16, 16, 8, each [n, y, x, 1]
    expect(eng.calls).toEqual([
      [16, 48, 64, 1],
      [16, 48, 64, 1],
      [8, 48, 64, 1],
    ]);
  });

  it('maps a box found on 32x32 slices back to the original grid', async () => {
    const { ct, truth } = scene();
    const { box } = await localizeLiver(ct, [liverEngine()], { slice: [32, 32], margin: 0 });
    const tb = truthBox(truth.data, (v) => v > 0);
    // x is halved and y scaled by 2/3: the box edges may move by up to one coarse voxel (2 and 1.5 voxels)
    for (let a = 0; a < 2; a++) {
      expect(Math.abs(box!.start[a] - tb.start[a])).toBeLessThanOrEqual(2);
      expect(Math.abs(box!.end[a] - tb.end[a])).toBeLessThanOrEqual(2);
    }
    // z is not resized, but the single-voxel tips of the ellipsoid (k = 12 and 30) blur away in-plane
    expect(Math.abs(box!.start[2] - tb.start[2])).toBeLessThanOrEqual(1);
    expect(Math.abs(box!.end[2] - tb.end[2])).toBeLessThanOrEqual(1);
  });

  it('returns no box when nothing is found', async () => {
    const { ct } = scene();
    const { box, coarse } = await localizeLiver(ct, [pointwiseEngine(() => 0)], { slice: [32, 32] });
    expect(box).toBeNull();
    expect(coarse.every((v) => v === 0)).toBe(true);
  });
});

describe('stage 2: segmentLiver', () => {
  const box = { start: [9, 4, 2] as Vec3, end: [52, 41, 40] as Vec3 };

  it('reproduces the liver exactly and drops the detached blob, with no in-plane resizing', async () => {
    const { ct, truth } = scene();
    const eng = liverEngine();
    const liver = await segmentLiver(ct, box, [eng], { patch: [43, 37, 16], overlap: 0.5 });
    expect(Array.from(liver)).toEqual(Array.from(liverTruth(truth.data)));
    // z windows over 38 slices: starts 0, 8, 16, 22 -> 4 passes of [1, 16, 37, 43, 1]
    expect(eng.calls).toEqual(Array(4).fill([1, 16, 37, 43, 1]));
  });

  it('places the fewest windows with minOverlap (3 instead of 4 here), same liver', async () => {
    const { ct, truth } = scene();
    const eng = liverEngine();
    const liver = await segmentLiver(ct, box, [eng], { patch: [43, 37, 16], minOverlap: 0.25 });
    expect(Array.from(liver)).toEqual(Array.from(liverTruth(truth.data)));
    // 38 slices, window 16: span 22, step at most 12 -> 3 windows at 0, 11, 22
    expect(eng.calls).toEqual(Array(3).fill([1, 16, 37, 43, 1]));
  });

  it('pads a box with fewer slices than the window', async () => {
    const { ct, truth } = scene();
    const eng = liverEngine();
    const liver = await segmentLiver(ct, box, [eng], { patch: [43, 37, 64] });
    expect(Array.from(liver)).toEqual(Array.from(liverTruth(truth.data)));
    expect(eng.calls).toEqual([[1, 64, 37, 43, 1]]);
  });

  it('resizes the box in-plane and back (Dice against the truth), both blend modes, ensemble and TTA', async () => {
    const { ct, truth } = scene();
    const t = liverTruth(truth.data);
    for (const blend of ['gaussian', 'mean'] as const) {
      // TTA (8 mirrorings) with the Gaussian blend only, to keep the test quick
      const tta = blend === 'gaussian';
      const liver = await segmentLiver(ct, box, [liverEngine(), liverEngine()], {
        patch: [32, 32, 16],
        blend,
        tta,
        batchSize: 2,
      });
      expect(dice(liver, t)).toBeGreaterThan(0.93);
      // nothing outside the box
      for (let k = 0; k < DIMS[2]; k++)
        for (let j = 0; j < DIMS[1]; j++)
          for (let i = 0; i < DIMS[0]; i++) {
            const inside = i >= 9 && i < 52 && j >= 4 && j < 41 && k >= 2 && k < 40;
            if (!inside) expect(liver[i + 64 * (j + 48 * k)]).toBe(0);
          }
    }
  });
});

describe('stage 3: segmentTumor', () => {
  it('finds the tumors exactly inside the liver, whatever the window size', async () => {
    const { ct, truth } = scene();
    const liver = liverTruth(truth.data);
    for (const patch of [
      [16, 16, 8],
      [128, 128, 32],
      [20, 12, 6],
    ] as Vec3[]) {
      const eng = tumorEngine();
      const tumor = await segmentTumor(ct, liver, [eng], {
        patch,
        batchSize: 3,
        skipWindowsWithoutLiver: false,
      });
      expect(Array.from(tumor)).toEqual(Array.from(tumorTruth(truth.data)));
      const per = eng.calls.reduce((a, c) => a + c[0], 0);
      // VOI = liver box 19..41 x 14..30 x 12..30 + 10, clamped: 9..51 x 4..40 x 2..39 -> 43 x 37 x 38
      const expected = [43, 37, 38]
        .map((n, a) => {
          const w = patch[a];
          if (n <= w) return 1;
          const step = Math.max(1, Math.round(w * 0.5));
          return Math.ceil((n - w) / step) + 1;
        })
        .reduce((a, b) => a * b, 1);
      expect(per).toBe(expected);
    }
  });

  it('runs only the windows holding liver voxels, with the same mask and liver probabilities', async () => {
    const { ct, truth } = scene();
    const liver = liverTruth(truth.data);
    const patch: Vec3 = [16, 16, 8];
    const runs = [false, true].map(async (skip) => {
      const eng = tumorEngine();
      let prob: Float32Array = new Float32Array(0);
      const tumor = await segmentTumor(ct, liver, [eng], {
        patch,
        skipWindowsWithoutLiver: skip,
        onProbability: (p) => (prob = p),
      });
      return { tumor, prob, passes: eng.calls.length };
    });
    const [all, skipped] = await Promise.all(runs);
    expect(Array.from(skipped!.tumor)).toEqual(Array.from(all!.tumor));
    // brute force: windows of the 43x37x38 VOI (start 9,4,2; step 8,8,4) with a voxel inside the ellipsoid
    const starts = (n: number, w: number, step: number) => {
      const s: number[] = [];
      for (let v = 0; v < n - w; v += step) s.push(v);
      return [...s, n - w];
    };
    let holding = 0;
    let total = 0;
    for (const z of starts(38, 8, 4))
      for (const y of starts(37, 16, 8))
        for (const x of starts(43, 16, 8)) {
          let any = false;
          for (let k = z; k < z + 8 && !any; k++)
            for (let j = y; j < y + 16 && !any; j++)
              for (let i = x; i < x + 16 && !any; i++) any = inLiver(i + 9, j + 4, k + 2);
          if (any) holding++;
          total++;
        }
    expect(all!.passes).toBe(total);
    expect(skipped!.passes).toBe(holding);
    expect(holding).toBeLessThan(all!.passes);
    // the probability of every liver voxel is bitwise the same (same windows, same order)
    let liverVoxels = 0;
    for (let k = 0; k < 38; k++)
      for (let j = 0; j < 37; j++)
        for (let i = 0; i < 43; i++) {
          if (!inLiver(i + 9, j + 4, k + 2)) continue;
          const r = i + 43 * (j + 37 * k);
          expect(skipped!.prob[r]).toBe(all!.prob[r]);
          liverVoxels++;
        }
    expect(liverVoxels).toBeGreaterThan(1000);
  });

  it('keeps tumor only inside the liver', async () => {
    const { ct, truth } = scene();
    // An engine that calls everything tumor: the result is exactly the liver mask inside the VOI.
    const liver = liverTruth(truth.data);
    const tumor = await segmentTumor(ct, liver, [pointwiseEngine(() => 1)], { patch: [16, 16, 8] });
    expect(Array.from(tumor)).toEqual(Array.from(liver));
  });

  it('returns an empty mask when there is no liver', async () => {
    const { ct } = scene();
    const eng = tumorEngine();
    const tumor = await segmentTumor(ct, new Uint8Array(ct.data.length), [eng]);
    expect(tumor.every((v) => v === 0)).toBe(true);
    expect(eng.calls).toHaveLength(0);
  });
});

describe('geometry on an oblique grid', () => {
  it('works in voxel space: a rotated affine gives the same masks', async () => {
    const { ct, truth } = scene(obliqueAffine(30));
    const { box } = await localizeLiver(ct, [liverEngine()], { slice: [64, 48] });
    expect(box).toEqual(
      expandBox(
        truthBox(truth.data, (v) => v > 0),
        10,
        DIMS,
      ),
    );
    const liver = await segmentLiver(ct, box!, [liverEngine()], { patch: [43, 37, 16] });
    expect(Array.from(liver)).toEqual(Array.from(liverTruth(truth.data)));
  });
});
