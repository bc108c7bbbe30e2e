/**
 * Grid choice for a phantom: when dims and/or spacing are not given they are drawn like clinical
 * abdominal CT — in-plane 0.6-1.0 mm on a 512 grid (coarser in proportion on smaller grids, so the field
 * of view stays 30-51 cm), slices 1-5 mm thick covering 19-29 cm.
 */
import { InputError } from '../errors.ts';
import type { Vec3 } from '../volume/volume.ts';
import type { Rng } from './random.ts';

const SLICE_SPACINGS = [1, 1.25, 1.5, 2, 2.5, 3, 4, 5];
export const MAX_DIM = 2048;

export function validateGeometry(dims?: Vec3, spacing?: Vec3): void {
  if (dims && (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 8 || d > MAX_DIM))) {
    throw new InputError(`phantom dims must be three integers in 8..${MAX_DIM}, got ${dims.join('x')}`);
  }
  if (spacing && (spacing.length !== 3 || spacing.some((s) => !Number.isFinite(s) || s <= 0.05 || s > 50))) {
    throw new InputError(`phantom spacing must be three numbers in (0.05, 50] mm, got ${spacing.join(',')}`);
  }
}

/** Largest phantom generated (voxels): 512 x 512 x 640, about 0.3 GB of int16 + 0.17 GB of labels. */
export const MAX_VOXELS = 512 * 512 * 640;

export function chooseGeometry(rng: Rng, dims?: Vec3, spacing?: Vec3): { dims: Vec3; spacing: Vec3 } {
  const g = drawGeometry(rng, dims, spacing);
  const n = g.dims[0] * g.dims[1] * g.dims[2];
  if (n > MAX_VOXELS) {
    throw new InputError(
      `phantom grid ${g.dims.join('x')} has ${n} voxels, more than ${MAX_VOXELS}; give smaller dims or a coarser spacing`,
    );
  }
  return g;
}

function drawGeometry(rng: Rng, dims?: Vec3, spacing?: Vec3): { dims: Vec3; spacing: Vec3 } {
  validateGeometry(dims, spacing);
  const coverage = rng.uniform(190, 290);
  const fov = rng.uniform(0.6, 1.0) * 512;
  if (dims && spacing) return { dims: [...dims], spacing: [...spacing] };
  if (dims) {
    const sz = Math.min(5, Math.max(0.6, coverage / dims[2]));
    return { dims: [...dims], spacing: [fov / dims[0], fov / dims[1], sz] };
  }
  if (spacing) {
    const n = (s: number, mm: number) => Math.max(8, Math.min(MAX_DIM, Math.round(mm / s)));
    return { dims: [n(spacing[0], fov), n(spacing[1], fov), n(spacing[2], coverage)], spacing: [...spacing] };
  }
  const sz = rng.pick(SLICE_SPACINGS);
  const s = fov / 512;
  return { dims: [512, 512, Math.max(8, Math.round(coverage / sz))], spacing: [s, s, sz] };
}
