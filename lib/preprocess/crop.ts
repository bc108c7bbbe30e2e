/**
 * Boxes, crops, pads and paste-back on x-fastest 3D arrays and volumes.
 *
 * A `Box3` holds voxel indices: `start` inclusive, `end` exclusive, per axis (x, y, z).
 */
import type { Vec3, Volume, VoxelArray } from '../volume/volume.ts';
import { checkDims, reindexAffine } from './grid.ts';

export type Box3 = { start: Vec3; end: Vec3 };

type ArrayCtor = new (n: number) => VoxelArray;

export function boxSize(box: Box3): Vec3 {
  return [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]];
}

function checkBoxInside(box: Box3, dims: Vec3, what: string): void {
  for (let a = 0; a < 3; a++) {
    const s = box.start[a];
    const e = box.end[a];
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > dims[a] || e <= s) {
      throw new RangeError(
        `${what}: box [${box.start.join(',')}]..[${box.end.join(',')}] does not fit dims ${dims.join('x')}`,
      );
    }
  }
}

/** Grow a box by `margin` voxels on every side (a number or one per axis), clamped to `dims`. */
export function expandBox(box: Box3, margin: number | Vec3, dims: Vec3): Box3 {
  const m: Vec3 = typeof margin === 'number' ? [margin, margin, margin] : margin;
  return {
    start: [0, 1, 2].map((a) => Math.max(0, box.start[a] - m[a])) as Vec3,
    end: [0, 1, 2].map((a) => Math.min(dims[a], box.end[a] + m[a])) as Vec3,
  };
}

/**
 * Smallest box holding every voxel for which `predicate(value)` is true, grown by `margin` voxels on every
 * side (the paper uses 10) and clamped to the volume; `null` when no voxel matches.
 */
export function boundingBox(
  mask: VoxelArray,
  dims: Vec3,
  margin: number | Vec3 = 0,
  predicate?: (v: number) => boolean,
): Box3 | null {
  checkDims(dims, 'mask dims');
  const [nx, ny, nz] = dims;
  if (mask.length !== nx * ny * nz) throw new RangeError(`mask has ${mask.length} voxels, dims ${dims}`);
  let x0 = nx;
  let x1 = -1;
  let y0 = ny;
  let y1 = -1;
  let z0 = nz;
  let z1 = -1;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      // First and last matching voxel of the row.
      let first = -1;
      let last = -1;
      if (predicate) {
        for (let x = 0; x < nx; x++) {
          if (predicate(mask[row + x])) {
            if (first < 0) first = x;
            last = x;
          }
        }
      } else {
        for (let x = 0; x < nx; x++) {
          if (mask[row + x] > 0) {
            if (first < 0) first = x;
            last = x;
          }
        }
      }
      if (first < 0) continue;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (z < z0) z0 = z;
      z1 = z;
    }
  }
  if (x1 < 0) return null;
  return expandBox({ start: [x0, y0, z0], end: [x1 + 1, y1 + 1, z1 + 1] }, margin, dims);
}

/** Copy the voxels inside `box` out of an array (same array type). */
export function cropArray<T extends VoxelArray>(data: T, dims: Vec3, box: Box3): T {
  checkBoxInside(box, dims, 'crop');
  const [bx, by, bz] = boxSize(box);
  const out = new (data.constructor as ArrayCtor)(bx * by * bz) as T;
  const [nx, ny] = dims;
  let d = 0;
  for (let z = box.start[2]; z < box.end[2]; z++) {
    for (let y = box.start[1]; y < box.end[1]; y++) {
      const s = (z * ny + y) * nx + box.start[0];
      out.set(data.subarray(s, s + bx) as T, d);
      d += bx;
    }
  }
  return out;
}

/** Crop a volume to `box`; the affine is shifted so each voxel keeps its world position. */
export function cropVolume<T extends VoxelArray>(vol: Volume<T>, box: Box3): Volume<T> {
  const data = cropArray(vol.data, vol.dims, box);
  return {
    data,
    dims: boxSize(box),
    spacing: [...vol.spacing],
    affine: reindexAffine(vol.affine, [1, 1, 1], box.start),
    dtype: vol.dtype,
  };
}

/**
 * Write `patch` (the size of `box`) into `target` at `box`. Use it to put a result computed on a crop back
 * into the full grid.
 */
export function pasteInto(target: VoxelArray, targetDims: Vec3, patch: VoxelArray, box: Box3): void {
  checkBoxInside(box, targetDims, 'paste');
  const [bx, by, bz] = boxSize(box);
  if (patch.length !== bx * by * bz) {
    throw new RangeError(
      `paste: patch has ${patch.length} voxels, box ${bx}x${by}x${bz} needs ${bx * by * bz}`,
    );
  }
  const [nx, ny] = targetDims;
  const sameType = patch.constructor === target.constructor;
  let s = 0;
  for (let z = box.start[2]; z < box.end[2]; z++) {
    for (let y = box.start[1]; y < box.end[1]; y++) {
      const d = (z * ny + y) * nx + box.start[0];
      if (sameType) (target as Uint8Array).set(patch.subarray(s, s + bx) as Uint8Array, d);
      else for (let x = 0; x < bx; x++) target[d + x] = patch[s + x];
      s += bx;
    }
  }
}

/**
 * Pad a volume with `before` / `after` voxels per axis filled with `value`; the affine is shifted so the
 * original voxels keep their world position.
 */
export function padVolume<T extends VoxelArray>(
  vol: Volume<T>,
  before: Vec3,
  after: Vec3,
  value = 0,
): Volume<T> {
  for (let a = 0; a < 3; a++) {
    if (!Number.isInteger(before[a]) || !Number.isInteger(after[a]) || before[a] < 0 || after[a] < 0) {
      throw new RangeError(`pad amounts must be non-negative integers, got [${before}] and [${after}]`);
    }
  }
  const dims: Vec3 = [0, 1, 2].map((a) => vol.dims[a] + before[a] + after[a]) as Vec3;
  const data = new (vol.data.constructor as ArrayCtor)(dims[0] * dims[1] * dims[2]) as T;
  if (value !== 0) data.fill(value);
  const box: Box3 = {
    start: [...before],
    end: [before[0] + vol.dims[0], before[1] + vol.dims[1], before[2] + vol.dims[2]],
  };
  pasteInto(data, dims, vol.data, box);
  return {
    data,
    dims,
    spacing: [...vol.spacing],
    affine: reindexAffine(vol.affine, [1, 1, 1], [-before[0], -before[1], -before[2]]),
    dtype: vol.dtype,
  };
}
