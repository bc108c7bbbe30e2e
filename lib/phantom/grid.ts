/**
 * The voxel grid of a phantom: dims, spacing and the world (RAS+, mm) position of voxel (0, 0, 0).
 * The volume is centred on the world origin, and the affine is diagonal with positive spacing, so voxel
 * index i grows towards the patient's right (+x), j towards anterior (+y) and k towards superior (+z).
 */
import { type Affine, scalingAffine, type Vec3 } from '../volume/volume.ts';

export interface Grid {
  dims: Vec3;
  spacing: Vec3;
  /** World coordinates (mm) of the centre of voxel (0, 0, 0). */
  origin: Vec3;
}

export function centredGrid(dims: Vec3, spacing: Vec3): Grid {
  const origin = dims.map((n, a) => (-(n - 1) / 2) * spacing[a]) as Vec3;
  return { dims: [...dims], spacing: [...spacing], origin };
}

export function gridAffine(grid: Grid): Affine {
  return scalingAffine(grid.spacing, grid.origin);
}

/** World coordinate of voxel index `i` along `axis`. */
export function worldAt(grid: Grid, axis: 0 | 1 | 2, i: number): number {
  return grid.origin[axis] + i * grid.spacing[axis];
}

/** Inclusive voxel index range along `axis` whose centres fall in [lo, hi] mm; empty when lo > hi. */
export function indexRange(grid: Grid, axis: 0 | 1 | 2, lo: number, hi: number): [number, number] {
  const o = grid.origin[axis];
  const s = grid.spacing[axis];
  const a = Math.max(0, Math.ceil((lo - o) / s));
  const b = Math.min(grid.dims[axis] - 1, Math.floor((hi - o) / s));
  return [a, b];
}

/** World coordinate snapped to the nearest voxel centre along `axis` (clamped to the grid). */
export function snapToVoxel(grid: Grid, axis: 0 | 1 | 2, w: number): number {
  const i = Math.round((w - grid.origin[axis]) / grid.spacing[axis]);
  return worldAt(grid, axis, Math.min(grid.dims[axis] - 1, Math.max(0, i)));
}
