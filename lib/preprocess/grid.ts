/**
 * Grid bookkeeping shared by crop, pad and resample: the affine of a derived grid.
 */
import type { Affine, Vec3 } from '../volume/volume.ts';

/**
 * Affine of a new grid whose voxel `o` (per axis) sits at old voxel coordinate `o * scale + offset`.
 * Crop: scale 1, offset = box start. Pad: scale 1, offset = -before. Resample: scale = in/out,
 * offset = (scale - 1) / 2 (voxel-centre convention). The world position of every point is kept.
 */
export function reindexAffine(affine: Affine, scale: Vec3, offset: Vec3): Affine {
  const out = [...affine];
  for (let r = 0; r < 3; r++) {
    let t = affine[r * 4 + 3];
    for (let c = 0; c < 3; c++) {
      const a = affine[r * 4 + c];
      out[r * 4 + c] = a * scale[c];
      t += a * offset[c];
    }
    out[r * 4 + 3] = t;
  }
  return out;
}

/** Check that dims are three positive integers; `what` names them in the error. */
export function checkDims(dims: readonly number[], what: string): void {
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what} must be three positive integers, got [${dims.join(', ')}]`);
  }
}
