/**
 * Test-only: a RAS+ volume stored in another axis order and direction (same voxels at the same world
 * points), built by plain index arithmetic, independent of `lib/volume/orientation.ts`; and the count of
 * voxels where two label maps disagree at the same world point.
 */
import { applyAffine } from '../../lib/volume/affine.ts';
import type { Vec3, Volume, VoxelArray } from '../../lib/volume/volume.ts';

/** Variant storage: variant voxel axis c runs along RAS axis `axes[c]`, backwards when `signs[c]` is -1. */
export interface Variant {
  axes: number[];
  signs: number[];
}

/** RAS voxel (u) of variant voxel (v), as a linear RAS index. */
export function rasIndexOf(v: number[], variant: Variant, dims: Vec3): number {
  const u = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const a = variant.axes[c];
    u[a] = variant.signs[c] > 0 ? v[c] : dims[a] - 1 - v[c];
  }
  return u[0] + dims[0] * (u[1] + dims[1] * u[2]);
}

/** The RAS+ volume stored the variant's way: same voxels, same world positions. */
export function storeAs<T extends VoxelArray>(vol: Volume<T>, variant: Variant): Volume<T> {
  const dims = variant.axes.map((a) => vol.dims[a]) as Vec3;
  const data = new (vol.data.constructor as new (n: number) => T)(vol.data.length);
  let n = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) data[n++] = vol.data[rasIndexOf([i, j, k], variant, vol.dims)];
  const first = rasIndexOf([0, 0, 0], variant, vol.dims);
  const u0 = [
    first % vol.dims[0],
    Math.floor(first / vol.dims[0]) % vol.dims[1],
    Math.floor(first / (vol.dims[0] * vol.dims[1])),
  ];
  const origin = applyAffine(vol.affine, u0);
  const affine = [0, 0, 0, origin[0], 0, 0, 0, origin[1], 0, 0, 0, origin[2], 0, 0, 0, 1];
  for (let c = 0; c < 3; c++)
    affine[variant.axes[c] * 4 + c] = variant.signs[c] * vol.spacing[variant.axes[c]];
  return { data, dims, spacing: variant.axes.map((a) => vol.spacing[a]) as Vec3, affine, dtype: vol.dtype };
}

/** Count of variant voxels whose label differs from the RAS+ result at the same world point. */
export function mismatches(ras: Volume<Uint8Array>, labels: Volume<Uint8Array>, variant: Variant): number {
  let bad = 0;
  let n = 0;
  const d = labels.dims;
  for (let k = 0; k < d[2]; k++)
    for (let j = 0; j < d[1]; j++)
      for (let i = 0; i < d[0]; i++)
        if (labels.data[n++] !== ras.data[rasIndexOf([i, j, k], variant, ras.dims)]) bad++;
  return bad;
}
