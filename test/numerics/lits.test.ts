import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import {
  aggregateCases,
  evaluateCase,
  LIVER,
  type StructureMetrics,
  structureMetrics,
} from '../../lib/metrics/lits.ts';
import { percentile, surfaceDistances } from '../../lib/metrics/surface-distance.ts';
import { createVolume, type Vec3 } from '../../lib/volume/volume.ts';

/** numpy-style linear percentile written out independently for the test. */
function npPercentile(values: number[], p: number): number {
  const x = [...values].sort((a, b) => a - b);
  const h = ((x.length - 1) * p) / 100;
  const f = Math.floor(h);
  const c = Math.min(f + 1, x.length - 1);
  return x[f] * (1 - (h - f)) + x[c] * (h - f);
}

function boxMask(d: Vec3, lo: Vec3, hi: Vec3): Uint8Array {
  const m = new Uint8Array(d[0] * d[1] * d[2]);
  for (let z = lo[2]; z <= hi[2]; z++)
    for (let y = lo[1]; y <= hi[1]; y++)
      for (let x = lo[0]; x <= hi[0]; x++) m[x + d[0] * (y + d[1] * z)] = 1;
  return m;
}

describe('percentile', () => {
  it('interpolates linearly between closest ranks (numpy default)', () => {
    expect(percentile([1, 2, 3, 4], 95)).toBeCloseTo(3.85, 12); // h = 2.85
    expect(percentile([0, 0, 2, 2, 4], 95)).toBeCloseTo(3.6, 12); // h = 3.8
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([1, 5], 100)).toBe(5);
    expect(percentile([1, 5], 0)).toBe(1);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});

describe('structureMetrics', () => {
  it('hand case along a line (every voxel on the array border is surface), spacing 2 mm', () => {
    // P = {0, 1}, R = {1, 2, 3} on a 5x1x1 grid.
    const p = new Uint8Array([1, 1, 0, 0, 0]);
    const r = new Uint8Array([0, 1, 1, 1, 0]);
    const m = structureMetrics(p, r, [5, 1, 1], [2, 1, 1]);
    expect(m.dice).toBeCloseTo(0.4, 12); // 2*1 / 5
    expect(m.jaccard).toBeCloseTo(0.25, 12); // 1 / 4
    expect(m.voe).toBeCloseTo(0.75, 12);
    expect(m.rvd).toBeCloseTo(-1 / 3, 12);
    // P->R: 2, 0; R->P: 0, 2, 4 (mm). Pooled sorted 0 0 2 2 4.
    expect(m.assd).toBeCloseTo(8 / 5, 6);
    expect(m.msd).toBeCloseTo(4, 6);
    expect(m.hd95).toBeCloseTo(3.6, 6);
    expect([m.pred_voxels, m.ref_voxels, m.overlap_voxels]).toEqual([2, 3, 1]);
  });

  it('concentric cubes with anisotropic spacing: distances from the analytic box geometry', () => {
    const d: Vec3 = [17, 15, 13];
    const s: Vec3 = [0.6, 1.1, 2.3];
    const c: Vec3 = [8, 7, 6];
    const a = 2; // inner half-side (voxels)
    const b = 5; // outer half-side
    const inner = boxMask(d, [c[0] - a, c[1] - a, c[2] - a], [c[0] + a, c[1] + a, c[2] + a]);
    const outer = boxMask(d, [c[0] - b, c[1] - b, c[2] - b], [c[0] + b, c[1] + b, c[2] + b]);
    // Surfaces of a solid cube are its outer voxel layer. Inner-shell voxel q: nearest outer-shell voxel is
    // straight out through the cheapest face: min_i (b - |q_i|) s_i. Outer-shell voxel q: nearest inner
    // voxel is the clamp of q to the inner cube: sqrt(sum_i (max(0, |q_i| - a) s_i)^2).
    const dists: number[] = [];
    for (let z = -b; z <= b; z++)
      for (let y = -b; y <= b; y++)
        for (let x = -b; x <= b; x++) {
          const q = [x, y, z].map(Math.abs);
          const m = Math.max(...q);
          if (m === a) dists.push(Math.min(...q.map((v, i) => (b - v) * s[i])));
          if (m === b) dists.push(Math.hypot(...q.map((v, i) => Math.max(0, v - a) * s[i])));
        }
    expect(dists.length).toBe(5 ** 3 - 3 ** 3 + 11 ** 3 - 9 ** 3);
    const m = structureMetrics(inner, outer, d, s);
    expect(m.assd!).toBeCloseTo(dists.reduce((x, y) => x + y, 0) / dists.length, 5);
    // MSD: outer corner to inner corner.
    expect(m.msd!).toBeCloseTo((b - a) * Math.hypot(...s), 5);
    expect(m.hd95!).toBeCloseTo(npPercentile(dists, 95), 5);
    expect(m.dice).toBeCloseTo((2 * 125) / (125 + 1331), 12);
    expect(m.rvd).toBeCloseTo((125 - 1331) / 1331, 12);
  });

  it('a box shifted along x by t voxels: MSD = t * sx, Dice = (L - t) / L', () => {
    const d: Vec3 = [20, 12, 10];
    const s: Vec3 = [0.8, 1.5, 2.5];
    const t = 3;
    const ref = boxMask(d, [4, 2, 2], [11, 9, 7]); // 8 voxels long in x
    const pred = boxMask(d, [4 + t, 2, 2], [11 + t, 9, 7]);
    const m = structureMetrics(pred, ref, d, s);
    expect(m.msd!).toBeCloseTo(t * s[0], 5);
    expect(m.dice).toBeCloseTo((8 - t) / 8, 12);
    expect(m.rvd).toBe(0);
  });

  it('identical masks: dice 1 and all distances 0', () => {
    const m = boxMask([6, 6, 6], [1, 1, 1], [3, 4, 2]);
    const r = structureMetrics(m, m, [6, 6, 6], [1, 2, 3]);
    expect([r.dice, r.jaccard, r.voe, r.rvd, r.assd, r.msd, r.hd95]).toEqual([1, 1, 0, 0, 0, 0, 0]);
  });

  it('empty-mask conventions', () => {
    const d: Vec3 = [4, 4, 4];
    const empty = new Uint8Array(64);
    const some = boxMask(d, [1, 1, 1], [2, 2, 2]);
    const both = structureMetrics(empty, empty, d, [1, 1, 1]);
    expect(both).toMatchObject({ dice: 1, jaccard: 1, voe: 0, rvd: 0, assd: null, msd: null, hd95: null });
    const noPred = structureMetrics(empty, some, d, [1, 1, 1]);
    expect(noPred).toMatchObject({ dice: 0, jaccard: 0, voe: 1, rvd: -1, assd: null, msd: null, hd95: null });
    const noRef = structureMetrics(some, empty, d, [1, 1, 1]);
    expect(noRef).toMatchObject({
      dice: 0,
      jaccard: 0,
      voe: 1,
      rvd: null,
      assd: null,
      msd: null,
      hd95: null,
    });
    expect(surfaceDistances(some, empty, d, [1, 1, 1])).toBeNull();
  });

  it('reads the label range: liver >= 1 includes tumor, tumor == 2', () => {
    const pred = new Uint8Array([0, 1, 2, 2, 0, 0]);
    const ref = new Uint8Array([0, 1, 1, 2, 2, 0]);
    const vp = createVolume(pred, [6, 1, 1]);
    const vr = createVolume(ref, [6, 1, 1]);
    const r = evaluateCase(vp, vr, 'case-1');
    expect(r.id).toBe('case-1');
    expect(r.liver.dice).toBeCloseTo((2 * 3) / (3 + 4), 12);
    expect(r.tumor.dice).toBeCloseTo((2 * 1) / (2 + 2), 12);
    expect(
      structureMetrics(
        new Float32Array([0, 0.99, 2.01]),
        new Float32Array([0, 1, 2]),
        [3, 1, 1],
        [1, 1, 1],
        LIVER,
      ).dice,
    ).toBe(1);
  });

  it('refuses pairs with other shapes or spacing, naming the pair', () => {
    const a = createVolume(new Uint8Array(8), [2, 2, 2], [1, 1, 1]);
    const b = createVolume(new Uint8Array(8), [2, 4, 1], [1, 1, 1]);
    const c = createVolume(new Uint8Array(8), [2, 2, 2], [1, 1, 1.5]);
    expect(() => evaluateCase(a, b, 'pair-7')).toThrow(InputError);
    expect(() => evaluateCase(a, b, 'pair-7')).toThrow(/pair-7.*2x2x2.*2x4x1/);
    expect(() => evaluateCase(a, c, 'pair-8')).toThrow(/pair-8.*spacing/);
  });
});

describe('aggregateCases', () => {
  const sm = (dice: number, p: number, r: number, i: number, assd: number | null): StructureMetrics => ({
    dice,
    jaccard: dice / (2 - dice),
    voe: 1 - dice / (2 - dice),
    rvd: r === 0 ? null : (p - r) / r,
    assd,
    msd: assd,
    hd95: assd,
    pred_voxels: p,
    ref_voxels: r,
    overlap_voxels: i,
  });

  it('dice per case, dice global, and means over defined cases with their counts', () => {
    const cases = [
      { id: 'a', liver: sm(0.8, 50, 50, 40, 2), tumor: sm(0.5, 4, 4, 2, 1) },
      { id: 'b', liver: sm(1, 10, 10, 10, 0), tumor: sm(0, 3, 0, 0, null) },
      { id: 'c', liver: sm(0.5, 10, 30, 10, 4), tumor: sm(1, 0, 0, 0, null) },
    ];
    const e = aggregateCases(cases);
    expect(e.cases).toBe(cases);
    expect(e.liver.cases).toBe(3);
    expect(e.liver.dice_per_case).toBeCloseTo((0.8 + 1 + 0.5) / 3, 12);
    expect(e.liver.dice_global).toBeCloseTo((2 * 60) / 160, 12);
    expect(e.liver.assd).toBeCloseTo(2, 12);
    expect(e.liver.defined.assd).toBe(3);
    expect(e.tumor.dice_global).toBeCloseTo((2 * 2) / 11, 12);
    expect(e.tumor.assd).toBe(1);
    expect(e.tumor.defined).toEqual({ rvd: 1, assd: 1, msd: 1, hd95: 1 });
    expect(e.tumor.rvd).toBe(0);
    const none = aggregateCases([]);
    expect(none.liver.dice_per_case).toBeNull();
    expect(none.liver.dice_global).toBeNull();
  });
});
