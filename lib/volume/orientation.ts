/**
 * Reorienting a volume to the project's canonical voxel order, RAS+ (voxel axis i towards the patient's
 * right, j anterior, k superior: NIfTI's and NiBabel's "closest canonical" layout), by permuting and
 * flipping axes only: no resampling, every voxel keeps its value and its world position. The pipeline and
 * the training samplers work on the canonical grid; label maps are mapped back to the input's exact grid.
 *
 * A `Reorientation` says, for each canonical axis n, which input axis it reads (`perm[n]`) and whether it
 * runs backwards along it (`flip[n]`). Canonical voxel c corresponds to input voxel v with
 * `v[perm[n]] = flip[n] ? inDims[perm[n]] - 1 - c[n] : c[n]`.
 */
import { applyAffine, orientationCode } from './affine.ts';
import { type Affine, type Vec3, type Volume, type VoxelArray, voxelCount } from './volume.ts';

/** The orientation code every volume is brought to before preprocessing, and models are trained on. */
export const CANONICAL_ORIENTATION = 'RAS';

/** A voxel box, start inclusive, end exclusive (the shape of `Box3` in `preprocess/crop.ts`). */
export interface VoxelBox {
  start: Vec3;
  end: Vec3;
}

export interface Reorientation {
  /** The input grid's dims. */
  inDims: Vec3;
  /** Canonical axis n reads input axis `perm[n]`. */
  perm: Vec3;
  /** Canonical axis n runs against input axis `perm[n]`. */
  flip: [boolean, boolean, boolean];
}

const WORLD_AXIS: Record<string, { axis: number; flip: boolean }> = {
  R: { axis: 0, flip: false },
  L: { axis: 0, flip: true },
  A: { axis: 1, flip: false },
  P: { axis: 1, flip: true },
  S: { axis: 2, flip: false },
  I: { axis: 2, flip: true },
};

/**
 * The permutation and flips that bring a grid with this affine to RAS+: each voxel axis goes to the world
 * axis it is closest to (`orientationCode`), reversed when it points left, posterior or inferior.
 */
export function reorientationToCanonical(affine: Affine, dims: Vec3): Reorientation {
  const code = orientationCode(affine);
  const perm: Vec3 = [-1, -1, -1];
  const flip: [boolean, boolean, boolean] = [false, false, false];
  for (let c = 0; c < 3; c++) {
    const w = WORLD_AXIS[code[c]];
    if (!w) throw new RangeError(`affine has no direction for voxel axis ${c} (orientation ${code})`);
    perm[w.axis] = c;
    flip[w.axis] = w.flip;
  }
  return { inDims: [...dims], perm, flip };
}

export function isIdentity(r: Reorientation): boolean {
  return r.perm.every((p, n) => p === n) && r.flip.every((f) => !f);
}

/** Dims of the canonical grid. */
export function canonicalDims(r: Reorientation): Vec3 {
  return [r.inDims[r.perm[0]], r.inDims[r.perm[1]], r.inDims[r.perm[2]]];
}

/**
 * The canonical grid's affine: column n is the input's column `perm[n]`, negated when flipped, and the
 * origin moves to the input voxel that becomes canonical voxel (0, 0, 0).
 */
export function canonicalAffine(affine: Affine, r: Reorientation): Affine {
  const corner = [0, 1, 2].map((a) => {
    const n = r.perm.indexOf(a);
    return r.flip[n] ? r.inDims[a] - 1 : 0;
  });
  const origin = applyAffine(affine, corner);
  const out = [...affine];
  for (let n = 0; n < 3; n++) {
    const s = r.flip[n] ? -1 : 1;
    // `+ 0` turns the -0 of a negated zero into 0.
    for (let row = 0; row < 3; row++) out[row * 4 + n] = s * affine[row * 4 + r.perm[n]] + 0;
  }
  for (let row = 0; row < 3; row++) out[row * 4 + 3] = origin[row];
  return out;
}

/** Calls `visit(canonicalIndex, inputIndex)` for every voxel, canonical order (x fastest). */
function forEachVoxel(r: Reorientation, visit: (c: number, v: number) => void): void {
  const d = r.inDims;
  const stride = [1, d[0], d[0] * d[1]];
  const step = [0, 1, 2].map((n) => (r.flip[n] ? -1 : 1) * stride[r.perm[n]]);
  let base = 0;
  for (let n = 0; n < 3; n++) if (r.flip[n]) base += (d[r.perm[n]] - 1) * stride[r.perm[n]];
  const [nx, ny, nz] = canonicalDims(r);
  let c = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let v = base + k * step[2] + j * step[1];
      for (let i = 0; i < nx; i++, v += step[0]) visit(c++, v);
    }
  }
}

function sameKind<T extends VoxelArray>(like: T, length: number): T {
  return new (like.constructor as new (n: number) => T)(length);
}

/** Voxel data of the input grid rearranged onto the canonical grid. */
export function toCanonicalData<T extends VoxelArray>(data: T, r: Reorientation): T {
  if (data.length !== voxelCount(r.inDims)) throw new RangeError('data does not fill the input grid');
  if (isIdentity(r)) return data;
  const out = sameKind(data, data.length);
  forEachVoxel(r, (c, v) => {
    out[c] = data[v];
  });
  return out;
}

/** Voxel data of the canonical grid put back onto the input grid (the exact inverse of `toCanonicalData`). */
export function fromCanonicalData<T extends VoxelArray>(data: T, r: Reorientation): T {
  if (data.length !== voxelCount(r.inDims)) throw new RangeError('data does not fill the canonical grid');
  if (isIdentity(r)) return data;
  const out = sameKind(data, data.length);
  forEachVoxel(r, (c, v) => {
    out[v] = data[c];
  });
  return out;
}

/** The volume on the canonical RAS+ grid, and how to get back; the volume itself when already RAS+. */
export function toCanonical<T extends VoxelArray>(
  vol: Volume<T>,
): { volume: Volume<T>; reorientation: Reorientation } {
  const r = reorientationToCanonical(vol.affine, vol.dims);
  if (isIdentity(r)) return { volume: vol, reorientation: r };
  const volume: Volume<T> = {
    data: toCanonicalData(vol.data, r),
    dims: canonicalDims(r),
    spacing: [vol.spacing[r.perm[0]], vol.spacing[r.perm[1]], vol.spacing[r.perm[2]]],
    affine: canonicalAffine(vol.affine, r),
    dtype: vol.dtype,
  };
  return { volume, reorientation: r };
}

/** A voxel box (start inclusive, end exclusive) of the canonical grid as the same voxels' box on the input grid. */
export function boxToInput(box: VoxelBox, r: Reorientation): VoxelBox {
  const start: Vec3 = [0, 0, 0];
  const end: Vec3 = [0, 0, 0];
  for (let n = 0; n < 3; n++) {
    const a = r.perm[n];
    const d = r.inDims[a];
    start[a] = r.flip[n] ? d - box.end[n] : box.start[n];
    end[a] = r.flip[n] ? d - box.start[n] : box.end[n];
  }
  return { start, end };
}
