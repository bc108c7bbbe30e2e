import { describe, expect, it } from 'vitest';
import {
  createVolume,
  dtypeOf,
  sameGrid,
  scalingAffine,
  voxelIndex,
  withData,
} from '../lib/volume/volume.ts';

describe('Volume', () => {
  it('indexes x fastest, then y, then z', () => {
    const dims: [number, number, number] = [4, 3, 2];
    expect(voxelIndex(dims, 0, 0, 0)).toBe(0);
    expect(voxelIndex(dims, 1, 0, 0)).toBe(1);
    expect(voxelIndex(dims, 0, 1, 0)).toBe(4);
    expect(voxelIndex(dims, 0, 0, 1)).toBe(12);
    expect(voxelIndex(dims, 3, 2, 1)).toBe(23);
  });

  it('refuses data that does not fill the grid', () => {
    expect(() => createVolume(new Int16Array(23), [4, 3, 2])).toThrow(/23 voxels/);
  });

  it('keeps the grid when data is swapped, and compares grids', () => {
    const v = createVolume(
      new Int16Array(24),
      [4, 3, 2],
      [0.5, 0.5, 2],
      scalingAffine([0.5, 0.5, 2], [10, 20, 30]),
    );
    const m = withData(v, new Uint8Array(24));
    expect(m.dtype).toBe('uint8');
    expect(sameGrid(v, m)).toBe(true);
    const shifted = { ...m, affine: scalingAffine([0.5, 0.5, 2], [10, 20, 31]) };
    expect(sameGrid(v, shifted)).toBe(false);
    expect(dtypeOf(new Float64Array(1))).toBe('float64');
  });
});
