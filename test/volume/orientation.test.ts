import { describe, expect, it } from 'vitest';
import { applyAffine, orientationCode } from '../../lib/volume/affine.ts';
import {
  boxToInput,
  canonicalAffine,
  fromCanonicalData,
  reorientationToCanonical,
  toCanonical,
} from '../../lib/volume/orientation.ts';
import { type Affine, createVolume, type Vec3 } from '../../lib/volume/volume.ts';

/** Affine whose voxel axis c points along world axis `axes[c]` with sign `signs[c]` and size `sizes[c]`. */
function axisAffine(axes: number[], signs: number[], sizes: Vec3, origin: Vec3): Affine {
  const a = [0, 0, 0, origin[0], 0, 0, 0, origin[1], 0, 0, 0, origin[2], 0, 0, 0, 1];
  for (let c = 0; c < 3; c++) a[axes[c] * 4 + c] = signs[c] * sizes[c];
  return a;
}

const PERMS = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];
const SIGNS = [0, 1, 2, 3, 4, 5, 6, 7].map((m) => [0, 1, 2].map((b) => (m & (1 << b) ? -1 : 1)));

describe('reorientation to RAS+', () => {
  it('LAS: the x axis is reversed and the origin moves to the rightmost voxel (hand-derived)', () => {
    const affine = axisAffine([0, 1, 2], [-1, 1, 1], [2, 3, 4], [10, 20, 30]);
    const r = reorientationToCanonical(affine, [4, 5, 6]);
    expect(r.perm).toEqual([0, 1, 2]);
    expect(r.flip).toEqual([true, false, false]);
    // Input voxel (3, 0, 0) is at x = 10 - 2*3 = 4: the new origin; x now grows by +2 per voxel.
    expect(canonicalAffine(affine, r)).toEqual([2, 0, 0, 4, 0, 3, 0, 20, 0, 0, 4, 30, 0, 0, 0, 1]);
  });

  it('SLA: axes permuted and one reversed (hand-derived dims, spacing, affine and voxels)', () => {
    // i -> superior (2 mm), j -> left (1 mm), k -> anterior (3 mm).
    const affine = [0, -1, 0, 7, 0, 0, 3, -5, 2, 0, 0, 9, 0, 0, 0, 1];
    expect(orientationCode(affine)).toBe('SLA');
    const dims: Vec3 = [4, 5, 6];
    const data = Int16Array.from({ length: 120 }, (_, n) => n);
    const { volume, reorientation } = toCanonical(createVolume(data, dims, [2, 1, 3], affine));
    expect(reorientation.perm).toEqual([1, 2, 0]);
    expect(reorientation.flip).toEqual([true, false, false]);
    expect(volume.dims).toEqual([5, 6, 4]);
    expect(volume.spacing).toEqual([1, 3, 2]);
    // Canonical (c0, c1, c2) is input (i, j, k) = (c2, 4 - c0, c1); the origin is input voxel (0, 4, 0).
    expect(volume.affine).toEqual([1, 0, 0, 3, 0, 3, 0, -5, 0, 0, 2, 9, 0, 0, 0, 1]);
    const at = (c0: number, c1: number, c2: number) => volume.data[c0 + 5 * (c1 + 6 * c2)];
    expect(at(0, 0, 0)).toBe(0 + 4 * (4 + 5 * 0));
    expect(at(1, 2, 3)).toBe(3 + 4 * (3 + 5 * 2));
    expect(at(4, 5, 3)).toBe(3 + 4 * (0 + 5 * 5));
    expect(volume.data).toBeInstanceOf(Int16Array);
  });

  it('RAS input is returned as is (no copy)', () => {
    const vol = createVolume(new Uint8Array(24), [2, 3, 4], [1, 2, 3]);
    expect(toCanonical(vol).volume).toBe(vol);
  });

  it('all 48 axis permutations and flips: RAS+ diagonal result, every voxel keeps its world position', () => {
    const dims: Vec3 = [3, 4, 5];
    const n = 60;
    const data = Int32Array.from({ length: n }, (_, i) => i);
    for (const axes of PERMS) {
      for (const signs of SIGNS) {
        const affine = axisAffine(axes, signs, [1.5, 2, 2.5], [-3, 4, 11]);
        const { volume, reorientation } = toCanonical(createVolume(data, dims, [1.5, 2, 2.5], affine));
        expect(orientationCode(volume.affine)).toBe('RAS');
        for (let r = 0; r < 3; r++)
          for (let c = 0; c < 3; c++) {
            const v = volume.affine[r * 4 + c];
            if (r === c) expect(v).toBeGreaterThan(0);
            else expect(v).toBe(0);
          }
        // The value at canonical voxel c is the input's linear index: both must be at one world point.
        const [nx, ny] = volume.dims;
        for (let idx = 0; idx < n; idx++) {
          const c = [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))];
          const src = volume.data[idx];
          const v = [src % 3, Math.floor(src / 3) % 4, Math.floor(src / 12)];
          const wc = applyAffine(volume.affine, c);
          const wv = applyAffine(affine, v);
          for (let a = 0; a < 3; a++) expect(wc[a]).toBeCloseTo(wv[a], 9);
        }
        expect(Array.from(fromCanonicalData(volume.data, reorientation))).toEqual(Array.from(data));
      }
    }
  });

  it('boxToInput gives the input-grid box of the same voxels', () => {
    const affine = [0, 0, -2, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 1]; // i -> A, j -> I, k -> L
    const dims: Vec3 = [5, 6, 7];
    const r = reorientationToCanonical(affine, dims);
    const cd = [7, 5, 6];
    const mask = new Uint8Array(210);
    const box = { start: [1, 0, 2] as Vec3, end: [4, 2, 5] as Vec3 };
    for (let k = box.start[2]; k < box.end[2]; k++)
      for (let j = box.start[1]; j < box.end[1]; j++)
        for (let i = box.start[0]; i < box.end[0]; i++) mask[i + cd[0] * (j + cd[1] * k)] = 1;
    const back = fromCanonicalData(mask, r);
    const lo = [9, 9, 9];
    const hi = [-1, -1, -1];
    for (let idx = 0; idx < back.length; idx++) {
      if (!back[idx]) continue;
      const v = [idx % 5, Math.floor(idx / 5) % 6, Math.floor(idx / 30)];
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.min(lo[a], v[a]);
        hi[a] = Math.max(hi[a], v[a] + 1);
      }
    }
    expect(boxToInput(box, r)).toEqual({ start: lo, end: hi });
  });

  it('refuses an affine with a zero axis', () => {
    expect(() =>
      reorientationToCanonical([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [2, 2, 2]),
    ).toThrow(/no direction/);
  });
});
