import { describe, expect, it } from 'vitest';
import { InputError } from '../../lib/errors.ts';
import { prepareCase } from '../../lib/training/case.ts';
import { createVolume, scalingAffine } from '../../lib/volume/volume.ts';

describe('prepareCase', () => {
  const ct = createVolume(Int16Array.from([-500, -100, 50, 200, 400, 0, 0, 0]), [2, 2, 2], [1, 1, 2]);
  const files = { volume: 'volume-3.nii', segmentation: 'segmentation-3.nii' };

  it('windows the CT to [0, 1], rounds labels and finds the liver box', () => {
    const seg = createVolume(Float32Array.from([0, 0, 1, 2.0000001, 0, 0, 0, 1]), [2, 2, 2], [1, 1, 2]);
    const c = prepareCase('3', ct, seg, files);
    // clipped values -100 -100 50 200 200 0 0 0: min-max maps -100 -> 0, 200 -> 1, 50 -> 0.5, 0 -> 1/3
    expect(Array.from(c.image)).toEqual([0, 0, 0.5, 1, 1, 1 / 3, 1 / 3, 1 / 3].map((v) => Math.fround(v)));
    expect(Array.from(c.labels)).toEqual([0, 0, 1, 2, 0, 0, 0, 1]);
    expect(c.liverBox).toEqual({ start: [0, 1, 0], end: [2, 2, 2] });
  });

  it('names both files when the grids differ', () => {
    const shifted = createVolume(
      new Uint8Array(8),
      [2, 2, 2],
      [1, 1, 2],
      scalingAffine([1, 1, 2], [0, 0, 5]),
    );
    expect(() => prepareCase('3', ct, shifted, files)).toThrow(InputError);
    expect(() => prepareCase('3', ct, shifted, files)).toThrow(/segmentation-3\.nii.*volume-3\.nii/);
    const other = createVolume(new Uint8Array(12), [2, 2, 3], [1, 1, 2]);
    expect(() => prepareCase('3', ct, other, files)).toThrow(/2x2x3/);
  });

  it('refuses labels other than 0, 1, 2', () => {
    const seg = createVolume(Uint8Array.from([0, 0, 0, 5, 0, 0, 0, 0]), [2, 2, 2], [1, 1, 2]);
    expect(() => prepareCase('3', ct, seg, files)).toThrow(/segmentation-3\.nii: label 5/);
  });

  it('brings the case to RAS+ first: the same case stored PSL (permuted, flipped) gives the same samples', () => {
    // Stored with voxel axis i along -y (posterior, 1 mm), j along +z (superior, 2 mm), k along -x (left, 1 mm).
    // Voxel (i, j, k) of the stored case is RAS voxel (x, y, z) = (1 - k, 1 - i, j) of the case above.
    const ras = Array.from(ct.data);
    const stored = new Int16Array(8);
    const seg = Uint8Array.from([0, 0, 1, 2, 0, 0, 0, 1]);
    const storedSeg = new Uint8Array(8);
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < 2; j++)
        for (let i = 0; i < 2; i++) {
          const r = 1 - k + 2 * (1 - i + 2 * j);
          stored[i + 2 * (j + 2 * k)] = ras[r];
          storedSeg[i + 2 * (j + 2 * k)] = seg[r];
        }
    const affine = [0, 0, -1, 1, -1, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 1];
    const c = prepareCase(
      '3',
      createVolume(stored, [2, 2, 2], [1, 2, 1], affine),
      createVolume(storedSeg, [2, 2, 2], [1, 2, 1], affine),
    );
    expect(c.dims).toEqual([2, 2, 2]);
    expect(c.spacing).toEqual([1, 1, 2]);
    expect(Array.from(c.image)).toEqual([0, 0, 0.5, 1, 1, 1 / 3, 1 / 3, 1 / 3].map((v) => Math.fround(v)));
    expect(Array.from(c.labels)).toEqual([0, 0, 1, 2, 0, 0, 0, 1]);
    expect(c.liverBox).toEqual({ start: [0, 1, 0], end: [2, 2, 2] });
  });
});
