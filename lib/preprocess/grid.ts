/**
 * Grid bookkeeping shared by crop, pad and resample: the affine of a derived grid.
 */
import { multiplyAffine } from '../volume/affine.ts';
import type { Affine, Vec3 } from '../volume/volume.ts';

/**
 * Affine of a new grid whose voxel `o` (per axis) sits at old voxel coordinate `o * scale + offset`.
 * Crop: scale 1, offset = box start. Pad: scale 1, offset = -before. Resample: scale = in/out,
 * offset = (scale - 1) / 2 (voxel-centre convention). The world position of every point is kept.
 */
export function reindexAffine(affine: Affine, scale: Vec3, offset: Vec3): Affine {
  const step = [scale[0], 0, 0, offset[0], 0, scale[1], 0, offset[1], 0, 0, scale[2], offset[2], 0, 0, 0, 1];
  return multiplyAffine(affine, step);
}

/** Check that dims are three positive integers; `what` names them in the error. */
export function checkDims(dims: readonly number[], what: string): void {
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what} must be three positive integers, got [${dims.join(', ')}]`);
  }
}
